//! Download progress: bytes, rate and time left of each file, drawn on stderr with `indicatif`
//! (nothing is drawn when stderr is not a terminal), and turned off while the terminal UI owns
//! the screen.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::sync::atomic::{AtomicBool, Ordering};

/// What a download reports as it goes.
pub trait Progress {
    /// A download of `file` starts: `total` bytes, of which `done` are already on disk
    /// (a resumed partial file).
    fn start(&mut self, file: &str, total: u64, done: u64);
    /// `bytes` more bytes arrived.
    fn advance(&mut self, bytes: u64);
    /// The download ended (finished or failed).
    fn finish(&mut self);
}

/// Reports nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct Silent;

impl Progress for Silent {
    fn start(&mut self, _: &str, _: u64, _: u64) {}
    fn advance(&mut self, _: u64) {}
    fn finish(&mut self) {}
}

static TERMINAL_BARS: AtomicBool = AtomicBool::new(true);

/// Allow (the default) or forbid progress bars on stderr. The terminal UI forbids them while
/// it draws on the alternate screen.
pub fn set_terminal_bars(on: bool) {
    TERMINAL_BARS.store(on, Ordering::SeqCst);
}

/// Whether progress bars may be drawn on stderr.
pub fn terminal_bars() -> bool {
    TERMINAL_BARS.load(Ordering::SeqCst)
}

/// A progress bar on stderr: `file [elapsed] [bar] 12.3 MiB/86.7 MiB 40 MiB/s (eta 2s)`.
/// Hidden when stderr is not a terminal or bars are turned off.
#[derive(Debug, Default)]
pub struct StderrBar {
    bar: Option<ProgressBar>,
}

impl StderrBar {
    pub fn new() -> Self {
        Self::default()
    }
}

const TEMPLATE: &str =
    "{msg} [{elapsed_precise}] [{wide_bar}] {bytes}/{total_bytes} {bytes_per_sec} (eta {eta})";

impl Progress for StderrBar {
    fn start(&mut self, file: &str, total: u64, done: u64) {
        let target = if terminal_bars() {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        };
        let bar = ProgressBar::with_draw_target(Some(total), target);
        if let Ok(style) = ProgressStyle::with_template(TEMPLATE) {
            bar.set_style(style.progress_chars("=> "));
        }
        let chars: Vec<char> = file.chars().collect();
        let name = if chars.len() > 30 {
            format!("…{}", chars[chars.len() - 29..].iter().collect::<String>())
        } else {
            file.to_string()
        };
        bar.set_message(name);
        bar.set_position(done);
        bar.reset_eta();
        self.bar = Some(bar);
    }

    fn advance(&mut self, bytes: u64) {
        if let Some(b) = &self.bar {
            if !terminal_bars() && !b.is_hidden() {
                b.set_draw_target(ProgressDrawTarget::hidden());
            }
            b.inc(bytes);
        }
    }

    fn finish(&mut self) {
        if let Some(b) = self.bar.take() {
            b.finish();
            // Keep the finished line: the next file's bar starts below it.
            if !b.is_hidden() {
                eprintln!();
            }
        }
    }
}
