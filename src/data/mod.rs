//! Task data: task registry, file reading, tokenization, batching, metrics, the demo task.
//!
//! - [`task_spec`]: the task model ([`TaskSpec`], [`DataFormat`]), examples, labels, splits.
//! - [`glue`]: the task registry (GLUE specs, [`task`]) and loading splits from files.
//! - [`nli`]: the NLI sets of the out-of-domain protocol (SNLI, SICK, SciTail): their specs and
//!   readers of their original distribution formats.
//! - [`hub_glue`]: GLUE from the Hub dataset `nyu-mll/glue` (parquet), cache first.
//! - [`hub_nli`]: SNLI (`stanfordnlp/snli`) and SciTail (`allenai/scitail`) from the Hub, the
//!   same way.
//! - [`label_map`]: how a model trained on one task is scored on another (`eval_tasks`).
//! - [`sampling`]: stratified subsets (scikit-learn's `StratifiedShuffleSplit` counts).
//! - [`tsv`]: the raw tab-separated reader (no quoting, BOM and CRLF tolerant).
//! - [`tokenize`]: [`tokenize::TextEncoder`], a model folder's `tokenizers` tokenizer set up like
//!   HF's `truncation=True, max_length=N` with no padding.
//! - [`spm`]: SentencePiece `spm.model` files (DeBERTa-v2/v3) turned into that tokenizer.
//! - [`batching`]: encoded examples, dynamic padding into tensors, epoch orders and length grouping.
//! - [`metrics`]: GLUE metrics (accuracy, F1, Matthews correlation, Pearson, Spearman).
//! - [`synthetic`]: the `demo` task, generated from a seed, that needs no downloads.

pub mod batching;
pub mod glue;
pub mod hub_glue;
pub mod hub_nli;
pub mod label_map;
pub mod metrics;
pub mod nli;
pub mod prefetch;
pub mod sampling;
pub mod spm;
pub mod synthetic;
pub mod task_spec;
pub mod tokenize;
pub mod tsv;

pub use batching::{
    epoch_batches, epoch_order, make_batch, make_packed_batch, Batch, Encoded, EncodedDataset,
    ModelBatch, PackedBatch, Padding,
};
pub use glue::{
    dev_splits, load_split, subsample, task, DataFormat, Dataset, Example, Label, LabelKind, Split,
    TaskSpec, GLUE_TASKS,
};
pub use metrics::{compute_metrics, Predictions};
pub use nli::NLI_TASKS;
pub use sampling::{stratified_counts, stratified_subsample};
pub use synthetic::{demo_task, DEMO_TASK};
pub use tokenize::TextEncoder;

use std::path::PathBuf;
use thiserror::Error;

/// Where task splits come from: a folder (GLUE layout, and the NLI sets' original layouts
/// beside it), or the Hub datasets (`nyu-mll/glue`, `stanfordnlp/snli`, `allenai/scitail`)
/// through the Hugging Face cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DataSource {
    /// `<dir>/<TASK>/train.tsv`, `dev.tsv`, ...; `<dir>/SICK/SICK.txt`,
    /// `<dir>/snli_1.0/snli_1.0_train.jsonl`, `<dir>/SciTailV1.1/tsv_format/...`.
    Dir(PathBuf),
    /// The parquet files of the task's Hub dataset, cache first.
    Hub(crate::hub::HubSource),
}

impl DataSource {
    /// A folder when one is given, else the Hub with the cache and offline flag from the
    /// environment.
    pub fn from_option(data_dir: Option<&std::path::Path>) -> Self {
        match data_dir {
            Some(d) => DataSource::Dir(d.to_path_buf()),
            None => DataSource::Hub(crate::hub::HubSource::from_env()),
        }
    }

    /// Load `split` of `task` (GLUE's unlabelled test splits are refused; the NLI sets' test
    /// splits load).
    pub fn load(&self, task: &'static TaskSpec, split: Split) -> Result<Dataset, DataError> {
        match (self, task.format) {
            (DataSource::Dir(d), _) => glue::load_split(d, task, split),
            (DataSource::Hub(h), DataFormat::GlueTsv) => hub_glue::load_hub_split(h, task, split),
            (DataSource::Hub(h), _) => hub_nli::load_hub_split(h, task, split),
        }
    }
}

/// `path:line`, or only `path` for a problem of the whole file (line 0).
fn place(path: &std::path::Path, line: usize) -> String {
    match line {
        0 => path.display().to_string(),
        n => format!("{}:{n}", path.display()),
    }
}

/// Everything that can go wrong while reading, tokenizing or batching task data.
#[derive(Debug, Error)]
pub enum DataError {
    /// A split file is not where the task's folder layout puts it.
    #[error(
        "data file not found: {path}. Fix: point --data-dir at a folder in {layout} \
         (<dir>/{dir_name}/{file}), {alternative}"
    )]
    MissingFile {
        path: PathBuf,
        /// The task's folder below the data folder (`RTE`, `SICK`, `SciTailV1.1/tsv_format`).
        dir_name: &'static str,
        /// The file's name in that folder.
        file: &'static str,
        /// The layout, for the message (`the GLUE layout`).
        layout: &'static str,
        /// Where else the task can come from, or why nowhere (`or omit --data-dir ...`).
        alternative: &'static str,
    },
    /// The Hub dataset could not be found in the cache or fetched.
    #[error("{0}")]
    Hub(String),
    /// A parquet file could not be read or has unexpected columns or values.
    #[error("{path}: {message}")]
    Parquet { path: PathBuf, message: String },
    /// The file exists but could not be read.
    #[error("cannot read {path}: {source}. Fix: check the file's permissions and that it is a regular file")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A malformed line (wrong field count, bad label, bad score, invalid UTF-8...).
    #[error("{}: {message}", place(path, *line))]
    Parse {
        path: PathBuf,
        /// 1-based line number in the file (0 when the problem concerns the whole file).
        line: usize,
        message: String,
    },
    /// GLUE's test splits carry no labels.
    #[error(
        "task `{task}`: the test split has no labels and cannot be used for training or \
         evaluation. Fix: train on the train split and evaluate on the dev split(s)"
    )]
    TestSplit { task: String },
    /// A split this task does not have (e.g. dev_mismatched for a task other than MNLI).
    #[error("task `{task}` has no {split} split. Fix: use {available}")]
    NoSuchSplit {
        task: String,
        split: String,
        available: String,
    },
    /// The task cannot be loaded from files (the synthetic demo task).
    #[error("task `{task}` is synthetic and has no files. Fix: use data::synthetic::demo_task")]
    Synthetic { task: String },
    /// The tokenizer file could not be loaded or configured.
    #[error("cannot load tokenizer {path}: {message}. Fix: pass a model folder that holds its tokenizer.json (or, for DeBERTa-v2/v3, spm.model with tokenizer_config.json)")]
    Tokenizer { path: PathBuf, message: String },
    /// Tokenization of a text failed.
    #[error("tokenization failed: {0}")]
    Encode(String),
    /// A batch could not be built (empty batch, label kind mismatch, over-long item...).
    #[error("cannot build batch: {0}")]
    Batch(String),
    /// A tensor operation failed.
    #[error("tensor error while building a batch: {0}")]
    Tensor(#[from] candle_core::Error),
}
