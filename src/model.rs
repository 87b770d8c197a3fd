//! The causal language model: configuration presets, layers, hidden-state capture, devices,
//! and the fused CPU kernels the layers may run instead of composed candle ops.

pub mod causal_lm;
pub mod config;
pub mod device;
pub mod elementwise;
pub mod fused_block;
pub mod fused_layer_norm;
pub mod gpt;
pub mod init;
pub mod kernels;
pub mod layers;
pub mod matmul;
pub mod pretrained;

pub use causal_lm::CausalLm;
pub use config::ModelConfig;
pub use device::{DeviceChoice, SelectedDevice};
pub use gpt::{ForwardOut, Gpt};
pub use kernels::Kernels;
pub use pretrained::Pretrained;
