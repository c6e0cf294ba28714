//! `dps-tui parity`: the tiny-bert reference case (`shared/reference/tiny-bert`, from PyTorch)
//! run on any device, for a machine with no Rust toolchain (a GPU host): forward pass, loss,
//! the gradient of every parameter and one AdamW step, each as its largest absolute error.

use crate::core::StepMasks;
use crate::model::{
    BertConfig, BertForSequenceClassification, ForwardOutput, HeadKind, SequenceClassifier,
};
use crate::train::optimizer::{AdamWConfig, MaskedAdamW};
use crate::train::setup;
use anyhow::{anyhow, Context, Result};
use candle_core::{DType, Device, Tensor};
use std::collections::HashMap;
use std::path::Path;

/// Largest error accepted, on every quantity (PyTorch itself gives ≤ 1.2e-6 on the CPU).
pub const TOLERANCE: f32 = 1e-4;

/// The tensors of `<dir>/<name>` (a safetensors file), on the CPU.
pub fn read_safetensors(dir: &Path, name: &str) -> Result<HashMap<String, Tensor>> {
    let path = dir.join(name);
    candle_core::safetensors::load(&path, &Device::Cpu).with_context(|| {
        format!(
            "cannot read {}: pass the tiny-bert reference folder (shared/reference/tiny-bert)",
            path.display()
        )
    })
}

/// The reference model's weights: `model.safetensors` with `classifier.safetensors`.
pub fn reference_tensors(reference: &Path) -> Result<HashMap<String, Tensor>> {
    let mut tensors = read_safetensors(reference, "model.safetensors")?;
    tensors.extend(read_safetensors(reference, "classifier.safetensors")?);
    Ok(tensors)
}

/// The largest absolute element-wise difference, compared in f32 on the CPU.
pub fn max_abs_diff(a: &Tensor, b: &Tensor) -> Result<f32> {
    let a = a.to_device(&Device::Cpu)?.to_dtype(DType::F32)?;
    let b = b.to_device(&Device::Cpu)?.to_dtype(DType::F32)?;
    Ok((a - b)?.abs()?.flatten_all()?.max(0)?.to_scalar::<f32>()?)
}

/// How far the parameters after one AdamW step are from the reference's.
#[derive(Debug, Clone, PartialEq)]
pub struct StepErrors {
    /// The largest error where the reference gradient is not rounding noise, and its parameter.
    pub worst: (f32, String),
    /// Where the reference gradient is rounding noise (0 < |g| < 1e-6), Adam's first step is
    /// ±lr either way: the largest error there, and how many such elements there are.
    pub worst_noise: f32,
    pub noisy: usize,
}

/// The tiny-bert case: the model built from the reference weights on a device, and the case's
/// inputs and expected values (`case.safetensors`, on the CPU).
pub struct TinyBert {
    pub model: BertForSequenceClassification,
    /// Head parameters the reference weights lacked (none for the reference folder).
    pub initialised: Vec<String>,
    pub case: HashMap<String, Tensor>,
    device: Device,
}

impl TinyBert {
    pub fn load(reference: &Path, device: &Device) -> Result<TinyBert> {
        TinyBert::with_tensors(reference, reference_tensors(reference)?, device)
    }

    /// The case with the model built from `tensors` instead of the reference weights (renamed
    /// or altered copies of them).
    pub fn with_tensors(
        reference: &Path,
        tensors: HashMap<String, Tensor>,
        device: &Device,
    ) -> Result<TinyBert> {
        let cfg = BertConfig::from_file(&reference.join("config.json"))?;
        let (model, initialised) = BertForSequenceClassification::from_tensors(
            cfg,
            HeadKind::Classification { num_labels: 3 },
            tensors,
            device,
            0,
        )?;
        Ok(TinyBert {
            model,
            initialised,
            case: read_safetensors(reference, "case.safetensors")?,
            device: device.clone(),
        })
    }

    /// A tensor of the case.
    pub fn get(&self, name: &str) -> Result<&Tensor> {
        self.case
            .get(name)
            .ok_or_else(|| anyhow!("case.safetensors has no `{name}`"))
    }

    /// A tensor of the case as u32 on the model's device (token ids, masks, labels).
    pub fn input(&self, name: &str) -> Result<Tensor> {
        Ok(self
            .get(name)?
            .to_dtype(DType::U32)?
            .to_device(&self.device)?)
    }

    /// The model on the case's batch, in evaluation mode.
    pub fn forward(&self) -> Result<ForwardOutput> {
        Ok(self.model.forward(
            &self.input("input_ids")?,
            &self.input("token_type_ids")?,
            &self.input("attention_mask")?,
            None,
            None,
        )?)
    }

