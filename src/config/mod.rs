//! Run configuration: presets (flat snake_case YAML), `--set key=value` overrides and validation.
//!
//! Every key goes through one function, [`TrainConfig::set`], whether it comes from a preset file
//! or from the command line, so both give the same precise errors.

pub mod control;
pub mod eval_tasks;
pub mod preset;
pub mod resume;
pub mod yaml_text;

use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::PathBuf;
use thiserror::Error;

pub use crate::data::batching::Padding;
pub use control::{Control, ControlKey, Range};
pub use eval_tasks::{StageStepsFrom, TrainSampling};
pub use preset::{find_preset, list_presets, load_preset, PresetInfo};

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("{origin}: unknown key `{key}`. Allowed keys: {allowed}")]
    UnknownKey {
        origin: String,
        key: String,
        allowed: String,
    },
    #[error("{origin}: key `{key}` has an invalid value `{value}`: {allowed}")]
    BadValue {
        origin: String,
        key: String,
        value: String,
        allowed: String,
    },
    #[error("{origin}: {message}")]
    Invalid { origin: String, message: String },
    #[error("cannot read preset {path}: {source}. Fix: check the path, or use one of the presets in presets/ (`dps-tui presets`)")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{path}: not valid YAML: {message}. Fix: a preset is a flat mapping of `key: value` lines"
    )]
    Yaml { path: PathBuf, message: String },
    #[error("{path}: the run's saved configuration is {message}. Fix: restore the run's config.yaml (it records every key the run started with), or start a new run")]
    RunConfig { path: PathBuf, message: String },
    #[error("no preset named `{name}`. Available: {available}. Fix: pass one of these or a path to a .yaml file")]
    NoSuchPreset { name: String, available: String },
    #[error("`--set {0}` is not of the form key=value. Fix: write `--set KEY=VALUE`, e.g. `--set seed=1` (`dps-tui train --help` lists the keys)")]
    BadOverride(String),
    #[error("`{key}` cannot change while training. Keys that can: {live}")]
    NotLive { key: String, live: String },
}

/// The fine-tuning strategy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Method {
    #[serde(rename = "vanilla")]
    Vanilla,
    #[serde(rename = "dps-dense")]
    DpsDense,
    #[serde(rename = "dps-mix")]
    DpsMix,
    #[serde(rename = "child-tuning-f")]
    ChildTuningF,
    #[serde(rename = "child-tuning-d")]
    ChildTuningD,
}

impl Method {
    pub const ALL: [Method; 5] = [
        Method::Vanilla,
        Method::DpsDense,
        Method::DpsMix,
        Method::ChildTuningF,
        Method::ChildTuningD,
    ];
    pub fn as_str(&self) -> &'static str {
        match self {
            Method::Vanilla => "vanilla",
            Method::DpsDense => "dps-dense",
            Method::DpsMix => "dps-mix",
            Method::ChildTuningF => "child-tuning-f",
            Method::ChildTuningD => "child-tuning-d",
        }
    }
    pub fn parse(s: &str) -> Option<Method> {
        Method::ALL.into_iter().find(|m| m.as_str() == s)
    }
    /// Whether the method alternates full and subnetwork stages.
    pub fn is_dps(&self) -> bool {
        matches!(self, Method::DpsDense | Method::DpsMix)
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Top-k over each matrix (the authors' code) or over all DPS matrices together.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SelectionScope {
    PerMatrix,
    Global,
}

/// How frozen elements are frozen in a subnetwork stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Freeze {
    /// Mask the gradient only; AdamW moments and weight decay still move frozen elements
    /// (the authors' code).
    Gradient,
    /// Frozen elements do not change at all.
    Strict,
}

/// The learning-rate schedule (Hugging Face `lr_scheduler_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LrScheduler {
    /// Linear warmup, then linear decay to 0.
    Linear,
    /// Linear warmup, then constant.
    Constant,
}

/// Runs of DPS with at least this many total steps keep the model's own dropout; shorter ones
/// train without dropout (the authors' `script/run_trainer.py`, lines 345-364).
pub const DPS_DROPOUT_MIN_STEPS: usize = 2000;

