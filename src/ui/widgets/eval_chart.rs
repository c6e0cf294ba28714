//! Dev-set metrics over steps, one line per metric, on the same x range as the loss chart. A
//! run with eval tasks gets one line per task instead ([`super::eval_tasks_chart`]).

use crate::ui::run_state::{Activity, Run};
use crate::ui::theme::Theme;
use crate::ui::view::View;
use crate::ui::widgets::plot::{
    areas_below_legend, axis_labels, curves, finite_range, panel, stage_bands, x_range,
};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};

/// The metric names plotted: every metric but `loss`, unless `loss` is the only one.
pub fn plotted_metrics(run: &Run) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for (_, m) in &run.evals {
        for k in m.keys() {
            if !names.contains(k) {
                names.push(k.clone());
            }
        }
    }
    if names.len() > 1 {
        names.retain(|n| n != "loss");
    }
    names
}

/// Draw the eval chart panel.
pub fn render(run: &Run, view: &View, theme: &Theme, area: Rect, buf: &mut Buffer, focused: bool) {
    if !run.eval_tasks.is_empty() {
        return super::eval_tasks_chart::render(run, view, theme, area, buf, focused);
    }
    let evals = &run.evals;
    let names = plotted_metrics(run);
    let mut title = vec![Span::styled(" dev ", theme.title())];
    if let Some((step, _)) = evals.last() {
        title.push(Span::styled(format!("@{step} "), theme.dim()));
    }
    let block = panel(theme, Line::from(title), focused);
    let inner = block.inner(area);
    block.render(area, buf);
    if inner.width < 10 || inner.height < 2 {
        return;
    }
    if evals.is_empty() {
        let msg = if run.activity == Some(Activity::Evaluating) {
            "evaluating…"
        } else {
            "no evaluation yet (press e)"
        };
        Paragraph::new(Line::styled(msg, theme.dim())).render(inner, buf);
        return;
    }
    // Legend: one line per metric with its last and best value.
    let legend_h = (names.len() as u16)
        .min(inner.height.saturating_sub(3))
        .min(4);
    for (i, name) in names.iter().take(legend_h as usize).enumerate() {
        let series: Vec<(usize, f64)> = evals
            .iter()
            .filter_map(|(s, m)| m.get(name).map(|v| (*s, *v)))
            .collect();
        let last = series.last().map(|x| x.1).unwrap_or(f64::NAN);
        let lower_better = name == "loss";
        let best = series
            .iter()
            .copied()
            .fold(None, |acc: Option<(usize, f64)>, x| match acc {
                Some(b) if (lower_better && b.1 <= x.1) || (!lower_better && b.1 >= x.1) => Some(b),
                _ => Some(x),
            });
        let mut spans = vec![
            Span::styled("● ", theme.series(i)),
            Span::styled(format!("{name} "), theme.text()),
            Span::styled(format!("{:.4}", last), theme.series(i)),
        ];
        if let Some((bs, bv)) = best {
            if inner.width >= 40 {
                spans.push(Span::styled(format!("  best {bv:.4} @{bs}"), theme.dim()));
            }
        }
        buf.set_line(inner.x, inner.y + i as u16, &Line::from(spans), inner.width);
    }
    let Some(areas) = areas_below_legend(inner, legend_h) else {
        return;
    };
    let plot = areas.plot;
    let xr = x_range(run, view);
    let (y0, y1) = finite_range(
        evals
            .iter()
            .flat_map(|(_, m)| names.iter().filter_map(|n| m.get(n).copied())),
    );
    let pad = ((y1 - y0) * 0.1).max(0.01);
    let (y0, y1) = (y0 - pad, y1 + pad);
    let series: Vec<(Vec<(f64, f64)>, ratatui::style::Color)> = names
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let pts = evals
                .iter()
                .filter_map(|(s, m)| m.get(n).filter(|v| v.is_finite()).map(|v| (*s as f64, *v)))
                .filter(|(x, _)| *x >= xr.0 && *x <= xr.1)
                .collect();
            (pts, theme.series(i).fg.unwrap_or_default())
        })
        .collect();
    curves(buf, plot, (xr, (y0, y1)), &series, true);
    stage_bands(buf, (run, view, theme), plot, areas.strip, xr);
    axis_labels(buf, &areas, (xr, (y0, y1)), false, theme.dim());
}
