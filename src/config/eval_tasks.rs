//! The keys of the out-of-domain and low-resource protocols: which other tasks a run is
//! evaluated on and how its labels map onto theirs (`eval_tasks`, `label_maps`), where the NLI
//! sets beyond GLUE live (`nli_dir`), how `train_size` draws its subset (`train_sampling`) and
//! what the DPS stage length is a share of (`stage_steps_from`).

use super::{ConfigError, TrainConfig};
use crate::data::glue::{self, LabelKind};
use serde::{Deserialize, Serialize};
use serde_yaml::Value as V;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// How `train_size` draws its subset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TrainSampling {
    /// The class proportions of the whole training set, as scikit-learn's
    /// `StratifiedShuffleSplit` draws them (the authors' scripts); regression tasks draw at
    /// random.
    Stratified,
    /// A plain seeded random subset (what run folders written before `train_sampling`
    /// existed used).
    Random,
}

/// What the DPS stage length `floor(steps × update_ratio)` is a share of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StageStepsFrom {
    /// The run's total steps.
    Total,
    /// One epoch's steps, `ceil(n / batch_size)`, whatever the run's length: the authors'
    /// low-resource scripts (`config.max_steps = ceil(low_resource_size / batch)` while the
    /// Trainer runs 3 epochs).
    Epoch,
}

/// The eval tasks' keys, with what they accept (part of [`super::KEYS`]).
pub const EVAL_KEYS: &[(&str, &str)] = &[
    (
        "train_sampling",
        "stratified (class proportions kept, as scikit-learn's StratifiedShuffleSplit) or \
         random (a plain seeded draw)",
    ),
    (
        "stage_steps_from",
        "total (DPS stages are a share of the run's steps) or epoch (a share of one epoch's \
         steps, as the authors' low-resource scripts)",
    ),
    (
        "eval_tasks",
        "a list of tasks to evaluate on besides the training task, e.g. [mnli, snli, sick, \
         scitail, rte] (each on its dev split; `scitail:test` for a labelled test split), or \
         [] for none",
    ),
    (
        "label_maps",
        "a mapping from eval task to {training label: eval label}, e.g. {rte: {neutral: \
         not_entailment}}, overriding the default maps",
    ),
    (
        "nli_dir",
        "a folder holding SNLI, SICK and SciTail in their original layouts (snli_1.0/, SICK/, \
         SciTailV1.1/), or null for data_dir (or the Hub)",
    ),
];

impl TrainConfig {
    /// Apply one of [`EVAL_KEYS`]; `Err(())` when the value is not what the key accepts.
    pub(super) fn set_eval_key(&mut self, key: &str, value: &V) -> Result<(), ()> {
        let as_str = |v: &V| match v {
            V::String(s) => Some(s.trim().to_string()),
            _ => None,
        };
        match key {
            "train_sampling" => {
                self.train_sampling = match as_str(value).as_deref() {
                    Some("stratified") => TrainSampling::Stratified,
                    Some("random") => TrainSampling::Random,
                    _ => return Err(()),
                }
            }
            "stage_steps_from" => {
                self.stage_steps_from = match as_str(value).as_deref() {
                    Some("total") => StageStepsFrom::Total,
                    Some("epoch") => StageStepsFrom::Epoch,
                    _ => return Err(()),
                }
            }
            "eval_tasks" => self.eval_tasks = task_list(value).ok_or(())?,
            "label_maps" => self.label_maps = label_maps(value).ok_or(())?,
            "nli_dir" => {
                self.nli_dir = match value {
                    V::Null => None,
                    v => Some(PathBuf::from(
                        as_str(v).filter(|s| !s.is_empty()).ok_or(())?,
                    )),
                }
            }
            _ => return Err(()),
        }
        Ok(())
    }

