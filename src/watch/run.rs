//! The board's loop: read the logs twice a second, redraw, and answer keys. Enter hands the
//! terminal to the run's dashboard, following its log ([`super::follow`]), and takes it back
//! when that closes.

use super::state::{Action, WatchState};
use super::view::draw;
use crate::ui::terminal::TerminalGuard;
use crossterm::event::{self as ct, Event as CtEvent, KeyEventKind};
use std::path::Path;
use std::time::{Duration, Instant};

/// Show the board of every run under `root` until the user quits.
pub fn watch(root: &Path) -> anyhow::Result<()> {
    let mut state = WatchState::new(root);
    state.refresh();
    let mut guard = TerminalGuard::new()?;
    let mut last = Instant::now();
    let mut dirty = true;
    loop {
        if last.elapsed() >= super::follow::REFRESH {
            state.refresh();
            last = Instant::now();
            dirty = true;
        }
        if dirty {
            guard.terminal.draw(|f| draw(f, &state))?;
            dirty = false;
        }
        if !ct::poll(Duration::from_millis(100))? {
            continue;
        }
        match ct::read()? {
            CtEvent::Key(k) if k.kind != KeyEventKind::Release => match state.on_key(k) {
                Action::Quit => return Ok(()),
                Action::Open(run) => {
                    drop(guard);
                    let shown = super::follow::follow(&run);
                    guard = TerminalGuard::new()?;
                    if let Err(e) = shown {
                        tracing::error!("cannot show {}: {e:#}", run.display());
                    }
                }
                Action::None => {}
            },
            _ => {}
        }
        dirty = true;
    }
}
