//! Checks of a lookup-table spec that look at more than one field at a time: symbols against
//! each other, held-out indices against the distributions, and held-out distributions against
//! what training shows.

use std::collections::HashSet;

use super::sampling::rng_for;
use super::spec::ExperimentSpec;
use super::tokenizer::SPECIALS;
use super::{invalid, Experiment, SpecError};

impl Experiment {
    /// Held-out distributions must yield instructions training never shows; words only they use
    /// keep their initial embedding, which is worth a warning rather than an error.
    pub(super) fn check_distributions(&mut self) -> Result<(), SpecError> {
        let mut trained_words: HashSet<String> = HashSet::new();
        for t in &self.tasks {
            for &d in &t.seen {
                trained_words.extend(t.distributions[d].words());
            }
        }
        let mut rng = rng_for(self.seed, "spec-check");
        let mut warnings = Vec::new();
        for (ti, t) in self.tasks.iter().enumerate() {
            for &d in &t.unseen {
                let re = &t.distributions[d];
                let untrained: Vec<String> = re.words().into_iter().filter(|w| !trained_words.contains(w)).collect();
                if !untrained.is_empty() {
                    warnings.push(format!(
                        "task {:?}: held-out distribution {} uses words never seen in training ({}); their embeddings stay untrained",
                        t.name,
                        d,
                        untrained.join(", ")
                    ));
                }
                let novel = (0..256).any(|_| !self.is_seen_instruction(&re.sample(&mut rng)));
                if !novel {
                    return Err(invalid(
                        format!("tasks[{ti}].instructions[{d}]"),
                        format!("{:?}", re.source()),
                        "held-out distribution only produces instructions that trained distributions also produce",
                    ));
                }
            }
            for &d in &t.seen {
                let clash = (0..64).map(|_| t.distributions[d].sample(&mut rng)).find_map(|s| {
                    self.tasks.iter().enumerate().find_map(|(oi, o)| {
                        (oi != ti && o.seen.iter().any(|&od| o.distributions[od].matches(&s)))
                            .then(|| (o.name.clone(), s.clone()))
                    })
                });
                if let Some((other, s)) = clash {
                    warnings.push(format!(
                        "tasks {:?} and {:?} share instructions such as \"{}\": the model cannot tell them apart",
                        t.name,
                        other,
                        s.join(" ")
                    ));
                }
            }
        }
        self.warnings = warnings;
        Ok(())
    }
}

pub(super) fn validate_symbols(spec: &ExperimentSpec) -> Result<Vec<String>, SpecError> {
    if spec.symbols.len() < 2 {
        return Err(invalid("symbols", format!("{:?}", spec.symbols), "need at least 2 symbols"));
    }
    let mut seen = HashSet::new();
    for s in &spec.symbols {
        if s.is_empty() || s.chars().any(char::is_whitespace) {
            return Err(invalid("symbols", format!("{s:?}"), "a symbol is one non-empty word"));
        }
        if s.contains('|') {
            // `|` separates a probe's instruction from its input, so such a symbol could never be probed.
            return Err(invalid("symbols", format!("{s:?}"), "`|` is reserved (it separates a probe's input)"));
        }
        if SPECIALS.contains(&s.as_str()) {
            return Err(invalid("symbols", format!("{s:?}"), "is a reserved special token"));
        }
        if !seen.insert(s) {
            return Err(invalid("symbols", format!("{s:?}"), "duplicate symbol"));
        }
    }
    Ok(spec.symbols.clone())
}

/// An experiment-wide `held_out` index may point past a task with fewer distributions, but one
/// that no task using the default has would hold out nothing, silently.
pub(super) fn check_default_held_out(spec: &ExperimentSpec) -> Result<(), SpecError> {
    let most = spec.tasks.iter().filter(|t| t.held_out.is_none()).map(|t| t.instructions.len()).max();
    match (most, spec.held_out.iter().find(|&&h| most.is_some_and(|m| h >= m))) {
        (Some(m), Some(&bad)) => Err(invalid(
            "held_out",
            bad,
            format!("no task has a distribution {bad} to hold out (0-based; the most any task has is {m})"),
        )),
        _ => Ok(()),
    }
}
