//! The selection heatmap: rows are DPS matrices (layer × module, then pooler and classifier),
//! columns are selection stages, the cell value is chosen by the lens.
//!
//! When the rows do not fit, two rows share a terminal line (`▀`, top row in the foreground
//! colour, bottom row in the background colour). Without colours cells are shade characters and
//! the visible rows scroll with the cursor.

use crate::ui::format::fmt_num;
use crate::ui::run_state::{RowKey, Run};
use crate::ui::theme::Theme;
use crate::ui::view::{Lens, View};
use crate::ui::widgets::heat_scale::{kept_slices, HeatScale};
use crate::ui::widgets::plot::panel;
use ratatui::buffer::Buffer;
use ratatui::layout::{Position, Rect};
use ratatui::style::{Color, Modifier};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget, Wrap};

/// Colour of a cell with no value (churn at the first selection, a matrix missing in a stage).
const MISSING: Color = Color::Rgb(48, 48, 48);

/// Where everything in the heatmap panel goes, computed from the panel rectangle and the state
/// (so mouse clicks map to cells the same way drawing does).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Geometry {
    /// The panel's inner area.
    pub inner: Rect,
    /// The row of stage numbers (height 0 when there is no room).
    pub header: Rect,
    /// Row labels, left of the grid.
    pub labels: Rect,
    /// The cells.
    pub grid: Rect,
    /// The cursor read-out line.
    pub info: Rect,
    /// The colour legend line.
    pub legend: Rect,
    /// Terminal columns per stage.
    pub col_w: u16,
    /// First visible stage column and how many are visible.
    pub first_col: usize,
    pub n_cols: usize,
    /// Matrices per terminal line (1, or 2 with half blocks).
    pub rows_per_line: usize,
    /// First visible line and how many are visible.
    pub first_line: usize,
    pub n_lines: usize,
}

/// Short module names for paired labels.
pub fn short_module(m: &str) -> &str {
    match m {
        "ffn_in" => "f1",
        "ffn_out" => "f2",
        "pooler" => "pool",
        "classifier" => "cls",
        other => other,
    }
}

fn line_label(rows: &[RowKey], line: usize, rpl: usize) -> String {
    let a = &rows[line * rpl];
    if rpl == 1 {
        return a.label();
    }
    match rows.get(line * rpl + 1) {
        Some(b) if b.layer == a.layer => match a.layer {
            Some(l) => format!(
                "L{l} {}/{}",
                short_module(&a.module),
                short_module(&b.module)
            ),
            None => format!("{}/{}", short_module(&a.module), short_module(&b.module)),
        },
        Some(b) => format!("{}/{}", short_label(a), short_label(b)),
        None => short_label(a),
    }
}

fn short_label(r: &RowKey) -> String {
    match r.layer {
        Some(l) => format!("L{l} {}", short_module(&r.module)),
        None => short_module(&r.module).to_string(),
    }
}

/// Compute the panel's geometry.
pub fn geometry(panel_area: Rect, run: &Run, view: &View, theme: &Theme) -> Geometry {
    let inner = Rect::new(
        panel_area.x + 1,
        panel_area.y + 1,
        panel_area.width.saturating_sub(2),
        panel_area.height.saturating_sub(2),
    );
    let rows = run.rows.len();
    let cols = run.selections.len();
    let roomy = inner.height >= 6;
    let header_h = u16::from(roomy);
    let foot_h = if roomy { 2 } else { 0 };
    let grid_h = inner.height.saturating_sub(header_h + foot_h) as usize;
    let rows_per_line = if theme.color && rows > grid_h { 2 } else { 1 };
    let lines = rows.div_ceil(rows_per_line);
    let n_lines = lines.min(grid_h);
    let cursor_line = view.heat_row(run).unwrap_or(0) / rows_per_line;
    let first_line = if n_lines == 0 || cursor_line < n_lines {
        0
    } else {
        (cursor_line + 1 - n_lines).min(lines - n_lines)
    };
    let label_w = (0..lines)
        .map(|l| line_label(&run.rows, l, rows_per_line).chars().count())
        .max()
        .unwrap_or(0)
        .min(inner.width as usize / 3) as u16
        + 1;
    let grid_w = inner.width.saturating_sub(label_w);
    let col_w = (grid_w as usize)
        .checked_div(cols)
        .map_or(1, |w| w.clamp(1, 8) as u16);
    let max_cols = (grid_w / col_w) as usize;
    let n_cols = cols.min(max_cols);
    let cursor_col = view.heat_col(run).unwrap_or(0);
    // The newest columns, unless the cursor is left of them.
    let first_col = cols.saturating_sub(n_cols).min(cursor_col);
    let grid = Rect::new(
        inner.x + label_w,
        inner.y + header_h,
        (n_cols as u16) * col_w,
        n_lines as u16,
    );
    Geometry {
        inner,
        header: Rect::new(grid.x, inner.y, grid.width, header_h),
        labels: Rect::new(inner.x, grid.y, label_w, grid.height),
        grid,
        info: Rect::new(
            inner.x,
            inner.y + inner.height.saturating_sub(foot_h),
            inner.width,
            foot_h.min(1),
        ),
        legend: Rect::new(
            inner.x,
            inner.y + inner.height.saturating_sub(1),
            inner.width,
            u16::from(roomy),
        ),
        col_w,
        first_col,
        n_cols,
        rows_per_line,
        first_line,
        n_lines,
    }
}

