//! `dps-tui report ROOT`: results over seeds. Every finished run under a root is grouped by
//! task × method (and by any other configuration key whose value differs between the runs of
//! one task); each group gets the statistics of its main dev metric, and each method is compared
//! with a baseline method, paired by seed, with a bootstrap interval of the mean difference. A
//! method key (dropout, p, ...) pairs across values unless the baseline itself ran at several of
//! them: then each value pairs with its own (an ablation).
//!
//! Runs that also evaluate on other tasks (`eval_tasks`, metrics named `<task>/<metric>`, see
//! [`crate::core::task_metrics`]) get the same again for every eval task: one group per
//! training task × eval task × method, on the eval task's main metric, and its comparisons,
//! marked with the eval task (`sick (from snli)` in the markdown, `eval_task` in the JSON).

use super::stats::{mean, median, sample_std};
use super::summary::{scan, RunRecord, RunState};
use crate::core::events::Metrics;
use crate::core::task_metrics;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The `source` of dps-tui's own runs.
pub const OWN_SOURCE: &str = "dps-tui";

/// Keys that never split groups: they change how a run is executed or logged, not what it
/// computes (`eval_every` only adds evaluations, which draw no random numbers).
const IGNORED_KEYS: &[&str] = &[
    "seed",
    "threads",
    "device",
    "data_dir",
    "nli_dir",
    "checkpoint_every",
    "keep_last",
    "keep_best",
    "eval_every",
    // Which eval tasks a run reports splits nothing: each one is a group of its own.
    "eval_tasks",
];

/// Keys that belong to a method (or resolve per method, as `dropout: auto` does): a method is
/// paired with its baseline whatever their values.
const METHOD_KEYS: &[&str] = &[
    "method",
    "dropout",
    "p",
    "update_ratio",
    "selection_scope",
    "freeze",
    "child_tuning_keep",
];

/// Bootstrap resamples for the interval of a mean difference.
const BOOTSTRAP_SAMPLES: usize = 10_000;

/// One finished run, as the report sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct RunResult {
    pub path: PathBuf,
    pub task: String,
    pub method: String,
    pub seed: u64,
    /// The task's main metric name and its final value.
    pub metric: String,
    pub value: f64,
    /// Every configuration key with its value as text (with `source`: `dps-tui` for a run
    /// folder, the other tool's name for an imported run).
    pub config: BTreeMap<String, String>,
    /// Read from another tool's results ([`super::imported`]): a key its configuration leaves
    /// out is unknown, not different.
    pub imported: bool,
    /// The final main metric of every eval task the run reports (empty for an ordinary run).
    pub evals: Vec<EvalResult>,
}

/// A run's final value on one eval task.
#[derive(Debug, Clone, PartialEq)]
pub struct EvalResult {
    pub task: String,
    /// The eval task's main metric (its own name: `accuracy`).
    pub metric: String,
    pub value: f64,
}

/// The eval tasks' final main metrics in `metrics` (their `<task>/<metric>` keys), in the
/// order of `declared`.
pub fn eval_results(metrics: &Metrics, declared: &[String]) -> Vec<EvalResult> {
    task_metrics::eval_tasks([metrics], declared)
        .into_iter()
        .filter_map(|t| {
            let value = *metrics.get(&t.key())?;
            Some(EvalResult {
                task: t.task,
                metric: t.metric,
                value,
            })
        })
        .collect()
}

/// The statistics of one group's main metric.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Group {
    pub task: String,
    /// The eval task whose metric this is, for a run with eval tasks (`None`: the training
    /// task's own).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub eval_task: Option<String>,
    pub method: String,
    /// The values of the other keys that differ between runs (empty when none do).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub keys: BTreeMap<String, String>,
    pub metric: String,
    pub n: usize,
    pub mean: f64,
    /// Sample standard deviation (n − 1); `None` (`null` in `--json`) for a single run, as
    /// the text prints none.
    pub std: Option<f64>,
    pub median: f64,
    pub min: f64,
    pub max: f64,
    pub seeds: Vec<u64>,
}

/// A method against the baseline on the seeds both have.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    pub task: String,
    /// As in [`Group::eval_task`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub eval_task: Option<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub keys: BTreeMap<String, String>,
    pub metric: String,
    pub method: String,
    pub baseline: String,
    pub n_pairs: usize,
    /// Mean of (method − baseline) over the pairs.
    pub mean_diff: f64,
    /// Percentile bootstrap 95% interval of the mean difference; `None` (`null` in `--json`)
    /// from fewer than [`MIN_N`] pairs, as the text prints none.
    pub ci95: Option<[f64; 2]>,
    pub wins: usize,
    pub losses: usize,
    pub ties: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub groups: Vec<Group>,
    pub comparisons: Vec<Comparison>,
}

