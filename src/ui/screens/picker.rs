//! The preset picker: presets on the left, details and an editable form on the right, and at
//! the bottom why the run could not start or why the settings are invalid: the whole message,
//! wrapped, scrolled with the page keys when it is taller than its box.

use crate::ui::form::{short_model, steps_text, Picker, PickerFocus, FORM_ORIGIN};
use crate::ui::format::{fmt_num, wrap_text};
use crate::ui::readiness::{Need, Status};
use crate::ui::theme::Theme;
use crate::ui::widgets::plot::panel;
use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Position, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget, Wrap};
use ratatui::Frame;

/// The picker's panels on a screen of `area`: `[title, preset list, right half, error box,
/// key hints]`.
fn areas(area: Rect, p: &Picker) -> [Rect; 5] {
    let err_h = p.shown_error().map_or(0, |e| error_box_height(area, e));
    let [title, body, err_area, hints] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Fill(1),
        Constraint::Length(err_h),
        Constraint::Length(1),
    ])
    .areas(area);
    let [list, right] =
        Layout::horizontal([Constraint::Percentage(46), Constraint::Fill(1)]).areas(body);
    [title, list, right, err_area, hints]
}

/// The rows of the preset list inside its panel `inner`: the index of the first preset shown
/// (the highlighted one stays in view) and how many fit below the header.
fn list_rows(p: &Picker, inner: Rect) -> (usize, usize) {
    let rows = inner.height.saturating_sub(1) as usize;
    (p.selected.saturating_sub(rows.saturating_sub(1)), rows)
}

/// The preset drawn at `at` on a screen of `area`, if any (a mouse click selects it).
pub fn preset_at(p: &Picker, area: Rect, at: Position) -> Option<usize> {
    let [_, list, ..] = areas(area, p);
    let inner = panel(&Theme::plain(), Line::default(), false).inner(list);
    if !inner.contains(at) || at.y == inner.y {
        return None;
    }
    let (first, rows) = list_rows(p, inner);
    let i = (at.y - inner.y - 1) as usize;
    (i < rows && first + i < p.presets.len()).then_some(first + i)
}

/// Draw the picker; `setup`: what the run being started is doing (a download's bytes, rate and
/// time left), shown in place of the key hints until the dashboard opens.
pub fn draw(frame: &mut Frame, p: &Picker, theme: &Theme, setup: Option<&str>) {
    let area = frame.area();
    let buf = frame.buffer_mut();
    let err = p.shown_error();
    let [title, list, right, err_area, hints] = areas(area, p);
    if area.height < 3 || area.width < 10 {
        return;
    }
    buf.set_line(
        title.x,
        title.y,
        &Line::from(vec![
            Span::styled(" dps-tui ", theme.title().reversed()),
            Span::styled(
                "  fine-tune an encoder with Dynamic Parameter Selection — pick a preset",
                theme.dim(),
            ),
        ]),
        title.width,
    );
    preset_list(theme, p, list, buf);
    let detail_h = if right.height >= 30 { 9 } else { 0 };
    let [detail, form] =
        Layout::vertical([Constraint::Length(detail_h), Constraint::Fill(1)]).areas(right);
    if detail_h > 0 {
        preset_detail(theme, p, detail, buf);
    }
    form_panel(theme, p, form, buf);
    if let Some(e) = err {
        let title = if p.start_error.is_some() {
            " could not start "
        } else {
            " invalid settings "
        };
        error_box(theme, title, e, p.error_scroll, err_area, buf);
    }
    let keys: &[(&str, &str)] = match p.focus {
        PickerFocus::List => &[
            ("↑↓/click", "preset"),
            ("tab/→", "edit"),
            ("enter", "start"),
            ("q", "quit"),
        ],
        PickerFocus::Form => &[
            ("↑↓", "field"),
            ("type", "edit"),
            ("←→", "method"),
            ("ctrl-u", "clear"),
            ("enter", "start"),
            ("esc/tab", "presets"),
        ],
    };
    if let Some(text) = setup {
        let line = Line::from(vec![
            Span::styled(" starting ", theme.warn().reversed()),
            Span::styled(format!(" {text}"), theme.text()),
        ]);
        buf.set_line(hints.x, hints.y, &line, hints.width);
        return;
    }
    let mut spans = vec![Span::raw(" ")];
    for (k, what) in keys {
        spans.push(Span::styled(*k, theme.key()));
        spans.push(Span::styled(format!(" {what}  "), theme.dim()));
    }
    buf.set_line(hints.x, hints.y, &Line::from(spans), hints.width);
}

