//! Lockstep with PyTorch over the first steps of a real fine-tuning run, against
//! `../shared/reference/minilm-trajectory/`: all-MiniLM-L6-v2 on MRPC in file order from the
//! given head initialisation (max_steps 690 for the schedule, 40 steps run), vanilla and
//! dps-dense, each with packed batches and with dynamic padding. The loss must match at every
//! step (warmup, clipping, and for dps-dense the selection at step 35), and the number of
//! elements kept per matrix at that selection must match.

mod common;

use candle_core::Device;
use dps_tui::config::{Method, TrainConfig};
use dps_tui::data::batching::Padding;
use dps_tui::train::{setup, Trainer};
use std::path::{Path, PathBuf};

const STEPS: usize = 40;
const LOSS_TOL: f64 = 1e-5;

struct Shared {
    model: PathBuf,
    data: PathBuf,
    reference: PathBuf,
}

fn shared() -> Option<Shared> {
    let s = Shared {
        model: PathBuf::from("../shared/models/all-MiniLM-L6-v2"),
        data: PathBuf::from("../shared/glue"),
        reference: PathBuf::from("../shared/reference/minilm-trajectory"),
    };
    let ok = s.model.join("model.safetensors").is_file()
        && s.data.join("MRPC/train.tsv").is_file()
        && s.reference.join("trajectory.json").is_file();
    if !ok {
        common::skipped("../shared (all-MiniLM-L6-v2, glue/MRPC, minilm-trajectory) not found");
        return None;
    }
    Some(s)
}

/// The reference recipe (see the trajectory's README).
fn config(s: &Shared, method: Method, padding: Padding) -> TrainConfig {
    TrainConfig {
        task: "mrpc".into(),
        model: s.model.display().to_string(),
        method,
        max_steps: Some(690),
        batch_size: 16,
        max_seq_length: 128,
        padding: Some(padding),
        group_by_length: false,
        learning_rate: 2e-5,
        warmup_ratio: 0.1,
        weight_decay: 0.01,
        max_grad_norm: 1.0,
        dropout: dps_tui::config::Dropout::Fixed(0.0),
        seed: 42,
        shuffle: false,
        data_dir: Some(s.data.clone()),
        p: 0.3,
        update_ratio: 0.05,
        ..TrainConfig::default()
    }
}

/// A trainer for the reference run: the shipped encoder and pooler, the given head.
fn trainer(s: &Shared, config: &TrainConfig) -> Trainer {
    let p = setup::prepare(config).unwrap();
    let head =
        candle_core::safetensors::load(s.reference.join("init.safetensors"), &Device::Cpu).unwrap();
    for name in ["classifier.weight", "classifier.bias"] {
        p.model.param(name).unwrap().var.set(&head[name]).unwrap();
    }
    Trainer::new(config.clone(), p.task, p.model, p.train, p.devs).unwrap()
}

fn reference(s: &Shared, method: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(s.reference.join("trajectory.json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["methods"][method].clone()
}

/// Run `STEPS` steps and compare every loss; returns the selection events (as JSON).
fn lockstep(s: &Shared, method: Method, name: &str, padding: Padding) -> Vec<serde_json::Value> {
    let want = reference(s, name);
    let steps = want["steps"].as_array().unwrap();
    assert!(steps.len() >= STEPS);
    let mut t = trainer(s, &config(s, method, padding));
    assert_eq!(t.padding(), padding);
    let (tx, rx) = crossbeam_channel::unbounded();
    t.add_sink(Box::new(tx));
    let mut worst = 0f64;
    for ref_step in &steps[..STEPS] {
        let (loss, _) = t.train_step().unwrap();
        let step = ref_step["step"].as_u64().unwrap() as usize;
        assert_eq!(t.step, step);
        let r = ref_step["loss"].as_f64().unwrap();
        let d = (loss - r).abs();
        worst = worst.max(d);
        assert!(
            d <= LOSS_TOL,
            "{name} {}: step {step} loss {loss} vs reference {r} (|Δ| {d:.2e})",
            padding.as_str()
        );
    }
    eprintln!(
        "{name} {}: {STEPS} steps, largest loss difference {worst:.2e}",
        padding.as_str()
    );
    rx.try_iter()
        .map(|e| serde_json::to_value(&e).unwrap())
        .filter(|e| e["event"] == "selection")
        .collect()
}

#[test]
fn vanilla_matches_torch_packed_and_padded() {
    let Some(s) = shared() else { return };
    for padding in [Padding::Packed, Padding::Longest] {
        lockstep(&s, Method::Vanilla, "vanilla", padding);
    }
}

#[test]
fn dps_dense_matches_torch_packed_and_padded() {
    let Some(s) = shared() else { return };
    let want = reference(&s, "dps-dense");
    let sel = &want["selections"][0];
    assert_eq!(sel["step"], 35);
    for padding in [Padding::Packed, Padding::Longest] {
        let events = lockstep(&s, Method::DpsDense, "dps-dense", padding);
        assert_eq!(
            events.len(),
            1,
            "one selection in {STEPS} steps: {events:?}"
        );
        let e = &events[0];
        assert_eq!(e["step"], 35);
        let matrices = e["matrices"].as_array().unwrap();
        let kept = sel["kept"].as_object().unwrap();
        assert_eq!(matrices.len(), kept.len());
        for m in matrices {
            let name = m["name"].as_str().unwrap();
            let numel: f64 = m["shape"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap())
                .product();
            let ours = m["selected_fraction"].as_f64().unwrap() * numel;
            let reference = kept
                .get(&format!("bert.{name}"))
                .or_else(|| kept.get(name))
                .unwrap_or_else(|| panic!("{name} not in the reference selection"))
                .as_f64()
                .unwrap();
            assert!(
                (ours - reference).abs() <= 1e-3 * reference,
                "{} {name}: kept {ours} vs reference {reference}",
                padding.as_str()
            );
        }
    }
}

#[test]
fn the_reference_files_are_where_the_test_reads_them() {
    // Guards against a silent skip in CI: when ../shared exists, the trajectory must be there.
    if Path::new("../shared").is_dir() {
        assert!(
            shared().is_some(),
            "../shared exists but the lockstep inputs are missing"
        );
    }
}