/// The hidden and attention dropout of a run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Dropout {
    /// The published recipes: vanilla and the ChildTuning baselines use the model's own dropout
    /// (as Hugging Face `run_glue.py` does); DPS-Dense and DPS-Mix use 0 below
    /// [`DPS_DROPOUT_MIN_STEPS`] total steps and the model's own from there on.
    Auto,
    /// The model config's own `hidden_dropout_prob` and `attention_probs_dropout_prob`.
    Model,
    /// This probability for hidden states, attention probabilities and the classifier input.
    Fixed(f64),
}

impl Dropout {
    /// The setting a run uses, given its method, its total steps and the model config's own
    /// (hidden, attention) probabilities: a single number whenever one describes it.
    pub fn resolve(self, method: Method, total_steps: usize, model: (f64, f64)) -> Dropout {
        let own = if model.0 == model.1 {
            Dropout::Fixed(model.0)
        } else {
            Dropout::Model
        };
        match self {
            Dropout::Fixed(p) => Dropout::Fixed(p),
            Dropout::Model => own,
            Dropout::Auto if method.is_dps() && total_steps < DPS_DROPOUT_MIN_STEPS => {
                Dropout::Fixed(0.0)
            }
            Dropout::Auto => own,
        }
    }

    /// The probability to set on the model, `None` for the model's own.
    pub fn probability(self) -> Option<f64> {
        match self {
            Dropout::Fixed(p) => Some(p),
            Dropout::Auto | Dropout::Model => None,
        }
    }
}

impl Serialize for Dropout {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Dropout::Auto => s.serialize_str("auto"),
            Dropout::Model => s.serialize_none(),
            Dropout::Fixed(p) => s.serialize_f64(*p),
        }
    }
}

impl<'de> Deserialize<'de> for Dropout {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match serde_json::Value::deserialize(d)? {
            serde_json::Value::Null => Ok(Dropout::Model),
            serde_json::Value::String(s) if s == "auto" => Ok(Dropout::Auto),
            v => v
                .as_f64()
                .filter(|p| (0.0..1.0).contains(p))
                .map(Dropout::Fixed)
                .ok_or_else(|| {
                    serde::de::Error::custom(format!(
                        "dropout must be auto, null or a number in [0, 1), not {v}"
                    ))
                }),
        }
    }
}

