//! The UI's entry points: the preset picker followed by the dashboard ([`run_app`]), the
//! dashboard alone after a setup it shows ([`run_dashboard_after`]), the replay viewer
//! ([`replay_view`]) and the compare screen ([`compare_view`]). Each is a [`Session`] driven by
//! the one event loop ([`crate::ui::event_loop::run`]).

use crate::core::events::{Command, Event};
use crate::hub::progress::DownloadStatus;
use crate::ui::app::{App, Outcome};
use crate::ui::compare::CompareState;
use crate::ui::event_loop::{self, Session, StartFn, TrainerChannels};
use crate::ui::form::Picker;
use crate::ui::render::draw;
use crate::ui::run_state::{Run, RunStatus, RunTimer};
use crate::ui::terminal::TerminalGuard;
use crossbeam_channel::{bounded, unbounded, Receiver, TryRecvError};
use crossterm::event::Event as CtEvent;
use ratatui::layout::Rect;
use ratatui::Frame;
use std::sync::Arc;
use std::time::Instant;

/// Resident memory of this process, from `/proc/self/status` (Linux only).
pub fn process_memory() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Terminal input for an [`App`]: keys and mouse to the app, resizes to its layout.
fn app_input(app: &mut App, ev: CtEvent) -> Vec<Command> {
    match ev {
        CtEvent::Key(k) => app.on_key(k),
        CtEvent::Mouse(m) => app.on_mouse(m),
        CtEvent::Resize(w, h) => {
            app.resize(Rect::new(0, 0, w, h));
            Vec::new()
        }
        _ => Vec::new(),
    }
}

fn app_draw(app: &mut App, frame: &mut Frame) {
    app.resize(frame.area());
    draw(frame, app);
}

/// What a run's setup answers: the trainer's channels and the events its log already holds (a
/// resumed run's history up to the checkpoint; empty for a new run), or why it failed.
pub type SetupAnswer = Result<(TrainerChannels, Vec<Event>), String>;

/// A run's setup in progress on its own thread: its answer arrives here.
type Setup = Receiver<SetupAnswer>;

/// Run `setup` on its own thread; its answer comes on the returned channel.
fn spawn_setup(setup: impl FnOnce() -> SetupAnswer + Send + 'static) -> Setup {
    let (tx, rx) = bounded(1);
    let answer = tx.clone();
    let spawned = std::thread::Builder::new()
        .name("run setup".into())
        .spawn(move || {
            let _ = tx.send(setup());
        });
    if let Err(e) = spawned {
        let _ = answer.send(Err(format!("cannot start the run's setup: {e}")));
    }
    rx
}

/// Tells the session of every download from the Hub while it lives (see
/// [`crate::hub::progress::set_listener`]).
struct DownloadListener(Receiver<Option<DownloadStatus>>);

impl DownloadListener {
    fn install() -> DownloadListener {
        let (tx, rx) = unbounded();
        crate::hub::progress::set_listener(Some(Arc::new(move |s: Option<&DownloadStatus>| {
            let _ = tx.send(s.cloned());
        })));
        DownloadListener(rx)
    }
}

impl Drop for DownloadListener {
    fn drop(&mut self) {
        crate::hub::progress::set_listener(None);
    }
}

/// The live app: the picker (when it has a start function) and the dashboard of a run.
struct Live {
    app: App,
    start: Option<Arc<StartFn>>,
    /// The setup of the run being started, until it answers.
    setup: Option<Setup>,
    /// The channels of a run whose setup has just answered, for the loop to listen to.
    ready: Option<TrainerChannels>,
    /// Why the setup failed, when there is no picker to show it in: the session ends with it.
    failed: Option<String>,
    downloads: DownloadListener,
    /// The last download status heard and when: the clock ages it, so that a stalled transfer
    /// shows its rate falling and its time left growing.
    heard: Option<(DownloadStatus, Instant)>,
    /// Whether a trainer is attached.
    trainer: bool,
    /// Running time of the attached run.
    timer: RunTimer,
}

impl Live {
    fn new(app: App, start: Option<Arc<StartFn>>, setup: Option<Setup>) -> Live {
        let mut live = Live {
            app,
            start,
            setup: None,
            ready: None,
            failed: None,
            downloads: DownloadListener::install(),
            heard: None,
            trainer: false,
            timer: RunTimer::default(),
        };
        if let Some(s) = setup {
            live.app.setup_began();
            live.setup = Some(s);
        }
        live
    }

    /// Take the setup's answer, if it came.
    fn poll_setup(&mut self) -> bool {
        let Some(rx) = &self.setup else {
            return false;
        };
        let answer = match rx.try_recv() {
            Err(TryRecvError::Empty) => return false,
            Ok(a) => a,
            Err(TryRecvError::Disconnected) => {
                Err("the run's setup stopped without an answer (see the log)".into())
            }
        };
        self.setup = None;
        self.heard = None;
        match answer {
            Ok((channels, history)) => {
                self.app.begin_run();
                // A resumed run opens on its history: curves, selections and settings as the
                // log holds them up to the checkpoint.
                if !history.is_empty() {
                    self.app.run = Run::from_events(&history);
                }
                self.trainer = true;
                self.timer = RunTimer::default();
                self.ready = Some(channels);
            }
            Err(msg) if self.app.picker.is_some() => self.app.start_failed(msg),
            Err(msg) => self.failed = Some(msg),
        }
        true
    }
}

