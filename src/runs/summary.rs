//! What is known about a run folder, read once: the one [`RunSummary`] that `dps-tui runs`,
//! `compare` (its screen and `--json`) and `export` show, and that any other view of runs on
//! disk reuses. [`scan`] finds every run folder under a root; [`RunRecord::read`] reads one.
//!
//! A run is *finished* when its log ends with a `done` event, *stopped early* when that event
//! says so (a quit in the TUI, a signal), *running* when it has none and its trainer lives
//! (it holds the run folder's lock; for folders without one, it was written to within
//! [`RUNNING_WINDOW`]), and *crashed* otherwise ([`RunState::of`], the one rule).

use super::event_log;
use super::live_values::LiveValues;
use crate::core::events::{Event, Metrics};
use crate::core::task_metrics::{self, EvalTask};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Why a run folder could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SummaryError {
    #[error("cannot read {path}: {source}. Fix: pass run folders (`dps-tui runs` lists them)")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: not valid YAML: {message}. Fix: repair the file, or remove it to use the configuration recorded in events.jsonl")]
    Config { path: PathBuf, message: String },
    #[error("{path}: no `start` event. Fix: pass a run folder whose events.jsonl begins with a start event")]
    NoStart { path: PathBuf },
}

/// Whether a run finished, crashed or is still running.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunState {
    Finished,
    /// Ended by a quit or a signal before its last step (a `done` event with
    /// `stopped_early: true`); it checkpointed first and can be resumed.
    #[serde(rename = "stopped_early")]
    Stopped,
    Crashed,
    Running,
}

/// A log written to within this long is taken to belong to a running run.
pub const RUNNING_WINDOW: Duration = Duration::from_secs(60);

impl RunState {
    /// The rule: a `done` event (`done`: `Some(stopped_early)`) means finished, or stopped
    /// early when it says so; without one, a log written less than [`RUNNING_WINDOW`] ago
    /// (`log_age`, zero while the run's trainer holds its lock, see [`folder_age`]) means
    /// running, anything else crashed.
    pub fn of(done: Option<bool>, log_age: Option<Duration>) -> RunState {
        match done {
            Some(false) => RunState::Finished,
            Some(true) => RunState::Stopped,
            None if log_age.is_some_and(|a| a < RUNNING_WINDOW) => RunState::Running,
            None => RunState::Crashed,
        }
    }

    pub fn word(self) -> &'static str {
        match self {
            RunState::Finished => "finished",
            RunState::Stopped => "stopped early",
            RunState::Crashed => "crashed",
            RunState::Running => "running",
        }
    }
}

/// The best value of a metric and the step it was reached at.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BestMetric {
    pub metric: String,
    pub value: f64,
    pub step: usize,
}

/// Everything a listing, a comparison or an export says about one run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunSummary {
    /// The run folder's name.
    pub name: String,
    pub path: PathBuf,
    pub task: String,
    pub method: String,
    pub seed: Option<u64>,
    pub status: RunState,
    /// The last step reached.
    pub step: usize,
    pub total_steps: usize,
    /// The task's main dev metric (`accuracy`, `mcc`, ...), when the task is known.
    pub main_metric: Option<String>,
    /// The final dev metrics: those of the `done` event, else the last evaluation.
    pub final_metrics: Metrics,
    /// The main metric's final value.
    pub final_metric: Option<f64>,
    /// The best value of the main metric.
    pub best: Option<BestMetric>,
    /// The last training loss.
    pub final_loss: Option<f64>,
    /// Sum of the reported step times.
    pub train_seconds: f64,
    /// Seconds from the run folder's creation (`config.yaml`) to the last write of
    /// `events.jsonl`, from the files' times; includes any time between a crash and a resume.
    pub wall_seconds: Option<f64>,
    /// The configuration flattened to `key` (or `outer.inner`) → value text.
    pub config: BTreeMap<String, String>,
    /// The live controls' values at the start and the end of the run.
    pub live: LiveValues,
    /// Every evaluation, in order: `(step, metrics)`.
    #[serde(skip)]
    pub evals: Vec<(usize, Metrics)>,
    /// The `done` event's step and metrics.
    #[serde(skip)]
    pub done: Option<(usize, Metrics)>,
    /// Whether the `done` event says the run was stopped early.
    #[serde(skip)]
    pub stopped_early: bool,
}

