//! Shared chart plumbing: panel blocks, axis areas, axis labels, x and y ranges, curves and
//! stage bands.

use crate::core::events::StageKind;
use crate::ui::format::fmt_num;
use crate::ui::run_state::Run;
use crate::ui::theme::Theme;
use crate::ui::view::View;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Style};
use ratatui::symbols::Marker;
use ratatui::text::Line;
use ratatui::widgets::canvas::{Canvas, Line as CLine, Points};
use ratatui::widgets::{Block, BorderType, Borders, Widget};

/// A bordered panel with a title; the border is highlighted when `focused`.
pub fn panel<'a>(theme: &Theme, title: Line<'a>, focused: bool) -> Block<'a> {
    Block::default()
        .borders(Borders::ALL)
        .border_type(if focused {
            BorderType::Thick
        } else {
            BorderType::Rounded
        })
        .border_style(if focused {
            theme.focus_border()
        } else {
            theme.border()
        })
        .title(title)
}

/// The parts of a chart's inner area.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChartAreas {
    /// Where the data is drawn.
    pub plot: Rect,
    /// Left of `plot`: y-axis labels.
    pub y_labels: Rect,
    /// Below `plot`: the stage strip (height 0 or 1).
    pub strip: Rect,
    /// Bottom row: x-axis labels.
    pub x_labels: Rect,
}

/// Split a chart's inner area into plot, y labels, an optional stage strip and x labels.
pub fn chart_areas(inner: Rect, y_label_w: u16, strip: bool) -> ChartAreas {
    let y_label_w = y_label_w.min(inner.width / 3);
    let strip_h = u16::from(strip && inner.height >= 6);
    let x_h = u16::from(inner.height >= 4);
    let plot_h = inner.height.saturating_sub(strip_h + x_h);
    let plot = Rect::new(
        inner.x + y_label_w,
        inner.y,
        inner.width.saturating_sub(y_label_w),
        plot_h,
    );
    ChartAreas {
        plot,
        y_labels: Rect::new(inner.x, inner.y, y_label_w, plot_h),
        strip: Rect::new(plot.x, inner.y + plot_h, plot.width, strip_h),
        x_labels: Rect::new(plot.x, inner.y + plot_h + strip_h, plot.width, x_h),
    }
}

/// The chart areas (y labels 7 wide, no stage strip) below the first `legend_h` rows of
/// `inner`; `None` when the plot would be too small to draw.
pub fn areas_below_legend(inner: Rect, legend_h: u16) -> Option<ChartAreas> {
    let chart = Rect::new(
        inner.x,
        inner.y + legend_h,
        inner.width,
        inner.height - legend_h,
    );
    let areas = chart_areas(chart, 7, false);
    (areas.plot.width >= 4 && areas.plot.height >= 2).then_some(areas)
}

/// The lowest and highest finite value; `(0, 1)` when there is none.
pub fn finite_range(values: impl IntoIterator<Item = f64>) -> (f64, f64) {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in values.into_iter().filter(|v| v.is_finite()) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if lo.is_finite() {
        (lo, hi)
    } else {
        (0.0, 1.0)
    }
}

/// Braille lines through each series of `(x, y)` points in its colour, the points themselves
/// marked too when `points`, over `plot` showing `xr` × `yr`.
pub fn curves(
    buf: &mut Buffer,
    plot: Rect,
    (xr, yr): ((f64, f64), (f64, f64)),
    series: &[(Vec<(f64, f64)>, Color)],
    points: bool,
) {
    Canvas::default()
        .marker(Marker::Braille)
        .x_bounds([xr.0, xr.1])
        .y_bounds([yr.0, yr.1])
        .paint(|ctx| {
            for (pts, color) in series {
                for w in pts.windows(2) {
                    ctx.draw(&CLine::new(w[0].0, w[0].1, w[1].0, w[1].1, *color));
                }
                if points {
                    ctx.draw(&Points {
                        coords: pts,
                        color: *color,
                    });
                }
                ctx.layer();
            }
        })
        .render(plot, buf);
}

/// The y labels left of the plot and the x labels below it.
pub fn axis_labels(
    buf: &mut Buffer,
    areas: &ChartAreas,
    (xr, yr): ((f64, f64), (f64, f64)),
    log: bool,
    style: Style,
) {
    y_labels(buf, areas.y_labels, yr, log, style);
    x_labels(buf, areas.x_labels, xr, style);
}