/// The (row, column) of the cell at a terminal position inside the heatmap panel.
pub fn hit(
    panel_area: Rect,
    run: &Run,
    view: &View,
    theme: &Theme,
    at: Position,
) -> Option<(usize, usize)> {
    let g = geometry(panel_area, run, view, theme);
    if !g.grid.contains(at) {
        return None;
    }
    let col = g.first_col + ((at.x - g.grid.x) / g.col_w) as usize;
    let line = g.first_line + (at.y - g.grid.y) as usize;
    // A half-block line holds two rows; a click picks the first of them.
    let row = line * g.rows_per_line;
    (row < run.rows.len() && col < run.selections.len()).then_some((row, col))
}

/// One terminal column of a heatmap cell.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Px {
    /// A ramp position in `0..=1`.
    Value(f64),
    /// No value (churn at the first selection, a matrix missing in a stage).
    Missing,
    /// Blank space between stages.
    Gap,
}

impl Px {
    fn of(t: Option<f64>) -> Px {
        t.map_or(Px::Missing, Px::Value)
    }
    fn color(self) -> Color {
        match self {
            Px::Value(t) => Theme::ramp(t),
            Px::Missing => MISSING,
            Px::Gap => Color::Reset,
        }
    }
    fn shade(self) -> char {
        match self {
            Px::Value(t) => Theme::shade(t),
            Px::Missing => '·',
            Px::Gap => ' ',
        }
    }
    fn t(self) -> Option<f64> {
        match self {
            Px::Value(t) => Some(t),
            _ => None,
        }
    }
}

/// The `w` terminal columns of one cell. The selected lens splits a cell into the matrix's
/// heads or row groups, as the zoom draws them; other lenses fill it with one value.
fn cell_ts(run: &Run, scale: &HeatScale, row: usize, col: usize, w: usize) -> Vec<Px> {
    let Some(m) = run.cell(row, col) else {
        return vec![Px::Missing; w];
    };
    if scale.lens == Lens::Selected && w >= 2 {
        // From 4 columns on, the last one stays blank so that stages do not run together.
        let gap = usize::from(w >= 4);
        if let Some(s) = kept_slices(m, w - gap) {
            let mut ts: Vec<Px> = s.into_iter().map(Px::Value).collect();
            ts.extend(std::iter::repeat_n(Px::Gap, gap));
            return ts;
        }
    }
    vec![Px::of(scale.t(m)); w]
}

