//! Labelled prompts for analysing models we did not train: JSONL lines of an instruction, the
//! task it asks for, whether it is held out, and an optional input; and the template that
//! places them in the text a model reads. The built-in set is written for this project.

use std::collections::HashMap;
use std::ops::Range;
use std::path::Path;

/// The built-in set: 8 everyday tasks, 34 phrasings each, the last 6 of each held out.
const BUILTIN: &str = include_str!("builtin_prompts.jsonl");

/// The name `--data` takes for the built-in set.
pub const BUILTIN_NAME: &str = "builtin";

/// A dataset line's longest instruction or input, in bytes: a prompt is a sentence or a
/// paragraph, and a bound keeps one bad line from becoming a huge tokenisation.
pub const MAX_TEXT: usize = 16 * 1024;

/// At most this many prompts, which is as many analysis points as a session may hold.
pub const MAX_PROMPTS: usize = 100_000;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PromptError {
    #[error("{file}: {reason}")]
    File { file: String, reason: String },
    #[error("{file}, line {line}: {reason}")]
    Line { file: String, line: usize, reason: String },
    #[error("--template {template:?}: {reason}")]
    Template { template: String, reason: String },
}

impl crate::error::Kind for PromptError {
    fn kind(&self) -> crate::error::ErrorKind {
        crate::error::ErrorKind::BadData
    }
}

/// One labelled prompt.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Prompt {
    pub instruction: String,
    pub task: String,
    /// False for a held-out phrasing (`"split": "unseen"`).
    pub seen: bool,
    pub input: Option<String>,
}

/// A dataset line as written; unknown fields are refused so a misspelt `"split"` is not
/// silently read as seen.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Line {
    instruction: String,
    task: String,
    #[serde(default)]
    split: Option<String>,
    #[serde(default)]
    input: Option<String>,
}

/// Prompts in file order, and their tasks in order of first appearance.
#[derive(Debug, Clone)]
pub struct PromptSet {
    /// Where the prompts came from: a path, or `builtin`.
    pub origin: String,
    pub prompts: Vec<Prompt>,
    pub tasks: Vec<String>,
}

impl PromptSet {
    /// The built-in set for `builtin`, else the JSONL file at `data`.
    pub fn load(data: &Path) -> Result<PromptSet, PromptError> {
        if data == Path::new(BUILTIN_NAME) && !data.exists() {
            return PromptSet::parse(BUILTIN.as_bytes(), BUILTIN_NAME);
        }
        let file = data.display().to_string();
        let fail = |reason: String| PromptError::File { file: file.clone(), reason };
        let meta = std::fs::metadata(data).map_err(|e| fail(e.to_string()))?;
        if !meta.is_file() {
            return Err(fail("not a regular file".into()));
        }
        let bytes = std::fs::read(data).map_err(|e| fail(e.to_string()))?;
        PromptSet::parse(&bytes, &file)
    }

    /// Parses JSONL `bytes` read from `origin`. Blank lines are skipped; every other line is one
    /// prompt. Each task needs two prompts at least (one point does not make a cluster) and the
    /// set two tasks at least.
    pub fn parse(bytes: &[u8], origin: &str) -> Result<PromptSet, PromptError> {
        let at = |line: usize, reason: String| PromptError::Line { file: origin.into(), line, reason };
        let mut prompts = Vec::new();
        for (i, raw) in bytes.split(|&b| b == b'\n').enumerate() {
            let n = i + 1;
            let text = std::str::from_utf8(raw).map_err(|e| at(n, format!("not UTF-8 ({e})")))?;
            let text = text.trim();
            if text.is_empty() {
                continue;
            }
            if prompts.len() == MAX_PROMPTS {
                return Err(at(n, format!("more than {MAX_PROMPTS} prompts")));
            }
            let line: Line = serde_json::from_str(text).map_err(|e| at(n, format!("not a prompt ({e})")))?;
            prompts.push(prompt(line).map_err(|reason| at(n, reason))?);
        }
        let file = |reason: String| PromptError::File { file: origin.into(), reason };
        if prompts.is_empty() {
            return Err(file("no prompts: each line should be {\"instruction\": ..., \"task\": ...}".into()));
        }
        let mut counts: HashMap<&str, usize> = HashMap::new();
        let mut tasks: Vec<String> = Vec::new();
        for p in &prompts {
            let c = counts.entry(&p.task).or_insert(0);
            if *c == 0 {
                tasks.push(p.task.clone());
            }
            *c += 1;
        }
        if let Some(t) = tasks.iter().find(|t| counts[t.as_str()] < 2) {
            return Err(file(format!("task {t:?} has only one prompt; a task needs two at least to be clustered")));
        }
        if tasks.len() < 2 {
            return Err(file(format!(
                "every prompt is task {:?}; clustering by task needs two tasks at least",
                tasks[0]
            )));
        }
        if !prompts.iter().any(|p| p.seen) {
            return Err(file(
                "every prompt is held out (\"split\": \"unseen\"); the clusters are of seen prompts".into(),
            ));
        }
        Ok(PromptSet { origin: origin.into(), prompts, tasks })
    }