/// The step range the charts show: `[first, last]` of the history within the x window, and at
/// least 1 wide.
pub fn x_range(run: &Run, view: &View) -> (f64, f64) {
    let h = &run.loss;
    let last = h
        .last_step()
        .unwrap_or(run.start_step)
        .max(run.evals.last().map_or(0, |e| e.0));
    let first = match view.x_window {
        Some(w) => last.saturating_sub(w.saturating_sub(1)),
        None => h
            .first_step()
            .unwrap_or(run.start_step)
            .min(run.evals.first().map_or(usize::MAX, |e| e.0).min(last)),
    };
    let (a, b) = (first as f64, last as f64);
    if b - a < 1.0 {
        (a, a + 1.0)
    } else {
        (a, b)
    }
}

/// Column of `plot` that step `x` falls in.
pub fn x_to_col(plot: Rect, (x0, x1): (f64, f64), x: f64) -> Option<u16> {
    if plot.width == 0 || x < x0 || x > x1 {
        return None;
    }
    let t = (x - x0) / (x1 - x0).max(1e-12);
    Some(plot.x + ((t * (plot.width - 1) as f64).round() as u16).min(plot.width - 1))
}

/// Write y labels (top, middle, bottom) right-aligned in `area`.
pub fn y_labels(buf: &mut Buffer, area: Rect, (y0, y1): (f64, f64), log: bool, style: Style) {
    if area.width < 2 || area.height == 0 {
        return;
    }
    let value = |y: f64| if log { 10f64.powf(y) } else { y };
    let mut put = |row: u16, y: f64| {
        let s = fmt_num(value(y));
        let s: String = s.chars().take(area.width as usize - 1).collect();
        let x = area.x + area.width - 1 - s.chars().count() as u16;
        buf.set_string(x, area.y + row, &s, style);
    };
    put(0, y1);
    if area.height >= 5 {
        put(area.height / 2, (y0 + y1) / 2.0);
    }
    if area.height >= 2 {
        put(area.height - 1, y0);
    }
}

/// Write x labels (first, middle, last step) in `area`.
pub fn x_labels(buf: &mut Buffer, area: Rect, (x0, x1): (f64, f64), style: Style) {
    if area.height == 0 || area.width < 8 {
        return;
    }
    let first = format!("{}", x0.round() as i64);
    let last = format!("{}", x1.round() as i64);
    buf.set_string(area.x, area.y, &first, style);
    let lx = area.x + area.width.saturating_sub(last.len() as u16);
    buf.set_string(lx, area.y, &last, style);
    if area.width >= 30 {
        let mid = format!("{}", ((x0 + x1) / 2.0).round() as i64);
        let mx = area.x + area.width / 2 - mid.len() as u16 / 2;
        buf.set_string(mx, area.y, &mid, style);
    }
}

/// Shade subnetwork stages: a background band over `plot` (colour) and the strip row
/// (`━` under subnet stages, `─` under full ones).
pub fn stage_bands(
    buf: &mut Buffer,
    (run, view, theme): (&Run, &View, &Theme),
    plot: Rect,
    strip: Rect,
    xr: (f64, f64),
) {
    if plot.width == 0 {
        return;
    }
    let last = x_range(run, view).1 as usize + 1;
    let ranges = run.stage_ranges(last);
    if ranges.is_empty() {
        return;
    }
    for col in plot.x..plot.x + plot.width {
        let t = (col - plot.x) as f64 / (plot.width.max(2) - 1) as f64;
        let step = (xr.0 + t * (xr.1 - xr.0)).round() as usize;
        let kind = ranges
            .iter()
            .find(|(a, b, _)| step >= *a && step < *b)
            .map(|r| r.2);
        let Some(kind) = kind else { continue };
        if kind == StageKind::Subnet {
            if let Some(bg) = theme.subnet_bg() {
                for y in plot.y..plot.y + plot.height {
                    buf[(col, y)].set_bg(bg);
                }
            }
        }
        if strip.height > 0 {
            let (ch, style) = match kind {
                StageKind::Subnet => ('━', theme.warn()),
                StageKind::Full => ('─', theme.dim()),
            };
            buf[(col, strip.y)].set_char(ch).set_style(style);
        }
    }
}
