//! The string-rewrite task family: an instruction is a rule `x -> y` over a small alphabet, the
//! input a string z, the answer z with the leftmost occurrence of x replaced by y (z itself when
//! x does not occur). With hundreds of rules the question is not whether hidden states cluster
//! by rule but whether rules never trained on are followed, so examples carry a label the spec
//! chooses (what is coloured and scored) and the rule they follow (what accuracy is kept by).

use rand::Rng;
use std::collections::HashSet;

use super::seed::rng_for;
pub use super::spec::{RewriteLabel, RewriteSpec};
use super::{invalid, SpecError};

/// The word between a rule's two sides; every other instruction token is an alphabet character.
pub const ARROW: &str = "->";
/// Distinct rules a spec may ask for, trained and held out together.
pub const MAX_RULES: usize = 100_000;
/// Training examples in all (the fixed dataset is kept in memory).
pub const MAX_EXAMPLES: usize = 5_000_000;
/// Longest x, y or z, in characters.
pub const MAX_STRING: usize = 64;

mod draw;
use draw::{draw_rules, example, rule_pool_size};

/// A rule `x -> y`, as alphabet indices.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Rule {
    pub x: Vec<usize>,
    pub y: Vec<usize>,
}

/// One example of a rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RewriteExample {
    pub input: Vec<usize>,
    pub output: Vec<usize>,
    pub noop: bool,
}

/// The validated family: the alphabet, held-out and training rules, and the training data.
#[derive(Debug, Clone, PartialEq)]
pub struct Rewrites {
    pub spec: RewriteSpec,
    pub alphabet: Vec<String>,
    pub held_out: Vec<Rule>,
    pub train: Vec<Rule>,
    /// The fixed training examples of each training rule.
    pub data: Vec<Vec<RewriteExample>>,
}

/// z with the leftmost occurrence of x replaced by y; `None` when x does not occur (or is empty).
pub fn rewrite<T: PartialEq + Clone>(z: &[T], x: &[T], y: &[T]) -> Option<Vec<T>> {
    if x.is_empty() || x.len() > z.len() {
        return None;
    }
    let at = (0..=z.len() - x.len()).find(|&i| z[i..i + x.len()] == *x)?;
    let mut out = Vec::with_capacity(z.len() - x.len() + y.len());
    out.extend_from_slice(&z[..at]);
    out.extend_from_slice(y);
    out.extend_from_slice(&z[at + x.len()..]);
    Some(out)
}

impl Rule {
    /// The rule as instruction tokens: x's characters, the arrow, y's characters.
    pub fn words(&self, alphabet: &[String]) -> Vec<String> {
        let chars = |s: &[usize]| s.iter().map(|&c| alphabet[c].clone()).collect::<Vec<_>>();
        let mut w = chars(&self.x);
        w.push(ARROW.to_string());
        w.extend(chars(&self.y));
        w
    }

    /// `ab -> c`, as a user types it.
    pub fn display(&self, alphabet: &[String]) -> String {
        let s = |v: &[usize]| v.iter().map(|&c| alphabet[c].as_str()).collect::<String>();
        format!("{} {ARROW} {}", s(&self.x), s(&self.y))
    }
}