/// The fully resolved configuration of one run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    /// GLUE task (`cola sst2 mrpc stsb qqp mnli qnli rte wnli`) or `demo`.
    pub task: String,
    /// A local model folder or a Hugging Face model id.
    pub model: String,
    pub method: Method,
    /// Total optimizer steps; `None` means `num_epochs` epochs.
    pub max_steps: Option<usize>,
    pub num_epochs: f64,
    pub batch_size: usize,
    pub max_seq_length: usize,
    /// How batches are laid out: packed (no padding), padded to the longest item, or padded
    /// to `max_seq_length`; `None` = the device's default ([`TrainConfig::padding_on`]).
    /// `pad_to_max_length` is a deprecated alias (`true` = `max_length`, `false` = `longest`).
    pub padding: Option<Padding>,
    /// Sort examples into batches of similar length (Hugging Face `group_by_length`).
    pub group_by_length: bool,
    pub learning_rate: f64,
    pub lr_scheduler: LrScheduler,
    pub warmup_ratio: f64,
    pub weight_decay: f64,
    pub adam_beta1: f64,
    pub adam_beta2: f64,
    pub adam_epsilon: f64,
    /// Global gradient-norm clipping; 0 disables it.
    pub max_grad_norm: f64,
    /// Hidden and attention dropout: `auto` (the authors' recipe, see [`Dropout`]), `null` for
    /// the model's own, or a probability. A run's `config.yaml` holds the resolved value.
    pub dropout: Dropout,
    pub seed: u64,
    /// Shuffle the training set every epoch (deterministically from the seed).
    pub shuffle: bool,
    /// Evaluate every N steps; 0 = once per epoch.
    pub eval_every: usize,
    /// Train on a seeded subset of this many examples (low-resource setting).
    pub train_size: Option<usize>,
    /// How `train_size` draws: stratified by label (the default) or plain random.
    pub train_sampling: TrainSampling,
    /// What the DPS stage length is a share of: the run's steps or one epoch's.
    pub stage_steps_from: StageStepsFrom,
    /// Tasks to evaluate on besides the training task (out-of-domain transfer).
    pub eval_tasks: Vec<String>,
    /// Per eval task, `training label → eval label` overrides of the default label maps.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub label_maps: std::collections::BTreeMap<String, std::collections::BTreeMap<String, String>>,
    /// Folder of SNLI, SICK and SciTail in their original layouts; `None` = `data_dir`.
    pub nli_dir: Option<PathBuf>,
    /// GLUE data folder (original TSV layout); `None` = the Hugging Face Hub dataset `nyu-mll/glue`.
    pub data_dir: Option<PathBuf>,
    /// `cpu`, `cuda`, `cuda:N` or `metal`.
    pub device: String,
    /// CPU threads; 0 = all cores.
    pub threads: usize,
    /// DPS: the share of each DPS matrix frozen in a subnetwork stage.
    pub p: f64,
    /// DPS: stage length as a share of the total steps.
    pub update_ratio: f64,
    pub selection_scope: SelectionScope,
    pub freeze: Freeze,
    /// ChildTuning: the share of elements kept (receiving gradient).
    pub child_tuning_keep: f64,
    /// Write a checkpoint every N steps; 0 = never (only on demand and at the end).
    pub checkpoint_every: usize,
    /// Keep the last N periodic checkpoints; 0 = keep all.
    pub keep_last: usize,
    /// Also keep the checkpoint with the best dev metric.
    pub keep_best: bool,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            task: "rte".into(),
            model: "sentence-transformers/all-MiniLM-L6-v2".into(),
            method: Method::DpsDense,
            max_steps: None,
            num_epochs: 3.0,
            batch_size: 16,
            max_seq_length: 128,
            padding: None,
            group_by_length: false,
            learning_rate: 2e-5,
            lr_scheduler: LrScheduler::Linear,
            warmup_ratio: 0.1,
            weight_decay: 0.01,
            adam_beta1: 0.9,
            adam_beta2: 0.999,
            adam_epsilon: 1e-8,
            max_grad_norm: 1.0,
            dropout: Dropout::Auto,
            seed: 42,
            shuffle: true,
            eval_every: 0,
            train_size: None,
            train_sampling: TrainSampling::Stratified,
            stage_steps_from: StageStepsFrom::Total,
            eval_tasks: Vec::new(),
            label_maps: Default::default(),
            nli_dir: None,
            data_dir: None,
            device: "cpu".into(),
            threads: 0,
            p: 0.3,
            update_ratio: 0.05,
            selection_scope: SelectionScope::PerMatrix,
            freeze: Freeze::Gradient,
            child_tuning_keep: 0.3,
            checkpoint_every: 0,
            keep_last: 2,
            keep_best: true,
        }
    }
}

/// Every key a preset or `--set` may name, with what it accepts.
pub const KEYS: &[(&str, &str)] = &[
    (
        "task",
        "one of cola, sst2, mrpc, stsb, qqp, mnli, qnli, rte, wnli, snli, sick, scitail, demo",
    ),
    ("model", "a local model folder or a Hugging Face model id"),
    (
        "method",
        "one of vanilla, dps-dense, dps-mix, child-tuning-f, child-tuning-d",
    ),
    (
        "max_steps",
        "a positive integer, or null for num_epochs epochs",
    ),
    ("num_epochs", "a number > 0"),
    ("batch_size", "an integer from 1 to 4096"),
    ("max_seq_length", "an integer from 8 to 4096"),
    (
        "padding",
        "packed, longest, max_length, or null for the device's default (packed on the CPU, longest elsewhere)",
    ),
    ("group_by_length", "true or false"),
    ("learning_rate", "a number > 0 and <= 1"),
    ("lr_scheduler", "linear or constant"),
    ("warmup_ratio", "a number from 0 to 1"),
    ("weight_decay", "a number from 0 to 1"),
    ("adam_beta1", "a number from 0 to 1 (exclusive)"),
    ("adam_beta2", "a number from 0 to 1 (exclusive)"),
    ("adam_epsilon", "a number > 0"),
    ("max_grad_norm", "a number >= 0 (0 disables clipping)"),
    (
        "dropout",
        "auto (the model's own for vanilla and ChildTuning; for DPS 0 below 2000 total steps, \
         else the model's own), null for the model's own, or a number from 0 to 1 (exclusive)",
    ),
    ("seed", "a non-negative integer"),
    ("shuffle", "true or false"),
    ("eval_every", "a non-negative integer (0 = once per epoch)"),
    (
        "train_size",
        "a positive integer, or null for the whole training set",
    ),
    (
        "data_dir",
        "a folder in the GLUE layout (<dir>/<TASK>/train.tsv), or null for the Hub",
    ),
    ("device", "cpu, cuda, cuda:N or metal"),
    ("threads", "a non-negative integer (0 = all cores)"),
    ("p", "a number from 0 to 1 (exclusive): the share frozen"),
    ("update_ratio", "a number > 0 and <= 1"),
    ("selection_scope", "per-matrix or global"),
    ("freeze", "gradient or strict"),
    ("child_tuning_keep", "a number > 0 and <= 1"),
    ("checkpoint_every", "a non-negative integer (0 = never)"),
    ("keep_last", "a non-negative integer (0 = keep all)"),
    ("keep_best", "true or false"),
];

