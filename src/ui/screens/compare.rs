//! The compare screen: loss and dev-metric curves of several runs overlaid (one colour per run,
//! with a legend), and a table of their status, metrics and configurations with the keys that
//! differ highlighted. A pure function of [`CompareState`].

use crate::core::task_metrics;
use crate::runs::summary::RunState;
use crate::ui::compare::CompareState;
use crate::ui::format::{fit, fmt_duration, fmt_num};
use crate::ui::widgets::plot::{
    areas_below_legend, axis_labels, curves, finite_range, panel, x_to_col, ChartAreas,
};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Borders, Paragraph, Widget};
use ratatui::Frame;

const EPS: f64 = 1e-8;

/// The marker written before a configuration key whose values differ between runs.
pub const DIFF_MARK: &str = "≠ ";

/// Keep the last `w` characters of `s`, starting with `…` when cut (run names differ at the end).
fn fit_tail(s: &str, w: usize) -> String {
    let n = s.chars().count();
    if n <= w {
        return s.to_string();
    }
    if w == 0 {
        return String::new();
    }
    let tail: String = s.chars().skip(n - (w - 1)).collect();
    format!("…{tail}")
}

/// The run's colour in the charts, the legend and the table header.
fn run_style(st: &CompareState, i: usize) -> Style {
    st.theme.series(i)
}

/// Draw the compare screen and its help overlay.
pub fn draw(frame: &mut Frame, st: &CompareState) {
    let area = frame.area();
    let buf = frame.buffer_mut();
    if area.width < 20 || area.height < 8 {
        buf.set_string(
            area.x,
            area.y,
            fit("terminal too small", area.width as usize),
            st.theme.warn(),
        );
        return;
    }
    let theme = &st.theme;
    // Title line.
    let mut title = vec![
        Span::styled(" compare ", theme.title().reversed()),
        Span::styled(format!(" {} runs", st.runs.len()), theme.text().bold()),
    ];
    if let Some(m) = st.metric_name() {
        title.push(Span::styled(format!("  │ dev metric {m}"), theme.dim()));
    }
    let n_diff = st.differing_keys().len();
    title.push(Span::styled(
        format!("  │ {n_diff} config keys differ"),
        if n_diff > 0 {
            theme.warn()
        } else {
            theme.dim()
        },
    ));
    buf.set_line(area.x, area.y, &Line::from(title), area.width);
    // Key hints on the last line.
    let hints = Line::from(vec![
        Span::styled(" q", theme.key()),
        Span::styled(" quit  ", theme.dim()),
        Span::styled("l", theme.key()),
        Span::styled(" log-y  ", theme.dim()),
        Span::styled("s", theme.key()),
        Span::styled(" smoothing  ", theme.dim()),
        Span::styled("tab", theme.key()),
        Span::styled(" metric  ", theme.dim()),
        Span::styled("d", theme.key()),
        Span::styled(" differing keys  ", theme.dim()),
        Span::styled("↑↓", theme.key()),
        Span::styled(" scroll  ", theme.dim()),
        Span::styled("?", theme.key()),
        Span::styled(" help", theme.dim()),
    ]);
    buf.set_line(area.x, area.y + area.height - 1, &hints, area.width);

    let body = Rect::new(area.x, area.y + 1, area.width, area.height - 2);
    let chart_h = (body.height * 11 / 20).max(6).min(body.height);
    let charts = Rect::new(body.x, body.y, body.width, chart_h);
    let table = Rect::new(body.x, body.y + chart_h, body.width, body.height - chart_h);
    let left_w = charts.width / 2;
    loss_chart(
        st,
        Rect::new(charts.x, charts.y, left_w, charts.height),
        buf,
    );
    metric_chart(
        st,
        Rect::new(
            charts.x + left_w,
            charts.y,
            charts.width - left_w,
            charts.height,
        ),
        buf,
    );
    if table.height >= 3 {
        config_table(st, table, buf);
    }
    if st.help {
        crate::ui::screens::help::draw(
            frame,
            &st.theme,
            crate::ui::keys::Context::Compare,
            st.help_scroll,
        );
    }
}

