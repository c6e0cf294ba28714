//! From a configuration to a ready [`Trainer`]: pick the device, resolve the model source,
//! load and tokenize the data once, apply the run's dropout, build the strategy.

use super::trainer::Trainer;
use crate::config::eval_tasks::{eval_task_name, eval_task_split};
use crate::config::{Dropout, TrainConfig, TrainSampling};
use crate::data::batching::EncodedDataset;
use crate::data::glue::{self, Split, TaskSpec};
use crate::data::label_map::{EvalSet, LabelMap};
use crate::data::synthetic;
use crate::data::tokenize::TextEncoder;
use crate::data::DataSource;
use crate::data::{stratified_subsample, DataError};
use crate::hub::{HubError, HubSource};
use crate::model::BertConfig;
use crate::model::{loader, BertForSequenceClassification, HeadKind, Model};
use candle_core::Device;
use std::path::{Path, PathBuf};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum SetupError {
    #[error("unknown task `{0}`. Fix: use one of cola, sst2, mrpc, stsb, qqp, mnli, qnli, rte, wnli, snli, sick, scitail, demo")]
    UnknownTask(String),
    #[error("eval_tasks: {0}")]
    EvalTask(String),
    #[error("{0}")]
    Device(String),
    #[error("{path}: no tokenizer.json (nor spm.model) in the model folder. Fix: copy the model's tokenizer.json (for DeBERTa-v2/v3: spm.model and tokenizer_config.json) beside config.json")]
    NoTokenizer { path: PathBuf },
    #[error("the tokenizer {tokenizer} has {tok_vocab} tokens but the model's config.json says vocab_size {model_vocab}. Fix: use the tokenizer.json that belongs to this model")]
    VocabMismatch {
        tokenizer: PathBuf,
        tok_vocab: usize,
        model_vocab: usize,
    },
    #[error(transparent)]
    Hub(#[from] HubError),
    #[error(transparent)]
    Model(#[from] crate::model::ModelError),
    #[error(transparent)]
    Data(#[from] crate::data::DataError),
    #[error(transparent)]
    Train(#[from] super::trainer::TrainError),
    #[error(transparent)]
    Invalid(#[from] super::validate::ValidationError),
}

/// Pick the device a configuration names. A binary built without the matching feature says
/// so plainly.
pub fn select_device(name: &str) -> Result<Device, SetupError> {
    if name == "cpu" {
        return Ok(Device::Cpu);
    }
    if let Some(rest) = name.strip_prefix("cuda") {
        let ordinal: usize = match rest {
            "" => 0,
            _ => match rest.strip_prefix(':').and_then(|n| n.parse().ok()) {
                Some(n) => n,
                None => {
                    return Err(SetupError::Device(format!(
                        "unknown device `{name}`. Fix: use cuda or cuda:N with N the GPU's index (0, 1, ...)"
                    )))
                }
            },
        };
        if !cfg!(feature = "cuda") {
            return Err(SetupError::Device(format!(
                "device `{name}`: this binary was built without CUDA support. Fix: build the CUDA binary with scripts/gpu/build-cuda.sh (see docs/cuda.md), or use --device cpu"
            )));
        }
        return Device::new_cuda(ordinal).map_err(|e| {
            SetupError::Device(format!(
                "device `{name}`: no usable CUDA GPU ({e}). Fix: check that `nvidia-smi` lists GPU {ordinal} and that its driver supports CUDA 13, or use --device cpu"
            ))
        });
    }
    if name == "metal" {
        if !cfg!(feature = "metal") {
            return Err(SetupError::Device(
                "device `metal`: Metal is not supported by this build (built without Metal support; a Metal build has never been made or tested). Fix: use --device cpu, or cuda on an NVIDIA GPU".into(),
            ));
        }
        return Device::new_metal(0)
            .map_err(|e| SetupError::Device(format!("device `metal`: {e}")));
    }
    Err(SetupError::Device(format!(
        "unknown device `{name}`. Fix: use cpu, cuda, cuda:N or metal"
    )))
}

/// A local model folder, or a Hub model id resolved through the cache and network the
/// environment allows (see [`resolve_model_dir_with`]).
pub fn resolve_model_dir(model: &str) -> Result<PathBuf, SetupError> {
    resolve_model_dir_with(model, &HubSource::from_env())
}

/// Whether `model` names a local path rather than a Hub id.
fn is_local_path(model: &str) -> bool {
    let p = Path::new(model);
    p.exists()
        || model.starts_with('.')
        || model.starts_with('/')
        || model.starts_with('~')
        || model.contains('\\')
        || model.split('/').count() > 2
}

/// A local model folder, or a Hub model id: its cached snapshot when that holds config.json,
/// model.safetensors and tokenizer.json, else (unless `hub` is offline) those files are
/// downloaded into the cache.
pub fn resolve_model_dir_with(model: &str, hub: &HubSource) -> Result<PathBuf, SetupError> {
    let p = Path::new(model);
    if p.is_dir() {
        return Ok(p.to_path_buf());
    }
    if is_local_path(model) {
        // A path that is not a folder: let the loader name the missing files.
        return Ok(p.to_path_buf());
    }
    Ok(hub.model_dir(model)?)
}

/// Everything a run needs, prepared once.
pub struct Prepared {
    pub task: &'static TaskSpec,
    pub model: Model,
    pub train: EncodedDataset,
    pub devs: Vec<(String, EncodedDataset)>,
    /// Other tasks' dev sets with their label maps (`eval_tasks`).
    pub eval_sets: Vec<EvalSet>,
    /// The folder holding the tokenizer files to copy into checkpoints.
    pub tokenizer_dir: Option<PathBuf>,
    /// Notes for the log (initialised heads and the like).
    pub notes: Vec<String>,
    /// What the run's log should warn of at its start (eval tasks not found).
    pub warnings: Vec<String>,
    /// The run's dropout, resolved from the configuration, the method, the total steps and
    /// the model's own (already applied to `model`).
    pub dropout: Dropout,
}

fn head_for(task: &TaskSpec) -> HeadKind {
    if task.is_regression() {
        HeadKind::Regression
    } else {
        HeadKind::Classification {
            num_labels: task.num_labels(),
        }
    }
}

/// Apply `--threads`: candle's matmul and our fused kernels read the rayon pool size.
pub fn apply_threads(threads: usize) {
    if threads > 0 {
        std::env::set_var("RAYON_NUM_THREADS", threads.to_string());
        let _ = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build_global();
    }
}

/// Call at the start of `main`, before any candle op and before other threads exist.
///
/// candle's own elementwise ops (what is left of them after the fused kernels: residual adds,
/// gradient accumulation) run on a separate pool whose workers spin after every op and then
/// take CPU from the rayon threads of the next matrix product. On 2 cores the whole step is
/// faster with that pool off (`CANDLE_NUM_THREADS=1`, measured with `dps-tui bench`), so that
/// is the default unless the environment sets it.
pub fn single_threaded_candle_pool() {
    if std::env::var_os("CANDLE_NUM_THREADS").is_none() {
        std::env::set_var("CANDLE_NUM_THREADS", "1");
    }
}

/// Load the model and data a configuration names.
pub fn prepare(config: &TrainConfig) -> Result<Prepared, SetupError> {
    let device = select_device(&config.device)?;
    let task =
        glue::task(&config.task).ok_or_else(|| SetupError::UnknownTask(config.task.clone()))?;
    let mut notes = Vec::new();
    if config.task == "demo" || config.model == "demo" {
        let vocab = 64;
        let (train, dev) = synthetic::demo_task(
            config.seed,
            config.train_size.unwrap_or(2000),
            400,
            vocab,
            config.max_seq_length.min(64),
        );
        // The demo's own random model, or (for `eval`) a checkpoint of a demo run.
        let mut model: Model = if config.model == "demo" {
            Box::new(BertForSequenceClassification::random(
                BertConfig::tiny_demo(vocab),
                head_for(task),
                &device,
                config.seed,
            )?)
        } else {
            loader::load_dir(
                Path::new(&config.model),
                head_for(task),
                &device,
                config.seed,
            )?
            .0
        };
        let dropout = apply_dropout(config, &mut model, train.items.len());
        notes.push("demo: a tiny randomly initialised BERT on a synthetic task".into());
        return Ok(Prepared {
            task,
            model,
            train,
            devs: vec![(String::new(), dev)],
            eval_sets: Vec::new(),
            tokenizer_dir: None,
            notes,
            warnings: Vec::new(),
            dropout,
        });
    }
    let model_dir = resolve_model_dir(&config.model)?;
    let (mut model, initialised) =
        loader::load_dir(&model_dir, head_for(task), &device, config.seed)?;
    if !initialised.is_empty() {
        notes.push(format!(
            "initialised from scratch (not in the checkpoint): {}",
            initialised.join(", ")
        ));
    }
    let Some(tok_path) = crate::data::tokenize::tokenizer_file(&model_dir) else {
        return Err(SetupError::NoTokenizer { path: model_dir });
    };
    let encoder = TextEncoder::from_file(&tok_path, config.max_seq_length)?;
    let model_vocab = model.vocab_size();
    if encoder.vocab_size() > model_vocab {
        return Err(SetupError::VocabMismatch {
            tokenizer: tok_path,
            tok_vocab: encoder.vocab_size(),
            model_vocab,
        });
    }
    super::validate::check_seq_length(config.max_seq_length, model.as_ref(), &model_dir)?;
    let source = data_source(config, task);
    let mut train_ds = source.load(task, Split::Train)?;
    if let Some(n) = config.train_size {
        train_ds = match config.train_sampling {
            TrainSampling::Stratified => stratified_subsample(&train_ds, n, config.seed),
            TrainSampling::Random => glue::subsample(&train_ds, n, config.seed),
        };
    }
    let train = encoder.encode_dataset(&train_ds)?;
    let mut devs = Vec::new();
    for split in glue::dev_splits(task) {
        let ds = source.load(task, split)?;
        devs.push((
            split.metric_suffix().to_string(),
            encoder.encode_dataset(&ds)?,
        ));
    }
    let mut warnings = Vec::new();
    let eval_sets = eval_sets(config, task, &encoder, &mut notes, &mut warnings)?;
    let dropout = apply_dropout(config, &mut model, train.items.len());
    Ok(Prepared {
        task,
        model,
        train,
        devs,
        eval_sets,
        tokenizer_dir: Some(model_dir),
        notes,
        warnings,
        dropout,
    })
}

/// Where a task's files come from: GLUE from `data_dir`, the other NLI sets from `nli_dir`
/// (else `data_dir`); the Hub when no folder is given.
pub fn data_source(config: &TrainConfig, task: &TaskSpec) -> DataSource {
    DataSource::from_option(config.data_dir_for(task))
}

/// The dev sets of `eval_tasks` with their label maps. A set whose files cannot be found is
/// left out and named in `warnings`; any other error (a malformed file) stops the run.
pub fn eval_sets(
    config: &TrainConfig,
    train: &'static TaskSpec,
    encoder: &TextEncoder,
    notes: &mut Vec<String>,
    warnings: &mut Vec<String>,
) -> Result<Vec<EvalSet>, SetupError> {
    let mut sets = Vec::new();
    let mut missing = Vec::new();
    for entry in &config.eval_tasks {
        let name = eval_task_name(entry);
        let eval = glue::task(name).ok_or_else(|| SetupError::UnknownTask(name.into()))?;
        let map = LabelMap::resolve(train, eval, config.label_maps.get(name))
            .map_err(SetupError::EvalTask)?;
        let split = eval_task_split(entry);
        if eval.name == train.name && split == Split::Dev {
            // The training task's own dev set: its metrics are copied, not computed twice.
            sets.push(EvalSet {
                task: eval,
                map,
                data: None,
            });
            continue;
        }
        let ds = match data_source(config, eval).load(eval, split) {
            Ok(ds) => ds,
            Err(e @ (DataError::MissingFile { .. } | DataError::Hub(_))) => {
                missing.push(format!("{name} ({e})"));
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        notes.push(format!(
            "eval task {name}: {} {split} examples from {}; labels {}",
            ds.len(),
            ds.source,
            map.describe()
        ));
        sets.push(EvalSet {
            task: eval,
            map,
            data: Some(encoder.encode_dataset(&ds)?),
        });
    }
    if !missing.is_empty() {
        warnings.push(format!(
            "eval tasks not found, left out: {}",
            missing.join("; ")
        ));
    }
    Ok(sets)
}

/// Resolve the run's dropout (see [`Dropout`]) and set it on the model.
fn apply_dropout(config: &TrainConfig, model: &mut Model, num_train: usize) -> Dropout {
    let own = model.config_dropout();
    let own = (own.hidden, own.attention);
    let resolved = config
        .dropout
        .resolve(config.method, config.total_steps(num_train), own);
    if let Some(p) = resolved.probability() {
        model.set_dropout(p);
    }
    resolved
}

/// Prepare and build the trainer.
pub fn build_trainer(config: &TrainConfig) -> Result<(Trainer, RunAssets), SetupError> {
    let p = prepare(config)?;
    let extra = RunAssets {
        tokenizer_dir: p.tokenizer_dir.clone(),
        notes: p.notes.clone(),
        id2label: p.task.id2label(),
    };
    let config = TrainConfig {
        dropout: p.dropout,
        ..config.clone()
    };
    let mut trainer = Trainer::new(config, p.task, p.model, p.train, p.devs)?;
    trainer.eval_sets = p.eval_sets;
    trainer.start_warnings = p.warnings;
    Ok((trainer, extra))
}

/// What besides the trainer a run needs to remember from setup.
#[derive(Debug, Clone)]
pub struct RunAssets {
    pub tokenizer_dir: Option<PathBuf>,
    pub notes: Vec<String>,
    pub id2label: Vec<String>,
}
