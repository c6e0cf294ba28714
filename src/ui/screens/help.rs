//! The help overlay: every key, generated from the key table ([`crate::ui::keys`]).

use crate::ui::keys::{self, Section};
use crate::ui::theme::Theme;
use crate::ui::widgets::popup::{self, key_line};
use ratatui::text::Line;
use ratatui::Frame;

/// Draw the help overlay; the replay keys are listed only in the replay viewer.
pub fn draw(frame: &mut Frame, theme: &Theme, replay: bool) {
    let mut lines: Vec<Line> = Vec::new();
    for section in Section::ALL {
        if section == Section::Replay && !replay {
            continue;
        }
        if !lines.is_empty() {
            lines.push(Line::raw(""));
        }
        lines.push(Line::styled(section.title(), theme.title()));
        for b in keys::section(section) {
            lines.push(key_line(theme, b.label, b.help));
        }
    }
    lines.push(Line::raw(""));
    lines.push(Line::styled(
        "Shaded chart bands and ━ under the x axis mark subnetwork stages; ▾ marks a setting change.",
        theme.dim(),
    ));
    lines.push(Line::styled("esc or ? closes this help", theme.dim()));
    popup::draw(frame, theme, "keys", theme.focus_border(), 96, lines);
}
