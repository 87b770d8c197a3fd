//! The probe feature's UI half: the probe line (typing, validation, completion, history, quick
//! fills), requests through the outbox, probes following the selected checkpoint, results cached
//! and placed.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed test may panic

mod ui_support;

use clusterscope::record::{ProbeRequest, ProbeResult};
use clusterscope::train::protocol::AnalyserEvent;
use clusterscope::ui::app::{App, Level};
use clusterscope::ui::theme::ThemeSet;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ui_support::{experiment, fixture, probe_at_centroid, Fixture};

fn small() -> Fixture {
    fixture(40, 8, 4, 6)
}

fn live(f: &Fixture) -> App {
    let mut app = App::live(&f.info, ThemeSet::default());
    for s in &f.snapshots {
        app.on_analyser(AnalyserEvent::Checkpoint(Box::new(s.clone())));
    }
    app.set_probe_support(experiment(), 32);
    app
}

fn key(code: KeyCode) -> KeyEvent {
    KeyEvent::new(code, KeyModifiers::NONE)
}

fn ctrl(c: char) -> KeyEvent {
    KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL)
}

fn typ(app: &mut App, text: &str) {
    for c in text.chars() {
        assert_eq!(app.on_key(key(KeyCode::Char(c))), None);
    }
}

fn submit(app: &mut App, text: &str) {
    app.on_key(key(KeyCode::Char('p')));
    typ(app, text);
    app.on_key(key(KeyCode::Enter));
}

#[test]
fn typing_and_enter_make_one_saved_request_at_the_selected_step() {
    let f = small();
    let mut app = live(&f);
    app.on_key(key(KeyCode::Left));
    let step = app.run().snapshots[app.view().selected].step;
    assert!(app.take_probe_requests().is_empty());
    app.on_key(key(KeyCode::Char('p')));
    // Keys that mean something elsewhere type while the line is open.
    typ(&mut app, "please copy the symbol | q");
    assert_eq!(app.probes().line.as_ref().unwrap().text(), "please copy the symbol | q");
    for _ in 0..2 {
        app.on_key(key(KeyCode::Backspace));
    }
    typ(&mut app, " C");
    app.on_key(key(KeyCode::Enter));
    assert!(app.probes().line.is_none(), "a valid probe closes the line");
    let reqs = app.take_probe_requests();
    assert_eq!(reqs, vec![ProbeRequest { id: 1, text: "please copy the symbol | C".into(), step, save: true }]);
    assert!(app.take_probe_requests().is_empty());
    assert!(app.view().notice.as_ref().unwrap().text.contains("running"));
    assert_eq!(app.probes().list.len(), 1);
}

#[test]
fn an_unknown_word_is_an_error_in_the_line_and_no_request() {
    let mut app = live(&small());
    submit(&mut app, "please copyy the symbol | C");
    let line = app.probes().line.as_ref().expect("the line stays open");
    let err = line.error().unwrap();
    assert!(err.contains("\"copyy\"") && err.contains("copy"), "{err}");
    assert!(app.take_probe_requests().is_empty());
    assert!(app.probes().list.is_empty());
    // The next edit clears it; Esc closes.
    app.on_key(key(KeyCode::Backspace));
    assert!(app.probes().line.as_ref().unwrap().error().is_none());
    app.on_key(key(KeyCode::Esc));
    assert!(app.probes().line.is_none());
    submit(&mut app, "copy the symbol | Z");
    assert!(app.probes().line.as_ref().unwrap().error().unwrap().contains("\"Z\""));
}

#[test]
fn without_support_p_explains() {
    let f = small();
    let mut app = App::live(&f.info, ThemeSet::default());
    app.on_key(key(KeyCode::Char('p')));
    assert!(app.probes().line.is_none());
    let n = app.view().notice.as_ref().unwrap();
    assert!(n.text.contains("probes need the experiment") && n.level == Level::Error);
}

