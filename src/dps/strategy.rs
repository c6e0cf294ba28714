//! The one interface through which every fine-tuning method plugs into the one trainer.
//!
//! Per step the trainer calls, in order: [`Strategy::begin_step`] (stage changes and
//! selections, before the forward pass), [`Strategy::weight_overrides`] (effective weights for
//! the forward pass, DPS-Mix only), then after the backward pass [`Strategy::on_gradients`]
//! (importance accumulation, gradient and update masks). Nothing else about a method lives in
//! the trainer.

use crate::config::{Control, ControlKey, Method};
use crate::core::events::{ControlOutcome, Event};
use crate::core::StepMasks;
use crate::model::params::Param;
use crate::model::WeightOverrides;
use candle_core::{Result, Tensor};
use std::collections::HashMap;

/// A strategy's state for a checkpoint: tensors plus a JSON document of scalars.
pub struct StrategyState {
    pub tensors: HashMap<String, Tensor>,
    pub json: serde_json::Value,
}

/// One live control of a strategy: the value in effect and the change waiting for the next
/// selection or stage, if any.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LiveControl {
    pub applied: Control,
    pub pending: Option<Control>,
}

pub trait Strategy: Send {
    fn method(&self) -> Method;

    /// Before the forward pass of `step` (1-based). Returns the events it caused (stage
    /// changes, selections, controls applied).
    fn begin_step(&mut self, step: usize, params: &[Param]) -> Result<Vec<Event>>;

    /// Weights to use instead of the parameters in this step's forward pass.
    fn weight_overrides(&self) -> Option<&WeightOverrides> {
        None
    }

    /// After the backward pass: may rewrite `grads` and fill `masks`.
    fn on_gradients(
        &mut self,
        step: usize,
        params: &[Param],
        grads: &mut [Option<Tensor>],
        masks: &mut StepMasks,
    ) -> Result<()>;

    /// Apply a live control the trainer has validated ([`Control::validate`]); the outcome says
    /// whether it is in effect now, pending, or refused because the method has no such setting.
    fn control(&mut self, control: Control) -> ControlOutcome {
        let method = self.method();
        ControlOutcome::rejected(match control.key() {
            ControlKey::P => format!("{method} has no selection ratio p"),
            ControlKey::UpdateRatio => format!("{method} has no stages"),
            key => format!("{method} has no option `{key}` that can change while training"),
        })
    }

    /// Whether the trainer must run [`add_fisher`](Self::add_fisher) over the training set
    /// before the first step (ChildTuning-D).
    fn needs_fisher(&self) -> bool {
        false
    }
    /// One batch of the Fisher pass; `num_batches` is the number of batches in the pass.
    fn add_fisher(
        &mut self,
        _params: &[Param],
        _grads: &[Option<Tensor>],
        _num_batches: usize,
    ) -> Result<()> {
        Ok(())
    }
    fn finish_fisher(&mut self, _params: &[Param]) -> Result<Vec<Event>> {
        Ok(Vec::new())
    }

    /// The live controls this strategy holds (lr excepted: the trainer holds it), each as the
    /// value in effect and the change waiting to take effect, if any. Empty for a strategy
    /// without live controls. A resumed run reads them back from the checkpoint this way.
    fn live_controls(&self) -> Vec<LiveControl> {
        Vec::new()
    }

    /// State for a checkpoint, and its restoration.
    fn save_state(&self) -> Result<StrategyState>;
    fn load_state(&mut self, state: &StrategyState) -> Result<()>;
}

/// Plain full fine-tuning.
pub struct Vanilla;

impl Strategy for Vanilla {
    fn method(&self) -> Method {
        Method::Vanilla
    }
    fn begin_step(&mut self, _step: usize, _params: &[Param]) -> Result<Vec<Event>> {
        Ok(Vec::new())
    }
    fn on_gradients(
        &mut self,
        _step: usize,
        _params: &[Param],
        _grads: &mut [Option<Tensor>],
        _masks: &mut StepMasks,
    ) -> Result<()> {
        Ok(())
    }
    fn save_state(&self) -> Result<StrategyState> {
        Ok(StrategyState {
            tensors: HashMap::new(),
            json: serde_json::json!({"method": "vanilla"}),
        })
    }
    fn load_state(&mut self, _state: &StrategyState) -> Result<()> {
        Ok(())
    }
}
