//! The dev panel of a run with eval tasks (see [`crate::core::task_metrics`]): one curve per
//! task, its main metric, and a legend naming the tasks with their last (and best) values.
//!
//! The `t` key ([`crate::ui::view::View::dev_focus`]) picks the task drawn large: its curve
//! alone on its own scale, the other tasks small, as sparklines in the legend. With no task
//! picked every curve is drawn alike on one scale. A tall panel gives each task a legend row
//! (marker, name, sparkline, last value, best value); a short one flows the tasks as `name
//! value` chips over as few lines as it can, keeping three rows for the plot.

use crate::core::task_metrics::lower_is_better;
use crate::ui::run_state::{DevSeries, Run};
use crate::ui::theme::Theme;
use crate::ui::view::View;
use crate::ui::widgets::plot::{
    areas_below_legend, axis_labels, curves, finite_range, panel, stage_bands, x_range, x_to_col,
};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;

/// The rows the plot keeps below the legend.
const PLOT_MIN_H: u16 = 3;

/// The widest sparkline in a legend row.
const SPARK_MAX_W: usize = 16;

/// The eight levels of a sparkline, lowest first.
const SPARK: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// One task's curve and its read-outs.
struct Curve {
    series: DevSeries,
    /// `(step, value)`, finite values only.
    points: Vec<(usize, f64)>,
    /// `(value, step)` of the best evaluation.
    best: Option<(f64, usize)>,
}

impl Curve {
    fn of(run: &Run, series: DevSeries) -> Curve {
        let points: Vec<(usize, f64)> = run
            .evals
            .iter()
            .filter_map(|(s, m)| m.get(&series.key).map(|v| (*s, *v)))
            .filter(|p| p.1.is_finite())
            .collect();
        let lower = lower_is_better(&series.metric);
        let best = points
            .iter()
            .fold(None, |acc: Option<(f64, usize)>, &(s, v)| match acc {
                Some(b) if (lower && b.0 <= v) || (!lower && b.0 >= v) => Some(b),
                _ => Some((v, s)),
            });
        Curve {
            series,
            points,
            best,
        }
    }

    fn last(&self) -> Option<f64> {
        self.points.last().map(|p| p.1)
    }

    /// The name in the legend: the task, marked when it is the training task's own.
    fn label(&self) -> String {
        if self.series.train {
            format!("{} (train)", self.series.task)
        } else {
            self.series.task.clone()
        }
    }
}

/// The index of the task drawn large, if the view picked one the run has.
pub fn focused(run: &Run, view: &View) -> Option<usize> {
    let f = view.dev_focus.as_deref()?;
    run.dev_series().iter().position(|s| s.task == f)
}

/// The marker of curve `i`: a dot in its colour, or its number without colours (the curve's
/// end is labelled with the same number).
fn marker(theme: &Theme, i: usize) -> String {
    if theme.color {
        "●".into()
    } else {
        format!("{}", (i + 1) % 10)
    }
}

/// `0.5512` as `.551`, other values with three decimals.
fn short_value(v: f64) -> String {
    let s = format!("{v:.3}");
    match s.strip_prefix("0.") {
        Some(rest) => format!(".{rest}"),
        None => s,
    }
}

/// A sparkline of the last `w` values, scaled to their own range.
pub fn sparkline(values: &[f64], w: usize) -> String {
    let tail = &values[values.len().saturating_sub(w)..];
    let (lo, hi) = finite_range(tail.iter().copied());
    tail.iter()
        .map(|v| {
            let t = if hi - lo > 1e-12 {
                (v - lo) / (hi - lo)
            } else {
                0.5
            };
            SPARK[((t * 7.0).round() as usize).min(7)]
        })
        .collect()
}

