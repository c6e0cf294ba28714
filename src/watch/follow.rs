//! A run's dashboard that follows its log: the replay viewer over the events read so far, with
//! new events appended as the run writes them (the time cursor stays at the end unless moved).
//! A run whose trainer went away without a `done` event ends as `crashed`, by the one rule of
//! [`RunState::of`].

use crate::core::events::Event;
use crate::runs::event_log::Tail;
use crate::runs::summary::log_state;
use crate::runs::RunState;
use crate::ui::app::App;
use crate::ui::render::draw;
use crate::ui::terminal::TerminalGuard;
use crossterm::event::{self as ct, Event as CtEvent, KeyEventKind};
use ratatui::layout::Rect;
use std::path::Path;
use std::time::{Duration, Instant};

/// How often the logs are read again.
pub const REFRESH: Duration = Duration::from_millis(500);

/// Show the dashboard of the run in `run` until the user quits, reading its log twice a second.
pub fn follow(run: &Path) -> anyhow::Result<()> {
    let path = run.join("events.jsonl");
    let mut tail = Tail::default();
    let mut events = tail.read_new(&path);
    let mut guard = TerminalGuard::new()?;
    let term = &mut guard.terminal;
    let mut cursor = events.len();
    let mut app = App::replay_at(&events, cursor, None);
    let mut last_read = Instant::now();
    let mut dirty = true;
    loop {
        if app.outcome().is_some() {
            return Ok(());
        }
        if last_read.elapsed() >= REFRESH {
            last_read = Instant::now();
            let new = tail.read_new(&path);
            let rewound = tail.rewound();
            if rewound {
                events.clear();
                cursor = 0;
            }
            let crashed = crashed(run, &events) && new.is_empty();
            let was = app.replay.is_some_and(|r| r.crashed);
            if let Some(r) = &mut app.replay {
                r.crashed = crashed;
            }
            if rewound || !new.is_empty() || crashed != was {
                let at_end = cursor == events.len();
                events.extend(new);
                if at_end {
                    cursor = events.len();
                }
                app = App::replay_at(&events, cursor, Some(&app));
                dirty = true;
            }
        }
        if dirty {
            let size = term.size()?;
            app.resize(Rect::new(0, 0, size.width, size.height));
            term.draw(|f| draw(f, &app))?;
            dirty = false;
        }
        if !ct::poll(Duration::from_millis(100))? {
            continue;
        }
        match ct::read()? {
            CtEvent::Key(k) if k.kind != KeyEventKind::Release => {
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
            app = App::replay_at(&events, cursor, Some(&app));
        }
    }
}

/// Whether the run in `run`, whose log holds `events`, has crashed: no `done` event, and its
/// trainer is gone ([`RunState::of`]).
fn crashed(run: &Path, events: &[Event]) -> bool {
    log_state(run, events) == RunState::Crashed
}
