//! The selection heatmap on a real model's selections: the encoder cells of a MiniLM run must
//! take clearly different colours in the default lens, not one shade of dark purple.
//!
//! The fixture `tests/fixtures/minilm-rte-selection.jsonl` holds the `selection` events of
//! `dps-tui train --preset rte --model ../shared/models/all-MiniLM-L6-v2 --data-dir ../shared/glue
//! --headless --threads 1 --set max_steps=100 --set eval_every=0`, trimmed by
//! `scripts/fixtures/trim_selection_events.py` to what the heatmap and the zoom draw (the 2-D
//! density map is dropped, numbers are rounded to 4 significant digits).

mod ui_support;

use dps_tui::core::events::Event;
use dps_tui::ui::theme::Theme;
use dps_tui::ui::view::{Focus, Lens};
use dps_tui::ui::widgets::heatmap;
use dps_tui::ui::App;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Color;
use std::collections::BTreeSet;

use ui_support::*;

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/minilm-rte-selection.jsonl"
);

fn events() -> Vec<Event> {
    let path = std::env::var("HEATMAP_EVENTS").unwrap_or_else(|_| FIXTURE.to_string());
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{path}: {e}: {l}")))
        .collect()
}

fn app(lens: Lens) -> App {
    let mut app = App::from_events(&events());
    app.theme = Theme::colored();
    app.view.lens = lens;
    app.view.focus = Focus::Heatmap;
    app
}

/// The colours of the encoder cells (rows with a layer) drawn in the heatmap panel, over two
/// renders (cursor on the first row, then on the last encoder row, so every row scrolls into
/// view). The cursor's cell is left out.
fn encoder_colours(lens: Lens, w: u16, h: u16) -> BTreeSet<(u8, u8, u8)> {
    let mut out = BTreeSet::new();
    let mut app = app(lens);
    let last_encoder = app
        .run
        .rows
        .iter()
        .rposition(|r| r.layer.is_some())
        .unwrap();
    for cursor in [0, last_encoder] {
        app.view.heat_row = cursor;
        let buf = render(&mut app, w, h);
        let area = dps_tui::ui::screens::dashboard::layout(Rect::new(0, 0, w, h), false)
            .heatmap
            .expect("a heatmap panel at this size");
        collect(&app, &buf, area, &mut out);
    }
    out
}

fn collect(app: &App, buf: &Buffer, area: Rect, out: &mut BTreeSet<(u8, u8, u8)>) {
    let g = heatmap::geometry(area, &app.run, &app.view, &app.theme);
    let rows = &app.run.rows;
    let encoder = |r: usize| rows.get(r).is_some_and(|k| k.layer.is_some());
    let rgb = |c: Color| match c {
        Color::Rgb(r, g, b) => Some((r, g, b)),
        _ => None,
    };
    for l in 0..g.grid.height {
        let top = (g.first_line + l as usize) * g.rows_per_line;
        for x in g.grid.x..g.grid.x + g.grid.width {
            let cell = &buf[(x, g.grid.y + l)];
            let (top_c, bottom_c) = match cell.symbol() {
                "▀" => (cell.fg, Some(cell.bg)),
                " " => (cell.bg, None),
                _ => continue, // the cursor
            };
            if encoder(top) {
                out.extend(rgb(top_c));
            }
            if g.rows_per_line == 2 && encoder(top + 1) {
                out.extend(bottom_c.and_then(rgb));
            }
        }
    }
}

/// How many of `colours` differ clearly from each other (some channel by 32 or more out of
/// 255), picked greedily in order.
fn clearly_different(colours: &BTreeSet<(u8, u8, u8)>) -> usize {
    let mut picked: Vec<(u8, u8, u8)> = Vec::new();
    let far = |a: (u8, u8, u8), b: (u8, u8, u8)| {
        a.0.abs_diff(b.0) >= 32 || a.1.abs_diff(b.1) >= 32 || a.2.abs_diff(b.2) >= 32
    };
    for &c in colours {
        if picked.iter().all(|&p| far(p, c)) {
            picked.push(c);
        }
    }
    picked.len()
}

#[test]
fn the_fixture_is_a_real_minilm_run() {
    let app = app(Lens::Importance);
    assert!(
        app.run.selections.len() >= 8,
        "{}",
        app.run.selections.len()
    );
    assert_eq!(
        app.run.rows.len(),
        6 * 6 + 2,
        "6 layers × 6 matrices + head"
    );
}

#[test]
fn encoder_cells_take_clearly_different_colours_in_the_default_lens() {
    assert_eq!(dps_tui::ui::view::View::default().lens, Lens::Importance);
    let mut report = String::new();
    for lens in Lens::ALL {
        let c = encoder_colours(lens, 120, 40);
        report += &format!(
            "{}: {} colours, {} clearly different; ",
            lens.name(),
            c.len(),
            clearly_different(&c)
        );
    }
    eprintln!("{report}");
    let c = encoder_colours(Lens::Importance, 120, 40);
    assert!(
        clearly_different(&c) >= 6,
        "the default lens draws the encoder in {} clearly different colours ({report})",
        clearly_different(&c)
    );
}

#[test]
fn the_selected_lens_shows_where_a_per_matrix_selection_keeps_elements() {
    // Every matrix keeps 70 % (per-matrix scope), so one value per cell would be one colour;
    // split per head / row group, the cells show which parts are kept.
    let app = app(Lens::Selected);
    assert!(app.run.selections[0]
        .reports
        .iter()
        .all(|m| (m.selected_fraction - 0.7).abs() < 0.01));
    let c = encoder_colours(Lens::Selected, 120, 40);
    assert!(clearly_different(&c) >= 4, "{}", clearly_different(&c));
}
