//! Sweeps that ship with clusterscope (`sweep builtin:NAME`): an embedded spec, its grid and its
//! number of seeds, each a command-line flag can still override.

use super::SweepError;

pub struct Builtin {
    pub name: &'static str,
    pub about: &'static str,
    pub spec: &'static str,
    /// `--grid` values, as typed.
    pub grid: &'static [&'static str],
    pub seeds: usize,
}

pub const BUILTINS: [Builtin; 1] = [Builtin {
    name: "diversity",
    about: "string rewrites at a fixed example budget, against the number of distinct training rules",
    spec: include_str!("diversity.toml"),
    grid: &["rewrite.rules=10,40,120,320"],
    seeds: 2,
}];

/// The built-in sweep `SPEC` names, if it is `builtin:NAME`; an unknown name is an error that
/// lists the known ones.
pub fn find(spec: &str) -> Result<Option<&'static Builtin>, SweepError> {
    let Some(name) = spec.strip_prefix("builtin:") else { return Ok(None) };
    match BUILTINS.iter().find(|b| b.name == name) {
        Some(b) => Ok(Some(b)),
        None => Err(SweepError::UnknownBuiltin {
            name: name.to_string(),
            known: BUILTINS.iter().map(|b| format!("builtin:{} ({})", b.name, b.about)).collect::<Vec<_>>().join(", "),
        }),
    }
}