#[test]
fn tab_completes_and_cycles() {
    let mut app = live(&small());
    app.on_key(key(KeyCode::Char('p')));
    typ(&mut app, "cop");
    app.on_key(key(KeyCode::Tab));
    assert_eq!(app.probes().line.as_ref().unwrap().text(), "copy ", "a single candidate completes with a space");
    typ(&mut app, "t");
    app.on_key(key(KeyCode::Tab));
    let line = app.probes().line.as_ref().unwrap();
    assert_eq!(line.text(), "copy the");
    assert_eq!(line.candidates().unwrap().0, ["the", "this"]);
    app.on_key(key(KeyCode::Tab));
    assert_eq!(app.probes().line.as_ref().unwrap().text(), "copy this");
    app.on_key(key(KeyCode::Tab));
    assert_eq!(app.probes().line.as_ref().unwrap().text(), "copy the");
    typ(&mut app, " symbol |");
    app.on_key(key(KeyCode::Tab));
    assert_eq!(app.probes().line.as_ref().unwrap().text(), "copy the symbol |A", "symbols after the bar");
}

#[test]
fn history_up_and_down() {
    let mut app = live(&small());
    submit(&mut app, "copy the symbol | A");
    submit(&mut app, "flip this symbol | B");
    app.on_key(key(KeyCode::Char('p')));
    typ(&mut app, "dra");
    app.on_key(key(KeyCode::Up));
    assert_eq!(app.probes().line.as_ref().unwrap().text(), "flip this symbol | B");
    app.on_key(key(KeyCode::Up));
    assert_eq!(app.probes().line.as_ref().unwrap().text(), "copy the symbol | A");
    app.on_key(key(KeyCode::Up));
    assert_eq!(app.probes().line.as_ref().unwrap().text(), "copy the symbol | A");
    app.on_key(key(KeyCode::Down));
    assert_eq!(app.probes().line.as_ref().unwrap().text(), "flip this symbol | B");
    app.on_key(key(KeyCode::Down));
    assert_eq!(app.probes().line.as_ref().unwrap().text(), "dra", "past the newest: the draft");
}

#[test]
fn quick_fills_are_valid_instructions_of_the_chosen_task() {
    let exp = experiment();
    let mut app = live(&small());
    app.on_key(key(KeyCode::Char('p')));
    app.on_key(ctrl('n'));
    app.on_key(ctrl('u'));
    let text = app.probes().line.as_ref().unwrap().text().to_string();
    let input = clusterscope::experiment::probe::parse(&exp, &text, 32).unwrap();
    assert!(!exp.is_seen_instruction(&input.words), "held-out: {text}");
    assert!(text.contains("flip"), "task 2 (reverse)'s held-out distribution: {text}");
    app.on_key(ctrl('s'));
    let text = app.probes().line.as_ref().unwrap().text().to_string();
    let input = clusterscope::experiment::probe::parse(&exp, &text, 32).unwrap();
    assert!(exp.is_seen_instruction(&input.words) && text.contains("reverse"), "{text}");
    app.on_key(key(KeyCode::Enter));
    assert_eq!(app.take_probe_requests().len(), 1);
}

