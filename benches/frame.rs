//! One full frame (scatter + curves + timeline + status) with 10,000 points at 200x60 into a
//! TestBackend. Budget: 5 ms in release, so a redraw never holds up a key.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed test may panic

#[path = "../tests/ui_support/mod.rs"]
mod ui_support;

use clusterscope::train::protocol::AnalyserEvent;
use clusterscope::ui::app::App;
use clusterscope::ui::theme::ThemeSet;
use criterion::{criterion_group, criterion_main, Criterion};
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;

fn frame(c: &mut Criterion) {
    // 5 tasks: 4 x 2,000 + 1,000 seen and 4 x 200 + 100 unseen = 9,900 points; 6 layers, 21 checkpoints.
    let f = ui_support::fixture(2000, 200, 6, 21);
    let mut app = App::live(&f.info, ThemeSet::default());
    for s in &f.snapshots {
        app.on_analyser(AnalyserEvent::Checkpoint(Box::new(s.clone())));
    }
    let n: usize = f.info.points.len();
    assert!(n >= 9_900, "{n} points");
    let mut term = match Terminal::new(TestBackend::new(200, 60)) {
        Ok(t) => t,
        Err(e) => panic!("test backend: {e}"),
    };
    let mut draw = |app: &App| {
        if let Err(e) = term.draw(|fr| fr.render_widget(app, fr.area())) {
            panic!("draw: {e}");
        }
    };
    c.bench_function("frame_200x60_10k_points_braille", |b| b.iter(|| draw(&app)));
    app.on_key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::NONE));
    app.on_key(KeyEvent::new(KeyCode::Char('m'), KeyModifiers::NONE));
    c.bench_function("frame_200x60_10k_points_halfblock_centroids", |b| b.iter(|| draw(&app)));
    app.on_key(KeyEvent::new(KeyCode::Char('a'), KeyModifiers::NONE));
    c.bench_function("frame_200x60_10k_points_all_layers", |b| b.iter(|| draw(&app)));
}

criterion_group!(benches, frame);
criterion_main!(benches);
