//! Parity of ModernBERT with `transformers.ModernBertForSequenceClassification` on the
//! reference fixtures `tests/fixtures/families/modernbert*` (made by
//! `scripts/fixtures/family-fixtures.py`): every hidden state, the logits, the loss, every gradient and
//! one AdamW step, within 1e-5.
//!
//! - `modernbert`: cls pooling, no biases, layer 0 global and layers 1-2 local (window ±4);
//! - `modernbert-mean`: the same with mean pooling;
//! - `modernbert-bias`: every optional bias, tanh GELU and SiLU, layers 0 and 2 global around a
//!   local one (window ±3), other RoPE bases.
//!
//! The batch has sequences of 24, 17 and 6 tokens, longer than the local window.

mod common;
use common::max_abs_diff;

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use dps_tui::core::StepMasks;
use dps_tui::model::classifier::{HeadKind, SequenceClassifier};
use dps_tui::model::family::Family;
use dps_tui::model::inputs::ModelInput;
use dps_tui::model::modernbert::ModernBertForSequenceClassification;
use dps_tui::model::ops;
use dps_tui::train::optimizer::{AdamWConfig, MaskedAdamW};
use serde_json::{Map, Value};

const TOL: f32 = 1e-5;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/families")
        .join(name)
}

fn read_json(path: &Path) -> Map<String, Value> {
    let text = std::fs::read_to_string(path).unwrap();
    match serde_json::from_str(&text).unwrap() {
        Value::Object(m) => m,
        other => panic!("{}: not an object: {other}", path.display()),
    }
}

fn load(path: &Path) -> HashMap<String, Tensor> {
    candle_core::safetensors::load(path, &Device::Cpu).unwrap()
}

fn u32s(t: &Tensor) -> Tensor {
    t.to_dtype(DType::U32).unwrap()
}

struct Fixture {
    config: Map<String, Value>,
    case: HashMap<String, Tensor>,
    meta: Map<String, Value>,
    model: ModernBertForSequenceClassification,
}

fn head(config: &Map<String, Value>) -> HeadKind {
    let n = config["id2label"].as_object().unwrap().len();
    HeadKind::Classification { num_labels: n }
}

fn open(name: &str) -> Fixture {
    let dir = fixture(name);
    let config = read_json(&dir.join("config.json"));
    let (model, initialised) = ModernBertForSequenceClassification::from_config_and_tensors(
        config.clone(),
        head(&config),
        load(&dir.join("model.safetensors")),
        &Device::Cpu,
        0,
    )
    .unwrap();
    assert!(initialised.is_empty(), "{initialised:?}");
    Fixture {
        config,
        case: load(&dir.join("case.safetensors")),
        meta: read_json(&dir.join("case.json")),
        model,
    }
}

fn forward(
    model: &ModernBertForSequenceClassification,
    case: &HashMap<String, Tensor>,
) -> dps_tui::model::classifier::ForwardOutput {
    let (ids, tt, mask) = (
        u32s(&case["input_ids"]),
        u32s(&case["token_type_ids"]),
        u32s(&case["attention_mask"]),
    );
    let input = ModelInput::Padded {
        input_ids: &ids,
        token_type_ids: &tt,
        attention_mask: &mask,
    };
    model.forward_input(&input, None, None).unwrap()
}

