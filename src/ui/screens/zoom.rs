//! One matrix up close: its mask density as a 2-D map (two density rows per terminal line with
//! `▀`), and per-head or per-row bars.

use crate::ui::format::fmt_num;
use crate::ui::run_state::Run;
use crate::ui::theme::Theme;
use crate::ui::view::View;
use crate::ui::widgets::plot::panel;
use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget, Wrap};

/// Draw the zoomed matrix into `area`.
pub fn render(run: &Run, view: &View, theme: &Theme, area: Rect, buf: &mut Buffer) {
    let (Some(row), Some(col)) = (view.heat_row(run), view.heat_col(run)) else {
        return;
    };
    let key = &run.rows[row];
    let sel = &run.selections[col];
    let title = Line::from(vec![
        Span::styled(format!(" {} ", key.label()), theme.title()),
        Span::styled(format!("· stage {} @{} ", sel.stage, sel.step), theme.dim()),
    ]);
    let block = panel(theme, title, true).title(
        Line::from(vec![
            Span::styled(" ↑↓", theme.key()),
            Span::styled(" matrix ", theme.dim()),
            Span::styled("←→", theme.key()),
            Span::styled(" stage ", theme.dim()),
            Span::styled("esc", theme.key()),
            Span::styled(" back ", theme.dim()),
        ])
        .right_aligned(),
    );
    let inner = block.inner(area);
    block.render(area, buf);
    if inner.width < 10 || inner.height < 3 {
        return;
    }
    let Some(m) = run.cell(row, col) else {
        Paragraph::new(Line::styled(
            "This matrix is not part of this selection.",
            theme.dim(),
        ))
        .render(inner, buf);
        return;
    };
    let info = Line::from(vec![
        Span::styled(m.name.clone(), theme.text().bold()),
        Span::styled(
            format!(
                "  [{}]",
                m.shape
                    .iter()
                    .map(|d| d.to_string())
                    .collect::<Vec<_>>()
                    .join("×")
            ),
            theme.dim(),
        ),
        Span::styled(
            format!("  selected {:.1}%", m.selected_fraction * 100.0),
            theme.ok(),
        ),
        Span::styled(
            format!(
                "  importance {}  churn {}  update {}  p {}",
                fmt_num(m.importance_share),
                m.overlap_prev.map_or("n/a".into(), |o| fmt_num(1.0 - o)),
                fmt_num(m.update_rel),
                fmt_num(sel.p)
            ),
            theme.text(),
        ),
    ]);
    Paragraph::new(info).wrap(Wrap { trim: true }).render(
        Rect::new(inner.x, inner.y, inner.width, 2.min(inner.height)),
        buf,
    );
    let body = Rect::new(
        inner.x,
        inner.y + 2,
        inner.width,
        inner.height.saturating_sub(2),
    );
    let bars: (&str, &[u8]) = if !m.head_density.is_empty() {
        ("per head", &m.head_density)
    } else {
        ("per row", &m.row_density)
    };
    let [map_area, bar_area] = if bars.1.is_empty() {
        [body, Rect::default()]
    } else {
        Layout::horizontal([Constraint::Percentage(60), Constraint::Fill(1)]).areas(body)
    };
    density_map(theme, m.density.as_slice(), &m.density_shape, map_area, buf);
    if !bars.1.is_empty() {
        density_bars(theme, bars.0, bars.1, bar_area, buf);
    }
}

/// A block in the ramp colour for `t` (a shade character without colours).
fn ramp_span(theme: &Theme, t: f64) -> Span<'static> {
    if theme.color {
        Span::styled("█", Style::new().fg(Theme::ramp(t)))
    } else {
        Span::raw(Theme::shade(t).to_string())
    }
}

