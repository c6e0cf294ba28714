//! The whole UI state and the two ways it changes: trainer events ([`App::apply`], the reducer)
//! and user input ([`App::on_key`], [`App::on_mouse`], which also return the [`Command`]s to send
//! to the trainer).
//!
//! Rendering never changes the state; see [`crate::ui::render::draw`].

use crate::config::TrainConfig;
use crate::train::events::{Command, ControlStatus, Event, MatrixReport, Metrics, StageKind};
use crate::ui::form::{Picker, PickerFocus};
use crate::ui::history::LossHistory;
use crate::ui::theme::Theme;
use crossterm::event::{
    KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseButton, MouseEvent, MouseEventKind,
};
use ratatui::layout::{Position, Rect};
use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

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

/// A modal window drawn over the dashboard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overlay {
    None,
    Help,
    /// The quit dialog; `choice` indexes [`QUIT_CHOICES`].
    Quit {
        choice: usize,
    },
}

/// The quit dialog's buttons: (key, label).
pub const QUIT_CHOICES: [(&str, &str); 3] = [
    ("c", "checkpoint and quit"),
    ("q", "quit without checkpoint"),
    ("esc", "cancel"),
];

/// The dashboard panel that receives arrow keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Focus {
    Loss,
    Heatmap,
    Log,
}

impl Focus {
    fn next(self) -> Focus {
        match self {
            Focus::Loss => Focus::Heatmap,
            Focus::Heatmap => Focus::Log,
            Focus::Log => Focus::Loss,
        }
    }
}

/// What a heatmap cell shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lens {
    /// The matrix's share of the summed importance.
    Importance,
    /// 1 − Jaccard overlap with the previous mask.
    Churn,
    /// Mean |ΔW| over the previous stage relative to mean |W|.
    Update,
    /// Share of the matrix's elements that train in the stage.
    Selected,
}

impl Lens {
    /// Every lens, in the order of the number keys 1–4.
    pub const ALL: [Lens; 4] = [Lens::Importance, Lens::Churn, Lens::Update, Lens::Selected];

    /// The lens's name as shown in the legend.
    pub fn name(self) -> &'static str {
        match self {
            Lens::Importance => "importance share",
            Lens::Churn => "churn (1 - overlap)",
            Lens::Update => "update |dW|/|W|",
            Lens::Selected => "selected fraction",
        }
    }

    /// A short name for narrow screens.
    pub fn short(self) -> &'static str {
        match self {
            Lens::Importance => "imp",
            Lens::Churn => "churn",
            Lens::Update => "upd",
            Lens::Selected => "sel",
        }
    }

    /// The value of this lens for one matrix (`None` where it does not exist, such as churn at
    /// the first selection).
    pub fn value(self, m: &MatrixReport) -> Option<f64> {
        let v = match self {
            Lens::Importance => Some(m.importance_share),
            Lens::Churn => m.overlap_prev.map(|o| 1.0 - o),
            Lens::Update => Some(m.update_rel),
            Lens::Selected => Some(m.selected_fraction),
        };
        v.filter(|x| x.is_finite())
    }

    /// A scale fixed by definition (selected fraction is always in 0..1); others scale to the
    /// largest value seen.
    pub fn fixed_max(self) -> Option<f64> {
        match self {
            Lens::Selected => Some(1.0),
            _ => None,
        }
    }

    fn next(self) -> Lens {
        let i = Lens::ALL.iter().position(|l| *l == self).unwrap_or(0);
        Lens::ALL[(i + 1) % Lens::ALL.len()]
    }
}

/// The trainer's state as the events tell it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunStatus {
    /// No `start` event yet.
    Waiting,
    Running,
    Paused,
    Finished,
    /// The trainer went away without a `done` event.
    Error,
}

/// Work the UI asked for and is waiting on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activity {
    Evaluating,
    Checkpointing,
    Stopping,
}

/// One DPS stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StageSpan {
    pub stage: usize,
    pub kind: StageKind,
    /// First step of the stage.
    pub start: usize,
    /// Planned length in steps (0 when unknown).
    pub update_steps: usize,
}

/// A heatmap row: one DPS matrix position.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct RowKey {
    /// Encoder layer; `None` for pooler and classifier.
    pub layer: Option<usize>,
    pub module: String,
}

impl RowKey {
    fn order(&self) -> (usize, usize, &str) {
        let rank = match self.module.as_str() {
            "q" => 0,
            "k" => 1,
            "v" => 2,
            "o" => 3,
            "ffn_in" => 4,
            "ffn_out" => 5,
            "pooler" => 6,
            "classifier" => 7,
            _ => 8,
        };
        (self.layer.unwrap_or(usize::MAX), rank, &self.module)
    }

    /// A label such as `L3 q` or `pooler`.
    pub fn label(&self) -> String {
        match self.layer {
            Some(l) => format!("L{l} {}", self.module),
            None => self.module.clone(),
        }
    }
}

/// One selection: a heatmap column.
#[derive(Debug, Clone, PartialEq)]
pub struct SelectionColumn {
    pub stage: usize,
    pub step: usize,
    pub p: f64,
    pub seconds: Option<f64>,
    pub reports: Vec<MatrixReport>,
    /// For each heatmap row, the index of its report in `reports`.
    pub row_index: Vec<Option<u16>>,
}

/// A live change of a setting, as reported by the trainer.
#[derive(Debug, Clone, PartialEq)]
pub struct ControlRecord {
    pub step: usize,
    pub key: String,
    pub value: serde_json::Value,
    pub status: ControlStatus,
    pub message: Option<String>,
}

