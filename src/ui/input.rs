//! Input: keys and the mouse change the view, and some keys become trainer [`Command`]s.
//!
//! Dashboard keys are looked up in the key table ([`crate::ui::keys`]); [`App::command`] is the
//! one place that turns a key's action into a command for the trainer.

use crate::config::{Control, ControlKey};
use crate::core::events::Command;
use crate::ui::app::{App, Outcome, Screen};
use crate::ui::form::PickerFocus;
use crate::ui::keys::{self, Action, Pressed, Section};
use crate::ui::run_state::{same_value, Activity, LogKind, RunStatus};
use crate::ui::view::{Dir, Focus, Lens, Overlay, QUIT_CHOICES};
use crossterm::event::{
    KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseButton, MouseEvent, MouseEventKind,
};
use ratatui::layout::Position;

/// What a training key pressed in the replay viewer answers.
pub const REPLAY_NOTICE: &str =
    "replay: training controls are off (this is a recording); q leaves, ? lists the keys";

/// The update ratios `u` cycles through.
pub const UPDATE_RATIOS: [f64; 3] = [0.025, 0.05, 0.1];

fn dir(code: KeyCode) -> Option<Dir> {
    match code {
        KeyCode::Up => Some(Dir::Up),
        KeyCode::Down => Some(Dir::Down),
        KeyCode::Left => Some(Dir::Left),
        KeyCode::Right => Some(Dir::Right),
        _ => None,
    }
}

impl App {
    /// Handle a key press; returns the commands to send to the trainer.
    pub fn on_key(&mut self, key: KeyEvent) -> Vec<Command> {
        if key.kind == KeyEventKind::Release {
            return Vec::new();
        }
        match self.screen {
            Screen::Picker => {
                self.picker_key(key);
                Vec::new()
            }
            Screen::Dashboard => self.dashboard_key(key),
        }
    }

    /// Whether commands can reach a trainer (a live, unfinished run).
    pub fn accepts_commands(&self) -> bool {
        self.replay.is_none()
            && !self.run.disconnected
            && matches!(self.run.status, RunStatus::Running | RunStatus::Paused)
            && self.run.activity != Some(Activity::Stopping)
    }

    fn picker_key(&mut self, key: KeyEvent) {
        let area = self.area;
        let starting = self.starting;
        let Some(p) = self.picker.as_mut() else {
            return;
        };
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        if ctrl && key.code == KeyCode::Char('c') {
            self.exit = Some(Outcome::Quit);
            return;
        }
        match (p.focus, key.code) {
            // One start at a time: the picker waits for the run being set up.
            (_, KeyCode::Enter) if starting => {}
            (_, KeyCode::Enter) => match p.resolve() {
                Some(config) => {
                    p.start_error = None;
                    self.start_request = Some(config);
                }
                None => p.show_start_error(
                    "cannot start: fix the fields marked ✗ first (the message under each says what it accepts)"
                        .into(),
                ),
            },
            // Page keys scroll the error message at the bottom.
            (_, KeyCode::PageUp | KeyCode::PageDown) => {
                let max = p
                    .shown_error()
                    .map_or(0, |m| crate::ui::screens::picker::error_scroll_max(area, m));
                let by = if key.code == KeyCode::PageUp { -3 } else { 3 };
                p.scroll_error(by, max);
            }
            (_, KeyCode::Tab) | (_, KeyCode::BackTab) => {
                p.focus = match p.focus {
                    PickerFocus::List => PickerFocus::Form,
                    PickerFocus::Form => PickerFocus::List,
                }
            }
            (PickerFocus::List, KeyCode::Char('q')) | (PickerFocus::List, KeyCode::Esc) => {
                self.exit = Some(Outcome::Quit)
            }
            (PickerFocus::List, KeyCode::Up | KeyCode::Char('k')) => {
                p.select(p.selected.saturating_sub(1))
            }
            (PickerFocus::List, KeyCode::Down | KeyCode::Char('j')) => p.select(p.selected + 1),
            (PickerFocus::List, KeyCode::Home) => p.select(0),
            (PickerFocus::List, KeyCode::End) => p.select(usize::MAX),
            (PickerFocus::List, KeyCode::Right | KeyCode::Char('l') | KeyCode::Char('e')) => {
                p.focus = PickerFocus::Form
            }
            (PickerFocus::Form, KeyCode::Esc) => p.focus = PickerFocus::List,
            (PickerFocus::Form, KeyCode::Up) => p.field = p.field.saturating_sub(1),
            (PickerFocus::Form, KeyCode::Down) => {
                p.field = (p.field + 1).min(p.fields.len().saturating_sub(1))
            }
            (PickerFocus::Form, KeyCode::Left) if p.fields[p.field].key == "method" => {
                p.cycle_method(-1)
            }
            (PickerFocus::Form, KeyCode::Right | KeyCode::Char(' '))
                if p.fields[p.field].key == "method" =>
            {
                p.cycle_method(1)
            }
            (PickerFocus::Form, KeyCode::Backspace) => p.backspace(),
            (PickerFocus::Form, KeyCode::Char('u')) if ctrl => p.clear_field(),
            (PickerFocus::Form, KeyCode::Char(c)) if !ctrl => p.type_char(c),
            _ => {}
        }
    }

