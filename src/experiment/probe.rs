//! Parsing a probe the user typed: `instruction words | X`, or for rewrites `x -> y | z`.

use super::family::Family;
use super::rewrite::{Rewrites, ARROW};
use super::tokenizer::Tokenizer;
use super::Experiment;

/// A probe that fits the vocabulary and the context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeInput {
    pub words: Vec<String>,
    /// Symbol indices of the input: one symbol, or a rewrite's string.
    pub input: Vec<usize>,
}

impl ProbeInput {
    /// The probe as the worker takes it and the session keeps it: `words | X`, `x -> y | z`.
    pub fn text(&self, exp: &Experiment) -> String {
        let words =
            if exp.family.terminated() { self.words.concat().replace(ARROW, " -> ") } else { self.words.join(" ") };
        format!("{} | {}", words.trim(), exp.render(&self.input))
    }
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
    #[error("a rule is `x -> y` (x not empty), e.g. `{example}`")]
    NotARule { example: String },
    #[error("unknown character {character:?} in the {place}: the alphabet is {alphabet}")]
    UnknownCharacter { character: char, place: &'static str, alphabet: String },
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
    if instruction.trim().is_empty() {
        return Err(ProbeError::NoInstruction);
    }
    if let Family::Rewrite(r) = exp.family.as_ref() {
        return parse_rule(r, instruction, input, context);
    }
    let words: Vec<String> = instruction.split_whitespace().map(str::to_string).collect();
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
    Ok(ProbeInput { words, input: vec![input] })
}

/// `x -> y | z`: spaces inside x, y and z are ignored, so `a b -> c` is `ab -> c`.
fn parse_rule(r: &Rewrites, rule: &str, input: &str, context: usize) -> Result<ProbeInput, ProbeError> {
    let example = || r.train.first().map_or_else(|| format!("ab {ARROW} c"), |rule| rule.display(&r.alphabet));
    let (x, y) = rule.split_once(ARROW).ok_or_else(|| ProbeError::NotARule { example: example() })?;
    let squeeze = |s: &str| s.chars().filter(|c| !c.is_whitespace()).collect::<String>();
    let chars = |s: &str, place: &'static str| {
        r.chars(&squeeze(s)).map_err(|character| ProbeError::UnknownCharacter {
            character,
            place,
            alphabet: r.alphabet.concat(),
        })
    };
    let (x, y, z) = (chars(x, "rule")?, chars(y, "rule")?, chars(input, "input")?);
    if x.is_empty() {
        return Err(ProbeError::NotARule { example: example() });
    }
    let words = super::rewrite::Rule { x, y }.words(&r.alphabet);
    // Read up to `<ans>`: <bos> rule <sep> z <ans>.
    let tokens = words.len() + z.len() + 3;
    if tokens > context {
        return Err(ProbeError::TooLong { tokens, context });
    }
    Ok(ProbeInput { words, input: z })
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
