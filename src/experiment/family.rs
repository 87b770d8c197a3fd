//! Task families: what a task does to its input. Examples of every family are token sequences
//! (instruction, input, answer) with a label and a seen/unseen flag, so the tokenizer, batches,
//! training, analysis and probes do not ask which family made them; only sampling and the
//! reading of a typed probe do.

use rand::seq::SliceRandom;
use rand::Rng;
use std::collections::{BTreeMap, HashMap};

use super::rewrite::Rewrites;
use super::spec::TaskSpec;
use super::{invalid, SpecError};

/// What the tasks of an experiment do to their inputs.
#[derive(Debug, Clone, PartialEq)]
pub enum Family {
    Lookup(LookupTables),
    /// Boxed: it holds its rules and training data, a lookup family only its tables.
    Rewrite(Box<Rewrites>),
}

impl Family {
    /// The family's name, for messages.
    pub fn name(&self) -> &'static str {
        match self {
            Family::Lookup(_) => "lookup tables",
            Family::Rewrite(_) => "string rewrites",
        }
    }

    pub fn lookup(&self) -> Option<&LookupTables> {
        match self {
            Family::Lookup(l) => Some(l),
            Family::Rewrite(_) => None,
        }
    }

    pub fn rewrites(&self) -> Option<&Rewrites> {
        match self {
            Family::Rewrite(r) => Some(r),
            Family::Lookup(_) => None,
        }
    }

    /// Whether an answer ends with `<eos>`: a rewrite's answer has a length of its own to get
    /// right, a lookup's is one symbol.
    pub fn terminated(&self) -> bool {
        matches!(self, Family::Rewrite(_))
    }
}

/// K lookup tables over one shared alphabet: task k maps symbol i to `tables[k][i]`. Tasks share
/// their inputs, so only the instruction says which table applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LookupTables {
    tables: Vec<Vec<usize>>,
    symbols: usize,
}

impl LookupTables {
    /// Each task's table as its spec gives it (`tasks[i].table`), else a random permutation of
    /// the alphabet drawn from `rng`.
    pub fn from_spec<R: Rng>(tasks: &[TaskSpec], symbols: &[String], rng: &mut R) -> Result<Self, SpecError> {
        let tables = tasks
            .iter()
            .enumerate()
            .map(|(ti, ts)| match &ts.table {
                Some(map) => explicit_table(map, symbols, &format!("tasks[{ti}].table")),
                None => {
                    let mut t: Vec<usize> = (0..symbols.len()).collect();
                    t.shuffle(rng);
                    Ok(t)
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(LookupTables { tables, symbols: symbols.len() })
    }
}

impl LookupTables {
    /// How many distinct inputs every task takes: inputs are `0..inputs()`.
    pub fn inputs(&self) -> usize {
        self.symbols
    }

    /// What task `task` answers to `input`, or `None` for a task or input there is not (a typed
    /// probe can ask for anything).
    pub fn output(&self, task: usize, input: usize) -> Option<usize> {
        self.tables.get(task)?.get(input).copied()
    }

    /// Every task's table, `tables()[task][input]`.
    pub fn tables(&self) -> &[Vec<usize>] {
        &self.tables
    }

    /// These tables with other answers for some tasks: `answers[task]`, where given (the same
    /// length as the alphabet), replaces that task's table; an empty entry keeps it.
    pub fn with_answers(&self, answers: &[Vec<usize>]) -> LookupTables {
        let tables = self
            .tables
            .iter()
            .enumerate()
            .map(|(t, table)| match answers.get(t) {
                Some(a) if a.len() == table.len() && a.iter().all(|&s| s < self.symbols) => a.clone(),
                _ => table.clone(),
            })
            .collect();
        LookupTables { tables, symbols: self.symbols }
    }

    /// These tables with, for each of `tasks`, `round(fraction * inputs)` entries (chosen from
    /// `rng`) given another answer, drawn uniformly from the other symbols.
    pub fn overridden<R: Rng>(&self, tasks: &[usize], fraction: f64, rng: &mut R) -> LookupTables {
        let mut tables = self.tables.clone();
        // With one symbol there is no other answer to give.
        let n =
            if self.symbols < 2 { 0 } else { ((fraction * self.symbols as f64).round() as usize).min(self.symbols) };
        for &t in tasks {
            let Some(table) = tables.get_mut(t) else { continue };
            let mut inputs: Vec<usize> = (0..table.len()).collect();
            inputs.shuffle(rng);
            for &i in inputs.iter().take(n) {
                // A draw from the other symbols: skip over the current answer.
                let mut s = rng.random_range(0..self.symbols - 1);
                if s >= table[i] {
                    s += 1;
                }
                table[i] = s;
            }
        }
        LookupTables { tables, symbols: self.symbols }
    }
}

fn explicit_table(map: &BTreeMap<String, String>, symbols: &[String], field: &str) -> Result<Vec<usize>, SpecError> {
    let positions: HashMap<&str, usize> = symbols.iter().enumerate().map(|(i, s)| (s.as_str(), i)).collect();
    let index = |s: &str| positions.get(s).copied();
    if let Some(k) = map.keys().find(|k| index(k).is_none()) {
        return Err(invalid(field, format!("{k:?}"), "input is not one of `symbols`"));
    }
    symbols
        .iter()
        .map(|s| match map.get(s) {
            None => Err(invalid(field, format!("missing {s:?}"), "every input symbol needs an output")),
            Some(out) => index(out)
                .ok_or_else(|| invalid(format!("{field}.{s}"), format!("{out:?}"), "output is not one of `symbols`")),
        })
        .collect()
}
