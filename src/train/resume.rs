//! Resuming a run: what a checkpoint holds for the trainer, and the one constructor that
//! continues a run from it exactly where it was written (`runs::checkpoint::load` reads the
//! folder).

use super::setup::{build_trainer, RunAssets, SetupError};
use super::trainer::{TrainError, Trainer, TrainerState};
use super::validate::ValidationError;
use crate::config::{Control, TrainConfig};
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
        trainer.adopt_live_controls();
        Ok((trainer, assets))
    }

    /// After a restore, the configuration takes the live values the run had reached (the
    /// learning rate its schedule peaks at, the strategy's applied controls), so the resumed
    /// `start` event says what the run trains with rather than config.yaml; each change still
    /// pending is asked for again right after that event, which announces it.
    fn adopt_live_controls(&mut self) {
        Control::LearningRate(self.schedule.peak_lr).apply_to(&mut self.config);
        for c in self.strategy.live_controls() {
            c.applied.apply_to(&mut self.config);
            self.after_start.extend(c.pending);
        }
    }

    /// Apply `control` right after the `start` event (a resumed run's `--set` of a live key),
    /// after any change the checkpoint left pending.
    pub fn control_after_start(&mut self, control: Control) {
        self.after_start.push(control);
    }
}
