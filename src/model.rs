//! The causal language model: configuration presets, layers, hidden-state capture, devices.

pub mod causal_lm;
pub mod config;
pub mod device;
pub mod fused;
pub mod fused_block;
pub mod gpt;
pub mod init;
pub mod layers;

pub use causal_lm::CausalLm;
pub use config::ModelConfig;
pub use device::{DeviceChoice, SelectedDevice};
pub use gpt::{ForwardOut, Gpt};
