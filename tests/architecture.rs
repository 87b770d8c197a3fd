//! The shape of the house, checked on the source: which room may import which, no two files
//! importing each other, and no long file without a stated reason.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed test may panic

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Floors from the ground up: a room imports only from rooms on lower floors (or itself).
const FLOORS: &[&[&str]] = &[
    &["error", "alloc"],
    &["analysis", "experiment"],
    &["model"],
    &["record"],
    &["session"],
    &["train"],
    &["sweep"],
    &["study"],
    &["report"],
    &["cli", "ui"],
    &["main"],
];

/// Lines past which a file must say at its top why it is long.
const LONG_FILE: usize = 400;

fn floor(room: &str) -> usize {
    FLOORS.iter().position(|f| f.contains(&room)).unwrap_or_else(|| panic!("room {room:?} has no floor"))
}

fn src() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The module path of a file: `src/model/fused.rs` is `model::fused`; `main.rs` is `main`.
fn module_of(file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src()).unwrap().with_extension("");
    let parts: Vec<String> = rel.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect();
    if parts == ["lib"] {
        Vec::new()
    } else {
        parts
    }
}

/// Module paths (absolute, without `crate`) that a file names through `crate::` or `super::`,
/// with each item of a `{...}` group tried as a module too.
fn referenced_paths(text: &str, module: &[String]) -> Vec<Vec<String>> {
    let code: String = text.lines().filter(|l| !l.trim_start().starts_with("//")).collect::<Vec<_>>().join("\n");
    let mut out = Vec::new();
    let bytes = code.as_bytes();
    for start in ["crate::", "super::"] {
        let mut from = 0;
        while let Some(i) = code[from..].find(start) {
            let at = from + i;
            from = at + start.len();
            // `clusterscope::...` or an identifier ending in `crate`/`super` is not a path start.
            if at > 0 && (bytes[at - 1].is_ascii_alphanumeric() || bytes[at - 1] == b'_') {
                continue;
            }
            let mut base: Vec<String> = if start == "crate::" {
                Vec::new()
            } else {
                // `super` of `a::b` is `a`, whether or not `b` has children.
                module[..module.len().saturating_sub(1)].to_vec()
            };
            let rest = &code[from..];
            let mut segs = Vec::new();
            let mut s = rest;
            loop {
                let ident: String = s.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
                if ident == "super" {
                    base.pop();
                    s = &s[ident.len()..];
                    s = s.strip_prefix("::").unwrap_or(s);
                    continue;
                }
                if ident.is_empty() {
                    break;
                }
                segs.push(ident.clone());
                s = &s[ident.len()..];
                match s.strip_prefix("::") {
                    Some(r) => s = r,
                    None => break,
                }
            }
            let mut path = base.clone();
            path.extend(segs);
            if let Some(rest) = s.strip_prefix('{') {
                let group: String = rest.chars().take_while(|&c| c != '}').collect();
                for item in group.split(',') {
                    let name: String =
                        item.trim().chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
                    if !name.is_empty() {
                        let mut p = path.clone();
                        p.push(name);
                        out.push(p);
                    }
                }
            }
            out.push(path);
        }
    }
    out
}

/// The file a module path lands in: its longest prefix that is a module of the crate.
fn resolve<'a>(path: &[String], modules: &'a BTreeMap<Vec<String>, PathBuf>) -> Option<&'a Vec<String>> {
    (1..=path.len()).rev().find_map(|n| modules.get_key_value(&path[..n]).map(|(k, _)| k))
}

struct House {
    modules: BTreeMap<Vec<String>, PathBuf>,
    /// module -> modules it names
    edges: BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
}

fn house() -> House {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let modules: BTreeMap<Vec<String>, PathBuf> = files.iter().map(|f| (module_of(f), f.clone())).collect();
    let mut edges = BTreeMap::new();
    for (module, file) in &modules {
        let text = std::fs::read_to_string(file).unwrap();
        let mut to = BTreeSet::new();
        for p in referenced_paths(&text, module) {
            if let Some(target) = resolve(&p, &modules) {
                if target != module && !target.is_empty() {
                    to.insert(target.clone());
                }
            }
        }
        edges.insert(module.clone(), to);
    }
    House { modules, edges }
}

#[test]
fn no_room_imports_from_a_room_above_it() {
    let h = house();
    let mut bad = Vec::new();
    for (from, tos) in &h.edges {
        let Some(room) = from.first() else { continue };
        for to in tos {
            let target = &to[0];
            // A parent module naming its own children (`pub mod`, re-exports) is not an import.
            if target != room && floor(target) >= floor(room) {
                bad.push(format!("{} -> {}", from.join("::"), to.join("::")));
            }
        }
    }
    assert!(bad.is_empty(), "imports that run sideways or up the house:\n{}", bad.join("\n"));
}

#[test]
fn no_two_files_import_each_other() {
    let h = house();
    let mut pairs = Vec::new();
    for (a, tos) in &h.edges {
        for b in tos {
            // A parent and its child: the parent declares the child, the child uses the parent.
            let parent_child = b.starts_with(a) || a.starts_with(b);
            if a < b && !parent_child && h.edges.get(b).is_some_and(|t| t.contains(a)) {
                pairs.push(format!("{} <-> {}", a.join("::"), b.join("::")));
            }
        }
    }
    assert!(pairs.is_empty(), "files that import each other:\n{}", pairs.join("\n"));
}

#[test]
fn long_files_say_why_at_the_top() {
    let h = house();
    let mut long = Vec::new();
    for file in h.modules.values() {
        let text = std::fs::read_to_string(file).unwrap();
        let lines = text.lines().count();
        let head: String = text.lines().take(12).collect::<Vec<_>>().join("\n");
        if lines > LONG_FILE && !head.contains("Long because") {
            long.push(format!("{} ({lines} lines)", file.display()));
        }
    }
    assert!(long.is_empty(), "files over {LONG_FILE} lines without a `Long because` at the top:\n{}", long.join("\n"));
}

#[test]
fn the_checker_sees_imports() {
    // Guards the three tests above against a parser that finds nothing.
    let h = house();
    let train_run = h.edges.get(&vec!["train".to_string(), "run".to_string()]).expect("src/train/run.rs");
    assert!(train_run.contains(&vec!["session".to_string(), "manifest".to_string()]), "{train_run:?}");
    assert!(train_run.contains(&vec!["train".to_string(), "analyser".to_string()]), "{train_run:?}");
    let refs = referenced_paths("use super::{a, b};\nuse crate::x::y::Z;", &["m".into(), "n".into()]);
    assert!(refs.contains(&vec!["m".to_string(), "a".to_string()]), "{refs:?}");
    assert!(refs.contains(&vec!["x".to_string(), "y".to_string(), "Z".to_string()]), "{refs:?}");
}
