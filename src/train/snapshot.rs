//! What a checkpoint holds besides the model weights' source ([`TrainerSnapshot`]), the
//! position of a run ([`TrainerState`]), and what writes checkpoints ([`Checkpointer`]).

use super::optimizer::MaskedAdamW;
use crate::dps::strategy::StrategyState;

/// Everything a checkpoint holds besides the model weights' source.
pub struct TrainerSnapshot<'a> {
    pub step: usize,
    pub model: &'a dyn crate::model::SequenceClassifier,
    pub optimizer: &'a MaskedAdamW,
    pub strategy: StrategyState,
    pub state: serde_json::Value,
    /// The dev metric the checkpoint scored, when an evaluation was just run.
    pub metric: Option<f64>,
}

/// Writes checkpoints; implemented by the run folder.
pub trait Checkpointer: Send {
    /// Returns the checkpoint's path.
    fn save(&mut self, snap: &TrainerSnapshot) -> Result<String, String>;
}

/// The position of a run, for exact resume.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TrainerState {
    pub step: usize,
    pub peak_lr: f64,
    pub best_metric: Option<f64>,
    pub dropout_rng: serde_json::Value,
    /// The length of `events.jsonl` when the checkpoint was written: the events of the run up
    /// to this state, synced before the checkpoint was committed. `None` for checkpoints
    /// written without a log, or by earlier versions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_log_bytes: Option<u64>,
}
