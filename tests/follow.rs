//! Following a session another process writes: a real headless training process writes it, the
//! follower's readings bring its checkpoints as they are committed, ending with the final one,
//! and the app fed with them ends on the run's final state; screens of a followed run as text.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed test may panic

mod common;
mod follow_support;
mod ui_support;

use std::sync::mpsc;
use std::time::Duration;

use clusterscope::session::lock::holder;
use clusterscope::session::reader::Update;
use clusterscope::session::{RunStatus, Session, SessionDir};
use clusterscope::ui::app::{App, Followed, Phase, Source};
use clusterscope::ui::terminal::{follow_session, open_session};
use clusterscope::ui::theme::ThemeSet;
use ratatui::backend::TestBackend;
use ratatui::Terminal;

fn draw(app: &App, w: u16, h: u16) -> TestBackend {
    let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
    term.draw(|f| f.render_widget(app, f.area())).unwrap();
    term.backend().clone()
}

fn screen(app: &App) -> String {
    draw(app, 120, 36).to_string()
}

#[test]
fn a_session_written_by_a_training_process_is_followed_to_its_final_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("session");
    let steps = 300;
    let mut child = follow_support::start_training(dir.path(), &out, steps, 10);
    let (session, writer) = open_session(&out).unwrap();
    let writer = writer.expect("the training process holds the session's lock");
    assert_eq!(writer, format!("process {}", child.id()));
    assert_eq!(session.manifest.status, RunStatus::Running);
    let opened: Vec<usize> = session.snapshots.iter().map(|s| s.step).collect();

    let (tx, rx) = mpsc::channel();
    let layout = SessionDir::new(&out);
    let reader = follow_session(&session, Duration::from_millis(50), move |f| {
        // Whether the writer was still at work when the reading was handed over.
        let running = holder(&layout).is_some();
        tx.send((f, running)).is_ok()
    });
    let reader = reader.unwrap();
    let readings: Vec<(Followed, bool)> = rx.iter().collect();
    reader.join().unwrap();
    assert!(child.wait().unwrap().success());

    let reads: Vec<(&Update, &Option<String>)> = readings
        .iter()
        .map(|(f, _)| match f {
            Followed::Read { update, writer } => (&**update, writer),
            Followed::Unreadable { error, .. } => panic!("a reading failed: {error}"),
        })
        .collect();
    // Every reading but the last is taken while the writer holds the lock; the last after.
    let (last, before) = reads.split_last().unwrap();
    assert!(before.iter().all(|(_, w)| w.as_deref() == Some(writer.as_str())));
    assert_eq!(*last.1, None);
    assert_eq!(last.0.manifest.status, RunStatus::Finished);
    // Checkpoints come while the run goes on, not only at its end.
    let live: usize =
        readings.iter().zip(&reads).filter(|((_, running), _)| *running).map(|(_, r)| r.0.snapshots.len()).sum();
    assert!(live >= 1, "no checkpoint was handed over while the run was still writing");
    // Each checkpoint exactly once, in order, and together with what was open they are the session.
    let delivered: Vec<usize> = reads.iter().flat_map(|(u, _)| u.snapshots.iter().map(|s| s.step)).collect();
    let all: Vec<usize> = opened.iter().chain(&delivered).copied().collect();
    let finished = Session::open(&out).unwrap();
    let on_disk: Vec<usize> = finished.snapshots.iter().map(|s| s.step).collect();
    assert_eq!(all, on_disk, "opened with {opened:?}, then {delivered:?}");
    assert_eq!(*on_disk.last().unwrap(), steps);
    assert_eq!(reads.iter().flat_map(|(u, _)| &u.snapshots).last(), finished.snapshots.last());
    // The log lines after the opening reading, each once and in order.
    let logged: Vec<usize> = reads.iter().flat_map(|(u, _)| u.log.iter().map(|e| e.step)).collect();
    assert!(logged.windows(2).all(|w| w[0] < w[1]), "{logged:?}");
    assert_eq!(logged.last(), Some(&steps));

    // The app: a replay of the opening reading, followed, then each reading as it came.
    let mut app = App::replay(&session, ThemeSet::default());
    app.follow(writer.clone());
    assert_eq!(app.run().source, Source::Follow);
    let s = screen(&app);
    assert!(s.contains(&format!("FOLLOWING {writer}")), "{s}");
    let mut followed_checkpoints = app.run().snapshots.len();
    for (f, _) in readings {
        let settles = matches!(&f, Followed::Read { writer: None, .. });
        app.on_followed(f);
        if !settles {
            // As live: the newest checkpoint is selected as it comes.
            assert!(app.run().snapshots.len() >= followed_checkpoints);
            followed_checkpoints = app.run().snapshots.len();
            assert_eq!(app.view().selected, followed_checkpoints.saturating_sub(1));
            assert_eq!(app.run().source, Source::Follow);
        }
    }
    let run = app.run();
    assert_eq!(run.source, Source::Replay(RunStatus::Finished));
    assert_eq!(run.phase, Phase::Finished);
    assert_eq!(run.step, steps);
    assert_eq!(run.snapshots.iter().map(|s| s.step).collect::<Vec<_>>(), on_disk);
    assert_eq!(app.view().selected, on_disk.len() - 1);
    assert_eq!(app.selected_snapshot().unwrap().step, steps);
    let s = screen(&app);
    assert!(s.contains("REPLAY · finished") && s.contains(&format!("step {steps}/{steps}")), "{s}");
    assert!(s.contains(&format!("finished at step {steps}")), "{s}");
}

