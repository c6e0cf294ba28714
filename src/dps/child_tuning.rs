//! ChildTuning (Xu et al. 2021), the baselines DPS is judged against, as the original code
//! (`ChildTuning/` in alibaba/AliceMind) does them.
//!
//! - **ChildTuning-F** (task-free): every step, every gradient element is multiplied by
//!   `Bernoulli(keep) / keep`.
//! - **ChildTuning-D** (task-driven): before training, the Fisher information of every
//!   encoder-layer parameter (names containing `layer.`) over the training set, in train mode
//!   (dropout on), each tensor's gradient clipped to `max_grad_norm` before it is squared:
//!   `F = Σ_batches clip(g)² / N`. One global mask keeps the elements with
//!   `F >= percentile(F, 100·(1 − keep))` and is fixed for the whole run (`g ← g ⊙ M`, no
//!   rescaling).
//!
//! Both masks act inside the optimizer step, after the gradients were clipped with their
//! whole norm ([`StepMasks::grad_after_clip`]): `ChildTuningOptimizer.py`,
//! `ChildTuningAdamW.step`, lines 55-64, masks `p.grad` there, and the Hugging Face Trainer
//! calls `clip_grad_norm_` before `optimizer.step()`.

use super::selection::percentile_linear;
use super::strategy::{Strategy, StrategyState};
use crate::config::Method;
use crate::core::events::{Event, MatrixReport, StageKind};
use crate::core::StepMasks;
use crate::model::params::Param;
use crate::rng;
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
        masks.grad_after_clip = true;
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
    /// Each tensor's gradient is clipped to this L2 norm before it is squared (0: no clipping).
    max_grad_norm: f64,
    /// Indices of the parameters the mask covers (encoder layers).
    covered: Vec<usize>,
    fisher: Vec<Option<Tensor>>,
    masks: Vec<Option<Tensor>>,
}

