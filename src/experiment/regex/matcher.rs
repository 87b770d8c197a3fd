//! Membership in a word regex: where matches of each node can end.

use std::collections::HashMap;

use super::Node;

/// A set of word positions `0..=n`, as bits: the matcher's sets are unions of small ranges, and
/// a bit set makes each union a few word operations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Positions(Vec<u64>);

impl Positions {
    fn empty(n: usize) -> Self {
        Positions(vec![0; n / 64 + 1])
    }

    fn insert(&mut self, i: usize) {
        self.0[i / 64] |= 1u64 << (i % 64);
    }

    pub(super) fn contains(&self, i: usize) -> bool {
        self.0.get(i / 64).is_some_and(|w| w & (1u64 << (i % 64)) != 0)
    }

    fn union(&mut self, other: &Positions) {
        for (a, b) in self.0.iter_mut().zip(&other.0) {
            *a |= b;
        }
    }

    fn is_empty(&self) -> bool {
        self.0.iter().all(|&w| w == 0)
    }

    fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        self.0
            .iter()
            .enumerate()
            .flat_map(|(wi, &w)| (0..64).filter(move |b| w & (1u64 << b) != 0).map(move |b| wi * 64 + b))
    }
}

/// Where matches of each node can end, from each start, computed once per (node, start): nested
/// repetitions otherwise revisit the same spans exponentially often.
pub(super) struct Matcher<'a> {
    words: &'a [&'a str],
    memo: HashMap<(*const Node, usize), Positions>,
}

impl<'a> Matcher<'a> {
    pub(super) fn new(words: &'a [&'a str]) -> Self {
        Matcher { words, memo: HashMap::new() }
    }

    pub(super) fn ends(&mut self, node: &Node, start: usize) -> Positions {
        let n = self.words.len();
        let mut out = Positions::empty(n);
        if let Node::Word(w) = node {
            // Cheaper to compare than to remember.
            if self.words.get(start) == Some(&w.as_str()) {
                out.insert(start + 1);
            }
            return out;
        }
        let key = (node as *const Node, start);
        if let Some(p) = self.memo.get(&key) {
            return p.clone();
        }
        match node {
            Node::Word(_) => {}
            Node::Alt(alts) => {
                for a in alts {
                    let e = self.ends(a, start);
                    out.union(&e);
                }
            }
            Node::Seq(items) => {
                out.insert(start);
                for (item, lo, hi) in items {
                    let mut reached = Positions::empty(n);
                    let mut frontier = out;
                    for rep in 0..=*hi {
                        if rep >= *lo {
                            reached.union(&frontier);
                        }
                        if rep == *hi || frontier.is_empty() {
                            break;
                        }
                        let mut next = Positions::empty(n);
                        for p in frontier.iter() {
                            let e = self.ends(item, p);
                            next.union(&e);
                        }
                        frontier = next;
                    }
                    out = reached;
                    if out.is_empty() {
                        break;
                    }
                }
            }
        }
        self.memo.insert(key, out.clone());
        out
    }
}
