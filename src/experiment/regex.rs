//! Regular expressions over *words*, the language of instruction distributions.
//!
//! The paper's instruction distributions are regular expressions; we read them over words rather
//! than characters so that the vocabulary is exactly the set of literal words in the specs, and a
//! held-out distribution can be checked against the words training uses. Supported: literal
//! words, grouping `( )`, alternation `|`, optional `?` and bounded repetition `{n}` / `{m,n}`.
//! Unbounded repetition (`*`, `+`, `{m,}`) is rejected: every instruction must fit the model's
//! context.

use rand::Rng;
use std::collections::HashSet;

mod matcher;
use matcher::Matcher;

/// The longest repetition count a spec may ask for; beyond it instructions outgrow any context.
pub const MAX_REPEAT: usize = 16;
/// How deeply groups may nest: far beyond any instruction worth writing, and it keeps every walk
/// of the expression's tree well inside the stack.
pub const MAX_DEPTH: usize = 32;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegexError {
    #[error("empty expression")]
    Empty,
    #[error("unbounded repetition `{0}` (only bounded repetition like {{1,3}} is allowed)")]
    Unbounded(char),
    #[error("unbalanced parentheses at word {0}")]
    Unbalanced(usize),
    #[error("`{0}` has nothing to repeat")]
    NothingToRepeat(String),
    #[error("bad repetition `{0}`: expected {{n}} or {{m,n}} with m <= n <= {MAX_REPEAT}")]
    BadRepeat(String),
    #[error("unsupported character `{0}` (words are letters, digits, `_`, `-` and `'`)")]
    BadChar(char),
    #[error("the expression can produce an empty instruction")]
    MatchesEmpty,
    #[error("groups nest more than {MAX_DEPTH} deep")]
    TooDeep,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Node {
    Word(String),
    /// A sequence of items, each repeated between `min` and `max` times.
    Seq(Vec<(Node, usize, usize)>),
    Alt(Vec<Node>),
}

/// A compiled word regex: sample instructions from it, test membership, list its words.
#[derive(Debug, Clone, PartialEq)]
pub struct WordRegex {
    source: String,
    root: Node,
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Open,
    Close,
    Bar,
    Quest,
    Repeat(usize, usize),
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '-' | '\'')
}

fn lex(src: &str) -> Result<Vec<Tok>, RegexError> {
    let mut out = Vec::new();
    let mut chars = src.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {}
            '(' => out.push(Tok::Open),
            ')' => out.push(Tok::Close),
            '|' => out.push(Tok::Bar),
            '?' => out.push(Tok::Quest),
            '*' | '+' => return Err(RegexError::Unbounded(c)),
            '{' => {
                let mut body = String::new();
                loop {
                    match chars.next() {
                        Some('}') => break,
                        Some(ch) => body.push(ch),
                        None => return Err(RegexError::BadRepeat(format!("{{{body}"))),
                    }
                }
                out.push(parse_repeat(&body)?);
            }
            c if is_word_char(c) => {
                let mut w = String::from(c);
                while let Some(&n) = chars.peek() {
                    if !is_word_char(n) {
                        break;
                    }
                    w.push(n);
                    chars.next();
                }
                out.push(Tok::Word(w));
            }
            other => return Err(RegexError::BadChar(other)),
        }
    }
    Ok(out)
}

fn parse_repeat(body: &str) -> Result<Tok, RegexError> {
    let bad = || RegexError::BadRepeat(format!("{{{body}}}"));
    let parse = |s: &str| s.trim().parse::<usize>().map_err(|_| bad());
    let (min, max) = match body.split_once(',') {
        None => {
            let n = parse(body)?;
            (n, n)
        }
        Some((a, b)) if b.trim().is_empty() => {
            let _ = parse(a)?;
            return Err(RegexError::Unbounded('{'));
        }
        Some((a, b)) => (parse(a)?, parse(b)?),
    };
    if min > max || max > MAX_REPEAT {
        return Err(bad());
    }
    Ok(Tok::Repeat(min, max))
}

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
    depth: usize,
}

