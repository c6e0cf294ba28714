//! The event loops: the preset picker followed by the dashboard ([`run_app`]), the dashboard
//! alone ([`run_dashboard`]), the replay viewer ([`replay_view`]) and the compare screen
//! ([`compare_view`]).
//!
//! Each pass drains every pending trainer event, redraws at most ~30 times a second and only
//! when something changed, and waits for input with a timeout. The trainer is never blocked by
//! drawing: it sends on its own channel and the UI empties that channel every pass.

use crate::config::TrainConfig;
use crate::core::events::{Command, Event};
use crate::ui::app::{App, Outcome};
use crate::ui::form::Picker;
use crate::ui::render::draw;
use crate::ui::terminal::{TerminalGuard, Tui};
use crossbeam_channel::{Receiver, Sender, TryRecvError};
use crossterm::event::{self as ct, Event as CtEvent};
use ratatui::layout::Rect;
use std::time::{Duration, Instant};

/// Shortest time between two frames (~30 fps).
pub const FRAME: Duration = Duration::from_millis(33);

/// How a run is started from the picker: given the form's configuration, start the trainer and
/// return its event receiver and command sender, or a message saying what went wrong and how to
/// fix it (shown in the picker).
pub type StartFn<'a> =
    dyn FnMut(TrainConfig) -> Result<(Receiver<Event>, Sender<Command>), String> + 'a;

/// Resident memory of this process, from `/proc/self/status` (Linux only).
pub fn process_memory() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

struct Channels {
    events: Option<Receiver<Event>>,
    commands: Option<Sender<Command>>,
}

/// Apply every event waiting on the channel; returns whether any arrived (or it closed).
fn drain(app: &mut App, ch: &mut Channels) -> bool {
    let Some(rx) = &ch.events else {
        return false;
    };
    let mut changed = false;
    loop {
        match rx.try_recv() {
            Ok(ev) => {
                app.apply(&ev);
                changed = true;
            }
            Err(TryRecvError::Empty) => break,
            Err(TryRecvError::Disconnected) => {
                app.on_disconnect();
                ch.events = None;
                changed = true;
                break;
            }
        }
    }
    changed
}

fn send(app: &mut App, ch: &Channels, cmds: Vec<Command>) {
    for c in cmds {
        if let Some(tx) = &ch.commands {
            if tx.send(c).is_err() {
                app.on_disconnect();
            }
        }
    }
}

fn frame(term: &mut Tui, app: &mut App) -> anyhow::Result<()> {
    let size = term.size()?;
    app.resize(Rect::new(0, 0, size.width, size.height));
    term.draw(|f| draw(f, app))?;
    Ok(())
}

/// The shared loop. `start` is the picker's start function (`None` for a dashboard only).
fn event_loop(
    term: &mut Tui,
    mut app: App,
    mut ch: Channels,
    mut start: Option<&mut StartFn<'_>>,
) -> anyhow::Result<Outcome> {
    let mut dirty = true;
    let mut last_draw = Instant::now() - FRAME;
    let mut last_clock = Instant::now();
    let mut run_started = Instant::now();
    app.memory_bytes = process_memory();
    loop {
        if drain(&mut app, &mut ch) {
            dirty = true;
        }
        if let Some(config) = app.take_start_request() {
            if let Some(start) = start.as_deref_mut() {
                match start(config) {
                    Ok((rx, tx)) => {
                        ch = Channels {
                            events: Some(rx),
                            commands: Some(tx),
                        };
                        app.begin_run();
                        run_started = Instant::now();
                    }
                    Err(msg) => app.start_failed(msg),
                }
                dirty = true;
            }
        }
        if let Some(o) = app.outcome() {
            return Ok(o);
        }
        // The clock and memory read-outs tick once a second.
        if last_clock.elapsed() >= Duration::from_secs(1) {
            last_clock = Instant::now();
            app.memory_bytes = process_memory();
            if ch.events.is_some() && app.run.status != crate::ui::app::RunStatus::Finished {
                app.wall_elapsed = Some(run_started.elapsed());
            }
            dirty = true;
        }
        if dirty && last_draw.elapsed() >= FRAME {
            frame(term, &mut app)?;
            last_draw = Instant::now();
            dirty = false;
        }
        let timeout = if dirty {
            FRAME.saturating_sub(last_draw.elapsed())
        } else {
            FRAME
        };
        if ct::poll(timeout)? {
            loop {
                match ct::read()? {
                    CtEvent::Key(k) => {
                        let cmds = app.on_key(k);
                        send(&mut app, &ch, cmds);
                    }
                    CtEvent::Mouse(m) => {
                        let cmds = app.on_mouse(m);
                        send(&mut app, &ch, cmds);
                    }
                    CtEvent::Resize(w, h) => app.resize(Rect::new(0, 0, w, h)),
                    _ => {}
                }
                dirty = true;
                if !ct::poll(Duration::ZERO)? {
                    break;
                }
            }
        }
    }
}