    /// The index in [`tasks`](Self::tasks) of each prompt's task.
    pub fn labels(&self) -> Vec<usize> {
        let index: HashMap<&str, usize> = self.tasks.iter().enumerate().map(|(i, t)| (t.as_str(), i)).collect();
        self.prompts.iter().map(|p| index[p.task.as_str()]).collect()
    }
}

fn prompt(line: Line) -> Result<Prompt, String> {
    let Line { instruction, task, split, input } = line;
    for (what, text) in [("instruction", Some(&instruction)), ("task", Some(&task)), ("input", input.as_ref())] {
        let Some(text) = text else { continue };
        if what != "input" && text.trim().is_empty() {
            return Err(format!("{what} is empty"));
        }
        if text.len() > MAX_TEXT {
            return Err(format!("{what} is {} bytes; at most {MAX_TEXT} are allowed", text.len()));
        }
    }
    let seen = match split.as_deref() {
        None | Some("seen") => true,
        Some("unseen") => false,
        Some(other) => return Err(format!("split {other:?}: it is \"seen\" or \"unseen\"")),
    };
    Ok(Prompt { instruction, task, seen, input })
}

/// Where `{instruction}` and `{input}` go in the text a model reads.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    text: String,
}

/// A prompt placed in its template, and where its instruction lies in the result (bytes).
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    pub text: String,
    pub instruction: Range<usize>,
}

const INSTRUCTION: &str = "{instruction}";
const INPUT: &str = "{input}";

impl Default for Template {
    /// The instruction alone.
    fn default() -> Template {
        Template { text: INSTRUCTION.into() }
    }
}

impl Template {
    /// A template holding `{instruction}` exactly once and `{input}` at most once; `\n` in
    /// it stands for a newline, as a shell argument cannot easily hold one.
    pub fn new(text: &str) -> Result<Template, PromptError> {
        let fail = |reason: &str| PromptError::Template { template: text.into(), reason: reason.into() };
        match text.matches(INSTRUCTION).count() {
            0 => return Err(fail("it has no {instruction}")),
            1 => {}
            _ => return Err(fail("it has {instruction} more than once")),
        }
        if text.matches(INPUT).count() > 1 {
            return Err(fail("it has {input} more than once"));
        }
        Ok(Template { text: text.replace("\\n", "\n") })
    }

