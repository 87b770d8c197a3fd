//! The instruction-following experiment (spec, tasks, sampler, tokenizer, batches) and labelled
//! prompt sets; pure data, no tensors: the trainer turns examples into tensors.

mod checks;
pub mod family;
pub mod limits;
pub mod phases;
pub mod probe;
pub mod prompts;
pub mod regex;
pub mod rewrite;
pub mod sampling;
pub mod seed;
pub mod spec;
pub mod tokenizer;

use family::{Family, LookupTables};
use phases::{Phase, PhasePlan};
use regex::WordRegex;
use rewrite::{Rewrites, Rule, ARROW};
use sampling::{rng_for, AnalysisSet};
use spec::{ExperimentSpec, HiddenPosition};
use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;
use tokenizer::{Encoded, Tokenizer};

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
    /// The class it is coloured and scored by: its task, or for rewrites the spec's label.
    pub task: usize,
    /// Its instruction distribution, or for rewrites its rule (in the training or held-out list,
    /// as `seen` says).
    pub distribution: usize,
    pub instruction: Vec<String>,
    /// Symbol indices of the input and of the answer.
    pub input: Vec<usize>,
    pub output: Vec<usize>,
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
    pub family: Arc<Family>,
    pub tokenizer: Tokenizer,
    /// Longest encoded sequence any distribution can produce.
    pub max_sequence_len: usize,
    /// Things that will run but probably not as intended (e.g. a held-out word never trained).
    pub warnings: Vec<String>,
    /// The spec's `[[phases]]`, validated; empty without them.
    pub phases: Vec<Phase>,
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
        if spec.rewrite.is_some() {
            return Self::from_rewrite_spec(spec);
        }
        let symbols = checks::validate_symbols(&spec)?;
        if spec.tasks.len() < 2 {
            return Err(invalid("tasks", format!("{} task(s)", spec.tasks.len()), "need at least 2 tasks (K >= 2)"));
        }
        checks::check_default_held_out(&spec)?;
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
        let family = Arc::new(Family::Lookup(LookupTables::from_spec(&spec.tasks, &symbols, &mut table_rng)?));

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
        let phases = phases::validate(&spec, &tasks, true)?;
        if phases.iter().any(|p| p.data == spec::PhaseData::TaskIdentity) {
            for t in &tasks {
                let token = phases::identity_token(&t.name);
                if !known.insert(token.clone()) {
                    return Err(invalid(
                        "phases",
                        format!("{token:?}"),
                        "the task-identity token is also an instruction word",
                    ));
                }
                words.push(token);
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
            phases,
        };
        exp.check_distributions()?;
        Ok(exp)
    }

    /// A string-rewrite experiment: its classes are the label's, its vocabulary the alphabet and
    /// the arrow, and its unseen set the held-out rules.
    fn from_rewrite_spec(spec: ExperimentSpec) -> Result<Experiment, SpecError> {
        let Some(rs) = &spec.rewrite else { return Err(invalid("rewrite", "{}", "missing")) };
        if !spec.symbols.is_empty() || !spec.tasks.is_empty() {
            let field = if spec.symbols.is_empty() { "tasks" } else { "symbols" };
            return Err(invalid(
                field,
                "given",
                "a [rewrite] experiment takes its symbols and tasks from the rules; remove it",
            ));
        }
        let rewrites = Rewrites::from_spec(rs, spec.seed)?;
        let tasks: Vec<Task> = rewrites
            .label_names()
            .into_iter()
            .map(|name| Task { name, distributions: Vec::new(), seen: Vec::new(), unseen: Vec::new() })
            .collect();
        let phases = phases::validate(&spec, &tasks, false)?;
        let symbols = rewrites.alphabet.clone();
        let tokenizer = Tokenizer::new(&symbols, &[ARROW.to_string()]);
        let mut warnings = Vec::new();
        if rs.label == rewrite::RewriteLabel::Noop && spec.model.hidden_position == HiddenPosition::LastInstruction {
            warnings.push(
                "rewrite.label = \"noop\" depends on z, which the last instruction word has not read: set model.hidden_position = \"answer\"".into(),
            );
        }
        Ok(Experiment {
            seed: spec.seed,
            symbols,
            tasks,
            max_sequence_len: rewrites.max_sequence_len(),
            family: Arc::new(Family::Rewrite(Box::new(rewrites))),
            tokenizer,
            warnings,
            phases,
            spec,
        })
    }

    /// Whether any trained distribution (of any task) can produce these words; for rewrites,
    /// whether they spell a training rule.
    pub fn is_seen_instruction<S: AsRef<str>>(&self, words: &[S]) -> bool {
        if let Family::Rewrite(r) = self.family.as_ref() {
            return self.rule_of(words).is_some_and(|rule| r.is_trained(&rule));
        }
        self.tasks.iter().any(|t| t.seen.iter().any(|&d| t.distributions[d].matches(words)))
    }

    /// The rule that rewrite instruction tokens spell (`x.. -> y..`), if they spell one.
    pub fn rule_of<S: AsRef<str>>(&self, words: &[S]) -> Option<Rule> {
        let arrow = words.iter().position(|w| w.as_ref() == ARROW)?;
        let index = |w: &S| self.symbols.iter().position(|s| s == w.as_ref());
        let x = words[..arrow].iter().map(index).collect::<Option<Vec<_>>>()?;
        let y = words[arrow + 1..].iter().map(index).collect::<Option<Vec<_>>>()?;
        (!x.is_empty()).then_some(Rule { x, y })
    }

    /// A lookup-table example: task `task`'s answer to input symbol `input`.
    pub fn lookup_example(
        &self,
        task: usize,
        distribution: usize,
        instruction: Vec<String>,
        input: usize,
        seen: bool,
    ) -> Example {
        // Sampled inputs are symbols and tasks `0..num_tasks()`, which a lookup family answers;
        // 0 only stands in for an answer that cannot be asked for.
        let output = match self.family.as_ref() {
            Family::Lookup(l) => l.output(task, input).unwrap_or(0),
            Family::Rewrite(_) => 0,
        };
        Example { task, distribution, instruction, input: vec![input], output: vec![output], seen }
    }

    /// What the model should answer to a probe: for lookup tables, what task `task`'s table
    /// gives the input symbol (the task being the cluster the probe lands in); for rewrites,
    /// the typed rule applied to the typed string. `None` for what the experiment does not have.
    pub fn expected_answer(&self, task: usize, words: &[String], input: &str) -> Option<String> {
        match self.family.as_ref() {
            Family::Lookup(l) => {
                let input = self.symbols.iter().position(|s| s == input)?;
                self.symbols.get(l.output(task, input)?).cloned()
            }
            Family::Rewrite(r) => {
                let rule = self.rule_of(words)?;
                let z = r.chars(input).ok()?;
                Some(self.render(&rewrite::rewrite(&z, &rule.x, &rule.y).unwrap_or(z)))
            }
        }
    }

    /// Symbol indices as the user reads them: a lookup's one symbol, a rewrite's string.
    pub fn render(&self, symbols: &[usize]) -> String {
        let sep = if self.family.terminated() { "" } else { " " };
        symbols.iter().filter_map(|&s| self.symbols.get(s).map(String::as_str)).collect::<Vec<_>>().join(sep)
    }

    /// Task `task`'s answer to every input, in input order (lookup tables; empty otherwise).
    pub fn table(&self, task: usize) -> Vec<usize> {
        match self.family.as_ref() {
            Family::Lookup(l) => (0..l.inputs()).filter_map(|i| l.output(task, i)).collect(),
            Family::Rewrite(_) => Vec::new(),
        }
    }

    /// Steps a run trains unless told otherwise: its phases' together, or `train.steps`.
    pub fn default_steps(&self) -> usize {
        self.phases.last().map_or(self.spec.train.steps, Phase::end)
    }

    /// The run's phases for a run of `steps` steps: the spec's (whose steps are fixed, checked
    /// when the run is prepared), or one phase of the instructions.
    pub fn plan(&self, steps: usize) -> PhasePlan {
        if self.phases.is_empty() {
            PhasePlan { phases: vec![phases::implicit(&self.tasks, &self.spec, steps)], explicit: false }
        } else {
            PhasePlan { phases: self.phases.clone(), explicit: true }
        }
    }

    /// This experiment answering with other tables (a phase's targets): the same tasks,
    /// vocabulary and sampling, other answers.
    pub fn with_tables(&self, tables: LookupTables) -> Experiment {
        Experiment { family: Arc::new(Family::Lookup(tables)), ..self.clone() }
    }

    /// `examples` with their answers taken from this experiment's family (a phase's targets).
    pub fn retarget(&self, examples: &[Example]) -> Vec<Example> {
        let Family::Lookup(l) = self.family.as_ref() else { return examples.to_vec() };
        examples
            .iter()
            .map(|e| {
                let output =
                    e.input.first().and_then(|&i| l.output(e.task, i)).map_or_else(|| e.output.clone(), |o| vec![o]);
                Example { output, ..e.clone() }
            })
            .collect()
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
        self.tokenizer.encode(
            &e.instruction,
            &e.input,
            with_answer.then_some(e.output.as_slice()),
            self.family.terminated(),
        )
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
