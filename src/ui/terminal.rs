//! Terminal set-up and restoration: raw mode, the alternate screen and mouse capture, undone by
//! a guard on drop (every return path, errors included) and by a panic hook (before the panic
//! message is printed, so it is readable).

use crossterm::cursor::Show;
use crossterm::event::{DisableMouseCapture, EnableMouseCapture};
use crossterm::execute;
use crossterm::terminal::{
    disable_raw_mode, enable_raw_mode, EnterAlternateScreen, LeaveAlternateScreen,
};
use ratatui::backend::CrosstermBackend;
use ratatui::Terminal;
use std::io::{self, BufWriter, Stdout};
use std::sync::Once;
use thiserror::Error;

/// Why the terminal could not be set up.
#[derive(Debug, Error)]
pub enum TerminalError {
    #[error("cannot use the terminal: {0}. Fix: run dps-tui in an interactive terminal, or use `dps-tui train` for headless runs")]
    Setup(#[source] io::Error),
}

/// The terminal type the UI draws on. Buffered, so that a frame reaches the terminal in one
/// write when ratatui flushes at the end of a draw: standard output alone is line-buffered and
/// would send a frame (which has no newlines) in 1 KiB pieces, and a terminal could show a frame
/// half drawn.
pub type Tui = Terminal<CrosstermBackend<BufWriter<Stdout>>>;

/// Room for a whole frame of a large terminal with colours.
const FRAME_BUFFER: usize = 1 << 18;

/// Owns the terminal while the UI runs; restores it when dropped.
pub struct TerminalGuard {
    pub terminal: Tui,
}

static HOOK: Once = Once::new();

/// Install (once) a panic hook that restores the terminal, then runs the previous hook.
pub fn install_panic_hook() {
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let _ = restore();
            previous(info);
        }));
    });
}

/// Leave raw mode and the alternate screen, stop mouse capture and show the cursor. Safe to call
/// more than once.
pub fn restore() -> io::Result<()> {
    let raw = disable_raw_mode();
    let mut out = io::stdout();
    let screen = execute!(out, DisableMouseCapture, LeaveAlternateScreen, Show);
    raw.and(screen)
}

impl TerminalGuard {
    /// Enter raw mode and the alternate screen with mouse capture.
    pub fn new() -> Result<TerminalGuard, TerminalError> {
        install_panic_hook();
        // Download progress bars on stderr would draw over the UI.
        crate::hub::progress::set_terminal_bars(false);
        enable_raw_mode().map_err(TerminalError::Setup)?;
        let mut out = io::stdout();
        if let Err(e) = execute!(out, EnterAlternateScreen, EnableMouseCapture) {
            let _ = restore();
            return Err(TerminalError::Setup(e));
        }
        match Terminal::new(CrosstermBackend::new(BufWriter::with_capacity(
            FRAME_BUFFER,
            io::stdout(),
        ))) {
            Ok(mut terminal) => {
                let _ = terminal.clear();
                Ok(TerminalGuard { terminal })
            }
            Err(e) => {
                let _ = restore();
                Err(TerminalError::Setup(e))
            }
        }
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        // Whatever is still buffered belongs to the alternate screen: send it before leaving,
        // not when the buffer drops after the normal screen is back.
        let _ = io::Write::flush(self.terminal.backend_mut());
        let _ = restore();
        crate::hub::progress::set_terminal_bars(true);
    }
}
