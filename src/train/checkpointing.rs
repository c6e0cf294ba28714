//! A trainer's checkpoints (what one holds is in [`super::snapshot`]): writing one with the event log made durable first, restoring one, and the clean stop on a signal.
//!
//! The order is what keeps the log and the checkpoints in step: every event up to the
//! checkpoint's state is flushed and synced ([`EventSink::sync`]) and the log's length then is
//! recorded in `trainer_state.json` (`event_log_bytes`) before the checkpoint is committed, and
//! a resumed run cuts its log back to that length ([`crate::runs::log_repair`] does it).

use super::snapshot::{TrainerSnapshot, TrainerState};
use super::trainer::{RunSummary, TrainError, Trainer};
use crate::core::events::{Event, Metrics};
use crate::dps::strategy::StrategyState;
use crate::rng;

impl Trainer {
    pub fn trainer_state(&self) -> TrainerState {
        TrainerState {
            step: self.step,
            peak_lr: self.schedule.peak_lr,
            best_metric: self.best_metric,
            dropout_rng: rng::save(&self.dropout_rng),
            event_log_bytes: None,
        }
    }

    /// Restore a checkpoint's position (the model weights are loaded by the caller).
    pub fn restore(
        &mut self,
        state: &TrainerState,
        optimizer: &std::collections::HashMap<String, candle_core::Tensor>,
        strategy: &StrategyState,
    ) -> Result<(), TrainError> {
        self.step = state.step;
        self.schedule.peak_lr = state.peak_lr;
        self.best_metric = state.best_metric;
        if let Some(r) = rng::load(&state.dropout_rng) {
            self.dropout_rng = r;
        }
        self.optimizer.load_state(self.model.params(), optimizer)?;
        self.strategy.load_state(strategy)?;
        Ok(())
    }

    /// Make every event emitted so far durable; the run log's length then, if it has one.
    pub(super) fn sync_sinks(&mut self) -> Option<u64> {
        let mut mark = None;
        for s in &mut self.sinks {
            mark = mark.or(s.sync());
        }
        mark
    }

    /// Write a checkpoint of the state now, the log synced first.
    pub(super) fn checkpoint(&mut self, metric: Option<f64>) -> Result<(), TrainError> {
        let mark = self.sync_sinks();
        self.checkpoint_marked(metric, mark)
    }

    /// Write a checkpoint of the state now whose events end at the log length `mark` (synced
    /// by the caller).
    pub(super) fn checkpoint_marked(
        &mut self,
        metric: Option<f64>,
        mark: Option<u64>,
    ) -> Result<(), TrainError> {
        let Some(mut c) = self.checkpointer.take() else {
            let step = self.step;
            self.emit(Event::Warning {
                step,
                message: "no run folder: checkpoint skipped".into(),
            });
            return Ok(());
        };
        let state = TrainerState {
            event_log_bytes: mark,
            ..self.trainer_state()
        };
        let snap = TrainerSnapshot {
            step: self.step,
            model: self.model.as_ref(),
            optimizer: &self.optimizer,
            strategy: self.strategy.save_state()?,
            state: serde_json::to_value(state).unwrap_or_default(),
            metric,
        };
        let r = c.save(&snap);
        self.checkpointer = Some(c);
        let step = self.step;
        match r {
            Ok(path) => {
                self.emit(Event::Checkpoint { step, path });
                Ok(())
            }
            Err(message) => {
                self.emit(Event::Error {
                    step,
                    message: format!("checkpoint failed: {message}"),
                });
                Err(TrainError::Checkpoint { step, message })
            }
        }
    }

    /// After a stop signal: checkpoint (past step 0 and with a run folder), log `stopped` and
    /// `done` (stopped early), and end the run. `None` while no signal has come.
    pub(super) fn stop_if_signalled(&mut self) -> Result<Option<RunSummary>, TrainError> {
        let Some(sig) = self.stop.as_ref().and_then(|s| s.received()) else {
            return Ok(None);
        };
        if self.step > 0 && self.checkpointer.is_some() {
            self.checkpoint(None)?;
        }
        let step = self.step;
        self.emit(Event::Stopped {
            step,
            signal: super::stop::name(sig),
            exit_code: super::stop::exit_code(sig),
        });
        let metrics = Metrics::new();
        self.emit(Event::Done {
            step,
            metrics: metrics.clone(),
            stopped_early: true,
        });
        self.sync_sinks();
        Ok(Some(RunSummary {
            step,
            metrics,
            stopped_early: true,
        }))
    }
}