/// Draw the heatmap panel.
pub fn render(run: &Run, view: &View, theme: &Theme, area: Rect, buf: &mut Buffer, focused: bool) {
    let lens = view.lens;
    let title = Line::from(vec![
        Span::styled(" selection ", theme.title()),
        Span::styled(format!("· {} ", lens.name()), theme.text()),
    ]);
    let block = panel(theme, title, focused).title(
        Line::from(vec![
            Span::styled(" v", theme.key()),
            Span::styled("/", theme.dim()),
            Span::styled("1-4", theme.key()),
            Span::styled(" lens ", theme.dim()),
        ])
        .right_aligned(),
    );
    block.render(area, buf);
    let g = geometry(area, run, view, theme);
    if g.inner.width < 8 || g.inner.height == 0 {
        return;
    }
    if run.selections.is_empty() {
        let msg = if run.hyper.method.is_empty() || run.hyper.method.starts_with("dps") {
            "No selection yet. A subnetwork is selected at the start of every subnet stage; each column here will be one stage."
        } else {
            "This method does not select subnetworks stage by stage: nothing to show here."
        };
        Paragraph::new(Line::styled(msg, theme.dim()))
            .wrap(Wrap { trim: true })
            .render(g.inner, buf);
        return;
    }
    let scale = HeatScale::of(run, lens);
    let cur_row = view.heat_row(run).unwrap_or(0);
    let cur_col = view.heat_col(run).unwrap_or(0);
    let rpl = g.rows_per_line;

    // Column header: stage numbers.
    if g.header.height > 0 {
        for c in 0..g.n_cols {
            let col = g.first_col + c;
            let s = run.selections[col].stage.to_string();
            let x = g.header.x + c as u16 * g.col_w;
            let w = g.col_w as usize;
            if s.len() <= w {
                let style = if col == cur_col {
                    theme.selected()
                } else {
                    theme.dim()
                };
                buf.set_string(x, g.header.y, format!("{s:>w$}"), style);
            } else if col == cur_col {
                buf.set_string(x, g.header.y, "▼", theme.key());
            }
        }
        if g.labels.width >= 6 {
            buf.set_string(g.inner.x, g.header.y, "stage", theme.dim());
        }
    }

    // Rows.
    for l in 0..g.n_lines {
        let line = g.first_line + l;
        let y = g.grid.y + l as u16;
        let label = line_label(&run.rows, line, rpl);
        let has_cursor = cur_row / rpl == line;
        let lw = g.labels.width.saturating_sub(1) as usize;
        let label: String = label.chars().take(lw).collect();
        let label_style = if has_cursor && focused {
            theme.selected()
        } else if has_cursor {
            theme.text().add_modifier(Modifier::BOLD)
        } else {
            theme.dim()
        };
        buf.set_string(g.labels.x, y, format!("{label:>lw$}"), label_style);
        for c in 0..g.n_cols {
            let col = g.first_col + c;
            let x0 = g.grid.x + c as u16 * g.col_w;
            let top_row = line * rpl;
            let w = g.col_w as usize;
            let top = cell_ts(run, &scale, top_row, col, w);
            let bottom = (rpl == 2 && top_row + 1 < run.rows.len())
                .then(|| cell_ts(run, &scale, top_row + 1, col, w));
            for dx in 0..g.col_w {
                let cell = &mut buf[(x0 + dx, y)];
                let t = top[dx as usize];
                if theme.color {
                    let fg = t.color();
                    if rpl == 2 {
                        let b = bottom.as_ref().map_or(Px::Gap, |b| b[dx as usize]);
                        match (t, b) {
                            (Px::Gap, Px::Gap) => cell.set_char(' ').set_bg(Color::Reset),
                            (Px::Gap, b) => {
                                cell.set_char('▄').set_fg(b.color()).set_bg(Color::Reset)
                            }
                            (_, b) => cell.set_char('▀').set_fg(fg).set_bg(b.color()),
                        };
                    } else {
                        cell.set_char(' ').set_bg(fg);
                    }
                } else {
                    cell.set_char(t.shade());
                }
            }
            // The cursor.
            if col == cur_col && has_cursor {
                let mid = x0 + g.col_w / 2;
                let ts = cell_ts(run, &scale, cur_row, col, g.col_w as usize);
                let v = ts[(g.col_w / 2) as usize].t();
                let t = v.unwrap_or(0.0);
                if theme.color {
                    let sym = match (rpl, cur_row % rpl) {
                        (2, 0) => '▲',
                        (2, _) => '▼',
                        _ => '◆',
                    };
                    let bg = v.map_or(MISSING, |_| Theme::ramp(t));
                    buf[(mid, y)]
                        .set_char(sym)
                        .set_fg(Theme::contrast(t))
                        .set_bg(bg);
                } else {
                    for dx in 0..g.col_w {
                        buf[(x0 + dx, y)].modifier.insert(Modifier::REVERSED);
                    }
                }
            }
        }
    }
    if g.first_line > 0 {
        buf.set_string(g.labels.x, g.grid.y, "↑", theme.key());
    }
    if g.first_line + g.n_lines < run.rows.len().div_ceil(rpl) && g.grid.height > 0 {
        buf.set_string(g.labels.x, g.grid.y + g.grid.height - 1, "↓", theme.key());
    }

    // Cursor read-out.
    if g.info.height > 0 {
        let mut spans = Vec::new();
        if let (Some(key), Some(sel)) = (run.rows.get(cur_row), run.selections.get(cur_col)) {
            spans.push(Span::styled(key.label(), theme.text().bold()));
            spans.push(Span::styled(
                format!(" · stage {} @{} · ", sel.stage, sel.step),
                theme.dim(),
            ));
            match run.cell(cur_row, cur_col) {
                Some(m) => {
                    let v = lens.value(m).map_or("n/a".into(), fmt_num);
                    spans.push(Span::styled(format!("{} {v}", lens.short()), theme.key()));
                    if g.info.width >= 70 {
                        let others = Lens::ALL
                            .iter()
                            .filter(|l| **l != lens)
                            .map(|l| {
                                let v = l.value(m).map_or("n/a".into(), |v| match l {
                                    Lens::Selected => format!("{:.1}%", v * 100.0),
                                    _ => fmt_num(v),
                                });
                                format!(" · {} {v}", l.short())
                            })
                            .collect::<String>();
                        spans.push(Span::styled(others, theme.dim()));
                    }
                    if focused && g.info.width >= 100 {
                        spans.push(Span::styled("  enter", theme.key()));
                        spans.push(Span::styled(" zoom", theme.dim()));
                    }
                }
                None => spans.push(Span::styled("not in this selection", theme.dim())),
            }
        }
        buf.set_line(g.info.x, g.info.y, &Line::from(spans), g.info.width);
    }

    // Legend: the encoder's range on the ramp, what bright means, the head's own range.
    if g.legend.height > 0 {
        let width = g.legend.width as usize;
        let (lo, hi) = scale
            .encoder
            .or(scale.head)
            .map_or((0.0, 1.0), |r| (r.lo, r.hi));
        let mut spans = vec![Span::styled(format!("{} ", fmt_num(lo)), theme.dim())];
        let steps = if width >= 100 { 16 } else { 8 };
        for i in 0..steps {
            let t = i as f64 / (steps - 1) as f64;
            if theme.color {
                spans.push(Span::styled(
                    "█",
                    ratatui::style::Style::new().fg(Theme::ramp(t)),
                ));
            } else {
                spans.push(Span::raw(Theme::shade(t).to_string()));
            }
        }
        spans.push(Span::styled(format!(" {}", fmt_num(hi)), theme.dim()));
        let mut used: usize = spans.iter().map(|s| s.content.chars().count()).sum();
        let mut push = |spans: &mut Vec<Span<'static>>, text: String, style| {
            let n = text.chars().count();
            if used + n <= width {
                used += n;
                spans.push(Span::styled(text, style));
                true
            } else {
                false
            }
        };
        if !push(&mut spans, format!("  {}", scale.meaning()), theme.text()) {
            push(&mut spans, format!("  {}", lens.name()), theme.text());
        }
        if let (Some(e), Some(h)) = (scale.encoder, scale.head) {
            if e != h {
                push(
                    &mut spans,
                    format!("  · pool/cls own scale {}–{}", fmt_num(h.lo), fmt_num(h.hi)),
                    theme.dim(),
                );
            }
        }
        if push(&mut spans, "  · ".into(), theme.dim()) {
            let missing = if theme.color {
                Span::styled("█", ratatui::style::Style::new().fg(MISSING))
            } else {
                Span::raw("·")
            };
            spans.push(missing);
            spans.push(Span::styled(" no value", theme.dim()));
        }
        buf.set_line(g.legend.x, g.legend.y, &Line::from(spans), g.legend.width);
    }
}