fn density_map(theme: &Theme, d: &[u8], shape: &[usize], area: Rect, buf: &mut Buffer) {
    if area.height < 3 || area.width < 6 {
        return;
    }
    let label = Line::from(vec![
        Span::styled("mask density ", theme.text().bold()),
        Span::styled(
            format!(
                "{}  (rows ↓ = output, cols → = input; 0 ",
                shape
                    .iter()
                    .map(|x| x.to_string())
                    .collect::<Vec<_>>()
                    .join("×")
            ),
            theme.dim(),
        ),
        ramp_span(theme, 0.0),
        Span::styled(" … ", theme.dim()),
        ramp_span(theme, 1.0),
        Span::styled(" 1)", theme.dim()),
    ]);
    buf.set_line(area.x, area.y, &label, area.width);
    let (r, c) = match shape {
        [r, c] if *r > 0 && *c > 0 && d.len() >= r * c => (*r, *c),
        _ => {
            buf.set_string(
                area.x,
                area.y + 1,
                "no density map in this report",
                theme.dim(),
            );
            return;
        }
    };
    let map = Rect::new(area.x, area.y + 1, area.width, area.height - 1);
    let px_per_line = if theme.color { 2 } else { 1 };
    // Keep cells roughly square: a terminal cell is about twice as tall as wide.
    let mut w = map.width as usize;
    let mut h = map.height as usize * px_per_line;
    let aspect = c as f64 / r as f64;
    let want_w = (h as f64 * aspect * 2.0 / px_per_line as f64).round() as usize;
    if want_w < w {
        w = want_w.max(1);
    } else {
        h = ((w as f64 / aspect) * px_per_line as f64 / 2.0)
            .round()
            .max(1.0) as usize;
        h = h.min(map.height as usize * px_per_line);
    }
    let sample = |py: usize, px: usize| -> f64 {
        let sr = (py * r / h.max(1)).min(r - 1);
        let sc = (px * c / w.max(1)).min(c - 1);
        d[sr * c + sc] as f64 / 255.0
    };
    for ly in 0..h.div_ceil(px_per_line) {
        for x in 0..w {
            let cell = &mut buf[(map.x + x as u16, map.y + ly as u16)];
            if theme.color {
                let top = sample(ly * 2, x);
                cell.set_char('▀').set_fg(Theme::ramp(top));
                if ly * 2 + 1 < h {
                    cell.set_bg(Theme::ramp(sample(ly * 2 + 1, x)));
                }
            } else {
                cell.set_char(Theme::shade(sample(ly, x)));
            }
        }
    }
}

fn density_bars(theme: &Theme, what: &str, values: &[u8], area: Rect, buf: &mut Buffer) {
    if area.height < 2 || area.width < 12 {
        return;
    }
    let x = area.x + 1;
    let width = area.width - 1;
    buf.set_line(
        x,
        area.y,
        &Line::from(vec![
            Span::styled(format!("selected {what}"), theme.text().bold()),
            Span::styled(format!("  ({} bars)", values.len()), theme.dim()),
        ]),
        width,
    );
    let lines = (area.height - 1) as usize;
    // Group values when there are more than lines.
    let groups = values.len().min(lines).max(1);
    let label_w = if what == "per head" { 4 } else { 9 };
    let bar_w = width.saturating_sub(label_w + 6) as usize;
    for g in 0..groups {
        let lo = g * values.len() / groups;
        let hi = ((g + 1) * values.len() / groups).max(lo + 1);
        let mean = values[lo..hi].iter().map(|v| *v as f64).sum::<f64>() / (hi - lo) as f64 / 255.0;
        let label = if what == "per head" {
            format!("h{lo:<2} ")
        } else if hi - lo == 1 {
            format!("r{lo:<7} ")
        } else {
            format!("r{lo}-{} ", hi - 1)
        };
        let eighths = (mean * bar_w as f64 * 8.0).round() as usize;
        let full = eighths / 8;
        let part = [' ', '▏', '▎', '▍', '▌', '▋', '▊', '▉'][eighths % 8];
        let mut bar = "█".repeat(full);
        if full < bar_w {
            bar.push(part);
        }
        let style = if theme.color {
            Style::new().fg(Theme::ramp(mean))
        } else {
            theme.text()
        };
        let line = Line::from(vec![
            Span::styled(format!("{label:>w$}", w = label_w as usize), theme.dim()),
            Span::styled(format!("{bar:<bar_w$}"), style),
            Span::styled(format!(" {:>3.0}%", mean * 100.0), theme.text()),
        ]);
        buf.set_line(x, area.y + 1 + g as u16, &line, width);
    }
}
