//! A run in phases on screen: the timeline names the selected checkpoint's phase and sets each
//! phase's last checkpoint apart, and the curves draw the boundaries.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod ui_support;

use clusterscope::record::PhaseMark;
use clusterscope::ui::app::App;
use clusterscope::ui::theme::ThemeSet;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ui_support::fixture;

fn phased() -> ui_support::Fixture {
    let mut f = fixture(40, 8, 4, 6);
    let step = f.snapshots[1].step;
    let total = f.info.total_steps;
    let mark = |name: &str, start: usize, end: usize| PhaseMark {
        name: name.into(),
        start,
        steps: end - start,
        data: "instructions".into(),
    };
    f.info.phases = vec![mark("identity", 0, 2 * step), mark("instructions", 2 * step, total)];
    f
}

fn draw(app: &App, w: u16, h: u16) -> TestBackend {
    let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
    term.draw(|f| f.render_widget(app, f.area())).unwrap();
    term.backend().clone()
}

fn screen(b: &TestBackend) -> String {
    let buf = b.buffer();
    (0..buf.area.height)
        .map(|y| (0..buf.area.width).map(|x| buf[(x, y)].symbol().to_string()).collect::<String>())
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn the_timeline_and_curves_show_the_phases() {
    let f = phased();
    let mut app = App::replay(&f.session(), ThemeSet::default());
    let b = draw(&app, 160, 48);
    insta::assert_snapshot!("phases_replay_160x48", b);
    // The last checkpoint is in the second phase.
    assert!(screen(&b).contains("phase 2/2 instructions"), "{}", screen(&b));
    // Home selects step 0, which the first phase made.
    app.on_key(KeyEvent::new(KeyCode::Home, KeyModifiers::NONE));
    let b = draw(&app, 160, 48);
    assert!(screen(&b).contains("phase 1/2 identity"), "{}", screen(&b));
    // The boundary checkpoint belongs to the phase it ends.
    for _ in 0..2 {
        app.on_key(KeyEvent::new(KeyCode::Right, KeyModifiers::NONE));
    }
    assert!(screen(&draw(&app, 160, 48)).contains("phase 1/2 identity"));
    app.on_key(KeyEvent::new(KeyCode::Right, KeyModifiers::NONE));
    assert!(screen(&draw(&app, 160, 48)).contains("phase 2/2 instructions"));
    // Live, from the run's info, alike.
    let live = App::live(&f.info, ThemeSet::default());
    assert_eq!(live.run().phase_marks, f.info.phases);
}