/// Kinds of event-log lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogKind {
    Info,
    Stage,
    Eval,
    Selection,
    Checkpoint,
    Control,
    Warning,
    Error,
    Done,
}

/// One event-log line.
#[derive(Debug, Clone, PartialEq)]
pub struct LogEntry {
    pub step: Option<usize>,
    pub kind: LogKind,
    pub text: String,
}

/// The current values of the settings the dashboard can change.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Hyper {
    pub method: String,
    pub p: Option<f64>,
    /// Peak learning rate of the schedule.
    pub learning_rate: Option<f64>,
    pub update_ratio: Option<f64>,
    pub batch_size: Option<usize>,
}

/// The final `done` event.
#[derive(Debug, Clone, PartialEq)]
pub struct DoneInfo {
    pub step: usize,
    pub metrics: Metrics,
    pub stopped_early: bool,
}

/// Most event-log lines kept.
pub const LOG_CAPACITY: usize = 2000;

/// Everything the events say about the run.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    pub status: RunStatus,
    pub activity: Option<Activity>,
    pub task: String,
    pub total_steps: usize,
    pub steps_per_epoch: usize,
    pub num_train: usize,
    pub num_dev: usize,
    pub start_step: usize,
    pub config: serde_json::Value,
    pub hyper: Hyper,
    pub loss: LossHistory,
    /// The last step reported.
    pub step: usize,
    pub epoch: f64,
    /// Learning rate at the last step (after the schedule).
    pub lr: f64,
    pub examples_per_sec: f64,
    pub grad_norm: Option<f64>,
    /// Smoothed seconds per step, for the ETA.
    pub step_seconds: Option<f64>,
    /// Sum of reported step times.
    pub train_seconds: f64,
    pub evals: Vec<(usize, Metrics)>,
    pub stages: Vec<StageSpan>,
    pub rows: Vec<RowKey>,
    pub selections: Vec<SelectionColumn>,
    pub controls: Vec<ControlRecord>,
    /// Accepted changes not yet in effect, one per key.
    pub pending: Vec<ControlRecord>,
    /// Applied changes: (step, key), drawn as chart markers.
    pub markers: Vec<(usize, String)>,
    /// The message of the last `error` event, shown as a banner until the run resumes.
    pub error: Option<String>,
    pub done: Option<DoneInfo>,
    pub last_checkpoint: Option<(usize, String)>,
    pub log: VecDeque<LogEntry>,
    /// Whether the event channel closed.
    pub disconnected: bool,
    /// Number of events applied.
    pub events_seen: usize,
}

impl Default for Run {
    fn default() -> Self {
        Run {
            status: RunStatus::Waiting,
            activity: None,
            task: String::new(),
            total_steps: 0,
            steps_per_epoch: 0,
            num_train: 0,
            num_dev: 0,
            start_step: 0,
            config: serde_json::Value::Null,
            hyper: Hyper::default(),
            loss: LossHistory::new(),
            step: 0,
            epoch: 0.0,
            lr: 0.0,
            examples_per_sec: 0.0,
            grad_norm: None,
            step_seconds: None,
            train_seconds: 0.0,
            evals: Vec::new(),
            stages: Vec::new(),
            rows: Vec::new(),
            selections: Vec::new(),
            controls: Vec::new(),
            pending: Vec::new(),
            markers: Vec::new(),
            error: None,
            done: None,
            last_checkpoint: None,
            log: VecDeque::new(),
            disconnected: false,
            events_seen: 0,
        }
    }
}

impl Run {
    /// The stage containing `step`, if any stage event arrived.
    pub fn stage_at(&self, step: usize) -> Option<&StageSpan> {
        let i = self.stages.partition_point(|s| s.start <= step);
        i.checked_sub(1).map(|i| &self.stages[i])
    }

    /// The current stage and the steps left in it.
    pub fn current_stage(&self) -> Option<(&StageSpan, Option<usize>)> {
        let s = self.stage_at(self.step)?;
        let idx = self.stages.iter().position(|x| x == s).unwrap_or(0);
        let end = match self.stages.get(idx + 1) {
            Some(next) => Some(next.start),
            None if s.update_steps > 0 => {
                Some((s.start + s.update_steps).min(self.total_steps.max(s.start)))
            }
            None => None,
        };
        Some((s, end.map(|e| e.saturating_sub(self.step))))
    }

    /// `[start, end)` step ranges of every stage, the last one ending at `last`.
    pub fn stage_ranges(&self, last: usize) -> Vec<(usize, usize, StageKind)> {
        let mut out = Vec::with_capacity(self.stages.len());
        for (i, s) in self.stages.iter().enumerate() {
            let end = match self.stages.get(i + 1) {
                Some(n) => n.start,
                None => last.max(s.start + 1),
            };
            out.push((s.start, end, s.kind));
        }
        out
    }

    /// The report for heatmap cell (`row`, `col`).
    pub fn cell(&self, row: usize, col: usize) -> Option<&MatrixReport> {
        let c = self.selections.get(col)?;
        let i = (*c.row_index.get(row)?)? as usize;
        c.reports.get(i)
    }

    /// The largest value of `lens` over all cells (at least a small positive number).
    pub fn lens_max(&self, lens: Lens) -> f64 {
        if let Some(m) = lens.fixed_max() {
            return m;
        }
        let mut max = 0.0f64;
        for c in &self.selections {
            for r in &c.reports {
                if let Some(v) = lens.value(r) {
                    max = max.max(v);
                }
            }
        }
        if max > 0.0 {
            max
        } else {
            1.0
        }
    }