/// The step range shared by both charts: every loss step and evaluation of every run.
fn x_range(st: &CompareState) -> (f64, f64) {
    let (mut a, mut b) = (usize::MAX, 0usize);
    for r in &st.runs {
        if let (Some(f), Some(l)) = (r.run.loss.first_step(), r.run.loss.last_step()) {
            a = a.min(f);
            b = b.max(l);
        }
        for (s, _) in &r.run.evals {
            a = a.min(*s);
            b = b.max(*s);
        }
    }
    if a > b {
        return (0.0, 1.0);
    }
    let (a, b) = (a as f64, b as f64);
    if b - a < 1.0 {
        (a, a + 1.0)
    } else {
        (a, b)
    }
}

/// One legend line per run, at the top of `inner`; returns the rows used.
fn legend(
    st: &CompareState,
    inner: Rect,
    buf: &mut Buffer,
    value: impl Fn(usize) -> Vec<Span<'static>>,
) -> u16 {
    let rows = (st.runs.len() as u16).min(inner.height.saturating_sub(3));
    for (i, r) in st.runs.iter().enumerate().take(rows as usize) {
        let mut spans = vec![Span::styled(format!("{} ● ", i + 1), run_style(st, i))];
        let vals = value(i);
        let vals_w: usize = vals.iter().map(|s| s.width()).sum();
        let name_w = (inner.width as usize).saturating_sub(4 + vals_w + 1).max(8);
        spans.push(Span::styled(
            format!("{} ", fit_tail(&r.summary.name, name_w)),
            st.theme.text(),
        ));
        spans.extend(vals);
        buf.set_line(inner.x, inner.y + i as u16, &Line::from(spans), inner.width);
    }
    rows
}

fn loss_chart(st: &CompareState, area: Rect, buf: &mut Buffer) {
    let theme = &st.theme;
    let s = st.smoothing();
    let mut right = Vec::new();
    if s > 0.0 {
        right.push(Span::styled(format!("ema {s}"), theme.dim()));
    } else {
        right.push(Span::styled("raw", theme.dim()));
    }
    if st.log_y {
        right.push(Span::styled(" log-y", theme.warn()));
    }
    right.push(Span::raw(" "));
    let block = panel(theme, Line::styled(" loss ", theme.title()), false)
        .title(Line::from(right).right_aligned());
    let inner = block.inner(area);
    block.render(area, buf);
    if inner.width < 12 || inner.height < 3 {
        return;
    }
    let legend_h = legend(st, inner, buf, |i| {
        let h = &st.runs[i].run.loss;
        let last = if s > 0.0 {
            h.ema(s, h.len()).last().copied()
        } else {
            h.last_loss()
        };
        vec![Span::styled(
            last.map(fmt_num).unwrap_or_else(|| "-".into()),
            run_style(st, i),
        )]
    });
    let Some(areas) = areas_below_legend(inner, legend_h) else {
        return;
    };
    let plot = areas.plot;
    let xr = x_range(st);
    let log = st.log_y;
    let tf = |y: f64| if log { y.max(EPS).log10() } else { y };
    let n = plot.width as usize * 2;
    let series: Vec<Vec<(f64, f64)>> = st
        .runs
        .iter()
        .map(|r| {
            let h = &r.run.loss;
            h.buckets(0, h.len(), n, s)
                .iter()
                .map(|b| (b.x, if s > 0.0 { b.ema } else { b.mean }))
                .filter(|p| p.1.is_finite())
                .map(|(x, y)| (x, tf(y)))
                .collect()
        })
        .collect();
    let (y0, y1) = finite_range(series.iter().flatten().map(|p| p.1));
    let pad = ((y1 - y0) * 0.05).max(1e-6);
    let (y0, y1) = if log {
        (y0 - pad, y1 + pad)
    } else {
        ((y0 - pad).max(0.0).min(y0), y1 + pad)
    };
    run_curves(st, &series, &areas, buf, (xr, (y0, y1)), false);
    axis_labels(buf, &areas, (xr, (y0, y1)), log, theme.dim());
}

