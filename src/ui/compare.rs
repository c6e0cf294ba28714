//! The compare screen's state: several runs read from their folders, their configurations side by
//! side, their final and best metrics, and the view settings.
//!
//! [`CompareState`] is pure: it is built from [`CompareRun`]s (each one the dashboard state
//! rebuilt from a run's `events.jsonl` plus its flattened `config.yaml`), changed only by
//! [`CompareState::on_key`], and drawn by [`crate::ui::screens::compare::draw`].

use crate::runs::event_log;
use crate::train::events::{Event, Metrics};
use crate::ui::format::value_text;
use crate::ui::run_state::Run;
use crate::ui::theme::Theme;
use crate::ui::view::SMOOTHING;
use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Why a run folder could not be read for comparison.
#[derive(Debug, thiserror::Error)]
pub enum CompareError {
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

/// Whether a run finished, crashed (its log ends without a `done` event) or is still running
/// (no `done` event and its log was written to in the last minute).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunState {
    Finished,
    Crashed,
    Running,
}

impl RunState {
    pub fn word(self) -> &'static str {
        match self {
            RunState::Finished => "finished",
            RunState::Crashed => "crashed",
            RunState::Running => "running",
        }
    }
}

/// A log written to within this long is taken to belong to a running run.
pub const RUNNING_WINDOW: Duration = Duration::from_secs(60);

/// One run as read from its folder.
#[derive(Debug, Clone)]
pub struct CompareRun {
    /// The run folder's name.
    pub name: String,
    pub path: PathBuf,
    /// The dashboard state after every event of the log.
    pub run: Run,
    /// The configuration flattened to `key` (or `outer.inner`) → value text.
    pub config: BTreeMap<String, String>,
    pub state: RunState,
    /// Seconds from the run folder's creation (`config.yaml`) to the last write of
    /// `events.jsonl`, from the files' times; includes any time between a crash and a resume.
    pub wall_seconds: Option<f64>,
    /// Whether the log's last line was torn (skipped).
    pub torn_tail: bool,
}

/// Flatten a configuration into `key` / `outer.inner` → value text.
pub fn flatten_config(v: &serde_json::Value) -> BTreeMap<String, String> {
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
                out.insert(prefix.to_string(), value_text(v));
            }
            _ => {}
        }
    }
    let mut out = BTreeMap::new();
    go("", v, &mut out);
    out
}

impl CompareRun {
    /// A run from its events and configuration (pure). An empty `config` falls back to the
    /// configuration in the `start` event. `recently_written` tells a running run from a crashed
    /// one when there is no `done` event.
    pub fn from_events(
        name: &str,
        path: &Path,
        events: &[Event],
        config: BTreeMap<String, String>,
        recently_written: bool,
    ) -> CompareRun {
        let run = Run::from_events(events);
        let config = if config.is_empty() {
            flatten_config(&run.config)
        } else {
            config
        };
        let state = if run.done.is_some() {
            RunState::Finished
        } else if recently_written {
            RunState::Running
        } else {
            RunState::Crashed
        };
        CompareRun {
            name: name.to_string(),
            path: path.to_path_buf(),
            run,
            config,
            state,
            wall_seconds: None,
            torn_tail: false,
        }
    }

