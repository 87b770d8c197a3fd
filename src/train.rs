//! Training: the loop, its optimizer, checkpoints, and the worker thread with its protocol.

pub mod batch;
pub mod bench;
pub mod headless;
pub mod inference;
pub mod loss;
pub mod optimizer;
pub mod probe;
pub mod protocol;
pub mod trainer;
pub mod worker;

pub use protocol::{Command, Event, Progress, RunInfo, Snapshot, Summary};
pub use trainer::Trainer;
pub use worker::{spawn, RunConfig, WorkerHandle};
