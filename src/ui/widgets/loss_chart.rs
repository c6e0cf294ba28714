//! Training loss: raw loss, a debiased EMA, a min/max envelope when decimated, log-y, shaded
//! subnetwork stages and markers where a setting changed.

use crate::config::ControlKey;
use crate::ui::format::fmt_num;
use crate::ui::run_state::Run;
use crate::ui::theme::Theme;
use crate::ui::view::View;
use crate::ui::widgets::plot::{chart_areas, panel, stage_bands, x_labels, x_range, y_labels};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::canvas::{Canvas, Line as CLine};
use ratatui::widgets::{Paragraph, Widget};

const EPS: f64 = 1e-8;

/// Draw the loss chart panel.
pub fn render(
    run: &Run,
    view: &View,
    theme: &Theme,
    area: Rect,
    buf: &mut Buffer,
    focused: bool,
    replay: bool,
) {
    let h = &run.loss;
    let s = view.smoothing();
    let mut title = vec![Span::styled(" loss ", theme.title())];
    if let Some(l) = h.last_loss() {
        title.push(Span::styled(fmt_num(l), theme.text()));
        title.push(Span::raw(" "));
    }
    let compact = area.width < 60;
    let mut right = Vec::new();
    if s > 0.0 {
        right.push(Span::styled(
            format!("ema {s}"),
            theme
                .loss_ema()
                .remove_modifier(ratatui::style::Modifier::BOLD),
        ));
    }
    if view.log_y {
        right.push(Span::styled(" log-y", theme.warn()));
    }
    if let Some(w) = view.x_window {
        right.push(Span::styled(format!(" last {w}"), theme.dim()));
    }
    if !compact {
        right.push(Span::styled(" ━ subnet", theme.warn()));
    }
    right.push(Span::raw(" "));
    let block = panel(theme, Line::from(title), focused).title(Line::from(right).right_aligned());
    let inner = block.inner(area);
    block.render(area, buf);
    if inner.width < 10 || inner.height < 3 {
        return;
    }
    if h.is_empty() {
        let empty = if replay {
            "no steps yet at this point of the replay"
        } else {
            "waiting for the first step…"
        };
        Paragraph::new(Line::styled(empty, theme.dim())).render(inner, buf);
        return;
    }

    let xr = x_range(run, view);
    let start = h.index_of(xr.0.floor() as usize);
    let end = h.len();
    let areas = chart_areas(inner, 7, true);
    let plot = areas.plot;
    if plot.width < 4 || plot.height < 2 {
        return;
    }
    let n_buckets = plot.width as usize * 2;
    let buckets = h.buckets(start, end, n_buckets, s);
    let decimated = end - start > n_buckets;
    let log = view.log_y;
    let tf = |y: f64| if log { y.max(EPS).log10() } else { y };

    let (mut y0, mut y1) = (f64::INFINITY, f64::NEG_INFINITY);
    for b in &buckets {
        for v in [b.min, b.max, b.ema] {
            if v.is_finite() {
                y0 = y0.min(tf(v));
                y1 = y1.max(tf(v));
            }
        }
    }
    if !y0.is_finite() {
        (y0, y1) = (0.0, 1.0);
    }
    let pad = ((y1 - y0) * 0.05).max(1e-6);
    let (y0, y1) = (
        if log {
            y0 - pad
        } else {
            (y0 - pad).max(0.0).min(y0)
        },
        y1 + pad,
    );

    let raw_style = theme.loss_raw();
    let env_style = theme.loss_envelope();
    let ema_style = theme.loss_ema();
    let marker_style = theme.marker();
    let markers: Vec<(f64, ControlKey)> = run
        .markers
        .iter()
        .filter(|(st, _)| (*st as f64) >= xr.0 && (*st as f64) <= xr.1)
        .map(|(st, k)| (*st as f64, *k))
        .collect();
    let bad: Vec<f64> = buckets
        .iter()
        .filter(|b| b.non_finite)
        .map(|b| b.x)
        .collect();
    let error_style = theme.error();
    let show_ema = s > 0.0;
    // Without colours two lines cannot be told apart: plain mode draws the EMA alone when
    // smoothing is on (the envelope still shows the raw spread).
    let show_raw = theme.color || !show_ema;

    let canvas = Canvas::default()
        .marker(Marker::Braille)
        .x_bounds([xr.0, xr.1])
        .y_bounds([y0, y1])
        .paint(|ctx| {
            for (x, _) in &markers {
                ctx.draw(&CLine::new(
                    *x,
                    y0,
                    *x,
                    y1,
                    marker_style.fg.unwrap_or_default(),
                ));
            }
            ctx.layer();
            if decimated {
                for b in &buckets {
                    if b.min.is_finite() {
                        ctx.draw(&CLine::new(
                            b.x,
                            tf(b.min),
                            b.x,
                            tf(b.max),
                            env_style.fg.unwrap_or_default(),
                        ));
                    }
                }
                ctx.layer();
            }
            let mut prev: Option<(f64, f64)> = None;
            for b in buckets.iter().filter(|_| show_raw) {
                if !b.mean.is_finite() {
                    prev = None;
                    continue;
                }
                let p = (b.x, tf(b.mean));
                if let Some(q) = prev {
                    ctx.draw(&CLine::new(
                        q.0,
                        q.1,
                        p.0,
                        p.1,
                        raw_style.fg.unwrap_or_default(),
                    ));
                }
                prev = Some(p);
            }
            if show_ema {
                ctx.layer();
                let mut prev: Option<(f64, f64)> = None;
                for b in &buckets {
                    if !b.ema.is_finite() {
                        continue;
                    }
                    let p = (b.x, tf(b.ema));
                    if let Some(q) = prev {
                        ctx.draw(&CLine::new(
                            q.0,
                            q.1,
                            p.0,
                            p.1,
                            ema_style.fg.unwrap_or_default(),
                        ));
                    }
                    prev = Some(p);
                }
            }
        });
    canvas.render(plot, buf);
    // Marker labels at the top of the plot, non-finite losses as ×.
    for (x, k) in &markers {
        if let Some(col) = crate::ui::widgets::plot::x_to_col(plot, xr, *x) {
            let label: String = match *k {
                ControlKey::LearningRate => "lr".into(),
                ControlKey::UpdateRatio => "ur".into(),
                other => other.name().chars().take(4).collect(),
            };
            let w = (plot.x + plot.width).saturating_sub(col) as usize;
            let label: String = format!("▾{label}").chars().take(w).collect();
            buf.set_string(col, plot.y, label, marker_style);
        }
    }
    for x in bad {
        if let Some(col) = crate::ui::widgets::plot::x_to_col(plot, xr, x) {
            buf.set_string(col, plot.y + plot.height - 1, "×", error_style);
        }
    }
    stage_bands(buf, (run, view, theme), plot, areas.strip, xr);
    y_labels(buf, areas.y_labels, (y0, y1), log, theme.dim());
    x_labels(buf, areas.x_labels, xr, theme.dim());
    // Legend in the plot's top-right corner.
    if plot.width >= 30 {
        let mut spans = Vec::new();
        if show_raw {
            spans.push(Span::styled("─ raw ", raw_style));
        }
        if show_ema {
            spans.push(Span::styled("━ ema", ema_style));
        }
        if decimated {
            spans.push(Span::styled(" ┃ min/max", env_style));
        }
        let line = Line::from(spans);
        let w = line.width() as u16;
        let x = plot.x + plot.width.saturating_sub(w + 1);
        buf.set_line(x, plot.y, &line, w);
    }
}
