//! Parsing a probe the user typed: `instruction words | X`.

use super::tokenizer::Tokenizer;
use super::Experiment;

/// A probe that fits the vocabulary and the context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeInput {
    pub words: Vec<String>,
    /// Symbol index of the input.
    pub input: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProbeError {
    #[error("empty probe: type an instruction, then `|` and an input symbol (e.g. `apply the flip rule | C`)")]
    Empty,
    #[error("no input symbol: end the probe with `| X`, X one of {0}")]
    NoInput(String),
    #[error("no instruction words before `|`")]
    NoInstruction,
    #[error("{}", unknown_words_message(.0))]
    UnknownWords(Vec<(String, Vec<String>)>),
    #[error("unknown input symbol {symbol:?}: expected one of {expected}")]
    UnknownSymbol { symbol: String, expected: String },
    #[error("probe is {tokens} tokens long, the model reads at most {context}")]
    TooLong { tokens: usize, context: usize },
}

impl crate::error::Kind for ProbeError {
    fn kind(&self) -> crate::error::ErrorKind {
        crate::error::ErrorKind::Usage
    }
}

fn unknown_words_message(words: &[(String, Vec<String>)]) -> String {
    let parts: Vec<String> = words
        .iter()
        .map(|(w, s)| if s.is_empty() { format!("{w:?}") } else { format!("{w:?} (did you mean {}?)", s.join(", ")) })
        .collect();
    let noun = if words.len() == 1 { "word" } else { "words" };
    format!("unknown {noun}: {}", parts.join("; "))
}

pub fn parse(exp: &Experiment, text: &str, context: usize) -> Result<ProbeInput, ProbeError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(ProbeError::Empty);
    }
    let symbols = || exp.symbols.join(" ");
    let (instruction, input) = text.rsplit_once('|').ok_or_else(|| ProbeError::NoInput(symbols()))?;
    let input = input.trim();
    if input.is_empty() {
        return Err(ProbeError::NoInput(symbols()));
    }
    let words: Vec<String> = instruction.split_whitespace().map(str::to_string).collect();
    if words.is_empty() {
        return Err(ProbeError::NoInstruction);
    }
    let vocab = exp.tokenizer.words();
    let unknown: Vec<(String, Vec<String>)> =
        words.iter().filter(|w| !vocab.contains(w)).map(|w| (w.clone(), closest(w, vocab, 3))).collect();
    if !unknown.is_empty() {
        return Err(ProbeError::UnknownWords(unknown));
    }
    let input = exp
        .symbols
        .iter()
        .position(|s| s == input)
        .ok_or_else(|| ProbeError::UnknownSymbol { symbol: input.to_string(), expected: symbols() })?;
    // The probe is read up to `<ans>`; the answer is predicted, not given.
    let tokens = Tokenizer::sequence_len(words.len()) - 2;
    if tokens > context {
        return Err(ProbeError::TooLong { tokens, context });
    }
    Ok(ProbeInput { words, input })
}

/// Up to `n` vocabulary words nearest to `word` by edit distance (close enough to be a typo).
pub fn closest(word: &str, vocab: &[String], n: usize) -> Vec<String> {
    let limit = (word.chars().count() / 2).max(2);
    let mut scored: Vec<(usize, &String)> =
        vocab.iter().map(|v| (edit_distance(word, v), v)).filter(|(d, _)| *d <= limit).collect();
    scored.sort();
    scored.into_iter().take(n).map(|(_, v)| v.clone()).collect()
}

fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != cb)).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// Completions of the last partial word of `text` from the vocabulary and symbols.
pub fn complete(exp: &Experiment, text: &str) -> Vec<String> {
    let partial = text.rsplit(|c: char| c.is_whitespace() || c == '|').next().unwrap_or("");
    let after_bar = text.contains('|');
    let pool: Box<dyn Iterator<Item = &String>> =
        if after_bar { Box::new(exp.symbols.iter()) } else { Box::new(exp.tokenizer.words().iter()) };
    let mut out: Vec<String> = pool.filter(|w| w.starts_with(partial)).cloned().collect();
    out.sort();
    out
}