    /// The loss of `out` on the case's labels and the gradient of every parameter (in
    /// parameter order; `None` where a parameter has none).
    pub fn loss_and_grads(&self, out: &ForwardOutput) -> Result<(Tensor, Vec<Option<Tensor>>)> {
        let loss = self.model.loss(&out.logits, &self.input("labels")?)?;
        let grads = loss.backward()?;
        let gs = self
            .model
            .params()
            .iter()
            .map(|p| grads.get(p.var.as_tensor()).cloned())
            .collect();
        Ok((loss, gs))
    }

    /// One step of the reference's AdamW (lr 1e-3, betas (0.9, 0.999), eps 1e-8, weight decay
    /// 0.01) with gradients `gs`.
    pub fn adamw_step(&self, gs: &[Option<Tensor>]) -> Result<()> {
        let params = self.model.params();
        let mut opt = MaskedAdamW::new(
            params,
            AdamWConfig {
                beta1: 0.9,
                beta2: 0.999,
                eps: 1e-8,
                weight_decay: 0.01,
            },
        )?;
        opt.step(params, gs, &StepMasks::none(params.len()), 1.0, 1e-3)?;
        Ok(())
    }

    /// The parameters now against the case's `after_step.*`.
    pub fn step_errors(&self) -> Result<StepErrors> {
        let mut e = StepErrors {
            worst: (0.0, String::new()),
            worst_noise: 0.0,
            noisy: 0,
        };
        for p in self.model.params() {
            let got = p.var.as_tensor().flatten_all()?.to_device(&Device::Cpu)?;
            let got = got.to_vec1::<f32>()?;
            let want = self.get(&format!("after_step.{}", p.name))?;
            let want = want.flatten_all()?.to_vec1::<f32>()?;
            let g = self.get(&format!("grad.{}", p.name))?;
            let g = g.flatten_all()?.to_vec1::<f32>()?;
            for k in 0..got.len() {
                let d = (got[k] - want[k]).abs();
                if g[k].abs() < 1e-6 && g[k] != 0.0 {
                    e.noisy += 1;
                    e.worst_noise = e.worst_noise.max(d);
                } else if d > e.worst.0 {
                    e.worst = (d, p.name.clone());
                }
            }
        }
        Ok(e)
    }
}

/// Runs the case on `device` and returns its report as one JSON object (`pass`: whether every
/// error is within [`TOLERANCE`]; [`check`] turns a failed one into an error).
pub fn run(reference: &Path, device: &str) -> Result<serde_json::Value> {
    let dev = setup::select_device(device)?;
    let t = TinyBert::load(reference, &dev)?;
    let out = t.forward()?;
    let mut hidden = 0f32;
    for (i, h) in out.hidden_states.iter().enumerate() {
        hidden = hidden.max(max_abs_diff(h, t.get(&format!("hidden_states.{i}"))?)?);
    }
    let logits = max_abs_diff(&out.logits, t.get("logits")?)?;
    let (loss_t, gs) = t.loss_and_grads(&out)?;
    let loss = max_abs_diff(&loss_t.reshape(1)?, t.get("loss")?)?;
    let mut grad = (0f32, String::new());
    for (p, g) in t.model.params().iter().zip(&gs) {
        let g = g
            .as_ref()
            .ok_or_else(|| anyhow!("no gradient for {}", p.name))?;
        let e = max_abs_diff(g, t.get(&format!("grad.{}", p.name))?)?;
        if e >= grad.0 {
            grad = (e, p.name.clone());
        }
    }
    t.adamw_step(&gs)?;
    // Elements whose reference gradient is rounding noise are left out (see StepErrors).
    let adamw = t.step_errors()?.worst.0;
    let worst = [hidden, logits, loss, grad.0, adamw]
        .into_iter()
        .fold(0f32, f32::max);
    let pass = worst <= TOLERANCE;
    let report = serde_json::json!({
        "parity": "tiny-bert",
        "device": crate::model::device::DeviceInfo::of(&dev),
        "max_abs_error": {
            "hidden_states": hidden, "logits": logits, "loss": loss,
            "gradients": grad.0, "worst_gradient": grad.1, "adamw_step": adamw,
        },
        "tolerance": TOLERANCE,
        "pass": pass,
    });
    Ok(report)
}

/// An error for a report of [`run`] that did not pass.
pub fn check(report: &serde_json::Value, device: &str) -> Result<()> {
    if report["pass"].as_bool() == Some(true) {
        return Ok(());
    }
    let worst = report["max_abs_error"]
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(_, v)| v.as_f64())
        .fold(0f64, f64::max);
    Err(anyhow!(
        "parity on {device}: largest error {worst:e} exceeds {TOLERANCE:e}"
    ))
}