impl Rewrites {
    pub fn from_spec(spec: &RewriteSpec, seed: u64) -> Result<Self, SpecError> {
        let alphabet = validate(spec)?;
        let a = alphabet.len();
        let mut rng = rng_for(seed, "rewrite-rules");
        let wanted = spec.rules + spec.held_out_rules;
        let pool = rule_pool_size(a, spec.x_len, spec.y_len);
        if (wanted as u128) > pool {
            return Err(invalid(
                "rewrite.rules",
                spec.rules,
                format!(
                    "{} training + {} held-out rules, but the alphabet and lengths allow only {pool} distinct rules",
                    spec.rules, spec.held_out_rules
                ),
            ));
        }
        let rules = draw_rules(&mut rng, a, spec, wanted, pool);
        let (held_out, train) = rules.split_at(spec.held_out_rules);
        let per_rule = match (spec.examples_per_rule, spec.budget) {
            (Some(n), _) => n,
            (None, Some(b)) => (b / spec.rules).max(1),
            (None, None) => 0,
        };
        let data = train
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let mut rng = rng_for(seed, &format!("rewrite-data-{i}"));
                (0..per_rule).map(|_| example(&mut rng, a, spec, r)).collect()
            })
            .collect();
        Ok(Rewrites { spec: spec.clone(), alphabet, held_out: held_out.to_vec(), train: train.to_vec(), data })
    }

    /// Names of the label classes, in class order.
    pub fn label_names(&self) -> Vec<String> {
        match self.spec.label {
            RewriteLabel::FirstX => self.alphabet.iter().map(|c| format!("x starts {c}")).collect(),
            RewriteLabel::Noop => vec!["rewrite".into(), "no-op".into()],
        }
    }

    pub fn label(&self, rule: &Rule, noop: bool) -> usize {
        match self.spec.label {
            RewriteLabel::FirstX => rule.x.first().copied().unwrap_or(0),
            RewriteLabel::Noop => usize::from(noop),
        }
    }

    /// A fresh example of `rule`, with the spec's no-op fraction.
    pub fn fresh<R: Rng>(&self, rng: &mut R, rule: &Rule) -> RewriteExample {
        example(rng, self.alphabet.len(), &self.spec, rule)
    }

    /// Longest encoded sequence: `<bos> x -> y <sep> z <ans> answer <eos>`.
    pub fn max_sequence_len(&self) -> usize {
        let s = &self.spec;
        let z = s.z_len[1].max(s.x_len[1]);
        let answer = z.max((z + s.y_len[1]).saturating_sub(s.x_len[0]));
        s.x_len[1] + 1 + s.y_len[1] + z + answer + 4
    }

    /// Whether `rule` is one of the training rules.
    pub fn is_trained(&self, rule: &Rule) -> bool {
        self.train.contains(rule)
    }

    /// The alphabet index of each character of `s`, or the first character that is not in it.
    pub fn chars(&self, s: &str) -> Result<Vec<usize>, char> {
        s.chars().map(|c| self.alphabet.iter().position(|a| a.chars().eq(std::iter::once(c))).ok_or(c)).collect()
    }
}