impl Parser {
    fn alt(&mut self) -> Result<Node, RegexError> {
        let mut alts = vec![self.seq()?];
        while self.toks.get(self.pos) == Some(&Tok::Bar) {
            self.pos += 1;
            alts.push(self.seq()?);
        }
        Ok(if alts.len() == 1 { alts.remove(0) } else { Node::Alt(alts) })
    }

    fn seq(&mut self) -> Result<Node, RegexError> {
        let mut items: Vec<(Node, usize, usize)> = Vec::new();
        while let Some(tok) = self.toks.get(self.pos).cloned() {
            match tok {
                Tok::Bar | Tok::Close => break,
                Tok::Word(w) => {
                    self.pos += 1;
                    items.push((Node::Word(w), 1, 1));
                }
                Tok::Open => {
                    self.pos += 1;
                    self.depth += 1;
                    if self.depth > MAX_DEPTH {
                        return Err(RegexError::TooDeep);
                    }
                    let inner = self.alt()?;
                    self.depth -= 1;
                    if self.toks.get(self.pos) != Some(&Tok::Close) {
                        return Err(RegexError::Unbalanced(self.pos));
                    }
                    self.pos += 1;
                    items.push((inner, 1, 1));
                }
                Tok::Quest | Tok::Repeat(..) => {
                    self.pos += 1;
                    let (lo, hi) = match tok {
                        Tok::Repeat(a, b) => (a, b),
                        _ => (0, 1),
                    };
                    match items.last_mut() {
                        Some(last) if last.1 == 1 && last.2 == 1 => {
                            last.1 = lo;
                            last.2 = hi;
                        }
                        _ => {
                            let what = if lo == 0 && hi == 1 { "?".to_string() } else { format!("{{{lo},{hi}}}") };
                            return Err(RegexError::NothingToRepeat(what));
                        }
                    }
                }
            }
        }
        Ok(Node::Seq(items))
    }
}

impl WordRegex {
    pub fn parse(src: &str) -> Result<Self, RegexError> {
        let toks = lex(src)?;
        if toks.is_empty() {
            return Err(RegexError::Empty);
        }
        let mut p = Parser { toks, pos: 0, depth: 0 };
        let root = p.alt()?;
        if p.pos != p.toks.len() {
            return Err(RegexError::Unbalanced(p.pos));
        }
        let re = WordRegex { source: src.to_string(), root };
        if re.root.min_len() == 0 {
            return Err(RegexError::MatchesEmpty);
        }
        Ok(re)
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    /// Draws one instruction: each alternative and each repetition count uniformly.
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> Vec<String> {
        let mut out = Vec::new();
        self.root.sample(rng, &mut out);
        out
    }

    /// Whether the word sequence is in the expression's language.
    pub fn matches<S: AsRef<str>>(&self, words: &[S]) -> bool {
        let words: Vec<&str> = words.iter().map(|w| w.as_ref()).collect();
        if words.len() > self.max_len() || words.len() < self.root.min_len() {
            return false;
        }
        let mut m = Matcher::new(&words);
        m.ends(&self.root, 0).contains(words.len())
    }

    /// Every literal word the expression can produce, in order of first appearance.
    pub fn words(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        self.root.collect_words(&mut out, &mut seen);
        out
    }

    /// The longest instruction the expression can produce, in words (saturating: a size too big
    /// to count is refused all the same).
    pub fn max_len(&self) -> usize {
        self.root.max_len()
    }
}

impl Node {
    fn sample<R: Rng + ?Sized>(&self, rng: &mut R, out: &mut Vec<String>) {
        match self {
            Node::Word(w) => out.push(w.clone()),
            Node::Alt(alts) => {
                // Alternatives are non-empty by construction of the parser.
                let i = rng.random_range(0..alts.len());
                alts[i].sample(rng, out);
            }
            Node::Seq(items) => {
                for (node, lo, hi) in items {
                    let n = rng.random_range(*lo..=*hi);
                    for _ in 0..n {
                        node.sample(rng, out);
                    }
                }
            }
        }
    }

