//! Probes: instructions the user types, run by the worker at a checkpoint, drawn where that
//! checkpoint's analysis puts them. [`Probes`] keeps every result it has been sent, by (probe,
//! step), and asks for what the selected checkpoint (and the trail) still lacks: probes follow
//! the user. Requests leave through an outbox the event loop drains
//! ([`super::App::take_probe_requests`]), never as an [`super::Action`]. The App hands in the
//! checkpoints and the selection; nothing here reaches back into it.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use ratatui::crossterm::event::KeyEvent;

use super::notice::{one_line, Level, Notice};
use super::probe_line::ProbeLine;
use super::probe_support::ProbeSupport;
use super::run::RunData;
use crate::analysis::probe::{place, Placement};
use crate::experiment::Experiment;
use crate::record::{PointInfo, ProbeAnswer, ProbeOutcome, ProbeRequest, ProbeResult, Snapshot};
use crate::ui::keymap::{line_intent, LineIntent};

#[derive(Debug, Clone)]
pub struct Probe {
    /// Also its label on the plot (`◆1`): stable when other probes are deleted.
    pub(crate) id: u64,
    pub(crate) text: String,
    /// Outcome per checkpoint step.
    pub(crate) results: BTreeMap<usize, ProbeOutcome>,
    /// Whether a request with `save: true` went out (or the probe came from the session).
    save_sent: bool,
}

impl Probe {
    pub fn id(&self) -> u64 {
        self.id
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn result(&self, step: usize) -> Option<&ProbeOutcome> {
        self.results.get(&step)
    }
}

/// The probes and their results, the probe line, and how the probes are shown.
#[derive(Debug, Clone)]
pub struct Probes {
    /// Oldest first.
    pub list: Vec<Probe>,
    /// Index into `list` of the probe the panel shows.
    pub selected: usize,
    /// The probe line, while it is open.
    pub line: Option<ProbeLine>,
    /// Each probe's path over the checkpoints up to the selected one.
    pub trail: bool,
    /// Attribution numbers beside the words.
    pub values: bool,
    pub panel: bool,
    /// Task the quick fills draw from.
    pub fill_task: usize,
    support: Option<ProbeSupport>,
    next_id: u64,
    outbox: Vec<ProbeRequest>,
    /// Deleted probes the session has on file (id, text), for the event loop to forget there.
    forgotten: Vec<(u64, String)>,
    /// The step of each probe's latest request. The probe thread may drop a request superseded
    /// by a newer one for the same id, so one in flight per probe is all that is counted on.
    in_flight: HashMap<u64, usize>,
    /// Probe texts, oldest first.
    history: Vec<String>,
    rng: ChaCha8Rng,
    /// The (probe, step) whose result the status bar is waiting for.
    announce: Option<(u64, usize)>,
}

/// What a key on the probe line asks of the App.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum LineOutcome {
    Nothing,
    Quit,
    /// A valid probe, the line closed: make it.
    Submit(String),
}

/// What became of a result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Received {
    /// Its probe was deleted.
    Unknown,
    Kept,
    /// Kept, and the status bar was waiting for it: announce probe `index` at `step`.
    Announce {
        index: usize,
        step: usize,
    },
}

/// The model's answer against the nearest task's table: (what the table gives, whether equal).
pub(crate) fn verdict(exp: &Experiment, answer: &ProbeAnswer, task: usize) -> Option<(String, bool)> {
    let expected = exp.expected_answer(task, &answer.words, &answer.input)?;
    let right = expected == answer.answer;
    Some((expected, right))
}

impl Probes {
    pub(crate) fn new() -> Probes {
        Probes {
            list: Vec::new(),
            selected: 0,
            line: None,
            trail: false,
            values: false,
            panel: true,
            fill_task: 0,
            support: None,
            next_id: 1,
            outbox: Vec::new(),
            forgotten: Vec::new(),
            in_flight: HashMap::new(),
            history: Vec::new(),
            rng: ChaCha8Rng::seed_from_u64(0x5eed),
            announce: None,
        }
    }

    /// The probe the panel shows.
    pub fn selected_probe(&self) -> Option<&Probe> {
        self.list.get(self.selected)
    }

    /// The experiment, once probing is enabled.
    pub fn experiment(&self) -> Option<&Experiment> {
        self.support.as_ref()?.experiment()
    }

    /// Whether the probe line takes any text (a session of pretrained models).
    pub fn free_text(&self) -> bool {
        matches!(self.support, Some(ProbeSupport::FreeText { .. }))
    }

    /// Whether probe `id` has a request out for `step`.
    pub fn running(&self, id: u64, step: usize) -> bool {
        self.in_flight.get(&id) == Some(&step)
    }

