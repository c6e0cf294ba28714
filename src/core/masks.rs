//! Per-parameter masks of one optimizer step: what a strategy hands the optimizer.

use candle_core::Tensor;

/// Per-parameter masks for one optimizer step, aligned with the parameter list.
#[derive(Default)]
pub struct StepMasks {
    /// Multiplies the gradient before clipping and the update (1 = kept, 0 = frozen; other
    /// values scale, as ChildTuning-F's 1/keep).
    pub grad: Vec<Option<Tensor>>,
    /// Elements where this is 0 do not change at all (no decay, no moment update).
    pub update: Vec<Option<Tensor>>,
}

impl StepMasks {
    pub fn none(n: usize) -> Self {
        StepMasks {
            grad: vec![None; n],
            update: vec![None; n],
        }
    }
}
