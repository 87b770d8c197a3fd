//! `clusterscope compare` on two real tiny sessions of different depth, checkpoints and
//! experiment: `--json` against each session's `show --json`, `--figures`, one-line errors, and
//! the compare view as text (TestBackend + insta) with what its keys change.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed test may panic

mod common;
mod compare_support;

use std::path::{Path, PathBuf};

use clusterscope::report::compare::Comparison;
use clusterscope::ui::compare_view::{CompareAction, CompareView};
use clusterscope::ui::theme::ThemeSet;
use compare_support::{bin, sessions};
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use serde_json::Value;

fn view() -> CompareView {
    let s = sessions();
    CompareView::new(Comparison::open(&[s.deep.clone(), s.shallow.clone()]).unwrap(), ThemeSet::default())
}

fn draw(view: &CompareView, w: u16, h: u16) -> TestBackend {
    let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
    term.draw(|f| f.render_widget(view, f.area())).unwrap();
    term.backend().clone()
}

fn press(view: &mut CompareView, code: KeyCode) -> Option<CompareAction> {
    view.on_key(KeyEvent::new(code, KeyModifiers::NONE))
}

#[test]
fn the_view_at_two_sizes() {
    let v = view();
    insta::assert_snapshot!("compare_120x40", draw(&v, 120, 40));
    insta::assert_snapshot!("compare_80x24", draw(&v, 80, 24));
}

#[test]
fn keys_move_the_step_and_the_layer_each_session_shows() {
    let mut v = view();
    let s = draw(&v, 120, 40).to_string();
    // Opens on the last step (90), which the shallow session does not have, and the deepest
    // layer both have.
    assert!(s.contains("step 90 (6/6)") && s.contains("step 60 (nearest)"), "{s}");
    assert!(s.contains("deep layer 1/2") && s.contains("shallow layer 1/1"), "{s}");
    // Down: layer 2, which the shallow session has not: it shows its deepest and says so.
    assert_eq!(press(&mut v, KeyCode::Down), None);
    assert_eq!(v.layer, 2);
    let s = draw(&v, 120, 40).to_string();
    assert!(s.contains("deep layer 2/2") && s.contains("layer 2 (of 1: showing 1)"), "{s}");
    // No layer 3 anywhere.
    press(&mut v, KeyCode::Char('j'));
    assert_eq!(v.layer, 2);
    // Left: step 60, which both have; then 45, which only the shallow session has: the deep one
    // shows its nearest, and of 30 and 60, as near, the earlier.
    press(&mut v, KeyCode::Left);
    let s = draw(&v, 120, 40).to_string();
    assert!(s.contains("step 60 (5/6)") && !s.contains("(nearest)"), "{s}");
    press(&mut v, KeyCode::Char('h'));
    assert_eq!(v.step(), Some(45));
    assert_eq!(v.shown(0).map(|(_, s)| s.step), Some(30));
    assert_eq!(v.shown(1).map(|(_, s)| s.step), Some(45));
    insta::assert_snapshot!("compare_step_45_layer_2_120x40", draw(&v, 120, 40));
    // Home and End, and the ends hold.
    press(&mut v, KeyCode::Home);
    press(&mut v, KeyCode::Left);
    assert_eq!(v.step(), Some(0));
    press(&mut v, KeyCode::End);
    press(&mut v, KeyCode::Right);
    assert_eq!(v.step(), Some(90));
    // m cycles every curve and comes back; the loss is first.
    let first = v.curve_def().key;
    let mut seen = vec![first];
    for _ in 0..8 {
        press(&mut v, KeyCode::Char('m'));
        seen.push(v.curve_def().key);
    }
    press(&mut v, KeyCode::Char('m'));
    assert_eq!(v.curve_def().key, first);
    for key in ["loss", "seen_accuracy", "unseen_accuracy", "seen_ari", "seen_ami", "seen_f1", "unseen_f1"] {
        assert!(seen.contains(&key), "{key} not reachable: {seen:?}");
    }
    press(&mut v, KeyCode::Char('M'));
    assert_eq!(v.curve_def().key, seen[8]);
    // Tab brings the shallow session to the front: its row is marked.
    press(&mut v, KeyCode::Tab);
    assert_eq!(v.front, 1);
    let s = draw(&v, 120, 40).to_string();
    assert!(s.lines().any(|l| l.contains("▸ shallow")), "{s}");
    press(&mut v, KeyCode::BackTab);
    assert_eq!(v.front, 0);
    // The theme cycles as in the app.
    press(&mut v, KeyCode::Char('t'));
    assert!(draw(&v, 120, 40).to_string().contains("theme: light"));
    // Esc closes the help, and quits when it is closed; q quits.
    assert_eq!(press(&mut v, KeyCode::Char('?')), None);
    assert!(v.help);
    assert_eq!(press(&mut v, KeyCode::Esc), None);
    assert!(!v.help);
    assert_eq!(press(&mut v, KeyCode::Esc), Some(CompareAction::Quit));
    assert_eq!(press(&mut v, KeyCode::Char('q')), Some(CompareAction::Quit));
}

