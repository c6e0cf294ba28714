//! Download progress: bytes, rate and time left of each file, drawn on stderr with `indicatif`
//! (nothing is drawn when stderr is not a terminal), and turned off while the terminal UI owns
//! the screen. A [`Listener`] set with [`set_listener`] (the terminal UI's) is told the same
//! progress as a [`DownloadStatus`], so it can draw it itself.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One file's download as it stands.
#[derive(Debug, Clone, PartialEq)]
pub struct DownloadStatus {
    /// The file's name in its repository (`model.safetensors`).
    pub file: String,
    /// Bytes on disk, those of a resumed partial file included.
    pub done: u64,
    /// The file's size.
    pub total: u64,
    /// Bytes already on disk when this download started (a resumed partial file).
    pub resumed_from: u64,
    /// Time since this download started.
    pub elapsed: Duration,
}

impl DownloadStatus {
    /// Bytes a second since the start (`None` before anything arrived).
    pub fn rate(&self) -> Option<f64> {
        let got = self.done.saturating_sub(self.resumed_from);
        let secs = self.elapsed.as_secs_f64();
        (got > 0 && secs > 0.0).then(|| got as f64 / secs)
    }

    /// Time left at the rate so far.
    pub fn eta(&self) -> Option<Duration> {
        let left = self.total.saturating_sub(self.done) as f64;
        self.rate().map(|r| Duration::from_secs_f64(left / r))
    }
}

/// Told each change of the download in progress: `Some` while a file downloads, `None` when it
/// ends (finished or failed).
pub type Listener = Arc<dyn Fn(Option<&DownloadStatus>) + Send + Sync>;

static LISTENER: Mutex<Option<Listener>> = Mutex::new(None);

/// Tell `listener` about every download from now on (`None`: stop telling).
pub fn set_listener(listener: Option<Listener>) {
    if let Ok(mut l) = LISTENER.lock() {
        *l = listener;
    }
}

fn tell(status: Option<&DownloadStatus>) {
    let l = LISTENER.lock().ok().and_then(|l| l.clone());
    if let Some(l) = l {
        l(status);
    }
}

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
    /// The download as the [`Listener`] is told it, with its start time.
    status: Option<(DownloadStatus, Instant)>,
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
        let status = DownloadStatus {
            file: file.to_string(),
            done,
            total,
            resumed_from: done,
            elapsed: Duration::ZERO,
        };
        tell(Some(&status));
        self.status = Some((status, Instant::now()));
    }

    fn advance(&mut self, bytes: u64) {
        if let Some(b) = &self.bar {
            if !terminal_bars() && !b.is_hidden() {
                b.set_draw_target(ProgressDrawTarget::hidden());
            }
            b.inc(bytes);
        }
        // Every chunk (256 KiB) is told: the listener keeps the latest, so the bytes shown are
        // the bytes on disk even when the transfer then stalls.
        if let Some((status, since)) = &mut self.status {
            status.done += bytes;
            status.elapsed = since.elapsed();
            tell(Some(status));
        }
    }

    fn finish(&mut self) {
        if self.status.take().is_some() {
            tell(None);
        }
        if let Some(b) = self.bar.take() {
            b.finish();
            // Keep the finished line: the next file's bar starts below it.
            if !b.is_hidden() {
                eprintln!();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_listener_hears_bytes_rate_and_the_end() {
        let heard: Arc<Mutex<Vec<Option<DownloadStatus>>>> = Arc::default();
        let h = heard.clone();
        set_listener(Some(Arc::new(move |s: Option<&DownloadStatus>| {
            h.lock().unwrap().push(s.cloned());
        })));
        let mut bar = StderrBar::new();
        bar.start("model.safetensors", 1000, 100);
        std::thread::sleep(Duration::from_millis(120));
        bar.advance(400);
        bar.finish();
        set_listener(None);
        let heard = heard.lock().unwrap().clone();
        assert_eq!(heard.len(), 3, "start, one chunk, the end: {heard:?}");
        let first = heard[0].clone().unwrap();
        assert_eq!(
            (first.file.as_str(), first.done, first.total),
            ("model.safetensors", 100, 1000)
        );
        assert_eq!(first.rate(), None, "nothing arrived yet");
        let last = heard[1].clone().unwrap();
        assert_eq!(last.done, 500);
        let rate = last.rate().unwrap();
        assert!(rate > 0.0 && rate <= 400.0 / 0.12, "{rate}");
        assert!(last.eta().unwrap() > Duration::ZERO);
        assert_eq!(heard[2], None, "the end is told");
    }
}
