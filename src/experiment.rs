//! The synthetic instruction-following experiment: spec, tasks, instruction sampler, tokenizer,
//! batches. Pure data, no tensors: the trainer turns examples into tensors.

pub mod family;
pub mod limits;
pub mod probe;
pub mod regex;
pub mod sampling;
pub mod spec;
pub mod tokenizer;

use family::{LookupTables, TaskFamily};
use regex::WordRegex;
use sampling::{rng_for, AnalysisSet};
use spec::{ExperimentSpec, HiddenPosition};
use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;
use tokenizer::{Encoded, Tokenizer, SPECIALS};

/// A spec that cannot be run, with the offending field and value named.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SpecError {
    #[error("cannot parse experiment spec: {0}")]
    Parse(String),
    #[error("{field} = {value}: {reason}")]
    Invalid { field: String, value: String, reason: String },
}

impl crate::error::Kind for SpecError {
    fn kind(&self) -> crate::error::ErrorKind {
        crate::error::ErrorKind::BadData
    }
}

fn invalid(field: impl Into<String>, value: impl std::fmt::Display, reason: impl Into<String>) -> SpecError {
    SpecError::Invalid { field: field.into(), value: value.to_string(), reason: reason.into() }
}

/// One task, named by several instruction distributions; what it does to an input is its
/// family's business ([`Experiment::family`]).
#[derive(Debug, Clone)]
pub struct Task {
    pub name: String,
    pub distributions: Vec<WordRegex>,
    /// Indices of distributions used in training.
    pub seen: Vec<usize>,
    /// Indices of held-out distributions: their instructions form the unseen set.
    pub unseen: Vec<usize>,
}

/// One instruction-following example.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Example {
    pub task: usize,
    pub distribution: usize,
    pub instruction: Vec<String>,
    pub input: usize,
    pub output: usize,
    pub seen: bool,
}

/// A validated experiment, ready to sample from.
#[derive(Debug, Clone)]
pub struct Experiment {
    pub spec: ExperimentSpec,
    pub seed: u64,
    pub symbols: Vec<String>,
    pub tasks: Vec<Task>,
    /// What the tasks do to their inputs.
    pub family: Arc<dyn TaskFamily>,
    pub tokenizer: Tokenizer,
    /// Longest encoded sequence any distribution can produce.
    pub max_sequence_len: usize,
    /// Things that will run but probably not as intended (e.g. a held-out word never trained).
    pub warnings: Vec<String>,
}

impl Experiment {
    pub fn from_toml(text: &str, seed_override: Option<u64>) -> Result<Self, SpecError> {
        let spec = ExperimentSpec::from_toml(text).map_err(|e| SpecError::Parse(one_line_toml_error(text, &e)))?;
        Self::from_spec(spec, seed_override)
    }

    pub fn default_experiment(seed_override: Option<u64>) -> Result<Self, SpecError> {
        Self::from_toml(spec::DEFAULT_SPEC, seed_override)
    }

    pub fn from_spec(mut spec: ExperimentSpec, seed_override: Option<u64>) -> Result<Self, SpecError> {
        if let Some(seed) = seed_override {
            spec.seed = seed;
        }
        let seed = spec.seed;
        limits::validate_train(&spec)?;
        limits::validate_counts(&spec)?;
        let symbols = validate_symbols(&spec)?;
        if spec.tasks.len() < 2 {
            return Err(invalid("tasks", format!("{} task(s)", spec.tasks.len()), "need at least 2 tasks (K >= 2)"));
        }
        check_default_held_out(&spec)?;
        let mut names = HashSet::new();
        let mut table_rng = rng_for(seed, "task-tables");
        let mut tasks = Vec::with_capacity(spec.tasks.len());
        for (ti, ts) in spec.tasks.iter().enumerate() {
            let field = |f: &str| format!("tasks[{ti}].{f}");
            if ts.name.trim().is_empty() {
                return Err(invalid(field("name"), format!("{:?}", ts.name), "a task needs a name"));
            }
            if !names.insert(ts.name.clone()) {
                return Err(invalid(field("name"), format!("{:?}", ts.name), "duplicate task name"));
            }
            if ts.instructions.is_empty() {
                return Err(invalid(field("instructions"), "[]", "a task needs at least one instruction distribution"));
            }
            let distributions = ts
                .instructions
                .iter()
                .enumerate()
                .map(|(di, src)| {
                    let field = format!("tasks[{ti}].instructions[{di}]");
                    let re = WordRegex::parse(src)
                        .map_err(|e| invalid(&field, format!("{:?}", limits::abbreviated(src)), e.to_string()))?;
                    limits::check_expression(&field, &re)?;
                    Ok(re)
                })
                .collect::<Result<Vec<_>, _>>()?;
            let held: BTreeSet<usize> = ts.held_out.as_ref().unwrap_or(&spec.held_out).iter().copied().collect();
            let held_field = if ts.held_out.is_some() { field("held_out") } else { "held_out".to_string() };
            if let Some(&bad) = held.iter().find(|&&h| h >= distributions.len()) {
                // The experiment-wide default may point past a task with fewer distributions;
                // only an explicit per-task index is an error then.
                if ts.held_out.is_some() {
                    return Err(invalid(
                        held_field,
                        bad,
                        format!("task {:?} has only {} distributions (0-based index)", ts.name, distributions.len()),
                    ));
                }
            }
            let unseen: Vec<usize> = held.iter().copied().filter(|&h| h < distributions.len()).collect();
            let seen: Vec<usize> = (0..distributions.len()).filter(|d| !held.contains(d)).collect();
            if seen.is_empty() {
                return Err(invalid(
                    held_field,
                    format!("{:?}", held.iter().collect::<Vec<_>>()),
                    format!("every distribution of task {:?} is held out; at least one must be trained on", ts.name),
                ));
            }
            tasks.push(Task { name: ts.name.clone(), distributions, seen, unseen });
        }
        let family = Arc::new(LookupTables::from_spec(&spec.tasks, &symbols, &mut table_rng)?);

        let mut words: Vec<String> = Vec::new();
        let mut known: HashSet<String> = HashSet::new();
        for t in &tasks {
            for d in &t.distributions {
                for w in d.words() {
                    if known.insert(w.clone()) {
                        words.push(w);
                    }
                }
            }
        }
        limits::check_vocabulary(words.len())?;
        let symbol_set: HashSet<&String> = symbols.iter().collect();
        if let Some(w) = words.iter().find(|w| symbol_set.contains(w)) {
            return Err(invalid(
                "symbols",
                format!("{w:?}"),
                "is also an instruction word; symbols and words must differ",
            ));
        }
        let tokenizer = Tokenizer::new(&symbols, &words);
        let max_words = tasks.iter().flat_map(|t| t.distributions.iter()).map(WordRegex::max_len).max().unwrap_or(0);
        let mut exp = Experiment {
            spec,
            seed,
            symbols,
            tasks,
            family,
            tokenizer,
            max_sequence_len: Tokenizer::sequence_len(max_words),
            warnings: Vec::new(),
        };
        exp.check_distributions()?;
        Ok(exp)
    }

