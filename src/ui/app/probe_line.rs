//! The probe line's text: editing, completion, history browsing and quick fills. What these
//! need from outside (the experiment, the history, the fill task and its random source) comes
//! in as arguments; the keys are dispatched by [`super::Probes`], which owns them.

use rand::Rng;

use super::notice::one_line;
use crate::experiment::probe::{complete, parse};
use crate::experiment::rewrite::RewriteLabel::Noop;
use crate::experiment::Experiment;
use crate::ui::keymap::LineIntent;

/// Tab cycling through the completions of the last word.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Completion {
    /// The text before the word being completed.
    base: String,
    pub(crate) candidates: Vec<String>,
    pub(crate) index: usize,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProbeLine {
    pub(crate) text: String,
    /// Cursor position in chars.
    pub(crate) cursor: usize,
    /// Why the last Enter was refused (one line); cleared by the next edit.
    pub(crate) error: Option<String>,
    pub(crate) completion: Option<Completion>,
    /// Position in the history while browsing with Up/Down (0 = most recent).
    history_pos: Option<usize>,
    /// What was typed before browsing the history.
    draft: String,
}

impl ProbeLine {
    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn error(&self) -> Option<&str> {
        self.error.as_deref()
    }

    /// Completion candidates being cycled by Tab, and the current one.
    pub fn candidates(&self) -> Option<(&[String], usize)> {
        self.completion.as_ref().map(|c| (c.candidates.as_slice(), c.index))
    }

    /// Before any key: anything but Tab ends a completion cycle, any edit clears the last error,
    /// and anything but Up/Down leaves the history.
    pub(crate) fn begin(&mut self, intent: LineIntent) {
        if !matches!(intent, LineIntent::Complete | LineIntent::CompletePrev) {
            self.completion = None;
        }
        if !matches!(intent, LineIntent::NextFillTask | LineIntent::PrevFillTask | LineIntent::Submit) {
            self.error = None;
        }
        if !matches!(intent, LineIntent::HistoryPrev | LineIntent::HistoryNext) {
            self.history_pos = None;
        }
    }

    fn byte_at(&self, char_pos: usize) -> usize {
        self.text.char_indices().nth(char_pos).map_or(self.text.len(), |(b, _)| b)
    }

    pub(crate) fn len(&self) -> usize {
        self.text.chars().count()
    }

    fn set(&mut self, text: String) {
        self.text = text;
        self.cursor = self.len();
    }

    pub(crate) fn insert(&mut self, c: char) {
        let b = self.byte_at(self.cursor);
        self.text.insert(b, c);
        self.cursor += 1;
    }

    pub(crate) fn backspace(&mut self) {
        if self.cursor > 0 {
            self.cursor -= 1;
            let b = self.byte_at(self.cursor);
            self.text.remove(b);
        }
    }

    pub(crate) fn delete(&mut self) {
        if self.cursor < self.len() {
            let b = self.byte_at(self.cursor);
            self.text.remove(b);
        }
    }

    pub(crate) fn delete_word(&mut self) {
        let chars: Vec<char> = self.text.chars().collect();
        let mut start = self.cursor.min(chars.len());
        while start > 0 && chars[start - 1].is_whitespace() {
            start -= 1;
        }
        while start > 0 && !chars[start - 1].is_whitespace() {
            start -= 1;
        }
        let (a, b) = (self.byte_at(start), self.byte_at(self.cursor));
        self.text.replace_range(a..b, "");
        self.cursor = start;
    }

    /// The probe's text as the worker takes it (`words | symbol`), or `None` with the reason in
    /// the line's error.
    pub(crate) fn validate(&mut self, exp: &Experiment, context: usize) -> Option<String> {
        match parse(exp, &self.text, context) {
            Err(e) => {
                self.error = Some(one_line(&e.to_string()));
                None
            }
            Ok(input) => Some(input.text(exp)),
        }
    }

    /// Free text (a pretrained model's probe): anything but blank, trimmed; the worker says
    /// what its tokenizer and context cannot take.
    pub(crate) fn validate_free(&mut self) -> Option<String> {
        let text = one_line(&self.text);
        if text.is_empty() {
            self.error = Some("type an instruction: any text".into());
            return None;
        }
        Some(text)
    }