    fn dashboard_key(&mut self, key: KeyEvent) -> Vec<Command> {
        self.view.notice = None;
        let pressed = keys::lookup(&[Section::Training, Section::View], &key);
        if pressed.is_some_and(|b| b.action == Action::Interrupt) {
            return self.interrupt();
        }
        match self.view.overlay {
            Overlay::Help => {
                let ctx = self.help_context();
                match crate::ui::screens::help::on_key(ctx, self.area, self.view.help_scroll, &key)
                {
                    Some(scroll) => self.view.help_scroll = scroll,
                    None => self.view.overlay = Overlay::None,
                }
                return Vec::new();
            }
            Overlay::Details => {
                if matches!(
                    key.code,
                    KeyCode::Esc | KeyCode::Char('?') | KeyCode::Char('q') | KeyCode::Enter
                ) {
                    self.view.overlay = Overlay::None;
                }
                return Vec::new();
            }
            Overlay::Quit { choice } => return self.quit_dialog_key(key, choice),
            Overlay::None => {}
        }
        if self.replay.is_some() {
            if let Some(b) = keys::lookup(&[Section::Replay], &key) {
                if self.replay_key(b, key.code) {
                    return Vec::new();
                }
            }
        }
        let Some(b) = pressed else {
            return Vec::new();
        };
        let training = b.section == Section::Training && b.action != Action::Quit;
        if training && self.replay.is_some() {
            self.view.notice = Some(REPLAY_NOTICE);
            return Vec::new();
        }
        let live = self.accepts_commands();
        match b.action {
            Action::Quit => self.quit_key(),
            Action::Help => {
                self.view.overlay = Overlay::Help;
                self.view.help_scroll = 0;
            }
            Action::LogY => self.view.log_y = !self.view.log_y,
            Action::Smoothing => {
                self.view.smoothing = (self.view.smoothing + 1) % crate::ui::view::SMOOTHING.len()
            }
            Action::NextLens => self.view.lens = self.view.lens.next(),
            Action::PickLens => {
                if let KeyCode::Char(c @ '1'..='4') = key.code {
                    self.view.lens = Lens::ALL[(c as u8 - b'1') as usize];
                }
            }
            Action::NextDevTask => {
                let series = self.run.dev_series();
                let tasks: Vec<&str> = series.iter().map(|s| s.task.as_str()).collect();
                self.view.cycle_dev_focus(&tasks, b.back);
            }
            Action::Focus => {
                self.view.focus = if b.back {
                    self.view.focus.next().next()
                } else {
                    self.view.focus.next()
                }
            }
            Action::Zoom if self.view.zoom => self.view.zoom = false,
            Action::Zoom if crate::ui::screens::dashboard::banner_lines(self, self.area).1 => {
                self.view.overlay = Overlay::Details
            }
            Action::Zoom if self.view.focus == Focus::Heatmap && self.cursor_report().is_some() => {
                self.view.zoom = true
            }
            Action::Back => self.view.zoom = false,
            Action::Arrow => self.arrow(key.code),
            Action::Page if self.view.focus == Focus::Log => {
                let lines = if b.back { 10 } else { -10 };
                self.view.scroll_log(lines, self.run.log.len());
            }
            _ if live => return self.command(b).into_iter().collect(),
            _ => {}
        }
        Vec::new()
    }