#[test]
fn the_loss_curve_help_and_a_tiny_terminal() {
    let mut v = view();
    while v.curve_def().key != "loss" {
        press(&mut v, KeyCode::Char('m'));
    }
    insta::assert_snapshot!("compare_loss_100x30", draw(&v, 100, 30));
    press(&mut v, KeyCode::Char('?'));
    insta::assert_snapshot!("compare_help_100x30", draw(&v, 100, 30));
    insta::assert_snapshot!("compare_too_small_30x10", draw(&v, 30, 10));
    // Without colour (NO_COLOR) each session's curve has a shape of its own, named in the legend.
    let s = sessions();
    let comparison = Comparison::open(&[s.deep.clone(), s.shallow.clone()]).unwrap();
    let plain = CompareView::new(comparison, ThemeSet::load(None, None, true).0);
    let screen = draw(&plain, 100, 30).to_string();
    assert!(screen.contains("⣿ deep") && screen.contains("• shallow"), "{screen}");
}

fn json_of(args: &[&Path]) -> Value {
    let out = bin().arg("compare").args(args).arg("--json").assert().success().get_output().stdout.clone();
    serde_json::from_slice(&out).unwrap()
}

fn show_json(dir: &Path) -> Value {
    let out = bin().arg("show").arg(dir).arg("--json").assert().success().get_output().stdout.clone();
    serde_json::from_slice(&out).unwrap()
}

#[test]
fn json_agrees_with_each_sessions_show() {
    let s = sessions();
    let json = json_of(&[&s.deep, &s.shallow]);
    assert_eq!(json["steps"], serde_json::json!([0, 15, 30, 45, 60, 90]));
    assert_eq!(json["common_layer"], 1);
    let compared = json["sessions"].as_array().unwrap();
    assert_eq!(compared.len(), 2);
    for ((c, dir), (label, experiment, layers)) in
        compared.iter().zip([&s.deep, &s.shallow]).zip([("deep", "tiny", 3), ("shallow", "tiny-shallow", 2)])
    {
        let show = show_json(dir);
        assert_eq!(c["label"], label);
        assert_eq!(c["experiment"], experiment);
        assert_eq!(c["layers"], layers);
        assert_eq!(c["status"], "finished");
        for key in ["dir", "name", "total_steps", "task_names"] {
            assert_eq!(c[key], show[key], "{key}");
        }
        let checkpoints = show["checkpoints"].as_array().unwrap();
        let steps: Vec<Value> = checkpoints.iter().map(|k| k["step"].clone()).collect();
        assert_eq!(c["steps"], Value::from(steps.clone()));
        let last = checkpoints.last().unwrap();
        for key in ["step", "loss", "seen_accuracy", "unseen_accuracy", "layers"] {
            assert_eq!(c["final"][key], last[key], "final {key}");
        }
        let curves = &c["curves"];
        assert_eq!(curves["step"], Value::from(steps));
        for key in ["loss", "seen_accuracy", "unseen_accuracy"] {
            let want: Vec<Value> = checkpoints.iter().map(|k| k[key].clone()).collect();
            assert_eq!(curves[key], Value::from(want), "curves {key}");
        }
        for (l, layer) in curves["layers"].as_array().unwrap().iter().enumerate() {
            assert_eq!(layer["layer"], l);
            for (set, score) in [("seen", "ari"), ("seen", "ami"), ("seen", "f1")].into_iter().chain([
                ("unseen", "ari"),
                ("unseen", "ami"),
                ("unseen", "f1"),
            ]) {
                let want: Vec<Value> = checkpoints.iter().map(|k| k["layers"][l][set][score].clone()).collect();
                assert_eq!(layer[set][score], Value::from(want), "layer {l} {set} {score}");
            }
        }
        let loss = c["training_loss"]["loss"].as_array().unwrap();
        assert_eq!(loss.len(), show["total_steps"].as_u64().unwrap() as usize, "one logged loss a step");
        assert_eq!(c["training_loss"]["step"].as_array().unwrap().len(), loss.len());
    }
}