    /// Read a run folder: `events.jsonl` (required) and `config.yaml` (optional).
    pub fn load(path: &Path) -> Result<CompareRun, CompareError> {
        let events_path = path.join("events.jsonl");
        let log = event_log::read(&events_path).map_err(|source| CompareError::Read {
            path: events_path.clone(),
            source,
        })?;
        if !log.events.iter().any(|e| matches!(e, Event::Start { .. })) {
            return Err(CompareError::NoStart { path: events_path });
        }
        let config_path = path.join("config.yaml");
        let config = match std::fs::read_to_string(&config_path) {
            Ok(text) => {
                let v: serde_yaml::Value =
                    serde_yaml::from_str(&text).map_err(|e| CompareError::Config {
                        path: config_path.clone(),
                        message: e.to_string(),
                    })?;
                let v = serde_json::to_value(v).map_err(|e| CompareError::Config {
                    path: config_path.clone(),
                    message: e.to_string(),
                })?;
                flatten_config(&v)
            }
            Err(_) => BTreeMap::new(),
        };
        let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
        let log_time = modified(&events_path);
        let recent = log_time
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|e| e < RUNNING_WINDOW);
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_else(|| path.display().to_string());
        let mut run = CompareRun::from_events(&name, path, &log.events, config, recent);
        run.wall_seconds = match (modified(&config_path), log_time) {
            (Some(a), Some(b)) => b.duration_since(a).ok().map(|d| d.as_secs_f64()),
            _ => None,
        };
        run.torn_tail = log.torn_tail.is_some();
        Ok(run)
    }

    /// The task's main dev metric (`accuracy`, `mcc`, ...), when the task is known.
    pub fn main_metric(&self) -> Option<&'static str> {
        crate::data::glue::task(&self.run.task).map(|t| t.main_metric)
    }

    /// The final dev metrics: those of the `done` event, else the last evaluation.
    pub fn final_metrics(&self) -> Metrics {
        match &self.run.done {
            Some(d) if !d.metrics.is_empty() => d.metrics.clone(),
            _ => self
                .run
                .evals
                .last()
                .map(|e| e.1.clone())
                .unwrap_or_default(),
        }
    }

    /// `(step, value)` of every evaluation of `metric`, plus the final one when it is not an
    /// evaluation already.
    pub fn metric_series(&self, metric: &str) -> Vec<(usize, f64)> {
        let mut v: Vec<(usize, f64)> = self
            .run
            .evals
            .iter()
            .filter_map(|(s, m)| m.get(metric).map(|x| (*s, *x)))
            .filter(|p| p.1.is_finite())
            .collect();
        if let Some(d) = &self.run.done {
            if let Some(x) = d.metrics.get(metric).filter(|x| x.is_finite()) {
                if v.last().is_none_or(|l| l.0 != d.step) {
                    v.push((d.step, *x));
                }
            }
        }
        v
    }

    /// The best value of `metric` and its step (the lowest for `loss`, else the highest).
    pub fn best(&self, metric: &str) -> Option<(f64, usize)> {
        let lower = metric == "loss";
        self.metric_series(metric)
            .into_iter()
            .fold(None, |acc: Option<(f64, usize)>, (s, v)| match acc {
                Some(b) if (lower && b.0 <= v) || (!lower && b.0 >= v) => Some(b),
                _ => Some((v, s)),
            })
    }

    /// The summary printed by `compare --json`.
    pub fn report(&self) -> RunReport {
        let main = self.main_metric();
        RunReport {
            name: self.name.clone(),
            path: self.path.display().to_string(),
            task: self.run.task.clone(),
            method: self.run.hyper.method.clone(),
            status: self.state,
            step: self.run.step,
            total_steps: self.run.total_steps,
            main_metric: main.map(String::from),
            final_metrics: self.final_metrics(),
            best: main.and_then(|m| {
                self.best(m).map(|(value, step)| BestMetric {
                    metric: m.to_string(),
                    value,
                    step,
                })
            }),
            final_loss: self.run.loss.last_loss(),
            train_seconds: self.run.train_seconds,
            wall_seconds: self.wall_seconds,
            config: self.config.clone(),
        }
    }
}

/// The best value of a run's main metric.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BestMetric {
    pub metric: String,
    pub value: f64,
    pub step: usize,
}

/// One run in `compare --json`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunReport {
    pub name: String,
    pub path: String,
    pub task: String,
    pub method: String,
    pub status: RunState,
    /// The last step reached.
    pub step: usize,
    pub total_steps: usize,
    pub main_metric: Option<String>,
    pub final_metrics: Metrics,
    pub best: Option<BestMetric>,
    /// The last training loss.
    pub final_loss: Option<f64>,
    /// Sum of the reported step times.
    pub train_seconds: f64,
    pub wall_seconds: Option<f64>,
    pub config: BTreeMap<String, String>,
}

/// One configuration key across the runs.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigRow {
    pub key: String,
    /// The value in each run (`None` where the run has no such key).
    pub values: Vec<Option<String>>,
    /// Whether the runs disagree.
    pub differs: bool,
}

/// The compare screen: runs, their configuration table and the view settings.
#[derive(Debug, Clone)]
pub struct CompareState {
    pub runs: Vec<CompareRun>,
    pub rows: Vec<ConfigRow>,
    /// The dev metrics that can be plotted: the main metric first, `loss` last.
    pub metrics: Vec<String>,
    /// Index into `metrics`.
    pub metric: usize,
    pub log_y: bool,
    /// Index into [`SMOOTHING`].
    pub smoothing: usize,
    /// Show only the configuration keys that differ.
    pub only_diff: bool,
    /// Configuration rows scrolled past.
    pub scroll: usize,
    pub help: bool,
    pub theme: Theme,
    quit: bool,
}