impl RunSummary {
    /// The summary of a run from its events (pure). An empty `config` falls back to the
    /// configuration in the `start` event; `log_age` is how long ago the log was last written.
    pub fn from_events(
        name: &str,
        path: &Path,
        events: &[Event],
        config: BTreeMap<String, String>,
        log_age: Option<Duration>,
    ) -> RunSummary {
        let mut s = RunSummary::new(name, path);
        for e in events {
            s.apply(e);
        }
        if !config.is_empty() {
            s.config = config;
        }
        s.settle(log_age);
        s
    }

    /// The summary of a run with no events yet; [`RunSummary::apply`] folds events in and
    /// [`RunSummary::settle`] derives the rest, so a growing log is summarised as it is read.
    pub fn new(name: &str, path: &Path) -> RunSummary {
        RunSummary {
            name: name.to_string(),
            path: path.to_path_buf(),
            task: String::new(),
            method: String::new(),
            seed: None,
            status: RunState::Crashed,
            step: 0,
            total_steps: 0,
            main_metric: None,
            final_metrics: Metrics::new(),
            final_metric: None,
            best: None,
            final_loss: None,
            train_seconds: 0.0,
            wall_seconds: None,
            config: BTreeMap::new(),
            live: LiveValues::default(),
            evals: Vec::new(),
            done: None,
            stopped_early: false,
        }
    }

    /// Fold one event in (the `start` event's configuration becomes [`RunSummary::config`]).
    /// Call [`RunSummary::settle`] after the last one.
    pub fn apply(&mut self, e: &Event) {
        self.live.apply(e);
        match e {
            Event::Start {
                task,
                method,
                total_steps,
                config,
                start_step,
                ..
            } => {
                self.task = task.clone();
                self.method = method.clone();
                self.total_steps = *total_steps;
                self.step = *start_step;
                self.done = None;
                self.config = flatten_config(config);
            }
            Event::Step {
                step,
                loss,
                step_seconds,
                ..
            } => {
                self.step = *step;
                self.final_loss = Some(*loss);
                if let Some(t) = step_seconds.filter(|t| t.is_finite() && *t >= 0.0) {
                    self.train_seconds += t;
                }
            }
            Event::Eval { step, metrics } => self.evals.push((*step, metrics.clone())),
            Event::Done {
                step,
                metrics,
                stopped_early,
            } => {
                self.step = self.step.max(*step);
                self.done = Some((*step, metrics.clone()));
                self.stopped_early = *stopped_early;
            }
            _ => {}
        }
    }

    /// Derive what follows from the events folded in so far: the seed, the state (from
    /// `log_age`, by [`RunState::of`]), the main metric, the final metrics and the best value.
    pub fn settle(&mut self, log_age: Option<Duration>) {
        self.seed = self.config.get("seed").and_then(|v| v.parse().ok());
        self.status = RunState::of(self.done.as_ref().map(|_| self.stopped_early), log_age);
        self.main_metric = crate::data::glue::task(&self.task).map(|t| t.main_metric.to_string());
        self.final_metrics = match &self.done {
            Some((_, m)) if !m.is_empty() => m.clone(),
            _ => self.evals.last().map(|e| e.1.clone()).unwrap_or_default(),
        };
        self.final_metric = None;
        self.best = None;
        if let Some(m) = self.main_metric.clone() {
            self.final_metric = self.final_metrics.get(&m).copied();
            self.best = self.best(&m).map(|(value, step)| BestMetric {
                metric: m,
                value,
                step,
            });
        }
    }

    /// `(step, value)` of every evaluation of `metric`, plus the final one when it is not an
    /// evaluation already.
    pub fn metric_series(&self, metric: &str) -> Vec<(usize, f64)> {
        let mut v: Vec<(usize, f64)> = self
            .evals
            .iter()
            .filter_map(|(s, m)| m.get(metric).map(|x| (*s, *x)))
            .filter(|p| p.1.is_finite())
            .collect();
        if let Some((step, metrics)) = &self.done {
            if let Some(x) = metrics.get(metric).filter(|x| x.is_finite()) {
                if v.last().is_none_or(|l| l.0 != *step) {
                    v.push((*step, *x));
                }
            }
        }
        v
    }

    /// The best value of `metric` and its step (the lowest for `loss` and an eval task's
    /// `…/loss`, else the highest).
    pub fn best(&self, metric: &str) -> Option<(f64, usize)> {
        let lower = task_metrics::lower_is_better(metric);
        self.metric_series(metric)
            .into_iter()
            .fold(None, |acc: Option<(f64, usize)>, (s, v)| match acc {
                Some(b) if (lower && b.0 <= v) || (!lower && b.0 >= v) => Some(b),
                _ => Some((v, s)),
            })
    }

