//! `draw`: the whole frame as a pure function of the [`App`].

use crate::ui::app::{App, Overlay, Screen};
use crate::ui::screens;
use ratatui::Frame;

/// Draw the current screen and any overlay.
pub fn draw(frame: &mut Frame, app: &App) {
    match app.screen {
        Screen::Picker => screens::picker::draw(frame, app),
        Screen::Dashboard => screens::dashboard::draw(frame, app),
    }
    match app.view.overlay {
        Overlay::None => {}
        Overlay::Help => screens::help::draw(frame, app),
        Overlay::Quit { .. } => screens::quit::draw(frame, app),
    }
}
