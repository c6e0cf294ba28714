//! AdamW with exactly `torch.optim.AdamW` semantics (decoupled weight decay, bias correction),
//! Hugging Face Trainer parameter groups (no decay on biases and LayerNorm), and optional
//! per-element masks: a gradient mask (the DPS subnetwork, ChildTuning) and an update mask
//! (the strict freeze). The moments are kept as tensors so they can be checkpointed.

use crate::core::StepMasks;
use crate::model::ops::fused::{adamw_update, AdamWStep};
use crate::model::params::Param;
use candle_core::{DType, Result, Tensor, Var};
use std::collections::HashMap;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdamWConfig {
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub weight_decay: f64,
}

impl Default for AdamWConfig {
    fn default() -> Self {
        AdamWConfig {
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.01,
        }
    }
}

/// The optimizer's state for one parameter.
pub struct Moments {
    pub m: Var,
    pub v: Var,
}

pub struct MaskedAdamW {
    pub config: AdamWConfig,
    /// Number of steps taken (the next step is `t + 1`).
    pub t: u64,
    moments: Vec<Moments>,
    decay: Vec<bool>,
}

impl MaskedAdamW {
    pub fn new(params: &[Param], config: AdamWConfig) -> Result<Self> {
        let moments = params
            .iter()
            .map(|p| {
                let t = p.var.as_tensor();
                Ok(Moments {
                    m: Var::zeros(t.shape(), DType::F32, t.device())?,
                    v: Var::zeros(t.shape(), DType::F32, t.device())?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(MaskedAdamW {
            config,
            t: 0,
            moments,
            decay: params.iter().map(|p| p.decay).collect(),
        })
    }

    /// One step at learning rate `lr`. `grads[i]` is the gradient of `params[i]` (a parameter
    /// with no gradient is skipped entirely, as torch does). `grad_scale` is the clipping
    /// coefficient.
    pub fn step(
        &mut self,
        params: &[Param],
        grads: &[Option<Tensor>],
        masks: &StepMasks,
        grad_scale: f32,
        lr: f64,
    ) -> Result<()> {
        self.t += 1;
        for (i, p) in params.iter().enumerate() {
            let Some(g) = &grads[i] else { continue };
            let h = AdamWStep {
                lr,
                beta1: self.config.beta1,
                beta2: self.config.beta2,
                eps: self.config.eps,
                weight_decay: if self.decay[i] {
                    self.config.weight_decay
                } else {
                    0.0
                },
                t: self.t,
                grad_scale,
            };
            let st = &self.moments[i];
            adamw_update(
                &p.var,
                &st.m,
                &st.v,
                g,
                masks.grad.get(i).and_then(|m| m.as_ref()),
                masks.update.get(i).and_then(|m| m.as_ref()),
                h,
            )?;
        }
        Ok(())
    }

    /// The state as named tensors (`<param>.exp_avg`, `<param>.exp_avg_sq`, `step`) for a
    /// checkpoint.
    pub fn state_tensors(&self, params: &[Param]) -> Result<HashMap<String, Tensor>> {
        let mut out = HashMap::new();
        for (p, st) in params.iter().zip(&self.moments) {
            out.insert(format!("{}.exp_avg", p.name), st.m.as_tensor().clone());
            out.insert(format!("{}.exp_avg_sq", p.name), st.v.as_tensor().clone());
        }
        out.insert(
            "step".into(),
            Tensor::new(&[self.t as i64], &candle_core::Device::Cpu)?,
        );
        Ok(out)
    }

    /// Restore what [`state_tensors`](Self::state_tensors) wrote.
    pub fn load_state(&mut self, params: &[Param], state: &HashMap<String, Tensor>) -> Result<()> {
        for (p, st) in params.iter().zip(&self.moments) {
            for (suffix, var) in [("exp_avg", &st.m), ("exp_avg_sq", &st.v)] {
                let key = format!("{}.{suffix}", p.name);
                let t = state.get(&key).ok_or_else(|| {
                    candle_core::Error::Msg(format!("optimizer state lacks `{key}`"))
                })?;
                var.set(&t.to_device(var.device())?.to_dtype(DType::F32)?)?;
            }
        }
        let step = state
            .get("step")
            .ok_or_else(|| candle_core::Error::Msg("optimizer state lacks `step`".into()))?;
        self.t = step.to_dtype(DType::I64)?.flatten_all()?.to_vec1::<i64>()?[0] as u64;
        Ok(())
    }
}