/// Every key: [`KEYS`] and the eval tasks' [`EVAL_KEYS`].
pub fn all_keys() -> impl Iterator<Item = &'static (&'static str, &'static str)> {
    KEYS.iter().chain(EVAL_KEYS)
}

use eval_tasks::EVAL_KEYS;

impl TrainConfig {
    /// Apply one `key: value`. `origin` names the file or `--set` for errors.
    pub fn set(
        &mut self,
        key: &str,
        value: &serde_yaml::Value,
        origin: &str,
    ) -> Result<(), ConfigError> {
        if key == "pad_to_max_length" {
            return self.set_pad_to_max_length(value, origin);
        }
        let allowed = match all_keys().find(|(k, _)| *k == key) {
            Some((_, a)) => *a,
            None => {
                return Err(ConfigError::UnknownKey {
                    origin: origin.into(),
                    key: key.into(),
                    allowed: all_keys().map(|(k, _)| *k).collect::<Vec<_>>().join(", "),
                })
            }
        };
        let bad = || ConfigError::BadValue {
            origin: origin.into(),
            key: key.into(),
            value: yaml_text::inline(value),
            allowed: format!("expected {allowed}"),
        };
        use serde_yaml::Value as V;
        let as_f64 = |v: &V| -> Option<f64> { v.as_f64().or_else(|| v.as_i64().map(|i| i as f64)) };
        let as_usize = |v: &V| -> Option<usize> { v.as_u64().map(|u| u as usize) };
        let as_str = |v: &V| -> Option<String> {
            match v {
                V::String(s) => Some(s.clone()),
                _ => None,
            }
        };
        let in_range = |x: f64, lo: f64, hi: f64, lo_incl: bool, hi_incl: bool| {
            x.is_finite()
                && (if lo_incl { x >= lo } else { x > lo })
                && (if hi_incl { x <= hi } else { x < hi })
        };
        match key {
            "task" => {
                let s = as_str(value).ok_or_else(bad)?.to_ascii_lowercase();
                let s = crate::data::glue::normalise_task_name(&s).ok_or_else(bad)?;
                self.task = s.to_string();
            }
            "model" => self.model = as_str(value).filter(|s| !s.is_empty()).ok_or_else(bad)?,
            "method" => {
                self.method = as_str(value)
                    .and_then(|s| Method::parse(&s))
                    .ok_or_else(bad)?
            }
            "max_steps" => {
                self.max_steps = match value {
                    V::Null => None,
                    v => Some(as_usize(v).filter(|&n| n > 0).ok_or_else(bad)?),
                }
            }
            "num_epochs" => {
                self.num_epochs = as_f64(value)
                    .filter(|&x| in_range(x, 0.0, 1e6, false, true))
                    .ok_or_else(bad)?
            }
            "batch_size" => {
                self.batch_size = as_usize(value)
                    .filter(|&n| (1..=4096).contains(&n))
                    .ok_or_else(bad)?
            }
            "max_seq_length" => {
                self.max_seq_length = as_usize(value)
                    .filter(|&n| (8..=4096).contains(&n))
                    .ok_or_else(bad)?
            }
            "padding" => {
                self.padding = match value {
                    V::Null => None,
                    v => Some(as_str(v).and_then(|s| Padding::parse(&s)).ok_or_else(bad)?),
                }
            }
            "group_by_length" => self.group_by_length = value.as_bool().ok_or_else(bad)?,
            "warmup_ratio" => {
                self.warmup_ratio = as_f64(value)
                    .filter(|&x| in_range(x, 0.0, 1.0, true, true))
                    .ok_or_else(bad)?
            }
            "weight_decay" => {
                self.weight_decay = as_f64(value)
                    .filter(|&x| in_range(x, 0.0, 1.0, true, true))
                    .ok_or_else(bad)?
            }
            "adam_beta1" => {
                self.adam_beta1 = as_f64(value)
                    .filter(|&x| in_range(x, 0.0, 1.0, true, false))
                    .ok_or_else(bad)?
            }
            "adam_beta2" => {
                self.adam_beta2 = as_f64(value)
                    .filter(|&x| in_range(x, 0.0, 1.0, true, false))
                    .ok_or_else(bad)?
            }
            "adam_epsilon" => {
                self.adam_epsilon = as_f64(value)
                    .filter(|&x| in_range(x, 0.0, 1.0, false, true))
                    .ok_or_else(bad)?
            }
            "max_grad_norm" => {
                self.max_grad_norm = as_f64(value)
                    .filter(|&x| in_range(x, 0.0, 1e9, true, true))
                    .ok_or_else(bad)?
            }
            "dropout" => {
                self.dropout = match value {
                    V::Null => Dropout::Model,
                    v if as_str(v).as_deref() == Some("auto") => Dropout::Auto,
                    v => Dropout::Fixed(
                        as_f64(v)
                            .filter(|&x| in_range(x, 0.0, 1.0, true, false))
                            .ok_or_else(bad)?,
                    ),
                }
            }
            "seed" => self.seed = value.as_u64().ok_or_else(bad)?,
            "shuffle" => self.shuffle = value.as_bool().ok_or_else(bad)?,
            "lr_scheduler" => {
                self.lr_scheduler = match as_str(value).as_deref() {
                    Some("linear") => LrScheduler::Linear,
                    Some("constant") => LrScheduler::Constant,
                    _ => return Err(bad()),
                }
            }
            "eval_every" => self.eval_every = as_usize(value).ok_or_else(bad)?,
            "train_size" => {
                self.train_size = match value {
                    V::Null => None,
                    v => Some(as_usize(v).filter(|&n| n > 0).ok_or_else(bad)?),
                }
            }
            "data_dir" => {
                self.data_dir = match value {
                    V::Null => None,
                    v => Some(PathBuf::from(as_str(v).ok_or_else(bad)?)),
                }
            }
            "device" => {
                let s = as_str(value).ok_or_else(bad)?;
                let ok = s == "cpu"
                    || s == "metal"
                    || s == "cuda"
                    || s.strip_prefix("cuda:")
                        .is_some_and(|n| n.parse::<usize>().is_ok());
                if !ok {
                    return Err(bad());
                }
                self.device = s;
            }
            "threads" => self.threads = as_usize(value).ok_or_else(bad)?,
            // The keys that can also change while training: their ranges live in `Control`.
            "p" | "learning_rate" | "update_ratio" | "selection_scope" | "freeze" => {
                let k = ControlKey::parse(key).expect("a live key");
                Control::from_yaml(k, value).ok_or_else(bad)?.apply_to(self)
            }
            "child_tuning_keep" => {
                self.child_tuning_keep = as_f64(value)
                    .filter(|&x| in_range(x, 0.0, 1.0, false, true))
                    .ok_or_else(bad)?
            }
            "checkpoint_every" => self.checkpoint_every = as_usize(value).ok_or_else(bad)?,
            "keep_last" => self.keep_last = as_usize(value).ok_or_else(bad)?,
            "keep_best" => self.keep_best = value.as_bool().ok_or_else(bad)?,
            k if EVAL_KEYS.iter().any(|(e, _)| *e == k) => {
                self.set_eval_key(k, value).map_err(|()| bad())?
            }
            _ => unreachable!("every key in KEYS is handled"),
        }
        Ok(())
    }

