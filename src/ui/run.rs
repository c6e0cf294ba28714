//! The UI's entry points: the preset picker followed by the dashboard ([`run_app`]), the
//! dashboard alone ([`run_dashboard`]), the replay viewer ([`replay_view`]) and the compare
//! screen ([`compare_view`]). Each is a [`Session`] driven by the one event loop
//! ([`crate::ui::event_loop::run`]).

use crate::core::events::{Command, Event};
use crate::ui::app::{App, Outcome};
use crate::ui::compare::CompareState;
use crate::ui::event_loop::{self, Session, StartFn, TrainerChannels};
use crate::ui::form::Picker;
use crate::ui::render::draw;
use crate::ui::run_state::{RunStatus, RunTimer};
use crate::ui::terminal::TerminalGuard;
use crossbeam_channel::{Receiver, Sender};
use crossterm::event::Event as CtEvent;
use ratatui::layout::Rect;
use ratatui::Frame;
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

/// The live app: the picker (when it has a start function) and the dashboard of a run.
struct Live<'s, 'f> {
    app: App,
    start: Option<&'s mut StartFn<'f>>,
    /// Whether a trainer is attached.
    trainer: bool,
    /// Running time of the attached run.
    timer: RunTimer,
}

impl Session for Live<'_, '_> {
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
        if self.trainer && self.app.is_running() {
            let running = self.app.run.status == RunStatus::Running;
            self.app.clock.wall_elapsed = Some(self.timer.update(running, Instant::now()));
        }
    }

    fn new_trainer(&mut self) -> Option<TrainerChannels> {
        let config = self.app.take_start_request()?;
        let start = self.start.as_deref_mut()?;
        match start(config) {
            Ok(channels) => {
                self.app.begin_run();
                self.trainer = true;
                self.timer = RunTimer::default();
                Some(channels)
            }
            Err(msg) => {
                self.app.start_failed(msg);
                None
            }
        }
    }

    fn draw(&mut self, frame: &mut Frame) {
        app_draw(&mut self.app, frame);
    }

    fn finished(&self) -> bool {
        self.app.outcome().is_some()
    }
}

fn live(
    app: App,
    start: Option<&mut StartFn<'_>>,
    trainer: Option<TrainerChannels>,
) -> anyhow::Result<Outcome> {
    let mut guard = TerminalGuard::new()?;
    let mut session = Live {
        app,
        start,
        trainer: trainer.is_some(),
        timer: RunTimer::default(),
    };
    event_loop::run(&mut guard.terminal, &mut session, trainer)?;
    Ok(session.app.outcome().unwrap_or(Outcome::Quit))
}

/// Run the dashboard for a run that is already started, until it ends or the user quits.
pub fn run_dashboard(
    app: App,
    events: Receiver<Event>,
    commands: Sender<Command>,
) -> anyhow::Result<Outcome> {
    live(app, None, Some((events, commands)))
}

/// Open the preset `picker`; when the user starts a run, call `start` and show the dashboard.
/// An `Err` from `start` is shown in the picker.
pub fn run_app(picker: Picker, start: &mut StartFn<'_>) -> anyhow::Result<Outcome> {
    live(App::with_picker(picker), Some(start), None)
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
/// shift-arrows and page keys jump, home/end go to the ends.
pub fn replay_view(events: Vec<Event>) -> anyhow::Result<()> {
    let mut guard = TerminalGuard::new()?;
    let app = App::replay_at(&events, events.len(), None);
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
