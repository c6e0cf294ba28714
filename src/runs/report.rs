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
    /// Sample standard deviation (n − 1); 0 for a single run.
    pub std: f64,
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
    /// Percentile bootstrap 95% interval of the mean difference.
    pub ci95: [f64; 2],
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
                std: sample_std(&values),
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
                ci95: bootstrap_ci95(&diffs),
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
        let std = if g.n < 2 {
            "–".to_string()
        } else {
            format!("{:.4}", g.std)
        };
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
            let ci = if c.n_pairs < MIN_N {
                format!("– (< {MIN_N} pairs)")
            } else {
                format!("[{:+.4}, {:+.4}]", c.ci95[0], c.ci95[1])
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
mod tests {
    use super::*;

    fn run(task: &str, method: &str, seed: u64, value: f64, extra: &[(&str, &str)]) -> RunResult {
        let mut config: BTreeMap<String, String> = [
            ("task", task),
            ("method", method),
            ("learning_rate", "2e-5"),
            ("threads", if seed.is_multiple_of(2) { "1" } else { "2" }),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        config.insert("seed".into(), seed.to_string());
        for (k, v) in extra {
            config.insert(k.to_string(), v.to_string());
        }
        RunResult {
            path: PathBuf::from(format!("{task}-{method}-{seed}")),
            task: task.into(),
            method: method.into(),
            seed,
            metric: "accuracy".into(),
            value,
            config,
            imported: false,
            evals: Vec::new(),
        }
    }

    #[test]
    fn groups_have_the_statistics_of_their_runs() {
        let runs = vec![
            run("mrpc", "vanilla", 1, 0.80, &[]),
            run("mrpc", "vanilla", 2, 0.82, &[]),
            run("mrpc", "vanilla", 3, 0.78, &[]),
            run("mrpc", "dps-dense", 1, 0.81, &[]),
        ];
        let r = build(&runs, "vanilla");
        assert_eq!(r.groups.len(), 2);
        let v = r.groups.iter().find(|g| g.method == "vanilla").unwrap();
        assert_eq!((v.n, v.seeds.clone()), (3, vec![1, 2, 3]));
        assert!((v.mean - 0.80).abs() < 1e-12);
        assert!((v.std - 0.02).abs() < 1e-12, "{}", v.std);
        assert_eq!((v.median, v.min, v.max), (0.80, 0.78, 0.82));
        assert!(v.keys.is_empty(), "threads and seed never split groups");
        let d = r.groups.iter().find(|g| g.method == "dps-dense").unwrap();
        assert_eq!((d.n, d.std), (1, 0.0));
    }

    #[test]
    fn comparisons_pair_by_seed() {
        let runs = vec![
            run("mrpc", "vanilla", 1, 0.80, &[("dropout", "0.1")]),
            run("mrpc", "vanilla", 2, 0.82, &[("dropout", "0.1")]),
            run("mrpc", "vanilla", 3, 0.78, &[("dropout", "0.1")]),
            run("mrpc", "dps-dense", 1, 0.81, &[("dropout", "0.0")]),
            run("mrpc", "dps-dense", 2, 0.82, &[("dropout", "0.0")]),
            run("mrpc", "dps-dense", 4, 0.99, &[("dropout", "0.0")]),
        ];
        let r = build(&runs, "vanilla");
        // dropout differs (per method) and so splits groups, but not pairs.
        assert_eq!(r.groups.len(), 2);
        assert_eq!(r.comparisons.len(), 1);
        let c = &r.comparisons[0];
        assert_eq!((c.n_pairs, c.wins, c.losses, c.ties), (2, 1, 0, 1));
        assert!((c.mean_diff - 0.005).abs() < 1e-12);
        assert!(c.ci95[0] <= c.mean_diff && c.mean_diff <= c.ci95[1]);
        assert!((c.ci95[0] - 0.0).abs() < 1e-12 && (c.ci95[1] - 0.01).abs() < 1e-12);
    }

    #[test]
    fn an_ablation_pairs_each_dropout_with_its_own() {
        // The published recipes (vanilla at 0.1, dps-dense at 0) plus the swapped ones: the
        // baseline ran at two dropouts, so each dropout pairs within itself.
        fn d(p: &'static str) -> [(&'static str, &'static str); 1] {
            [("dropout", p)]
        }
        let runs = vec![
            run("mrpc", "vanilla", 1, 0.80, &d("0.1")),
            run("mrpc", "vanilla", 1, 0.70, &d("0.0")),
            run("mrpc", "dps-dense", 1, 0.85, &d("0.0")),
            run("mrpc", "dps-dense", 1, 0.90, &d("0.1")),
            run("mrpc", "vanilla", 2, 0.60, &d("0.1")),
            run("mrpc", "dps-dense", 2, 0.65, &d("0.1")),
        ];
        let r = build(&runs, "vanilla");
        assert_eq!(r.groups.len(), 4);
        let at = |p: &str| {
            r.comparisons
                .iter()
                .find(|c| c.keys.get("dropout").map(String::as_str) == Some(p))
                .unwrap_or_else(|| panic!("no comparison at dropout {p}: {:?}", r.comparisons))
        };
        assert_eq!(r.comparisons.len(), 2);
        let (c0, c1) = (at("0.0"), at("0.1"));
        assert_eq!(c0.n_pairs, 1);
        assert!((c0.mean_diff - 0.15).abs() < 1e-12, "{c0:?}");
        assert_eq!(c1.n_pairs, 2);
        assert!((c1.mean_diff - 0.075).abs() < 1e-12, "{c1:?}");
    }

    #[test]
    fn keys_that_differ_only_between_tasks_split_nothing() {
        let runs = vec![
            run("mrpc", "vanilla", 1, 0.8, &[("max_steps", "690")]),
            run("mrpc", "dps-dense", 1, 0.9, &[("max_steps", "690")]),
            run("stsb", "vanilla", 1, 0.8, &[("max_steps", "1080")]),
            run("stsb", "dps-dense", 1, 0.7, &[("max_steps", "1080")]),
            run("stsb", "vanilla", 2, 0.8, &[("max_steps", "500")]),
        ];
        let r = build(&runs, "vanilla");
        // max_steps varies within stsb, so it is a key there and for mrpc alike.
        assert_eq!(r.groups.len(), 5);
        assert!(r.groups.iter().all(|g| g.keys.contains_key("max_steps")));
        // Without the stsb run at 500 steps it only follows the task: no key, no split.
        let r = build(&runs[..4], "vanilla");
        assert_eq!(r.groups.len(), 4);
        assert!(r.groups.iter().all(|g| g.keys.is_empty()), "{:?}", r.groups);
        assert_eq!(r.comparisons.len(), 2);
        assert!(r.comparisons.iter().all(|c| c.keys.is_empty()));
    }

    #[test]
    fn other_differing_keys_split_groups_and_comparisons() {
        let runs = vec![
            run("rte", "vanilla", 1, 0.5, &[("train_size", "1000")]),
            run("rte", "dps-dense", 1, 0.6, &[("train_size", "1000")]),
            run("rte", "vanilla", 1, 0.7, &[("train_size", "null")]),
            run("rte", "dps-dense", 1, 0.6, &[("train_size", "null")]),
        ];
        let r = build(&runs, "vanilla");
        assert_eq!(r.groups.len(), 4);
        assert!(r.groups.iter().all(|g| g.keys.contains_key("train_size")));
        let diffs: Vec<f64> = r.comparisons.iter().map(|c| c.mean_diff).collect();
        assert_eq!(r.comparisons.len(), 2);
        assert!(diffs.iter().any(|d| (d - 0.1).abs() < 1e-12));
        assert!(diffs.iter().any(|d| (d + 0.1).abs() < 1e-12));
    }

    #[test]
    fn imported_runs_group_and_pair_within_their_source() {
        let mut runs = vec![
            run(
                "mrpc",
                "vanilla",
                1,
                0.80,
                &[("source", "dps-tui"), ("dropout", "0.1")],
            ),
            run(
                "mrpc",
                "dps-dense",
                1,
                0.82,
                &[("source", "dps-tui"), ("dropout", "0.0")],
            ),
        ];
        for (method, seed, value, dropout) in [
            ("vanilla", 1, 0.70, "0.1"),
            ("dps-dense", 1, 0.75, "0.0"),
            ("vanilla", 2, 0.72, "0.1"),
        ] {
            let mut r = run("mrpc", method, seed, value, &[]);
            r.config = [
                ("source", "pytorch"),
                ("task", "mrpc"),
                ("method", method),
                ("dropout", dropout),
            ]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
            r.imported = true;
            runs.push(r);
        }
        let r = build(&runs, "vanilla");
        assert_eq!(r.groups.len(), 4);
        for g in &r.groups {
            let keys: Vec<&str> = g.keys.keys().map(|k| k.as_str()).collect();
            // learning_rate is recorded by the run folders only: unknown, not different.
            assert_eq!(keys, ["dropout", "source"], "{g:?}");
        }
        let torch_vanilla = r
            .groups
            .iter()
            .find(|g| g.method == "vanilla" && g.keys["source"] == "pytorch")
            .unwrap();
        assert_eq!(
            (torch_vanilla.n, torch_vanilla.seeds.clone()),
            (2, vec![1, 2])
        );
        assert_eq!(r.comparisons.len(), 2, "one per source, never across");
        let by_source = |s: &str| {
            r.comparisons
                .iter()
                .find(|c| c.keys["source"] == s)
                .unwrap()
        };
        assert!((by_source("dps-tui").mean_diff - 0.02).abs() < 1e-12);
        assert!((by_source("pytorch").mean_diff - 0.05).abs() < 1e-12);
        assert_eq!(by_source("pytorch").n_pairs, 1);
    }

    #[test]
    fn bootstrap_interval_brackets_the_mean_and_narrows_with_agreement() {
        let spread = [0.05, -0.03, 0.02, 0.04, -0.01];
        let ci = bootstrap_ci95(&spread);
        let m = mean(&spread);
        assert!(ci[0] < m && m < ci[1], "{ci:?}");
        assert!(ci[0] < 0.0, "a mixed sign sample includes 0: {ci:?}");
        let same = [0.02; 5];
        assert_eq!(bootstrap_ci95(&same), [0.02, 0.02]);
        let md = to_markdown(&build(&[run("rte", "vanilla", 1, 0.5, &[])], "vanilla"));
        assert!(
            md.contains("| rte | vanilla |  | accuracy | 1 | 0.5000 |"),
            "{md}"
        );
    }
}