#[test]
fn probes_follow_the_selection_once() {
    let f = small();
    let exp = experiment();
    let mut app = live(&f);
    let last = f.snapshots.len() - 1;
    submit(&mut app, "copy the symbol | A");
    let first = app.take_probe_requests();
    assert_eq!(first.len(), 1);
    app.on_probe_result(probe_at_centroid(&f, &exp, 1, last, 0, &["copy", "the", "symbol"], "A"));
    assert!(app.take_probe_requests().is_empty(), "cached at this step");
    app.on_key(key(KeyCode::Left));
    let reqs = app.take_probe_requests();
    assert_eq!(
        reqs,
        vec![ProbeRequest { id: 1, text: "copy the symbol | A".into(), step: f.snapshots[last - 1].step, save: false }]
    );
    // In flight: neither another key nor another drain asks again.
    app.on_key(key(KeyCode::Char('u')));
    assert!(app.take_probe_requests().is_empty());
    // Back to a cached step: nothing; and forth again: still in flight, nothing.
    app.on_key(key(KeyCode::Right));
    assert!(app.take_probe_requests().is_empty());
    app.on_key(key(KeyCode::Left));
    assert!(app.take_probe_requests().is_empty());
    app.on_probe_result(probe_at_centroid(&f, &exp, 1, last - 1, 0, &["copy", "the", "symbol"], "A"));
    app.on_key(key(KeyCode::Right));
    app.on_key(key(KeyCode::Left));
    assert!(app.take_probe_requests().is_empty(), "cached at both steps");
    // A new live checkpoint selected by follow asks for it.
    app.on_key(key(KeyCode::Char('f')));
    let mut more = fixture(40, 8, 4, 7).snapshots.pop().unwrap();
    more.step = 10_000;
    app.on_analyser(AnalyserEvent::Checkpoint(Box::new(more)));
    let reqs = app.take_probe_requests();
    assert_eq!(reqs.len(), 1);
    assert_eq!((reqs[0].step, reqs[0].save), (10_000, false));
}

#[test]
fn results_are_cached_and_placed_near_their_task() {
    let f = small();
    let exp = experiment();
    let mut app = live(&f);
    let last = f.snapshots.len() - 1;
    submit(&mut app, "reverse the symbol | B");
    app.take_probe_requests();
    // A result for a probe that does not exist is ignored.
    app.on_probe_result(probe_at_centroid(&f, &exp, 99, last, 0, &["copy"], "A"));
    app.on_probe_result(probe_at_centroid(&f, &exp, 1, last, 1, &["reverse", "the", "symbol"], "B"));
    let p = &app.probes().list[0];
    assert!(p.result(f.snapshots[last].step).is_some_and(|r| r.is_ok()));
    for layer in 1..4 {
        let pl = app.probe_placement(0, last, layer).expect("placed");
        assert_eq!(pl.nearest_task, 1, "layer {layer}");
    }
    assert!(
        app.view().notice.as_ref().unwrap().text.contains("nearest task reverse ✓"),
        "{:?}",
        app.view().notice.as_ref()
    );
    // Hidden states of the wrong size: no placement, no panic, drawing still works.
    let mut bad = probe_at_centroid(&f, &exp, 1, last, 1, &["reverse"], "B");
    if let Ok(a) = bad.outcome.as_mut() {
        a.hidden = vec![vec![1.0; 3]; 2];
    }
    app.on_probe_result(bad);
    assert!(app.probe_placement(0, last, 3).is_none());
    let mut term = ratatui::Terminal::new(ratatui::backend::TestBackend::new(120, 40)).unwrap();
    term.draw(|fr| fr.render_widget(&app, fr.area())).unwrap();
    assert!(term.backend().to_string().contains("not placed on layer 3"));
    // An error outcome is shown, not retried.
    app.on_probe_result(ProbeResult {
        id: 1,
        step: f.snapshots[last].step,
        text: String::new(),
        outcome: Err("weights missing".into()),
    });
    assert!(app.take_probe_requests().is_empty());
    term.draw(|fr| fr.render_widget(&app, fr.area())).unwrap();
    assert!(term.backend().to_string().contains("weights missing"));
}

#[test]
fn saved_probes_come_back_and_are_requested_without_saving() {
    let f = small();
    let mut app = App::replay(&f.session(), ThemeSet::default());
    app.set_probe_support(experiment(), 32);
    app.add_saved_probes(vec!["copy the symbol | A".into(), "  ".into(), "flip this symbol | B".into()]);
    let reqs = app.take_probe_requests();
    assert_eq!(reqs.len(), 2);
    assert!(reqs.iter().all(|r| !r.save && r.step == f.snapshots.last().unwrap().step));
    // They are in the history too.
    app.on_key(key(KeyCode::Char('p')));
    app.on_key(key(KeyCode::Up));
    assert_eq!(app.probes().line.as_ref().unwrap().text(), "flip this symbol | B");
}

