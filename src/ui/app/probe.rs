//! Probes: instructions the user types, run by the worker at a checkpoint, drawn where that
//! checkpoint's analysis puts them. The App keeps every result it has been sent, by (probe,
//! step), and asks for what the selected checkpoint (and the trail) still lacks: probes follow
//! the user. Requests leave through an outbox the event loop drains
//! ([`App::take_probe_requests`]), never as an [`super::Action`].

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::App;
use crate::analysis::probe::{place, Placement};
use crate::experiment::Experiment;
use crate::record::{ProbeAnswer, ProbeOutcome, ProbeRequest, ProbeResult};

pub use super::probe_line::ProbeLine;

/// What probing needs beyond the snapshots: the experiment (vocabulary, tables, instruction
/// distributions) and the model's context length.
#[derive(Debug, Clone)]
pub(crate) struct ProbeSupport {
    pub(crate) experiment: Arc<Experiment>,
    pub(crate) context: usize,
}

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

#[derive(Debug, Clone)]
pub(crate) struct Probes {
    pub(crate) support: Option<ProbeSupport>,
    pub(crate) list: Vec<Probe>,
    /// Index into `list` of the probe the panel shows.
    pub(crate) selected: usize,
    next_id: u64,
    outbox: Vec<ProbeRequest>,
    /// The step of each probe's latest request. The probe thread may drop a request superseded
    /// by a newer one for the same id, so one in flight per probe is all that is counted on.
    pub(crate) in_flight: HashMap<u64, usize>,
    pub(crate) history: Vec<String>,
    pub(crate) line: Option<ProbeLine>,
    pub(crate) trail: bool,
    pub(crate) values: bool,
    pub(crate) panel: bool,
    /// Task the quick fills draw from.
    pub(crate) fill_task: usize,
    pub(crate) rng: ChaCha8Rng,
    /// The (probe, step) whose result the status bar is waiting for.
    announce: Option<(u64, usize)>,
}

impl Probes {
    pub(crate) fn new() -> Probes {
        Probes {
            support: None,
            list: Vec::new(),
            selected: 0,
            next_id: 1,
            outbox: Vec::new(),
            in_flight: HashMap::new(),
            history: Vec::new(),
            line: None,
            trail: false,
            values: false,
            panel: true,
            fill_task: 0,
            rng: ChaCha8Rng::seed_from_u64(0x5eed),
            announce: None,
        }
    }

    pub(crate) fn selected_probe(&self) -> Option<&Probe> {
        self.list.get(self.selected)
    }

    pub(crate) fn experiment(&self) -> Option<&Experiment> {
        self.support.as_ref().map(|s| s.experiment.as_ref())
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

    /// Whether the probe has a request out for `step`.
    pub(crate) fn running(&self, id: u64, step: usize) -> bool {
        self.in_flight.get(&id) == Some(&step)
    }
}

/// The model's answer against the nearest task's table: (what the table gives, whether equal).
pub(crate) fn verdict(exp: &Experiment, answer: &ProbeAnswer, task: usize) -> Option<(String, bool)> {
    let expected = exp.expected_output(task, &answer.input)?;
    Some((expected.to_string(), expected == answer.answer))
}

impl App {
    /// Enables probing: the experiment (completion, quick fills, validation, answer checking)
    /// and the model's context length. Without it, `p` shows "probes need the experiment".
    pub fn set_probe_support(&mut self, experiment: Arc<Experiment>, context: usize) {
        self.probes.support = Some(ProbeSupport { experiment, context });
        self.sync_probes();
    }

    /// Probes loaded from a saved session (replay), shown as if just made; text only.
    pub fn add_saved_probes(&mut self, texts: Vec<String>) {
        for text in texts {
            let text = text.trim().to_string();
            if text.is_empty() {
                continue;
            }
            if !self.probes.history.contains(&text) {
                self.probes.history.push(text.clone());
            }
            self.probes.add(text, true);
        }
        self.sync_probes();
    }

    /// Probe requests the app wants run (new probes, and probes following the user to another
    /// checkpoint); the event loop drains this after every event.
    pub fn take_probe_requests(&mut self) -> Vec<ProbeRequest> {
        self.sync_probes();
        std::mem::take(&mut self.probes.outbox)
    }

    /// Probes, oldest first.
    pub fn probes(&self) -> &[Probe] {
        &self.probes.list
    }

    /// Index of the probe the panel shows.
    pub fn selected_probe(&self) -> usize {
        self.probes.selected
    }

    /// The probe line, while it is open.
    pub fn probe_line(&self) -> Option<&ProbeLine> {
        self.probes.line.as_ref()
    }

    /// Where probe `index` lands in `layer` at snapshot `snapshot` (an index into
    /// [`App::snapshots`]); `None` without a result, on an error, or when it does not fit.
    pub fn probe_placement(&self, index: usize, snapshot: usize, layer: usize) -> Option<Placement> {
        let p = self.probes.list.get(index)?;
        let snap = self.snapshots.get(snapshot)?;
        let answer = p.results.get(&snap.step)?.as_ref().ok()?;
        place(snap.layer(layer)?, answer.hidden.get(layer)?)
    }

