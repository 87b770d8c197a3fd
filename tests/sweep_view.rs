//! The sweep view and the sweep figures from real tiny sweeps made by the binary: screens as
//! text (TestBackend + insta), the view following a point that finishes, and figure files.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed test may panic

mod common;

use std::path::Path;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use assert_cmd::Command;
use clusterscope::report::sweep_summary::{sweep_summary, SweepSummary};
use clusterscope::session::sweep::SweepDir;
use clusterscope::ui::sweep_view::{SweepAction, SweepFocus, SweepView};
use clusterscope::ui::terminal::watch_sweep;
use clusterscope::ui::theme::ThemeSet;
use common::fixture;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;

fn bin() -> Command {
    Command::cargo_bin("clusterscope").unwrap()
}

/// A finished sweep of the tiny spec: every `grid` combination times two seeds, 12 steps each.
fn make_sweep(out: &Path, grid: &[&str]) {
    let mut c = bin();
    c.args(["--threads", "1", "sweep"]).arg(fixture("specs/tiny.toml"));
    for g in grid {
        c.args(["--grid", g]);
    }
    c.args(["--seeds", "2", "--steps", "12", "--jobs", "2", "--device", "cpu", "--out"]).arg(out).assert().success();
}

fn summary(dir: &Path) -> SweepSummary {
    let sweep = SweepDir::new(dir);
    sweep_summary(&sweep, &sweep.read().unwrap())
}

fn draw(view: &SweepView, w: u16, h: u16) -> TestBackend {
    let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
    term.draw(|f| f.render_widget(view, f.area())).unwrap();
    term.backend().clone()
}

fn press(view: &mut SweepView, code: KeyCode) -> Option<SweepAction> {
    view.on_key(KeyEvent::new(code, KeyModifiers::NONE))
}

#[test]
fn the_sweep_view_plots_lists_and_opens_points() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("sw");
    make_sweep(&out, &["train.lr=1e-3,3e-2", "train.batch_size=16,32"]);
    let mut view = SweepView::new(out.clone(), ThemeSet::default());
    insta::assert_snapshot!("sweep_view_reading_100x30", draw(&view, 100, 30));
    view.on_read(Ok(summary(&out)));
    insta::assert_snapshot!("sweep_view_100x30", draw(&view, 100, 30));
    // Right: the same seed and batch size at the next learning rate.
    press(&mut view, KeyCode::Right);
    let p = view.selected_point().unwrap();
    assert_eq!((p.params["train.lr"].as_str(), p.params["train.batch_size"].as_str(), p.seed), ("3e-2", "16", 1));
    // The other parameter on the x axis, another metric, and the list focused two rows down.
    press(&mut view, KeyCode::Char('a'));
    press(&mut view, KeyCode::Char('m'));
    press(&mut view, KeyCode::Tab);
    assert_eq!(view.focus, SweepFocus::List);
    press(&mut view, KeyCode::Down);
    press(&mut view, KeyCode::Down);
    assert_eq!(view.selected, 6);
    insta::assert_snapshot!("sweep_view_batch_size_list_120x40", draw(&view, 120, 40));
    match press(&mut view, KeyCode::Enter) {
        Some(SweepAction::Open(session)) => {
            assert_eq!(session, out.join("points/p0006"));
            clusterscope::session::Session::open(&session).unwrap();
        }
        other => panic!("Enter opens the point's session, got {other:?}"),
    }
    press(&mut view, KeyCode::Char('?'));
    insta::assert_snapshot!("sweep_view_help_80x24", draw(&view, 80, 24));
    // Tiny terminals: a notice or nothing, never a panic.
    for (w, h) in [(20, 5), (1, 1), (0, 0), (40, 12), (45, 13)] {
        draw(&view, w, h);
    }
    insta::assert_snapshot!("sweep_view_tiny_20x5", draw(&view, 20, 5));
    assert_eq!(press(&mut view, KeyCode::Char('q')), Some(SweepAction::Quit));
}

#[test]
fn the_view_follows_a_point_that_finishes() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("sw");
    make_sweep(&out, &["train.lr=1e-3"]);
    // Point 1 as if it had not run yet.
    std::fs::remove_dir_all(out.join("points/p0001")).unwrap();
    let (tx, rx) = mpsc::channel();
    let reader = watch_sweep(out.clone(), Duration::from_millis(100), move |r| tx.send(r).is_ok()).unwrap();
    let mut view = SweepView::new(out.clone(), ThemeSet::default());
    view.on_read(rx.recv_timeout(Duration::from_secs(30)).unwrap());
    let s = view.summary.clone().unwrap();
    assert_eq!((s.points[0].state, s.points[1].state), ("finished", "pending"));
    assert!(s.points[1].metrics.is_none());
    let marks = |v: &SweepView| v.plot().unwrap().series.iter().map(|s| s.marks.len()).sum::<usize>();
    assert_eq!(marks(&view), 1);
    view.selected = 1;
    assert_eq!(press(&mut view, KeyCode::Enter), None, "a pending point has nothing to open");
    bin()
        .args(["--threads", "1", "sweep", "run-point"])
        .arg(&out)
        .args(["--index", "1", "--device", "cpu"])
        .assert()
        .success();
    let deadline = Instant::now() + Duration::from_secs(30);
    while view.summary.as_ref().unwrap().points[1].state != "finished" {
        assert!(Instant::now() < deadline, "the view did not see point 1 finish");
        view.on_read(rx.recv_timeout(Duration::from_secs(10)).unwrap());
    }
    assert_eq!(view.summary.as_ref().unwrap().points[1].metrics.as_ref().unwrap().step, 12);
    assert_eq!(marks(&view), 2);
    drop(rx);
    reader.join().unwrap();
}

#[test]
fn sweep_show_writes_figures() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("sw");
    make_sweep(&out, &["train.lr=1e-3,3e-3"]);
    let figs = dir.path().join("figs");
    let run = bin().args(["sweep", "show"]).arg(&out).arg("--figures").arg(&figs).assert().success();
    let printed: Vec<String> = String::from_utf8_lossy(&run.get_output().stdout).lines().map(String::from).collect();
    // Five metrics against one parameter, PNG and SVG each.
    assert_eq!(printed.len(), 10, "{printed:?}");
    assert!(printed.iter().any(|p| p.ends_with("unseen_accuracy_vs_train.lr.png")), "{printed:?}");
    for p in &printed {
        let bytes = std::fs::read(p).unwrap();
        assert!(bytes.len() > 1000, "{p}: {} bytes", bytes.len());
        if p.ends_with(".png") {
            assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "{p}");
        } else {
            let text = String::from_utf8(bytes).unwrap();
            assert!(text.trim_start().starts_with("<svg") && text.trim_end().ends_with("</svg>"), "{p}");
        }
    }
    // A file in the way is reported, not a panic.
    let blocked = dir.path().join("blocked");
    std::fs::write(&blocked, "").unwrap();
    bin().args(["sweep", "show"]).arg(&out).arg("--figures").arg(&blocked).assert().failure();
}
