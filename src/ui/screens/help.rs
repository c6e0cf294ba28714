//! The help overlay: every key, generated from the key table ([`crate::ui::keys`]).

use crate::ui::keys::{self, Section};
use crate::ui::theme::Theme;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Borders, Clear, Paragraph, Widget};
use ratatui::Frame;

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
            lines.push(Line::from(vec![
                Span::styled(format!("  {:<22}", b.label), theme.key()),
                Span::styled(b.help, theme.text()),
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