    /// Seconds to go, from the smoothed step time (or from examples/s and the batch size).
    pub fn eta_seconds(&self) -> Option<f64> {
        if self.total_steps == 0 || self.status == RunStatus::Finished {
            return None;
        }
        let left = self.total_steps.saturating_sub(self.step) as f64;
        let per_step = self.step_seconds.or_else(|| {
            let bs = self.hyper.batch_size? as f64;
            (self.examples_per_sec > 0.0).then(|| bs / self.examples_per_sec)
        })?;
        Some(left * per_step)
    }

    /// The value now in effect for a changeable key (`p`, `learning_rate`, `update_ratio`).
    pub fn current(&self, key: &str) -> Option<f64> {
        match key {
            "p" => self.hyper.p,
            "learning_rate" => self.hyper.learning_rate,
            "update_ratio" => self.hyper.update_ratio,
            _ => None,
        }
    }

    /// The pending value of a key, if a change is waiting.
    pub fn pending_value(&self, key: &str) -> Option<f64> {
        self.pending
            .iter()
            .find(|c| c.key == key)
            .and_then(|c| c.value.as_f64())
    }

    fn log(&mut self, step: Option<usize>, kind: LogKind, text: String) {
        if self.log.len() == LOG_CAPACITY {
            self.log.pop_front();
        }
        self.log.push_back(LogEntry { step, kind, text });
    }

    fn add_row(&mut self, key: RowKey) -> usize {
        match self.rows.binary_search_by(|r| r.order().cmp(&key.order())) {
            Ok(i) => i,
            Err(i) => {
                self.rows.insert(i, key);
                for c in &mut self.selections {
                    c.row_index.insert(i, None);
                }
                i
            }
        }
    }
}

/// Normalise a control key to the name used by [`Hyper`] (`lr` → `learning_rate`).
pub fn canonical_key(key: &str) -> &str {
    match key {
        "lr" | "learning_rate" => "learning_rate",
        other => other,
    }
}

/// Local view settings: nothing here is sent to the trainer.
#[derive(Debug, Clone, PartialEq)]
pub struct View {
    pub focus: Focus,
    pub lens: Lens,
    /// Index into [`SMOOTHING`].
    pub smoothing: usize,
    pub log_y: bool,
    /// How many recent steps the charts show (`None` = all).
    pub x_window: Option<usize>,
    pub heat_row: usize,
    /// Selected heatmap column; `None` follows the newest selection.
    pub heat_col: Option<usize>,
    /// Whether the zoomed matrix view is open.
    pub zoom: bool,
    pub overlay: Overlay,
    /// Event-log lines scrolled up from the newest.
    pub log_scroll: usize,
}

/// The EMA smoothing factors `s` cycles through.
pub const SMOOTHING: [f64; 4] = [0.0, 0.6, 0.9, 0.97];

/// The update ratios `u` cycles through.
pub const UPDATE_RATIOS: [f64; 3] = [0.025, 0.05, 0.1];

/// Smallest chart x window reachable with the scroll wheel.
pub const MIN_X_WINDOW: usize = 20;

impl Default for View {
    fn default() -> Self {
        View {
            focus: Focus::Heatmap,
            lens: Lens::Importance,
            smoothing: 1,
            log_y: false,
            x_window: None,
            heat_row: 0,
            heat_col: None,
            zoom: false,
            overlay: Overlay::None,
            log_scroll: 0,
        }
    }
}

