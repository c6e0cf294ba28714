//! The run as the trainer's events tell it ([`Run`]): status, progress, stages, selections,
//! live changes and the event log. [`crate::ui::reducer`] folds events into it; nothing here
//! knows about the screen.

use crate::config::ControlKey;
use crate::core::events::{ControlStatus, MatrixReport, Metrics, StageKind};
use crate::core::task_metrics::{self, EvalTask};
use crate::runs::RunState;
use crate::ui::history::LossHistory;
use std::collections::{BTreeSet, VecDeque};
use std::time::{Duration, Instant};

/// The trainer's state as the events tell it. Where a run has ended, [`Run::state`] says how
/// in the words every other view of runs uses ([`RunState`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunStatus {
    /// No `start` event yet.
    Waiting,
    Running,
    Paused,
    /// A `done` event came: finished, or stopped early when it says so.
    Finished,
    /// The trainer went away without a `done` event: crashed.
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
        let rank = crate::model::params::module_rank(&self.module);
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
    pub key: ControlKey,
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
    /// `per-matrix` or `global`.
    pub selection_scope: Option<String>,
    /// `gradient` or `strict`.
    pub freeze: Option<String>,
    pub batch_size: Option<usize>,
}

/// Whether two control values are the same setting: numbers within a relative 1e-9, names
/// spelled alike.
pub fn same_value(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => (x - y).abs() <= 1e-9 * x.abs().max(y.abs()).max(1e-12),
        _ => a == b,
    }
}

/// The final `done` event.
#[derive(Debug, Clone, PartialEq)]
pub struct DoneInfo {
    pub step: usize,
    pub metrics: Metrics,
    pub stopped_early: bool,
}

/// One curve of the dev panel of a run with eval tasks: an eval task's main metric, or the
/// training task's own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DevSeries {
    /// The task's name.
    pub task: String,
    /// The main metric's own name (`accuracy`).
    pub metric: String,
    /// The metric's key in the evaluations (`sick/accuracy`, or `accuracy` for the training
    /// task's own).
    pub key: String,
    /// Whether this is the training task's own metric.
    pub train: bool,
}

/// Most event-log lines kept.
pub const LOG_CAPACITY: usize = 2000;

