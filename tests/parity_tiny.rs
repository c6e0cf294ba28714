//! Exact parity of the BERT model with PyTorch / transformers on the tiny reference model in
//! `../shared/reference/tiny-bert` (forward pass, loss and the gradient of every parameter),
//! plus weight-loading variants (`bert.` prefix, legacy gamma/beta names, wrong shapes).

mod common;
use common::max_abs_diff;

use dps_tui::diagnostics::parity::{self, TinyBert};
use dps_tui::model::SequenceClassifier;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use dps_tui::model::{BertConfig, BertForSequenceClassification, HeadKind, ModelError};

const TOL: f32 = 1e-5;

fn tiny_dir() -> Option<PathBuf> {
    let d = Path::new("../shared/reference/tiny-bert");
    if d.join("model.safetensors").is_file() {
        Some(d.to_path_buf())
    } else {
        common::skipped("../shared not found (no ../shared/reference/tiny-bert/model.safetensors)");
        None
    }
}

/// The tiny model's tensors: model.safetensors merged with classifier.safetensors.
fn tiny_tensors(dir: &Path) -> HashMap<String, Tensor> {
    parity::reference_tensors(dir).unwrap()
}

/// The case with the model built from `tensors`, every parameter read from them.
fn tiny_case(dir: &Path, tensors: HashMap<String, Tensor>) -> TinyBert {
    let t = TinyBert::with_tensors(dir, tensors, &Device::Cpu).unwrap();
    assert!(
        t.initialised.is_empty(),
        "unexpectedly initialised {:?}",
        t.initialised
    );
    t
}

#[test]
fn tiny_forward_loss_and_gradients_match_pytorch() {
    let Some(dir) = tiny_dir() else { return };
    let case = tiny_case(&dir, tiny_tensors(&dir));
    let model = &case.model;
    let out = case.forward().unwrap();

    assert_eq!(out.hidden_states.len(), 3);
    let mut worst_fwd = 0f32;
    for (i, h) in out.hidden_states.iter().enumerate() {
        let e = max_abs_diff(h, case.get(&format!("hidden_states.{i}")).unwrap());
        eprintln!("hidden_states.{i}: max abs error {e:.3e}");
        assert!(e <= TOL, "hidden_states.{i} differs by {e}");
        worst_fwd = worst_fwd.max(e);
    }
    let e = max_abs_diff(
        out.hidden_states.last().unwrap(),
        case.get("last_hidden_state").unwrap(),
    );
    assert!(e <= TOL, "last_hidden_state differs by {e}");
    let e = max_abs_diff(&out.pooler_output, case.get("pooler_output").unwrap());
    eprintln!("pooler_output: max abs error {e:.3e}");
    assert!(e <= TOL, "pooler_output differs by {e}");
    worst_fwd = worst_fwd.max(e);
    let e = max_abs_diff(&out.logits, case.get("logits").unwrap());
    eprintln!("logits: max abs error {e:.3e}");
    assert!(e <= TOL, "logits differ by {e}");
    worst_fwd = worst_fwd.max(e);

    let loss = model
        .loss(&out.logits, &case.input("labels").unwrap())
        .unwrap();
    assert_eq!(loss.rank(), 0, "loss should be a scalar");
    let e = max_abs_diff(&loss.reshape(1).unwrap(), case.get("loss").unwrap());
    eprintln!(
        "loss: {} (max abs error {e:.3e})",
        loss.to_scalar::<f32>().unwrap()
    );
    assert!(e <= TOL, "loss differs by {e}");

    let grads = loss.backward().unwrap();
    let mut worst = (0f32, String::new());
    let mut checked = 0;
    for p in model.params() {
        let g = grads
            .get(p.var.as_tensor())
            .unwrap_or_else(|| panic!("no gradient for {}", p.name));
        let e = max_abs_diff(g, case.get(&format!("grad.{}", p.name)).unwrap());
        assert!(e <= TOL, "gradient of {} differs by {e}", p.name);
        if e >= worst.0 {
            worst = (e, p.name.clone());
        }
        checked += 1;
    }
    assert_eq!(checked, 41);
    eprintln!(
        "forward max abs error {worst_fwd:.3e}; gradients of {checked} params: max abs error {:.3e} ({})",
        worst.0, worst.1
    );
}

#[test]
fn every_param_gets_a_finite_gradient() {
    let Some(dir) = tiny_dir() else { return };
    let case = tiny_case(&dir, tiny_tensors(&dir));
    let model = &case.model;
    assert_eq!(model.params().len(), 41);
    assert_eq!(model.num_parameters(), 52_419);
    let out = case.forward().unwrap();
    let loss = model
        .loss(&out.logits, &case.input("labels").unwrap())
        .unwrap();
    let grads = loss.backward().unwrap();
    for p in model.params() {
        let g = grads
            .get(p.var.as_tensor())
            .unwrap_or_else(|| panic!("no gradient for {}", p.name));
        assert_eq!(g.dims(), p.var.as_tensor().dims(), "{}", p.name);
        let v: Vec<f32> = g.flatten_all().unwrap().to_vec1().unwrap();
        assert!(
            v.iter().all(|x| x.is_finite()),
            "non-finite gradient in {}",
            p.name
        );
        assert!(
            v.iter().any(|&x| x != 0.0),
            "all-zero gradient for {}",
            p.name
        );
    }
    let dps: Vec<&str> = model
        .params()
        .iter()
        .filter(|p| p.dps)
        .map(|p| p.name.as_str())
        .collect();
    assert_eq!(dps.len(), 14, "{dps:?}");
    let no_decay = model.params().iter().filter(|p| !p.decay).count();
    // 14 Linear biases + 5 LayerNorm weights + 5 LayerNorm biases.
    assert_eq!(no_decay, 24);
}

