//! Parity of the optimizer and of DPS-Dense with PyTorch, through the real trainer, against
//! `../shared/reference/tiny-bert/` (`case.safetensors`: one AdamW step; `dps_case.safetensors`:
//! 12 steps of DPS-Dense over 3 stages).

mod common;
use common::max_abs_diff;

use candle_core::{DType, Device, Tensor};
use dps_tui::config::{LrScheduler, Method, TrainConfig};
use dps_tui::data::batching::{Encoded, EncodedDataset, Padding};
use dps_tui::data::glue::{self, Label};
use dps_tui::diagnostics::parity::{self, StepErrors, TinyBert};
use dps_tui::model::bert::BertForSequenceClassification;
use dps_tui::train::Trainer;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

fn reference_dir() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/reference/tiny-bert");
    if p.exists() {
        Some(p)
    } else {
        common::skipped(&format!(
            "../shared not found ({}); parity tests did not run",
            p.display()
        ));
        None
    }
}

fn load(dir: &Path, name: &str) -> HashMap<String, Tensor> {
    parity::read_safetensors(dir, name).unwrap()
}

/// The tiny-bert case on the CPU, every parameter read from the reference weights.
fn tiny(dir: &Path) -> TinyBert {
    let t = TinyBert::load(dir, &Device::Cpu).unwrap();
    assert!(t.initialised.is_empty(), "{:?}", t.initialised);
    t
}

fn tiny_model(dir: &Path) -> BertForSequenceClassification {
    tiny(dir).model
}

#[test]
fn one_adamw_step_matches_torch() {
    let Some(dir) = reference_dir() else { return };
    let t = tiny(&dir);
    let out = t.forward().unwrap();
    let (_, gs) = t.loss_and_grads(&out).unwrap();
    t.adamw_step(&gs).unwrap();
    // Adam's first step is ≈ lr·sign(g): where the reference gradient is pure rounding noise
    // (|g| < 1e-6; e.g. the key bias, whose exact gradient is 0 because softmax ignores a
    // per-query constant), the update direction is noise in both implementations, so those
    // elements are only bounded by the largest possible step, lr.
    let StepErrors {
        worst,
        worst_noise,
        noisy,
    } = t.step_errors().unwrap();
    eprintln!(
        "AdamW step: max |Δ| vs torch = {:.3e} ({}); {noisy} elements with |g| < 1e-6: max |Δ| {worst_noise:.3e}",
        worst.0, worst.1
    );
    assert!(worst.0 <= 1e-6, "{worst:?}");
    assert!(worst_noise <= 2e-3, "{worst_noise}");
}

fn dps_dataset(d: &HashMap<String, Tensor>) -> EncodedDataset {
    let ids = d["data.input_ids"]
        .to_dtype(DType::U32)
        .unwrap()
        .to_vec2::<u32>()
        .unwrap();
    let types = d["data.token_type_ids"]
        .to_dtype(DType::U32)
        .unwrap()
        .to_vec2::<u32>()
        .unwrap();
    let mask = d["data.attention_mask"]
        .to_dtype(DType::U32)
        .unwrap()
        .to_vec2::<u32>()
        .unwrap();
    let labels = d["data.labels"]
        .to_dtype(DType::U32)
        .unwrap()
        .to_vec1::<u32>()
        .unwrap();
    let items = (0..ids.len())
        .map(|i| {
            let n = mask[i].iter().filter(|&&m| m == 1).count();
            Encoded {
                ids: ids[i][..n].to_vec(),
                type_ids: types[i][..n].to_vec(),
                label: Label::Class(labels[i] as usize),
            }
        })
        .collect();
    EncodedDataset {
        items,
        task: glue::task("mnli").unwrap(),
    }
}

fn dps_config() -> TrainConfig {
    TrainConfig {
        method: Method::DpsDense,
        batch_size: 4,
        max_steps: Some(12),
        // floor(12 · 0.34) = 4 steps a stage, as in the reference.
        update_ratio: 0.34,
        learning_rate: 1e-3,
        lr_scheduler: LrScheduler::Constant,
        warmup_ratio: 0.0,
        weight_decay: 0.01,
        max_grad_norm: 0.0,
        shuffle: false,
        dropout: dps_tui::config::Dropout::Fixed(0.0),
        p: 0.3,
        // The reference ran padded batches; with lr 1e-3, Adam turns float rounding on
        // near-zero gradients into steps of up to lr, so this element-wise comparison uses the
        // same layout (packed batches are compared with padded ones in tests/packed_exact.rs
        // and against PyTorch in tests/lockstep_minilm.rs).
        padding: Some(Padding::Longest),
        ..TrainConfig::default()
    }
}