/// The error box's height on a screen of `area`: the whole message, as many lines as it wraps
/// to, up to half the screen.
fn error_box_height(area: Rect, msg: &str) -> u16 {
    let lines = wrap_text(msg, area.width.saturating_sub(4) as usize).len() as u16;
    (lines + 2).min(area.height / 2).max(3)
}

/// How far the error box on a screen of `area` can scroll: the lines of `msg` that do not fit.
pub fn error_scroll_max(area: Rect, msg: &str) -> u16 {
    let h = error_box_height(area, msg);
    let (_, first) = error_lines(msg, area.width.saturating_sub(4), h - 2, u16::MAX);
    first as u16
}

/// The lines of the error box for an inner width, and the scroll offset clamped so the
/// last line stays at the bottom: `(lines, first shown)`.
pub fn error_lines(msg: &str, width: u16, height: u16, scroll: u16) -> (Vec<String>, usize) {
    let lines = wrap_text(msg, width as usize);
    let max_first = lines.len().saturating_sub(height as usize);
    let first = (scroll as usize).min(max_first);
    (lines, first)
}

/// An error message in a box: wrapped to the box's width, scrolled by `scroll` lines (clamped),
/// with a hint on the border when there is more to see.
fn error_box(theme: &Theme, title: &str, msg: &str, scroll: u16, area: Rect, buf: &mut Buffer) {
    if area.height < 3 {
        return;
    }
    let inner_w = area.width.saturating_sub(4);
    let text_h = area.height - 2;
    let (lines, first) = error_lines(msg, inner_w, text_h, scroll);
    let below = first + (text_h as usize) < lines.len();
    let hint = match (first > 0, below) {
        (_, true) => " more below: pgdn ",
        (true, false) => " pgup: back to the top ",
        (false, false) => "",
    };
    let block = panel(theme, Line::styled(title.to_string(), theme.error()), false)
        .border_style(theme.error())
        .title_bottom(Line::styled(hint, theme.dim()).right_aligned());
    let inner = block.inner(area);
    block.render(area, buf);
    let text: Vec<Line> = lines
        .into_iter()
        .skip(first)
        .take(text_h as usize)
        .map(|l| Line::styled(format!(" {l}"), theme.text()))
        .collect();
    Paragraph::new(text).render(inner, buf);
}

fn preset_list(theme: &Theme, p: &Picker, area: Rect, buf: &mut Buffer) {
    let block = panel(
        theme,
        Line::styled(" presets ", theme.title()),
        p.focus == PickerFocus::List,
    );
    let inner = block.inner(area);
    block.render(area, buf);
    // The name column fits the longest name (`lowres-1000`, `ood-snli`), so no name runs into
    // the next column; longer than 16 characters it is cut.
    let nw = p
        .presets
        .iter()
        .map(|e| e.name.chars().count() + 1)
        .max()
        .unwrap_or(0)
        .clamp(7, 17);
    let name = |n: &str| n.chars().take(nw - 1).collect::<String>();
    let wide = inner.width as usize >= nw + 49;
    let header = if wide {
        format!(
            "{:<nw$}{:<6}{:<18}{:<12}{}",
            "name", "task", "model", "method", "steps"
        )
    } else {
        format!("{:<nw$}{:<12}{}", "name", "method", "steps")
    };
    if inner.height == 0 {
        return;
    }
    buf.set_string(inner.x + 2, inner.y, header, theme.dim());
    let (first, rows) = list_rows(p, inner);
    for (i, e) in p.presets.iter().enumerate().skip(first).take(rows) {
        let y = inner.y + 1 + (i - first) as u16;
        let text = match &e.config {
            Ok(c) if wide => format!(
                "{:<nw$}{:<6}{:<18}{:<12}{}",
                name(&e.name),
                c.task,
                short_model(&c.model).chars().take(17).collect::<String>(),
                c.method.as_str(),
                steps_text(c)
            ),
            Ok(c) => format!(
                "{:<nw$}{:<12}{}",
                name(&e.name),
                c.method.as_str(),
                steps_text(c)
            ),
            Err(_) => format!("{:<nw$}✗ cannot be read (see below)", name(&e.name)),
        };
        let selected = i == p.selected;
        let style = if selected && p.focus == PickerFocus::List {
            theme.selected()
        } else if selected {
            theme.text().bold()
        } else if e.config.is_err() {
            theme.error()
        } else {
            theme.text()
        };
        let marker = if selected { "▸ " } else { "  " };
        let line = format!("{marker}{text}");
        let w = inner.width as usize;
        buf.set_string(inner.x, y, format!("{line:<w$}"), style);
    }
}

