//! The event log: evaluations, selections, checkpoints, setting changes, warnings, errors.

use crate::ui::format::{fit, wrap_capped};
use crate::ui::run_state::{LogKind, Run};
use crate::ui::theme::Theme;
use crate::ui::view::View;
use crate::ui::widgets::plot::panel;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;

/// The tag and its style for a log kind.
pub fn tag(theme: &Theme, kind: LogKind) -> (&'static str, Style) {
    let t = theme;
    match kind {
        LogKind::Info => ("info ", t.dim()),
        LogKind::Stage => ("stage", t.dim()),
        LogKind::Eval => ("eval ", t.ok()),
        LogKind::Selection => ("sel  ", t.title()),
        LogKind::Checkpoint => ("ckpt ", t.title()),
        LogKind::Control => ("set  ", t.marker()),
        LogKind::Warning => ("warn ", t.warn()),
        LogKind::Error => ("ERROR", t.error()),
        LogKind::Done => ("done ", t.ok()),
    }
}

/// Draw the event log panel; the newest line is at the bottom unless scrolled. The bottom
/// line (the newest, or the one scrolled to) shows its whole text, wrapped under its text
/// column in as many rows as the panel has; the lines above take one row each, cut with `…`.
pub fn render(run: &Run, view: &View, theme: &Theme, area: Rect, buf: &mut Buffer, focused: bool) {
    let log = &run.log;
    let scroll = view.log_scroll.min(log.len().saturating_sub(1));
    let mut title = vec![Span::styled(" events ", theme.title())];
    if scroll > 0 {
        title.push(Span::styled(format!("↑{scroll} "), theme.warn()));
    }
    let block = panel(theme, Line::from(title), focused);
    let inner = block.inner(area);
    block.render(area, buf);
    if inner.height == 0 || inner.width < 10 || log.is_empty() {
        return;
    }
    let end = log.len() - scroll.min(log.len());
    let step_w = log
        .iter()
        .filter_map(|e| e.step)
        .max()
        .map_or(1, |s| s.to_string().len());
    // Step, space, five-column tag, space.
    let lead = step_w + 7;
    let text_w = usize::from(inner.width).saturating_sub(lead).max(1);
    let rows = usize::from(inner.height);
    let mut y = inner.y + inner.height;
    for (i, e) in log.range(..end).enumerate().rev() {
        if y == inner.y {
            break;
        }
        let (t, style) = tag(theme, e.kind);
        let step = e
            .step
            .map_or(" ".repeat(step_w), |s| format!("{s:>step_w$}"));
        let text_style = match e.kind {
            LogKind::Error => theme.error(),
            LogKind::Warning => theme.warn(),
            LogKind::Stage => theme.dim(),
            _ => theme.text(),
        };
        let texts = if i + 1 == end && text_w >= 8 {
            wrap_capped(&e.text, text_w, rows, "…").0
        } else {
            vec![fit(&e.text, text_w)]
        };
        let first = Line::from(vec![
            Span::styled(step, theme.dim()),
            Span::raw(" "),
            Span::styled(t, style),
            Span::raw(" "),
        ]);
        // At most the rows left: the bottom line's are capped at the panel's height.
        let top = y - texts.len() as u16;
        for (k, text) in texts.iter().enumerate() {
            let row = top + k as u16;
            if k == 0 {
                buf.set_line(inner.x, row, &first, inner.width);
            }
            buf.set_stringn(
                inner.x + lead as u16,
                row,
                text,
                usize::from(inner.width).saturating_sub(lead),
                text_style,
            );
        }
        y = top;
    }
}