/// Hidden states, logits, loss, gradients and (with `step`) one AdamW step from our gradients
/// against the fixture; returns the largest differences `[hidden, logits, loss, grad, step]`.
fn parity(name: &str, check_step: bool) -> [f32; 5] {
    let f = open(name);
    let model = &f.model;
    let case = &f.case;

    // The parameters are transformers' (without the base prefix).
    let ours: BTreeSet<String> = model
        .params()
        .iter()
        .map(|p| Family::ModernBert.checkpoint_key(&p.name))
        .collect();
    let theirs: BTreeSet<String> = f.meta["params"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    assert_eq!(ours, theirs, "{name}: parameter names");

    let out = forward(model, case);
    let n_hidden = f.meta["num_hidden_states"].as_u64().unwrap() as usize;
    assert_eq!(out.hidden_states.len(), n_hidden, "{name}: hidden states");
    let mut hidden = 0f32;
    for (i, h) in out.hidden_states.iter().enumerate() {
        let d = max_abs_diff(h, &case[&format!("hidden.{i}")]);
        assert!(d < TOL, "{name}: hidden.{i} differs by {d}");
        hidden = hidden.max(d);
    }
    let logits = max_abs_diff(&out.logits, &case["logits"]);
    assert!(logits < TOL, "{name}: logits differ by {logits}");

    let labels = u32s(&case["labels"]);
    let loss_t = model.loss(&out.logits, &labels).unwrap();
    let loss = max_abs_diff(&loss_t.reshape(1).unwrap(), &case["loss"]);
    assert!(loss < TOL, "{name}: loss differs by {loss}");

    let grads = loss_t.backward().unwrap();
    let params = model.params();
    let mut grad = 0f32;
    let mut gs = Vec::with_capacity(params.len());
    for p in params {
        let key = Family::ModernBert.checkpoint_key(&p.name);
        let g = grads
            .get(p.var.as_tensor())
            .unwrap_or_else(|| panic!("{name}: no gradient for {}", p.name))
            .clone();
        let d = max_abs_diff(&g, &case[&format!("grad.{key}")]);
        assert!(d < TOL, "{name}: gradient of {key} differs by {d}");
        grad = grad.max(d);
        gs.push(Some(g));
    }

    if !check_step {
        eprintln!(
            "{name}: max |diff| hidden {hidden:.2e}, logits {logits:.2e}, loss {loss:.2e}, \
             grad {grad:.2e}"
        );
        return [hidden, logits, loss, grad, 0.0];
    }
    let lr = f.meta["lr"].as_f64().unwrap();
    let weight_decay = f.meta["weight_decay"].as_f64().unwrap();
    let mut opt = MaskedAdamW::new(
        params,
        AdamWConfig {
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay,
        },
    )
    .unwrap();
    opt.step(params, &gs, &StepMasks::none(params.len()), 1.0, lr)
        .unwrap();
    let (mut step, mut worst) = (0f32, String::new());
    for p in params {
        let key = Family::ModernBert.checkpoint_key(&p.name);
        let d = max_abs_diff(p.var.as_tensor(), &case[&format!("step.{key}")]);
        assert!(
            d < TOL,
            "{name}: {key} after one AdamW step differs by {d} (decay {})",
            p.decay
        );
        if d > step {
            (step, worst) = (d, key);
        }
    }
    eprintln!(
        "{name}: max |diff| hidden {hidden:.2e}, logits {logits:.2e}, loss {loss:.2e}, \
         grad {grad:.2e}, step {step:.2e} ({worst})"
    );
    [hidden, logits, loss, grad, step]
}

#[test]
fn composite_ops_match_transformers() {
    for name in ["modernbert", "modernbert-mean", "modernbert-bias"] {
        ops::with_composite_ops(|| parity(name, false));
    }
}

/// The weight-decay flags `Param::new` derives from the names are the Trainer's (no decay on
/// biases and norms).
#[test]
fn legacy_config_keys_give_the_same_logits() {
    let f = open("modernbert-bias");
    let mut cfg = f.config.clone();
    cfg.remove("rope_parameters");
    cfg.remove("layer_types");
    cfg.insert("global_rope_theta".into(), 1000.0.into());
    cfg.insert("local_rope_theta".into(), 500.0.into());
    assert_eq!(cfg["global_attn_every_n_layers"], 2);
    let (m, _) = ModernBertForSequenceClassification::from_config_and_tensors(
        cfg.clone(),
        head(&cfg),
        load(&fixture("modernbert-bias").join("model.safetensors")),
        &Device::Cpu,
        0,
    )
    .unwrap();
    let d = max_abs_diff(&forward(&m, &f.case).logits, &f.case["logits"]);
    assert!(d < TOL, "logits differ by {d}");
    // A different base changes the model, so the keys are read.
    cfg.insert("local_rope_theta".into(), 10_000.0.into());
    let (m, _) = ModernBertForSequenceClassification::from_config_and_tensors(
        cfg.clone(),
        head(&cfg),
        load(&fixture("modernbert-bias").join("model.safetensors")),
        &Device::Cpu,
        0,
    )
    .unwrap();
    let d = max_abs_diff(&forward(&m, &f.case).logits, &f.case["logits"]);
    assert!(d > 1e-4, "local_rope_theta had no effect ({d})");
}

/// Each sequence alone (no padding) gives what it gives inside the padded batch: the real
/// tokens' hidden states and the logits do not depend on the padding pattern.
#[test]
fn padding_does_not_change_real_tokens() {
    for name in ["modernbert", "modernbert-mean", "modernbert-bias"] {
        let f = open(name);
        let batch = forward(&f.model, &f.case);
        let lengths: Vec<usize> = f.meta["lengths"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as usize)
            .collect();
        for (i, &n) in lengths.iter().enumerate() {
            let one = |k: &str| f.case[k].narrow(0, i, 1).unwrap().narrow(1, 0, n).unwrap();
            let case: HashMap<String, Tensor> = ["input_ids", "token_type_ids", "attention_mask"]
                .iter()
                .map(|k| (k.to_string(), one(k)))
                .collect();
            let alone = forward(&f.model, &case);
            let d = max_abs_diff(&alone.logits, &batch.logits.narrow(0, i, 1).unwrap());
            assert!(d < TOL, "{name}: sequence {i} alone: logits differ by {d}");
            for (a, b) in alone.hidden_states.iter().zip(&batch.hidden_states) {
                let b = b.narrow(0, i, 1).unwrap().narrow(1, 0, n).unwrap();
                let d = max_abs_diff(a, &b);
                assert!(d < TOL, "{name}: sequence {i} alone: hidden differs by {d}");
            }
        }
    }
}

/// A checkpoint without the head (a base model) gets a fresh head, and its names are returned.
#[test]
fn missing_head_is_initialised() {
    let dir = fixture("modernbert");
    let config = read_json(&dir.join("config.json"));
    let tensors: HashMap<String, Tensor> = load(&dir.join("model.safetensors"))
        .into_iter()
        .filter(|(k, _)| k.starts_with("model."))
        .collect();
    let (m, mut initialised) = ModernBertForSequenceClassification::from_config_and_tensors(
        config,
        HeadKind::Regression,
        tensors,
        &Device::Cpu,
        7,
    )
    .unwrap();
    initialised.sort();
    assert_eq!(
        initialised,
        [
            "classifier.bias",
            "classifier.weight",
            "head.dense.weight",
            "head.norm.weight"
        ]
    );
    assert_eq!(m.param("classifier.weight").unwrap().var.dims(), [1, 32]);
}
