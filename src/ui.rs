//! The terminal app: live training and replay through one screen, the sweep view that opens a
//! sweep's sessions in it, and the compare view of several sessions side by side. The UI holds
//! plain data (Snapshots, progress, sweep summaries); it never touches candle.

pub mod app;
pub mod compare_view;
pub mod keymap;
pub mod sweep_view;
pub mod terminal;
pub mod theme;
pub mod widgets;
