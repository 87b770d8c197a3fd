//! The terminal app: live training and replay through one screen, and the sweep view that opens
//! a sweep's sessions in it. The UI holds plain data (Snapshots, progress, sweep summaries); it
//! never touches candle.

pub mod app;
pub mod keymap;
pub mod sweep_view;
pub mod terminal;
pub mod theme;
pub mod widgets;
