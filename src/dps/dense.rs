//! Dynamic Parameter Selection as the authors' code does it: stages, importance, selection,
//! masking. Both variants live here, because they share everything but the importance score
//! and the forward weights:
//! - **DPS-Dense**: importance = Σ g² / 1e3 over the full stage; the forward uses W.
//! - **DPS-Mix**: mixout toward a target T (see [`super::mix`]); importance = G / max(F, 1),
//!   times exp(−F/us) when us ≥ 50.
//!
//! Stage k (1-based) is a *full* stage when odd and a *subnetwork* stage when even. Stage
//! boundaries are kept incrementally, so a live change of the stage length applies from the
//! next stage on without renumbering the past.

use super::mix;
use super::report::{matrix_report, MatrixInput};
use super::selection::{global_threshold, mask_from_threshold, threshold};
use super::strategy::{LiveControl, Strategy, StrategyState};
use crate::config::{Control, Freeze, Method, SelectionScope, TrainConfig};
use crate::core::events::{ControlOutcome, Event, StageKind};
use crate::core::StepMasks;
use crate::model::ops::fused::accumulate_sq;
use crate::model::params::Param;
use crate::model::WeightOverrides;
use crate::rng;
use candle_core::{DType, Result, Tensor, Var};
use rand_chacha::ChaCha8Rng;
use std::collections::HashMap;
use std::time::Instant;

/// The authors divide squared gradients by 1e3 before accumulating.
pub const IMPORTANCE_DIVISOR: f32 = 1e3;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    Dense,
    Mix,
}

/// Per DPS matrix.
struct Matrix {
    /// Index into the parameter list.
    param: usize,
    /// Accumulated importance (Dense: Σ g²/1e3; Mix: G = Σ g²·Z/1e3).
    importance: Var,
    /// Mix only: F = Σ Z per input column, shape [1, cols].
    active: Option<Var>,
    /// The selected mask (1 = receives gradient) in a subnetwork stage.
    mask: Option<Tensor>,
    /// The previous selection, on the host, for the overlap in reports.
    prev_mask: Option<Vec<f32>>,
    /// W at the start of the current stage (for the update magnitude in reports).
    stage_start: Tensor,
    /// Mix only: the pre-trained W(0) and the current target T.
    pretrained: Option<Tensor>,
    target: Option<Tensor>,
}

pub struct Dps {
    variant: Variant,
    p: f64,
    pending_p: Option<f64>,
    update_ratio: f64,
    pending_ratio: Option<f64>,
    /// Live changes of the selection scope and the freeze mode, applied at the next selection.
    pending_scope: Option<SelectionScope>,
    pending_freeze: Option<Freeze>,
    /// The steps a stage length is a share of (the run's total, or one epoch's).
    stage_base_steps: usize,
    stage_len: usize,
    /// 1-based; 0 before the first step.
    stage_index: usize,
    stage_start: usize,
    current_step: usize,
    scope: SelectionScope,
    freeze: Freeze,
    num_heads: usize,
    matrices: Vec<Matrix>,
    /// Mix: per-step noise RNG.
    rng: ChaCha8Rng,
    /// Mix: effective weights for this step.
    overrides: WeightOverrides,
    /// Mix: this step's noise Z of each matrix.
    noise: Vec<Option<Tensor>>,
}

