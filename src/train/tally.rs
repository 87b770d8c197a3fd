//! Loss and rate bookkeeping of a training run, for progress reports and checkpoints.

use std::collections::VecDeque;
use std::time::Instant;

/// Step losses averaged in the recent past: a short window (the last `RECENT` steps) for the
/// summary, and two running means that are emptied when read.
#[derive(Debug, Default)]
pub struct LossTally {
    /// Since the last progress report.
    since_progress: Mean,
    /// Since the last checkpoint.
    since_checkpoint: Mean,
    recent: VecDeque<f32>,
}

/// Steps in [`LossTally::recent_loss`].
const RECENT: usize = 50;

#[derive(Debug, Default, Clone, Copy)]
struct Mean {
    sum: f64,
    count: usize,
}

impl Mean {
    fn push(&mut self, x: f32) {
        self.sum += f64::from(x);
        self.count += 1;
    }

    /// The mean so far, emptying it; `None` before any value.
    fn take(&mut self) -> Option<f32> {
        let Mean { sum, count } = std::mem::take(self);
        (count > 0).then(|| (sum / count as f64) as f32)
    }
}

impl LossTally {
    pub fn push(&mut self, loss: f32) {
        self.since_progress.push(loss);
        self.since_checkpoint.push(loss);
        self.recent.push_back(loss);
        if self.recent.len() > RECENT {
            self.recent.pop_front();
        }
    }

    /// Mean loss since the last call (the recent mean when no step ran since).
    pub fn take_progress_loss(&mut self) -> f32 {
        self.since_progress.take().unwrap_or_else(|| self.recent_loss())
    }

    /// Mean loss since the last checkpoint (the recent mean when no step ran since).
    pub fn take_checkpoint_loss(&mut self) -> f32 {
        self.since_checkpoint.take().unwrap_or_else(|| self.recent_loss())
    }

    /// Mean of the last 50 step losses (0 before any step).
    pub fn recent_loss(&self) -> f32 {
        if self.recent.is_empty() {
            0.0
        } else {
            self.recent.iter().sum::<f32>() / self.recent.len() as f32
        }
    }
}

/// Steps per second, measured over the time since the window was last restarted.
#[derive(Debug, Clone, Copy)]
pub struct RateWindow {
    since: Instant,
    step: usize,
    /// The last rate measured (kept while paused, when no steps run).
    rate: f64,
}

impl RateWindow {
    pub fn new(step: usize) -> Self {
        RateWindow { since: Instant::now(), step, rate: 0.0 }
    }

    /// Starts a new window at `step`, keeping the last rate.
    pub fn restart(&mut self, step: usize) {
        self.since = Instant::now();
        self.step = step;
    }

    pub fn elapsed(&self) -> std::time::Duration {
        self.since.elapsed()
    }

    /// Measures the rate up to `step` and starts a new window there.
    pub fn measure(&mut self, step: usize) -> f64 {
        let rate = (step - self.step) as f64 / self.since.elapsed().as_secs_f64().max(1e-9);
        if rate > 0.0 {
            self.rate = rate;
        }
        self.restart(step);
        self.rate
    }

    pub fn rate(&self) -> f64 {
        self.rate
    }
}