fn preset_detail(theme: &Theme, p: &Picker, area: Rect, buf: &mut Buffer) {
    let Some(e) = p.presets.get(p.selected) else {
        return;
    };
    let block = panel(
        theme,
        Line::styled(format!(" {} ", e.name), theme.title()),
        false,
    );
    let mut lines = vec![Line::styled(e.origin.clone(), theme.dim())];
    match &e.config {
        Ok(c) => {
            let kv = |k: &str, v: String| {
                vec![
                    Span::styled(format!("{k} "), theme.dim()),
                    Span::styled(format!("{v:<10}"), theme.text()),
                ]
            };
            let mut l1 = kv("task", c.task.clone());
            l1.extend(kv("seq", c.max_seq_length.to_string()));
            l1.extend(kv("epochs", fmt_num(c.num_epochs)));
            lines.push(Line::from(l1));
            let mut l2 = kv("warmup", fmt_num(c.warmup_ratio));
            l2.extend(kv("wd", fmt_num(c.weight_decay)));
            l2.extend(kv("clip", fmt_num(c.max_grad_norm)));
            lines.push(Line::from(l2));
            let mut l3 = kv("eval_every", c.eval_every.to_string());
            l3.extend(kv("ckpt_every", c.checkpoint_every.to_string()));
            lines.push(Line::from(l3));
            let mut l4 = kv(
                "scope",
                format!("{:?}", c.selection_scope).to_ascii_lowercase(),
            );
            l4.extend(kv("freeze", format!("{:?}", c.freeze).to_ascii_lowercase()));
            lines.push(Line::from(l4));
            lines.push(Line::styled(format!("model {}", c.model), theme.text()));
        }
        Err(msg) => lines.push(Line::styled(msg.clone(), theme.error())),
    }
    Paragraph::new(lines)
        .wrap(Wrap { trim: true })
        .block(block)
        .render(area, buf);
}

/// The form's title status: honest about whether the model and data can be had.
pub fn form_status(p: &Picker) -> (Status, &'static str) {
    match (&p.readiness, p.is_valid()) {
        (Some(r), true) => match r.status() {
            Status::Ready => (Status::Ready, " ✓ ready: enter starts "),
            Status::Download => (
                Status::Download,
                " ⇣ will download from the Hub: enter starts ",
            ),
            Status::Missing => (Status::Missing, " ✗ model or data missing (see below) "),
        },
        _ => (Status::Missing, " ✗ fix the marked fields "),
    }
}

