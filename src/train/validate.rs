//! Checks made before step 1, so a run that cannot go on fails at once, naming the file, the
//! key or tensor and the fix, instead of at its first evaluation or deep in a tensor op.

use crate::model::family::Family;
use crate::model::SequenceClassifier;
use candle_core::Tensor;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// What a check before step 1 found wrong.
#[derive(Debug, Error)]
pub enum ValidationError {
    #[error(
        "{path} lacks `{key}`. Fix: resume from a checkpoint written for this model and method"
    )]
    CheckpointLacks { path: PathBuf, key: String },
    #[error("{path}: tensor `{key}` has shape {found:?}, but the model needs {expected:?}. Fix: resume with the model and configuration this checkpoint was written for (the run folder's config.yaml), or start a new run")]
    CheckpointShape {
        path: PathBuf,
        key: String,
        found: Vec<usize>,
        expected: Vec<usize>,
    },
    #[error("max_seq_length {max_seq_length} is longer than the model allows: {config} has {limit} positions (max_position_embeddings). Fix: --set max_seq_length={limit} (or less)")]
    SeqTooLong {
        config: PathBuf,
        max_seq_length: usize,
        limit: usize,
    },
}

/// The longest input the model's position table allows (`max_position_embeddings`, less
/// RoBERTa's offset of `pad_token_id + 1`), or `None` when positions do not limit it
/// (DeBERTa with relative positions only).
pub fn position_limit(model: &dyn SequenceClassifier) -> Option<usize> {
    let cfg = model.hf_config().ok()?;
    let get = |k: &str| cfg.get(k).and_then(|v| v.as_u64()).map(|v| v as usize);
    if cfg.get("position_biased_input").and_then(|v| v.as_bool()) == Some(false) {
        return None;
    }
    let n = get("max_position_embeddings")?;
    let offset = match model.family() {
        Family::Roberta | Family::XlmRoberta => get("pad_token_id").unwrap_or(1) + 1,
        _ => 0,
    };
    Some(n.saturating_sub(offset))
}

/// `max_seq_length` against the positions of the model loaded from `model_dir`.
pub fn check_seq_length(
    max_seq_length: usize,
    model: &dyn SequenceClassifier,
    model_dir: &Path,
) -> Result<(), ValidationError> {
    match position_limit(model) {
        Some(limit) if max_seq_length > limit => Err(ValidationError::SeqTooLong {
            config: model_dir.join("config.json"),
            max_seq_length,
            limit,
        }),
        _ => Ok(()),
    }
}

/// Every weight of `model` is in the checkpoint's `weights` (read from `path`), with the
/// model's shape.
pub fn check_checkpoint(
    model: &dyn SequenceClassifier,
    path: &Path,
    weights: &HashMap<String, Tensor>,
) -> Result<(), ValidationError> {
    let path = path.to_path_buf();
    let family = model.family();
    for p in model.params() {
        let key = family.checkpoint_key(&p.name);
        let Some(t) = weights.get(&key) else {
            return Err(ValidationError::CheckpointLacks { path, key });
        };
        if t.dims() != p.var.dims() {
            return Err(ValidationError::CheckpointShape {
                path,
                key,
                found: t.dims().to_vec(),
                expected: p.var.dims().to_vec(),
            });
        }
    }
    Ok(())
}
