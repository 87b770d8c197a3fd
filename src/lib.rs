//! clusterscope: train a small causal language model on synthetic instruction-following tasks
//! and watch its hidden states cluster by task (Wu & Varshney, arXiv 2402.12151).

pub mod alloc;
pub mod analysis;
pub mod experiment;
pub mod model;
pub mod session;
pub mod train;
pub mod ui;