    /// The one place a key's action becomes a trainer command (`None` when there is nothing
    /// to send). Changes are remembered as requested until the trainer acknowledges them.
    fn command(&mut self, pressed: Pressed) -> Option<Command> {
        match pressed.action {
            Action::PauseResume => Some(if self.run.status == RunStatus::Paused {
                Command::Resume
            } else {
                Command::Pause
            }),
            Action::StepP => {
                let p = self.base_value(ControlKey::P)?;
                let step = if pressed.back { -0.05 } else { 0.05 };
                let value = ((p + step) * 100.0).round() / 100.0;
                let value = ControlKey::P
                    .range()
                    .map_or(value, |r| r.clamp(value, 0.05));
                self.request(Control::P(value))
            }
            Action::ScaleLr => {
                let factor = if pressed.back { 0.5 } else { 2.0 };
                let lr = self.base_value(ControlKey::LearningRate)? * factor;
                let value = ControlKey::LearningRate
                    .range()
                    .map_or(lr, |r| r.clamp(lr, 1e-9));
                self.request(Control::LearningRate(value))
            }
            Action::CycleUpdateRatio => {
                let cur = self.base_value(ControlKey::UpdateRatio).unwrap_or(0.05);
                let value = UPDATE_RATIOS
                    .iter()
                    .copied()
                    .find(|r| *r > cur + 1e-9)
                    .unwrap_or(UPDATE_RATIOS[0]);
                self.request(Control::UpdateRatio(value))
            }
            Action::ToggleFreeze => self.toggle_option(ControlKey::Freeze),
            Action::ToggleScope => self.toggle_option(ControlKey::SelectionScope),
            Action::Evaluate => {
                self.run.activity = Some(Activity::Evaluating);
                Some(Command::Evaluate)
            }
            Action::Checkpoint => {
                self.run.activity = Some(Activity::Checkpointing);
                Some(Command::Checkpoint)
            }
            _ => None,
        }
    }

    /// Remember a change as requested and send it; nothing when it asks for what the last
    /// request, the pending change or else the value in effect already is.
    fn request(&mut self, control: Control) -> Option<Command> {
        let key = control.key();
        let base = self
            .requested
            .get(&key)
            .map(Control::value_json)
            .or_else(|| {
                self.run
                    .pending_json(key)
                    .cloned()
                    .or_else(|| self.run.applied(key))
            });
        if base.is_some_and(|b| same_value(&b, &control.value_json())) {
            return None;
        }
        self.requested.insert(key, control);
        Some(Command::Control(control))
    }

    /// The value a change starts from: the last request, else the pending change, else the
    /// value in effect.
    fn base_value(&self, key: ControlKey) -> Option<f64> {
        self.requested
            .get(&key)
            .and_then(Control::number)
            .or_else(|| self.run.pending_value(key))
            .or_else(|| self.run.current(key))
    }