    /// As given, `\n` standing for a newline.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The text of `p` in this template; a prompt without an input puts nothing for `{input}`.
    pub fn render(&self, p: &Prompt) -> Rendered {
        let input = p.input.as_deref().unwrap_or("");
        let mut text = String::with_capacity(self.text.len() + p.instruction.len() + input.len());
        let mut instruction = 0..0;
        let mut rest = self.text.as_str();
        while let Some(i) = [INSTRUCTION, INPUT].iter().filter_map(|k| rest.find(k).map(|at| (at, *k))).min() {
            let (at, key) = i;
            text.push_str(&rest[..at]);
            if key == INSTRUCTION {
                instruction = text.len()..text.len() + p.instruction.len();
                text.push_str(&p.instruction);
            } else {
                text.push_str(input);
            }
            rest = &rest[at + key.len()..];
        }
        text.push_str(rest);
        Rendered { text, instruction }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<PromptSet, PromptError> {
        PromptSet::parse(text.as_bytes(), "d.jsonl")
    }

    #[test]
    fn the_builtin_set_has_eight_tasks_of_thirty_distinct_phrasings_some_held_out() {
        let set = PromptSet::load(Path::new(BUILTIN_NAME)).unwrap();
        assert!(set.tasks.len() >= 8, "{:?}", set.tasks);
        let mut all = std::collections::HashSet::new();
        for t in &set.tasks {
            let of: Vec<&Prompt> = set.prompts.iter().filter(|p| &p.task == t).collect();
            let distinct: std::collections::HashSet<&str> = of.iter().map(|p| p.instruction.as_str()).collect();
            assert!(distinct.len() >= 30, "{t}: {}", distinct.len());
            assert!(of.iter().any(|p| !p.seen) && of.iter().filter(|p| p.seen).count() >= 20, "{t}");
            all.extend(distinct);
        }
        assert_eq!(all.len(), set.prompts.len(), "no phrasing is used twice");
    }

    #[test]
    fn lines_are_read_with_their_split_and_input() {
        let set = parse(
            "{\"instruction\": \"say hi\", \"task\": \"greet\"}\n\n\
             {\"instruction\": \"hello?\", \"task\": \"greet\", \"split\": \"unseen\"}\n\
             {\"instruction\": \"add\", \"task\": \"sum\", \"input\": \"1 2\"}\n\
             {\"instruction\": \"plus\", \"task\": \"sum\", \"split\": \"seen\"}\n",
        )
        .unwrap();
        assert_eq!(set.tasks, ["greet", "sum"]);
        assert_eq!(set.labels(), [0, 0, 1, 1]);
        assert_eq!(set.prompts.iter().map(|p| p.seen).collect::<Vec<_>>(), [true, false, true, true]);
        assert_eq!(set.prompts[2].input.as_deref(), Some("1 2"));
    }

    #[test]
    fn bad_datasets_are_refused_in_one_line_naming_the_file_and_line() {
        let two = "{\"instruction\": \"a\", \"task\": \"x\"}\n{\"instruction\": \"b\", \"task\": \"x\"}\n";
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (b"".to_vec(), "d.jsonl: no prompts"),
            (b"\n  \n".to_vec(), "d.jsonl: no prompts"),
            (
                format!("{two}{{\"instruction\": \"c\", \"task\": \"y\"}}").into_bytes(),
                "task \"y\" has only one prompt",
            ),
            (two.as_bytes().to_vec(), "needs two tasks"),
            ([two.as_bytes(), b"{\"instruction\": \"\xff\", \"task\": \"y\"}\n"].concat(), "line 3: not UTF-8"),
            (format!("{two}not json").into_bytes(), "line 3: not a prompt"),
            (format!("{two}{{\"instruction\": \"c\"}}").into_bytes(), "line 3: not a prompt (missing field `task`"),
            (
                format!("{two}{{\"instruction\": \"c\", \"task\": \"y\", \"spilt\": \"seen\"}}").into_bytes(),
                "unknown field `spilt`",
            ),
            (format!("{two}{{\"instruction\": \" \", \"task\": \"y\"}}").into_bytes(), "line 3: instruction is empty"),
            (
                format!("{two}{{\"instruction\": \"c\", \"task\": \"y\", \"split\": \"test\"}}").into_bytes(),
                "split \"test\"",
            ),
        ];
        for (bytes, want) in cases {
            let e = PromptSet::parse(&bytes, "d.jsonl").unwrap_err().to_string();
            assert!(e.contains(want) && e.starts_with("d.jsonl") && !e.contains('\n'), "{e:?} should say {want:?}");
        }
        let held = "{\"instruction\": \"a\", \"task\": \"x\", \"split\": \"unseen\"}\n";
        let unseen = [held, held, &held.replace("\"x\"", "\"y\""), &held.replace("\"x\"", "\"y\"")].concat();
        assert!(parse(&unseen).unwrap_err().to_string().contains("every prompt is held out"));
    }

    #[test]
    fn a_missing_or_odd_data_file_is_named() {
        let e = PromptSet::load(Path::new("/nonexistent/d.jsonl")).unwrap_err().to_string();
        assert!(e.starts_with("/nonexistent/d.jsonl: No such file"), "{e}");
        let dir = tempfile::tempdir().unwrap();
        let e = PromptSet::load(dir.path()).unwrap_err().to_string();
        assert!(e.ends_with("not a regular file"), "{e}");
    }

    #[test]
    fn templates_place_the_instruction_and_say_where_it_is() {
        let p = Prompt { instruction: "fix this".into(), task: "t".into(), seen: true, input: Some("she go".into()) };
        let r = Template::default().render(&p);
        assert_eq!((r.text.as_str(), r.instruction), ("fix this", 0..8));
        let t = Template::new("Q: {input}\\nTask: {instruction}.").unwrap();
        let r = t.render(&p);
        assert_eq!(r.text, "Q: she go\nTask: fix this.");
        assert_eq!(&r.text[r.instruction.clone()], "fix this");
        let t = Template::new("{instruction} :: {input}").unwrap();
        let r = t.render(&Prompt { input: None, ..p.clone() });
        assert_eq!((r.text.as_str(), r.instruction), ("fix this :: ", 0..8));
        for (bad, want) in [("{input}", "no {instruction}"), ("{instruction}{instruction}", "more than once")] {
            assert!(Template::new(bad).unwrap_err().to_string().contains(want), "{bad}");
        }
    }
}
