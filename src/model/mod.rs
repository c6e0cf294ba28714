//! The encoders we own, their heads, and checkpoint I/O.
//!
//! - [`classifier`]: [`SequenceClassifier`], what the rest of the crate sees of a model of any
//!   family, and [`Model`] (a boxed one).
//! - [`base`]: what every family's model holds besides its config (family, head, device,
//!   parameters), its Linear and LayerNorm layers, and the one way a family's model is built
//!   from checkpoint tensors or at random.
//! - [`family`]: [`Family`], told apart by `config.json`'s `model_type`; [`loader`] maps a
//!   family to its implementation.
//! - [`bert`]: [`BertForSequenceClassification`], a differentiable BERT-style encoder whose
//!   every weight is a trainable [`candle_core::Var`], with its head and its config
//!   ([`BertConfig`]); its `layout` holds what RoBERTa, ELECTRA and DistilBERT name and compute
//!   differently.
//! - [`deberta`]: `DebertaV2ForSequenceClassification` (DeBERTa-v2/-v3), with its config and
//!   its disentangled relative-position attention.
//! - [`modernbert`]: `ModernBertForSequenceClassification` (pre-norm, RoPE, GeGLU, alternating
//!   global and local attention), with its config in `modernbert::config`.
//! - [`init`]: parameter specs, initialisation and reading them from checkpoint tensors.
//! - [`params`]: the named trainable parameters ([`Param`]) with their weight-decay and DPS flags.
//! - [`checkpoint_io`]: saving a checkpoint that `transformers` loads, and reading it back.
//! - [`dropout`]: dropout with masks drawn on the host from a seeded RNG.
//! - [`inputs`]: [`ModelInput`], a padded or a packed batch of token ids, and its checks.
//! - [`weights`]: reading the weights of a model folder (safetensors, else
//!   `pytorch_model.bin` through [`pytorch_bin`], which never runs the pickle's code).
//! - [`files`]: the files a model folder or a Hub repository provides (weights, tokenizer).
//! - [`ops`]: every kernel: fused CPU ops with backward passes, the GEMM, and the optimizer's
//!   fused per-element updates (CPU and device).
//! - [`device`]: what a model runs on, as plain data for the `start` event and the TUI.

pub mod base;
pub mod bert;
pub mod checkpoint_io;
pub mod classifier;
pub mod deberta;
pub mod device;
pub mod dropout;
pub mod family;
pub mod files;
pub mod init;
pub mod inputs;
pub mod loader;
pub mod modernbert;
pub mod ops;
pub mod params;
pub mod pytorch_bin;
#[cfg(test)]
pub(crate) mod testing;
pub mod weights;

pub use bert::BertConfig;
pub use bert::BertForSequenceClassification;
pub use checkpoint_io::{load_checkpoint, save_hf};
pub use classifier::{ForwardOutput, HeadKind, Model, SequenceClassifier, WeightOverrides};
pub use family::Family;
pub use inputs::ModelInput;
pub use params::Param;

use std::path::PathBuf;

/// Everything that can go wrong while building, loading, running or saving a model.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// A required file does not exist.
    #[error("{path}: file not found; {hint}")]
    MissingFile {
        /// The path that was looked for.
        path: PathBuf,
        /// What the folder or file should contain.
        hint: String,
    },
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder involved.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// `config.json` is not valid JSON or has a field of the wrong type.
    #[error("{path}: invalid config.json at line {line}, column {column}: {message}")]
    ConfigParse {
        /// The config file.
        path: PathBuf,
        /// 1-based line of the problem.
        line: usize,
        /// 1-based column of the problem.
        column: usize,
        /// What serde_json reported.
        message: String,
    },
    /// The configuration describes a model this crate does not support.
    #[error("unsupported model configuration{}: {message}", .path.as_ref().map(|p| format!(" in {}", p.display())).unwrap_or_default())]
    UnsupportedConfig {
        /// The config file, when the configuration came from one.
        path: Option<PathBuf>,
        /// What is wrong and how to fix it.
        message: String,
    },
    /// A weights file cannot be read as safetensors.
    #[error("{path}: cannot read safetensors weights ({message}); the file may be truncated or corrupt, re-download or re-save it")]
    Safetensors {
        /// The weights file.
        path: PathBuf,
        /// What the reader reported.
        message: String,
    },
    /// A file of a checkpoint could not be written (a full disk, a folder without write
    /// permission).
    #[error("cannot write {path}: {message}. Fix: free disk space where the run folder is (or check that it is writable), then resume from the last checkpoint")]
    Write {
        /// The file being written.
        path: PathBuf,
        /// What the writer reported.
        message: String,
    },
    /// A weights format that is not supported (e.g. `pytorch_model.bin`).
    #[error("{path}: {message}")]
    UnsupportedFormat {
        /// The offending file.
        path: PathBuf,
        /// Why and how to convert.
        message: String,
    },
    /// An encoder tensor is missing from the weights.
    #[error("tensor `{name}` is missing from the weights{}; the checkpoint does not match the config (num_hidden_layers / names)", .source_file.as_ref().map(|p| format!(" ({})", p.display())).unwrap_or_default())]
    MissingTensor {
        /// The parameter name (without the `bert.` prefix).
        name: String,
        /// The weights file, when known.
        source_file: Option<PathBuf>,
    },
    /// A tensor has a different shape than the config implies.
    #[error("tensor `{name}` has shape {found:?} but the config implies {expected:?}; the checkpoint does not match the config")]
    ShapeMismatch {
        /// The parameter name.
        name: String,
        /// The shape implied by the configuration.
        expected: Vec<usize>,
        /// The shape found.
        found: Vec<usize>,
    },
    /// The same parameter appears twice in the weights (e.g. with and without `bert.`).
    #[error("tensor `{name}` appears more than once in the weights (with and without the `bert.` prefix, or as both gamma/beta and weight/bias)")]
    DuplicateTensor {
        /// The parameter name after normalisation.
        name: String,
    },
    /// The inputs given to `forward` or `loss` are inconsistent.
    #[error("invalid model input: {0}")]
    Input(String),
    /// A checkpoint folder is incomplete or inconsistent.
    #[error("{path}: {message}")]
    Checkpoint {
        /// The checkpoint folder or file.
        path: PathBuf,
        /// What is wrong and how to fix it.
        message: String,
    },
    /// An error from a candle tensor operation.
    #[error("tensor operation failed: {0}")]
    Candle(#[from] candle_core::Error),
}

/// The text of a model folder's `config.json`; a missing file is an error saying what the
/// folder must hold.
pub(crate) fn read_config_text(path: &std::path::Path) -> Result<String, ModelError> {
    std::fs::read_to_string(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            ModelError::MissingFile {
                path: path.to_path_buf(),
                hint: "a model folder must hold config.json and model.safetensors (or \
                       pytorch_model.bin), as a model downloaded from the Hugging Face Hub does; \
                       or pass a Hub model id such as sentence-transformers/all-MiniLM-L6-v2"
                    .to_string(),
            }
        } else {
            ModelError::Io {
                path: path.to_path_buf(),
                source: e,
            }
        }
    })
}