    /// Cross-key checks of the eval tasks: every name is a known task, none is listed twice,
    /// the training task classifies, and every label map names labels that exist.
    pub(super) fn validate_eval_tasks(&self, origin: &str) -> Result<(), ConfigError> {
        let invalid = |message: String| ConfigError::Invalid {
            origin: origin.into(),
            message,
        };
        let names: Vec<&str> = self.eval_tasks.iter().map(|t| eval_task_name(t)).collect();
        for (i, name) in names.iter().enumerate() {
            if names[..i].contains(name) {
                return Err(invalid(format!(
                    "eval_tasks names `{name}` twice. Fix: list each task once"
                )));
            }
        }
        for name in self.label_maps.keys() {
            if !names.contains(&name.as_str()) {
                return Err(invalid(format!(
                    "label_maps has a map for `{name}`, which is not in eval_tasks ({}). Fix: \
                     add it to eval_tasks or remove its map",
                    self.eval_tasks.join(", ")
                )));
            }
        }
        if self.eval_tasks.is_empty() {
            return Ok(());
        }
        let Some(train) = glue::task(&self.task) else {
            return Ok(()); // `task` itself is checked where it is set
        };
        if !matches!(train.labels, LabelKind::Classes(_)) || train.synthetic {
            return Err(invalid(format!(
                "eval_tasks needs a classification task to train on, not `{}`. Fix: train on \
                 an NLI task (mnli, snli, sick, ...) or leave eval_tasks empty",
                self.task
            )));
        }
        for name in names {
            let eval = glue::task(name).ok_or_else(|| {
                invalid(format!("eval_tasks: unknown task `{name}`. Fix: use task names such as mnli, snli, sick, scitail, rte"))
            })?;
            crate::data::label_map::LabelMap::resolve(train, eval, self.label_maps.get(name))
                .map_err(|e| invalid(format!("eval_tasks: {e}")))?;
        }
        Ok(())
    }

    /// The folder `task`'s files are read from: GLUE tasks from `data_dir`, the other NLI sets
    /// from `nli_dir` (else `data_dir`); `None` for the Hub.
    pub fn data_dir_for(&self, task: &glue::TaskSpec) -> Option<&std::path::Path> {
        if glue::GLUE_TASKS.iter().any(|t| t.name == task.name) {
            self.data_dir.as_deref()
        } else {
            self.nli_dir.as_deref().or(self.data_dir.as_deref())
        }
    }

    /// The steps the DPS stage length is a share of, given the number of training examples.
    pub fn stage_base_steps(&self, num_train: usize) -> usize {
        match self.stage_steps_from {
            StageStepsFrom::Total => self.total_steps(num_train),
            StageStepsFrom::Epoch => num_train.div_ceil(self.batch_size).max(1),
        }
    }
}

/// The task of an `eval_tasks` entry (`scitail` of `scitail:test`).
pub fn eval_task_name(entry: &str) -> &str {
    entry.split_once(':').map_or(entry, |(t, _)| t)
}

/// The split of an `eval_tasks` entry: dev unless it says `:test`.
pub fn eval_task_split(entry: &str) -> crate::data::glue::Split {
    match entry.split_once(':') {
        Some((_, "test")) => crate::data::glue::Split::Test,
        _ => crate::data::glue::Split::Dev,
    }
}

/// `[a, b]`, `a, b` or a single name, each a known task name (normalised), optionally with
/// `:dev` or `:test`.
fn task_list(value: &V) -> Option<Vec<String>> {
    let names: Vec<String> = match value {
        V::Null => Vec::new(),
        V::Sequence(items) => items
            .iter()
            .map(|v| v.as_str().map(str::to_string))
            .collect::<Option<_>>()?,
        V::String(s) => s
            .split(',')
            .map(|p| p.trim().to_string())
            .filter(|p| !p.is_empty())
            .collect(),
        _ => return None,
    };
    names
        .iter()
        .map(|entry| {
            let entry = entry.to_ascii_lowercase();
            let (name, split) = match entry.split_once(':') {
                Some((n, s @ ("dev" | "test"))) => (n.trim(), Some(s)),
                Some(_) => return None,
                None => (entry.as_str(), None),
            };
            let n = glue::normalise_task_name(name)?;
            if n == "demo" || glue::task(n).is_none() {
                return None;
            }
            Some(match split {
                Some("test") => format!("{n}:test"),
                _ => n.to_string(),
            })
        })
        .collect()
}

/// `{task: {from: to}}` with string names.
fn label_maps(value: &V) -> Option<BTreeMap<String, BTreeMap<String, String>>> {
    let m = match value {
        V::Null => return Some(BTreeMap::new()),
        V::Mapping(m) => m,
        _ => return None,
    };
    let mut out = BTreeMap::new();
    for (task, map) in m {
        let task = glue::normalise_task_name(&task.as_str()?.to_ascii_lowercase())?;
        let V::Mapping(map) = map else { return None };
        let mut pairs = BTreeMap::new();
        for (from, to) in map {
            pairs.insert(from.as_str()?.to_string(), to.as_str()?.to_string());
        }
        out.insert(task.to_string(), pairs);
    }
    Some(out)
}