/// The fixture's run as opened after `checkpoints` of its checkpoints, still being written.
fn opened_early(f: &ui_support::Fixture, checkpoints: usize) -> Session {
    let mut session = f.session();
    let upto = checkpoints.checked_sub(1).map_or(0, |i| f.snapshots[i].step);
    session.snapshots.truncate(checkpoints);
    session.manifest.checkpoints.truncate(checkpoints);
    session.manifest.status = RunStatus::Running;
    session.log.retain(|e| e.step <= upto);
    session
}

/// What the writer added between steps `after` (exclusive) and `upto` (inclusive).
fn update(f: &ui_support::Fixture, session: &Session, after: usize, upto: usize, status: RunStatus) -> Box<Update> {
    let mut manifest = session.manifest.clone();
    manifest.status = status;
    Box::new(Update {
        manifest,
        snapshots: f.snapshots.iter().filter(|s| s.step > after && s.step <= upto).cloned().collect(),
        damaged: Vec::new(),
        log: f.log.iter().filter(|e| e.step > after && e.step <= upto).cloned().collect(),
    })
}

#[test]
fn a_followed_run_on_screen_then_its_final_state() {
    let f = ui_support::fixture(40, 8, 4, 6);
    let session = opened_early(&f, 3);
    let mut app = App::replay(&session, ThemeSet::default());
    let writer = Some("process 4242".to_string());
    app.follow("process 4242".into());
    app.on_followed(Followed::Read {
        update: update(&f, &session, 200, 400, RunStatus::Running),
        writer: writer.clone(),
    });
    assert_eq!((app.run().step, app.view().selected), (400, 4));
    insta::assert_snapshot!("following_100x30", draw(&app, 100, 30));
    // Back one checkpoint: following is released, and what comes next does not move the choice.
    app.on_key(ratatui::crossterm::event::KeyEvent::from(ratatui::crossterm::event::KeyCode::Left));
    assert!(!app.view().follow);
    app.on_followed(Followed::Read { update: update(&f, &session, 400, 500, RunStatus::Finished), writer: None });
    assert_eq!((app.run().source, app.run().step, app.view().selected), (Source::Replay(RunStatus::Finished), 500, 3));
    insta::assert_snapshot!("followed_finished_100x30", draw(&app, 100, 30));
}

#[test]
fn a_followed_run_before_its_first_checkpoint() {
    let f = ui_support::fixture(40, 8, 4, 6);
    let session = opened_early(&f, 0);
    let mut app = App::replay(&session, ThemeSet::default());
    app.follow("process 4242".into());
    app.on_followed(Followed::Read {
        update: update(&f, &session, 0, 40, RunStatus::Running),
        writer: Some("process 4242".into()),
    });
    insta::assert_snapshot!("following_waiting_80x24", draw(&app, 80, 24));
    // A writer that dies without a word leaves the run interrupted, and says so.
    app.on_followed(Followed::Read { update: update(&f, &session, 40, 40, RunStatus::Running), writer: None });
    assert_eq!((app.run().source, app.run().phase), (Source::Replay(RunStatus::Running), Phase::Paused));
    assert!(app.view().notice.as_ref().unwrap().text.contains("interrupted"));
}
