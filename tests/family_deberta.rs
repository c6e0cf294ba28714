//! DeBERTa-specific checks beyond `tests/family_parity.rs` (which compares both fixtures with
//! `transformers`): padding invariance, seeded dropout and the composite-ops path, on the
//! fixtures `deberta-v3` (log buckets, shared keys, LayerNorm on the
//! relative embeddings, no absolute positions) and `deberta-v2` (absolute positions, token
//! types, embedding projection, separate position projections, clamped relative positions).
//! Both batches hold a 24-token sequence, longer than the 8 buckets and the 16 relative
//! positions.

mod common;
use common::max_abs_diff;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use dps_tui::model::classifier::{HeadKind, SequenceClassifier};
use dps_tui::model::deberta::DebertaV2ForSequenceClassification;
use dps_tui::model::family::Family;
use dps_tui::model::inputs::ModelInput;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

const TOL: f32 = 1e-5;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/families")
        .join(name)
}

struct Case {
    model: DebertaV2ForSequenceClassification,
    t: HashMap<String, Tensor>,
    meta: serde_json::Value,
}

fn load(name: &str) -> Case {
    let dir = fixture(name);
    let config: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(dir.join("config.json")).unwrap()).unwrap();
    let num_labels = config["id2label"].as_object().unwrap().len();
    let tensors =
        candle_core::safetensors::load(dir.join("model.safetensors"), &Device::Cpu).unwrap();
    let (model, initialised) = DebertaV2ForSequenceClassification::from_config_and_tensors(
        config,
        HeadKind::Classification { num_labels },
        tensors,
        &Device::Cpu,
        0,
    )
    .unwrap();
    assert!(initialised.is_empty(), "{initialised:?}");
    let t = candle_core::safetensors::load(dir.join("case.safetensors"), &Device::Cpu).unwrap();
    let meta =
        serde_json::from_str(&std::fs::read_to_string(dir.join("case.json")).unwrap()).unwrap();
    Case { model, t, meta }
}

fn u32s(t: &Tensor) -> Tensor {
    t.to_dtype(DType::U32).unwrap()
}

/// Hidden states, logits, loss, every gradient and one AdamW step against the fixture.
fn padding_invariance(name: &str) {
    let Case { model, t, meta } = load(name);
    let (ids, tt) = (u32s(&t["input_ids"]), u32s(&t["token_type_ids"]));
    let mask = u32s(&t["attention_mask"]);
    let input = ModelInput::Padded {
        input_ids: &ids,
        token_type_ids: &tt,
        attention_mask: &mask,
    };
    let batched = model.forward_input(&input, None, None).unwrap().logits;
    let lengths: Vec<usize> = meta["lengths"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as usize)
        .collect();
    // The longest sequence with 5 more padding tokens, then each sequence unpadded.
    let longest = lengths.iter().copied().max().unwrap();
    let row = lengths.iter().position(|&n| n == longest).unwrap();
    let pad = |x: &Tensor| {
        let r = x.narrow(0, row, 1).unwrap();
        Tensor::cat(
            &[
                &r,
                &Tensor::zeros((1, 5), DType::U32, &Device::Cpu).unwrap(),
            ],
            1,
        )
        .unwrap()
    };
    let (pi, pt, pm) = (pad(&ids), pad(&tt), pad(&mask));
    let padded = model
        .forward_input(
            &ModelInput::Padded {
                input_ids: &pi,
                token_type_ids: &pt,
                attention_mask: &pm,
            },
            None,
            None,
        )
        .unwrap()
        .logits;
    let want = batched.narrow(0, row, 1).unwrap();
    let d = max_abs_diff(&padded, &want);
    assert!(
        d <= TOL,
        "{name}: extra padding changes the logits by {d:e}"
    );
    for (i, &n) in lengths.iter().enumerate() {
        let one = |x: &Tensor| x.narrow(0, i, 1).unwrap().narrow(1, 0, n).unwrap();
        let (oi, ot, om) = (one(&ids), one(&tt), one(&mask));
        let alone = model
            .forward_input(
                &ModelInput::Padded {
                    input_ids: &oi,
                    token_type_ids: &ot,
                    attention_mask: &om,
                },
                None,
                None,
            )
            .unwrap()
            .logits;
        let d = max_abs_diff(&alone, &batched.narrow(0, i, 1).unwrap());
        assert!(d <= TOL, "{name}: sequence {i} alone differs by {d:e}");
    }
}

#[test]
fn padding_pattern_does_not_change_the_logits() {
    padding_invariance("deberta-v3");
    padding_invariance("deberta-v2");
}

#[test]
fn training_dropout_is_seeded() {
    let Case { mut model, t, .. } = load("deberta-v2");
    model.set_dropout(0.1);
    let (ids, tt, mask) = (
        u32s(&t["input_ids"]),
        u32s(&t["token_type_ids"]),
        u32s(&t["attention_mask"]),
    );
    let input = ModelInput::Padded {
        input_ids: &ids,
        token_type_ids: &tt,
        attention_mask: &mask,
    };
    let run = |seed: Option<u64>| {
        let mut rng = seed.map(ChaCha8Rng::seed_from_u64);
        model
            .forward_input(&input, rng.as_mut(), None)
            .unwrap()
            .logits
            .to_vec2::<f32>()
            .unwrap()
    };
    let eval = run(None);
    assert_eq!(run(Some(5)), run(Some(5)));
    assert_ne!(run(Some(5)), eval);
    assert_ne!(run(Some(5)), run(Some(6)));
    assert_eq!(run(None), eval);
}

/// The composite candle ops (the path of CUDA and Metal devices) give the same logits and
/// gradients as the fused CPU kernels.
#[test]
fn composite_ops_path_matches_transformers() {
    let Case { model, t, .. } = load("deberta-v3");
    let (ids, tt, mask) = (
        u32s(&t["input_ids"]),
        u32s(&t["token_type_ids"]),
        u32s(&t["attention_mask"]),
    );
    let input = ModelInput::Padded {
        input_ids: &ids,
        token_type_ids: &tt,
        attention_mask: &mask,
    };
    let (logits, grads) = dps_tui::model::ops::with_composite_ops(|| {
        let out = model.forward_input(&input, None, None).unwrap();
        let loss = model.loss(&out.logits, &u32s(&t["labels"])).unwrap();
        (out.logits, loss.backward().unwrap())
    });
    let d = max_abs_diff(&logits, &t["logits"]);
    assert!(d <= TOL, "composite logits differ by {d:e}");
    for p in model.params() {
        let key = Family::DebertaV2.checkpoint_key(&p.name);
        let g = grads.get(p.var.as_tensor()).unwrap();
        let d = max_abs_diff(g, &t[&format!("grad.{key}")]);
        assert!(
            d <= TOL,
            "composite gradient of {} differs by {d:e}",
            p.name
        );
    }
}