    /// Where probe `index` lands in `layer` at `snapshots[snapshot]`; `None` without a result,
    /// on an error, or when it does not fit.
    pub fn placement(&self, snapshots: &[Snapshot], index: usize, snapshot: usize, layer: usize) -> Option<Placement> {
        let p = self.list.get(index)?;
        let snap = snapshots.get(snapshot)?;
        let answer = p.results.get(&snap.step)?.as_ref().ok()?;
        place(snap.layer(layer)?, answer.hidden.get(layer)?)
    }

    pub(crate) fn set_support(&mut self, experiment: Arc<Experiment>, context: usize) {
        self.support = Some(ProbeSupport::Experiment { experiment, context });
    }

    pub(crate) fn set_free_text(&mut self, points: &[PointInfo]) {
        self.support = Some(ProbeSupport::free_text(points));
    }

    /// Probes from a saved session, shown as if just made (and already saved).
    pub(crate) fn add_saved(&mut self, texts: Vec<String>) {
        for text in texts {
            let text = text.trim().to_string();
            if text.is_empty() {
                continue;
            }
            if !self.history.contains(&text) {
                self.history.push(text.clone());
            }
            self.add(text, true);
        }
    }

    pub(crate) fn take_requests(&mut self) -> Vec<ProbeRequest> {
        std::mem::take(&mut self.outbox)
    }

    pub(crate) fn take_forgotten(&mut self) -> Vec<(u64, String)> {
        std::mem::take(&mut self.forgotten)
    }

