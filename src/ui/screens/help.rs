//! The help overlay: every key.

use crate::ui::app::App;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Borders, Clear, Paragraph, Widget};
use ratatui::Frame;

/// Every dashboard key: (section, [(keys, what)]).
pub const KEYS: &[(&str, &[(&str, &str)])] = &[
    (
        "Training (sent to the trainer, applied between steps)",
        &[
            ("space", "pause / resume"),
            ("+ / -", "p (share frozen) ± 0.05, from the next selection"),
            ("[ / ]", "peak learning rate ÷ 2 / × 2"),
            ("u", "update ratio: cycle 0.025 → 0.05 → 0.1"),
            (
                "f",
                "DPS freeze: gradient ↔ strict, from the next selection",
            ),
            (
                "g",
                "DPS selection scope: per-matrix ↔ global, from the next selection",
            ),
            ("e", "evaluate on the dev set now"),
            ("c", "write a checkpoint now"),
            ("q", "quit: checkpoint and quit / quit / cancel"),
            ("ctrl-c", "stop without checkpoint (twice: leave at once)"),
        ],
    ),
    (
        "View",
        &[
            ("l", "loss chart: log-y on / off"),
            ("s", "smoothing (EMA): 0 → 0.6 → 0.9 → 0.97"),
            (
                "v / 1-4",
                "heatmap lens: 1 importance, 2 churn, 3 update, 4 selected",
            ),
            ("tab", "focus: loss chart → heatmap → event log"),
            (
                "arrows",
                "heatmap: move the cursor · log: scroll · loss: zoom x",
            ),
            ("enter", "zoom into the matrix under the cursor"),
            ("esc", "back"),
            ("mouse", "click a heatmap cell · wheel over charts: zoom x"),
            ("?", "this help"),
        ],
    ),
    (
        "Replay",
        &[
            ("← / →", "one event back / forward"),
            ("shift ←/→, pgup/pgdn", "jump 2% of the events"),
            ("home / end", "start / end"),
        ],
    ),
];

/// A rectangle of at most `w`×`h` centred in `area`.
pub fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    )
}

/// Draw the help overlay.
pub fn draw(frame: &mut Frame, app: &App) {
    let theme = &app.theme;
    let mut lines: Vec<Line> = Vec::new();
    for (section, keys) in KEYS {
        if *section == "Replay" && app.replay.is_none() {
            continue;
        }
        if !lines.is_empty() {
            lines.push(Line::raw(""));
        }
        lines.push(Line::styled(*section, theme.title()));
        for (k, what) in *keys {
            lines.push(Line::from(vec![
                Span::styled(format!("  {k:<22}"), theme.key()),
                Span::styled(*what, theme.text()),
            ]));
        }
    }
    lines.push(Line::raw(""));
    lines.push(Line::styled(
        "Shaded chart bands and ━ under the x axis mark subnetwork stages; ▾ marks a setting change.",
        theme.dim(),
    ));
    lines.push(Line::styled("esc or ? closes this help", theme.dim()));
    let h = lines.len() as u16 + 2;
    let area = centered(frame.area(), 96, h);
    frame.render_widget(Clear, area);
    Paragraph::new(lines)
        .block(
            Block::default()
                .borders(Borders::ALL)
                .border_type(BorderType::Double)
                .border_style(theme.focus_border())
                .title(Line::styled(" keys ", theme.title())),
        )
        .render(area, frame.buffer_mut());
}
