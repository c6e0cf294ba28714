//! The compare screen's state: several runs read from their folders, their configurations side by
//! side, their final and best metrics, and the view settings.
//!
//! [`CompareState`] is pure: it is built from [`CompareRun`]s (each one a run's
//! [`RunSummary`] plus the dashboard state rebuilt from its `events.jsonl`), changed only by
//! [`CompareState::on_key`], and drawn by [`crate::ui::screens::compare::draw`].

use crate::core::events::Event;
use crate::core::task_metrics::{self, EvalTask};
use crate::runs::summary::{RunRecord, RunSummary, SummaryError};
use crate::ui::keys::{self, Action, Context, Section};
use crate::ui::run_state::Run;
use crate::ui::screens::help;
use crate::ui::theme::Theme;
use crate::ui::view::SMOOTHING;
use crossterm::event::{KeyEvent, KeyEventKind, KeyModifiers};
use ratatui::layout::Rect;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// One run as read from its folder: its summary, and the dashboard state after every event of
/// its log (for the curves).
#[derive(Debug, Clone)]
pub struct CompareRun {
    pub summary: RunSummary,
    pub run: Run,
    /// Whether the log's last line was torn (skipped).
    pub torn_tail: bool,
}

impl CompareRun {
    /// A run from its events and configuration (pure); see [`RunSummary::from_events`].
    pub fn from_events(
        name: &str,
        path: &Path,
        events: &[Event],
        config: BTreeMap<String, String>,
        log_age: Option<Duration>,
    ) -> CompareRun {
        CompareRun {
            summary: RunSummary::from_events(name, path, events, config, log_age),
            run: Run::from_events(events),
            torn_tail: false,
        }
    }

    /// Read a run folder: `events.jsonl` (required) and `config.yaml` (optional).
    pub fn load(path: &Path) -> Result<CompareRun, SummaryError> {
        let record = RunRecord::read(path)?;
        Ok(CompareRun {
            run: Run::from_events(&record.events),
            summary: record.summary,
            torn_tail: record.torn_tail,
        })
    }
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
    /// The dev metrics that can be plotted: the main metric first, then the training task's
    /// other metrics, each eval task's main metric (`sick/accuracy`), the eval tasks' other
    /// metrics, and the losses last.
    pub metrics: Vec<String>,
    /// Index into `metrics`.
    pub metric: usize,
    /// The eval tasks of any of the runs (`sick/accuracy`, ...), each with its main metric.
    pub eval_tasks: Vec<EvalTask>,
    pub log_y: bool,
    /// Index into [`SMOOTHING`].
    pub smoothing: usize,
    /// Show only the configuration keys that differ.
    pub only_diff: bool,
    /// Configuration rows scrolled past.
    pub scroll: usize,
    pub help: bool,
    /// Rows the help is scrolled down.
    pub help_scroll: usize,
    /// The screen at the last frame (how far the help scrolls).
    pub area: Rect,
    pub theme: Theme,
    quit: bool,
}

impl CompareState {
    /// The comparison of `runs`, with the theme from the environment.
    pub fn new(runs: Vec<CompareRun>) -> CompareState {
        let keys: BTreeSet<&String> = runs.iter().flat_map(|r| r.summary.config.keys()).collect();
        let rows = keys
            .into_iter()
            .map(|k| {
                // A live control changed while training shows `start→end`; the rest of the
                // configuration (and live controls left alone) as it started.
                let values: Vec<Option<String>> = runs
                    .iter()
                    .map(|r| match r.summary.live.get(k) {
                        Some(v) if v.changed() && v.end.is_some() => Some(v.text()),
                        _ => r.summary.config.get(k).cloned(),
                    })
                    .collect();
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
            if let Some(m) = &r.summary.main_metric {
                if !metrics.contains(m) {
                    metrics.push(m.clone());
                }
            }
        }
        let mut eval_tasks: Vec<EvalTask> = Vec::new();
        for t in runs.iter().flat_map(|r| r.summary.eval_tasks()) {
            if !eval_tasks.iter().any(|e| e.task == t.task) {
                eval_tasks.push(t);
            }
        }
        let others: BTreeSet<String> = runs.iter().flat_map(|r| r.summary.metric_names()).collect();
        let (per_task, own): (Vec<&String>, Vec<&String>) =
            others.iter().partition(|m| task_metrics::is_task_metric(m));
        // The training task's own metrics, then each eval task's main metric, then the eval
        // tasks' other metrics; losses last.
        let ordered = own
            .iter()
            .filter(|m| m.as_str() != "loss")
            .map(|m| m.to_string())
            .chain(eval_tasks.iter().map(|t| t.key()))
            .chain(
                per_task
                    .iter()
                    .filter(|m| !task_metrics::lower_is_better(m))
                    .map(|m| m.to_string()),
            )
            .chain(
                own.iter()
                    .filter(|m| m.as_str() == "loss")
                    .map(|m| m.to_string()),
            )
            .chain(
                per_task
                    .iter()
                    .filter(|m| task_metrics::lower_is_better(m))
                    .map(|m| m.to_string()),
            );
        for m in ordered {
            if !metrics.contains(&m) {
                metrics.push(m);
            }
        }
        CompareState {
            runs,
            rows,
            metrics,
            metric: 0,
            eval_tasks,
            log_y: false,
            smoothing: 1,
            only_diff: false,
            scroll: 0,
            help: false,
            help_scroll: 0,
            area: Rect::new(0, 0, 120, 40),
            theme: Theme::from_env(),
            quit: false,
        }
    }

    /// Read every run folder.
    pub fn load(paths: &[PathBuf]) -> Result<CompareState, SummaryError> {
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
        let pressed = keys::lookup(&[Section::Compare], &key);
        if pressed.is_some_and(|p| p.action == Action::Quit)
            && key.modifiers.contains(KeyModifiers::CONTROL)
        {
            self.quit = true;
            return;
        }
        if self.help {
            match help::on_key(Context::Compare, self.area, self.help_scroll, &key) {
                Some(s) => self.help_scroll = s,
                None => self.help = false,
            }
            return;
        }
        let Some(p) = pressed else {
            return;
        };
        let n_metrics = self.metrics.len().max(1);
        let sign = |n: isize| if p.back { -n } else { n };
        match p.action {
            Action::Quit => self.quit = true,
            Action::Help => {
                self.help = true;
                self.help_scroll = 0;
            }
            Action::LogY => self.log_y = !self.log_y,
            Action::Smoothing => self.smoothing = (self.smoothing + 1) % SMOOTHING.len(),
            Action::OnlyDiff => {
                self.only_diff = !self.only_diff;
                self.scroll = 0;
            }
            Action::NextMetric => {
                let by = if p.back { n_metrics - 1 } else { 1 };
                self.metric = (self.metric + by) % n_metrics;
            }
            Action::Scroll => self.scroll_by(sign(1)),
            Action::Page => self.scroll_by(sign(10)),
            Action::Ends => self.scroll = 0,
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
            "runs": self.runs.iter().map(|r| &r.summary).collect::<Vec<_>>(),
            "differing_keys": self.differing_keys(),
        })
    }
}