/// The finished runs under `root` (a final `done` event that was not an early stop), and for
/// every other run folder why it is left out.
pub fn collect(root: &Path) -> (Vec<RunResult>, Vec<(PathBuf, String)>) {
    collect_with(root, false)
}

/// [`collect`], also counting runs stopped early when `include_stopped` (their final metrics
/// are those of their last evaluation).
pub fn collect_with(
    root: &Path,
    include_stopped: bool,
) -> (Vec<RunResult>, Vec<(PathBuf, String)>) {
    let mut runs = Vec::new();
    let mut skipped = Vec::new();
    for dir in scan(root) {
        match RunRecord::read(&dir)
            .map_err(|e| e.to_string())
            .and_then(|r| result_of(&r, include_stopped))
        {
            Ok(r) => runs.push(r),
            Err(why) => skipped.push((dir, why)),
        }
    }
    (runs, skipped)
}

fn result_of(record: &RunRecord, include_stopped: bool) -> Result<RunResult, String> {
    match record.summary.status {
        RunState::Finished => {}
        RunState::Stopped if include_stopped => {}
        RunState::Stopped => {
            return Err(
                "stopped early (left out of the statistics; --include-stopped counts it)".into(),
            )
        }
        other => return Err(format!("{} (no final `done` event)", other.word())),
    }
    let s = &record.summary;
    let metric = s.main_metric.clone().ok_or("unknown task")?;
    let value = s
        .final_metric
        .ok_or_else(|| format!("no `{metric}` in the final metrics"))?;
    // Each eval task's value in the final metrics, else in its last evaluation.
    let evals = s
        .eval_tasks()
        .into_iter()
        .filter_map(|t| {
            let key = t.key();
            let value = s
                .final_metrics
                .get(&key)
                .copied()
                .or_else(|| s.metric_series(&key).last().map(|p| p.1))?;
            Some(EvalResult {
                task: t.task,
                metric: t.metric,
                value,
            })
        })
        .collect();
    let mut config = s.config.clone();
    config.insert("source".into(), OWN_SOURCE.into());
    Ok(RunResult {
        path: s.path.clone(),
        task: s.task.clone(),
        method: s.method.clone(),
        seed: s.seed.ok_or("no seed in the configuration")?,
        metric,
        value,
        config,
        imported: false,
        evals,
    })
}

/// One run's value on one task: the training task's own main metric (`eval_task` `None`) or
/// an eval task's.
struct Scored<'a> {
    run: &'a RunResult,
    eval_task: Option<&'a str>,
    metric: &'a str,
    value: f64,
}

/// Every value of every run: its own, then its eval tasks'.
fn scored(runs: &[RunResult]) -> Vec<Scored<'_>> {
    runs.iter()
        .flat_map(|r| {
            let own = Scored {
                run: r,
                eval_task: None,
                metric: &r.metric,
                value: r.value,
            };
            std::iter::once(own).chain(r.evals.iter().map(move |e| Scored {
                run: r,
                eval_task: Some(e.task.as_str()),
                metric: &e.metric,
                value: e.value,
            }))
        })
        .collect()
}

