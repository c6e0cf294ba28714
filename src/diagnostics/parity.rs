//! `dps-tui parity`: the tiny-bert reference case (`shared/reference/tiny-bert`, from PyTorch)
//! run on any device, for a machine with no Rust toolchain (a GPU host): forward pass, loss,
//! the gradient of every parameter and one AdamW step, each as its largest absolute error.

use crate::core::StepMasks;
use crate::model::{BertConfig, BertForSequenceClassification, HeadKind, SequenceClassifier};
use crate::train::optimizer::{AdamWConfig, MaskedAdamW};
use crate::train::setup;
use anyhow::{anyhow, Context, Result};
use candle_core::{DType, Device, Tensor};
use std::collections::HashMap;
use std::path::Path;

/// Largest error accepted, on every quantity (PyTorch itself gives ≤ 1.2e-6 on the CPU).
pub const TOLERANCE: f32 = 1e-4;

fn load(dir: &Path, name: &str) -> Result<HashMap<String, Tensor>> {
    let path = dir.join(name);
    candle_core::safetensors::load(&path, &Device::Cpu).with_context(|| {
        format!(
            "cannot read {}: pass the tiny-bert reference folder (shared/reference/tiny-bert)",
            path.display()
        )
    })
}

fn get<'a>(case: &'a HashMap<String, Tensor>, name: &str) -> Result<&'a Tensor> {
    case.get(name)
        .ok_or_else(|| anyhow!("case.safetensors has no `{name}`"))
}

fn max_abs_diff(a: &Tensor, b: &Tensor) -> Result<f32> {
    let a = a.to_device(&Device::Cpu)?.to_dtype(DType::F32)?;
    let b = b.to_dtype(DType::F32)?;
    Ok((a - b)?.abs()?.flatten_all()?.max(0)?.to_scalar::<f32>()?)
}

/// Runs the case on `device`; prints and returns one JSON object. Fails when an error exceeds
/// [`TOLERANCE`].
pub fn run(reference: &Path, device: &str) -> Result<serde_json::Value> {
    let dev = setup::select_device(device)?;
    let cfg = BertConfig::from_file(&reference.join("config.json"))?;
    let mut tensors = load(reference, "model.safetensors")?;
    tensors.extend(load(reference, "classifier.safetensors")?);
    let (model, _) = BertForSequenceClassification::from_tensors(
        cfg,
        HeadKind::Classification { num_labels: 3 },
        tensors,
        &dev,
        0,
    )?;
    let case = load(reference, "case.safetensors")?;
    let input =
        |n: &str| -> Result<Tensor> { Ok(get(&case, n)?.to_dtype(DType::U32)?.to_device(&dev)?) };
    let out = model.forward(
        &input("input_ids")?,
        &input("token_type_ids")?,
        &input("attention_mask")?,
        None,
        None,
    )?;
    let mut hidden = 0f32;
    for (i, h) in out.hidden_states.iter().enumerate() {
        hidden = hidden.max(max_abs_diff(h, get(&case, &format!("hidden_states.{i}"))?)?);
    }
    let logits = max_abs_diff(&out.logits, get(&case, "logits")?)?;
    let loss_t = model.loss(&out.logits, &input("labels")?)?;
    let loss = max_abs_diff(&loss_t.reshape(1)?, get(&case, "loss")?)?;
    let grads = loss_t.backward()?;
    let params = model.params();
    let mut grad = (0f32, String::new());
    let gs: Vec<Option<Tensor>> = params
        .iter()
        .map(|p| grads.get(p.var.as_tensor()).cloned())
        .collect();
    for (p, g) in params.iter().zip(&gs) {
        let g = g
            .as_ref()
            .ok_or_else(|| anyhow!("no gradient for {}", p.name))?;
        let e = max_abs_diff(g, get(&case, &format!("grad.{}", p.name))?)?;
        if e >= grad.0 {
            grad = (e, p.name.clone());
        }
    }
    let mut opt = MaskedAdamW::new(
        params,
        AdamWConfig {
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.01,
        },
    )?;
    opt.step(params, &gs, &StepMasks::none(params.len()), 1.0, 1e-3)?;
    // Where the reference gradient is rounding noise (|g| < 1e-6), Adam's first step is
    // ±lr either way: those elements are left out (as in the CPU parity test).
    let mut adamw = 0f32;
    for p in params {
        let got = p.var.as_tensor().flatten_all()?.to_device(&Device::Cpu)?;
        let got = got.to_vec1::<f32>()?;
        let want = get(&case, &format!("after_step.{}", p.name))?
            .flatten_all()?
            .to_vec1::<f32>()?;
        let g = get(&case, &format!("grad.{}", p.name))?
            .flatten_all()?
            .to_vec1::<f32>()?;
        for k in 0..got.len() {
            if !(g[k].abs() < 1e-6 && g[k] != 0.0) {
                adamw = adamw.max((got[k] - want[k]).abs());
            }
        }
    }
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
    println!("{report}");
    if !pass {
        return Err(anyhow!(
            "parity on {device}: largest error {worst:e} exceeds {TOLERANCE:e}"
        ));
    }
    Ok(report)
}