    /// The eval tasks the run reported metrics of (`sick/accuracy`, ...), each with its main
    /// metric, in the order of its configuration's `eval_tasks`; empty for an ordinary run.
    pub fn eval_tasks(&self) -> Vec<EvalTask> {
        let declared = self
            .config
            .get(task_metrics::CONFIG_KEY)
            .map(|t| task_metrics::declared_from_text(t))
            .unwrap_or_default();
        let done = self.done.iter().map(|d| &d.1);
        task_metrics::eval_tasks(self.evals.iter().map(|e| &e.1).chain(done), &declared)
    }

    /// Every dev metric name the run reported.
    pub fn metric_names(&self) -> BTreeSet<String> {
        let mut names: BTreeSet<String> = BTreeSet::new();
        for (_, m) in &self.evals {
            names.extend(m.keys().cloned());
        }
        if let Some((_, m)) = &self.done {
            names.extend(m.keys().cloned());
        }
        names
    }
}

/// A run folder read from disk: its summary and its events.
#[derive(Debug, Clone)]
pub struct RunRecord {
    pub summary: RunSummary,
    pub events: Vec<Event>,
    /// Whether the log's last line was torn (skipped).
    pub torn_tail: bool,
}

impl RunRecord {
    /// Read a run folder: `events.jsonl` (required, with a `start` event) and `config.yaml`
    /// (optional).
    pub fn read(path: &Path) -> Result<RunRecord, SummaryError> {
        let events_path = path.join("events.jsonl");
        let log = event_log::read(&events_path).map_err(|source| SummaryError::Read {
            path: events_path.clone(),
            source,
        })?;
        if !log.events.iter().any(|e| matches!(e, Event::Start { .. })) {
            return Err(SummaryError::NoStart { path: events_path });
        }
        let config_path = path.join("config.yaml");
        let config = match std::fs::read_to_string(&config_path) {
            Ok(text) => {
                let bad = |message: String| SummaryError::Config {
                    path: config_path.clone(),
                    message,
                };
                let v: serde_yaml::Value =
                    serde_yaml::from_str(&text).map_err(|e| bad(e.to_string()))?;
                flatten_config(&serde_json::to_value(v).map_err(|e| bad(e.to_string()))?)
            }
            Err(_) => BTreeMap::new(),
        };
        let log_time = modified(&events_path);
        let log_age = folder_age(path);
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_else(|| path.display().to_string());
        let mut summary = RunSummary::from_events(&name, path, &log.events, config, log_age);
        summary.wall_seconds = match (modified(&config_path), log_time) {
            (Some(a), Some(b)) => b.duration_since(a).ok().map(|d| d.as_secs_f64()),
            _ => None,
        };
        Ok(RunRecord {
            summary,
            events: log.events,
            torn_tail: log.torn_tail.is_some(),
        })
    }

    /// The run's scalars, one row per step that has any: `step`, `epoch`, `loss`, `lr`,
    /// `examples_per_sec` and `eval_<metric>`. Also returns the `eval_*` column names.
    pub fn scalar_rows(
        &self,
    ) -> (
        Vec<serde_json::Map<String, serde_json::Value>>,
        BTreeSet<String>,
    ) {
        let mut rows: BTreeMap<usize, serde_json::Map<String, serde_json::Value>> = BTreeMap::new();
        let mut eval_keys = BTreeSet::new();
        for e in &self.events {
            match e {
                Event::Step {
                    step,
                    epoch,
                    loss,
                    lr,
                    examples_per_sec,
                    ..
                } => {
                    let r = rows.entry(*step).or_default();
                    r.insert("step".into(), (*step).into());
                    r.insert("epoch".into(), (*epoch).into());
                    r.insert("loss".into(), (*loss).into());
                    r.insert("lr".into(), (*lr).into());
                    r.insert("examples_per_sec".into(), (*examples_per_sec).into());
                }
                Event::Eval { step, metrics } | Event::Done { step, metrics, .. } => {
                    let r = rows.entry(*step).or_default();
                    r.insert("step".into(), (*step).into());
                    for (k, v) in metrics {
                        let key = format!("eval_{k}");
                        eval_keys.insert(key.clone());
                        r.insert(key, (*v).into());
                    }
                }
                _ => {}
            }
        }
        (rows.into_values().collect(), eval_keys)
    }
}