    /// Creates a probe from validated text and asks for it at the selected checkpoint (or at
    /// the first one to come, live before any checkpoint).
    pub(crate) fn submit_probe(&mut self, text: String) {
        self.probes.history.retain(|h| *h != text);
        self.probes.history.push(text.clone());
        let id = self.probes.add(text, false);
        match self.selected_snapshot().map(|s| s.step) {
            Some(step) => {
                self.probes.announce = Some((id, step));
                self.sync_probes();
                self.set_status_message(format!("probe ◆{id} running at step {step}…"));
            }
            None => {
                // Live before any checkpoint: it runs at the first one; announce whichever.
                self.probes.announce = Some((id, usize::MAX));
                self.set_status_message(format!("probe ◆{id} runs at the first checkpoint"));
            }
        }
    }

    /// Asks for what the selected checkpoint (and, with the trail on, every checkpoint up to it)
    /// lacks: at most one request in flight per probe, the selected step first.
    pub(crate) fn sync_probes(&mut self) {
        let Some(sel) = self.snapshots.get(self.selected).map(|s| s.step) else { return };
        let trail_end = if self.probes.trail { (self.selected + 1).min(self.snapshots.len()) } else { 0 };
        for i in 0..self.probes.list.len() {
            let p = &self.probes.list[i];
            let want = if p.results.contains_key(&sel) {
                self.snapshots[..trail_end].iter().map(|s| s.step).find(|s| !p.results.contains_key(s))
            } else {
                Some(sel)
            };
            let Some(step) = want else { continue };
            match self.probes.in_flight.get(&p.id) {
                Some(&s) if s == step => continue,
                // Trail steps queue behind whatever is in flight; the selected step does not.
                Some(_) if step != sel => continue,
                _ => {}
            }
            self.probes.request(i, step);
        }
    }

    /// A probe came back: its outcome is kept for its checkpoint.
    pub fn on_probe_result(&mut self, r: ProbeResult) {
        let Some(index) = self.probes.list.iter().position(|p| p.id == r.id) else { return };
        if self.probes.in_flight.get(&r.id) == Some(&r.step) {
            self.probes.in_flight.remove(&r.id);
        }
        let id = r.id;
        let step = r.step;
        self.probes.list[index].results.insert(step, r.outcome);
        if self.probes.announce.is_some_and(|(a, s)| a == id && (s == step || s == usize::MAX)) {
            self.probes.announce = None;
            self.announce_result(index, step);
        }
        self.sync_probes();
    }

    /// One status line about a finished probe.
    fn announce_result(&mut self, index: usize, step: usize) {
        let Some(p) = self.probes.list.get(index) else { return };
        let id = p.id;
        match p.results.get(&step) {
            Some(Err(e)) => self.set_status_error(format!("probe ◆{id}: {e}")),
            Some(Ok(a)) => {
                let mut msg = format!("probe ◆{id}: answer {} ({:.0}%)", a.answer, a.answer_probability * 100.0);
                let snapshot = self.snapshots.iter().position(|s| s.step == step);
                let placed = snapshot.and_then(|s| self.probe_placement(index, s, self.layer));
                if let Some(pl) = placed {
                    let name = self.task_names.get(pl.nearest_task).cloned().unwrap_or_default();
                    msg.push_str(&format!(", nearest task {name}"));
                    if let Some((_, ok)) = self.probes.experiment().and_then(|e| verdict(e, a, pl.nearest_task)) {
                        msg.push_str(if ok { " ✓" } else { " ✗" });
                    }
                }
                self.set_status_message(msg);
            }
            None => {}
        }
    }

    pub(crate) fn open_probe_line(&mut self) {
        if self.probes.support.is_none() {
            self.set_status_error("probes need the experiment (not available here)".into());
            return;
        }
        self.help = false;
        self.probes.line = Some(ProbeLine::default());
    }

    pub(crate) fn cycle_probe(&mut self, forward: bool) {
        let n = self.probes.list.len();
        if n == 0 {
            self.set_status_message("no probes yet: p opens the probe line".into());
            return;
        }
        self.probes.selected =
            if forward { (self.probes.selected + 1) % n } else { (self.probes.selected + n - 1) % n };
    }

    pub(crate) fn delete_probe(&mut self) {
        if self.probes.selected >= self.probes.list.len() {
            return;
        }
        let p = self.probes.list.remove(self.probes.selected);
        self.probes.in_flight.remove(&p.id);
        if self.probes.announce.is_some_and(|(id, _)| id == p.id) {
            self.probes.announce = None;
        }
        self.probes.selected = self.probes.selected.min(self.probes.list.len().saturating_sub(1));
        self.set_status_message(format!("probe ◆{} deleted", p.id));
    }

    pub(crate) fn toggle_trail(&mut self) {
        self.probes.trail = !self.probes.trail;
        let msg = if self.probes.trail {
            "probe trail on: each probe's path up to this checkpoint"
        } else {
            "probe trail off"
        };
        self.set_status_message(msg.into());
    }
}
