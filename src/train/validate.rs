//! Checks made before step 1, so a run that cannot go on fails at once, naming the file, the
//! key or tensor and the fix, instead of at its first evaluation or deep in a tensor op.

use super::resume::Checkpoint;
use super::setup::SetupError;
use crate::model::family::Family;
use crate::model::SequenceClassifier;
use std::path::Path;

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
) -> Result<(), SetupError> {
    match position_limit(model) {
        Some(limit) if max_seq_length > limit => Err(SetupError::SeqTooLong {
            config: model_dir.join("config.json"),
            max_seq_length,
            limit,
        }),
        _ => Ok(()),
    }
}

/// Every weight of `model` is in the checkpoint, with the model's shape.
pub fn check_checkpoint(
    model: &dyn SequenceClassifier,
    checkpoint: &Checkpoint,
) -> Result<(), SetupError> {
    let path = checkpoint.dir.join("model.safetensors");
    let family = model.family();
    for p in model.params() {
        let key = family.checkpoint_key(&p.name);
        let Some(t) = checkpoint.weights.get(&key) else {
            return Err(SetupError::CheckpointLacks { path, key });
        };
        if t.dims() != p.var.dims() {
            return Err(SetupError::CheckpointShape {
                path,
                key,
                found: t.dims().to_vec(),
                expected: p.var.dims().to_vec(),
            });
        }
    }
    Ok(())
}
