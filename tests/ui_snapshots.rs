//! Screens as text (ratatui TestBackend + insta) from fixed, deterministic snapshots, plus key
//! handling and theme loading.
//!
//! Over 400 lines on purpose: insta names every snapshot after this file
//! (`ui_snapshots__*.snap`), so moving screens out would rename them all.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed test may panic

mod ui_support;

use clusterscope::record::{Progress, Summary};
use clusterscope::session::Damage;
use clusterscope::train::protocol::{AnalyserEvent, Failure, TrainerCommand, TrainerEvent};
use clusterscope::ui::app::{Action, App, Level, Panel, Phase, View};
use clusterscope::ui::theme::ThemeSet;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers, MouseButton, MouseEvent, MouseEventKind};
use ratatui::layout::Rect;
use ratatui::style::{Color, Style};
use ratatui::Terminal;
use std::path::PathBuf;
use ui_support::{experiment, fixture, probe_at_centroid, Fixture};

fn small() -> Fixture {
    fixture(40, 8, 4, 6)
}

/// A live app that has received every checkpoint of the fixture and some progress.
fn live(f: &Fixture) -> App {
    let mut app = App::live(&f.info, ThemeSet::default());
    for s in &f.snapshots {
        app.on_trainer(TrainerEvent::Progress(progress(s.step, f.info.total_steps)));
        app.on_analyser(AnalyserEvent::Checkpoint(Box::new(s.clone())));
    }
    app
}

fn progress(step: usize, total: usize) -> Progress {
    Progress {
        step,
        total_steps: total,
        loss: 1.0 / (1.0 + step as f32 / 100.0),
        lr: 1e-3,
        steps_per_s: 3.2,
        paused: false,
    }
}

fn key(code: KeyCode) -> KeyEvent {
    KeyEvent::new(code, KeyModifiers::NONE)
}

fn press(app: &mut App, codes: &[KeyCode]) -> Vec<Option<Action>> {
    codes.iter().map(|&c| app.on_key(key(c))).collect()
}

fn draw(app: &App, w: u16, h: u16) -> TestBackend {
    let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
    term.draw(|f| f.render_widget(app, f.area())).unwrap();
    term.backend().clone()
}

fn both_sizes(name: &str, app: &App) {
    insta::assert_snapshot!(format!("{name}_80x24"), draw(app, 80, 24));
    insta::assert_snapshot!(format!("{name}_160x48"), draw(app, 160, 48));
}

#[test]
fn scatter_view() {
    both_sizes("scatter", &live(&small()));
}

#[test]
fn scatter_with_task_centroids_and_half_blocks() {
    let mut app = live(&small());
    press(&mut app, &[KeyCode::Char('c'), KeyCode::Char('c'), KeyCode::Char('m')]);
    both_sizes("scatter_task_centroids_halfblock", &app);
}

#[test]
fn scatter_with_kmeans_centroids_dots_no_unseen() {
    let mut app = live(&small());
    press(
        &mut app,
        &[KeyCode::Char('c'), KeyCode::Char('m'), KeyCode::Char('m'), KeyCode::Char('u'), KeyCode::Up, KeyCode::Up],
    );
    both_sizes("scatter_kmeans_dots_no_unseen", &app);
}

#[test]
fn all_layers_view() {
    let mut app = live(&small());
    press(&mut app, &[KeyCode::Char('a')]);
    assert_eq!(app.view().mode, View::AllLayers);
    both_sizes("all_layers", &app);
}

#[test]
fn help_overlay() {
    let mut app = live(&small());
    press(&mut app, &[KeyCode::Char('?')]);
    both_sizes("help", &app);
}

#[test]
fn earlier_checkpoint_selected_curves_and_timeline() {
    let mut app = live(&small());
    press(&mut app, &[KeyCode::Left, KeyCode::Left, KeyCode::Up, KeyCode::Tab]);
    assert!(!app.view().follow);
    assert_eq!(app.view().focus, Panel::Curves);
    both_sizes("earlier_checkpoint", &app);
}

