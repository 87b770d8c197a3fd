//! clusterscope: train a small causal language model on synthetic instruction-following tasks
//! and watch its hidden states cluster by task (Wu & Varshney, arXiv 2402.12151).
//!
//! Rooms, from the ground up (a room imports only from rooms below it): `error`, `analysis`
//! and `experiment`; `model`; `record`; `session`; `train`; `sweep`; `study`; `report`; `cli` and `ui`.

pub mod alloc;
pub mod analysis;
pub mod cli;
pub mod error;
pub mod experiment;
pub mod model;
pub mod record;
pub mod report;
pub mod session;
pub mod study;
pub mod sweep;
pub mod train;
pub mod ui;
