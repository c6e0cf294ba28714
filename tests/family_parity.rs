//! Every encoder family against `transformers` (`tests/fixtures/families`, made by
//! `scripts/fixtures/family-fixtures.py`): hidden states, logits, loss, the gradient of every parameter
//! and one AdamW step on a padded batch; packed batches against padded ones; the saved
//! checkpoint's names and config against what `save_pretrained` wrote; and a DPS run.

mod common;
use common::max_abs_diff;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use dps_tui::config::{Freeze, LrScheduler, Method, TrainConfig};
use dps_tui::core::StepMasks;
use dps_tui::data::batching::{Encoded, EncodedDataset, Padding};
use dps_tui::data::glue::{self, Label};
use dps_tui::model::inputs::ModelInput;
use dps_tui::model::{checkpoint_io, loader, HeadKind, Model};
use dps_tui::train::optimizer::{AdamWConfig, MaskedAdamW};
use dps_tui::train::trainer::Trainer;

const TOL: f32 = 1e-5;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/families")
        .join(name)
}

fn load_case(dir: &Path) -> (HashMap<String, Tensor>, serde_json::Value) {
    let case = candle_core::safetensors::load(dir.join("case.safetensors"), &Device::Cpu).unwrap();
    let meta = std::fs::read_to_string(dir.join("case.json")).unwrap();
    (case, serde_json::from_str(&meta).unwrap())
}

fn u32s(case: &HashMap<String, Tensor>, name: &str) -> Tensor {
    case[name].to_dtype(DType::U32).unwrap()
}

fn model(dir: &Path) -> Model {
    let (m, initialised) = loader::load_dir(
        dir,
        HeadKind::Classification { num_labels: 3 },
        &Device::Cpu,
        0,
    )
    .unwrap();
    assert!(initialised.is_empty(), "{initialised:?}");
    m
}