#[test]
fn replay_status_bar() {
    let f = small();
    let mut app = App::replay(&f.session(), ThemeSet::default());
    press(&mut app, &[KeyCode::Home, KeyCode::Right]);
    both_sizes("replay", &app);
}

#[test]
fn replay_marks_damaged_checkpoints() {
    let f = small();
    let mut session = f.session();
    let lost = session.snapshots.remove(1);
    let file = PathBuf::from(format!("sessions/fixture/checkpoints/step-{:06}/snapshot.json", lost.step));
    session.damaged.push(Damage { step: lost.step, file, reason: "invalid JSON".into() });
    let app = App::replay(&session, ThemeSet::default());
    assert_eq!(app.run().damaged, vec![lost.step]);
    both_sizes("replay_damaged", &app);
}

#[test]
fn before_first_checkpoint() {
    let f = small();
    let mut app = App::live(&f.info, ThemeSet::default());
    app.on_trainer(TrainerEvent::Progress(progress(12, f.info.total_steps)));
    both_sizes("waiting", &app);
}

#[test]
fn a_resumed_run_waits_for_its_next_checkpoint() {
    let mut f = small();
    f.info.first_checkpoint = 1_200;
    let app = App::live(&f.info, ThemeSet::default());
    assert!(draw(&app, 80, 24).to_string().contains("first checkpoint at step 1,200"));
}

#[test]
fn paused_with_error_message() {
    let mut app = live(&small());
    assert_eq!(app.on_key(key(KeyCode::Char(' '))), Some(Action::Trainer(TrainerCommand::Pause)));
    app.set_status_error("session write failed: disk full".into());
    insta::assert_snapshot!("paused_error_80x24", draw(&app, 80, 24));
}

/// A live app with one probe: a held-out instruction of task 2 (reverse) whose hidden states are
/// that task's centroid at every layer, answered as reverse's table says.
fn with_probe(f: &Fixture) -> App {
    let exp = experiment();
    let mut app = live(f);
    app.set_probe_support(exp.clone(), 32);
    app.on_key(key(KeyCode::Char('p')));
    for c in "flip this symbol | C".chars() {
        app.on_key(key(KeyCode::Char(c)));
    }
    app.on_key(key(KeyCode::Enter));
    assert_eq!(app.take_probe_requests().len(), 1);
    let last = f.snapshots.len() - 1;
    app.on_probe_result(probe_at_centroid(f, &exp, 1, last, 1, &["flip", "this", "symbol"], "C"));
    app
}

#[test]
fn probe_marker_and_panel() {
    both_sizes("probe_panel", &with_probe(&small()));
}

#[test]
fn probe_in_all_layers_with_values() {
    let mut app = with_probe(&small());
    press(&mut app, &[KeyCode::Char('a'), KeyCode::Char('v')]);
    insta::assert_snapshot!("probe_all_layers_160x48", draw(&app, 160, 48));
}

#[test]
fn probe_line_with_an_error() {
    let mut app = with_probe(&small());
    app.on_key(key(KeyCode::Char('p')));
    for c in "flipp this symbol | C".chars() {
        app.on_key(key(KeyCode::Char(c)));
    }
    app.on_key(key(KeyCode::Enter));
    assert!(app.probes().line.as_ref().is_some_and(|l| l.error().is_some()));
    both_sizes("probe_line_error", &app);
}

#[test]
fn too_small_notice() {
    let app = live(&small());
    insta::assert_snapshot!("too_small_39x11", draw(&app, 39, 11));
    insta::assert_snapshot!("too_small_20x5", draw(&app, 20, 5));
}

