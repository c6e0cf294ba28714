//! `draw`: the whole frame as a pure function of the [`App`].

use crate::ui::app::{App, Screen};
use crate::ui::screens;
use crate::ui::view::Overlay;
use ratatui::Frame;

/// Draw the current screen and any overlay.
pub fn draw(frame: &mut Frame, app: &App) {
    match app.screen {
        Screen::Picker => {
            if let Some(p) = &app.picker {
                screens::picker::draw(frame, p, &app.theme, app.setup_text().as_deref());
            }
        }
        Screen::Dashboard => screens::dashboard::draw(frame, app),
    }
    match app.view.overlay {
        Overlay::None => {}
        Overlay::Help => {
            screens::help::draw(frame, &app.theme, app.help_context(), app.view.help_scroll)
        }
        Overlay::Quit { choice } => screens::quit::draw(frame, &app.run, choice, &app.theme),
        Overlay::Details => screens::dashboard::draw_details(frame, app),
    }
}