    /// Request the other of the two [`ControlKey::choices`] of a method option (from the last
    /// request, else the pending change, else the value in effect, else the first choice).
    fn toggle_option(&mut self, key: ControlKey) -> Option<Command> {
        let [first, second] = *key.choices() else {
            return None;
        };
        let cur = self
            .requested
            .get(&key)
            .map(Control::value_json)
            .or_else(|| self.run.pending_json(key).cloned())
            .or_else(|| self.run.applied(key));
        let value = if cur.as_ref().and_then(|v| v.as_str()).unwrap_or(first) == first {
            second
        } else {
            first
        };
        self.request(Control::parse(key.name(), value).ok()?)
    }

    fn arrow(&mut self, code: KeyCode) {
        let Some(d) = dir(code) else {
            return;
        };
        if self.view.zoom {
            self.view.move_heat_cursor(&self.run, d);
            return;
        }
        match self.view.focus {
            Focus::Heatmap => self.view.move_heat_cursor(&self.run, d),
            Focus::Log => match d {
                Dir::Up => self.view.scroll_log(1, self.run.log.len()),
                Dir::Down => self.view.scroll_log(-1, self.run.log.len()),
                _ => {}
            },
            Focus::Loss => {
                let closer = matches!(d, Dir::Up | Dir::Right);
                self.view.zoom_x(self.run.loss.len(), closer);
            }
        }
    }

    /// `q`: leave a finished, disconnected or replayed run, or one still being set up (no
    /// trainer to ask yet); otherwise open the quit dialog.
    fn quit_key(&mut self) {
        if self.run.status == RunStatus::Finished
            || self.run.disconnected
            || self.replay.is_some()
            || self.starting
        {
            self.exit = Some(if self.run.status == RunStatus::Finished {
                Outcome::Finished
            } else {
                Outcome::Quit
            });
        } else {
            self.view.overlay = Overlay::Quit { choice: 0 };
        }
    }

    /// Ctrl-C: ask the trainer to stop; a second press leaves without waiting.
    fn interrupt(&mut self) -> Vec<Command> {
        if self.run.activity == Some(Activity::Stopping) {
            self.exit = Some(self.quit_requested.unwrap_or(Outcome::Quit));
            return Vec::new();
        }
        self.request_quit(false)
    }

    fn quit_dialog_key(&mut self, key: KeyEvent, choice: usize) -> Vec<Command> {
        let n = QUIT_CHOICES.len();
        match key.code {
            KeyCode::Char('c') | KeyCode::Char('C') => self.choose_quit(0),
            KeyCode::Char('q') | KeyCode::Char('y') => self.choose_quit(1),
            KeyCode::Esc | KeyCode::Char('n') => self.choose_quit(2),
            KeyCode::Enter => self.choose_quit(choice),
            KeyCode::Left | KeyCode::Up | KeyCode::BackTab => {
                self.view.overlay = Overlay::Quit {
                    choice: (choice + n - 1) % n,
                };
                Vec::new()
            }
            KeyCode::Right | KeyCode::Down | KeyCode::Tab => {
                self.view.overlay = Overlay::Quit {
                    choice: (choice + 1) % n,
                };
                Vec::new()
            }
            _ => Vec::new(),
        }
    }

    fn choose_quit(&mut self, choice: usize) -> Vec<Command> {
        match choice {
            0 => self.request_quit(true),
            1 => self.request_quit(false),
            _ => {
                self.view.overlay = Overlay::None;
                Vec::new()
            }
        }
    }

    fn request_quit(&mut self, checkpoint: bool) -> Vec<Command> {
        self.view.overlay = Overlay::None;
        if !self.accepts_commands() {
            self.exit = Some(if self.run.status == RunStatus::Finished {
                Outcome::Finished
            } else {
                Outcome::Quit
            });
            return Vec::new();
        }
        self.quit_requested = Some(if checkpoint {
            Outcome::QuitWithCheckpoint
        } else {
            Outcome::Quit
        });
        self.run.activity = Some(Activity::Stopping);
        let what = if checkpoint {
            "checkpoint and stop"
        } else {
            "stop"
        };
        self.run.log(
            Some(self.run.step),
            LogKind::Info,
            format!("asked the trainer to {what}"),
        );
        vec![Command::Quit { checkpoint }]
    }

