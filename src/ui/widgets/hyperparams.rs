//! The settings the dashboard can change, with pending and requested changes.

use crate::config::{Control, ControlKey};
use crate::ui::format::fmt_num;
use crate::ui::run_state::{same_value, Run};
use crate::ui::theme::Theme;
use crate::ui::widgets::plot::panel;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;
use serde_json::Value;
use std::collections::BTreeMap;

/// (key, label, key hint) of the changeable settings: every [`ControlKey`].
const ROWS: [(ControlKey, &str, &str); 5] = [
    (ControlKey::P, "p (frozen)", "+/-"),
    (ControlKey::LearningRate, "lr (peak)", "[ ]"),
    (ControlKey::UpdateRatio, "update ratio", "u"),
    (ControlKey::SelectionScope, "scope", "g"),
    (ControlKey::Freeze, "freeze", "f"),
];

/// A control value as shown: a number in the dashboard's format, or the name.
fn shown(v: &Value) -> String {
    match (v.as_f64(), v.as_str()) {
        (Some(x), _) => fmt_num(x),
        (_, Some(s)) => s.to_string(),
        _ => v.to_string(),
    }
}

/// The value in effect for `key`, as shown.
pub fn applied_text(run: &Run, key: ControlKey) -> String {
    run.applied(key).map_or("?".into(), |v| shown(&v))
}

/// The one change waiting for `key`, if any: the latest request not yet answered, else the
/// trainer's pending value, with whether it is only sent. `None` when that is the value in
/// effect (asking for it back cancels the change).
pub fn wanted(
    run: &Run,
    requested: &BTreeMap<ControlKey, Control>,
    key: ControlKey,
) -> Option<(String, bool)> {
    let (value, sent) = match requested.get(&key) {
        Some(c) => (c.value_json(), true),
        None => (run.pending_json(key)?.clone(), false),
    };
    if run.applied(key).is_some_and(|a| same_value(&a, &value)) {
        return None;
    }
    Some((shown(&value), sent))
}

fn change_spans<'a>(
    run: &Run,
    requested: &BTreeMap<ControlKey, Control>,
    theme: &Theme,
    key: ControlKey,
    room: usize,
) -> Vec<Span<'a>> {
    let Some((v, sent)) = wanted(run, requested, key) else {
        return Vec::new();
    };
    let when = match key {
        _ if sent => "sent",
        ControlKey::P | ControlKey::SelectionScope | ControlKey::Freeze => "next selection",
        ControlKey::LearningRate | ControlKey::UpdateRatio => "pending",
    };
    let full = format!(" → {v} ({when})");
    let text = if full.chars().count() <= room {
        full
    } else {
        format!(" → {v}")
    };
    let style = if sent { theme.dim() } else { theme.warn() };
    vec![Span::styled(text, style)]
}

/// Draw the hyperparameter panel.
pub fn render(
    run: &Run,
    requested: &BTreeMap<ControlKey, Control>,
    theme: &Theme,
    area: Rect,
    buf: &mut Buffer,
) {
    let block = panel(theme, Line::styled(" settings ", theme.title()), false);
    let inner = block.inner(area);
    block.render(area, buf);
    let h = &run.hyper;
    let mut lines: Vec<Line> = Vec::new();
    let label = |s: &str| Span::styled(format!("{s:<13}"), theme.dim());
    lines.push(Line::from(vec![
        label("method"),
        Span::styled(h.method.clone(), theme.text().bold()),
        Span::styled(
            format!(
                "   batch {}",
                h.batch_size.map_or("?".into(), |b| b.to_string())
            ),
            theme.text(),
        ),
    ]));
    for (key, name, hint) in ROWS {
        let v = applied_text(run, key);
        let mut spans = vec![
            label(name),
            Span::styled(format!("{v:<8}"), theme.text().bold()),
        ];
        let room = inner.width as usize;
        let used: usize = spans.iter().map(|s| s.width()).sum();
        spans.extend(change_spans(
            run,
            requested,
            theme,
            key,
            room.saturating_sub(used),
        ));
        let used: usize = spans.iter().map(|s| s.width()).sum();
        if used + hint.len() + 2 <= room {
            spans.push(Span::raw(" ".repeat(room - used - hint.len())));
            spans.push(Span::styled(hint, theme.key()));
        }
        lines.push(Line::from(spans));
    }
    lines.push(Line::from(vec![
        label("lr now"),
        Span::styled(fmt_num(run.lr), theme.text()),
        Span::styled(
            run.grad_norm
                .map(|g| format!("   |g| {}", fmt_num(g)))
                .unwrap_or_default(),
            theme.text(),
        ),
    ]));
    if let Some((step, path)) = &run.last_checkpoint {
        lines.push(Line::from(vec![
            label("checkpoint"),
            Span::styled(format!("@{step} {path}"), theme.dim()),
        ]));
    }
    for (i, line) in lines.iter().take(inner.height as usize).enumerate() {
        buf.set_line(inner.x, inner.y + i as u16, line, inner.width);
    }
}

/// A one-line summary for narrow screens.
pub fn render_line(
    run: &Run,
    requested: &BTreeMap<ControlKey, Control>,
    theme: &Theme,
    area: Rect,
    buf: &mut Buffer,
) {
    let h = &run.hyper;
    let mut spans = vec![Span::styled(format!(" {} ", h.method), theme.text().bold())];
    for (key, short) in [
        (ControlKey::P, "p"),
        (ControlKey::LearningRate, "lr"),
        (ControlKey::UpdateRatio, "ur"),
        (ControlKey::SelectionScope, "scope"),
        (ControlKey::Freeze, "freeze"),
    ] {
        spans.push(Span::styled(format!(" {short} "), theme.dim()));
        spans.push(Span::styled(applied_text(run, key), theme.text()));
        if let Some((v, _)) = wanted(run, requested, key) {
            spans.push(Span::styled(format!("→{v}"), theme.warn()));
        }
    }
    let used: usize = spans.iter().map(|s| s.width()).sum();
    if let Some(b) = h
        .batch_size
        .filter(|_| used + 24 <= usize::from(area.width))
    {
        spans.push(Span::styled(" bs ", theme.dim()));
        spans.push(Span::styled(b.to_string(), theme.text()));
    }
    if let Some((step, m)) = run.evals.last() {
        let mut own = crate::core::task_metrics::own_metrics(m);
        if let Some((k, v)) = own
            .clone()
            .find(|(k, _)| k.as_str() != "loss")
            .or_else(|| own.next())
        {
            spans.push(Span::styled(format!("  dev@{step} "), theme.dim()));
            spans.push(Span::styled(format!("{k} {v:.3}"), theme.ok()));
        }
    }
    buf.set_line(area.x, area.y, &Line::from(spans), area.width);
}