/// Position in a replayed event list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplayInfo {
    /// Events applied.
    pub cursor: usize,
    /// Events in the log.
    pub total: usize,
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
    /// Wall-clock time since the run started, kept by the event loop (`None` in tests: the sum
    /// of step times is shown instead).
    pub wall_elapsed: Option<Duration>,
    /// Resident memory of this process, kept by the event loop.
    pub memory_bytes: Option<u64>,
    /// Values sent to the trainer and not yet acknowledged by a `control` event, per key.
    pub requested: BTreeMap<String, f64>,
    /// Method options (`freeze`, `selection_scope`) last requested with `f` / `g`.
    pub requested_options: BTreeMap<String, String>,
    /// Set when the replay viewer drives this app.
    pub replay: Option<ReplayInfo>,
    start_request: Option<TrainConfig>,
    quit_requested: Option<Outcome>,
    exit: Option<Outcome>,
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
            wall_elapsed: None,
            memory_bytes: None,
            requested: BTreeMap::new(),
            requested_options: BTreeMap::new(),
            replay: None,
            start_request: None,
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

    /// A dashboard with `events` applied in order (replay is re-applying a prefix).
    pub fn from_events(events: &[Event]) -> App {
        let mut app = App::new();
        for e in events {
            app.apply(e);
        }
        app
    }

    /// Switch to a fresh dashboard for a run that is starting.
    pub fn begin_run(&mut self) {
        self.screen = Screen::Dashboard;
        self.run = Run::default();
        self.view = View::default();
        self.requested.clear();
        self.quit_requested = None;
        self.wall_elapsed = None;
    }

    /// Show why a run could not start (picker screen).
    pub fn start_failed(&mut self, message: String) {
        self.screen = Screen::Picker;
        if let Some(p) = &mut self.picker {
            p.start_error = Some(message);
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

    /// Record the terminal size (the event loop calls this before each frame).
    pub fn resize(&mut self, area: Rect) {
        self.area = area;
    }

    /// The smoothing factor in use.
    pub fn smoothing(&self) -> f64 {
        SMOOTHING[self.view.smoothing % SMOOTHING.len()]
    }

    /// The selected heatmap column (the newest when following).
    pub fn heat_col(&self) -> Option<usize> {
        let n = self.run.selections.len();
        if n == 0 {
            return None;
        }
        Some(self.view.heat_col.unwrap_or(n - 1).min(n - 1))
    }

    /// The selected heatmap row, clamped to the rows that exist.
    pub fn heat_row(&self) -> Option<usize> {
        let n = self.run.rows.len();
        (n > 0).then(|| self.view.heat_row.min(n - 1))
    }

    /// The matrix under the heatmap cursor.
    pub fn cursor_report(&self) -> Option<&MatrixReport> {
        self.run.cell(self.heat_row()?, self.heat_col()?)
    }

    // ------------------------------------------------------------------ reducer

    /// Fold one trainer event into the state.
    pub fn apply(&mut self, ev: &Event) {
        let run = &mut self.run;
        run.events_seen += 1;
        match ev {
            Event::Start {
                task,
                method,
                total_steps,
                steps_per_epoch,
                num_train,
                num_dev,
                config,
                start_step,
                ..
            } => {
                run.task = task.clone();
                run.total_steps = *total_steps;
                run.steps_per_epoch = *steps_per_epoch;
                run.num_train = *num_train;
                run.num_dev = *num_dev;
                run.start_step = *start_step;
                run.step = *start_step;
                run.config = config.clone();
                let f = |k: &str| config.get(k).and_then(|v| v.as_f64());
                run.hyper = Hyper {
                    method: method.clone(),
                    p: f("p"),
                    learning_rate: f("learning_rate"),
                    update_ratio: f("update_ratio"),
                    batch_size: config
                        .get("batch_size")
                        .and_then(|v| v.as_u64())
                        .map(|b| b as usize),
                };
                run.status = RunStatus::Running;
                let resumed = if *start_step > 0 {
                    format!(", resuming at step {start_step}")
                } else {
                    String::new()
                };
                run.log(
                    Some(*start_step),
                    LogKind::Info,
                    format!(
                        "start {task} · {method} · {total_steps} steps · {num_train} train / {num_dev} dev{resumed}"
                    ),
                );
            }
            Event::Step {
                step,
                epoch,
                loss,
                lr,
                examples_per_sec,
                grad_norm,
                step_seconds,
            } => {
                run.loss.push(*step, *loss, *lr);
                run.step = *step;
                run.epoch = *epoch;
                run.lr = *lr;
                run.examples_per_sec = *examples_per_sec;
                run.grad_norm = *grad_norm;
                if let Some(s) = step_seconds.filter(|s| s.is_finite() && *s >= 0.0) {
                    run.train_seconds += s;
                    run.step_seconds = Some(match run.step_seconds {
                        Some(prev) => 0.9 * prev + 0.1 * s,
                        None => s,
                    });
                }
                if run.status == RunStatus::Waiting {
                    run.status = RunStatus::Running;
                }
            }
            Event::Eval { step, metrics } => {
                let text = metrics
                    .iter()
                    .map(|(k, v)| format!("{k} {v:.4}"))
                    .collect::<Vec<_>>()
                    .join(" · ");
                run.evals.push((*step, metrics.clone()));
                if run.activity == Some(Activity::Evaluating) {
                    run.activity = None;
                }
                run.log(Some(*step), LogKind::Eval, format!("eval: {text}"));
            }
            Event::Stage {
                stage,
                kind,
                step,
                update_steps,
            } => {
                let span = StageSpan {
                    stage: *stage,
                    kind: *kind,
                    start: *step,
                    update_steps: *update_steps,
                };
                // A resumed run re-announces stages: drop any recorded at or after this one.
                let keep = run.stages.partition_point(|s| s.start < *step);
                run.stages.truncate(keep);
                run.stages.push(span);
                let kind = match kind {
                    StageKind::Full => "full",
                    StageKind::Subnet => "subnet",
                };
                run.log(
                    Some(*step),
                    LogKind::Stage,
                    format!("stage {stage} {kind} ({update_steps} steps)"),
                );
            }
            Event::Selection {
                stage,
                step,
                p,
                matrices,
                seconds,
            } => {
                let keys: Vec<RowKey> = matrices
                    .iter()
                    .map(|m| RowKey {
                        layer: m.layer,
                        module: m.module.clone(),
                    })
                    .collect();
                // Insert every new row first: an insertion shifts the rows after it.
                for k in &keys {
                    run.add_row(k.clone());
                }
                let mut row_index = vec![None; run.rows.len()];
                for (i, k) in keys.into_iter().enumerate() {
                    let r = run.add_row(k);
                    row_index[r] = Some(i as u16);
                }
                run.selections.retain(|c| c.stage != *stage);
                let col = SelectionColumn {
                    stage: *stage,
                    step: *step,
                    p: *p,
                    seconds: *seconds,
                    reports: matrices.clone(),
                    row_index,
                };
                let at = run.selections.partition_point(|c| c.step <= *step);
                run.selections.insert(at, col);
                let churn: Vec<f64> = matrices
                    .iter()
                    .filter_map(|m| m.overlap_prev.map(|o| 1.0 - o))
                    .collect();
                let churn = if churn.is_empty() {
                    String::new()
                } else {
                    format!(
                        ", mean churn {:.3}",
                        churn.iter().sum::<f64>() / churn.len() as f64
                    )
                };
                let secs = seconds.map(|s| format!(" in {s:.2}s")).unwrap_or_default();
                run.log(
                    Some(*step),
                    LogKind::Selection,
                    format!(
                        "selection stage {stage}: p={p:.2}, {} matrices{churn}{secs}",
                        matrices.len()
                    ),
                );
            }
            Event::Control {
                step,
                key,
                value,
                status,
                message,
            } => {
                let ck = canonical_key(key).to_string();
                self.requested.remove(&ck);
                let rec = ControlRecord {
                    step: *step,
                    key: ck.clone(),
                    value: value.clone(),
                    status: *status,
                    message: message.clone(),
                };
                run.pending.retain(|c| c.key != ck);
                let shown = value_text(value);
                let note = message
                    .as_deref()
                    .map(|m| format!(": {m}"))
                    .unwrap_or_default();
                match status {
                    ControlStatus::Pending => {
                        run.pending.push(rec.clone());
                        run.log(
                            Some(*step),
                            LogKind::Control,
                            format!("{ck} → {shown} pending{note}"),
                        );
                    }
                    ControlStatus::Applied => {
                        let v = value.as_f64();
                        match ck.as_str() {
                            "p" => run.hyper.p = v.or(run.hyper.p),
                            "learning_rate" => {
                                run.hyper.learning_rate = v.or(run.hyper.learning_rate)
                            }
                            "update_ratio" => run.hyper.update_ratio = v.or(run.hyper.update_ratio),
                            _ => {}
                        }
                        run.markers.push((*step, ck.clone()));
                        run.log(
                            Some(*step),
                            LogKind::Control,
                            format!("{ck} = {shown} applied{note}"),
                        );
                    }
                    ControlStatus::Rejected => {
                        run.log(
                            Some(*step),
                            LogKind::Warning,
                            format!("{ck} → {shown} rejected{note}"),
                        );
                    }
                }
                run.controls.push(rec);
            }
            Event::Paused { step } => {
                if run.status != RunStatus::Finished {
                    run.status = RunStatus::Paused;
                }
                run.log(Some(*step), LogKind::Info, "paused".into());
            }
            Event::Resumed { step } => {
                if run.status != RunStatus::Finished {
                    run.status = RunStatus::Running;
                }
                run.error = None;
                run.log(Some(*step), LogKind::Info, "resumed".into());
            }
            Event::Checkpoint { step, path } => {
                run.last_checkpoint = Some((*step, path.clone()));
                if run.activity == Some(Activity::Checkpointing) {
                    run.activity = None;
                }
                run.log(
                    Some(*step),
                    LogKind::Checkpoint,
                    format!("checkpoint {path}"),
                );
            }
            Event::Warning { step, message } => {
                run.log(Some(*step), LogKind::Warning, message.clone());
            }
            Event::Error { step, message } => {
                run.error = Some(message.clone());
                if run.status != RunStatus::Finished {
                    run.status = RunStatus::Paused;
                }
                run.activity = None;
                run.log(Some(*step), LogKind::Error, message.clone());
            }
            Event::Done {
                step,
                metrics,
                stopped_early,
            } => {
                run.status = RunStatus::Finished;
                run.activity = None;
                run.step = run.step.max(*step);
                let text = metrics
                    .iter()
                    .map(|(k, v)| format!("{k} {v:.4}"))
                    .collect::<Vec<_>>()
                    .join(" · ");
                let how = if *stopped_early {
                    "stopped"
                } else {
                    "finished"
                };
                run.done = Some(DoneInfo {
                    step: *step,
                    metrics: metrics.clone(),
                    stopped_early: *stopped_early,
                });
                run.log(Some(*step), LogKind::Done, format!("{how}: {text}"));
                if let Some(o) = self.quit_requested {
                    self.exit = Some(o);
                }
            }
        }
    }

    /// The event channel closed. Ends a requested quit; otherwise marks the run as failed unless
    /// it finished.
    pub fn on_disconnect(&mut self) {
        if self.run.disconnected {
            return;
        }
        self.run.disconnected = true;
        if let Some(o) = self.quit_requested {
            self.exit = Some(o);
            return;
        }
        if self.run.status != RunStatus::Finished {
            self.run.status = RunStatus::Error;
            let msg = "the trainer stopped without a `done` event (see the log above or stderr)";
            self.run.error = Some(msg.into());
            self.run
                .log(Some(self.run.step), LogKind::Error, msg.into());
        }
    }

    // ------------------------------------------------------------------ input

    /// Handle a key press; returns the commands to send to the trainer.
    pub fn on_key(&mut self, key: KeyEvent) -> Vec<Command> {
        if key.kind == KeyEventKind::Release {
            return Vec::new();
        }
        let ctrl_c =
            key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c');
        match self.screen {
            Screen::Picker => {
                self.picker_key(key, ctrl_c);
                Vec::new()
            }
            Screen::Dashboard => {
                if ctrl_c {
                    if self.run.activity == Some(Activity::Stopping) {
                        // A second Ctrl-C leaves without waiting for the trainer.
                        self.exit = Some(self.quit_requested.unwrap_or(Outcome::Quit));
                        return Vec::new();
                    }
                    return self.request_quit(false);
                }
                self.dashboard_key(key)
            }
        }
    }

    fn picker_key(&mut self, key: KeyEvent, ctrl_c: bool) {
        let Some(p) = self.picker.as_mut() else {
            return;
        };
        if ctrl_c {
            self.exit = Some(Outcome::Quit);
            return;
        }
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        match (p.focus, key.code) {
            (_, KeyCode::Enter) => match p.resolve() {
                Some(config) => {
                    p.start_error = None;
                    self.start_request = Some(config);
                }
                None => {
                    p.start_error = Some(
                        "cannot start: fix the fields marked ✗ first (the message under each says what it accepts)"
                            .into(),
                    )
                }
            },
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
        match self.view.overlay {
            Overlay::Help => {
                if matches!(
                    key.code,
                    KeyCode::Esc | KeyCode::Char('?') | KeyCode::Char('q') | KeyCode::Enter
                ) {
                    self.view.overlay = Overlay::None;
                }
                return Vec::new();
            }
            Overlay::Quit { choice } => {
                let n = QUIT_CHOICES.len();
                return match key.code {
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
                };
            }
            Overlay::None => {}
        }
        if self.replay.is_some() && self.replay_key(key) {
            return Vec::new();
        }
        if self.view.zoom {
            match key.code {
                KeyCode::Esc | KeyCode::Enter => {
                    self.view.zoom = false;
                    return Vec::new();
                }
                KeyCode::Up | KeyCode::Down | KeyCode::Left | KeyCode::Right => {
                    self.move_heat_cursor(key.code);
                    return Vec::new();
                }
                _ => {}
            }
        }
        let live = self.accepts_commands();
        match key.code {
            KeyCode::Char('?') => self.view.overlay = Overlay::Help,
            KeyCode::Char('q') => {
                if self.run.status == RunStatus::Finished
                    || self.run.disconnected
                    || self.replay.is_some()
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
            KeyCode::Char(' ') if live => {
                return vec![if self.run.status == RunStatus::Paused {
                    Command::Resume
                } else {
                    Command::Pause
                }];
            }
            KeyCode::Char('+') | KeyCode::Char('=') if live => return self.step_p(0.05),
            KeyCode::Char('-') | KeyCode::Char('_') if live => return self.step_p(-0.05),
            KeyCode::Char('[') if live => return self.scale_lr(0.5),
            KeyCode::Char(']') if live => return self.scale_lr(2.0),
            KeyCode::Char('u') if live => return self.cycle_update_ratio(),
            KeyCode::Char('f') if live => {
                return self.toggle_option("freeze", ["gradient", "strict"]);
            }
            KeyCode::Char('g') if live => {
                return self.toggle_option("selection_scope", ["per-matrix", "global"]);
            }
            KeyCode::Char('e') if live => {
                self.run.activity = Some(Activity::Evaluating);
                return vec![Command::Evaluate];
            }
            KeyCode::Char('c') if live => {
                self.run.activity = Some(Activity::Checkpointing);
                return vec![Command::Checkpoint];
            }
            KeyCode::Char('l') => self.view.log_y = !self.view.log_y,
            KeyCode::Char('s') => self.view.smoothing = (self.view.smoothing + 1) % SMOOTHING.len(),
            KeyCode::Char('v') => self.view.lens = self.view.lens.next(),
            KeyCode::Char(c @ '1'..='4') => {
                self.view.lens = Lens::ALL[(c as u8 - b'1') as usize];
            }
            KeyCode::Tab => self.view.focus = self.view.focus.next(),
            KeyCode::BackTab => self.view.focus = self.view.focus.next().next(),
            KeyCode::Enter
                if self.view.focus == Focus::Heatmap && self.cursor_report().is_some() =>
            {
                self.view.zoom = true;
            }
            KeyCode::Esc => {
                self.view.zoom = false;
            }
            KeyCode::Up | KeyCode::Down | KeyCode::Left | KeyCode::Right => match self.view.focus {
                Focus::Heatmap => self.move_heat_cursor(key.code),
                Focus::Log => match key.code {
                    KeyCode::Up => {
                        self.view.log_scroll =
                            (self.view.log_scroll + 1).min(self.run.log.len().saturating_sub(1))
                    }
                    KeyCode::Down => self.view.log_scroll = self.view.log_scroll.saturating_sub(1),
                    _ => {}
                },
                Focus::Loss => match key.code {
                    KeyCode::Up | KeyCode::Right => self.zoom_x(true),
                    _ => self.zoom_x(false),
                },
            },
            KeyCode::PageUp if self.view.focus == Focus::Log => {
                self.view.log_scroll =
                    (self.view.log_scroll + 10).min(self.run.log.len().saturating_sub(1))
            }
            KeyCode::PageDown if self.view.focus == Focus::Log => {
                self.view.log_scroll = self.view.log_scroll.saturating_sub(10)
            }
            _ => {}
        }
        Vec::new()
    }

    /// Whether commands can reach a trainer (a live, unfinished run).
    pub fn accepts_commands(&self) -> bool {
        self.replay.is_none()
            && !self.run.disconnected
            && matches!(self.run.status, RunStatus::Running | RunStatus::Paused)
            && self.run.activity != Some(Activity::Stopping)
    }

    fn base_value(&self, key: &str) -> Option<f64> {
        self.requested
            .get(key)
            .copied()
            .or_else(|| self.run.pending_value(key))
            .or_else(|| self.run.current(key))
    }

    fn step_p(&mut self, delta: f64) -> Vec<Command> {
        let Some(p) = self.base_value("p") else {
            return Vec::new();
        };
        let value = ((p + delta) * 100.0).round() / 100.0;
        let value = value.clamp(0.0, 0.95);
        self.requested.insert("p".into(), value);
        vec![Command::SetP { value }]
    }

    fn scale_lr(&mut self, factor: f64) -> Vec<Command> {
        let Some(lr) = self.base_value("learning_rate") else {
            return Vec::new();
        };
        let value = (lr * factor).clamp(1e-9, 1.0);
        self.requested.insert("learning_rate".into(), value);
        vec![Command::SetLearningRate { value }]
    }

    /// Request the other of two values of a method option (from the last request, else the
    /// run's configuration, else the first value).
    fn toggle_option(&mut self, key: &str, values: [&str; 2]) -> Vec<Command> {
        let cur = self
            .requested_options
            .get(key)
            .cloned()
            .or_else(|| {
                self.run
                    .config
                    .get(key)
                    .and_then(|v| v.as_str())
                    .map(String::from)
            })
            .unwrap_or_else(|| values[0].to_string());
        let value = if cur == values[0] {
            values[1]
        } else {
            values[0]
        }
        .to_string();
        self.requested_options.insert(key.into(), value.clone());
        vec![Command::SetOption {
            key: key.into(),
            value,
        }]
    }

    fn cycle_update_ratio(&mut self) -> Vec<Command> {
        let cur = self.base_value("update_ratio").unwrap_or(0.05);
        let value = UPDATE_RATIOS
            .iter()
            .copied()
            .find(|r| *r > cur + 1e-9)
            .unwrap_or(UPDATE_RATIOS[0]);
        self.requested.insert("update_ratio".into(), value);
        vec![Command::SetUpdateRatio { value }]
    }

    fn zoom_x(&mut self, closer: bool) {
        let total = self.run.loss.len().max(MIN_X_WINDOW);
        let cur = self.view.x_window.unwrap_or(total).min(total);
        self.view.x_window = if closer {
            Some((cur / 2).max(MIN_X_WINDOW))
        } else {
            let w = cur.saturating_mul(2);
            (w < total).then_some(w)
        };
    }

    fn move_heat_cursor(&mut self, code: KeyCode) {
        let rows = self.run.rows.len();
        let cols = self.run.selections.len();
        if rows == 0 || cols == 0 {
            return;
        }
        let row = self.view.heat_row.min(rows - 1);
        let col = self.heat_col().unwrap_or(cols - 1);
        match code {
            KeyCode::Up => self.view.heat_row = row.saturating_sub(1),
            KeyCode::Down => self.view.heat_row = (row + 1).min(rows - 1),
            KeyCode::Left => self.view.heat_col = Some(col.saturating_sub(1)),
            KeyCode::Right => {
                // Moving onto the newest column follows new selections again.
                self.view.heat_col = (col + 1 < cols - 1).then_some(col + 1);
            }
            _ => {}
        }
    }

    /// Select heatmap cell (`row`, `col`) and give the heatmap focus.
    pub fn select_cell(&mut self, row: usize, col: usize) {
        let cols = self.run.selections.len();
        self.view.heat_row = row;
        self.view.heat_col = (col + 1 < cols).then_some(col);
        self.view.focus = Focus::Heatmap;
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

    /// Keys of the replay viewer; returns whether the key was used. The viewer itself rebuilds
    /// the app from the new cursor (see [`crate::ui::run::replay_view`]).
    fn replay_key(&mut self, key: KeyEvent) -> bool {
        let Some(r) = self.replay.as_mut() else {
            return false;
        };
        let big = (r.total / 50).max(1);
        let shift = key.modifiers.contains(KeyModifiers::SHIFT);
        let new = match key.code {
            KeyCode::Left if !self.view.zoom && self.view.focus != Focus::Heatmap || shift => {
                r.cursor.saturating_sub(if shift { big } else { 1 })
            }
            KeyCode::Right if !self.view.zoom && self.view.focus != Focus::Heatmap || shift => {
                (r.cursor + if shift { big } else { 1 }).min(r.total)
            }
            KeyCode::Home => 0,
            KeyCode::End => r.total,
            KeyCode::PageUp => r.cursor.saturating_sub(big),
            KeyCode::PageDown => (r.cursor + big).min(r.total),
            _ => return false,
        };
        r.cursor = new;
        true
    }

    /// Handle a mouse event; returns the commands to send (none today: the mouse only changes
    /// the view).
    pub fn on_mouse(&mut self, ev: MouseEvent) -> Vec<Command> {
        if self.screen != Screen::Dashboard || self.view.overlay != Overlay::None {
            if self.screen == Screen::Picker {
                if let Some(p) = self.picker.as_mut() {
                    match ev.kind {
                        MouseEventKind::ScrollUp => p.select(p.selected.saturating_sub(1)),
                        MouseEventKind::ScrollDown => p.select(p.selected + 1),
                        _ => {}
                    }
                }
            }
            return Vec::new();
        }
        if self.view.zoom {
            return Vec::new();
        }
        let at = Position::new(ev.column, ev.row);
        let layout = crate::ui::screens::dashboard::layout(self.area, self);
        match ev.kind {
            MouseEventKind::Down(MouseButton::Left) => {
                if let Some(h) = layout.heatmap {
                    if let Some((row, col)) = crate::ui::widgets::heatmap::hit(h, self, at) {
                        self.select_cell(row, col);
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
                    self.zoom_x(up);
                } else if layout.log.is_some_and(|r| r.contains(at)) {
                    self.view.log_scroll = if up {
                        (self.view.log_scroll + 3).min(self.run.log.len().saturating_sub(1))
                    } else {
                        self.view.log_scroll.saturating_sub(3)
                    };
                } else if layout.heatmap.is_some_and(|r| r.contains(at)) {
                    self.move_heat_cursor(if up { KeyCode::Up } else { KeyCode::Down });
                }
            }
            _ => {}
        }
        Vec::new()
    }
}

/// A JSON value as short text (numbers in compact form).
pub fn value_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Number(n) => match n.as_f64() {
            Some(x) => fmt_num(x),
            None => n.to_string(),
        },
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A number in at most ~7 characters: `0.3`, `0.025`, `2e-5`, `1234`.
pub fn fmt_num(x: f64) -> String {
    if !x.is_finite() {
        return format!("{x}");
    }
    let a = x.abs();
    if a != 0.0 && !(1e-3..1e5).contains(&a) {
        let s = format!("{x:.1e}");
        // 2.0e-5 → 2e-5
        return s.replace(".0e", "e");
    }
    if x.fract() == 0.0 {
        return format!("{x:.0}");
    }
    let s = format!("{x:.4}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// A duration as `42s`, `3m05s` or `1h02m`.
pub fn fmt_duration(secs: f64) -> String {
    if !secs.is_finite() || secs < 0.0 {
        return "n/a".into();
    }
    let s = secs.round() as u64;
    if s < 60 {
        format!("{s}s")
    } else if s < 3600 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{}h{:02}m", s / 3600, (s % 3600) / 60)
    }
}

/// Bytes as `512 MiB` / `1.2 GiB`.
pub fn fmt_bytes(b: u64) -> String {
    let mib = b as f64 / (1024.0 * 1024.0);
    if mib >= 1024.0 {
        format!("{:.1} GiB", mib / 1024.0)
    } else {
        format!("{mib:.0} MiB")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn start(total: usize) -> Event {
        Event::Start {
            schema: crate::train::events::EVENT_SCHEMA_VERSION,
            task: "demo".into(),
            method: "dps-dense".into(),
            total_steps: total,
            steps_per_epoch: 10,
            num_train: 160,
            num_dev: 32,
            config: serde_json::json!({"p": 0.3, "learning_rate": 1e-3, "update_ratio": 0.05, "batch_size": 16}),
            start_step: 0,
            device: None,
        }
    }

    fn step(s: usize) -> Event {
        Event::Step {
            step: s,
            epoch: s as f64 / 10.0,
            loss: 1.0 / s as f64,
            lr: 1e-3,
            examples_per_sec: 100.0,
            grad_norm: None,
            step_seconds: Some(0.16),
        }
    }

    fn report(layer: Option<usize>, module: &str) -> MatrixReport {
        MatrixReport {
            name: format!("{module}.weight"),
            layer,
            module: module.into(),
            shape: vec![4, 4],
            selected_fraction: 0.7,
            importance_share: 0.25,
            overlap_prev: None,
            update_rel: 0.01,
            row_density: vec![],
            head_density: vec![],
            density: vec![],
            density_shape: vec![],
        }
    }

    #[test]
    fn start_and_steps() {
        let mut app = App::new();
        assert_eq!(app.run.status, RunStatus::Waiting);
        app.apply(&start(100));
        for s in 1..=10 {
            app.apply(&step(s));
        }
        assert_eq!(app.run.status, RunStatus::Running);
        assert_eq!((app.run.step, app.run.total_steps), (10, 100));
        assert_eq!(app.run.hyper.p, Some(0.3));
        assert_eq!(app.run.hyper.batch_size, Some(16));
        assert!((app.run.train_seconds - 1.6).abs() < 1e-9);
        assert!((app.run.eta_seconds().unwrap() - 90.0 * 0.16).abs() < 1e-6);
    }

    #[test]
    fn stages_and_steps_left() {
        let mut app = App::from_events(&[start(100)]);
        app.apply(&Event::Stage {
            stage: 0,
            kind: StageKind::Full,
            step: 0,
            update_steps: 5,
        });
        app.apply(&step(3));
        let (s, left) = app.run.current_stage().unwrap();
        assert_eq!((s.stage, left), (0, Some(2)));
        app.apply(&Event::Stage {
            stage: 1,
            kind: StageKind::Subnet,
            step: 5,
            update_steps: 5,
        });
        app.apply(&step(6));
        let (s, left) = app.run.current_stage().unwrap();
        assert_eq!((s.kind, left), (StageKind::Subnet, Some(4)));
        assert_eq!(
            app.run.stage_ranges(8),
            vec![(0, 5, StageKind::Full), (5, 8, StageKind::Subnet)]
        );
    }

    #[test]
    fn selections_become_sorted_rows_and_columns() {
        let mut app = App::from_events(&[start(100)]);
        // Out of order, pooler first: rows are sorted by layer then module.
        app.apply(&Event::Selection {
            stage: 1,
            step: 5,
            p: 0.3,
            matrices: vec![
                report(None, "pooler"),
                report(Some(1), "q"),
                report(Some(0), "ffn_out"),
                report(Some(0), "q"),
            ],
            seconds: None,
        });
        let labels: Vec<String> = app.run.rows.iter().map(|r| r.label()).collect();
        assert_eq!(labels, ["L0 q", "L0 ffn_out", "L1 q", "pooler"]);
        assert_eq!(app.run.cell(1, 0).unwrap().module, "ffn_out");
        // A later selection adds the classifier row; the old column gets a gap.
        app.apply(&Event::Selection {
            stage: 3,
            step: 15,
            p: 0.3,
            matrices: vec![report(Some(0), "q"), report(None, "classifier")],
            seconds: None,
        });
        assert_eq!(app.run.rows.len(), 5);
        assert_eq!(app.run.selections.len(), 2);
        assert!(app.run.cell(4, 0).is_none());
        assert_eq!(app.run.cell(4, 1).unwrap().module, "classifier");
        assert!(app.run.cell(1, 1).is_none());
        assert_eq!(
            app.heat_col(),
            Some(1),
            "the cursor follows the newest column"
        );
    }

    #[test]
    fn number_formatting() {
        assert_eq!(fmt_num(2e-5), "2e-5");
        assert_eq!(fmt_num(0.3), "0.3");
        assert_eq!(fmt_num(0.025), "0.025");
        assert_eq!(fmt_num(1234.0), "1234");
        assert_eq!(fmt_duration(65.0), "1m05s");
        assert_eq!(fmt_duration(3725.0), "1h02m");
        assert_eq!(fmt_bytes(512 * 1024 * 1024), "512 MiB");
    }
}
