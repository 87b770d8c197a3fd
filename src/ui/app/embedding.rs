//! The t-SNE view's state: which layouts have come back (aligned, per checkpoint and layer),
//! which one is being computed and how far it has got, and what to ask the t-SNE thread next.
//! The UI thread only keeps and aligns results; computing them is the thread's.

use std::collections::HashMap;

use crate::analysis::{procrustes, LayerAnalysis, ProcrustesOptions};
use crate::record::{EmbeddingEvent, EmbeddingRequest};

/// What the scatter can show for the selected checkpoint and layer in the t-SNE view.
#[derive(Debug, Clone, PartialEq)]
pub enum EmbeddingState<'a> {
    /// No t-SNE thread: the session's experiment could not be rebuilt.
    Unsupported,
    /// Asked for; `progress` is (epoch, epochs) once the thread has started on it.
    Computing {
        progress: Option<(usize, usize)>,
    },
    Failed(&'a str),
    Ready(&'a EmbeddedLayer),
}

/// A layer as the scatter draws it, with the t-SNE layout in place of the PCA projection.
/// Centroids are the means of their members' layout positions: t-SNE has no map for points it
/// was not fitted on, so that is the only honest place for them.
#[derive(Debug, Clone, PartialEq)]
pub struct EmbeddedLayer {
    pub layer: LayerAnalysis,
    /// Half-ranges of the layout, for the axes.
    pub half: [f32; 2],
}

#[derive(Debug, Clone, Default)]
pub struct Embeddings {
    /// Whether the scatter shows t-SNE instead of PCA.
    pub shown: bool,
    supported: bool,
    /// Aligned layouts by (step, layer), in the run's point order.
    layouts: HashMap<(usize, usize), Vec<[f32; 2]>>,
    ready: HashMap<(usize, usize), EmbeddedLayer>,
    failed: HashMap<(usize, usize), String>,
    /// The request sent last and not yet answered, with its progress.
    asked: Option<(EmbeddingRequest, Option<(usize, usize)>)>,
    outbox: Vec<EmbeddingRequest>,
}

impl Embeddings {
    pub(crate) fn set_supported(&mut self) {
        self.supported = true;
    }

    /// What there is for `step` and `layer`.
    pub fn state(&self, step: usize, layer: usize) -> EmbeddingState<'_> {
        if !self.supported {
            return EmbeddingState::Unsupported;
        }
        if let Some(e) = self.ready.get(&(step, layer)) {
            return EmbeddingState::Ready(e);
        }
        if let Some(f) = self.failed.get(&(step, layer)) {
            return EmbeddingState::Failed(f);
        }
        let progress = self.asked.filter(|(r, _)| *r == EmbeddingRequest { step, layer }).and_then(|(_, p)| p);
        EmbeddingState::Computing { progress }
    }

    /// Asks for the layout of `step`/`layer` unless it is known or already the one asked for.
    /// Returns whether a new request was made.
    pub(crate) fn want(&mut self, step: usize, layer: usize) -> bool {
        let req = EmbeddingRequest { step, layer };
        let known = self.ready.contains_key(&(step, layer)) || self.failed.contains_key(&(step, layer));
        if !self.shown || !self.supported || known || self.asked.is_some_and(|(r, _)| r == req) {
            return false;
        }
        self.asked = Some((req, None));
        self.outbox.push(req);
        true
    }

    pub(crate) fn take_requests(&mut self) -> Vec<EmbeddingRequest> {
        std::mem::take(&mut self.outbox)
    }

    /// Takes a report from the t-SNE thread; `analysis` is the layer's PCA analysis (for the
    /// cluster assignments), `seen_tasks` the task of each seen point.
    pub(crate) fn receive(&mut self, event: EmbeddingEvent, analysis: Option<&LayerAnalysis>, seen_tasks: &[usize]) {
        match event {
            EmbeddingEvent::Progress { request, epoch, epochs } => {
                if let Some((_, p)) = self.asked.as_mut().filter(|(r, _)| *r == request) {
                    *p = Some((epoch, epochs));
                }
            }
            EmbeddingEvent::Done { request, outcome } => {
                if self.asked.is_some_and(|(r, _)| r == request) {
                    self.asked = None;
                }
                let key = (request.step, request.layer);
                match (outcome, analysis) {
                    (Ok(raw), Some(a)) if raw.len() == a.seen_proj.len() + a.unseen_proj.len() => {
                        let aligned = self.align(request, raw);
                        self.ready.insert(key, embedded(a, &aligned, seen_tasks));
                        self.layouts.insert(key, aligned);
                    }
                    (Ok(_), _) => {
                        self.failed.insert(key, "the layout does not match this checkpoint's points".into());
                    }
                    (Err(e), _) => {
                        self.failed.insert(key, e);
                    }
                }
            }
        }
    }

    /// Maps `raw` onto the layout of the nearest earlier checkpoint of the same layer (the
    /// nearest later one when there is none), so scrubbing shows points moving.
    fn align(&self, request: EmbeddingRequest, raw: Vec<[f32; 2]>) -> Vec<[f32; 2]> {
        let same_layer = self.layouts.iter().filter(|((_, l), _)| *l == request.layer);
        let earlier = same_layer.clone().filter(|((s, _), _)| *s < request.step).max_by_key(|((s, _), _)| *s);
        let later = same_layer.filter(|((s, _), _)| *s > request.step).min_by_key(|((s, _), _)| *s);
        match earlier.or(later) {
            Some((_, reference)) => procrustes(&raw, reference, ProcrustesOptions::default()).apply_all(&raw),
            None => raw,
        }
    }
}

fn embedded(a: &LayerAnalysis, layout: &[[f32; 2]], seen_tasks: &[usize]) -> EmbeddedLayer {
    let (seen_xy, unseen_xy) = layout.split_at(a.seen_proj.len().min(layout.len()));
    let means = |groups: usize, of: &dyn Fn(usize) -> usize| -> Vec<[f32; 2]> {
        let mut sum = vec![[0.0f64; 3]; groups];
        for (i, p) in seen_xy.iter().enumerate() {
            if let Some(s) = sum.get_mut(of(i)) {
                *s = [s[0] + f64::from(p[0]), s[1] + f64::from(p[1]), s[2] + 1.0];
            }
        }
        sum.iter().map(|s| if s[2] > 0.0 { [(s[0] / s[2]) as f32, (s[1] / s[2]) as f32] } else { [0.0; 2] }).collect()
    };
    let mut layer = a.clone();
    layer.kmeans_centroids_proj =
        means(a.kmeans_centroids_proj.len(), &|i| a.seen_assignments.get(i).copied().unwrap_or(usize::MAX));
    layer.task_centroids_proj =
        means(a.task_centroids_proj.len(), &|i| seen_tasks.get(i).copied().unwrap_or(usize::MAX));
    layer.seen_proj = seen_xy.to_vec();
    layer.unseen_proj = unseen_xy.to_vec();
    let half = layout.iter().fold([0.0f32; 2], |h, p| [h[0].max(p[0].abs()), h[1].max(p[1].abs())]);
    EmbeddedLayer { layer, half: [half[0].max(1e-6) * 1.05, half[1].max(1e-6) * 1.05] }
}