    /// Held-out distributions must yield instructions training never shows; words only they use
    /// keep their initial embedding, which is worth a warning rather than an error.
    fn check_distributions(&mut self) -> Result<(), SpecError> {
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

    /// Whether any trained distribution (of any task) can produce these words.
    pub fn is_seen_instruction<S: AsRef<str>>(&self, words: &[S]) -> bool {
        self.tasks.iter().any(|t| t.seen.iter().any(|&d| t.distributions[d].matches(words)))
    }

    pub fn example(
        &self,
        task: usize,
        distribution: usize,
        instruction: Vec<String>,
        input: usize,
        seen: bool,
    ) -> Example {
        // Sampled inputs are `0..family.inputs()` and tasks `0..num_tasks()`, which every family
        // answers; 0 only stands in for an answer that cannot be asked for.
        let output = self.family.output(task, input).unwrap_or(0);
        Example { task, distribution, instruction, input, output, seen }
    }

    /// What task `task`'s table gives for the input symbol named `input`: the answer a probe is
    /// judged against. `None` for a task or symbol the experiment does not have.
    pub fn expected_output(&self, task: usize, input: &str) -> Option<&str> {
        let input = self.symbols.iter().position(|s| s == input)?;
        let out = self.family.output(task, input)?;
        self.symbols.get(out).map(String::as_str)
    }

    /// Task `task`'s answer to every input, in input order.
    pub fn table(&self, task: usize) -> Vec<usize> {
        (0..self.family.inputs()).filter_map(|i| self.family.output(task, i)).collect()
    }

    pub fn num_tasks(&self) -> usize {
        self.tasks.len()
    }

    pub fn task_names(&self) -> Vec<String> {
        self.tasks.iter().map(|t| t.name.clone()).collect()
    }

    pub fn hidden_position(&self) -> HiddenPosition {
        self.spec.model.hidden_position
    }

    /// Encodes a sampled example; its words come from the spec, so they are in the vocabulary.
    pub fn encode(&self, e: &Example, with_answer: bool) -> Option<Encoded> {
        self.tokenizer.encode(&e.instruction, e.input, with_answer.then_some(e.output))
    }

    pub fn analysis_set(&self) -> AnalysisSet {
        sampling::analysis_set(self, self.spec.train.analysis_per_task, self.spec.train.unseen_per_task)
    }
}

/// A TOML error as one line, `line L, column C: message`: the library's own rendering quotes the
/// offending source line, which may be megabytes long.
fn one_line_toml_error(text: &str, e: &toml::de::Error) -> String {
    let message = e.message().split_whitespace().collect::<Vec<_>>().join(" ");
    match e.span() {
        Some(span) => {
            let before = text.get(..span.start).unwrap_or(text);
            let line = before.matches('\n').count() + 1;
            let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            format!("line {line}, column {column}: {message}")
        }
        None => message,
    }
}

fn validate_symbols(spec: &ExperimentSpec) -> Result<Vec<String>, SpecError> {
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
fn check_default_held_out(spec: &ExperimentSpec) -> Result<(), SpecError> {
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