#[test]
fn never_panics_at_any_size() {
    let f = fixture(30, 5, 3, 3);
    let mut apps =
        vec![live(&f), App::live(&f.info, ThemeSet::default()), App::replay(&f.session(), ThemeSet::default())];
    let mut all = live(&f);
    press(&mut all, &[KeyCode::Char('a'), KeyCode::Char('?'), KeyCode::Char('c')]);
    apps.push(all);
    let mut probed = with_probe(&f);
    apps.push(probed.clone());
    press(
        &mut probed,
        &[KeyCode::Char('r'), KeyCode::Char('a'), KeyCode::Char('v'), KeyCode::Char('p'), KeyCode::Char('x')],
    );
    apps.push(probed);
    for app in &apps {
        for (w, h) in [(1, 1), (0, 0), (1, 0), (0, 1), (500, 1), (1, 300), (40, 12), (41, 13), (70, 20), (1000, 300)] {
            draw(app, w, h);
        }
        for w in (0..130).step_by(9) {
            for h in (0..60).step_by(5) {
                draw(app, w, h);
            }
        }
    }
}

#[test]
fn checkpoint_and_layer_navigation_clamp() {
    let mut app = live(&small());
    let last = app.run().snapshots.len() - 1;
    assert_eq!(app.view().selected, last);
    press(&mut app, &[KeyCode::Right, KeyCode::Char('l'), KeyCode::End]);
    assert_eq!(app.view().selected, last);
    press(&mut app, &[KeyCode::Home, KeyCode::Left, KeyCode::Char('h')]);
    assert_eq!(app.view().selected, 0);
    press(&mut app, &[KeyCode::Char('l'), KeyCode::Right]);
    assert_eq!(app.view().selected, 2);
    assert_eq!(app.view().layer, 3, "the deepest layer is shown first");
    press(&mut app, &[KeyCode::Down, KeyCode::Char('j')]);
    assert_eq!(app.view().layer, 3);
    press(&mut app, &[KeyCode::Up; 10]);
    assert_eq!(app.view().layer, 0);
    press(&mut app, &[KeyCode::Char('j')]);
    assert_eq!(app.view().layer, 1);
}

#[test]
fn follow_tracks_new_checkpoints_until_the_user_moves_back() {
    let f = small();
    let mut app = App::live(&f.info, ThemeSet::default());
    let (first, rest) = f.snapshots.split_at(3);
    for s in first {
        app.on_analyser(AnalyserEvent::Checkpoint(Box::new(s.clone())));
    }
    assert!(app.view().follow);
    assert_eq!(app.view().selected, 2);
    press(&mut app, &[KeyCode::Left]);
    assert!(!app.view().follow);
    app.on_analyser(AnalyserEvent::Checkpoint(Box::new(rest[0].clone())));
    assert_eq!(app.view().selected, 1, "moving back pins the selection");
    press(&mut app, &[KeyCode::Char('f')]);
    assert!(app.view().follow);
    assert_eq!(app.view().selected, 3);
    app.on_analyser(AnalyserEvent::Checkpoint(Box::new(rest[1].clone())));
    assert_eq!(app.view().selected, 4);
    // Walking back to the newest resumes following.
    press(&mut app, &[KeyCode::Left, KeyCode::Right]);
    assert!(app.view().follow);
    app.on_analyser(AnalyserEvent::Checkpoint(Box::new(rest[2].clone())));
    assert_eq!(app.view().selected, 5);
}

#[test]
fn space_pauses_and_resumes_live_only() {
    let f = small();
    let mut app = live(&f);
    assert_eq!(app.on_key(key(KeyCode::Char(' '))), Some(Action::Trainer(TrainerCommand::Pause)));
    assert_eq!(app.run().phase, Phase::Paused);
    assert_eq!(app.on_key(key(KeyCode::Char(' '))), Some(Action::Trainer(TrainerCommand::Resume)));
    assert_eq!(app.run().phase, Phase::Running);
    app.on_trainer(TrainerEvent::Finished(Summary {
        steps: 500,
        seconds: 10.0,
        loss: 0.1,
        seen_accuracy: 0.9,
        unseen_accuracy: 0.8,
        device: "cpu".into(),
        stopped: false,
    }));
    assert_eq!(app.run().phase, Phase::Finished);
    assert_eq!(app.on_key(key(KeyCode::Char(' '))), None);

    let mut replay = App::replay(&f.session(), ThemeSet::default());
    assert_eq!(replay.on_key(key(KeyCode::Char(' '))), None);
    assert!(replay.view().notice.as_ref().is_some_and(|n| n.text.contains("replay")));
}

