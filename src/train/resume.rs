//! Resuming a run: what a checkpoint holds for the trainer, and the one constructor that
//! continues a run from it exactly where it was written (`runs::checkpoint::load` reads the
//! folder).

use super::setup::{build_trainer, RunAssets, SetupError};
use super::trainer::{TrainError, Trainer, TrainerState};
use super::validate::ValidationError;
use crate::config::TrainConfig;
use crate::dps::strategy::StrategyState;
use candle_core::Tensor;
use std::collections::HashMap;
use std::path::PathBuf;

/// A checkpoint as read back for resume.
pub struct Checkpoint {
    /// The checkpoint folder (`checkpoints/step-<N>`).
    pub dir: PathBuf,
    /// The model's weights by checkpoint key (`Family::checkpoint_key`).
    pub weights: HashMap<String, Tensor>,
    pub optimizer: HashMap<String, Tensor>,
    pub strategy: StrategyState,
    pub state: TrainerState,
}

impl Trainer {
    /// A trainer for `config` that continues from `checkpoint`: its weights, the optimizer's
    /// moments, the strategy's state (stage, masks, live changes) and the trainer's position.
    pub fn resume(
        config: &TrainConfig,
        checkpoint: &Checkpoint,
    ) -> Result<(Trainer, RunAssets), SetupError> {
        let (mut trainer, assets) = build_trainer(config)?;
        let weights_file = checkpoint.dir.join("model.safetensors");
        super::validate::check_checkpoint(
            trainer.model.as_ref(),
            &weights_file,
            &checkpoint.weights,
        )?;
        let family = trainer.model.family();
        for p in trainer.model.params() {
            let key = family.checkpoint_key(&p.name);
            let t =
                checkpoint
                    .weights
                    .get(&key)
                    .ok_or_else(|| ValidationError::CheckpointLacks {
                        path: weights_file.clone(),
                        key,
                    })?;
            t.to_device(p.var.device())
                .and_then(|t| p.var.set(&t))
                .map_err(TrainError::from)?;
        }
        trainer.restore(
            &checkpoint.state,
            &checkpoint.optimizer,
            &checkpoint.strategy,
        )?;
        Ok((trainer, assets))
    }
}
