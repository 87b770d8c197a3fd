//! The probe line: editing, completion, history and quick fills. While it is open it takes
//! every key (so `q` types a q); Enter validates with the experiment's parser and only a valid
//! probe becomes a request.

use rand::Rng;

use super::{Action, App};
use crate::experiment::probe::{complete, parse};
use crate::ui::keymap::{line_intent, LineIntent};
use ratatui::crossterm::event::KeyEvent;

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

    fn byte_at(&self, char_pos: usize) -> usize {
        self.text.char_indices().nth(char_pos).map_or(self.text.len(), |(b, _)| b)
    }

    fn len(&self) -> usize {
        self.text.chars().count()
    }

    fn set(&mut self, text: String) {
        self.text = text;
        self.cursor = self.len();
    }

    fn insert(&mut self, c: char) {
        let b = self.byte_at(self.cursor);
        self.text.insert(b, c);
        self.cursor += 1;
    }

    fn backspace(&mut self) {
        if self.cursor > 0 {
            self.cursor -= 1;
            let b = self.byte_at(self.cursor);
            self.text.remove(b);
        }
    }

    fn delete(&mut self) {
        if self.cursor < self.len() {
            let b = self.byte_at(self.cursor);
            self.text.remove(b);
        }
    }

    fn delete_word(&mut self) {
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
}

impl App {
    pub(crate) fn on_line_key(&mut self, key: KeyEvent) -> Option<Action> {
        let intent = line_intent(key)?;
        let line = self.probes.line.as_mut()?;
        // Anything but Tab ends a completion cycle; any edit clears the last error.
        if !matches!(intent, LineIntent::Complete | LineIntent::CompletePrev) {
            line.completion = None;
        }
        if !matches!(intent, LineIntent::NextFillTask | LineIntent::PrevFillTask | LineIntent::Submit) {
            line.error = None;
        }
        if !matches!(intent, LineIntent::HistoryPrev | LineIntent::HistoryNext) {
            line.history_pos = None;
        }
        match intent {
            LineIntent::Quit => return Some(Action::Quit),
            LineIntent::Insert(c) => line.insert(c),
            LineIntent::Backspace => line.backspace(),
            LineIntent::Delete => line.delete(),
            LineIntent::DeleteWord => line.delete_word(),
            LineIntent::Left => line.cursor = line.cursor.saturating_sub(1),
            LineIntent::Right => line.cursor = (line.cursor + 1).min(line.len()),
            LineIntent::Home => line.cursor = 0,
            LineIntent::End => line.cursor = line.len(),
            LineIntent::Close => self.probes.line = None,
            LineIntent::Submit => self.submit_line(),
            LineIntent::Complete => self.complete_line(true),
            LineIntent::CompletePrev => self.complete_line(false),
            LineIntent::HistoryPrev => self.browse_history(true),
            LineIntent::HistoryNext => self.browse_history(false),
            LineIntent::FillUnseen => self.quick_fill(false),
            LineIntent::FillSeen => self.quick_fill(true),
            LineIntent::NextFillTask | LineIntent::PrevFillTask => {
                let k = self.probes.experiment().map_or(1, |e| e.tasks.len().max(1));
                let t = self.probes.fill_task % k;
                self.probes.fill_task = if intent == LineIntent::NextFillTask { (t + 1) % k } else { (t + k - 1) % k };
            }
        }
        None
    }

    fn submit_line(&mut self) {
        let (Some(line), Some(support)) = (self.probes.line.as_mut(), self.probes.support.as_ref()) else { return };
        match parse(&support.experiment, &line.text, support.context) {
            Err(e) => line.error = Some(one_line(&e.to_string())),
            Ok(input) => {
                let symbol = support.experiment.symbols.get(input.input).cloned().unwrap_or_default();
                let text = format!("{} | {symbol}", input.words.join(" "));
                self.probes.line = None;
                self.submit_probe(text);
            }
        }
    }

    fn complete_line(&mut self, forward: bool) {
        let (Some(line), Some(support)) = (self.probes.line.as_mut(), self.probes.support.as_ref()) else { return };
        if let Some(c) = line.completion.as_mut() {
            let n = c.candidates.len().max(1);
            c.index = if forward { (c.index + 1) % n } else { (c.index + n - 1) % n };
            let text = format!("{}{}", c.base, c.candidates.get(c.index).map_or("", String::as_str));
            line.set(text);
            return;
        }
        // Completion works on the end of the line: what is before the cursor is kept.
        let before: String = line.text.chars().take(line.cursor).collect();
        let candidates = complete(&support.experiment, &before);
        let partial = before.rsplit(|c: char| c.is_whitespace() || c == '|').next().unwrap_or("");
        let base = before[..before.len() - partial.len()].to_string();
        match candidates.len() {
            0 => line.error = Some(format!("nothing in the vocabulary starts with {partial:?}")),
            1 => {
                let after_bar = base.contains('|');
                line.set(format!("{base}{}{}", candidates[0], if after_bar { "" } else { " " }));
            }
            _ => {
                let index = if forward { 0 } else { candidates.len() - 1 };
                line.set(format!("{base}{}", candidates[index]));
                line.completion = Some(Completion { base, candidates, index });
            }
        }
    }

    fn browse_history(&mut self, older: bool) {
        let history = &self.probes.history;
        let Some(line) = self.probes.line.as_mut() else { return };
        if history.is_empty() {
            return;
        }
        let pos = match (line.history_pos, older) {
            (None, true) => {
                line.draft = line.text.clone();
                Some(0)
            }
            (None, false) => None,
            (Some(p), true) => Some((p + 1).min(history.len() - 1)),
            (Some(0), false) => None,
            (Some(p), false) => Some(p - 1),
        };
        line.history_pos = pos;
        let text = match pos {
            Some(p) => history[history.len() - 1 - p].clone(),
            None => line.draft.clone(),
        };
        line.set(text);
    }

    /// Replaces the line with a random instruction of the fill task (held-out or seen) and a
    /// random input symbol.
    fn quick_fill(&mut self, seen: bool) {
        let Some(exp) = self.probes.support.as_ref().map(|s| s.experiment.clone()) else { return };
        let Some(line) = self.probes.line.as_mut() else { return };
        let t = self.probes.fill_task % exp.tasks.len().max(1);
        let Some(task) = exp.tasks.get(t) else { return };
        let dists = if seen { &task.seen } else { &task.unseen };
        let rng = &mut self.probes.rng;
        let dist = match dists.len() {
            0 => None,
            n => task.distributions.get(dists[rng.random_range(0..n)]),
        };
        let (Some(dist), false) = (dist, exp.symbols.is_empty()) else {
            let kind = if seen { "seen" } else { "held-out" };
            line.error = Some(format!("task {} has no {kind} instructions", task.name));
            return;
        };
        let words = dist.sample(rng);
        let input = &exp.symbols[rng.random_range(0..exp.symbols.len())];
        line.set(format!("{} | {input}", words.join(" ")));
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}
