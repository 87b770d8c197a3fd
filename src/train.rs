//! Producers of checkpoints and answers: the training run (trainer, optimizer, loop) with its
//! analysis thread, and the prober. They own the model and the device; what leaves them is plain
//! data ([`crate::record`]) through the messages in [`protocol`].

pub mod align;
pub mod analyser;
pub mod analyze;
pub mod attribution_share;
pub mod batch;
pub mod embedder;
pub mod error;
pub mod extract;
pub mod held_out;
pub mod inference;
pub mod knowledge;
pub mod loss;
pub mod optimizer;
pub mod pretrained_prober;
pub mod prober;
pub mod protocol;
pub mod run;
pub mod stored_hidden;
pub mod tally;
pub mod trainer;
pub mod weights;

pub use error::{ProbeFault, TrainError};
pub use protocol::{AnalyserEvent, Failure, StopCause, TrainerCommand, TrainerEvent};
pub use run::{spawn, RunConfig, RunHandle};
pub use trainer::Trainer;
pub use weights::{SavedTensors, WeightsError};