    /// The deprecated `pad_to_max_length` key: `true` is `padding: max_length`, `false` is
    /// `padding: longest` (what it meant when it was written, so old run folders resume with
    /// the batches they trained on).
    fn set_pad_to_max_length(
        &mut self,
        value: &serde_yaml::Value,
        origin: &str,
    ) -> Result<(), ConfigError> {
        let pad = value.as_bool().ok_or_else(|| ConfigError::BadValue {
            origin: origin.into(),
            key: "pad_to_max_length".into(),
            value: yaml_text::inline(value),
            allowed: "expected true or false (deprecated: use `padding: max_length` or \
                      `padding: longest`)"
                .into(),
        })?;
        let mode = if pad {
            Padding::MaxLength
        } else {
            Padding::Longest
        };
        tracing::warn!(
            "{origin}: `pad_to_max_length` is deprecated; read as `padding: {}`. Fix: write \
             `padding: {}` instead",
            mode.as_str(),
            mode.as_str()
        );
        self.padding = Some(mode);
        Ok(())
    }

    /// The padding mode in effect on a device: the configured one, or by default `packed` on
    /// the CPU and `longest` elsewhere.
    pub fn padding_on(&self, cpu: bool) -> Padding {
        self.padding.unwrap_or(if cpu {
            Padding::Packed
        } else {
            Padding::Longest
        })
    }

