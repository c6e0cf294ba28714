//! Per-parameter masks of one optimizer step: what a strategy hands the optimizer.

use candle_core::Tensor;

/// Per-parameter masks for one optimizer step, aligned with the parameter list.
#[derive(Default)]
pub struct StepMasks {
    /// Multiplies the gradient (1 = kept, 0 = frozen; other values scale, as ChildTuning-F's
    /// 1/keep) before the update, and before or after clipping as [`grad_after_clip`] says.
    ///
    /// [`grad_after_clip`]: Self::grad_after_clip
    pub grad: Vec<Option<Tensor>>,
    /// Elements where this is 0 do not change at all (no decay, no moment update).
    pub update: Vec<Option<Tensor>>,
    /// `false` (DPS, as the authors' code masks the gradients before the Trainer clips them):
    /// the clipping norm is taken over the masked gradients. `true` (ChildTuning, whose
    /// optimizer masks inside `step`, after the Trainer clipped): the norm is taken over the
    /// whole gradients and the mask applies to the clipped ones.
    pub grad_after_clip: bool,
}

impl StepMasks {
    pub fn none(n: usize) -> Self {
        StepMasks {
            grad: vec![None; n],
            update: vec![None; n],
            grad_after_clip: false,
        }
    }

    /// The gradient mask of parameter `i` as the clipping norm must see it.
    pub fn for_clip_norm(&self, i: usize) -> Option<&Tensor> {
        if self.grad_after_clip {
            None
        } else {
            self.grad.get(i).and_then(|m| m.as_ref())
        }
    }
}
