//! The event log: evaluations, selections, checkpoints, setting changes, warnings, errors.

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

/// Draw the event log panel; the newest line is at the bottom unless scrolled.
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
    if inner.height == 0 || inner.width < 10 {
        return;
    }
    let end = log.len() - scroll.min(log.len());
    let n = inner.height as usize;
    let start = end.saturating_sub(n);
    let step_w = log
        .iter()
        .filter_map(|e| e.step)
        .max()
        .map_or(1, |s| s.to_string().len());
    for (i, e) in log.range(start..end).enumerate() {
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
        let line = Line::from(vec![
            Span::styled(step, theme.dim()),
            Span::raw(" "),
            Span::styled(t, style),
            Span::raw(" "),
            Span::styled(e.text.as_str(), text_style),
        ]);
        buf.set_line(inner.x, inner.y + i as u16, &line, inner.width);
    }
}
