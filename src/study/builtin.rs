//! The studies that ship with clusterscope (`study list`, `study run NAME`), one embedded TOML
//! file each (see [`super::definition`] for the format).

use super::definition::StudyDef;
use super::StudyError;

/// Each study's name and definition text, in the order `study list` shows them.
pub const BUILTINS: [(&str, &str); 4] = [
    ("task-identity", include_str!("task_identity.toml")),
    ("alignment", include_str!("alignment.toml")),
    ("knowledge", include_str!("knowledge.toml")),
    ("instruction-tuning", include_str!("instruction_tuning.toml")),
];

/// Every built-in study, parsed.
pub fn all() -> Result<Vec<StudyDef>, StudyError> {
    BUILTINS.iter().map(|(_, text)| StudyDef::parse(text)).collect()
}

/// The built-in study `name`; an unknown name is an error that lists the known ones.
pub fn find(name: &str) -> Result<StudyDef, StudyError> {
    match BUILTINS.iter().find(|(n, _)| *n == name) {
        Some((_, text)) => StudyDef::parse(text),
        None => Err(StudyError::UnknownStudy {
            name: name.to_string(),
            known: BUILTINS.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", "),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_parses_under_its_own_name() {
        for ((name, _), def) in BUILTINS.iter().zip(all().unwrap_or_default()) {
            assert_eq!(*name, def.name);
        }
        assert_eq!(all().map(|a| a.len()).unwrap_or(0), BUILTINS.len());
        assert!(matches!(find("nope"), Err(StudyError::UnknownStudy { .. })));
    }
}