#[test]
fn equal_directory_names_get_telling_labels() {
    let s = sessions();
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("lr-a/run"), tmp.path().join("lr-b/run"));
    common::copy_dir(&s.deep, &a);
    common::copy_dir(&s.shallow, &b);
    let json = json_of(&[&a, &b, &a]);
    let labels: Vec<&str> = json["sessions"].as_array().unwrap().iter().map(|c| c["label"].as_str().unwrap()).collect();
    assert_eq!(labels, ["lr-a/run", "lr-b/run", "lr-a/run (2)"]);
}

#[test]
fn figures_are_written() {
    let s = sessions();
    let out = tempfile::tempdir().unwrap();
    let figs = out.path().join("figs");
    bin().arg("compare").arg(&s.deep).arg(&s.shallow).arg("--figures").arg(&figs).assert().success();
    for stem in ["curves", "scatter"] {
        let png = std::fs::read(figs.join(format!("{stem}.png"))).unwrap();
        let decoder = png::Decoder::new(std::io::Cursor::new(png));
        let info = decoder.read_info().unwrap().info().clone();
        assert!(info.width > 1000 && info.height > 500, "{stem}.png is {}x{}", info.width, info.height);
        let svg = std::fs::read_to_string(figs.join(format!("{stem}.svg"))).unwrap();
        assert!(svg.starts_with("<svg") && svg.contains("deep") && svg.contains("shallow"), "{stem}.svg");
    }
    // Both at once: the figures and the JSON.
    let out = bin().arg("compare").arg(&s.deep).arg(&s.shallow).arg("--json").arg("--figures").arg(&figs).assert();
    let out = out.success().get_output().clone();
    assert!(serde_json::from_slice::<Value>(&out.stdout).is_ok());
    assert!(String::from_utf8(out.stderr).unwrap().contains("wrote 4 figures"));
}

/// `compare ARGS` fails with `code` and one line on stderr that says `what`.
fn fails(args: &[PathBuf], extra: &[&str], code: i32, what: &str) {
    let out = bin().arg("compare").args(args).args(extra).assert().code(code).get_output().clone();
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    assert!(err.contains(what), "{err:?} should say {what:?}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(out.stdout.is_empty());
}

#[test]
fn bad_input_is_one_line_and_exit_code_2() {
    let s = sessions();
    let (deep, shallow) = (s.deep.clone(), s.shallow.clone());
    fails(&[], &["--json"], 2, "compare takes 2 to 6 session directories, 0 given");
    fails(std::slice::from_ref(&deep), &["--json"], 2, "compare takes 2 to 6 session directories, 1 given");
    fails(&vec![deep.clone(); 7], &["--json"], 2, "compare takes 2 to 6 session directories, 7 given");
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("nope");
    fails(&[deep.clone(), missing], &["--json"], 2, "nope: no such session directory");
    fails(&[deep.clone(), tmp.path().to_path_buf()], &["--json"], 2, "not a clusterscope session");
    let broken = tmp.path().join("broken");
    common::copy_dir(&shallow, &broken);
    std::fs::write(broken.join("manifest.json"), "{\"format\": ").unwrap();
    fails(&[deep.clone(), broken], &["--figures", "x"], 2, "manifest.json");
    // Without --json or --figures it is the app, which needs a terminal (here stdout is a pipe).
    fails(&[deep, shallow], &[], 2, "use --json or --figures");
}

#[test]
fn an_interrupted_session_and_a_damaged_checkpoint_are_shown_as_they_stand() {
    let s = sessions();
    let tmp = tempfile::tempdir().unwrap();
    let (interrupted, damaged) = (tmp.path().join("interrupted"), tmp.path().join("damaged"));
    common::copy_dir(&s.shallow, &interrupted);
    common::copy_dir(&s.deep, &damaged);
    // Says it runs, but no process writes it: killed, as far as anyone can tell.
    let manifest = interrupted.join("manifest.json");
    let text = std::fs::read_to_string(&manifest).unwrap().replace("\"status\":\"finished\"", "\"status\":\"running\"");
    std::fs::write(&manifest, text).unwrap();
    std::fs::write(damaged.join("checkpoints/step-000030/snapshot.json"), "{").unwrap();
    let json = json_of(&[&interrupted, &damaged]);
    let (a, b) = (&json["sessions"][0], &json["sessions"][1]);
    assert_eq!(a["status"], "interrupted");
    assert_eq!(b["damaged"], serde_json::json!([30]));
    assert_eq!(b["steps"], serde_json::json!([0, 60, 90]));
    assert_eq!(json["steps"], serde_json::json!([0, 15, 30, 45, 60, 90]));
    let view = CompareView::new(Comparison::open(&[interrupted, damaged]).unwrap(), ThemeSet::default());
    let screen = draw(&view, 120, 40).to_string();
    assert!(screen.contains("interrupted"), "{screen}");
    assert!(screen.contains("damaged: checkpoint 30 is damaged"), "{screen}");
}