fn modified(p: &Path) -> Option<std::time::SystemTime> {
    std::fs::metadata(p).and_then(|m| m.modified()).ok()
}

/// How long ago the run folder `dir` was last written: its `events.jsonl`, or, before it has
/// one, its `config.yaml` (a run loads its model between the two). `None` when it has neither.
/// The age [`RunState::of`] takes.
///
/// A folder with a lock file ([`super::lock`]) is told by its lock instead: held by a live
/// trainer reads as just written (age zero), free as no age at all, so a run is running
/// exactly while its trainer lives, however long a step or its model's loading takes.
pub fn folder_age(dir: &Path) -> Option<Duration> {
    if dir.join(super::lock::LOCK_FILE).exists() {
        return super::lock::holder(dir).map(|_| Duration::ZERO);
    }
    modified(&dir.join("events.jsonl"))
        .or_else(|| modified(&dir.join("config.yaml")))
        .and_then(|t| t.elapsed().ok())
}

/// The state of the run in `dir` whose log holds `events`, by the one rule ([`RunState::of`]).
pub fn log_state(dir: &Path, events: &[Event]) -> RunState {
    let done = events.iter().rev().find_map(|e| match e {
        Event::Done { stopped_early, .. } => Some(*stopped_early),
        _ => None,
    });
    RunState::of(done, folder_age(dir))
}

/// Every run folder (a folder holding `events.jsonl`) under `root`, at any depth, sorted. A
/// run folder's own subfolders (checkpoints) are not searched. An unreadable `root` gives none.
pub fn scan(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        if dir.join("events.jsonl").is_file() {
            out.push(dir);
            continue;
        }
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                stack.push(p);
            }
        }
    }
    out.sort();
    out
}

