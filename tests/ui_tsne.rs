//! The t-SNE view in the app: `n` switches the scatter, the layout is asked for (not computed
//! on the UI thread), a notice and progress show while it is computed, and a layout that comes
//! back is aligned to the one of the previous checkpoint before it is drawn.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed test may panic

mod ui_support;

use clusterscope::record::{EmbeddingEvent, EmbeddingRequest};
use clusterscope::train::protocol::AnalyserEvent;
use clusterscope::ui::app::{App, EmbeddingState};
use clusterscope::ui::theme::ThemeSet;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ui_support::{fixture, Fixture};

fn app(f: &Fixture) -> App {
    let mut app = App::live(&f.info, ThemeSet::default());
    for s in &f.snapshots {
        app.on_analyser(AnalyserEvent::Checkpoint(Box::new(s.clone())));
    }
    app
}

fn press(app: &mut App, c: char) {
    app.on_key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE));
}

fn draw(app: &App, w: u16, h: u16) -> TestBackend {
    let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
    term.draw(|f| f.render_widget(app, f.area())).unwrap();
    term.backend().clone()
}

fn screen(app: &App) -> String {
    format!("{}", draw(app, 100, 30))
}

/// A layer's PCA coordinates (seen, then unseen) mirrored and turned a quarter: what a t-SNE
/// run could return, up to the symmetries Procrustes removes.
fn layout_of(f: &Fixture, checkpoint: usize, layer: usize, turn: bool) -> Vec<[f32; 2]> {
    let l = &f.snapshots[checkpoint].analysis.layers[layer];
    let pts = l.seen_proj.iter().chain(&l.unseen_proj).copied();
    if turn {
        pts.map(|p| [p[1] + 4.0, p[0] - 2.0]).collect()
    } else {
        pts.collect()
    }
}

#[test]
fn n_asks_for_a_layout_and_shows_progress_then_the_aligned_layout() {
    let f = fixture(20, 4, 3, 3);
    let mut app = app(&f);
    app.set_embedding_support();
    assert!(app.take_embedding_requests().is_empty(), "PCA view: nothing is asked");
    press(&mut app, 'n');
    assert!(app.embeddings().shown);
    let (last, layer) = (f.snapshots.len() - 1, app.view().layer);
    let step = f.snapshots[last].step;
    let req = EmbeddingRequest { step, layer };
    assert_eq!(app.take_embedding_requests(), vec![req]);
    assert!(app.take_embedding_requests().is_empty(), "asked once");
    assert!(app.view().notice.as_ref().unwrap().text.contains("t-SNE"));
    let s = screen(&app);
    assert!(s.contains("computing…"), "{s}");
    app.on_embedding(EmbeddingEvent::Progress { request: req, epoch: 100, epochs: 750 });
    assert!(screen(&app).contains("epoch 100/750"));

    // The user moves on while it computes: the newest checkpoint is asked for next.
    press(&mut app, 'h');
    let earlier = EmbeddingRequest { step: f.snapshots[last - 1].step, layer };
    assert_eq!(app.take_embedding_requests(), vec![earlier]);
    let first = layout_of(&f, last - 1, layer, false);
    app.on_embedding(EmbeddingEvent::Done { request: earlier, outcome: Ok(first.clone()) });
    // The late answer for the later checkpoint, mirrored and turned, is aligned to it.
    app.on_embedding(EmbeddingEvent::Done { request: req, outcome: Ok(layout_of(&f, last, layer, true)) });
    let EmbeddingState::Ready(e) = app.embeddings().state(step, layer) else { panic!("not ready") };
    let raw = layout_of(&f, last, layer, false);
    let got: Vec<[f32; 2]> = e.layer.seen_proj.iter().chain(&e.layer.unseen_proj).copied().collect();
    let dist = |a: &[[f32; 2]], b: &[[f32; 2]]| -> f32 {
        a.iter().zip(b).map(|(p, q)| (p[0] - q[0]).powi(2) + (p[1] - q[1]).powi(2)).sum::<f32>().sqrt()
    };
    // Close to the unturned layout (what is left is the checkpoints' own motion), far closer
    // than the turned one the thread sent.
    let (aligned, sent) = (dist(&got, &raw), dist(&layout_of(&f, last, layer, true), &raw));
    assert!(aligned < 0.2 * sent, "aligned {aligned} vs as sent {sent}");
    press(&mut app, 'l');
    let s = screen(&app);
    assert!(s.contains("t-SNE 1") && !s.contains("computing"), "{s}");
    insta::assert_snapshot!("tsne_view_100x30", draw(&app, 100, 30));

    press(&mut app, 'n');
    assert!(!app.embeddings().shown);
    assert!(screen(&app).contains("PC1"));
    press(&mut app, 'h');
    assert!(app.take_embedding_requests().is_empty(), "PCA view again: nothing is asked");
}

#[test]
fn without_a_t_sne_thread_the_view_says_why_and_failures_are_shown() {
    let f = fixture(20, 4, 3, 2);
    let mut app = app(&f);
    press(&mut app, 'n');
    assert!(app.take_embedding_requests().is_empty());
    assert!(screen(&app).contains("needs the session's experiment"));
    app.set_embedding_support();
    let req = app.take_embedding_requests()[0];
    app.on_embedding(EmbeddingEvent::Done { request: req, outcome: Err("t-SNE needs at least 4 points".into()) });
    assert!(screen(&app).contains("needs at least 4 points"));
    assert!(app.take_embedding_requests().is_empty(), "a failure is not asked again");
}