#[test]
fn dps_dense_three_stages_match_the_authors_code() {
    let Some(dir) = reference_dir() else { return };
    let d = load(&dir, "dps_case.safetensors");
    let train = dps_dataset(&d);
    let task = train.task;
    let model = tiny_model(&dir);
    let mut trainer = Trainer::new(dps_config(), task, Box::new(model), train, vec![]).unwrap();
    let want_losses = d["losses"].to_vec1::<f32>().unwrap();
    let dps_names: Vec<String> = trainer
        .model
        .params()
        .iter()
        .filter(|p| p.dps)
        .map(|p| p.name.clone())
        .collect();
    assert_eq!(dps_names.len(), 14);
    let mut worst_loss = 0f32;
    for s in 1..=12 {
        let (loss, _) = trainer.train_step().unwrap();
        worst_loss = worst_loss.max((loss as f32 - want_losses[s - 1]).abs());
        let state = trainer.strategy.save_state().unwrap();
        if s == 4 || s == 12 {
            // Importance: relative error.
            let key = if s == 4 {
                "importance"
            } else {
                "importance_stage3"
            };
            let mut worst = 0f32;
            for (i, name) in dps_names.iter().enumerate() {
                let got = &state.tensors[&format!("{i}.importance")];
                let want = &d[&format!("{key}.{name}")];
                let scale = want.abs().unwrap().max_keepdim(0).unwrap().max(1).unwrap();
                let scale = scale.flatten_all().unwrap().to_vec1::<f32>().unwrap()[0].max(1e-30);
                worst = worst.max(max_abs_diff(got, want) / scale);
            }
            eprintln!("step {s}: importance max relative error {worst:.3e}");
            assert!(worst <= 1e-5, "step {s}: importance off by {worst}");
        }
        if s == 5 {
            for (i, name) in dps_names.iter().enumerate() {
                let got = state.tensors[&format!("{i}.mask")]
                    .flatten_all()
                    .unwrap()
                    .to_vec1::<f32>()
                    .unwrap();
                let want = d[&format!("mask.{name}")]
                    .to_dtype(DType::F32)
                    .unwrap()
                    .flatten_all()
                    .unwrap()
                    .to_vec1::<f32>()
                    .unwrap();
                let agree = got.iter().zip(&want).filter(|(a, b)| a == b).count();
                let frac = agree as f64 / want.len() as f64;
                assert!(frac >= 0.999, "{name}: masks agree on {frac}");
                let kept = got.iter().filter(|&&x| x == 1.0).count();
                let n = got.len();
                assert_eq!(kept, (n as f64 * 0.7).ceil() as usize, "{name}");
            }
        }
        if s % 4 == 0 {
            // The attention key bias has an exactly-zero true gradient (softmax ignores a
            // per-query constant), so Adam turns rounding noise into steps of up to lr in
            // both implementations: bounded by s·lr, not compared element-wise.
            let (mut worst, mut worst_key_bias) = ((0f32, String::new()), 0f32);
            for p in trainer.model.params() {
                let want = &d[&format!("after_stage{}.{}", s / 4, p.name)];
                let diff = max_abs_diff(p.var.as_tensor(), want);
                if p.name.ends_with("attention.self.key.bias") {
                    worst_key_bias = worst_key_bias.max(diff);
                } else if diff > worst.0 {
                    worst = (diff, p.name.clone());
                }
            }
            eprintln!(
                "end of stage {}: params max |Δ| {:.3e} ({}); key bias {worst_key_bias:.3e}",
                s / 4,
                worst.0,
                worst.1
            );
            assert!(worst.0 <= 1e-5, "stage {}: {worst:?}", s / 4);
            assert!(worst_key_bias <= s as f32 * 1e-3);
        }
    }
    eprintln!("losses: max |Δ| {worst_loss:.3e}");
    assert!(worst_loss <= 1e-5);
}

#[test]
fn strict_freeze_leaves_frozen_elements_bit_identical() {
    let Some(dir) = reference_dir() else { return };
    let d = load(&dir, "dps_case.safetensors");
    let train = dps_dataset(&d);
    let task = train.task;
    let mut config = dps_config();
    config.freeze = dps_tui::config::Freeze::Strict;
    let mut trainer =
        Trainer::new(config, task, Box::new(tiny_model(&dir)), train, vec![]).unwrap();
    for _ in 0..4 {
        trainer.train_step().unwrap();
    }
    let before: Vec<Tensor> = trainer
        .model
        .params()
        .iter()
        .map(|p| p.var.as_tensor().copy().unwrap())
        .collect();
    for _ in 0..4 {
        trainer.train_step().unwrap();
    }
    let state = trainer.strategy.save_state().unwrap();
    let mut j = 0;
    for (i, p) in trainer.model.params().iter().enumerate() {
        let now = p
            .var
            .as_tensor()
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        let was = before[i].flatten_all().unwrap().to_vec1::<f32>().unwrap();
        if p.dps {
            let mask = state.tensors[&format!("{j}.mask")]
                .flatten_all()
                .unwrap()
                .to_vec1::<f32>()
                .unwrap();
            j += 1;
            for k in 0..now.len() {
                if mask[k] == 0.0 {
                    assert_eq!(now[k].to_bits(), was[k].to_bits(), "{} [{k}] moved", p.name);
                } else {
                    assert_ne!(now[k], was[k], "{} [{k}] kept but did not move", p.name);
                }
            }
        } else {
            // Full stages and always-trained parameters: every element with a gradient moves.
            assert!(now.iter().zip(&was).any(|(a, b)| a != b), "{}", p.name);
        }
    }
}