fn metric_chart(st: &CompareState, area: Rect, buf: &mut Buffer) {
    let theme = &st.theme;
    let metric = st.metric_name().map(String::from);
    let mut title = vec![Span::styled(" dev ", theme.title())];
    if let Some(m) = &metric {
        title.push(Span::styled(format!("{m} "), theme.title()));
    }
    let mut right = Vec::new();
    if st.metrics.len() > 1 {
        right.push(Span::styled(
            format!("{}/{} (tab) ", st.metric + 1, st.metrics.len()),
            theme.dim(),
        ));
    }
    let block = panel(theme, Line::from(title), false).title(Line::from(right).right_aligned());
    let inner = block.inner(area);
    block.render(area, buf);
    if inner.width < 12 || inner.height < 3 {
        return;
    }
    let Some(metric) = metric else {
        Paragraph::new(Line::styled("no evaluation in these runs", theme.dim())).render(inner, buf);
        return;
    };
    let legend_h = legend(st, inner, buf, |i| {
        let r = &st.runs[i];
        let series = r.summary.metric_series(&metric);
        let mut v = vec![Span::styled(
            series
                .last()
                .map(|p| format!("{:.4}", p.1))
                .unwrap_or_else(|| "-".into()),
            run_style(st, i),
        )];
        if let Some((b, s)) = r.summary.best(&metric) {
            v.push(Span::styled(format!(" best {b:.4} @{s}"), theme.dim()));
        }
        v
    });
    let Some(areas) = areas_below_legend(inner, legend_h) else {
        return;
    };
    let xr = x_range(st);
    let series: Vec<Vec<(f64, f64)>> = st
        .runs
        .iter()
        .map(|r| {
            r.summary
                .metric_series(&metric)
                .into_iter()
                .map(|(s, v)| (s as f64, v))
                .collect()
        })
        .collect();
    let (y0, y1) = finite_range(series.iter().flatten().map(|p| p.1));
    let pad = ((y1 - y0) * 0.1).max(0.01);
    let (y0, y1) = (y0 - pad, y1 + pad);
    run_curves(st, &series, &areas, buf, (xr, (y0, y1)), true);
    axis_labels(buf, &areas, (xr, (y0, y1)), false, theme.dim());
}

/// Draw one line per run in its colour. Without colours, each curve's last point is labelled
/// with the run's number.
fn run_curves(
    st: &CompareState,
    series: &[Vec<(f64, f64)>],
    areas: &ChartAreas,
    buf: &mut Buffer,
    (xr, (y0, y1)): ((f64, f64), (f64, f64)),
    points: bool,
) {
    let plot = areas.plot;
    let coloured: Vec<(Vec<(f64, f64)>, Color)> = series
        .iter()
        .enumerate()
        .map(|(i, pts)| (pts.clone(), run_style(st, i).fg.unwrap_or_default()))
        .collect();
    curves(buf, plot, (xr, (y0, y1)), &coloured, points);
    if !st.theme.color {
        for (i, pts) in series.iter().enumerate() {
            let Some(&(x, y)) = pts.last() else { continue };
            let Some(col) = x_to_col(plot, xr, x) else {
                continue;
            };
            let t = ((y - y0) / (y1 - y0).max(1e-12)).clamp(0.0, 1.0);
            let row = plot.y + ((1.0 - t) * (plot.height - 1) as f64).round() as u16;
            buf.set_string(
                col,
                row,
                format!("{}", (i + 1) % 10),
                st.theme.text().bold(),
            );
        }
    }
}

