//! The plain data that travels between rooms: what a checkpoint knows, what a run is, how far it
//! has got, and what a probe asked and answered. It depends on the analysis alone, so the
//! trainer, storage, reports and the UI can all speak it without knowing each other.

pub mod embedding;
pub mod probe;
pub mod run;
pub mod snapshot;

pub use embedding::{EmbeddingEvent, EmbeddingRequest};
pub use probe::{ProbeAnswer, ProbeCommand, ProbeFailure, ProbeOutcome, ProbeRequest, ProbeResult};
pub use run::{phase_boundaries, phase_of_checkpoint, PhaseMark, PointInfo, Progress, RunInfo, Summary};
pub use snapshot::Snapshot;
