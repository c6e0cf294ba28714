//! The UI state ([`App`]): the run as the events tell it ([`Run`]), the view settings
//! ([`View`]), the picker, and what the user asked of the trainer. Trainer events come in
//! through [`App::apply`] (which hands them to the reducer, [`crate::ui::reducer`]); input comes
//! in through [`crate::ui::input`].
//!
//! Rendering never changes the state; see [`crate::ui::render::draw`].

use crate::config::{Control, ControlKey, TrainConfig};
use crate::core::events::{Event, MatrixReport};
use crate::hub::progress::DownloadStatus;
use crate::ui::form::Picker;
use crate::ui::run_state::{same_value, Clock, Run, RunStatus};
use crate::ui::theme::Theme;
use crate::ui::view::{Focus, ReplayInfo, View};
use ratatui::layout::Rect;
use std::collections::BTreeMap;

/// How a UI session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The run finished (a `done` event arrived) and the user closed the dashboard.
    Finished,
    /// The user quit (the trainer was asked to stop without a checkpoint), or quit the picker.
    Quit,
    /// The user asked for a checkpoint, then quit.
    QuitWithCheckpoint,
}

/// The screen on display.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Screen {
    Picker,
    Dashboard,
}

/// The whole UI state.
#[derive(Debug, Clone)]
pub struct App {
    pub screen: Screen,
    pub picker: Option<Picker>,
    pub run: Run,
    pub view: View,
    pub theme: Theme,
    /// The terminal size at the last frame (used to map mouse positions to panels).
    pub area: Rect,
    pub clock: Clock,
    /// The latest change sent to the trainer per key, until the trainer answers that very
    /// request with a `control` event (answers to earlier presses keep it).
    pub requested: BTreeMap<ControlKey, Control>,
    /// Set when the replay viewer drives this app.
    pub replay: Option<ReplayInfo>,
    pub(crate) start_request: Option<TrainConfig>,
    /// Whether a run is being set up (its model and data loaded, downloaded when the cache
    /// lacks them) and has sent no event yet.
    pub starting: bool,
    /// The download in progress while a run is set up, shown in the picker and the status bar.
    pub download: Option<DownloadStatus>,
    pub(crate) quit_requested: Option<Outcome>,
    pub(crate) exit: Option<Outcome>,
}

impl Default for App {
    fn default() -> Self {
        App::new()
    }
}

impl App {
    /// A dashboard waiting for its first event, with the theme from the environment.
    pub fn new() -> App {
        App {
            screen: Screen::Dashboard,
            picker: None,
            run: Run::default(),
            view: View::default(),
            theme: Theme::from_env(),
            area: Rect::new(0, 0, 120, 40),
            clock: Clock::default(),
            requested: BTreeMap::new(),
            replay: None,
            start_request: None,
            starting: false,
            download: None,
            quit_requested: None,
            exit: None,
        }
    }

    /// An app that opens on the preset picker.
    pub fn with_picker(picker: Picker) -> App {
        App {
            screen: Screen::Picker,
            picker: Some(picker),
            ..App::new()
        }
    }

    /// A dashboard with `events` applied in order: a resumed run's log before its trainer goes
    /// on, or a prefix of a recording (replay).
    pub fn from_events(events: &[Event]) -> App {
        App {
            run: Run::from_events(events),
            ..App::new()
        }
    }