/// Run the dashboard for a run that is already started, until it ends or the user quits.
pub fn run_dashboard(
    app: App,
    events: Receiver<Event>,
    commands: Sender<Command>,
) -> anyhow::Result<Outcome> {
    let mut guard = TerminalGuard::new()?;
    event_loop(
        &mut guard.terminal,
        app,
        Channels {
            events: Some(events),
            commands: Some(commands),
        },
        None,
    )
}

/// Open the preset picker; when the user starts a run, call `start` and show the dashboard.
/// An `Err` from `start` is shown in the picker.
pub fn run_app(start: &mut StartFn<'_>) -> anyhow::Result<Outcome> {
    let mut guard = TerminalGuard::new()?;
    let app = App::with_picker(Picker::from_presets());
    event_loop(
        &mut guard.terminal,
        app,
        Channels {
            events: None,
            commands: None,
        },
        Some(start),
    )
}

/// Browse a recorded run: the dashboard as it was after each event. `←/→` move one event,
/// shift-arrows and page keys jump, home/end go to the ends.
pub fn replay_view(events: Vec<Event>) -> anyhow::Result<()> {
    let mut guard = TerminalGuard::new()?;
    let term = &mut guard.terminal;
    let total = events.len();
    let mut cursor = total;
    let mut app = replay_app(&events, cursor, None);
    let mut dirty = true;
    loop {
        if app.outcome().is_some() {
            return Ok(());
        }
        if dirty {
            frame(term, &mut app)?;
            dirty = false;
        }
        if !ct::poll(FRAME)? {
            continue;
        }
        match ct::read()? {
            CtEvent::Key(k) => {
                let _ = app.on_key(k);
            }
            CtEvent::Mouse(m) => {
                let _ = app.on_mouse(m);
            }
            _ => {}
        }
        dirty = true;
        let want = app.replay.map_or(cursor, |r| r.cursor);
        if want != cursor {
            cursor = want;
            app = replay_app(&events, cursor, Some(&app));
        }
    }
}

/// The app after the first `cursor` events of a recording, keeping the view settings of `prev`.
pub fn replay_app(events: &[Event], cursor: usize, prev: Option<&App>) -> App {
    let cursor = cursor.min(events.len());
    let mut app = App::from_events(&events[..cursor]);
    match prev {
        Some(p) => {
            app.view = p.view.clone();
            app.theme = p.theme;
            app.area = p.area;
        }
        // ←/→ scrub the time cursor unless the heatmap has the focus (then they move its
        // cell cursor), so a replay opens with the focus on the loss chart.
        None => app.view.focus = crate::ui::app::Focus::Loss,
    }
    app.replay = Some(crate::ui::app::ReplayInfo {
        cursor,
        total: events.len(),
    });
    app
}

/// Show the compare screen until the user quits.
pub fn compare_view(mut state: crate::ui::compare::CompareState) -> anyhow::Result<()> {
    let mut guard = TerminalGuard::new()?;
    let term = &mut guard.terminal;
    let mut dirty = true;
    loop {
        if state.should_quit() {
            return Ok(());
        }
        if dirty {
            term.draw(|f| crate::ui::screens::compare::draw(f, &state))?;
            dirty = false;
        }
        if !ct::poll(FRAME)? {
            continue;
        }
        match ct::read()? {
            CtEvent::Key(k) => state.on_key(k),
            CtEvent::Resize(..) => {}
            _ => continue,
        }
        dirty = true;
    }
}