/// Draw the panel for a run with eval tasks.
pub fn render(run: &Run, view: &View, theme: &Theme, area: Rect, buf: &mut Buffer, focused: bool) {
    let tasks: Vec<Curve> = run
        .dev_series()
        .into_iter()
        .map(|s| Curve::of(run, s))
        .collect();
    let pick = self::focused(run, view);
    let mut title = vec![Span::styled(" dev ", theme.title())];
    if let Some((step, _)) = run.evals.last() {
        title.push(Span::styled(format!("@{step} "), theme.dim()));
    }
    match pick {
        Some(i) => {
            let c = &tasks[i];
            title.push(Span::styled(
                format!("{} {} ", c.series.task, c.series.metric),
                theme.series(i).add_modifier(Modifier::BOLD),
            ));
        }
        None => title.push(Span::styled(format!("{} tasks ", tasks.len()), theme.dim())),
    }
    let which = match pick {
        Some(i) => format!("{}/{}", i + 1, tasks.len()),
        None => "all".into(),
    };
    let right = Line::from(vec![
        Span::styled(which, theme.dim()),
        Span::styled(" t ", theme.key()),
    ])
    .right_aligned();
    let block = panel(theme, Line::from(title), focused).title(right);
    let inner = block.inner(area);
    block.render(area, buf);
    if inner.width < 10 || inner.height < 2 {
        return;
    }
    let n = tasks.len() as u16;
    let legend_h = if inner.height >= n + PLOT_MIN_H {
        legend_rows(&tasks, pick, theme, inner, buf);
        n
    } else {
        let max_lines = inner.height.saturating_sub(PLOT_MIN_H).max(1);
        legend_chips(&tasks, pick, theme, inner, max_lines, buf)
    };
    if legend_h >= inner.height {
        return;
    }
    let Some(areas) = areas_below_legend(inner, legend_h) else {
        return;
    };
    let plot = areas.plot;
    let xr = x_range(run, view);
    let shown: Vec<usize> = match pick {
        Some(i) => vec![i],
        None => (0..tasks.len()).collect(),
    };
    let in_x = |&(s, _): &(usize, f64)| (s as f64) >= xr.0 && (s as f64) <= xr.1;
    let (y0, y1) = finite_range(
        shown
            .iter()
            .flat_map(|&i| tasks[i].points.iter().filter(|&p| in_x(p)).map(|p| p.1)),
    );
    let pad = ((y1 - y0) * 0.1).max(0.01);
    let (y0, y1) = (y0 - pad, y1 + pad);
    let series: Vec<(Vec<(f64, f64)>, Color)> = shown
        .iter()
        .map(|&i| {
            let pts = tasks[i]
                .points
                .iter()
                .filter(|&p| in_x(p))
                .map(|&(s, v)| (s as f64, v))
                .collect();
            (pts, theme.series(i).fg.unwrap_or_default())
        })
        .collect();
    curves(buf, plot, (xr, (y0, y1)), &series, true);
    if !theme.color && shown.len() > 1 {
        // Without colours, each curve's end carries its legend number.
        for (&i, (pts, _)) in shown.iter().zip(&series) {
            let Some(&(x, y)) = pts.last() else { continue };
            let Some(col) = x_to_col(plot, xr, x) else {
                continue;
            };
            let t = ((y - y0) / (y1 - y0).max(1e-12)).clamp(0.0, 1.0);
            let row = plot.y + ((1.0 - t) * (plot.height - 1) as f64).round() as u16;
            buf.set_string(col, row, marker(theme, i), theme.text().bold());
        }
    }
    stage_bands(buf, (run, view, theme), plot, areas.strip, xr);
    axis_labels(buf, &areas, (xr, (y0, y1)), false, theme.dim());
}

/// The style of a task's name: bold when drawn large, dim while another one is.
fn name_style(theme: &Theme, pick: Option<usize>, i: usize) -> Style {
    match pick {
        Some(p) if p == i => theme.text().add_modifier(Modifier::BOLD),
        Some(_) => theme.dim(),
        None => theme.text(),
    }
}

