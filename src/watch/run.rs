//! The board's loop: read the logs twice a second, redraw, and answer keys. Enter hands the
//! terminal to the run's dashboard (`dps-tui replay RUN`, a child process) and takes it back
//! when that closes.

use super::state::{Action, WatchState};
use super::view::draw;
use crate::ui::terminal::TerminalGuard;
use crossterm::event::{self as ct, Event as CtEvent, KeyEventKind};
use std::path::Path;
use std::time::{Duration, Instant};

/// How often the logs are read again.
pub const REFRESH: Duration = Duration::from_millis(500);

/// Show the board of every run under `root` until the user quits. `exe` is this program, run as
/// `exe replay RUN` to open a run's dashboard.
pub fn watch(root: &Path, exe: &Path) -> anyhow::Result<()> {
    let mut state = WatchState::new(root);
    state.refresh();
    let mut guard = TerminalGuard::new()?;
    let mut last = Instant::now();
    let mut dirty = true;
    loop {
        if last.elapsed() >= REFRESH {
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
                    let st = std::process::Command::new(exe)
                        .arg("replay")
                        .arg(&run)
                        .status();
                    guard = TerminalGuard::new()?;
                    if let Err(e) = st {
                        tracing::error!("cannot open {}: {e}", run.display());
                    }
                }
                Action::None => {}
            },
            _ => {}
        }
        dirty = true;
    }
}
