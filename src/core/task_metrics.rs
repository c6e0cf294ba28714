//! Metrics of the eval tasks. A run that also evaluates on other tasks than the one it trains
//! on (`eval_tasks` in its configuration) reports, in each `eval` and `done` event, the training
//! task's own dev metrics under their usual names (`accuracy`, `loss`) and every eval task's as
//! `<task>/<metric>` (`sick/accuracy`, `rte/loss`). An eval task whose data could not be found
//! is absent. Every view of runs reads the convention through this module.

use crate::core::events::Metrics;
use std::collections::{BTreeMap, BTreeSet};

/// Between an eval task's name and its metric's name: `sick/accuracy`.
pub const SEP: char = '/';

/// The configuration key that lists the eval tasks.
pub const CONFIG_KEY: &str = "eval_tasks";

/// `("sick", "accuracy")` for `sick/accuracy`; `None` for the training task's own metrics.
pub fn split(key: &str) -> Option<(&str, &str)> {
    let (task, metric) = key.split_once(SEP)?;
    (!task.is_empty() && !metric.is_empty()).then_some((task, metric))
}

/// Whether `key` is an eval task's metric (`sick/accuracy`).
pub fn is_task_metric(key: &str) -> bool {
    split(key).is_some()
}

/// Whether a lower value of metric `name` is better: `loss`, and any eval task's `…/loss`.
pub fn lower_is_better(name: &str) -> bool {
    name == "loss" || split(name).is_some_and(|(_, m)| m == "loss")
}

/// An eval task and the name of its main metric.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct EvalTask {
    pub task: String,
    /// The main metric's own name (`accuracy`).
    pub metric: String,
}

impl EvalTask {
    /// The main metric's key in the event: `sick/accuracy`.
    pub fn key(&self) -> String {
        format!("{}{SEP}{}", self.task, self.metric)
    }
}

/// The main metric of a task that reported `names`: the registered task's main metric when it
/// is among them, else `accuracy`, else the first that is not a loss, else the first.
pub fn main_metric_among(task: &str, names: &BTreeSet<&str>) -> Option<String> {
    let registered = crate::data::glue::task(task)
        .map(|t| t.main_metric)
        .filter(|m| names.contains(m));
    registered
        .or_else(|| names.get("accuracy").copied())
        .or_else(|| names.iter().copied().find(|n| !lower_is_better(n)))
        .or_else(|| names.iter().next().copied())
        .map(str::to_string)
}

/// The eval tasks that have metrics in any of `metrics`, each with its main metric, in the
/// order of `declared` (the configuration's `eval_tasks`), then by name.
pub fn eval_tasks<'a>(
    metrics: impl IntoIterator<Item = &'a Metrics>,
    declared: &[String],
) -> Vec<EvalTask> {
    let mut by_task: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for m in metrics {
        for (task, metric) in m.keys().filter_map(|k| split(k)) {
            by_task.entry(task).or_default().insert(metric);
        }
    }
    let mut out: Vec<EvalTask> = by_task
        .iter()
        .filter_map(|(task, names)| {
            Some(EvalTask {
                task: task.to_string(),
                metric: main_metric_among(task, names)?,
            })
        })
        .collect();
    let rank = |t: &EvalTask| {
        declared
            .iter()
            .position(|d| *d == t.task)
            .unwrap_or(usize::MAX)
    };
    out.sort_by_key(|t| rank(t));
    out
}

/// The eval tasks a configuration lists (`eval_tasks: [sick, rte]`); empty when it lists none.
pub fn declared(config: &serde_json::Value) -> Vec<String> {
    config
        .get(CONFIG_KEY)
        .and_then(|v| v.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|t| t.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// [`declared`] from a flattened configuration value (the JSON text of the list, or names
/// separated by commas or spaces).
pub fn declared_from_text(text: &str) -> Vec<String> {
    if let Ok(v) = serde_json::from_str::<Vec<String>>(text) {
        return v;
    }
    text.trim_matches(|c| c == '[' || c == ']')
        .split([',', ' '])
        .map(|t| t.trim().trim_matches('"').to_string())
        .filter(|t| !t.is_empty())
        .collect()
}

/// The training task's own metrics of `metrics` (those without a task prefix).
pub fn own_metrics(metrics: &Metrics) -> impl Iterator<Item = (&String, &f64)> + Clone {
    metrics.iter().filter(|(k, _)| !is_task_metric(k))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(pairs: &[(&str, f64)]) -> Metrics {
        pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
    }

    #[test]
    fn keys_split_into_task_and_metric() {
        assert_eq!(split("sick/accuracy"), Some(("sick", "accuracy")));
        assert_eq!(split("accuracy"), None);
        assert_eq!(split("/accuracy"), None);
        assert_eq!(split("sick/"), None);
        assert!(lower_is_better("loss") && lower_is_better("rte/loss"));
        assert!(!lower_is_better("rte/accuracy") && !lower_is_better("loss_mm"));
    }

    #[test]
    fn eval_tasks_follow_the_declared_order_with_their_main_metric() {
        let a = m(&[
            ("accuracy", 0.8),
            ("loss", 0.5),
            ("sick/loss", 0.9),
            ("sick/accuracy", 0.55),
            ("rte/accuracy", 0.6),
        ]);
        let b = m(&[("scitail/loss", 0.7), ("zzz/f1", 0.3), ("zzz/mcc", 0.1)]);
        let declared: Vec<String> = ["mnli", "scitail", "sick", "rte"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let got: Vec<(String, String)> = eval_tasks([&a, &b], &declared)
            .into_iter()
            .map(|t| (t.task, t.metric))
            .collect();
        let want = [
            ("scitail", "loss"),
            ("sick", "accuracy"),
            ("rte", "accuracy"),
            ("zzz", "f1"),
        ];
        let want: Vec<(String, String)> = want
            .iter()
            .map(|(t, m)| (t.to_string(), m.to_string()))
            .collect();
        assert_eq!(got, want);
        // A registered task's main metric wins over accuracy.
        let c = m(&[("cola/accuracy", 0.8), ("cola/mcc", 0.45)]);
        assert_eq!(eval_tasks([&c], &[])[0].key(), "cola/mcc");
        assert!(eval_tasks([&m(&[("accuracy", 0.5)])], &[]).is_empty());
    }

    #[test]
    fn the_declared_list_from_a_config_or_its_flattened_text() {
        let c = serde_json::json!({"eval_tasks": ["mnli", "sick"]});
        assert_eq!(declared(&c), ["mnli", "sick"]);
        assert!(declared(&serde_json::json!({"task": "rte"})).is_empty());
        assert_eq!(declared_from_text(r#"["snli","rte"]"#), ["snli", "rte"]);
        assert_eq!(declared_from_text("snli, rte"), ["snli", "rte"]);
        let both = m(&[("a", 1.0), ("t/a", 2.0)]);
        let own: Vec<&String> = own_metrics(&both).map(|(k, _)| k).collect();
        assert_eq!(own, ["a"]);
    }
}
