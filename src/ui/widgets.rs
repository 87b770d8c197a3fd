//! Drawing: `impl Widget for &App` lays out the screen and hands each area to one widget module.
//! Every widget reads the App and the current theme; none keeps state between frames or writes
//! into the App. Where the bands go is [`layout`]'s, which mouse handling shares. The sweep and
//! compare views draw their own screens ([`sweep`], [`compare`]) from the same pieces.

pub mod all_layers;
pub mod compare;
pub mod curves;
pub mod embedding;
pub mod help;
pub mod layout;
pub mod parts;
pub mod probe_line;
pub mod probe_panel;
pub mod raster;
pub mod scatter;
pub mod status_bar;
pub mod sweep;
pub mod timeline;
pub mod too_small;

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::widgets::Widget;

use super::app::{App, View};

impl Widget for &App {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let (view, probes) = (self.view(), self.probes());
        let Some(layout::Screen { body, timeline: timeline_area, status }) = layout::screen(area) else {
            too_small::render(view.themes.current(), area, buf);
            return;
        };
        let probe_panel = probes.panel && !probes.list.is_empty();
        match view.mode {
            View::Scatter => {
                // Narrow screens keep the scatter whole rather than two unreadable halves.
                let curves_w = if body.width >= 70 { body.width * 2 / 5 } else { 0 };
                let [scatter_area, curves_area] =
                    body.layout(&Layout::horizontal([Constraint::Min(0), Constraint::Length(curves_w)]));
                scatter::render(self, scatter_area, buf);
                if curves_w > 0 && probe_panel {
                    // The probe shares the column with the curves where both fit, else takes it.
                    let want = probe_panel::height(self);
                    let panel_h = if curves_area.height >= want + 12 { want } else { curves_area.height };
                    let [curves_rest, panel_area] =
                        curves_area.layout(&Layout::vertical([Constraint::Min(0), Constraint::Length(panel_h)]));
                    if !curves_rest.is_empty() {
                        curves::render(self, curves_rest, buf);
                    }
                    probe_panel::render(self, panel_area, buf);
                } else if curves_w > 0 {
                    curves::render(self, curves_area, buf);
                }
            }
            View::AllLayers => {
                let panel_w = if probe_panel && body.width >= 100 { 40 } else { 0 };
                let [grid, panel_area] =
                    body.layout(&Layout::horizontal([Constraint::Min(0), Constraint::Length(panel_w)]));
                all_layers::render(self, grid, buf);
                if panel_w > 0 {
                    let h = probe_panel::height(self).min(panel_area.height);
                    probe_panel::render(self, Rect { height: h, ..panel_area }, buf);
                }
            }
        }
        timeline::render(self, timeline_area, buf);
        match &probes.line {
            Some(line) => probe_line::render(self, line, status, buf),
            None => status_bar::render(self, status, buf),
        }
        if view.help {
            help::render(view.themes.current(), view.help_scroll, area, buf);
        }
    }
}
