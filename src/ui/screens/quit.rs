//! The quit dialog: checkpoint and quit / quit / cancel.

use crate::ui::run_state::Run;
use crate::ui::theme::Theme;
use crate::ui::view::QUIT_CHOICES;
use crate::ui::widgets::popup;
use ratatui::text::{Line, Span};
use ratatui::Frame;

/// Draw the quit dialog for `run` with button `choice` highlighted.
pub fn draw(frame: &mut Frame, run: &Run, choice: usize, theme: &Theme) {
    let mut lines = vec![
        Line::styled(
            format!("Stop training at step {}/{}?", run.step, run.total_steps),
            theme.text().bold(),
        ),
        Line::raw(""),
    ];
    for (i, (key, label)) in QUIT_CHOICES.iter().enumerate() {
        let style = if i == choice {
            theme.selected()
        } else {
            theme.text()
        };
        lines.push(Line::from(vec![
            Span::raw(if i == choice { " ▸ " } else { "   " }),
            Span::styled(format!("[{key}]"), theme.key()),
            Span::raw(" "),
            Span::styled(*label, style),
        ]));
    }
    lines.push(Line::raw(""));
    lines.push(Line::styled("←/→ choose · enter confirm", theme.dim()));
    popup::draw(frame, theme, "quit", theme.warn(), 44, lines);
}