impl Dps {
    pub fn new(
        variant: Variant,
        config: &TrainConfig,
        params: &[Param],
        stage_base_steps: usize,
        num_heads: usize,
    ) -> Result<Self> {
        let matrices = params
            .iter()
            .enumerate()
            .filter(|(_, p)| p.dps)
            .map(|(i, p)| {
                let w = p.var.as_tensor();
                let (_, cols) = w.dims2()?;
                Ok(Matrix {
                    param: i,
                    importance: Var::zeros(w.shape(), DType::F32, w.device())?,
                    active: match variant {
                        Variant::Mix => Some(Var::zeros((1, cols), DType::F32, w.device())?),
                        Variant::Dense => None,
                    },
                    mask: None,
                    prev_mask: None,
                    stage_start: snapshot(w)?,
                    pretrained: match variant {
                        Variant::Mix => Some(snapshot(w)?),
                        Variant::Dense => None,
                    },
                    target: None,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let mut d = Dps {
            variant,
            p: config.p,
            pending_p: None,
            update_ratio: config.update_ratio,
            pending_ratio: None,
            pending_scope: None,
            pending_freeze: None,
            stage_base_steps,
            stage_len: config.update_steps(stage_base_steps),
            stage_index: 0,
            stage_start: 1,
            current_step: 0,
            scope: config.selection_scope,
            freeze: config.freeze,
            num_heads,
            matrices,
            rng: rng::seeded(config.seed, rng::STREAM_MIX),
            overrides: HashMap::new(),
            noise: Vec::new(),
        };
        d.noise = vec![None; d.matrices.len()];
        Ok(d)
    }

    fn kind(&self) -> StageKind {
        if self.stage_index % 2 == 1 {
            StageKind::Full
        } else {
            StageKind::Subnet
        }
    }

    /// The selection score of each matrix, on the host.
    fn scores(&self) -> Result<Vec<Vec<f32>>> {
        self.matrices
            .iter()
            .map(|m| match self.variant {
                Variant::Dense => m.importance.as_tensor().flatten_all()?.to_vec1::<f32>(),
                Variant::Mix => mix::selection_score(
                    m.importance.as_tensor(),
                    m.active.as_ref().expect("mix has counts").as_tensor(),
                    self.stage_len,
                )?
                .flatten_all()?
                .to_vec1::<f32>(),
            })
            .collect()
    }

    /// Select the subnetwork of every matrix; returns the selection event.
    fn select(&mut self, step: usize, params: &[Param]) -> Result<Event> {
        let t0 = Instant::now();
        let scores = self.scores()?;
        let thresholds: Vec<f32> = match self.scope {
            SelectionScope::PerMatrix => scores.iter().map(|s| threshold(s, self.p)).collect(),
            SelectionScope::Global => {
                let parts: Vec<&[f32]> = scores.iter().map(|s| s.as_slice()).collect();
                let t = global_threshold(&parts, self.p);
                vec![t; scores.len()]
            }
        };
        let sums: Vec<f64> = scores
            .iter()
            .map(|s| s.iter().map(|&x| x as f64).sum())
            .collect();
        let total: f64 = sums.iter().sum();
        let mut reports = Vec::with_capacity(self.matrices.len());
        for (i, m) in self.matrices.iter_mut().enumerate() {
            let p = &params[m.param];
            let w = p.var.as_tensor();
            let (rows, cols) = w.dims2()?;
            let mask_host = mask_from_threshold(&scores[i], thresholds[i]);
            let update_rel = {
                let num = (w - &m.stage_start)?
                    .abs()?
                    .mean_all()?
                    .to_scalar::<f32>()? as f64;
                let den = w.abs()?.mean_all()?.to_scalar::<f32>()? as f64;
                if den > 0.0 {
                    num / den
                } else {
                    0.0
                }
            };
            reports.push(matrix_report(&MatrixInput {
                name: &p.name,
                layer: p.layer(),
                module: p.module(),
                rows,
                cols,
                mask: &mask_host,
                prev_mask: m.prev_mask.as_deref(),
                importance_sum: sums[i],
                importance_total: total,
                update_rel,
                num_heads: Some(self.num_heads),
            }));
            m.mask = Some(Tensor::from_vec(
                mask_host.clone(),
                (rows, cols),
                w.device(),
            )?);
            m.prev_mask = Some(mask_host);
        }
        Ok(Event::Selection {
            stage: self.stage_index,
            step,
            p: self.p,
            matrices: reports,
            seconds: Some(t0.elapsed().as_secs_f64()),
        })
    }

    fn start_stage(&mut self, step: usize, params: &[Param]) -> Result<Vec<Event>> {
        let mut events = Vec::new();
        self.stage_index += 1;
        self.stage_start = step;
        if let Some(r) = self.pending_ratio.take() {
            self.update_ratio = r;
            self.stage_len = ((self.stage_base_steps as f64 * r).floor() as usize).max(1);
            events.push(Event::control(
                step,
                &Control::UpdateRatio(r),
                ControlOutcome::applied(Some(format!("stages are now {} steps", self.stage_len))),
            ));
        }
        let kind = self.kind();
        events.push(Event::Stage {
            stage: self.stage_index,
            kind,
            step,
            update_steps: self.stage_len,
        });
        match kind {
            StageKind::Full => {
                for m in &mut self.matrices {
                    m.mask = None;
                    m.importance.set(&m.importance.as_tensor().zeros_like()?)?;
                    if let Some(a) = &m.active {
                        a.set(&a.as_tensor().zeros_like()?)?;
                    }
                    // Mix: a full stage mixes toward the pre-trained weights.
                    m.target = m.pretrained.clone();
                }
            }
            StageKind::Subnet => {
                if let Some(p) = self.pending_p.take() {
                    self.p = p;
                    events.push(applied(step, Control::P(p)));
                }
                if let Some(scope) = self.pending_scope.take() {
                    self.scope = scope;
                    events.push(applied(step, Control::SelectionScope(scope)));
                }
                if let Some(freeze) = self.pending_freeze.take() {
                    self.freeze = freeze;
                    events.push(applied(step, Control::Freeze(freeze)));
                }
                events.push(self.select(step, params)?);
                if self.variant == Variant::Mix {
                    for m in &mut self.matrices {
                        m.target = Some(snapshot(params[m.param].var.as_tensor())?);
                    }
                }
            }
        }
        for m in &mut self.matrices {
            m.stage_start = snapshot(params[m.param].var.as_tensor())?;
        }
        Ok(events)
    }

    /// Mix: draw this step's noise and build the effective weights.
    fn build_overrides(&mut self, params: &[Param]) -> Result<()> {
        self.overrides.clear();
        let kind = self.kind();
        for (i, m) in self.matrices.iter().enumerate() {
            let p = &params[m.param];
            let w = p.var.as_tensor();
            let target = m.target.as_ref().expect("mix target set at stage start");
            let z = match kind {
                StageKind::Full => {
                    let (_, cols) = w.dims2()?;
                    mix::column_noise(&mut self.rng, cols, self.p, w.device())?
                }
                StageKind::Subnet => m.mask.clone().expect("mask selected"),
            };
            let eff = mix::effective_weight(w, target, &z, self.p)?;
            self.overrides.insert(p.name.clone(), eff);
            self.noise[i] = Some(z);
        }
        Ok(())
    }
}

/// A constant copy of a weight. `Tensor::copy` is differentiable, so a plain copy of a `Var`
/// would let gradient flow through the snapshot (for DPS-Mix's target T) back into the weight;
/// the snapshot must be a constant, as in the authors' code.
fn snapshot(w: &Tensor) -> Result<Tensor> {
    w.detach().copy()
}

/// The event of a control that takes effect now.
fn applied(step: usize, control: Control) -> Event {
    Event::control(step, &control, ControlOutcome::applied(None))
}

impl Strategy for Dps {
    fn method(&self) -> Method {
        match self.variant {
            Variant::Dense => Method::DpsDense,
            Variant::Mix => Method::DpsMix,
        }
    }

    fn begin_step(&mut self, step: usize, params: &[Param]) -> Result<Vec<Event>> {
        self.current_step = step;
        let events = if self.stage_index == 0 || step >= self.stage_start + self.stage_len {
            self.start_stage(step, params)?
        } else {
            Vec::new()
        };
        if self.variant == Variant::Mix {
            self.build_overrides(params)?;
        }
        Ok(events)
    }

    fn weight_overrides(&self) -> Option<&WeightOverrides> {
        match self.variant {
            Variant::Mix => Some(&self.overrides),
            Variant::Dense => None,
        }
    }

    fn on_gradients(
        &mut self,
        _step: usize,
        _params: &[Param],
        grads: &mut [Option<Tensor>],
        masks: &mut StepMasks,
    ) -> Result<()> {
        let kind = self.kind();
        for (i, m) in self.matrices.iter().enumerate() {
            let Some(g) = grads[m.param].as_mut() else {
                continue;
            };
            if self.variant == Variant::Mix {
                // Autograd gives Z·g/(1−p); the authors' op returns Z·g.
                *g = (&*g * (1.0 - self.p))?;
            }
            match kind {
                StageKind::Full => {
                    accumulate_sq(&m.importance, g, None, IMPORTANCE_DIVISOR)?;
                    if let Some(a) = &m.active {
                        let z = self.noise[i].as_ref().expect("noise drawn in begin_step");
                        a.set(&(a.as_tensor() + z)?)?;
                    }
                }
                StageKind::Subnet => {
                    let mask = m.mask.as_ref().expect("mask selected at stage start");
                    if self.variant == Variant::Dense {
                        masks.grad[m.param] = Some(mask.clone());
                    }
                    if self.freeze == Freeze::Strict {
                        masks.update[m.param] = Some(mask.clone());
                    }
                }
            }
        }
        Ok(())
    }

    fn control(&mut self, control: Control) -> ControlOutcome {
        match control {
            Control::P(p) => {
                self.pending_p = Some(p);
                ControlOutcome::pending("takes effect at the next selection")
            }
            Control::UpdateRatio(r) => {
                self.pending_ratio = Some(r);
                ControlOutcome::pending("takes effect at the next stage")
            }
            Control::SelectionScope(scope) => {
                self.pending_scope = Some(scope);
                ControlOutcome::pending("takes effect at the next selection")
            }
            Control::Freeze(freeze) => {
                self.pending_freeze = Some(freeze);
                ControlOutcome::pending("takes effect at the next selection")
            }
            Control::LearningRate(_) => {
                ControlOutcome::rejected("the trainer, not the strategy, sets the learning rate")
            }
        }
    }

    fn live_controls(&self) -> Vec<LiveControl> {
        let live = |applied, pending| LiveControl { applied, pending };
        vec![
            live(Control::P(self.p), self.pending_p.map(Control::P)),
            live(
                Control::UpdateRatio(self.update_ratio),
                self.pending_ratio.map(Control::UpdateRatio),
            ),
            live(
                Control::SelectionScope(self.scope),
                self.pending_scope.map(Control::SelectionScope),
            ),
            live(
                Control::Freeze(self.freeze),
                self.pending_freeze.map(Control::Freeze),
            ),
        ]
    }

    fn save_state(&self) -> Result<StrategyState> {
        let mut tensors = HashMap::new();
        for (i, m) in self.matrices.iter().enumerate() {
            tensors.insert(format!("{i}.importance"), m.importance.as_tensor().clone());
            tensors.insert(format!("{i}.stage_start"), m.stage_start.clone());
            if let Some(a) = &m.active {
                tensors.insert(format!("{i}.active"), a.as_tensor().clone());
            }
            if let Some(x) = &m.mask {
                tensors.insert(format!("{i}.mask"), x.clone());
            }
            if let Some(x) = &m.prev_mask {
                tensors.insert(
                    format!("{i}.prev_mask"),
                    Tensor::from_slice(x, x.len(), &candle_core::Device::Cpu)?,
                );
            }
            if let Some(x) = &m.pretrained {
                tensors.insert(format!("{i}.pretrained"), x.clone());
            }
            if let Some(x) = &m.target {
                tensors.insert(format!("{i}.target"), x.clone());
            }
        }
        Ok(StrategyState {
            tensors,
            json: serde_json::json!({
                "method": self.method().as_str(),
                "p": self.p,
                "pending_p": self.pending_p,
                "update_ratio": self.update_ratio,
                "pending_ratio": self.pending_ratio,
                "scope": self.scope,
                "freeze": self.freeze,
                "pending_scope": self.pending_scope,
                "pending_freeze": self.pending_freeze,
                "stage_len": self.stage_len,
                "stage_index": self.stage_index,
                "stage_start": self.stage_start,
                "current_step": self.current_step,
                "rng": rng::save(&self.rng),
            }),
        })
    }

    fn load_state(&mut self, state: &StrategyState) -> Result<()> {
        let j = &state.json;
        let f = |k: &str| j.get(k).and_then(|v| v.as_f64());
        let u = |k: &str| j.get(k).and_then(|v| v.as_u64()).map(|x| x as usize);
        let bad = |k: &str| candle_core::Error::Msg(format!("strategy state lacks `{k}`"));
        self.p = f("p").ok_or_else(|| bad("p"))?;
        self.pending_p = f("pending_p");
        self.update_ratio = f("update_ratio").ok_or_else(|| bad("update_ratio"))?;
        self.pending_ratio = f("pending_ratio");
        // Checkpoints written before the applied scope and freeze were saved keep the preset's.
        let read = |k: &str| j.get(k).cloned().filter(|v| !v.is_null());
        if let Some(v) = read("scope").and_then(|v| serde_json::from_value(v).ok()) {
            self.scope = v;
        }
        if let Some(v) = read("freeze").and_then(|v| serde_json::from_value(v).ok()) {
            self.freeze = v;
        }
        self.pending_scope = j
            .get("pending_scope")
            .and_then(|v| serde_json::from_value(v.clone()).ok());
        self.pending_freeze = j
            .get("pending_freeze")
            .and_then(|v| serde_json::from_value(v.clone()).ok());
        self.stage_len = u("stage_len").ok_or_else(|| bad("stage_len"))?;
        self.stage_index = u("stage_index").ok_or_else(|| bad("stage_index"))?;
        self.stage_start = u("stage_start").ok_or_else(|| bad("stage_start"))?;
        self.current_step = u("current_step").ok_or_else(|| bad("current_step"))?;
        if let Some(r) = j.get("rng").and_then(rng::load) {
            self.rng = r;
        }
        for (i, m) in self.matrices.iter_mut().enumerate() {
            let dev = m.importance.device().clone();
            let get =
                |k: &str| -> Option<Tensor> { state.tensors.get(&format!("{i}.{k}")).cloned() };
            let imp = get("importance").ok_or_else(|| bad("importance"))?;
            m.importance.set(&imp.to_device(&dev)?)?;
            m.stage_start = get("stage_start")
                .ok_or_else(|| bad("stage_start"))?
                .to_device(&dev)?;
            if let (Some(a), Some(t)) = (&m.active, get("active")) {
                a.set(&t.to_device(&dev)?)?;
            }
            m.mask = get("mask").map(|t| t.to_device(&dev)).transpose()?;
            m.prev_mask = get("prev_mask").map(|t| t.to_vec1::<f32>()).transpose()?;
            if let Some(t) = get("pretrained") {
                m.pretrained = Some(t.to_device(&dev)?);
            }
            m.target = get("target").map(|t| t.to_device(&dev)).transpose()?;
        }
        Ok(())
    }
}