/// One legend row per task: `▸● sick     ▁▂▄▆ 0.5512  best 0.5600 @300`.
fn legend_rows(tasks: &[Curve], pick: Option<usize>, theme: &Theme, inner: Rect, buf: &mut Buffer) {
    let name_w = tasks
        .iter()
        .map(|c| c.label().chars().count())
        .max()
        .unwrap_or(0);
    let w = inner.width as usize;
    // Marker column, dot, name, a space, the value.
    let fixed = 1 + 2 + name_w + 1 + 6;
    let best_w = tasks
        .iter()
        .filter_map(|c| c.best)
        .map(|(_, s)| format!("  best 0.0000 @{s}").chars().count())
        .max()
        .unwrap_or(0);
    let room = w.saturating_sub(fixed + 1);
    // A sparkline no wider than the longest series, so the values stay close to the names;
    // the best values come after it when there is room for both.
    let cap = SPARK_MAX_W.min(tasks.iter().map(|c| c.points.len()).max().unwrap_or(0));
    let least = cap.min(4);
    let (spark_w, with_best) = if best_w > 0 && room >= best_w + least {
        ((room - best_w).min(cap), true)
    } else if room >= least {
        (room.min(cap), false)
    } else {
        (0, false)
    };
    for (i, c) in tasks.iter().enumerate() {
        let big = pick == Some(i);
        let mut spans = vec![
            Span::styled(if big { "▸" } else { " " }, theme.key()),
            Span::styled(format!("{} ", marker(theme, i)), theme.series(i)),
            Span::styled(
                format!("{:<name_w$} ", c.label()),
                name_style(theme, pick, i),
            ),
        ];
        if spark_w > 0 {
            let values: Vec<f64> = c.points.iter().map(|p| p.1).collect();
            let line = sparkline(&values, spark_w);
            let pad = spark_w - line.chars().count();
            spans.push(Span::styled(
                format!("{}{line} ", " ".repeat(pad)),
                theme.series(i),
            ));
        }
        spans.push(Span::styled(
            c.last().map_or("-".into(), |v| format!("{v:.4}")),
            theme.series(i),
        ));
        if let (true, Some((bv, bs))) = (with_best, c.best) {
            spans.push(Span::styled(format!("  best {bv:.4} @{bs}"), theme.dim()));
        }
        let y = inner.y + i as u16;
        buf.set_line(inner.x, y, &Line::from(spans), inner.width);
    }
}

/// The tasks as `name value` chips flowed over at most `max_lines` lines; returns the lines used.
fn legend_chips(
    tasks: &[Curve],
    pick: Option<usize>,
    theme: &Theme,
    inner: Rect,
    max_lines: u16,
    buf: &mut Buffer,
) -> u16 {
    let w = inner.width as usize;
    let mut lines: Vec<Vec<Span>> = vec![Vec::new()];
    let mut used = 0usize;
    for (i, c) in tasks.iter().enumerate() {
        let value = c.last().map_or("-".into(), short_value);
        let name = if theme.color {
            c.label()
        } else {
            format!("{}:{}", marker(theme, i), c.label())
        };
        let chip_w = 1 + name.chars().count() + 1 + value.chars().count();
        let sep = usize::from(used > 0);
        if used > 0 && used + sep + chip_w > w {
            lines.push(Vec::new());
            used = 0;
        }
        let line = lines.last_mut().expect("one line at least");
        if used > 0 {
            line.push(Span::raw(" "));
            used += 1;
        }
        let big = pick == Some(i);
        let name_style = if big {
            theme
                .series(i)
                .add_modifier(Modifier::REVERSED | Modifier::BOLD)
        } else {
            theme.series(i)
        };
        line.push(Span::styled(
            if big { "▸" } else { " " }.to_string(),
            theme.key(),
        ));
        line.push(Span::styled(name, name_style));
        line.push(Span::styled(
            format!(" {value}"),
            value_style(theme, pick, i),
        ));
        used += chip_w;
    }
    let n = (lines.len() as u16).min(max_lines).min(inner.height);
    for (k, spans) in lines.into_iter().take(n as usize).enumerate() {
        let y = inner.y + k as u16;
        buf.set_line(inner.x, y, &Line::from(spans), inner.width);
    }
    n
}

/// A chip's value: plain text, dim while another task is drawn large.
fn value_style(theme: &Theme, pick: Option<usize>, i: usize) -> Style {
    match pick {
        Some(p) if p != i => theme.dim(),
        _ => theme.text(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparklines_scale_to_their_values() {
        assert_eq!(sparkline(&[0.1, 0.2, 0.3], 8), "▁▅█");
        assert_eq!(sparkline(&[0.0, 1.0, 0.5, 0.25], 2), "█▁");
        assert_eq!(sparkline(&[0.4, 0.4], 4), "▅▅");
        assert_eq!(short_value(0.55123), ".551");
        assert_eq!(short_value(1.25), "1.250");
    }
}