#[test]
fn bert_prefix_and_legacy_gamma_beta_load_identically() {
    let Some(dir) = tiny_dir() else { return };
    let plain = tiny_tensors(&dir);
    let reference = tiny_case(&dir, plain.clone());
    let mut renamed = HashMap::new();
    for (k, v) in &plain {
        let mut name = if k.starts_with("classifier.") {
            k.clone()
        } else {
            format!("bert.{k}")
        };
        if name.contains("LayerNorm") {
            name = name.replace(".weight", ".gamma").replace(".bias", ".beta");
        }
        renamed.insert(name, v.clone());
    }
    assert!(renamed.contains_key("bert.embeddings.LayerNorm.gamma"));
    // Buffers and pretraining heads are ignored.
    renamed.insert(
        "bert.embeddings.position_ids".into(),
        Tensor::arange(0i64, 64, &Device::Cpu)
            .unwrap()
            .reshape((1, 64))
            .unwrap(),
    );
    renamed.insert(
        "cls.predictions.bias".into(),
        Tensor::zeros(1000, DType::F32, &Device::Cpu).unwrap(),
    );
    let model = tiny_case(&dir, renamed);
    let a = reference.forward().unwrap().logits;
    let b = model.forward().unwrap().logits;
    assert_eq!(max_abs_diff(&a, &b), 0.0);
    for (p, q) in reference.model.params().iter().zip(model.model.params()) {
        assert_eq!(p.name, q.name);
        assert_eq!(
            max_abs_diff(p.var.as_tensor(), q.var.as_tensor()),
            0.0,
            "{}",
            p.name
        );
    }
}

#[test]
fn missing_head_is_initialised_deterministically() {
    let Some(dir) = tiny_dir() else { return };
    let cfg = BertConfig::from_file(&dir.join("config.json")).unwrap();
    let head = HeadKind::Classification { num_labels: 2 };
    let build = |seed| {
        BertForSequenceClassification::from_tensors(
            cfg.clone(),
            head,
            parity::read_safetensors(&dir, "model.safetensors").unwrap(),
            &Device::Cpu,
            seed,
        )
        .unwrap()
    };
    let (a, init_a) = build(7);
    let (b, _) = build(7);
    let (c, _) = build(8);
    assert_eq!(
        init_a,
        vec![
            "classifier.bias".to_string(),
            "classifier.weight".to_string()
        ]
    );
    let w = |m: &BertForSequenceClassification| {
        m.param("classifier.weight")
            .unwrap()
            .var
            .as_tensor()
            .clone()
    };
    assert_eq!(max_abs_diff(&w(&a), &w(&b)), 0.0);
    assert!(max_abs_diff(&w(&a), &w(&c)) > 0.0);
    let bias: Vec<f32> = a
        .param("classifier.bias")
        .unwrap()
        .var
        .as_tensor()
        .to_vec1()
        .unwrap();
    assert_eq!(bias, vec![0.0, 0.0]);
    let wv: Vec<f32> = w(&a).flatten_all().unwrap().to_vec1().unwrap();
    let std = (wv.iter().map(|x| x * x).sum::<f32>() / wv.len() as f32).sqrt();
    assert!(
        std > 0.01 && std < 0.03,
        "classifier std {std} (initializer_range 0.02)"
    );
}

#[test]
fn wrong_shape_and_missing_tensor_errors_name_the_tensor() {
    let Some(dir) = tiny_dir() else { return };
    let cfg = BertConfig::from_file(&dir.join("config.json")).unwrap();
    let head = HeadKind::Classification { num_labels: 3 };

    let mut bad = tiny_tensors(&dir);
    let name = "encoder.layer.1.intermediate.dense.weight";
    bad.insert(
        name.into(),
        Tensor::zeros((64, 31), DType::F32, &Device::Cpu).unwrap(),
    );
    let err = BertForSequenceClassification::from_tensors(cfg.clone(), head, bad, &Device::Cpu, 0)
        .err()
        .expect("wrong shape must fail");
    let msg = err.to_string();
    assert!(matches!(err, ModelError::ShapeMismatch { .. }), "{msg}");
    assert!(
        msg.contains(name) && msg.contains("[64, 31]") && msg.contains("[64, 32]"),
        "{msg}"
    );

    let mut missing = tiny_tensors(&dir);
    let name = "encoder.layer.0.output.LayerNorm.bias";
    missing.remove(name);
    let err = BertForSequenceClassification::from_tensors(cfg, head, missing, &Device::Cpu, 0)
        .err()
        .expect("missing tensor must fail");
    assert!(err.to_string().contains(name), "{err}");
}