/// Forward, loss, gradients and one AdamW step against the fixture; returns the worst
/// differences (hidden, logits, loss, grad, step).
fn parity(name: &str) -> [f32; 5] {
    let dir = fixture(name);
    let (case, meta) = load_case(&dir);
    let m = model(&dir);
    let family = m.family();
    assert_eq!(family.model_type(), meta["model_type"].as_str().unwrap());
    let (ids, types, mask) = (
        u32s(&case, "input_ids"),
        u32s(&case, "token_type_ids"),
        u32s(&case, "attention_mask"),
    );
    let input = ModelInput::Padded {
        input_ids: &ids,
        token_type_ids: &types,
        attention_mask: &mask,
    };
    let out = m.forward_input(&input, None, None).unwrap();
    let n_hidden = meta["num_hidden_states"].as_u64().unwrap() as usize;
    assert_eq!(out.hidden_states.len(), n_hidden, "{name}: hidden states");
    let hidden = (0..n_hidden)
        .map(|i| max_abs_diff(&out.hidden_states[i], &case[&format!("hidden.{i}")]))
        .fold(0f32, f32::max);
    let logits = max_abs_diff(&out.logits, &case["logits"]);
    let labels = u32s(&case, "labels");
    let loss_t = m.loss(&out.logits, &labels).unwrap();
    let loss =
        (loss_t.to_scalar::<f32>().unwrap() - case["loss"].to_vec1::<f32>().unwrap()[0]).abs();

    // Names, weight decay and gradients.
    let keys: Vec<String> = m
        .params()
        .iter()
        .map(|p| family.checkpoint_key(&p.name))
        .collect();
    let mut want: Vec<String> = meta["params"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    want.sort();
    let mut got = keys.clone();
    got.sort();
    assert_eq!(got, want, "{name}: parameter names");
    let decay: HashSet<&str> = meta["decay"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    for (p, key) in m.params().iter().zip(&keys) {
        assert_eq!(
            p.decay,
            decay.contains(key.as_str()),
            "{name}: decay of {key}"
        );
    }
    let grads = loss_t.backward().unwrap();
    let gs: Vec<Option<Tensor>> = m
        .params()
        .iter()
        .map(|p| grads.get(p.var.as_tensor()).cloned())
        .collect();
    let mut grad = 0f32;
    for (g, key) in gs.iter().zip(&keys) {
        let g = g
            .as_ref()
            .unwrap_or_else(|| panic!("{name}: no gradient for {key}"));
        grad = grad.max(max_abs_diff(g, &case[&format!("grad.{key}")]));
    }

    // One AdamW step from transformers' gradients (with lr 1e-3, Adam turns float rounding of
    // near-zero gradients into steps of up to lr, so the step is checked on its own).
    let ref_grads: Vec<Option<Tensor>> = keys
        .iter()
        .map(|key| Some(case[&format!("grad.{key}")].clone()))
        .collect();
    let mut opt = MaskedAdamW::new(
        m.params(),
        AdamWConfig {
            weight_decay: meta["weight_decay"].as_f64().unwrap(),
            ..AdamWConfig::default()
        },
    )
    .unwrap();
    let lr = meta["lr"].as_f64().unwrap();
    opt.step(m.params(), &ref_grads, &StepMasks::none(gs.len()), 1.0, lr)
        .unwrap();
    let step = m
        .params()
        .iter()
        .zip(&keys)
        .map(|(p, key)| max_abs_diff(p.var.as_tensor(), &case[&format!("step.{key}")]))
        .fold(0f32, f32::max);
    let worst = [hidden, logits, loss, grad, step];
    eprintln!(
        "{name}: hidden {hidden:.2e} logits {logits:.2e} loss {loss:.2e} grad {grad:.2e} step {step:.2e}"
    );
    worst
}

fn assert_parity(name: &str) {
    let w = parity(name);
    for (what, d) in ["hidden", "logits", "loss", "grad", "step"].iter().zip(w) {
        assert!(d <= TOL, "{name}: {what} differs by {d}");
    }
}

/// Packed batches give the padded batch's logits and loss (real tokens only).
fn packed_matches_padded(name: &str) {
    let dir = fixture(name);
    let (case, _) = load_case(&dir);
    let m = model(&dir);
    if !m.supports_packed() {
        return;
    }
    let ids = u32s(&case, "input_ids").to_vec2::<u32>().unwrap();
    let types = u32s(&case, "token_type_ids").to_vec2::<u32>().unwrap();
    let mask = u32s(&case, "attention_mask").to_vec2::<u32>().unwrap();
    let (mut pid, mut ptt, mut offsets) = (Vec::new(), Vec::new(), vec![0]);
    for i in 0..ids.len() {
        let n = mask[i].iter().filter(|&&x| x == 1).count();
        pid.extend_from_slice(&ids[i][..n]);
        ptt.extend_from_slice(&types[i][..n]);
        offsets.push(pid.len());
    }
    let t = pid.len();
    let pid = Tensor::from_vec(pid, t, &Device::Cpu).unwrap();
    let ptt = Tensor::from_vec(ptt, t, &Device::Cpu).unwrap();
    let packed = ModelInput::Packed {
        input_ids: &pid,
        token_type_ids: &ptt,
        offsets: &offsets,
    };
    let out = m.forward_input(&packed, None, None).unwrap();
    let d = max_abs_diff(&out.logits, &case["logits"]);
    assert!(d <= TOL, "{name}: packed logits differ by {d}");
}

/// Save, then compare with what `save_pretrained` wrote and load back.
fn save_round_trip(name: &str) {
    let dir = fixture(name);
    let (case, _) = load_case(&dir);
    let m = model(&dir);
    let tmp = tempfile::tempdir().unwrap();
    // DPS_TUI_FAMILY_SAVE_DIR keeps the checkpoints, for `scripts/fixtures/family-fixtures.py
    // --check-saved` (loading them with transformers).
    let out = match std::env::var_os("DPS_TUI_FAMILY_SAVE_DIR") {
        Some(d) => PathBuf::from(d).join(name),
        None => tmp.path().join("ckpt"),
    };
    checkpoint_io::save_hf(m.as_ref(), &out, &[], None).unwrap();
    let keys = |p: &Path| -> Vec<String> {
        let t = candle_core::safetensors::load(p.join("model.safetensors"), &Device::Cpu).unwrap();
        let mut k: Vec<String> = t.into_keys().collect();
        k.sort();
        k
    };
    assert_eq!(keys(&out), keys(&dir), "{name}: saved tensor names");
    let saved = loader::read_config(&out.join("config.json")).unwrap();
    let orig = loader::read_config(&dir.join("config.json")).unwrap();
    for key in [
        "model_type",
        "architectures",
        "hidden_size",
        "num_hidden_layers",
        "dim",
    ] {
        assert_eq!(saved.get(key), orig.get(key), "{name}: config {key}");
    }
    let (back, labels) = checkpoint_io::load_checkpoint(&out, &Device::Cpu).unwrap();
    assert_eq!(labels.len(), 3);
    let (ids, types, mask) = (
        u32s(&case, "input_ids"),
        u32s(&case, "token_type_ids"),
        u32s(&case, "attention_mask"),
    );
    let input = ModelInput::Padded {
        input_ids: &ids,
        token_type_ids: &types,
        attention_mask: &mask,
    };
    let logits = back.forward_input(&input, None, None).unwrap().logits;
    assert!(max_abs_diff(&logits, &case["logits"]) <= TOL);
}

/// The fixture batch's sequences (real tokens only) as training items, the whole batch
/// `copies` times over, labelled 0, 1, 2, 0, … in order.
fn fixture_items(case: &HashMap<String, Tensor>, copies: usize) -> Vec<Encoded> {
    let ids = u32s(case, "input_ids").to_vec2::<u32>().unwrap();
    let types = u32s(case, "token_type_ids").to_vec2::<u32>().unwrap();
    let mask = u32s(case, "attention_mask").to_vec2::<u32>().unwrap();
    (0..ids.len() * copies)
        .map(|j| {
            let i = j % ids.len();
            let n = mask[i].iter().filter(|&&x| x == 1).count();
            Encoded {
                ids: ids[i][..n].to_vec(),
                type_ids: types[i][..n].to_vec(),
                label: Label::Class(j % 3),
            }
        })
        .collect()
}

/// Copies of every parameter's current value, in `params()` order.
fn param_copies(model: &Model) -> Vec<Tensor> {
    model
        .params()
        .iter()
        .map(|p| p.var.as_tensor().copy().unwrap())
        .collect()
}

/// A DPS-dense run of three stages with the strict freeze: in the selection stage every DPS
/// matrix keeps ceil(N·(1-p)) elements, and exactly those move.
fn dps_run(name: &str) {
    let dir = fixture(name);
    let (case, _) = load_case(&dir);
    let m = model(&dir);
    let items = fixture_items(&case, 4);
    let task = glue::task("mnli").unwrap();
    let train = EncodedDataset { items, task };
    let config = TrainConfig {
        method: Method::DpsDense,
        batch_size: 3,
        max_steps: Some(12),
        update_ratio: 0.34,
        learning_rate: 1e-3,
        lr_scheduler: LrScheduler::Constant,
        warmup_ratio: 0.0,
        dropout: dps_tui::config::Dropout::Fixed(0.0),
        p: 0.3,
        freeze: Freeze::Strict,
        // The CPU default: packed, or padded for a family without packed batches.
        padding: None,
        ..TrainConfig::default()
    };
    let packs = m.supports_packed();
    let mut trainer = Trainer::new(config, task, m, train, vec![]).unwrap();
    let want = if packs {
        Padding::Packed
    } else {
        Padding::Longest
    };
    assert_eq!(trainer.padding(), want, "{name}");
    for _ in 0..4 {
        trainer.train_step().unwrap();
    }
    let before = param_copies(&trainer.model);
    for _ in 0..4 {
        let (loss, _) = trainer.train_step().unwrap();
        assert!(loss.is_finite());
    }
    let state = trainer.strategy.save_state().unwrap();
    let mut j = 0;
    for (i, p) in trainer.model.params().iter().enumerate() {
        if !p.dps {
            continue;
        }
        let now = p
            .var
            .as_tensor()
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        let was = before[i].flatten_all().unwrap().to_vec1::<f32>().unwrap();
        let sel = state.tensors[&format!("{j}.mask")]
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        j += 1;
        let kept = sel.iter().filter(|&&x| x == 1.0).count();
        assert_eq!(
            kept,
            (now.len() as f64 * 0.7).ceil() as usize,
            "{name}: {}",
            p.name
        );
        for k in 0..now.len() {
            if sel[k] == 0.0 {
                assert_eq!(
                    now[k].to_bits(),
                    was[k].to_bits(),
                    "{name}: {} [{k}] moved",
                    p.name
                );
            }
        }
        assert!(
            now.iter().zip(&was).any(|(a, b)| a != b),
            "{name}: {}",
            p.name
        );
    }
    assert!(j >= 4, "{name}: only {j} DPS matrices");
}

/// A few vanilla steps: every parameter moves and the loss on the fixture batch falls.
fn vanilla_run(name: &str) {
    let dir = fixture(name);
    let (case, _) = load_case(&dir);
    let items = fixture_items(&case, 1);
    let task = glue::task("mnli").unwrap();
    let config = TrainConfig {
        method: Method::Vanilla,
        batch_size: items.len(),
        max_steps: Some(6),
        learning_rate: 1e-3,
        lr_scheduler: LrScheduler::Constant,
        warmup_ratio: 0.0,
        dropout: dps_tui::config::Dropout::Fixed(0.0),
        shuffle: false,
        ..TrainConfig::default()
    };
    let train = EncodedDataset { items, task };
    let mut trainer = Trainer::new(config, task, model(&dir), train, vec![]).unwrap();
    let before = param_copies(&trainer.model);
    let losses: Vec<f64> = (0..6).map(|_| trainer.train_step().unwrap().0).collect();
    assert!(losses[5] < losses[0], "{name}: vanilla losses {losses:?}");
    for (p, was) in trainer.model.params().iter().zip(&before) {
        assert!(
            max_abs_diff(p.var.as_tensor(), was) > 0.0,
            "{name}: {} did not move",
            p.name
        );
    }
}

fn family(name: &str) {
    assert_parity(name);
    packed_matches_padded(name);
    save_round_trip(name);
    vanilla_run(name);
    dps_run(name);
}

#[test]
fn bert() {
    family("bert");
}

#[test]
fn roberta() {
    family("roberta");
}

#[test]
fn xlm_roberta() {
    family("xlm-roberta");
}

#[test]
fn electra() {
    family("electra");
}

#[test]
fn distilbert() {
    family("distilbert");
}

#[test]
fn deberta_v3() {
    family("deberta-v3");
}

#[test]
fn deberta_v2() {
    family("deberta-v2");
}

#[test]
fn modernbert() {
    family("modernbert");
}

#[test]
fn modernbert_mean_pooling() {
    family("modernbert-mean");
}

#[test]
fn modernbert_with_biases() {
    family("modernbert-bias");
}

#[test]
fn unknown_model_type_names_the_supported_ones() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("config.json"), r#"{"model_type": "gpt2"}"#).unwrap();
    let e = loader::load_dir(
        tmp.path(),
        HeadKind::Classification { num_labels: 2 },
        &Device::Cpu,
        0,
    )
    .err()
    .unwrap()
    .to_string();
    assert!(e.contains("gpt2") && e.contains("config.json"), "{e}");
    for f in dps_tui::model::Family::ALL {
        assert!(e.contains(f.model_type()), "{e}");
    }
}