/// Flatten a configuration into `key` / `outer.inner` → value text.
pub fn flatten_config(v: &serde_json::Value) -> BTreeMap<String, String> {
    fn text(v: &serde_json::Value) -> String {
        match v {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        }
    }
    fn go(prefix: &str, v: &serde_json::Value, out: &mut BTreeMap<String, String>) {
        match v {
            serde_json::Value::Object(m) if !m.is_empty() => {
                for (k, x) in m {
                    let key = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    go(&key, x, out);
                }
            }
            _ if !prefix.is_empty() => {
                out.insert(prefix.to_string(), text(v));
            }
            _ => {}
        }
    }
    let mut out = BTreeMap::new();
    go("", v, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::events::EVENT_SCHEMA_VERSION;

    fn metrics(acc: f64) -> Metrics {
        Metrics::from([
            ("accuracy".to_string(), acc),
            ("loss".to_string(), 1.0 - acc),
        ])
    }

    fn events(upto: usize, done: bool) -> Vec<Event> {
        let mut ev = vec![Event::Start {
            schema: EVENT_SCHEMA_VERSION,
            task: "rte".into(),
            method: "dps-dense".into(),
            total_steps: 10,
            steps_per_epoch: 5,
            num_train: 80,
            num_dev: 10,
            config: serde_json::json!({"seed": 7, "method": "dps-dense"}),
            start_step: 0,
            device: None,
        }];
        for step in 1..=upto {
            ev.push(Event::Step {
                step,
                epoch: step as f64 / 5.0,
                loss: 1.0 / step as f64,
                lr: 1e-3,
                examples_per_sec: 10.0,
                grad_norm: None,
                step_seconds: Some(0.25),
                run_seconds: None,
            });
            if step % 5 == 0 {
                ev.push(Event::Eval {
                    step,
                    metrics: metrics(if step == 5 { 0.75 } else { 0.5 }),
                });
            }
        }
        if done {
            ev.push(Event::Done {
                step: upto,
                metrics: metrics(0.625),
                stopped_early: false,
            });
        }
        ev
    }

    #[test]
    fn one_rule_for_the_state() {
        let minute = Duration::from_secs(60);
        assert_eq!(RunState::of(Some(false), None), RunState::Finished);
        assert_eq!(RunState::of(Some(true), None), RunState::Stopped);
        assert_eq!(RunState::Stopped.word(), "stopped early");
        assert_eq!(
            RunState::of(Some(false), Some(Duration::ZERO)),
            RunState::Finished
        );
        assert_eq!(
            RunState::of(None, Some(Duration::from_secs(5))),
            RunState::Running
        );
        assert_eq!(RunState::of(None, Some(minute)), RunState::Crashed);
        assert_eq!(RunState::of(None, None), RunState::Crashed);
    }

    #[test]
    fn summary_of_a_finished_and_a_crashed_run() {
        let p = Path::new("runs/x");
        let s = RunSummary::from_events("x", p, &events(10, true), BTreeMap::new(), None);
        assert_eq!(s.status, RunState::Finished);
        assert_eq!((s.step, s.total_steps), (10, 10));
        assert_eq!((s.task.as_str(), s.method.as_str()), ("rte", "dps-dense"));
        assert_eq!(s.seed, Some(7));
        assert_eq!(s.main_metric.as_deref(), Some("accuracy"));
        assert_eq!(s.final_metric, Some(0.625));
        let best = s.best.clone().unwrap();
        assert_eq!((best.value, best.step), (0.75, 5));
        assert_eq!(s.final_loss, Some(0.1));
        assert_eq!(s.train_seconds, 2.5);
        assert_eq!(s.best("loss"), Some((0.25, 5)));
        assert_eq!(s.metric_series("accuracy"), vec![(5, 0.75), (10, 0.5)]);
        let c = RunSummary::from_events("y", p, &events(7, false), BTreeMap::new(), None);
        assert_eq!(c.status, RunState::Crashed);
        assert_eq!(c.step, 7);
        assert_eq!(
            c.final_metric,
            Some(0.75),
            "the last evaluation when there is no done"
        );
        let j = serde_json::to_value(&s).unwrap();
        assert_eq!(j["status"], "finished");
        assert_eq!(j["best"]["step"], 5);
        assert_eq!(j["config"]["seed"], "7");
        assert!(j.get("evals").is_none());
    }

    #[test]
    fn folding_a_growing_log_gives_the_summary_of_what_was_read() {
        let p = Path::new("runs/x");
        let all = events(10, true);
        let mut s = RunSummary::new("x", p);
        for (i, e) in all.iter().enumerate() {
            s.apply(e);
            s.settle(None);
            let whole = RunSummary::from_events("x", p, &all[..=i], BTreeMap::new(), None);
            assert_eq!(s, whole, "after {} events", i + 1);
        }
        assert_eq!(s.status, RunState::Finished);
        assert_eq!(s.best.map(|b| (b.value, b.step)), Some((0.75, 5)));
    }

    #[test]
    fn a_folder_is_as_old_as_its_log_or_else_its_config() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path();
        assert_eq!(folder_age(d), None, "neither file");
        assert_eq!(RunState::of(None, folder_age(d)), RunState::Crashed);
        std::fs::write(d.join("config.yaml"), "seed: 1\n").unwrap();
        let age = folder_age(d).expect("the config's age");
        assert!(age < RUNNING_WINDOW, "{age:?}");
        assert_eq!(RunState::of(None, folder_age(d)), RunState::Running);
        std::fs::write(d.join("events.jsonl"), "").unwrap();
        assert!(folder_age(d).is_some_and(|a| a < RUNNING_WINDOW));
    }

    #[test]
    fn scan_finds_run_folders_at_any_depth_and_reads_them() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        let a = root.join("a");
        let b = root.join("group/seed-1/b");
        for (dir, done) in [(&a, true), (&b, false)] {
            std::fs::create_dir_all(dir.join("checkpoints/step-5")).unwrap();
            let text: String = events(10, done)
                .iter()
                .map(|e| e.to_json_line() + "\n")
                .collect();
            std::fs::write(dir.join("events.jsonl"), text).unwrap();
        }
        std::fs::create_dir_all(root.join("empty")).unwrap();
        assert_eq!(scan(root), vec![a.clone(), b.clone()]);
        assert!(scan(&root.join("missing")).is_empty());
        let ra = RunRecord::read(&a).unwrap();
        assert_eq!(ra.summary.status, RunState::Finished);
        assert_eq!(ra.summary.name, "a");
        // Just written, no done event: running.
        let rb = RunRecord::read(&b).unwrap();
        assert_eq!(rb.summary.status, RunState::Running);
        let (rows, keys) = ra.scalar_rows();
        assert_eq!(rows.len(), 10);
        assert_eq!(rows[4]["eval_accuracy"], 0.75);
        assert!(keys.contains("eval_loss"));
        std::fs::write(root.join("empty/events.jsonl"), "").unwrap();
        let e = RunRecord::read(&root.join("empty"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("no `start` event"), "{e}");
    }
}
