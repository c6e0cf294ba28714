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
use crossterm::event::{Event as CtEvent, KeyEventKind};
use ratatui::layout::Rect;
use ratatui::Frame;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How often the logs are read again.
pub const REFRESH: Duration = Duration::from_millis(500);

/// The dashboard of one run, rebuilt from its log as it grows.
pub struct Follow {
    path: PathBuf,
    tail: Tail,
    events: Vec<Event>,
    cursor: usize,
    pub app: App,
}

impl Follow {
    /// The dashboard of the run in the folder `run`, at the end of what its log holds now.
    pub fn open(run: &Path) -> Follow {
        let path = run.join("events.jsonl");
        let mut tail = Tail::default();
        let events = tail.read_new(&path);
        let cursor = events.len();
        let app = App::replay_at(&events, cursor, None);
        Follow {
            path,
            tail,
            events,
            cursor,
            app,
        }
    }

    /// Read the lines the run wrote since the last read; returns whether the dashboard changed.
    /// The cursor follows the end when it was there. A log that stopped without `done` while
    /// its trainer is gone ends as crashed.
    pub fn read(&mut self) -> bool {
        let new = self.tail.read_new(&self.path);
        let rewound = self.tail.rewound();
        if rewound {
            self.events.clear();
            self.cursor = 0;
        }
        let run = self.path.parent().unwrap_or(Path::new("."));
        let crashed = new.is_empty() && crashed(run, &self.events);
        let was = self.app.replay.is_some_and(|r| r.crashed);
        if let Some(r) = &mut self.app.replay {
            r.crashed = crashed;
        }
        if !rewound && new.is_empty() && crashed == was {
            return false;
        }
        let at_end = self.cursor == self.events.len();
        self.events.extend(new);
        if at_end {
            self.cursor = self.events.len();
        }
        self.app = App::replay_at(&self.events, self.cursor, Some(&self.app));
        true
    }

    /// Keys and the mouse, as in the replay viewer.
    pub fn input(&mut self, ev: CtEvent) {
        match ev {
            CtEvent::Key(k) if k.kind != KeyEventKind::Release => {
                let _ = self.app.on_key(k);
            }
            CtEvent::Mouse(m) => {
                let _ = self.app.on_mouse(m);
            }
            _ => {}
        }
        let want = self.app.replay.map_or(self.cursor, |r| r.cursor);
        if want != self.cursor {
            self.cursor = want;
            self.app = App::replay_at(&self.events, self.cursor, Some(&self.app));
        }
    }

    pub fn draw(&mut self, frame: &mut Frame) {
        let a = frame.area();
        self.app.resize(Rect::new(0, 0, a.width, a.height));
        draw(frame, &self.app);
    }

    /// Whether the user closed it (`q`).
    pub fn closed(&self) -> bool {
        self.app.outcome().is_some()
    }
}

/// Whether the run in `run`, whose log holds `events`, has crashed: no `done` event, and its
/// trainer is gone ([`RunState::of`]).
fn crashed(run: &Path, events: &[Event]) -> bool {
    log_state(run, events) == RunState::Crashed
}