/// Group runs and compare every method with `baseline`.
pub fn build(runs: &[RunResult], baseline: &str) -> Report {
    let differing = differing_keys(runs);
    let split_keys = |r: &RunResult, skip: &[&str]| -> BTreeMap<String, String> {
        differing
            .iter()
            .filter(|k| !skip.contains(&k.as_str()))
            .map(|k| {
                let unknown = if r.imported { "?" } else { "" };
                let v = r.config.get(k).map_or(unknown, |v| v.as_str());
                (k.clone(), v.to_string())
            })
            .collect()
    };
    let scored = scored(runs);
    // (task, eval task, method, keys) → values, in a stable order: a task's own groups first.
    type Key<'a> = (&'a str, Option<&'a str>, &'a str, BTreeMap<String, String>);
    let mut groups: BTreeMap<Key, Vec<&Scored>> = BTreeMap::new();
    for s in &scored {
        let r = s.run;
        let keys = split_keys(r, &["task", "method"]);
        groups
            .entry((r.task.as_str(), s.eval_task, r.method.as_str(), keys))
            .or_default()
            .push(s);
    }
    let out_groups = groups
        .iter()
        .map(|((task, eval_task, method, keys), rs)| {
            let values: Vec<f64> = rs.iter().map(|s| s.value).collect();
            let mut seeds: Vec<u64> = rs.iter().map(|s| s.run.seed).collect();
            seeds.sort_unstable();
            Group {
                task: task.to_string(),
                eval_task: eval_task.map(str::to_string),
                method: method.to_string(),
                keys: keys.clone(),
                metric: rs[0].metric.to_string(),
                n: values.len(),
                mean: mean(&values),
                std: (values.len() >= 2).then(|| sample_std(&values)),
                median: median(&values),
                min: values.iter().copied().fold(f64::INFINITY, f64::min),
                max: values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
                seeds,
            }
        })
        .collect();

    // Pair each method's runs with the baseline's of the same task, eval task and non-method
    // keys. A method key (dropout, p, ...) pairs across values, since it belongs to a method,
    // unless the baseline itself ran at several values of it (an ablation: vanilla at two
    // dropouts); then each value pairs with its own.
    let base_varying = baseline_varying_keys(runs, baseline, &differing);
    let skip: Vec<&str> = METHOD_KEYS
        .iter()
        .copied()
        .filter(|k| !base_varying.iter().any(|b| b == k))
        .collect();
    type PairKey<'a> = (&'a str, Option<&'a str>, BTreeMap<String, String>);
    let mut by_pairing: BTreeMap<PairKey, Vec<&Scored>> = BTreeMap::new();
    for s in &scored {
        let keys = split_keys(s.run, &skip);
        let keys = keys
            .into_iter()
            .filter(|(k, _)| k != "task" && k != "method")
            .collect();
        by_pairing
            .entry((s.run.task.as_str(), s.eval_task, keys))
            .or_default()
            .push(s);
    }
    let mut comparisons = Vec::new();
    for ((task, eval_task, keys), rs) in &by_pairing {
        let base: BTreeMap<u64, f64> = rs
            .iter()
            .filter(|s| s.run.method == baseline)
            .map(|s| (s.run.seed, s.value))
            .collect();
        // Each method, and within it each setting of its method keys that differs.
        let mut sides: BTreeMap<(&str, BTreeMap<String, String>), Vec<&Scored>> = BTreeMap::new();
        for s in rs.iter().filter(|s| s.run.method != baseline) {
            let own: BTreeMap<String, String> = split_keys(s.run, &[])
                .into_iter()
                .filter(|(k, _)| k != "method" && skip.contains(&k.as_str()))
                .collect();
            sides
                .entry((s.run.method.as_str(), own))
                .or_default()
                .push(s);
        }
        let varies = |method: &str, k: &str| {
            sides
                .keys()
                .filter(|(m, _)| *m == method)
                .filter_map(|(_, own)| own.get(k))
                .collect::<BTreeSet<_>>()
                .len()
                > 1
        };
        for ((method, own), side) in &sides {
            let diffs: Vec<f64> = side
                .iter()
                .filter_map(|s| base.get(&s.run.seed).map(|b| s.value - b))
                .collect();
            if diffs.is_empty() {
                continue;
            }
            let mut keys = keys.clone();
            keys.extend(
                own.iter()
                    .filter(|(k, _)| varies(method, k))
                    .map(|(k, v)| (k.clone(), v.clone())),
            );
            comparisons.push(Comparison {
                task: task.to_string(),
                eval_task: eval_task.map(str::to_string),
                keys,
                metric: rs[0].metric.to_string(),
                method: method.to_string(),
                baseline: baseline.to_string(),
                n_pairs: diffs.len(),
                mean_diff: mean(&diffs),
                ci95: (diffs.len() >= MIN_N).then(|| bootstrap_ci95(&diffs)),
                wins: diffs.iter().filter(|d| **d > 0.0).count(),
                losses: diffs.iter().filter(|d| **d < 0.0).count(),
                ties: diffs.iter().filter(|d| **d == 0.0).count(),
            });
        }
    }
    Report {
        groups: out_groups,
        comparisons,
    }
}

/// The method keys at which the baseline method itself ran at several values (within a task).
fn baseline_varying_keys(runs: &[RunResult], baseline: &str, differing: &[String]) -> Vec<String> {
    METHOD_KEYS
        .iter()
        .filter(|k| **k != "method" && differing.iter().any(|d| d == *k))
        .filter(|k| {
            let mut per_task: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
            for r in runs.iter().filter(|r| r.method == baseline) {
                if let Some(v) = r.config.get(**k) {
                    per_task.entry(r.task.as_str()).or_default().insert(v);
                }
            }
            per_task.values().any(|vals| vals.len() > 1)
        })
        .map(|k| k.to_string())
        .collect()
}