fn validate(spec: &RewriteSpec) -> Result<Vec<String>, SpecError> {
    let alphabet: Vec<String> = spec.alphabet.chars().map(String::from).collect();
    if alphabet.len() < 2 {
        return Err(invalid("rewrite.alphabet", format!("{:?}", spec.alphabet), "needs at least 2 characters"));
    }
    let mut seen = HashSet::new();
    for c in spec.alphabet.chars() {
        if c.is_whitespace() || c == '|' || c == '-' || c == '>' || c == '<' {
            return Err(invalid(
                "rewrite.alphabet",
                format!("{c:?}"),
                "whitespace, `|`, `-`, `<` and `>` are reserved (they separate a typed rule and its input)",
            ));
        }
        if !seen.insert(c) {
            return Err(invalid("rewrite.alphabet", format!("{c:?}"), "duplicate character"));
        }
    }
    for (name, [lo, hi], min) in [("x_len", spec.x_len, 1), ("y_len", spec.y_len, 0), ("z_len", spec.z_len, 1)] {
        if lo > hi {
            return Err(invalid(format!("rewrite.{name}"), format!("[{lo}, {hi}]"), "is [shortest, longest]"));
        }
        if lo < min {
            return Err(invalid(format!("rewrite.{name}"), format!("[{lo}, {hi}]"), format!("must be at least {min}")));
        }
        if hi > MAX_STRING {
            return Err(invalid(
                format!("rewrite.{name}"),
                format!("[{lo}, {hi}]"),
                format!("at most {MAX_STRING} characters"),
            ));
        }
    }
    if spec.z_len[1] < spec.x_len[0] {
        return Err(invalid(
            "rewrite.z_len",
            format!("{:?}", spec.z_len),
            "the longest z is shorter than the shortest x: no rule could ever apply",
        ));
    }
    if spec.rules == 0 {
        return Err(invalid("rewrite.rules", 0, "must be at least 1"));
    }
    if spec.rules.saturating_add(spec.held_out_rules) > MAX_RULES {
        return Err(invalid("rewrite.rules", spec.rules, format!("at most {MAX_RULES} rules with the held-out ones")));
    }
    let examples = match (spec.examples_per_rule, spec.budget) {
        (Some(_), Some(_)) => {
            return Err(invalid(
                "rewrite.budget",
                spec.budget.unwrap_or(0),
                "give examples_per_rule or budget, not both",
            ))
        }
        (None, None) => return Err(invalid("rewrite", "{}", "needs examples_per_rule or budget")),
        (Some(0), _) | (_, Some(0)) => return Err(invalid("rewrite.examples_per_rule", 0, "must be at least 1")),
        (Some(n), None) => spec.rules.saturating_mul(n),
        (None, Some(b)) => b.max(spec.rules),
    };
    if examples > MAX_EXAMPLES {
        return Err(invalid(
            "rewrite.examples_per_rule",
            examples,
            format!("training examples in all; at most {MAX_EXAMPLES}"),
        ));
    }
    if !(0.0..=1.0).contains(&spec.noop_fraction) {
        return Err(invalid("rewrite.noop_fraction", spec.noop_fraction, "must be between 0 and 1"));
    }
    if spec.analysis_per_rule == 0 {
        return Err(invalid("rewrite.analysis_per_rule", 0, "must be at least 1"));
    }
    let points = (spec.analysis_rules.min(spec.rules) + spec.held_out_rules).saturating_mul(spec.analysis_per_rule);
    if points > super::limits::MAX_ANALYSIS_POINTS {
        return Err(invalid(
            "rewrite.analysis_per_rule",
            spec.analysis_per_rule,
            format!("{points} analysis points; at most {}", super::limits::MAX_ANALYSIS_POINTS),
        ));
    }
    Ok(alphabet)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// 40 + 10 rules of x, y of 1-2 characters over `abcd`.
    pub(super) fn spec() -> RewriteSpec {
        toml::from_str("alphabet = \"abcd\"\nrules = 40\nexamples_per_rule = 5\nheld_out_rules = 10").unwrap()
    }

    #[test]
    fn leftmost_occurrence_is_replaced() {
        assert_eq!(rewrite(b"abcab", b"ab", b"c"), Some(b"ccab".to_vec()));
        assert_eq!(rewrite(b"aaa", b"aa", b"b"), Some(b"ba".to_vec()), "overlapping: the leftmost wins");
        assert_eq!(rewrite(b"xyz", b"q", b"r"), None);
        assert_eq!(rewrite(b"ab", b"abc", b"r"), None);
        assert_eq!(rewrite(b"abc", b"b", b""), Some(b"ac".to_vec()), "deletion");
    }

    proptest! {
        #[test]
        fn rewrite_agrees_with_std_replacen(z in "[abc]{0,10}", x in "[abc]{1,3}", y in "[abc]{0,3}") {
            let ours = rewrite(z.as_bytes(), x.as_bytes(), y.as_bytes());
            let reference = z.contains(&x).then(|| z.replacen(&x, &y, 1).into_bytes());
            prop_assert_eq!(ours, reference);
        }
    }

    #[test]
    fn bad_fields_are_named() {
        let bad = |s: RewriteSpec, needle: &str| {
            let e = Rewrites::from_spec(&s, 0).unwrap_err().to_string();
            assert!(e.contains(needle), "{e}");
        };
        bad(RewriteSpec { alphabet: "a".into(), ..spec() }, "rewrite.alphabet");
        bad(RewriteSpec { alphabet: "aba".into(), ..spec() }, "duplicate");
        bad(RewriteSpec { alphabet: "a-b".into(), ..spec() }, "reserved");
        bad(RewriteSpec { x_len: [3, 2], ..spec() }, "rewrite.x_len");
        bad(RewriteSpec { x_len: [0, 2], ..spec() }, "at least 1");
        bad(RewriteSpec { budget: Some(10), ..spec() }, "not both");
        bad(RewriteSpec { examples_per_rule: None, ..spec() }, "examples_per_rule or budget");
        bad(RewriteSpec { noop_fraction: 1.5, ..spec() }, "rewrite.noop_fraction");
        bad(RewriteSpec { z_len: [1, 1], x_len: [2, 2], ..spec() }, "no rule could ever apply");
    }
}