    /// The app after the first `cursor` events of a recording, keeping the view settings of
    /// `prev` (the replay viewer rebuilds it whenever the time cursor moves).
    pub fn replay_at(events: &[Event], cursor: usize, prev: Option<&App>) -> App {
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
            None => app.view.focus = Focus::Loss,
        }
        let crashed = prev.and_then(|p| p.replay).is_some_and(|r| r.crashed);
        app.replay = Some(ReplayInfo {
            cursor,
            total: events.len(),
            crashed,
        });
        if crashed && cursor == events.len() {
            app.run.on_disconnect();
        }
        app.clock.wall_elapsed = running_time(&events[..cursor]);
        app
    }

    /// The replay of a whole recording opened at its end; `crashed` when the run's trainer
    /// went away without a `done` event ([`crate::runs::RunState::Crashed`]), which its end
    /// then shows as `runs` does.
    pub fn replay_of(events: &[Event], crashed: bool) -> App {
        let mut app = App::replay_at(events, events.len(), None);
        if let Some(r) = &mut app.replay {
            r.crashed = crashed;
        }
        App::replay_at(events, events.len(), Some(&app))
    }

    /// Switch to a fresh dashboard for a run that is starting: nothing of the previous run
    /// (its state, view, or requests) carries over.
    pub fn begin_run(&mut self) {
        self.starting = false;
        self.download = None;
        self.screen = Screen::Dashboard;
        self.run = Run::default();
        self.view = View::default();
        self.requested.clear();
        self.quit_requested = None;
        self.clock.wall_elapsed = None;
    }

    /// A run's setup began (the picker's start, or the command line's run): the picker or the
    /// dashboard says so, with any download, until the run starts or fails.
    pub fn setup_began(&mut self) {
        self.starting = true;
        self.download = None;
    }

    /// A download of the run's setup moved on (`Some`) or ended (`None`).
    pub fn on_download(&mut self, status: Option<DownloadStatus>) {
        self.download = status;
    }

    /// What the run's setup is doing, while it runs: the download in progress, else that the
    /// model and data are being loaded.
    pub fn setup_text(&self) -> Option<String> {
        if !self.starting {
            return None;
        }
        Some(match &self.download {
            Some(d) => crate::ui::format::download_text(d),
            None => "loading the model and data…".into(),
        })
    }

    /// Show why a run could not start (picker screen).
    pub fn start_failed(&mut self, message: String) {
        self.starting = false;
        self.download = None;
        self.screen = Screen::Picker;
        if let Some(p) = &mut self.picker {
            p.show_start_error(message);
        }
    }

    /// The configuration the user asked to start, taken once.
    pub fn take_start_request(&mut self) -> Option<TrainConfig> {
        self.start_request.take()
    }

    /// How the session ended, once it has.
    pub fn outcome(&self) -> Option<Outcome> {
        self.exit
    }

    /// Which screen's keys the help lists: the replay's or the live dashboard's.
    pub fn help_context(&self) -> crate::ui::keys::Context {
        if self.replay.is_some() {
            crate::ui::keys::Context::Replay
        } else {
            crate::ui::keys::Context::Live
        }
    }

    /// Whether the run is live and the clock should tick.
    pub fn is_running(&self) -> bool {
        self.replay.is_none() && !self.run.disconnected && self.run.status != RunStatus::Finished
    }

    /// Record the terminal size (the event loop calls this before each frame).
    pub fn resize(&mut self, area: Rect) {
        self.area = area;
    }

    /// The smoothing factor in use.
    pub fn smoothing(&self) -> f64 {
        self.view.smoothing()
    }

    /// The selected heatmap column (the newest when following).
    pub fn heat_col(&self) -> Option<usize> {
        self.view.heat_col(&self.run)
    }

    /// The selected heatmap row, clamped to the rows that exist.
    pub fn heat_row(&self) -> Option<usize> {
        self.view.heat_row(&self.run)
    }

    /// The matrix under the heatmap cursor.
    pub fn cursor_report(&self) -> Option<&MatrixReport> {
        self.view.cursor_report(&self.run)
    }

    /// Fold one trainer event into the state (see [`crate::ui::reducer`]).
    pub fn apply(&mut self, ev: &Event) {
        self.run.apply(ev);
        match ev {
            Event::Control { key, value, .. } => {
                let answered = self
                    .requested
                    .get(key)
                    .is_some_and(|c| same_value(&c.value_json(), value));
                if answered {
                    self.requested.remove(key);
                }
            }
            Event::Done { .. } => {
                if let Some(o) = self.quit_requested {
                    self.exit = Some(o);
                }
            }
            _ => {}
        }
    }

    /// The event channel closed. Ends a requested quit; otherwise marks the run as failed unless
    /// it finished.
    pub fn on_disconnect(&mut self) {
        if self.run.disconnected {
            return;
        }
        if let Some(o) = self.quit_requested {
            self.run.disconnected = true;
            self.exit = Some(o);
            return;
        }
        self.run.on_disconnect();
    }
}

/// The running time of a recorded run after `events`, from its steps' `run_seconds` (each part
/// of a resumed run counts from its own `start` event; paused time is left out by the trainer).
/// `None` for a log without them (the status bar then sums the step times).
pub fn running_time(events: &[Event]) -> Option<std::time::Duration> {
    let (mut earlier, mut part, mut any) = (0.0, 0.0, false);
    for e in events {
        match e {
            Event::Start { .. } => earlier += std::mem::take(&mut part),
            Event::Step {
                run_seconds: Some(s),
                ..
            } if s.is_finite() && *s >= 0.0 => {
                part = *s;
                any = true;
            }
            _ => {}
        }
    }
    any.then(|| std::time::Duration::from_secs_f64(earlier + part))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::events::{Command, EVENT_SCHEMA_VERSION};
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

    fn start(freeze: &str) -> Event {
        Event::Start {
            schema: EVENT_SCHEMA_VERSION,
            task: "demo".into(),
            method: "dps-dense".into(),
            total_steps: 100,
            steps_per_epoch: 10,
            num_train: 160,
            num_dev: 32,
            config: serde_json::json!({"p": 0.3, "freeze": freeze, "learning_rate": 1e-3}),
            start_step: 0,
            device: None,
        }
    }

    fn press(app: &mut App, c: char) -> Vec<Command> {
        app.on_key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE))
    }

    fn freeze_sent(cmds: &[Command]) -> Option<String> {
        cmds.iter().find_map(|c| match c {
            Command::Control(c @ crate::config::Control::Freeze(_)) => {
                c.value_json().as_str().map(String::from)
            }
            _ => None,
        })
    }

    #[test]
    fn a_new_run_does_not_inherit_the_last_runs_option_requests() {
        let mut app = App::new();
        app.apply(&start("gradient"));
        assert_eq!(
            freeze_sent(&press(&mut app, 'f')).as_deref(),
            Some("strict")
        );
        // The next run starts with freeze = gradient again: `f` must ask for strict, not
        // toggle the first run's request back to gradient.
        app.begin_run();
        assert!(app.requested.is_empty());
        app.apply(&start("gradient"));
        assert_eq!(
            freeze_sent(&press(&mut app, 'f')).as_deref(),
            Some("strict")
        );
    }

    #[test]
    fn a_control_event_settles_the_request_and_done_ends_a_requested_quit() {
        let mut app = App::new();
        app.apply(&start("gradient"));
        press(&mut app, '+');
        assert_eq!(app.requested.get(&ControlKey::P), Some(&Control::P(0.35)));
        app.apply(&Event::Control {
            step: 3,
            key: ControlKey::P,
            value: serde_json::json!(0.35),
            status: crate::core::events::ControlStatus::Pending,
            message: None,
        });
        assert!(app.requested.is_empty());
        press(&mut app, 'q');
        assert!(app.outcome().is_none(), "q opens the dialog first");
        press(&mut app, 'c');
        assert!(app.outcome().is_none(), "waits for the trainer");
        app.apply(&Event::Done {
            step: 3,
            metrics: Default::default(),
            stopped_early: true,
        });
        assert_eq!(app.outcome(), Some(Outcome::QuitWithCheckpoint));
    }
}