/// `✓ model <text>`, wrapped to `width` with the text's continuation lines indented.
fn need_lines(theme: &Theme, what: &str, n: &Need, width: u16) -> Vec<Line<'static>> {
    let (mark, style) = match n.status {
        Status::Ready => ("✓ ", theme.ok()),
        Status::Download => ("⇣ ", theme.warn()),
        Status::Missing => ("✗ ", theme.error()),
    };
    let indent = 8;
    wrap_text(&n.text, width.saturating_sub(indent) as usize)
        .into_iter()
        .enumerate()
        .map(|(i, chunk)| {
            let lead = if i == 0 {
                vec![
                    Span::styled(mark, style),
                    Span::styled(format!("{what:<6}"), theme.dim()),
                ]
            } else {
                vec![Span::raw(" ".repeat(indent as usize))]
            };
            let mut spans = lead;
            spans.push(Span::styled(chunk, style));
            Line::from(spans)
        })
        .collect()
}

fn form_panel(theme: &Theme, p: &Picker, area: Rect, buf: &mut Buffer) {
    let focused = p.focus == PickerFocus::Form;
    let (st, text) = form_status(p);
    let status = Span::styled(
        text,
        match st {
            Status::Ready => theme.ok(),
            Status::Download => theme.warn(),
            Status::Missing => theme.error(),
        },
    );
    let block = panel(
        theme,
        Line::styled(" run settings ", theme.title()),
        focused,
    )
    .title(Line::from(status).right_aligned());
    let mut inner = block.inner(area);
    block.render(area, buf);
    // The model's and data's status, at the bottom of the form.
    if let Some(r) = &p.readiness {
        let mut lines = need_lines(theme, "model", &r.model, inner.width);
        lines.extend(need_lines(theme, "data", &r.data, inner.width));
        let h = lines.len() as u16;
        if inner.height >= h + 4 {
            inner.height -= h;
            for (i, l) in lines.iter().enumerate() {
                buf.set_line(inner.x, inner.y + inner.height + i as u16, l, inner.width);
            }
        }
    }
    let label_w = 15usize;
    let mut y = inner.y;
    let bottom = inner.y + inner.height;
    // Keep the highlighted field visible on short screens.
    let err_w = inner.width.saturating_sub(6).max(1) as usize;
    let err_lines = |e: &str| -> Vec<String> {
        let msg = e
            .strip_prefix(FORM_ORIGIN)
            .map(|s| s.trim_start_matches(':').trim())
            .unwrap_or(e);
        let chars: Vec<char> = msg.chars().collect();
        chars
            .chunks(err_w)
            .take(3)
            .map(|c| c.iter().collect())
            .collect()
    };
    let need: Vec<u16> = p
        .fields
        .iter()
        .map(|f| 1 + f.error.as_deref().map_or(0, |e| err_lines(e).len() as u16))
        .collect();
    let mut first = 0;
    while first < p.field && need[first..=p.field].iter().sum::<u16>() > inner.height {
        first += 1;
    }
    for (i, f) in p.fields.iter().enumerate().skip(first) {
        if y >= bottom {
            break;
        }
        let selected = i == p.field && focused;
        let mark = if f.error.is_some() { "✗ " } else { "  " };
        let mut value = f.text.clone();
        if f.key == "method" {
            value = format!("◂ {value} ▸");
        } else if selected {
            value.push('▏');
        }
        let line = Line::from(vec![
            Span::styled(
                mark,
                if f.error.is_some() {
                    theme.error()
                } else {
                    theme.dim()
                },
            ),
            Span::styled(
                format!("{:<label_w$}", f.key),
                if selected {
                    theme.selected()
                } else {
                    theme.dim()
                },
            ),
            Span::raw(" "),
            Span::styled(
                value,
                if f.error.is_some() {
                    theme.error()
                } else if selected {
                    theme.text().bold()
                } else {
                    theme.text()
                },
            ),
        ]);
        buf.set_line(inner.x, y, &line, inner.width);
        y += 1;
        if let Some(e) = &f.error {
            for (k, chunk) in err_lines(e).into_iter().enumerate() {
                if y >= bottom {
                    break;
                }
                let lead = if k == 0 { "↳ " } else { "  " };
                buf.set_line(
                    inner.x + 4,
                    y,
                    &Line::styled(format!("{lead}{chunk}"), theme.error()),
                    inner.width.saturating_sub(4),
                );
                y += 1;
            }
        }
    }
}