#[test]
fn quit_keys() {
    let mut app = live(&small());
    assert_eq!(app.on_key(key(KeyCode::Char('q'))), Some(Action::Quit));
    assert_eq!(app.on_key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL)), Some(Action::Quit));
    assert_eq!(app.on_key(key(KeyCode::Esc)), None);
    press(&mut app, &[KeyCode::Char('?')]);
    assert!(app.view().help);
    press(&mut app, &[KeyCode::Esc]);
    assert!(!app.view().help);
}

#[test]
fn focus_cycles_and_timeline_arrows_jump() {
    let f = fixture(10, 2, 2, 25);
    let mut app = live(&f);
    press(&mut app, &[KeyCode::Tab, KeyCode::Tab]);
    assert_eq!(app.view().focus, Panel::Timeline);
    press(&mut app, &[KeyCode::Up]);
    assert_eq!(app.view().selected, 24 - 2, "timeline Up jumps 10% of the checkpoints");
    assert_eq!(app.view().layer, 1, "layer unchanged");
    press(&mut app, &[KeyCode::Tab]);
    assert_eq!(app.view().focus, Panel::Scatter);
    press(&mut app, &[KeyCode::BackTab]);
    assert_eq!(app.view().focus, Panel::Timeline);
}

#[test]
fn clicking_the_timeline_selects_a_checkpoint() {
    let mut app = live(&small());
    // No frame needs drawing first: the click is placed with the layout drawing uses.
    // The strip starts one column right of the timeline's left border, on the first inner row.
    let click = |col, row| MouseEvent {
        kind: MouseEventKind::Down(MouseButton::Left),
        column: col,
        row,
        modifiers: KeyModifiers::NONE,
    };
    let timeline_row = 24 - 2 - 4 + 1;
    let area = Rect::new(0, 0, 80, 24);
    app.on_mouse(click(1, timeline_row), area);
    assert_eq!(app.view().selected, 0);
    assert!(!app.view().follow);
    app.on_mouse(click(1 + 6 * 2, timeline_row), area); // 6 columns per checkpoint at this size
    assert_eq!(app.view().selected, 2);
    app.on_mouse(click(79, 0), area);
    assert_eq!(app.view().selected, 2, "clicks elsewhere change nothing");
}

#[test]
fn worker_error_is_shown_as_error() {
    let mut app = live(&small());
    app.on_trainer(TrainerEvent::Failed(Failure::internal("out of memory")));
    assert_eq!(app.run().phase, Phase::Failed);
    assert!(app.view().notice.as_ref().is_some_and(|n| n.level == Level::Error && n.text.contains("out of memory")));
    let screen = draw(&app, 100, 30).to_string();
    assert!(screen.contains("FAILED") && screen.contains("out of memory"));
}

// ---- themes ----

#[test]
fn embedded_themes_load_without_warnings() {
    let (set, warnings) = ThemeSet::load(None, None, false);
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(set.names(), ["dark", "light", "high-contrast"]);
    assert_eq!(set.current().name(), "dark");
    let (set, warnings) = ThemeSet::load(None, Some("light"), false);
    assert!(warnings.is_empty());
    assert_eq!(set.current().name(), "light");
}

#[test]
fn high_contrast_uses_only_the_16_ansi_colours_and_every_palette_has_12() {
    let (mut set, _) = ThemeSet::load(None, Some("high-contrast"), false);
    for c in set.current().colors() {
        assert!(!matches!(c, Color::Rgb(..) | Color::Indexed(_) | Color::Reset), "{c:?}");
    }
    for _ in 0..3 {
        assert!(set.current().palette_len() >= 12, "{}", set.current().name());
        set.cycle();
    }
}