impl CompareState {
    /// The comparison of `runs`, with the theme from the environment.
    pub fn new(runs: Vec<CompareRun>) -> CompareState {
        let keys: BTreeSet<&String> = runs.iter().flat_map(|r| r.config.keys()).collect();
        let rows = keys
            .into_iter()
            .map(|k| {
                let values: Vec<Option<String>> =
                    runs.iter().map(|r| r.config.get(k).cloned()).collect();
                let differs = values.windows(2).any(|w| w[0] != w[1]);
                ConfigRow {
                    key: k.clone(),
                    values,
                    differs,
                }
            })
            .collect();
        let mut metrics: Vec<String> = Vec::new();
        for r in &runs {
            if let Some(m) = r.main_metric() {
                if !metrics.iter().any(|x| x == m) {
                    metrics.push(m.to_string());
                }
            }
        }
        let mut others = BTreeSet::new();
        for r in &runs {
            for (_, m) in &r.run.evals {
                others.extend(m.keys().cloned());
            }
            if let Some(d) = &r.run.done {
                others.extend(d.metrics.keys().cloned());
            }
        }
        for m in &others {
            if m != "loss" && !metrics.contains(m) {
                metrics.push(m.clone());
            }
        }
        if others.contains("loss") {
            metrics.push("loss".into());
        }
        CompareState {
            runs,
            rows,
            metrics,
            metric: 0,
            log_y: false,
            smoothing: 1,
            only_diff: false,
            scroll: 0,
            help: false,
            theme: Theme::from_env(),
            quit: false,
        }
    }

    /// Read every run folder.
    pub fn load(paths: &[PathBuf]) -> Result<CompareState, CompareError> {
        let runs = paths
            .iter()
            .map(|p| CompareRun::load(p))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(CompareState::new(runs))
    }

    /// The plotted dev metric.
    pub fn metric_name(&self) -> Option<&str> {
        self.metrics
            .get(self.metric.min(self.metrics.len().saturating_sub(1)))
            .map(String::as_str)
    }

    /// The smoothing factor in use.
    pub fn smoothing(&self) -> f64 {
        SMOOTHING[self.smoothing % SMOOTHING.len()]
    }

    /// The configuration keys on which the runs disagree.
    pub fn differing_keys(&self) -> Vec<&str> {
        self.rows
            .iter()
            .filter(|r| r.differs)
            .map(|r| r.key.as_str())
            .collect()
    }

    /// The configuration rows on display (all, or only those that differ).
    pub fn visible_rows(&self) -> Vec<&ConfigRow> {
        self.rows
            .iter()
            .filter(|r| r.differs || !self.only_diff)
            .collect()
    }

    /// Whether the user asked to leave.
    pub fn should_quit(&self) -> bool {
        self.quit
    }

    /// Apply one key.
    pub fn on_key(&mut self, key: KeyEvent) {
        if key.kind == KeyEventKind::Release {
            return;
        }
        if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c') {
            self.quit = true;
            return;
        }
        if self.help {
            if matches!(key.code, KeyCode::Esc | KeyCode::Char('?' | 'q')) {
                self.help = false;
            }
            return;
        }
        let n_metrics = self.metrics.len().max(1);
        match key.code {
            KeyCode::Char('q') | KeyCode::Esc => self.quit = true,
            KeyCode::Char('?') => self.help = true,
            KeyCode::Char('l') => self.log_y = !self.log_y,
            KeyCode::Char('s') => self.smoothing = (self.smoothing + 1) % SMOOTHING.len(),
            KeyCode::Char('d') => {
                self.only_diff = !self.only_diff;
                self.scroll = 0;
            }
            KeyCode::Tab => self.metric = (self.metric + 1) % n_metrics,
            KeyCode::BackTab => self.metric = (self.metric + n_metrics - 1) % n_metrics,
            KeyCode::Down => self.scroll_by(1),
            KeyCode::Up => self.scroll_by(-1),
            KeyCode::PageDown => self.scroll_by(10),
            KeyCode::PageUp => self.scroll_by(-10),
            KeyCode::Home => self.scroll = 0,
            _ => {}
        }
    }

    fn scroll_by(&mut self, d: isize) {
        let max = self.visible_rows().len().saturating_sub(1);
        self.scroll = self.scroll.saturating_add_signed(d).min(max);
    }

    /// The comparison as JSON: every run's report and the keys that differ.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "runs": self.runs.iter().map(|r| r.report()).collect::<Vec<_>>(),
            "differing_keys": self.differing_keys(),
        })
    }
}