    /// Keys of the replay viewer; returns whether the key was used. The viewer itself rebuilds
    /// the app from the new cursor (see [`App::replay_at`]).
    fn replay_key(&mut self, pressed: Pressed, code: KeyCode) -> bool {
        let arrow = matches!(code, KeyCode::Left | KeyCode::Right);
        let heat_keys = arrow && (self.view.zoom || self.view.focus == Focus::Heatmap);
        let Some(r) = self.replay.as_mut() else {
            return false;
        };
        let big = (r.total / 50).max(1);
        let by = match pressed.action {
            // Plain ←/→ move the heatmap cursor when it has the keys; `,` and `.` always step.
            Action::ReplayStep if heat_keys => return false,
            Action::ReplayStep => 1,
            Action::ReplayJump => big,
            Action::ReplayEnds => r.total,
            _ => return false,
        };
        r.cursor = if pressed.back {
            r.cursor.saturating_sub(by)
        } else {
            (r.cursor + by).min(r.total)
        };
        true
    }

    /// Handle a mouse event; returns the commands to send (none today: the mouse only changes
    /// the view).
    pub fn on_mouse(&mut self, ev: MouseEvent) -> Vec<Command> {
        if self.screen == Screen::Picker {
            if let Some(p) = self.picker.as_mut() {
                let up = match ev.kind {
                    MouseEventKind::ScrollUp => true,
                    MouseEventKind::ScrollDown => false,
                    // A click on a preset highlights it; enter starts it.
                    MouseEventKind::Down(MouseButton::Left) => {
                        let at = Position::new(ev.column, ev.row);
                        if let Some(i) = crate::ui::screens::picker::preset_at(p, self.area, at) {
                            p.select(i);
                            p.focus = PickerFocus::List;
                        }
                        return Vec::new();
                    }
                    _ => return Vec::new(),
                };
                if up {
                    p.select(p.selected.saturating_sub(1));
                } else {
                    p.select(p.selected + 1);
                }
            }
            return Vec::new();
        }
        if self.view.overlay != Overlay::None || self.view.zoom {
            return Vec::new();
        }
        let at = Position::new(ev.column, ev.row);
        let layout = crate::ui::screens::dashboard::layout_of(self);
        match ev.kind {
            MouseEventKind::Down(MouseButton::Left) => {
                if let Some(h) = layout.heatmap {
                    if let Some((row, col)) =
                        crate::ui::widgets::heatmap::hit(h, &self.run, &self.view, &self.theme, at)
                    {
                        self.view.select_cell(row, col, self.run.selections.len());
                        return Vec::new();
                    }
                    if h.contains(at) {
                        self.view.focus = Focus::Heatmap;
                    }
                }
                if layout.loss.is_some_and(|r| r.contains(at)) {
                    self.view.focus = Focus::Loss;
                }
                if layout.log.is_some_and(|r| r.contains(at)) {
                    self.view.focus = Focus::Log;
                }
            }
            MouseEventKind::ScrollUp | MouseEventKind::ScrollDown => {
                let up = ev.kind == MouseEventKind::ScrollUp;
                let over_chart = [layout.loss, layout.eval]
                    .iter()
                    .flatten()
                    .any(|r| r.contains(at));
                if over_chart {
                    self.view.zoom_x(self.run.loss.len(), up);
                } else if layout.log.is_some_and(|r| r.contains(at)) {
                    self.view
                        .scroll_log(if up { 3 } else { -3 }, self.run.log.len());
                } else if layout.heatmap.is_some_and(|r| r.contains(at)) {
                    let d = if up { Dir::Up } else { Dir::Down };
                    self.view.move_heat_cursor(&self.run, d);
                }
            }
            _ => {}
        }
        Vec::new()
    }
}
