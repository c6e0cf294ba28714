//! From a configuration to a ready [`Trainer`]: pick the device, resolve the model source,
//! load and tokenize the data once, apply the run's dropout, build the strategy.

use super::trainer::Trainer;
use crate::config::TrainConfig;
use crate::data::batching::EncodedDataset;
use crate::data::glue::{self, Split, TaskSpec};
use crate::data::synthetic;
use crate::data::tokenize::TextEncoder;
use crate::model::bert::{BertForSequenceClassification, HeadKind};
use crate::model::config::BertConfig;
use candle_core::Device;
use std::path::{Path, PathBuf};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum SetupError {
    #[error("unknown task `{0}`. Fix: use one of cola, sst2, mrpc, stsb, qqp, mnli, qnli, rte, wnli, demo")]
    UnknownTask(String),
    #[error("{0}")]
    Device(String),
    #[error("model `{model}` not found: it is not a local folder and it is not in the Hugging Face cache ({cache}). Fix: pass a local folder holding config.json, model.safetensors and tokenizer.json (for example --model ../shared/models/all-MiniLM-L6-v2), or download the model once with network access")]
    ModelNotFound { model: String, cache: String },
    #[error("{path}: no tokenizer.json in the model folder. Fix: copy the model's tokenizer.json beside config.json")]
    NoTokenizer { path: PathBuf },
    #[error("the tokenizer {tokenizer} has {tok_vocab} tokens but the model's config.json says vocab_size {model_vocab}. Fix: use the tokenizer.json that belongs to this model")]
    VocabMismatch {
        tokenizer: PathBuf,
        tok_vocab: usize,
        model_vocab: usize,
    },
    #[error("task `{task}`: no data folder given and the Hugging Face Hub dataset nyu-mll/glue is not in the local cache. Fix: pass --data-dir pointing at a folder in the GLUE layout (for example ../shared/glue)")]
    NoData { task: String },
    #[error(transparent)]
    Model(#[from] crate::model::ModelError),
    #[error(transparent)]
    Data(#[from] crate::data::DataError),
    #[error(transparent)]
    Train(#[from] super::trainer::TrainError),
}

/// Pick the device a configuration names. A binary built without the matching feature says
/// so plainly.
pub fn select_device(name: &str) -> Result<Device, SetupError> {
    if name == "cpu" {
        return Ok(Device::Cpu);
    }
    if let Some(rest) = name.strip_prefix("cuda") {
        let ordinal = rest
            .strip_prefix(':')
            .map(|n| n.parse().unwrap_or(0))
            .unwrap_or(0);
        if !cfg!(feature = "cuda") {
            return Err(SetupError::Device(format!(
                "device `{name}`: this binary was built without CUDA support. Fix: rebuild with `cargo build --release --features cuda`, or use --device cpu"
            )));
        }
        return Device::new_cuda(ordinal)
            .map_err(|e| SetupError::Device(format!("device `{name}`: {e}")));
    }
    if name == "metal" {
        if !cfg!(feature = "metal") {
            return Err(SetupError::Device(
                "device `metal`: this binary was built without Metal support. Fix: rebuild with `cargo build --release --features metal`, or use --device cpu".into(),
            ));
        }
        return Device::new_metal(0)
            .map_err(|e| SetupError::Device(format!("device `metal`: {e}")));
    }
    Err(SetupError::Device(format!(
        "unknown device `{name}`. Fix: use cpu, cuda, cuda:N or metal"
    )))
}

/// The Hugging Face cache folder (`$HF_HUB_CACHE`, `$HF_HOME/hub`, `~/.cache/huggingface/hub`).
pub fn hf_cache_dir() -> PathBuf {
    if let Ok(p) = std::env::var("HF_HUB_CACHE") {
        return PathBuf::from(p);
    }
    if let Ok(p) = std::env::var("HUGGINGFACE_HUB_CACHE") {
        return PathBuf::from(p);
    }
    if let Ok(p) = std::env::var("HF_HOME") {
        return PathBuf::from(p).join("hub");
    }
    let base = std::env::var("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            PathBuf::from(std::env::var("HOME").unwrap_or_else(|_| ".".into())).join(".cache")
        });
    base.join("huggingface").join("hub")
}

/// The snapshot folder of a cached Hub repository (`kind` is `models` or `datasets`), following
/// `refs/main`, else the newest snapshot.
pub fn cached_snapshot(kind: &str, repo_id: &str) -> Option<PathBuf> {
    let repo = hf_cache_dir().join(format!("{kind}--{}", repo_id.replace('/', "--")));
    let snaps = repo.join("snapshots");
    if let Ok(commit) = std::fs::read_to_string(repo.join("refs").join("main")) {
        let p = snaps.join(commit.trim());
        if p.is_dir() {
            return Some(p);
        }
    }
    let mut dirs: Vec<_> = std::fs::read_dir(&snaps)
        .ok()?
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .collect();
    dirs.sort_by_key(|e| e.metadata().and_then(|m| m.modified()).ok());
    dirs.last().map(|e| e.path())
}

/// A local model folder, or the cached snapshot of a Hub model id.
pub fn resolve_model_dir(model: &str) -> Result<PathBuf, SetupError> {
    let p = Path::new(model);
    if p.is_dir() {
        return Ok(p.to_path_buf());
    }
    if p.exists() || model.starts_with('.') || model.starts_with('/') {
        // A path that is not a folder: let the loader name the missing files.
        return Ok(p.to_path_buf());
    }
    cached_snapshot("models", model).ok_or_else(|| SetupError::ModelNotFound {
        model: model.into(),
        cache: hf_cache_dir().display().to_string(),
    })
}

/// Everything a run needs, prepared once.
pub struct Prepared {
    pub task: &'static TaskSpec,
    pub model: BertForSequenceClassification,
    pub train: EncodedDataset,
    pub devs: Vec<(String, EncodedDataset)>,
    /// The folder holding the tokenizer files to copy into checkpoints.
    pub tokenizer_dir: Option<PathBuf>,
    /// Notes for the log (initialised heads and the like).
    pub notes: Vec<String>,
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
        let mut cfg = BertConfig::tiny_demo(vocab);
        if let Some(p) = config.dropout {
            cfg.hidden_dropout_prob = p;
            cfg.attention_probs_dropout_prob = p;
        }
        let model =
            BertForSequenceClassification::random(cfg, head_for(task), &device, config.seed)?;
        notes.push("demo: a tiny randomly initialised BERT on a synthetic task".into());
        return Ok(Prepared {
            task,
            model,
            train,
            devs: vec![(String::new(), dev)],
            tokenizer_dir: None,
            notes,
        });
    }
    let model_dir = resolve_model_dir(&config.model)?;
    let (mut model, initialised) =
        BertForSequenceClassification::load_dir(&model_dir, head_for(task), &device, config.seed)?;
    if !initialised.is_empty() {
        notes.push(format!(
            "initialised from scratch (not in the checkpoint): {}",
            initialised.join(", ")
        ));
    }
    if let Some(p) = config.dropout {
        model.set_dropout(p);
    }
    let tok_path = model_dir.join("tokenizer.json");
    if !tok_path.exists() {
        return Err(SetupError::NoTokenizer { path: model_dir });
    }
    let encoder = TextEncoder::from_file(&tok_path, config.max_seq_length)?;
    let model_vocab = model.config().vocab_size;
    if encoder.vocab_size() > model_vocab {
        return Err(SetupError::VocabMismatch {
            tokenizer: tok_path,
            tok_vocab: encoder.vocab_size(),
            model_vocab,
        });
    }
    let data_dir = match &config.data_dir {
        Some(d) => d.clone(),
        None => cached_snapshot("datasets", "nyu-mll/glue").ok_or_else(|| SetupError::NoData {
            task: config.task.clone(),
        })?,
    };
    let mut train_ds = glue::load_split(&data_dir, task, Split::Train)?;
    if let Some(n) = config.train_size {
        train_ds = glue::subsample(&train_ds, n, config.seed);
    }
    let train = encoder.encode_dataset(&train_ds)?;
    let mut devs = Vec::new();
    for split in glue::dev_splits(task) {
        let ds = glue::load_split(&data_dir, task, split)?;
        devs.push((
            split.metric_suffix().to_string(),
            encoder.encode_dataset(&ds)?,
        ));
    }
    Ok(Prepared {
        task,
        model,
        train,
        devs,
        tokenizer_dir: Some(model_dir),
        notes,
    })
}

/// Prepare and build the trainer.
pub fn build_trainer(config: &TrainConfig) -> Result<(Trainer, RunAssets), SetupError> {
    let p = prepare(config)?;
    let extra = RunAssets {
        tokenizer_dir: p.tokenizer_dir.clone(),
        notes: p.notes.clone(),
        id2label: p.task.id2label(),
    };
    let trainer = Trainer::new(config.clone(), p.task, p.model, p.train, p.devs)?;
    Ok((trainer, extra))
}

/// What besides the trainer a run needs to remember from setup.
#[derive(Debug, Clone)]
pub struct RunAssets {
    pub tokenizer_dir: Option<PathBuf>,
    pub notes: Vec<String>,
    pub id2label: Vec<String>,
}