/// Everything the events say about the run.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    pub status: RunStatus,
    /// The device trained on, as the `start` event names it (`cpu`, or
    /// `cuda:0 · <GPU> · used / total GiB`).
    pub device: Option<String>,
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
    /// The eval tasks the evaluations report (`sick/accuracy`, ...; see
    /// [`crate::core::task_metrics`]), in the configuration's order; empty for an ordinary run.
    pub eval_tasks: Vec<EvalTask>,
    pub stages: Vec<StageSpan>,
    pub rows: Vec<RowKey>,
    pub selections: Vec<SelectionColumn>,
    pub controls: Vec<ControlRecord>,
    /// Accepted changes not yet in effect, one per key.
    pub pending: Vec<ControlRecord>,
    /// Applied changes: (step, key), drawn as chart markers.
    pub markers: Vec<(usize, ControlKey)>,
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
            device: None,
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
            eval_tasks: Vec::new(),
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
    /// The run's state by the one rule of [`RunState::of`]: finished or stopped early after a
    /// `done` event, crashed when the trainer went away without one, running otherwise
    /// (`None` before the `start` event).
    pub fn state(&self) -> Option<RunState> {
        match self.status {
            RunStatus::Waiting => None,
            RunStatus::Running | RunStatus::Paused => Some(RunState::Running),
            RunStatus::Finished => Some(RunState::of(
                Some(self.done.as_ref().is_some_and(|d| d.stopped_early)),
                None,
            )),
            RunStatus::Error => Some(RunState::of(None, None)),
        }
    }

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

    /// Seconds to go, from the slower of the step time and the wall-clock time per step since
    /// the start (`wall`: time since the run started). A paced run (the demo in the TUI) waits
    /// between steps, so only the wall clock tells its end.
    pub fn eta_seconds_with_wall(&self, wall: Option<std::time::Duration>) -> Option<f64> {
        let eta = self.eta_seconds()?;
        let done = self.step.saturating_sub(self.start_step);
        let Some(w) = wall.filter(|_| done > 0) else {
            return Some(eta);
        };
        let left = self.total_steps.saturating_sub(self.step) as f64;
        Some(eta.max(w.as_secs_f64() / done as f64 * left))
    }

    /// The value now in effect for a numeric key (`p`, `learning_rate`, `update_ratio`).
    pub fn current(&self, key: ControlKey) -> Option<f64> {
        match key {
            ControlKey::P => self.hyper.p,
            ControlKey::LearningRate => self.hyper.learning_rate,
            ControlKey::UpdateRatio => self.hyper.update_ratio,
            ControlKey::SelectionScope | ControlKey::Freeze => None,
        }
    }

    /// The value in effect for any live key, as a `control` event carries it: a number, or a
    /// name (`strict`) for `freeze` and `selection_scope`.
    pub fn applied(&self, key: ControlKey) -> Option<serde_json::Value> {
        match key {
            ControlKey::SelectionScope => self.hyper.selection_scope.clone().map(Into::into),
            ControlKey::Freeze => self.hyper.freeze.clone().map(Into::into),
            _ => self.current(key).map(Into::into),
        }
    }

    /// The value the trainer holds pending for a key, if a change is waiting.
    pub fn pending_json(&self, key: ControlKey) -> Option<&serde_json::Value> {
        self.pending.iter().find(|c| c.key == key).map(|c| &c.value)
    }

    /// The pending value of a numeric key, if a change is waiting.
    pub fn pending_value(&self, key: ControlKey) -> Option<f64> {
        self.pending
            .iter()
            .find(|c| c.key == key)
            .and_then(|c| c.value.as_f64())
    }

    /// The dev panel's curves when the run has eval tasks (empty otherwise): the training
    /// task's own main metric first, unless it is one of the eval tasks too, then every eval
    /// task's.
    pub fn dev_series(&self) -> Vec<DevSeries> {
        if self.eval_tasks.is_empty() {
            return Vec::new();
        }
        let mut out = Vec::with_capacity(self.eval_tasks.len() + 1);
        if !self.task.is_empty() && !self.eval_tasks.iter().any(|t| t.task == self.task) {
            let names: BTreeSet<&str> = self
                .evals
                .iter()
                .flat_map(|(_, m)| task_metrics::own_metrics(m).map(|(k, _)| k.as_str()))
                .collect();
            if let Some(metric) = task_metrics::main_metric_among(&self.task, &names) {
                out.push(DevSeries {
                    task: self.task.clone(),
                    key: metric.clone(),
                    metric,
                    train: true,
                });
            }
        }
        out.extend(self.eval_tasks.iter().map(|t| DevSeries {
            task: t.task.clone(),
            metric: t.metric.clone(),
            key: t.key(),
            train: false,
        }));
        out
    }

    /// Add an event-log line, dropping the oldest beyond [`LOG_CAPACITY`].
    pub fn log(&mut self, step: Option<usize>, kind: LogKind, text: String) {
        if self.log.len() == LOG_CAPACITY {
            self.log.pop_front();
        }
        self.log.push_back(LogEntry { step, kind, text });
    }

    /// The index of heatmap row `key`, inserted in order if new.
    pub fn add_row(&mut self, key: RowKey) -> usize {
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

/// Wall-clock read-outs the event loop keeps up to date (`None` in tests: the status bar then
/// shows the sum of step times).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Clock {
    /// Time since the run started.
    pub wall_elapsed: Option<Duration>,
    /// Resident memory of this process.
    pub memory_bytes: Option<u64>,
}

/// The running time of a live run: wall-clock time while the trainer runs, not while it is
/// paused or still loading. The elapsed time and the ETA are drawn from it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunTimer {
    /// Running time before the current running spell.
    banked: Duration,
    /// Start of the current running spell (`None` while not running).
    since: Option<Instant>,
}

impl RunTimer {
    /// Record whether the run is `running` at `now`, and return the running time so far.
    pub fn update(&mut self, running: bool, now: Instant) -> Duration {
        match (running, self.since) {
            (true, None) => self.since = Some(now),
            (false, Some(s)) => {
                self.banked += now.saturating_duration_since(s);
                self.since = None;
            }
            _ => {}
        }
        self.elapsed(now)
    }

    /// The running time up to `now`.
    pub fn elapsed(&self, now: Instant) -> Duration {
        self.banked
            + self
                .since
                .map_or(Duration::ZERO, |s| now.saturating_duration_since(s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_timer_leaves_out_paused_time() {
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        let mut t = RunTimer::default();
        assert_eq!(t.update(false, at(0)), Duration::ZERO, "loading");
        assert_eq!(t.update(true, at(5)), Duration::ZERO);
        assert_eq!(t.update(true, at(65)), Duration::from_secs(60));
        // Paused from 65 s to 245 s: three minutes that do not count.
        assert_eq!(t.update(false, at(65)), Duration::from_secs(60));
        assert_eq!(t.update(false, at(245)), Duration::from_secs(60));
        assert_eq!(t.update(true, at(245)), Duration::from_secs(60));
        assert_eq!(t.update(true, at(275)), Duration::from_secs(90));
    }
}