/// One table line: a label in the first column, then one cell per run.
#[allow(clippy::too_many_arguments)]
fn table_line(
    buf: &mut Buffer,
    x: u16,
    y: u16,
    key_w: usize,
    col_w: usize,
    label: Span<'static>,
    cells: Vec<Span<'static>>,
    max_x: u16,
) {
    let mut spans = vec![Span::styled(
        format!("{:<key_w$}", fit(&label.content, key_w.saturating_sub(1))),
        label.style,
    )];
    for c in cells {
        spans.push(Span::styled(
            format!("{:<col_w$}", fit(&c.content, col_w.saturating_sub(1))),
            c.style,
        ));
    }
    buf.set_line(x, y, &Line::from(spans), max_x.saturating_sub(x));
}

/// The best of `values` for `metric`: the lowest for a loss, else the highest.
fn top_value(metric: &str, values: impl Iterator<Item = f64>) -> Option<f64> {
    let lower = task_metrics::lower_is_better(metric);
    values.reduce(|a, v| if lower { a.min(v) } else { a.max(v) })
}

/// A run's value as shown in the table, highlighted when it is the best of several runs.
fn value_cell(
    v: Option<(f64, String)>,
    top: Option<f64>,
    st: &CompareState,
    theme: &crate::ui::theme::Theme,
) -> Span<'static> {
    match v {
        Some((v, shown)) => Span::styled(
            shown,
            if st.runs.len() > 1 && Some(v) == top {
                theme.ok()
            } else {
                theme.text()
            },
        ),
        None => Span::styled("-".to_string(), theme.text()),
    }
}