#[test]
fn trail_asks_for_every_checkpoint_one_at_a_time() {
    let f = small();
    let exp = experiment();
    let mut app = live(&f);
    let last = f.snapshots.len() - 1;
    submit(&mut app, "copy the symbol | A");
    app.take_probe_requests();
    app.on_probe_result(probe_at_centroid(&f, &exp, 1, last, 0, &["copy", "the", "symbol"], "A"));
    app.on_key(key(KeyCode::Char('r')));
    let mut asked = Vec::new();
    for _ in 0..20 {
        let reqs = app.take_probe_requests();
        assert!(reqs.len() <= 1);
        let Some(r) = reqs.first() else { break };
        asked.push(r.step);
        let i = f.snapshots.iter().position(|s| s.step == r.step).unwrap();
        app.on_probe_result(probe_at_centroid(&f, &exp, 1, i, 0, &["copy", "the", "symbol"], "A"));
    }
    assert_eq!(asked, f.snapshots[..last].iter().map(|s| s.step).collect::<Vec<_>>());
    let mut term = ratatui::Terminal::new(ratatui::backend::TestBackend::new(160, 48)).unwrap();
    term.draw(|fr| fr.render_widget(&app, fr.area())).unwrap();
    assert!(term.backend().to_string().contains('•'));
}

#[test]
fn deleting_and_switching_probes_never_panics() {
    let f = small();
    let exp = experiment();
    let mut app = live(&f);
    for k in [
        KeyCode::Char('x'),
        KeyCode::Char('['),
        KeyCode::Char(']'),
        KeyCode::Char('v'),
        KeyCode::Char('P'),
        KeyCode::Char('r'),
    ] {
        app.on_key(key(k));
    }
    submit(&mut app, "copy the symbol | A");
    submit(&mut app, "sort this symbol | C");
    app.on_key(key(KeyCode::Char('[')));
    assert_eq!(app.probes().selected, 0);
    app.on_key(key(KeyCode::Char('x')));
    assert_eq!(app.probes().list.len(), 1);
    // The session's record of it goes too (through the probe thread, which saved it).
    assert_eq!(app.take_forgotten_probes(), vec![(1, "copy the symbol | A".to_string())]);
    assert!(app.take_forgotten_probes().is_empty());
    // The deleted probe's late result is ignored.
    app.on_probe_result(probe_at_centroid(&f, &exp, 1, 5, 0, &["copy"], "A"));
    assert!(app.probes().list[0].result(f.snapshots[5].step).is_none());
    for (w, h) in [(40, 12), (80, 24), (100, 30), (160, 48), (1, 1)] {
        let mut term = ratatui::Terminal::new(ratatui::backend::TestBackend::new(w, h)).unwrap();
        term.draw(|fr| fr.render_widget(&app, fr.area())).unwrap();
    }
}

#[test]
fn help_scrolls_on_short_screens() {
    let mut app = live(&small());
    app.on_key(key(KeyCode::Char('?')));
    let mut term = ratatui::Terminal::new(ratatui::backend::TestBackend::new(80, 24)).unwrap();
    term.draw(|fr| fr.render_widget(&app, fr.area())).unwrap();
    assert!(!term.backend().to_string().contains("stable while scrubbing"));
    for _ in 0..30 {
        app.on_key(key(KeyCode::Down));
    }
    assert_eq!(app.view().layer, 3, "arrows scroll the help, not the layer");
    term.draw(|fr| fr.render_widget(&app, fr.area())).unwrap();
    assert!(term.backend().to_string().contains("stable while scrubbing"));
}

