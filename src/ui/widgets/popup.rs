//! A popup over the screen: lines in a titled, double-bordered box, centred, with what lies
//! beneath cleared. The help overlays and the quit dialog are popups.

use crate::ui::theme::Theme;
use ratatui::layout::Rect;
use ratatui::style::Style;
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

/// One row of a list of keys: the keys, padded to a column, then what they do.
pub fn key_line<'a>(theme: &Theme, keys: &str, what: &'a str) -> Line<'a> {
    Line::from(vec![
        Span::styled(format!("  {keys:<22}"), theme.key()),
        Span::styled(what, theme.text()),
    ])
}

/// Draw `lines` in a popup at most `width` columns wide and as high as the lines need, titled
/// `title`, its border drawn in `border`.
pub fn draw(
    frame: &mut Frame,
    theme: &Theme,
    title: &str,
    border: Style,
    width: u16,
    lines: Vec<Line>,
) {
    let area = centered(frame.area(), width, lines.len() as u16 + 2);
    frame.render_widget(Clear, area);
    Paragraph::new(lines)
        .block(
            Block::default()
                .borders(Borders::ALL)
                .border_type(BorderType::Double)
                .border_style(border)
                .title(Line::styled(format!(" {title} "), theme.title())),
        )
        .render(area, frame.buffer_mut());
}
