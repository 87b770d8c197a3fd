//! The compare view's loop. The sessions were read before the terminal was taken (a bad one is
//! said on the command line, not on a screen), and nothing changes them while the view is open,
//! so only keys, resizes and signals come down the channel.

use std::sync::mpsc::{self, Receiver};

use ratatui::DefaultTerminal;

use super::{require_terminal, themes, with_terminal, UiError, UiEvent, UiOptions};
use crate::report::compare::Comparison;
use crate::ui::app::Level;
use crate::ui::compare_view::{CompareAction, CompareView};

/// Shows `comparison` until `q`, Esc or a signal; the terminal is given back however it ends.
pub fn run_compare(comparison: Comparison, opts: &UiOptions) -> Result<(), UiError> {
    require_terminal()?;
    let (tx, rx) = mpsc::channel();
    let (themes, warnings) = themes(opts);
    let mut view = CompareView::new(comparison, themes);
    if let Some(w) = warnings.first() {
        view.set_notice(Level::Warning, w);
    }
    with_terminal(tx, rx, |terminal, rx| compare_loop(terminal, &mut view, &rx))
}

fn compare_loop(terminal: &mut DefaultTerminal, view: &mut CompareView, rx: &Receiver<UiEvent>) -> Result<(), UiError> {
    terminal.draw(|f| f.render_widget(&*view, f.area()))?;
    // Nothing moves on its own here: without an event there is nothing to draw again.
    while let Ok(first) = rx.recv() {
        for ev in std::iter::once(first).chain(std::iter::from_fn(|| rx.try_recv().ok())) {
            match ev {
                UiEvent::Key(k, _) if view.on_key(k) == Some(CompareAction::Quit) => return Ok(()),
                UiEvent::Signal => return Ok(()),
                _ => {}
            }
        }
        terminal.draw(|f| f.render_widget(&*view, f.area()))?;
    }
    Ok(())
}
