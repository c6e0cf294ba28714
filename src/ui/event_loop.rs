//! The one event loop shared by the live dashboard, the replay viewer, the compare screen and
//! `watch`: a `select!` over terminal input (read on its own thread), trainer events and a
//! frame tick.
//!
//! Input and trainer events only change the state; the screen is redrawn on the next tick when
//! something changed (at most ~30 frames a second). The trainer is never blocked by drawing:
//! it sends on an unbounded channel that the loop reads as events arrive.

use crate::config::TrainConfig;
use crate::core::events::{Command, Event};
use crate::ui::terminal::Tui;
use crossbeam_channel::{never, select, tick, unbounded, Receiver, Sender};
use crossterm::event::{self as ct, Event as CtEvent};
use ratatui::Frame;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Shortest time between two frames (~30 fps).
pub const FRAME: Duration = Duration::from_millis(33);

/// How often the clock and memory read-outs tick.
pub const CLOCK: Duration = Duration::from_secs(1);

/// A trainer's event receiver and command sender.
pub type TrainerChannels = (Receiver<Event>, Sender<Command>);

/// How a run is started from the picker: given the form's configuration, set the run up (load
/// or download its model and data), start the trainer and return its channels, or a message
/// saying what went wrong and how to fix it (shown in the picker). It runs on its own thread,
/// so the screen shows the setup's downloads as they go.
pub type StartFn = dyn Fn(TrainConfig) -> Result<TrainerChannels, String> + Send + Sync;

/// What the loop drives: the live app, the replay viewer, the compare screen or `watch`.
pub trait Session {
    /// Terminal input (keys, mouse, resize); returns commands for the trainer.
    fn input(&mut self, ev: CtEvent) -> Vec<Command>;
    /// One trainer event.
    fn trainer_event(&mut self, _ev: &Event) {}
    /// The trainer's channel closed.
    fn trainer_gone(&mut self) {}
    /// Once a second: clocks and memory read-outs.
    fn clock(&mut self) {}
    /// Between events (at least once a frame): take in work done off the loop's thread (a
    /// run's setup and its downloads) or read what the session follows (a log on disk, at the
    /// session's own pace). Returns whether the screen changed.
    fn poll(&mut self) -> bool {
        false
    }
    /// A trainer the session just started (the picker's start), to listen to from now on.
    fn new_trainer(&mut self) -> Option<TrainerChannels> {
        None
    }
    /// Draw the whole frame (may record the frame size for mouse hit-testing).
    fn draw(&mut self, frame: &mut Frame);
    /// Whether the session is over.
    fn finished(&self) -> bool;
}

/// Reads terminal events on its own thread and sends them on a channel. Dropping it stops the
/// thread (within a poll interval) and waits for it, so no reader outlives the UI.
pub struct InputReader {
    pub events: Receiver<std::io::Result<CtEvent>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl InputReader {
    /// How long the reader waits for input before checking whether it should stop.
    const POLL: Duration = Duration::from_millis(50);

    pub fn spawn() -> std::io::Result<InputReader> {
        let (tx, rx) = unbounded();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("terminal input".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    let ev = match ct::poll(Self::POLL) {
                        Ok(false) => continue,
                        Ok(true) => ct::read(),
                        Err(e) => Err(e),
                    };
                    let failed = ev.is_err();
                    if tx.send(ev).is_err() || failed {
                        break;
                    }
                }
            })?;
        Ok(InputReader {
            events: rx,
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for InputReader {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Run `session` until it is finished, listening to `trainer` if given (and to any trainer the
/// session starts later).
pub fn run(
    term: &mut Tui,
    session: &mut dyn Session,
    trainer: Option<TrainerChannels>,
) -> anyhow::Result<()> {
    let input = InputReader::spawn()?;
    let (mut events, mut commands) = match trainer {
        Some((rx, tx)) => (Some(rx), Some(tx)),
        None => (None, None),
    };
    let frames = tick(FRAME);
    let no_events = never();
    let mut last_clock = Instant::now();
    let mut dirty = true;
    session.clock();
    term.draw(|f| session.draw(f))?;
    loop {
        if session.poll() {
            dirty = true;
        }
        if let Some((rx, tx)) = session.new_trainer() {
            events = Some(rx);
            commands = Some(tx);
            dirty = true;
        }
        if session.finished() {
            return Ok(());
        }
        select! {
            recv(input.events) -> msg => {
                let ev = match msg {
                    Ok(ev) => ev?,
                    Err(_) => anyhow::bail!("the terminal input reader stopped"),
                };
                for c in session.input(ev) {
                    let sent = commands.as_ref().is_some_and(|tx| tx.send(c).is_ok());
                    if !sent && commands.is_some() {
                        commands = None;
                        session.trainer_gone();
                    }
                }
                dirty = true;
            }
            recv(events.as_ref().unwrap_or(&no_events)) -> msg => {
                match msg {
                    Ok(ev) => session.trainer_event(&ev),
                    Err(_) => {
                        events = None;
                        session.trainer_gone();
                    }
                }
                dirty = true;
            }
            recv(frames) -> _ => {
                if last_clock.elapsed() >= CLOCK {
                    last_clock = Instant::now();
                    session.clock();
                    dirty = true;
                }
                if dirty {
                    term.draw(|f| session.draw(f))?;
                    dirty = false;
                }
            }
        }
    }
}