impl ChildTuningD {
    pub fn new(keep: f64, max_grad_norm: f64, params: &[Param]) -> Result<Self> {
        let covered: Vec<usize> = params
            .iter()
            .enumerate()
            .filter(|(_, p)| p.name.contains("layer."))
            .map(|(i, _)| i)
            .collect();
        Ok(ChildTuningD {
            keep,
            max_grad_norm,
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
    fn add_fisher(
        &mut self,
        _params: &[Param],
        grads: &[Option<Tensor>],
        num_batches: usize,
    ) -> Result<()> {
        // `ChildTuningD.py`, `calculate_fisher`, lines 82-85: per tensor,
        // `clip_grad_norm_(params, max_grad_norm)` then `fisher += grad ** 2 / N`.
        let n = num_batches.max(1) as f64;
        for (j, &i) in self.covered.iter().enumerate() {
            let Some(g) = &grads[i] else { continue };
            // A weight's gradient from `backward` still records the ops that made it, and so
            // holds that batch's activations; summed over the pass un-detached, the Fisher
            // tensors would keep every batch's forward graph alive (tens of GB on 1,000
            // examples of MiniLM).
            let g = clip_tensor(&g.detach(), self.max_grad_norm)?;
            let sq = (g.sqr()? / n)?;
            self.fisher[j] = Some(match self.fisher[j].take() {
                None => sq,
                Some(f) => (f + sq)?,
            });
        }
        Ok(())
    }
    fn finish_fisher(&mut self, params: &[Param]) -> Result<Vec<Event>> {
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
        // Lines 91-101: `polar = np.percentile(r, (1 - reserve_p) * 100)`, mask `F >= polar`.
        let polar = percentile_linear(&parts, (1.0 - self.keep) * 100.0);
        let mut reports = Vec::new();
        for (j, &i) in self.covered.iter().enumerate() {
            let p = &params[i];
            let m: Vec<f32> = host[j]
                .iter()
                .map(|&f| if f as f64 >= polar { 1.0 } else { 0.0 })
                .collect();
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
        masks.grad_after_clip = true;
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

/// `torch.nn.utils.clip_grad_norm_` on one tensor: scale by `min(1, max_norm / (‖g‖ + 1e-6))`.
/// A `max_norm` of 0 leaves the gradient as it is.
fn clip_tensor(g: &Tensor, max_norm: f64) -> Result<Tensor> {
    if max_norm <= 0.0 {
        return Ok(g.clone());
    }
    let norm = g.sqr()?.sum_all()?.to_scalar::<f32>()?.sqrt() as f64;
    let coef = max_norm / (norm + 1e-6);
    if coef < 1.0 {
        g.affine(coef, 0.0)
    } else {
        Ok(g.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::bert::{BertForSequenceClassification, HeadKind};
    use crate::model::BertConfig;
    use crate::model::SequenceClassifier;
    use candle_core::{DType, Device};

    /// The elements of an accumulated tensor.
    fn values(t: &Option<Tensor>) -> Vec<f32> {
        t.as_ref()
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap()
    }

    fn tiny() -> BertForSequenceClassification {
        let head = HeadKind::Classification { num_labels: 2 };
        BertForSequenceClassification::random(BertConfig::tiny_demo(32), head, &Device::Cpu, 7)
            .unwrap()
    }

    #[test]
    fn fisher_clips_each_tensor_then_squares_and_averages_over_batches() {
        let model = tiny();
        let params = model.params();
        let mut ct = ChildTuningD::new(0.3, 1.0, params).unwrap();
        let (first, second) = (ct.covered[0], ct.covered[1]);
        let n_first = params[first].var.elem_count();
        let mut grads: Vec<Option<Tensor>> = vec![None; params.len()];
        // A gradient of norm 1000·√n, clipped to norm 1: every element 1/√n.
        grads[first] =
            Some(Tensor::full(1000f32, params[first].var.shape(), &Device::Cpu).unwrap());
        // A gradient of norm 0.5 is left as it is.
        let shape = params[second].var.shape().clone();
        let mut small = vec![0f32; shape.elem_count()];
        small[0] = 0.5;
        grads[second] = Some(Tensor::from_vec(small, shape, &Device::Cpu).unwrap());
        ct.add_fisher(params, &grads, 4).unwrap();
        ct.add_fisher(params, &grads, 4).unwrap();
        let f0 = values(&ct.fisher[0]);
        let want = 2.0 * (1.0 / n_first as f64) / 4.0;
        assert!(
            f0.iter().all(|&x| ((x as f64) - want).abs() < want * 1e-4),
            "{} vs {want}",
            f0[0]
        );
        let f1 = values(&ct.fisher[1]);
        assert!((f1[0] as f64 - 2.0 * 0.25 / 4.0).abs() < 1e-7, "{}", f1[0]);
        assert!(f1[1..].iter().all(|&x| x == 0.0));
    }

    #[test]
    fn the_fisher_sum_holds_no_graph_of_the_gradients_it_was_made_from() {
        let model = tiny();
        let params = model.params();
        let mut ct = ChildTuningD::new(0.3, 1.0, params).unwrap();
        let first = ct.covered[0];
        // A gradient that records the op that made it, as a weight's gradient from
        // `backward` does (it is a product with the layer's activations).
        let x =
            candle_core::Var::ones(params[first].var.shape(), DType::F32, &Device::Cpu).unwrap();
        let g = (x.as_tensor() * 3.0).unwrap();
        assert!(g.track_op());
        let mut grads: Vec<Option<Tensor>> = vec![None; params.len()];
        grads[first] = Some(g);
        ct.add_fisher(params, &grads, 2).unwrap();
        ct.add_fisher(params, &grads, 2).unwrap();
        let f = ct.fisher[0].as_ref().unwrap();
        assert!(
            !f.track_op(),
            "the Fisher sum keeps the batches' graphs alive"
        );
        let v = values(&ct.fisher[0]);
        let n = params[first].var.elem_count() as f64;
        // 3 everywhere, clipped to norm 1: 1/√n each, squared, over 2 batches, twice.
        let want = 1.0 / n;
        assert!(
            ((v[0] as f64) - want).abs() < want * 1e-4,
            "{} vs {want}",
            v[0]
        );
    }

    #[test]
    fn fisher_mask_keeps_the_elements_at_or_above_the_numpy_percentile() {
        let model = tiny();
        let params = model.params();
        let mut ct = ChildTuningD::new(0.3, 0.0, params).unwrap();
        let mut grads: Vec<Option<Tensor>> = vec![None; params.len()];
        let mut all = Vec::new();
        for (j, &i) in ct.covered.iter().enumerate() {
            let shape = params[i].var.shape().clone();
            let v: Vec<f32> = (0..shape.elem_count())
                .map(|k| ((k * 7919 + j * 104729) % 1000) as f32 / 1000.0)
                .collect();
            all.extend(v.iter().map(|x| x * x));
            grads[i] = Some(Tensor::from_vec(v, shape, &Device::Cpu).unwrap());
        }
        ct.add_fisher(params, &grads, 1).unwrap();
        ct.finish_fisher(params).unwrap();
        let kept: f32 = ct
            .masks()
            .iter()
            .map(|m| {
                m.as_ref()
                    .unwrap()
                    .sum_all()
                    .unwrap()
                    .to_scalar::<f32>()
                    .unwrap()
            })
            .sum();
        let polar = percentile_linear(&[&all], 70.0);
        let want = all.iter().filter(|&&x| x as f64 >= polar).count();
        assert_eq!(kept as usize, want);
        let share = want as f64 / all.len() as f64;
        assert!((share - 0.3).abs() < 0.01, "kept share {share}");
    }

    #[test]
    fn both_variants_mask_after_clipping() {
        let model = tiny();
        let params = model.params();
        let grads: Vec<Option<Tensor>> = params
            .iter()
            .map(|p| Some(Tensor::ones(p.var.shape(), DType::F32, &Device::Cpu).unwrap()))
            .collect();
        let mut f = ChildTuningF::new(0.3, 1);
        let mut masks = StepMasks::none(params.len());
        f.on_gradients(1, params, &mut grads.clone(), &mut masks)
            .unwrap();
        assert!(masks.grad_after_clip && masks.for_clip_norm(0).is_none());
        let mut d = ChildTuningD::new(0.3, 1.0, params).unwrap();
        d.add_fisher(params, &grads, 1).unwrap();
        d.finish_fisher(params).unwrap();
        let mut masks = StepMasks::none(params.len());
        d.on_gradients(1, params, &mut grads.clone(), &mut masks)
            .unwrap();
        assert!(masks.grad_after_clip);
        assert!(masks.grad[d.covered[0]].is_some());
        assert!(masks.for_clip_norm(d.covered[0]).is_none());
    }
}
