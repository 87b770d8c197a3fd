//! A nonlinear projection (t-SNE) of the analysis set at one checkpoint and layer, asked for by
//! the UI and computed on a worker thread.

/// Compute the t-SNE layout of `layer`'s hidden states at checkpoint `step`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EmbeddingRequest {
    pub step: usize,
    pub layer: usize,
}

/// What the t-SNE thread reports: how far a layout has got, and the layout or why there is
/// none. Points are in the order of the run's points (seen, then unseen), unaligned: the
/// receiver aligns them to the layouts it already has.
#[derive(Debug, Clone, PartialEq)]
pub enum EmbeddingEvent {
    Progress { request: EmbeddingRequest, epoch: usize, epochs: usize },
    Done { request: EmbeddingRequest, outcome: Result<Vec<[f32; 2]>, String> },
}