    /// Apply `key=value` from the command line. The value is read as a YAML scalar.
    pub fn set_override(&mut self, kv: &str) -> Result<(), ConfigError> {
        let (k, v) = kv
            .split_once('=')
            .ok_or_else(|| ConfigError::BadOverride(kv.into()))?;
        let value: serde_yaml::Value = if v.is_empty() {
            serde_yaml::Value::Null
        } else {
            serde_yaml::from_str(v).unwrap_or_else(|_| serde_yaml::Value::String(v.into()))
        };
        self.set(k.trim(), &value, &format!("--set {kv}"))
    }

    /// The value of a key as YAML (for the TUI's form and for `config.yaml`).
    pub fn get(&self, key: &str) -> Option<serde_yaml::Value> {
        let v = serde_yaml::to_value(self).ok()?;
        v.get(key).cloned()
    }

    /// Total optimizer steps given the number of training examples.
    pub fn total_steps(&self, num_train: usize) -> usize {
        match self.max_steps {
            Some(n) => n,
            None => {
                let per_epoch = num_train.div_ceil(self.batch_size).max(1);
                ((per_epoch as f64) * self.num_epochs).ceil().max(1.0) as usize
            }
        }
    }

    /// DPS stage length: `floor(total_steps * update_ratio)`, at least 1.
    pub fn update_steps(&self, total_steps: usize) -> usize {
        ((total_steps as f64 * self.update_ratio).floor() as usize).max(1)
    }

    /// Checks across keys, after all keys are applied.
    pub fn validate(&self, origin: &str) -> Result<(), ConfigError> {
        self.validate_demo(origin)?;
        self.validate_eval_tasks(origin)?;
        for key in ControlKey::ALL {
            Control::read(key, self)
                .validate(self.method)
                .map_err(|message| ConfigError::Invalid {
                    origin: origin.into(),
                    message,
                })?;
        }
        Ok(())
    }
}

impl TrainConfig {
    /// The demo trains its own tiny model on generated data, and only that: a run's
    /// configuration must not name a model or data it would not use.
    fn validate_demo(&self, origin: &str) -> Result<(), ConfigError> {
        let invalid = |message: String| ConfigError::Invalid {
            origin: origin.into(),
            message,
        };
        let demo_task = self.task == "demo";
        if demo_task && self.model != "demo" {
            return Err(invalid(format!(
                "task `demo` trains its own tiny random model, not `{}`. Fix: leave out \
                 --model (model: demo), or pick a GLUE preset (`dps-tui presets`)",
                self.model
            )));
        }
        if !demo_task && self.model == "demo" {
            return Err(invalid(format!(
                "model `demo` is the demo's tiny random model and trains only on task `demo`, \
                 not `{}`. Fix: use --preset demo, or a real model (--model DIR or a Hub id)",
                self.task
            )));
        }
        if let (true, Some(d)) = (demo_task, &self.data_dir) {
            return Err(invalid(format!(
                "task `demo` generates its data, so data_dir {} would not be read. Fix: leave \
                 out --data-dir, or pick a GLUE preset",
                d.display()
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
