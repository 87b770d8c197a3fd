//! The terminal app: live training and replay through one screen. The UI holds plain data
//! (Snapshots, progress); it never touches candle.

pub mod app;
pub mod keymap;
pub mod terminal;
pub mod theme;
pub mod widgets;
