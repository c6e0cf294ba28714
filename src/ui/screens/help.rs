//! The help overlay of every screen, generated from the key table ([`crate::ui::keys`]): only
//! the keys that do something on that screen ([`Context`]), each description wrapped to the
//! popup's width, scrolled with the keys of [`Section::Help`] when it is taller than the screen,
//! with the position shown in its bottom border.

use crate::ui::keys::{self, Action, Context, Section};
use crate::ui::theme::Theme;
use crate::ui::widgets::popup::{centered, key_line};
use crossterm::event::KeyEvent;
use ratatui::layout::{Alignment, Rect};
use ratatui::text::Line;
use ratatui::widgets::{Block, BorderType, Borders, Clear, Paragraph, Widget};
use ratatui::Frame;

/// The widest the popup gets.
pub const WIDTH: u16 = 96;

/// Columns of a row's keys, indent included (see [`key_line`]).
const KEY_COLUMNS: usize = 24;

/// One row of the help, before styling.
#[derive(Debug, Clone, PartialEq)]
enum Row {
    Blank,
    Title(&'static str),
    /// Keys (empty on a wrapped description's later rows) and a piece of the description.
    Key(&'static str, String),
    Note(String),
}

/// What the help of `ctx` says under its keys.
fn notes(ctx: Context) -> &'static [&'static str] {
    match ctx {
        Context::Live | Context::Replay => &[
            "Shaded chart bands and ━ under the x axis mark subnetwork stages; ▾ marks a setting change.",
        ],
        Context::Compare => &["≠ marks configuration keys whose values differ between runs."],
        Context::Watch => &[],
    }
}

/// The help's rows for `ctx`, `inner` columns wide.
fn rows(ctx: Context, inner: u16) -> Vec<Row> {
    let inner = usize::from(inner);
    let what_w = inner.saturating_sub(KEY_COLUMNS).max(12);
    let mut out = Vec::new();
    for (section, keys) in ctx.rows() {
        if keys.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push(Row::Blank);
        }
        out.push(Row::Title(section.title()));
        for (label, what) in keys {
            for (i, piece) in crate::ui::format::wrap_text(what, what_w)
                .into_iter()
                .enumerate()
            {
                out.push(Row::Key(if i == 0 { label } else { "" }, piece));
            }
        }
    }
    for note in notes(ctx) {
        out.push(Row::Blank);
        out.extend(
            crate::ui::format::wrap_text(note, inner.max(1))
                .into_iter()
                .map(Row::Note),
        );
    }
    out
}

/// Where the popup goes on a screen `area` for `n` rows, and how many rows it shows.
fn geometry(area: Rect, n: usize) -> (Rect, usize) {
    let popup = centered(area, WIDTH, n.saturating_add(2).min(u16::MAX.into()) as u16);
    (popup, usize::from(popup.height.saturating_sub(2)))
}

/// How far the help of `ctx` scrolls on a screen `area`: its rows beyond those shown.
pub fn max_scroll(area: Rect, ctx: Context) -> usize {
    let inner = WIDTH.min(area.width).saturating_sub(2);
    let n = rows(ctx, inner).len();
    n.saturating_sub(geometry(area, n).1)
}

/// A key pressed while the help of `ctx` is open, scrolled to `scroll`, on a screen `area`:
/// the new scroll, or `None` when the key closes the help.
pub fn on_key(ctx: Context, area: Rect, scroll: usize, ev: &KeyEvent) -> Option<usize> {
    let max = max_scroll(area, ctx);
    let scroll = scroll.min(max);
    let Some(p) = keys::lookup(&[Section::Help], ev) else {
        return Some(scroll);
    };
    let page = usize::from(area.height.saturating_sub(4)).max(1);
    let by = |n: usize| {
        if p.back {
            scroll.saturating_sub(n)
        } else {
            (scroll + n).min(max)
        }
    };
    match p.action {
        Action::Scroll => Some(by(1)),
        Action::Page => Some(by(page)),
        Action::Ends => Some(if p.back { 0 } else { max }),
        Action::Back => None,
        _ => Some(scroll),
    }
}

/// Draw the help of `ctx`, scrolled `scroll` rows down (clamped to what there is).
pub fn draw(frame: &mut Frame, theme: &Theme, ctx: Context, scroll: usize) {
    let area = frame.area();
    let inner = WIDTH.min(area.width).saturating_sub(2);
    let all = rows(ctx, inner);
    let (popup, shown) = geometry(area, all.len());
    let max = all.len().saturating_sub(shown);
    let scroll = scroll.min(max);
    let lines: Vec<Line> = all[scroll..(scroll + shown).min(all.len())]
        .iter()
        .map(|r| match r {
            Row::Blank => Line::raw(""),
            Row::Title(t) => Line::styled(*t, theme.title()),
            Row::Key(k, what) => key_line(theme, k, what),
            Row::Note(n) => Line::styled(n.as_str(), theme.dim()),
        })
        .collect();
    let mut block = Block::default()
        .borders(Borders::ALL)
        .border_type(BorderType::Double)
        .border_style(theme.focus_border())
        .title(Line::styled(" keys ", theme.title()));
    if max > 0 {
        let more = match (scroll > 0, scroll < max) {
            (true, true) => "↑↓",
            (false, _) => "↓",
            (true, false) => "↑",
        };
        block = block.title_bottom(
            Line::styled(
                format!(
                    " {more} {}–{} of {} · pgup/pgdn home/end ",
                    scroll + 1,
                    scroll + shown,
                    all.len()
                ),
                theme.dim(),
            )
            .alignment(Alignment::Right),
        );
    }
    frame.render_widget(Clear, popup);
    Paragraph::new(lines)
        .block(block)
        .render(popup, frame.buffer_mut());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions_wrap_under_their_keys() {
        let r = rows(Context::Live, 78);
        for row in &r {
            let w = match row {
                Row::Key(_, what) => KEY_COLUMNS + what.chars().count(),
                Row::Note(n) => n.chars().count(),
                _ => 0,
            };
            assert!(w <= 78, "{row:?} is {w} wide");
        }
        let wrapped = r.iter().filter(|x| matches!(x, Row::Key("", _))).count();
        assert!(wrapped > 0, "some description needs two rows at 80 columns");
    }
}