fn config_table(st: &CompareState, area: Rect, buf: &mut Buffer) {
    let theme = &st.theme;
    let block = Block::default()
        .borders(Borders::ALL)
        .border_type(BorderType::Rounded)
        .border_style(theme.border())
        .title(Line::styled(" runs ", theme.title()));
    let inner = block.inner(area);
    block.render(area, buf);
    if inner.width < 12 || inner.height == 0 {
        return;
    }
    let n = st.runs.len().max(1);
    let longest = st
        .rows
        .iter()
        .map(|r| r.key.chars().count() + DIFF_MARK.chars().count())
        .chain(
            st.eval_tasks
                .iter()
                .map(|t| "final ".len() + t.key().chars().count()),
        )
        .max()
        .unwrap_or(0)
        .max(16);
    let key_w = (longest + 1).min(inner.width as usize / 3).max(8);
    let col_w = ((inner.width as usize - key_w) / n).max(6);
    let (x, max_x) = (inner.x, inner.x + inner.width);
    let mut y = inner.y;
    let bottom = inner.y + inner.height;
    let line = |buf: &mut Buffer, y: &mut u16, label: Span<'static>, cells: Vec<Span<'static>>| {
        if *y < bottom {
            table_line(buf, x, *y, key_w, col_w, label, cells, max_x);
            *y += 1;
        }
    };
    // Header: run numbers and names in their colours.
    line(
        buf,
        &mut y,
        Span::styled("run", theme.dim()),
        st.runs
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let w = col_w.saturating_sub(3);
                Span::styled(
                    format!("{} {}", i + 1, fit_tail(&r.summary.name, w)),
                    run_style(st, i).add_modifier(Modifier::BOLD),
                )
            })
            .collect(),
    );
    let text = |s: String| Span::styled(s, theme.text());
    line(
        buf,
        &mut y,
        Span::styled("status", theme.dim()),
        st.runs
            .iter()
            .map(|r| {
                Span::styled(
                    r.summary.status.word().to_string(),
                    match r.summary.status {
                        RunState::Finished => theme.ok(),
                        RunState::Stopped => theme.warn(),
                        RunState::Crashed => theme.error(),
                        RunState::Running => theme.warn(),
                    },
                )
            })
            .collect(),
    );
    line(
        buf,
        &mut y,
        Span::styled("steps", theme.dim()),
        st.runs
            .iter()
            .map(|r| text(format!("{}/{}", r.summary.step, r.summary.total_steps)))
            .collect(),
    );
    line(
        buf,
        &mut y,
        Span::styled("train time · wall", theme.dim()),
        st.runs
            .iter()
            .map(|r| {
                text(format!(
                    "{} · {}",
                    fmt_duration(r.summary.train_seconds),
                    r.summary
                        .wall_seconds
                        .map(fmt_duration)
                        .unwrap_or_else(|| "n/a".into())
                ))
            })
            .collect(),
    );
    line(
        buf,
        &mut y,
        Span::styled("final loss", theme.dim()),
        st.runs
            .iter()
            .map(|r| {
                text(
                    r.run
                        .loss
                        .last_loss()
                        .map(|l| format!("{l:.4}"))
                        .unwrap_or_else(|| "-".into()),
                )
            })
            .collect(),
    );
    if let Some(metric) = st.metric_name() {
        let finals: Vec<Option<f64>> = st
            .runs
            .iter()
            .map(|r| r.summary.final_metrics.get(metric).copied())
            .collect();
        let bests: Vec<Option<(f64, usize)>> =
            st.runs.iter().map(|r| r.summary.best(metric)).collect();
        let top = top_value(metric, bests.iter().flatten().map(|b| b.0));
        line(
            buf,
            &mut y,
            Span::styled(format!("final {metric}"), theme.dim()),
            finals
                .iter()
                .map(|v| text(v.map(|v| format!("{v:.4}")).unwrap_or_else(|| "-".into())))
                .collect(),
        );
        line(
            buf,
            &mut y,
            Span::styled(format!("best {metric}"), theme.dim()),
            bests
                .iter()
                .map(|b| value_cell(b.map(|(v, s)| (v, format!("{v:.4} @{s}"))), top, st, theme))
                .collect(),
        );
    }
    // Each eval task's final main metric (but the one plotted, shown above).
    for t in &st.eval_tasks {
        let key = t.key();
        if st.metric_name() == Some(key.as_str()) {
            continue;
        }
        let finals: Vec<Option<f64>> = st
            .runs
            .iter()
            .map(|r| r.summary.final_metrics.get(&key).copied())
            .collect();
        let top = top_value(&key, finals.iter().flatten().copied());
        line(
            buf,
            &mut y,
            Span::styled(format!("final {key}"), theme.dim()),
            finals
                .iter()
                .map(|v| value_cell(v.map(|v| (v, format!("{v:.4}"))), top, st, theme))
                .collect(),
        );
    }
    // The configuration, differing keys marked and highlighted.
    let rows = st.visible_rows();
    let n_diff = st.rows.iter().filter(|r| r.differs).count();
    if y < bottom {
        let title = format!(
            "── config: {} keys, {n_diff} differ{} ",
            st.rows.len(),
            if st.only_diff {
                " (showing those; d: all)"
            } else {
                " (d: only those)"
            }
        );
        buf.set_string(x, y, fit(&title, inner.width as usize), theme.dim());
        y += 1;
    }
    let scroll = st.scroll.min(rows.len().saturating_sub(1));
    let mut shown = 0usize;
    for r in rows.iter().skip(scroll) {
        if y >= bottom {
            break;
        }
        let (label, style) = if r.differs {
            (
                format!("{DIFF_MARK}{}", r.key),
                theme.warn().add_modifier(Modifier::BOLD),
            )
        } else {
            (format!("  {}", r.key), theme.dim())
        };
        let cells = r
            .values
            .iter()
            .map(|v| {
                Span::styled(
                    v.clone().unwrap_or_else(|| "—".into()),
                    if r.differs { style } else { theme.text() },
                )
            })
            .collect();
        line(buf, &mut y, Span::styled(label, style), cells);
        shown += 1;
    }
    if scroll + shown < rows.len() {
        let more = "↓ more";
        let w = more.chars().count() as u16;
        if inner.width > w {
            buf.set_string(max_x - w, bottom - 1, more, theme.dim());
        }
    }
}
