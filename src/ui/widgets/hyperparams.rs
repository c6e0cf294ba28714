//! The settings the dashboard can change, with pending and requested changes.

use crate::config::ControlKey;
use crate::ui::format::fmt_num;
use crate::ui::run_state::Run;
use crate::ui::theme::Theme;
use crate::ui::widgets::plot::panel;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;
use std::collections::BTreeMap;

/// (key, label, key hint) of the changeable settings.
const ROWS: [(ControlKey, &str, &str); 3] = [
    (ControlKey::P, "p (frozen)", "+/-"),
    (ControlKey::LearningRate, "lr (peak)", "[ ]"),
    (ControlKey::UpdateRatio, "update ratio", "u"),
];

fn change_spans<'a>(
    run: &Run,
    requested: &BTreeMap<ControlKey, f64>,
    theme: &Theme,
    key: ControlKey,
) -> Vec<Span<'a>> {
    let mut out = Vec::new();
    if let Some(v) = run.pending_value(key) {
        let when = if key == ControlKey::P {
            "next selection"
        } else {
            "pending"
        };
        out.push(Span::styled(
            format!(" → {} ({when})", fmt_num(v)),
            theme.warn(),
        ));
    }
    if let Some(v) = requested.get(&key) {
        out.push(Span::styled(
            format!(" → {} sent", fmt_num(*v)),
            theme.dim(),
        ));
    }
    out
}

/// Draw the hyperparameter panel.
pub fn render(
    run: &Run,
    requested: &BTreeMap<ControlKey, f64>,
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
        let v = run.current(key).map_or("?".into(), fmt_num);
        let mut spans = vec![
            label(name),
            Span::styled(format!("{v:<8}"), theme.text().bold()),
        ];
        spans.extend(change_spans(run, requested, theme, key));
        let used: usize = spans.iter().map(|s| s.width()).sum();
        let room = inner.width as usize;
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
    requested: &BTreeMap<ControlKey, f64>,
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
    ] {
        let v = run.current(key).map_or("?".into(), fmt_num);
        spans.push(Span::styled(format!(" {short} "), theme.dim()));
        spans.push(Span::styled(v, theme.text()));
        if let Some(p) = run.pending_value(key).or(requested.get(&key).copied()) {
            spans.push(Span::styled(format!("→{}", fmt_num(p)), theme.warn()));
        }
    }
    if let Some(b) = h.batch_size {
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
