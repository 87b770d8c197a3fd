//! Task families: what a task does to its input. The rest of the experiment (instruction
//! distributions, the sampler, the analysis set, the tokenizer, probes) asks a family only which
//! inputs there are and what a task answers, so another family (string rewrites, task identity)
//! is a new implementation of [`TaskFamily`], not a change to the machinery around it.

use rand::seq::SliceRandom;
use rand::Rng;
use std::collections::{BTreeMap, HashMap};

use super::spec::TaskSpec;
use super::{invalid, SpecError};

pub trait TaskFamily: std::fmt::Debug + Send + Sync {
    /// The family's name, for messages.
    fn name(&self) -> &'static str;

    /// How many tasks there are.
    fn tasks(&self) -> usize;

    /// How many distinct inputs every task takes: inputs are `0..inputs()`.
    fn inputs(&self) -> usize;

    /// What task `task` answers to `input`, or `None` for a task or input the family does not
    /// have (a typed probe can ask for anything).
    fn output(&self, task: usize, input: usize) -> Option<usize>;
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

impl TaskFamily for LookupTables {
    fn name(&self) -> &'static str {
        "lookup tables"
    }

    fn tasks(&self) -> usize {
        self.tables.len()
    }

    fn inputs(&self) -> usize {
        self.symbols
    }

    fn output(&self, task: usize, input: usize) -> Option<usize> {
        self.tables.get(task)?.get(input).copied()
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