impl Session for Live {
    fn input(&mut self, ev: CtEvent) -> Vec<Command> {
        app_input(&mut self.app, ev)
    }

    fn trainer_event(&mut self, ev: &Event) {
        self.app.apply(ev);
    }

    fn trainer_gone(&mut self) {
        self.trainer = false;
        self.app.on_disconnect();
    }

    fn clock(&mut self) {
        self.app.clock.memory_bytes = process_memory();
        if let Some((status, at)) = &self.heard {
            let mut aged = status.clone();
            aged.elapsed += at.elapsed();
            self.app.on_download(Some(aged));
        }
        if self.trainer && self.app.is_running() {
            let running = self.app.run.status == RunStatus::Running;
            self.app.clock.wall_elapsed = Some(self.timer.update(running, Instant::now()));
        }
    }

    fn poll(&mut self) -> bool {
        let mut changed = false;
        for status in self.downloads.0.try_iter() {
            self.heard = status.clone().map(|s| (s, Instant::now()));
            self.app.on_download(status);
            changed = true;
        }
        if self.setup.is_none() {
            let request = self.app.take_start_request();
            if let (Some(config), Some(start)) = (request, self.start.clone()) {
                self.setup = Some(spawn_setup(move || start(config).map(|c| (c, Vec::new()))));
                self.app.setup_began();
                changed = true;
            }
        }
        self.poll_setup() || changed
    }

    fn new_trainer(&mut self) -> Option<TrainerChannels> {
        self.ready.take()
    }

    fn draw(&mut self, frame: &mut Frame) {
        app_draw(&mut self.app, frame);
    }

    fn finished(&self) -> bool {
        self.app.outcome().is_some() || self.failed.is_some()
    }
}

/// Run the live app until it ends; its trainer comes from the setup it starts.
fn live(mut session: Live) -> anyhow::Result<Outcome> {
    {
        let mut guard = TerminalGuard::new()?;
        event_loop::run(&mut guard.terminal, &mut session, None)?;
    }
    if let Some(msg) = session.failed {
        anyhow::bail!(msg);
    }
    Ok(session.app.outcome().unwrap_or(Outcome::Quit))
}

/// Open the dashboard at once and set the run up with `setup` on its own thread (its downloads
/// shown as they go), then show the run until it ends or the user quits. A failed setup ends
/// the dashboard with its message as the error.
pub fn run_dashboard_after(
    app: App,
    setup: Box<dyn FnOnce() -> SetupAnswer + Send>,
) -> anyhow::Result<Outcome> {
    live(Live::new(app, None, Some(spawn_setup(setup))))
}

/// Open the preset `picker`; when the user starts a run, call `start` on its own thread (the
/// picker shows its downloads) and show the dashboard. An `Err` from `start` is shown in the
/// picker.
pub fn run_app(picker: Picker, start: Arc<StartFn>) -> anyhow::Result<Outcome> {
    live(Live::new(App::with_picker(picker), Some(start), None))
}

/// The replay viewer: the app rebuilt from a prefix of the recording whenever the time cursor
/// moves.
struct Replay {
    events: Vec<Event>,
    app: App,
}

impl Session for Replay {
    fn input(&mut self, ev: CtEvent) -> Vec<Command> {
        let before = self.app.replay.map(|r| r.cursor);
        // The replay has no trainer: whatever the keys would send goes nowhere.
        let _ = app_input(&mut self.app, ev);
        let after = self.app.replay.map(|r| r.cursor);
        if let (Some(a), true) = (after, after != before) {
            self.app = App::replay_at(&self.events, a, Some(&self.app));
        }
        Vec::new()
    }

    fn draw(&mut self, frame: &mut Frame) {
        app_draw(&mut self.app, frame);
    }

    fn finished(&self) -> bool {
        self.app.outcome().is_some()
    }
}

/// Browse a recorded run: the dashboard as it was after each event. `←/→` move one event,
/// shift-arrows and page keys jump, home/end go to the ends. `crashed`: the run's trainer went
/// away without a `done` event (see [`App::replay_of`]).
pub fn replay_view(events: Vec<Event>, crashed: bool) -> anyhow::Result<()> {
    let mut guard = TerminalGuard::new()?;
    let app = App::replay_of(&events, crashed);
    let mut session = Replay { events, app };
    event_loop::run(&mut guard.terminal, &mut session, None)
}

struct Compare(CompareState);

impl Session for Compare {
    fn input(&mut self, ev: CtEvent) -> Vec<Command> {
        if let CtEvent::Key(k) = ev {
            self.0.on_key(k);
        }
        Vec::new()
    }

    fn draw(&mut self, frame: &mut Frame) {
        self.0.area = frame.area();
        crate::ui::screens::compare::draw(frame, &self.0);
    }

    fn finished(&self) -> bool {
        self.0.should_quit()
    }
}

/// Show the compare screen until the user quits.
pub fn compare_view(state: CompareState) -> anyhow::Result<()> {
    let mut guard = TerminalGuard::new()?;
    event_loop::run(&mut guard.terminal, &mut Compare(state), None)
}