#[test]
fn bad_theme_file_is_reported_and_default_kept() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("broken.toml"), "name = \"broken\"\nerror = \"not-a-colour\"\nborder = \"red\"\n")
        .unwrap();
    std::fs::write(dir.path().join("typo.toml"), "bordr = \"red\"\n").unwrap();
    std::fs::write(dir.path().join("short.toml"), "palette = [\"red\", \"blue\"]\n").unwrap();
    std::fs::write(dir.path().join("garbage.toml"), "this is = = not toml\n").unwrap();
    std::fs::write(dir.path().join("mine.toml"), "# one override over dark\nborder = \"#ff0000\"\n").unwrap();
    let (set, warnings) = ThemeSet::load(Some(dir.path()), Some("broken"), false);
    let joined = warnings.join("\n");
    assert!(
        joined.contains("broken.toml") && joined.contains("`error`") && joined.contains("not-a-colour"),
        "{joined}"
    );
    assert!(joined.contains("typo.toml") && joined.contains("`bordr`"), "{joined}");
    assert!(joined.contains("short.toml") && joined.contains("`palette`"), "{joined}");
    assert!(joined.contains("garbage.toml") && joined.contains("invalid TOML"), "{joined}");
    assert!(joined.contains("unknown theme \"broken\""), "{joined}");
    assert_eq!(set.current().name(), "dark", "the default is kept");
    assert_eq!(set.names(), ["dark", "light", "high-contrast", "mine"]);

    let (set, warnings) = ThemeSet::load(Some(dir.path()), Some("mine"), false);
    assert_eq!(warnings.len(), 4);
    let (dark, _) = ThemeSet::load(None, None, false);
    assert_eq!(set.current().border(false), Style::new().fg(Color::Rgb(255, 0, 0)));
    assert_eq!(set.current().text(), dark.current().text(), "unset fields come from the default");

    // Warnings reach the status bar.
    let mut app = live(&small());
    app.set_warnings(warnings);
    let n = app.view().notice.as_ref().unwrap();
    assert_eq!(n.level, Level::Warning);
    assert!(n.text.contains("(+3 more)"));
}

#[test]
fn missing_theme_dir_is_a_warning() {
    let (set, warnings) = ThemeSet::load(Some(std::path::Path::new("/no/such/dir")), None, false);
    assert_eq!(warnings.len(), 1);
    assert!(warnings[0].contains("/no/such/dir"));
    assert_eq!(set.names().len(), 3);
}

#[test]
fn no_color_makes_every_style_colourless() {
    let (mut set, _) = ThemeSet::load(None, None, true);
    for _ in 0..3 {
        let t = set.current();
        for s in [
            t.text(),
            t.task(0),
            t.task(11),
            t.error(),
            t.border(true),
            t.selected(),
            t.status_bar(),
            t.task_badge(3),
            t.task_pair(1, 2),
        ] {
            assert_eq!((s.fg, s.bg), (None, None), "{} {s:?}", t.name());
        }
        set.cycle();
    }
    // And the whole screen renders without a single colour.
    let f = small();
    let mut app = App::live(&f.info, ThemeSet::load(None, None, true).0);
    for s in &f.snapshots {
        app.on_analyser(AnalyserEvent::Checkpoint(Box::new(s.clone())));
    }
    press(&mut app, &[KeyCode::Char('m'), KeyCode::Char('c'), KeyCode::Char('c')]);
    let backend = draw(&app, 120, 40);
    for cell in backend.buffer().content() {
        assert_eq!((cell.fg, cell.bg), (Color::Reset, Color::Reset));
    }
}

#[test]
fn t_cycles_themes() {
    let mut app = live(&small());
    let mut seen = vec![app.view().themes.current().name().to_string()];
    for _ in 0..3 {
        press(&mut app, &[KeyCode::Char('t')]);
        seen.push(app.view().themes.current().name().to_string());
    }
    assert_eq!(seen, ["dark", "light", "high-contrast", "dark"]);
}