    fn collect_words<'a>(&'a self, out: &mut Vec<String>, seen: &mut HashSet<&'a str>) {
        match self {
            Node::Word(w) => {
                if seen.insert(w) {
                    out.push(w.clone());
                }
            }
            Node::Alt(alts) => alts.iter().for_each(|a| a.collect_words(out, seen)),
            Node::Seq(items) => items.iter().for_each(|(n, _, _)| n.collect_words(out, seen)),
        }
    }

    fn min_len(&self) -> usize {
        match self {
            Node::Word(_) => 1,
            Node::Alt(alts) => alts.iter().map(Node::min_len).min().unwrap_or(0),
            Node::Seq(items) => {
                items.iter().fold(0, |acc, (n, lo, _)| acc.saturating_add(n.min_len().saturating_mul(*lo)))
            }
        }
    }

    fn max_len(&self) -> usize {
        match self {
            Node::Word(_) => 1,
            Node::Alt(alts) => alts.iter().map(Node::max_len).max().unwrap_or(0),
            Node::Seq(items) => {
                items.iter().fold(0, |acc, (n, _, hi)| acc.saturating_add(n.max_len().saturating_mul(*hi)))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn samples_match_their_expression() {
        let re = WordRegex::parse("(please |kindly )?apply (the|this){1,2} rule ( now)?").unwrap();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        for _ in 0..200 {
            let s = re.sample(&mut rng);
            assert!(re.matches(&s), "{s:?}");
            assert!(s.len() <= re.max_len());
        }
        assert!(re.matches(&["apply", "the", "this", "rule"]));
        assert!(!re.matches(&["apply", "rule"]));
        assert!(!re.matches(&["please", "kindly", "apply", "the", "rule"]));
        assert_eq!(re.words(), ["please", "kindly", "apply", "the", "this", "rule", "now"]);
    }

    #[test]
    fn nested_optional_repetition_matches_in_polynomial_time() {
        // Every split of a long run of `a`s among 128 optional slots is a match path: a matcher
        // that tries them one by one never finishes.
        let re = WordRegex::parse("((a? b?){16}){8} c").unwrap();
        let mut yes: Vec<&str> = vec!["a"; 120];
        yes.push("c");
        assert!(re.matches(&yes));
        let mut no: Vec<&str> = vec!["a"; 129];
        no.push("c");
        assert!(!re.matches(&no));
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        for _ in 0..50 {
            assert!(re.matches(&re.sample(&mut rng)));
        }
    }

    #[test]
    fn rejects_bad_expressions() {
        assert_eq!(WordRegex::parse("  "), Err(RegexError::Empty));
        assert_eq!(WordRegex::parse("a*"), Err(RegexError::Unbounded('*')));
        assert_eq!(WordRegex::parse("a+"), Err(RegexError::Unbounded('+')));
        assert_eq!(WordRegex::parse("a{2,}"), Err(RegexError::Unbounded('{')));
        assert!(matches!(WordRegex::parse("(a b"), Err(RegexError::Unbalanced(_))));
        assert!(matches!(WordRegex::parse("a b)"), Err(RegexError::Unbalanced(_))));
        assert!(matches!(WordRegex::parse("? a"), Err(RegexError::NothingToRepeat(_))));
        assert!(matches!(WordRegex::parse("a{3,1}"), Err(RegexError::BadRepeat(_))));
        assert!(matches!(WordRegex::parse("a{99}"), Err(RegexError::BadRepeat(_))));
        assert_eq!(WordRegex::parse("a.b"), Err(RegexError::BadChar('.')));
        assert_eq!(WordRegex::parse("(a)?"), Err(RegexError::MatchesEmpty));
        assert_eq!(WordRegex::parse("a|"), Err(RegexError::MatchesEmpty));
        let deep = format!("{}a{}", "(".repeat(33), ")".repeat(33));
        assert_eq!(WordRegex::parse(&deep), Err(RegexError::TooDeep));
        let ok = format!("{}a{}", "(".repeat(32), ")".repeat(32));
        assert!(WordRegex::parse(&ok).is_ok());
    }
}
