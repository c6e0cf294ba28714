//! ChildTuning (Xu et al. 2021), the baselines DPS is judged against.
//!
//! - **ChildTuning-F** (task-free): every step, every gradient element is multiplied by
//!   `Bernoulli(keep) / keep`.
//! - **ChildTuning-D** (task-driven): before training, the empirical Fisher information
//!   `F = Σ_batches g²` of every encoder-layer parameter (names containing `layer.`) is computed
//!   over the training set; one *global* top-k mask keeps the `keep` share with the largest F
//!   and is fixed for the whole run (`g ← g ⊙ M`, no rescaling).

use super::selection::{global_threshold, mask_from_threshold};
use super::strategy::{Strategy, StrategyState};
use crate::config::Method;
use crate::core::events::{Event, MatrixReport, StageKind};
use crate::core::rng;
use crate::core::StepMasks;
use crate::model::params::Param;
use candle_core::{Result, Tensor};
use rand::Rng;
use rayon::prelude::*;
use std::collections::HashMap;

pub struct ChildTuningF {
    keep: f64,
    seed: u64,
}

impl ChildTuningF {
    pub fn new(keep: f64, seed: u64) -> Self {
        ChildTuningF { keep, seed }
    }

    /// The mask of parameter `index` at `step`: a pure function of (seed, step, index), so a
    /// resumed run draws the same masks.
    pub fn mask(&self, step: usize, index: usize, n: usize) -> Vec<f32> {
        const CHUNK: usize = 1 << 16;
        let scale = (1.0 / self.keep) as f32;
        let mut out = vec![0f32; n];
        out.par_chunks_mut(CHUNK)
            .enumerate()
            .for_each(|(c, chunk)| {
                let stream = ((step as u64) << 32) ^ ((index as u64) << 16) ^ c as u64;
                let mut r = rng::seeded(self.seed ^ rng::STREAM_CHILD_TUNING, stream);
                for x in chunk {
                    *x = if r.random::<f64>() < self.keep {
                        scale
                    } else {
                        0.0
                    };
                }
            });
        out
    }
}

impl Strategy for ChildTuningF {
    fn method(&self) -> Method {
        Method::ChildTuningF
    }
    fn begin_step(&mut self, _step: usize, _params: &[Param]) -> Result<Vec<Event>> {
        Ok(Vec::new())
    }
    fn on_gradients(
        &mut self,
        step: usize,
        params: &[Param],
        grads: &mut [Option<Tensor>],
        masks: &mut StepMasks,
    ) -> Result<()> {
        for (i, p) in params.iter().enumerate() {
            let Some(g) = &grads[i] else { continue };
            let m = self.mask(step, i, g.elem_count());
            masks.grad[i] = Some(Tensor::from_vec(m, g.shape(), p.var.device())?);
        }
        Ok(())
    }
    fn save_state(&self) -> Result<StrategyState> {
        Ok(StrategyState {
            tensors: HashMap::new(),
            json: serde_json::json!({"method": "child-tuning-f", "keep": self.keep}),
        })
    }
    fn load_state(&mut self, _state: &StrategyState) -> Result<()> {
        Ok(())
    }
}

pub struct ChildTuningD {
    keep: f64,
    /// Indices of the parameters the mask covers (encoder layers).
    covered: Vec<usize>,
    fisher: Vec<Option<Tensor>>,
    masks: Vec<Option<Tensor>>,
}

impl ChildTuningD {
    pub fn new(keep: f64, params: &[Param]) -> Result<Self> {
        let covered: Vec<usize> = params
            .iter()
            .enumerate()
            .filter(|(_, p)| p.name.contains("layer."))
            .map(|(i, _)| i)
            .collect();
        Ok(ChildTuningD {
            keep,
            fisher: vec![None; covered.len()],
            masks: vec![None; covered.len()],
            covered,
        })
    }

    /// The fixed mask of each covered parameter, once computed.
    pub fn masks(&self) -> &[Option<Tensor>] {
        &self.masks
    }
}

impl Strategy for ChildTuningD {
    fn method(&self) -> Method {
        Method::ChildTuningD
    }
    fn needs_fisher(&self) -> bool {
        self.masks.iter().all(|m| m.is_none())
    }
    fn add_fisher(&mut self, _params: &[Param], grads: &[Option<Tensor>]) -> Result<()> {
        for (j, &i) in self.covered.iter().enumerate() {
            let Some(g) = &grads[i] else { continue };
            let sq = g.sqr()?;
            self.fisher[j] = Some(match self.fisher[j].take() {
                None => sq,
                Some(f) => (f + sq)?,
            });
        }
        Ok(())
    }
    fn finish_fisher(&mut self, params: &[Param], _batches: usize) -> Result<Vec<Event>> {
        let host: Vec<Vec<f32>> = self
            .covered
            .iter()
            .zip(&self.fisher)
            .map(|(&i, f)| match f {
                Some(f) => f.flatten_all()?.to_vec1::<f32>(),
                None => Ok(vec![0f32; params[i].var.elem_count()]),
            })
            .collect::<Result<_>>()?;
        let parts: Vec<&[f32]> = host.iter().map(|v| v.as_slice()).collect();
        let thr = global_threshold(&parts, 1.0 - self.keep);
        let mut reports = Vec::new();
        for (j, &i) in self.covered.iter().enumerate() {
            let p = &params[i];
            let m = mask_from_threshold(&host[j], thr);
            let frac = m.iter().sum::<f32>() as f64 / m.len().max(1) as f64;
            if p.dps {
                reports.push(MatrixReport {
                    name: p.name.clone(),
                    layer: p.layer(),
                    module: p.module().to_string(),
                    shape: p.var.dims().to_vec(),
                    selected_fraction: frac,
                    importance_share: 0.0,
                    overlap_prev: None,
                    update_rel: 0.0,
                    row_density: Vec::new(),
                    head_density: Vec::new(),
                    density: Vec::new(),
                    density_shape: Vec::new(),
                });
            }
            self.masks[j] = Some(Tensor::from_vec(m, p.var.shape(), p.var.device())?);
        }
        self.fisher = vec![None; self.covered.len()];
        Ok(vec![
            Event::Stage {
                stage: 1,
                kind: StageKind::Subnet,
                step: 0,
                update_steps: 0,
            },
            Event::Selection {
                stage: 1,
                step: 0,
                p: 1.0 - self.keep,
                matrices: reports,
                seconds: None,
            },
        ])
    }
    fn begin_step(&mut self, _step: usize, _params: &[Param]) -> Result<Vec<Event>> {
        Ok(Vec::new())
    }
    fn on_gradients(
        &mut self,
        _step: usize,
        _params: &[Param],
        _grads: &mut [Option<Tensor>],
        masks: &mut StepMasks,
    ) -> Result<()> {
        for (j, &i) in self.covered.iter().enumerate() {
            masks.grad[i] = self.masks[j].clone();
        }
        Ok(())
    }
    fn save_state(&self) -> Result<StrategyState> {
        let tensors = self
            .masks
            .iter()
            .enumerate()
            .filter_map(|(j, m)| m.as_ref().map(|m| (format!("{j}.mask"), m.clone())))
            .collect();
        Ok(StrategyState {
            tensors,
            json: serde_json::json!({"method": "child-tuning-d", "keep": self.keep}),
        })
    }
    fn load_state(&mut self, state: &StrategyState) -> Result<()> {
        for (j, m) in self.masks.iter_mut().enumerate() {
            *m = state.tensors.get(&format!("{j}.mask")).cloned();
        }
        Ok(())
    }
}
