//! The causal language model: configuration presets, layers, hidden-state capture, devices.

pub mod config;
pub mod device;
pub mod fused;
pub mod fused_block;
pub mod gpt;
pub mod init;
pub mod kernels;
pub mod layers;

pub use config::ModelConfig;
pub use device::{DeviceChoice, SelectedDevice};
pub use gpt::{ForwardOut, Gpt};
pub use kernels::Kernels;