    fn add(&mut self, text: String, save_sent: bool) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        self.list.push(Probe { id, text, results: BTreeMap::new(), save_sent });
        self.selected = self.list.len() - 1;
        id
    }

    fn request(&mut self, index: usize, step: usize) {
        let Some(p) = self.list.get_mut(index) else { return };
        let save = !p.save_sent;
        p.save_sent = true;
        self.in_flight.insert(p.id, step);
        self.outbox.push(ProbeRequest { id: p.id, text: p.text.clone(), step, save });
    }

    /// Creates a probe from validated text and asks for it at the selected checkpoint (or at
    /// the first one to come, live before any checkpoint); returns the status message.
    pub(crate) fn submit(&mut self, text: String, snapshots: &[Snapshot], selected: usize) -> String {
        self.history.retain(|h| *h != text);
        self.history.push(text.clone());
        let id = self.add(text, false);
        match snapshots.get(selected).map(|s| s.step) {
            Some(step) => {
                self.announce = Some((id, step));
                self.sync(snapshots, selected);
                format!("probe ◆{id} running at step {step}…")
            }
            None => {
                // Live before any checkpoint: it runs at the first one; announce whichever.
                self.announce = Some((id, usize::MAX));
                format!("probe ◆{id} runs at the first checkpoint")
            }
        }
    }

    /// Asks for what the selected checkpoint (and, with the trail on, every checkpoint up to it)
    /// lacks: at most one request in flight per probe, the selected step first.
    pub(crate) fn sync(&mut self, snapshots: &[Snapshot], selected: usize) {
        let Some(sel) = snapshots.get(selected).map(|s| s.step) else { return };
        let trail_end = if self.trail { (selected + 1).min(snapshots.len()) } else { 0 };
        for i in 0..self.list.len() {
            let p = &self.list[i];
            let want = if p.results.contains_key(&sel) {
                snapshots[..trail_end].iter().map(|s| s.step).find(|s| !p.results.contains_key(s))
            } else {
                Some(sel)
            };
            let Some(step) = want else { continue };
            match self.in_flight.get(&p.id) {
                Some(&s) if s == step => continue,
                // Trail steps queue behind whatever is in flight; the selected step does not.
                Some(_) if step != sel => continue,
                _ => {}
            }
            self.request(i, step);
        }
    }

    /// A probe came back: its outcome is kept for its checkpoint.
    pub(crate) fn receive(&mut self, r: ProbeResult) -> Received {
        let Some(index) = self.list.iter().position(|p| p.id == r.id) else { return Received::Unknown };
        if self.in_flight.get(&r.id) == Some(&r.step) {
            self.in_flight.remove(&r.id);
        }
        let (id, step) = (r.id, r.step);
        self.list[index].results.insert(step, r.outcome);
        if self.announce.is_some_and(|(a, s)| a == id && (s == step || s == usize::MAX)) {
            self.announce = None;
            return Received::Announce { index, step };
        }
        Received::Kept
    }

    /// One status line about a finished probe, placed in `layer`.
    pub(crate) fn announcement(&self, index: usize, step: usize, run: &RunData, layer: usize) -> Option<Notice> {
        let p = self.list.get(index)?;
        let id = p.id;
        match p.results.get(&step)? {
            Err(e) => Some(Notice::new(Level::Error, &format!("probe ◆{id}: {e}"))),
            Ok(a) => {
                let said = if self.free_text() { "continues" } else { "answer" };
                let (text, p) = (one_line(&a.answer), a.answer_probability * 100.0);
                let mut msg = format!("probe ◆{id}: {said} {text} ({p:.0}%)");
                let snapshot = run.snapshots.iter().position(|s| s.step == step);
                let placed = snapshot.and_then(|s| self.placement(&run.snapshots, index, s, layer));
                if let Some(pl) = placed {
                    let name = run.task_names.get(pl.nearest_task).cloned().unwrap_or_default();
                    msg.push_str(&format!(", nearest task {name}"));
                    if let Some((_, ok)) = self.experiment().and_then(|e| verdict(e, a, pl.nearest_task)) {
                        msg.push_str(if ok { " ✓" } else { " ✗" });
                    }
                }
                Some(Notice::new(Level::Info, &msg))
            }
        }
    }

    /// Opens an empty probe line; false when probing is not enabled.
    pub(crate) fn open_line(&mut self) -> bool {
        if self.support.is_none() {
            return false;
        }
        self.line = Some(ProbeLine::default());
        true
    }

    /// Selects the next (or previous) probe; false when there is none.
    pub(crate) fn cycle(&mut self, forward: bool) -> bool {
        let n = self.list.len();
        if n == 0 {
            return false;
        }
        self.selected = if forward { (self.selected + 1) % n } else { (self.selected + n - 1) % n };
        true
    }

    /// Deletes the selected probe; returns its id.
    pub(crate) fn delete_selected(&mut self) -> Option<u64> {
        if self.selected >= self.list.len() {
            return None;
        }
        let p = self.list.remove(self.selected);
        self.in_flight.remove(&p.id);
        if p.save_sent {
            self.forgotten.push((p.id, p.text.clone()));
        }
        if self.announce.is_some_and(|(id, _)| id == p.id) {
            self.announce = None;
        }
        self.selected = self.selected.min(self.list.len().saturating_sub(1));
        Some(p.id)
    }

    /// Turns the trail on or off; returns the status message.
    pub(crate) fn toggle_trail(&mut self) -> &'static str {
        self.trail = !self.trail;
        if self.trail {
            "probe trail on: each probe's path up to this checkpoint"
        } else {
            "probe trail off"
        }
    }

    /// A key while the probe line is open: it takes every key (so `q` types a q); Enter
    /// validates with the experiment's parser and only a valid probe comes out (free text:
    /// any text but blank).
    pub(crate) fn on_line_key(&mut self, key: KeyEvent) -> LineOutcome {
        let Some(intent) = line_intent(key) else { return LineOutcome::Nothing };
        let Some(line) = self.line.as_mut() else { return LineOutcome::Nothing };
        line.begin(intent);
        let support = self.support.as_ref();
        match intent {
            LineIntent::Quit => return LineOutcome::Quit,
            LineIntent::Insert(c) => line.insert(c),
            LineIntent::Backspace => line.backspace(),
            LineIntent::Delete => line.delete(),
            LineIntent::DeleteWord => line.delete_word(),
            LineIntent::Left => line.cursor = line.cursor.saturating_sub(1),
            LineIntent::Right => line.cursor = (line.cursor + 1).min(line.len()),
            LineIntent::Home => line.cursor = 0,
            LineIntent::End => line.cursor = line.len(),
            LineIntent::Close => self.line = None,
            LineIntent::Submit => {
                if let Some(text) = support.and_then(|s| s.validate(line)) {
                    self.line = None;
                    return LineOutcome::Submit(text);
                }
            }
            LineIntent::Complete | LineIntent::CompletePrev => {
                if let Some(s) = support {
                    s.complete(line, intent == LineIntent::Complete);
                }
            }
            LineIntent::HistoryPrev => line.browse_history(&self.history, true),
            LineIntent::HistoryNext => line.browse_history(&self.history, false),
            LineIntent::FillUnseen | LineIntent::FillSeen => {
                if let Some(s) = support {
                    s.fill(line, self.fill_task, intent == LineIntent::FillSeen, &mut self.rng);
                }
            }
            LineIntent::NextFillTask | LineIntent::PrevFillTask => {
                let k = support.map_or(1, ProbeSupport::tasks);
                let t = self.fill_task % k;
                self.fill_task = if intent == LineIntent::NextFillTask { (t + 1) % k } else { (t + k - 1) % k };
            }
        }
        LineOutcome::Nothing
    }
}