    pub(crate) fn complete(&mut self, exp: &Experiment, forward: bool) {
        if let Some(c) = self.completion.as_mut() {
            let n = c.candidates.len().max(1);
            c.index = if forward { (c.index + 1) % n } else { (c.index + n - 1) % n };
            let text = format!("{}{}", c.base, c.candidates.get(c.index).map_or("", String::as_str));
            self.set(text);
            return;
        }
        // Completion works on the end of the line: what is before the cursor is kept.
        let before: String = self.text.chars().take(self.cursor).collect();
        let candidates = complete(exp, &before);
        let partial = before.rsplit(|c: char| c.is_whitespace() || c == '|').next().unwrap_or("");
        let base = before[..before.len() - partial.len()].to_string();
        match candidates.len() {
            0 => self.error = Some(format!("nothing in the vocabulary starts with {partial:?}")),
            1 => {
                let after_bar = base.contains('|');
                self.set(format!("{base}{}{}", candidates[0], if after_bar { "" } else { " " }));
            }
            _ => {
                let index = if forward { 0 } else { candidates.len() - 1 };
                self.set(format!("{base}{}", candidates[index]));
                self.completion = Some(Completion { base, candidates, index });
            }
        }
    }

    /// `history` oldest first.
    pub(crate) fn browse_history(&mut self, history: &[String], older: bool) {
        if history.is_empty() {
            return;
        }
        let pos = match (self.history_pos, older) {
            (None, true) => {
                self.draft = self.text.clone();
                Some(0)
            }
            (None, false) => None,
            (Some(p), true) => Some((p + 1).min(history.len() - 1)),
            (Some(0), false) => None,
            (Some(p), false) => Some(p - 1),
        };
        self.history_pos = pos;
        let text = match pos {
            Some(p) => history[history.len() - 1 - p].clone(),
            None => self.draft.clone(),
        };
        self.set(text);
    }

    /// Replaces the line with a random instruction of task `t` (held-out or seen) and a random
    /// input symbol.
    pub(crate) fn quick_fill(&mut self, exp: &Experiment, t: usize, seen: bool, rng: &mut impl Rng) {
        let Some(task) = exp.tasks.get(t) else { return };
        if let Some(r) = exp.family.rewrites() {
            // A rule of the class (trained or held out) and a fresh string for it; for the
            // no-op label, whether x occurs is the string's business, so any rule will do.
            let rules = if seen { &r.train } else { &r.held_out };
            let of_class: Vec<_> =
                rules.iter().filter(|rule| r.spec.label == Noop || r.label(rule, false) == t).collect();
            let Some(&rule) = of_class.get(rng.random_range(0..of_class.len().max(1))) else {
                let kind = if seen { "trained" } else { "held-out" };
                self.error = Some(format!("{} has no {kind} rules", task.name));
                return;
            };
            let e = r.fresh(rng, rule);
            self.set(format!("{} | {}", rule.display(&r.alphabet), exp.render(&e.input)));
            return;
        }
        let dists = if seen { &task.seen } else { &task.unseen };
        let dist = match dists.len() {
            0 => None,
            n => task.distributions.get(dists[rng.random_range(0..n)]),
        };
        let (Some(dist), false) = (dist, exp.symbols.is_empty()) else {
            let kind = if seen { "seen" } else { "held-out" };
            self.error = Some(format!("task {} has no {kind} instructions", task.name));
            return;
        };
        let words = dist.sample(rng);
        let input = &exp.symbols[rng.random_range(0..exp.symbols.len())];
        self.set(format!("{} | {input}", words.join(" ")));
    }

    /// Replaces the line with a random instruction of task `t` (held-out or seen) from
    /// `prompts`, (task, seen, instruction) as a session of pretrained models lists them.
    pub(crate) fn fill_from_prompts(
        &mut self,
        prompts: &[(usize, bool, String)],
        t: usize,
        seen: bool,
        rng: &mut impl Rng,
    ) {
        let of_task: Vec<&str> = prompts.iter().filter(|p| p.0 == t && p.1 == seen).map(|p| p.2.as_str()).collect();
        match of_task.len() {
            0 => {
                let kind = if seen { "seen" } else { "held-out" };
                self.error = Some(format!("task {t} has no {kind} prompts"));
            }
            n => self.set(one_line(of_task[rng.random_range(0..n)])),
        }
    }
}
