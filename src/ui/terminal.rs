//! Terminal set-up and restoration: raw mode, the alternate screen and mouse capture, undone by
//! a guard on drop (every return path, errors included) and by a panic hook (before the panic
//! message is printed, so it is readable). While the UI owns the screen, standard error goes to
//! the log: a line printed by another thread (a run's setup, a library) would draw over a frame.

use crossterm::cursor::Show;
use crossterm::event::{DisableMouseCapture, EnableMouseCapture};
use crossterm::execute;
use crossterm::terminal::{
    disable_raw_mode, enable_raw_mode, EnterAlternateScreen, LeaveAlternateScreen,
};
use ratatui::backend::CrosstermBackend;
use ratatui::Terminal;
use std::io::{self, BufRead, BufWriter, Stdout};
use std::os::fd::FromRawFd;
use std::sync::atomic::{AtomicI32, Ordering};
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

/// The terminal's standard error while it is sent to the log (-1 when it is not).
static SAVED_STDERR: AtomicI32 = AtomicI32::new(-1);

/// Send standard error (fd 2) into a pipe whose lines go to the log (`tracing`, target
/// `stderr`) until [`release_stderr`]. Does nothing when it is already captured or a pipe
/// cannot be made (then stderr stays on the terminal).
fn capture_stderr() {
    if SAVED_STDERR.load(Ordering::SeqCst) >= 0 {
        return;
    }
    let mut fds = [0i32; 2];
    // SAFETY: plain POSIX calls on descriptors this function owns; each failure closes what
    // it opened and leaves fd 2 as it was.
    unsafe {
        if libc::pipe(fds.as_mut_ptr()) != 0 {
            return;
        }
        let saved = libc::dup(2);
        if saved < 0 || libc::dup2(fds[1], 2) < 0 {
            for fd in [fds[0], fds[1], saved] {
                if fd >= 0 {
                    libc::close(fd);
                }
            }
            return;
        }
        libc::close(fds[1]);
        SAVED_STDERR.store(saved, Ordering::SeqCst);
    }
    // SAFETY: fds[0] is the pipe's read end, owned from here on by the reader thread.
    let read_end = unsafe { std::fs::File::from_raw_fd(fds[0]) };
    let _ = std::thread::Builder::new()
        .name("stderr to log".into())
        .spawn(move || {
            // Ends when fd 2 no longer points at the pipe (release) and the pipe is empty.
            for line in io::BufReader::new(read_end).lines() {
                match line {
                    Ok(l) => tracing::info!(target: "stderr", "{l}"),
                    Err(_) => break,
                }
            }
        });
}

/// Put the terminal's standard error back. Safe to call more than once.
fn release_stderr() {
    let saved = SAVED_STDERR.swap(-1, Ordering::SeqCst);
    if saved >= 0 {
        // SAFETY: `saved` is the descriptor `capture_stderr` duplicated and nobody else closes.
        unsafe {
            libc::dup2(saved, 2);
            libc::close(saved);
        }
    }
}

/// Leave raw mode and the alternate screen, stop mouse capture, show the cursor and give
/// standard error back to the terminal. Safe to call more than once.
pub fn restore() -> io::Result<()> {
    release_stderr();
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
                capture_stderr();
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