/// Configuration keys (other than the ignored ones) whose values are not all equal within some
/// task. A key that differs only from one task to another (`max_steps`, by the size of each
/// training set) splits nothing that the task does not already split, so it is not one. An
/// imported run without the key does not count (its value is unknown); a run folder without it
/// does (the key did not exist when it ran).
fn differing_keys(runs: &[RunResult]) -> Vec<String> {
    let all: BTreeSet<&String> = runs.iter().flat_map(|r| r.config.keys()).collect();
    let tasks: BTreeSet<&str> = runs.iter().map(|r| r.task.as_str()).collect();
    all.into_iter()
        .filter(|k| !IGNORED_KEYS.contains(&k.as_str()))
        .filter(|k| {
            tasks.iter().any(|task| {
                let vals: BTreeSet<Option<&String>> = runs
                    .iter()
                    .filter(|r| r.task == *task)
                    .filter(|r| !r.imported || r.config.contains_key(*k))
                    .map(|r| r.config.get(*k))
                    .collect();
                vals.len() > 1
            })
        })
        .cloned()
        .collect()
}

/// The 2.5th and 97.5th percentiles of the means of [`BOOTSTRAP_SAMPLES`] resamples (with
/// replacement, from a fixed seed so a report is reproducible).
pub fn bootstrap_ci95(diffs: &[f64]) -> [f64; 2] {
    let n = diffs.len();
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let mut means: Vec<f64> = (0..BOOTSTRAP_SAMPLES)
        .map(|_| (0..n).map(|_| diffs[rng.random_range(0..n)]).sum::<f64>() / n as f64)
        .collect();
    means.sort_by(f64::total_cmp);
    let at = |q: f64| means[((q * (BOOTSTRAP_SAMPLES - 1) as f64).round()) as usize];
    [at(0.025), at(0.975)]
}

/// The report as markdown tables.
pub fn to_markdown(r: &Report) -> String {
    let keys_text = |k: &BTreeMap<String, String>| {
        k.iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut s = String::from(
        "| task | method | keys | metric | n | mean | std | median | min | max | seeds |\n\
         |---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    let mut warnings = Vec::new();
    let task_text = |task: &str, eval_task: &Option<String>| match eval_task {
        Some(e) => format!("{e} (from {task})"),
        None => task.to_string(),
    };
    for g in &r.groups {
        let seeds: Vec<String> = g.seeds.iter().map(|x| x.to_string()).collect();
        if g.n < MIN_N {
            let keys = keys_text(&g.keys);
            let keys = if keys.is_empty() {
                keys
            } else {
                format!(" ({keys})")
            };
            warnings.push(format!(
                "warning: {} {}{keys}: n = {}; statistics over fewer than {MIN_N} runs say little. Fix: run more seeds",
                task_text(&g.task, &g.eval_task), g.method, g.n
            ));
        }
        // No spread from a single run.
        let std = g.std.map_or_else(|| "–".to_string(), |v| format!("{v:.4}"));
        s += &format!(
            "| {} | {} | {} | {} | {} | {:.4} | {} | {:.4} | {:.4} | {:.4} | {} |\n",
            task_text(&g.task, &g.eval_task),
            g.method,
            keys_text(&g.keys),
            g.metric,
            g.n,
            g.mean,
            std,
            g.median,
            g.min,
            g.max,
            seeds.join(" ")
        );
    }
    if !r.comparisons.is_empty() {
        s += "\n| task | keys | metric | method − baseline | pairs | mean diff | 95% CI | wins / losses / ties |\n\
              |---|---|---|---|---|---|---|---|\n";
        for c in &r.comparisons {
            let ci = match c.ci95 {
                Some([lo, hi]) => format!("[{lo:+.4}, {hi:+.4}]"),
                None => format!("– (< {MIN_N} pairs)"),
            };
            s += &format!(
                "| {} | {} | {} | {} − {} | {} | {:+.4} | {} | {} / {} / {} |\n",
                task_text(&c.task, &c.eval_task),
                keys_text(&c.keys),
                c.metric,
                c.method,
                c.baseline,
                c.n_pairs,
                c.mean_diff,
                ci,
                c.wins,
                c.losses,
                c.ties
            );
        }
    }
    if !warnings.is_empty() {
        s += &format!("\n{}\n", warnings.join("\n"));
    }
    s
}

/// Fewer runs (or pairs) than this get a warning and no interval.
pub const MIN_N: usize = 3;

#[cfg(test)]
#[path = "report_eval_tests.rs"]
mod eval_task_tests;

#[cfg(test)]
#[path = "report_tests.rs"]
mod tests;
