//! Drawing rules and their examples.

use rand::seq::SliceRandom;
use rand::Rng;
use std::collections::HashSet;

use super::{rewrite, RewriteExample, RewriteSpec, Rule};

/// Pools up to this many rules are enumerated; at most the draw's [`super::MAX_RULES`] out of a
/// larger pool fill under half of it, where rejection is quick.
const ENUMERATED: u128 = 1 << 18;

/// Strings of length lo..=hi over `a` characters, saturating.
pub(super) fn strings(a: usize, [lo, hi]: [usize; 2]) -> u128 {
    (lo..=hi).map(|l| (a as u128).saturating_pow(l as u32)).fold(0u128, u128::saturating_add)
}

/// Distinct rules (x != y) the alphabet and lengths allow.
pub(super) fn rule_pool_size(a: usize, x_len: [usize; 2], y_len: [usize; 2]) -> u128 {
    let both = [x_len[0].max(y_len[0]), x_len[1].min(y_len[1])];
    let same = if both[0] <= both[1] { strings(a, both) } else { 0 };
    strings(a, x_len).saturating_mul(strings(a, y_len)).saturating_sub(same)
}

fn random_string<R: Rng>(rng: &mut R, a: usize, [lo, hi]: [usize; 2]) -> Vec<usize> {
    let len = rng.random_range(lo..=hi);
    (0..len).map(|_| rng.random_range(0..a)).collect()
}

/// `wanted` distinct rules, in the order drawn. Lengths are drawn in proportion to how many
/// strings have them, so every distinct rule is equally likely.
pub(super) fn draw_rules<R: Rng>(rng: &mut R, a: usize, spec: &RewriteSpec, wanted: usize, pool: u128) -> Vec<Rule> {
    let length = |rng: &mut R, [lo, hi]: [usize; 2]| -> usize {
        let total = strings(a, [lo, hi]);
        let mut pick = rng.random_range(0..total.max(1));
        for l in lo..=hi {
            let n = strings(a, [l, l]);
            if pick < n {
                return l;
            }
            pick -= n;
        }
        hi
    };
    // A small pool is enumerated and shuffled (rejection would stall near its end), a large one
    // drawn by rejection; which, depends on the pool alone, so that a run asking for fewer
    // rules draws a prefix of what a run asking for more draws.
    if pool <= ENUMERATED {
        let all_x = all_strings(a, spec.x_len);
        let all_y = all_strings(a, spec.y_len);
        let mut all: Vec<Rule> = all_x
            .iter()
            .flat_map(|x| all_y.iter().filter(move |y| *y != x).map(move |y| Rule { x: x.clone(), y: y.clone() }))
            .collect();
        all.shuffle(rng);
        all.truncate(wanted);
        return all;
    }
    let mut seen = HashSet::new();
    let mut out = Vec::with_capacity(wanted);
    while out.len() < wanted {
        let lx = length(rng, spec.x_len);
        let ly = length(rng, spec.y_len);
        let rule = Rule { x: random_string(rng, a, [lx, lx]), y: random_string(rng, a, [ly, ly]) };
        if rule.x != rule.y && seen.insert(rule.clone()) {
            out.push(rule);
        }
    }
    out
}

fn all_strings(a: usize, [lo, hi]: [usize; 2]) -> Vec<Vec<usize>> {
    let mut out = Vec::new();
    for len in lo..=hi {
        let mut s = vec![0usize; len];
        loop {
            out.push(s.clone());
            // Next string of this length, as a base-`a` counter.
            let Some(i) = s.iter().rposition(|&c| c + 1 < a) else { break };
            s[i] += 1;
            s[i + 1..].iter_mut().for_each(|c| *c = 0);
        }
    }
    out
}

pub(super) fn example<R: Rng>(rng: &mut R, a: usize, spec: &RewriteSpec, rule: &Rule) -> RewriteExample {
    let noop = rng.random_bool(spec.noop_fraction);
    let z = if noop {
        let mut z = random_string(rng, a, spec.z_len);
        let mut tries = 0;
        while rewrite(&z, &rule.x, &rule.y).is_some() {
            tries += 1;
            z = random_string(rng, a, spec.z_len);
            if tries > 64 {
                // Without x's first character, x cannot occur.
                let first = rule.x[0];
                z.iter_mut().for_each(|c| {
                    if *c == first {
                        *c = (first + 1 + rng.random_range(0..a - 1)) % a;
                    }
                });
            }
        }
        z
    } else {
        let len = rng.random_range(spec.z_len[0].max(rule.x.len())..=spec.z_len[1].max(rule.x.len()));
        let at = rng.random_range(0..=len - rule.x.len());
        let mut z: Vec<usize> = (0..len).map(|_| rng.random_range(0..a)).collect();
        z[at..at + rule.x.len()].copy_from_slice(&rule.x);
        z
    };
    match rewrite(&z, &rule.x, &rule.y) {
        Some(output) => RewriteExample { input: z, output, noop: false },
        None => RewriteExample { output: z.clone(), input: z, noop: true },
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::spec;
    use super::super::*;
    use super::*;

    #[test]
    fn rules_are_distinct_and_held_out_ones_are_never_trained() {
        let r = Rewrites::from_spec(&spec(), 3).unwrap();
        assert_eq!((r.train.len(), r.held_out.len()), (40, 10));
        let all: HashSet<&Rule> = r.train.iter().chain(&r.held_out).collect();
        assert_eq!(all.len(), 50);
        assert!(r.train.iter().chain(&r.held_out).all(|rule| rule.x != rule.y));
        for (rule, data) in r.train.iter().zip(&r.data) {
            assert_eq!(data.len(), 5);
            for e in data {
                let expected = rewrite(&e.input, &rule.x, &rule.y);
                assert_eq!(e.noop, expected.is_none());
                assert_eq!(e.output, expected.unwrap_or_else(|| e.input.clone()));
            }
        }
    }

    #[test]
    fn the_held_out_rules_do_not_depend_on_how_many_are_trained() {
        let small = Rewrites::from_spec(&spec(), 3).unwrap();
        let large = Rewrites::from_spec(&RewriteSpec { rules: 200, ..spec() }, 3).unwrap();
        assert_eq!(small.held_out, large.held_out);
        assert_eq!(small.train[..], large.train[..40], "fewer rules are a prefix of more");
    }

    #[test]
    fn the_whole_pool_can_be_drawn() {
        // 4 + 16 strings of length 1..=2, so 20 * 20 - 20 rules with x != y.
        let s = RewriteSpec { rules: 370, held_out_rules: 10, ..spec() };
        assert_eq!(rule_pool_size(4, s.x_len, s.y_len), 380);
        assert_eq!(Rewrites::from_spec(&s, 1).unwrap().train.len(), 370);
        let err = Rewrites::from_spec(&RewriteSpec { rules: 371, ..s }, 1).unwrap_err().to_string();
        assert!(err.contains("only 380 distinct rules"), "{err}");
    }

    #[test]
    fn noop_fraction_is_kept() {
        let r = Rewrites::from_spec(&RewriteSpec { examples_per_rule: Some(50), ..spec() }, 5).unwrap();
        let n = r.data.iter().flatten().count() as f64;
        let noops = r.data.iter().flatten().filter(|e| e.noop).count() as f64;
        assert!((noops / n - 0.2).abs() < 0.05, "{}", noops / n);
    }
}