/// A session of pretrained models: no experiment, any text is an instruction.
fn free_text(f: &Fixture) -> App {
    let mut app = App::live(&f.info, ThemeSet::default());
    for s in &f.snapshots {
        app.on_analyser(AnalyserEvent::Checkpoint(Box::new(s.clone())));
    }
    app.set_free_text_probes(&f.info.points);
    app
}

#[test]
fn free_text_probes_take_any_text_and_fill_from_the_sessions_prompts() {
    let f = small();
    let mut app = free_text(&f);
    assert!(app.probes().free_text() && app.probes().experiment().is_none());
    let step = app.run().snapshots[app.view().selected].step;
    submit(&mut app, "  What is the capital of France?  (answer | briefly) ");
    let reqs = app.take_probe_requests();
    let text = "What is the capital of France? (answer | briefly)";
    assert_eq!(reqs, vec![ProbeRequest { id: 1, text: text.into(), step, save: true }]);

    submit(&mut app, "   ");
    let line = app.probes().line.as_ref().expect("a blank probe keeps the line open");
    assert!(line.error().unwrap().contains("any text"));
    // Nothing to complete from: Tab leaves the text as it is.
    typ(&mut app, "cop");
    app.on_key(key(KeyCode::Tab));
    let line = app.probes().line.as_ref().unwrap();
    assert_eq!((line.text(), line.error()), ("   cop", None));

    app.on_key(ctrl('s'));
    let seen = app.probes().line.as_ref().unwrap().text().to_string();
    assert!(f.info.points.iter().any(|p| p.task == 0 && p.seen && p.instruction == seen), "{seen}");
    app.on_key(ctrl('n'));
    app.on_key(ctrl('u'));
    let held_out = app.probes().line.as_ref().unwrap().text().to_string();
    assert!(f.info.points.iter().any(|p| p.task == 1 && !p.seen && p.instruction == held_out), "{held_out}");
    app.on_key(key(KeyCode::Enter));
    assert_eq!(app.take_probe_requests()[0].text, held_out);
}

#[test]
fn a_free_text_probe_shows_its_tokens_continuation_and_nearest_task() {
    use ratatui::backend::TestBackend;
    use ratatui::Terminal;

    let f = small();
    let mut app = free_text(&f);
    submit(&mut app, "What is the capital of France?");
    let req = app.take_probe_requests().remove(0);
    let snapshot = f.snapshots.iter().position(|s| s.step == req.step).unwrap();
    // Its hidden state is task 2's centroid at every layer: it lands in reverse's cluster.
    let hidden = ui_support::centroid_hidden(&f, snapshot, 1);
    let words = ["What", " is", " the", " capital", " of", " France", "?", "\n"];
    app.on_probe_result(ProbeResult {
        id: req.id,
        step: req.step,
        text: req.text.clone(),
        outcome: Ok(clusterscope::record::ProbeAnswer {
            words: words.iter().map(|w| w.to_string()).collect(),
            input: String::new(),
            hidden,
            answer: " Paris.\nThe capital".into(),
            answer_probability: 0.42,
            attribution: vec![0.1, -0.05, 0.02, 0.9, 0.03, 1.4, -0.2, 0.0],
        }),
    });
    let notice = &app.view().notice.as_ref().unwrap().text;
    assert!(
        notice.contains("continues Paris. The capital (42%)") && notice.contains("nearest task reverse"),
        "{notice}"
    );
    let mut term = Terminal::new(TestBackend::new(100, 30)).unwrap();
    term.draw(|frame| frame.render_widget(&app, frame.area())).unwrap();
    let screen = format!("{}", term.backend());
    assert!(screen.contains("continues Paris.⏎The capital 42%"), "{screen}");
    assert!(!screen.contains("| "), "no input after the instruction");
    insta::assert_snapshot!("free_text_probe_panel_100x30", term.backend());
}
