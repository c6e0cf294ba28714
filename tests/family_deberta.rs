//! Parity of `DebertaV2ForSequenceClassification` with `transformers` on the fixtures of
//! `scripts/family-fixtures.py`: `deberta-v3` (log buckets, shared keys, LayerNorm on the
//! relative embeddings, no absolute positions) and `deberta-v2` (absolute positions, token
//! types, embedding projection, separate position projections, clamped relative positions).
//! Both batches hold a 24-token sequence, longer than the 8 buckets and the 16 relative
//! positions.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use dps_tui::core::StepMasks;
use dps_tui::model::classifier::{HeadKind, SequenceClassifier};
use dps_tui::model::deberta::DebertaV2ForSequenceClassification;
use dps_tui::model::family::Family;
use dps_tui::model::inputs::ModelInput;
use dps_tui::train::optimizer::{AdamWConfig, MaskedAdamW};
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

fn max_diff(a: &Tensor, b: &Tensor) -> f32 {
    assert_eq!(a.dims(), b.dims());
    (a - b)
        .unwrap()
        .abs()
        .unwrap()
        .flatten_all()
        .unwrap()
        .max(0)
        .unwrap()
        .to_scalar::<f32>()
        .unwrap()
}

fn names(v: &serde_json::Value) -> BTreeSet<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

/// Hidden states, logits, loss, every gradient and one AdamW step against the fixture.
fn parity(name: &str) {
    let Case { model, t, meta } = load(name);
    let fam = Family::DebertaV2;
    let params = model.params();
    let ours: BTreeSet<String> = params.iter().map(|p| fam.checkpoint_key(&p.name)).collect();
    assert_eq!(ours, names(&meta["params"]), "parameter names");
    let decay: BTreeSet<String> = params
        .iter()
        .filter(|p| p.decay)
        .map(|p| fam.checkpoint_key(&p.name))
        .collect();
    assert_eq!(decay, names(&meta["decay"]), "weight-decay set");

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
    let out = model.forward_input(&input, None, None).unwrap();
    let n_hidden = meta["num_hidden_states"].as_u64().unwrap() as usize;
    assert_eq!(out.hidden_states.len(), n_hidden);
    let mut hidden = 0f32;
    for (i, h) in out.hidden_states.iter().enumerate() {
        let d = max_diff(h, &t[&format!("hidden.{i}")]);
        assert!(d <= TOL, "{name}: hidden state {i} differs by {d:e}");
        hidden = hidden.max(d);
    }
    let logits = max_diff(&out.logits, &t["logits"]);
    assert!(logits <= TOL, "{name}: logits differ by {logits:e}");
    let loss = model.loss(&out.logits, &u32s(&t["labels"])).unwrap();
    let loss_d = max_diff(&loss.reshape(1).unwrap(), &t["loss"]);
    assert!(loss_d <= TOL, "{name}: loss differs by {loss_d:e}");

    let grads = loss.backward().unwrap();
    let mut grad = (0f32, String::new());
    let gs: Vec<Option<Tensor>> = params
        .iter()
        .map(|p| {
            let g = grads
                .get(p.var.as_tensor())
                .unwrap_or_else(|| panic!("{name}: no gradient for {}", p.name))
                .clone();
            let d = max_diff(&g, &t[&format!("grad.{}", fam.checkpoint_key(&p.name))]);
            if d > grad.0 {
                grad = (d, p.name.clone());
            }
            Some(g)
        })
        .collect();
    assert!(
        grad.0 <= TOL,
        "{name}: gradient of {} differs by {:e}",
        grad.1,
        grad.0
    );

    let mut opt = MaskedAdamW::new(
        params,
        AdamWConfig {
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: meta["weight_decay"].as_f64().unwrap(),
        },
    )
    .unwrap();
    let lr = meta["lr"].as_f64().unwrap();
    opt.step(params, &gs, &StepMasks::none(params.len()), 1.0, lr)
        .unwrap();
    // Adam's first step is ≈ lr·sign(g). Where the reference gradient is rounding noise
    // (|g| < 1e-6; e.g. the key bias, whose exact gradient is 0 because softmax ignores a
    // per-query constant, in the content and the c2p scores alike), the direction is noise in
    // both implementations, so those elements are only bounded by the largest step, lr.
    let (mut step, mut noise, mut noisy) = ((0f32, String::new()), 0f32, 0usize);
    for p in params {
        let key = fam.checkpoint_key(&p.name);
        let want = t[&format!("step.{key}")]
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        let g = t[&format!("grad.{key}")]
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        let got = p
            .var
            .as_tensor()
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        for k in 0..got.len() {
            let d = (got[k] - want[k]).abs();
            if g[k].abs() < 1e-6 && g[k] != 0.0 {
                noisy += 1;
                noise = noise.max(d);
            } else if d > step.0 {
                step = (d, p.name.clone());
            }
        }
    }
    eprintln!(
        "{name}: max |Δ| vs transformers: hidden {hidden:.2e}, logits {logits:.2e}, loss \
         {loss_d:.2e}, grads {:.2e} ({}), AdamW step {:.2e} ({}); {noisy} elements with \
         |g| < 1e-6: max |Δ| {noise:.2e}",
        grad.0, grad.1, step.0, step.1
    );
    assert!(
        step.0 <= TOL,
        "{name}: step of {} differs by {:e}",
        step.1,
        step.0
    );
    assert!(noise <= 2.0 * lr as f32, "{noise}");
}

#[test]
fn deberta_v3_matches_transformers() {
    parity("deberta-v3");
}

#[test]
fn deberta_v2_options_match_transformers() {
    parity("deberta-v2");
}

/// Each sequence alone, without padding, gives the logits it has in the padded batch: the
/// padding pattern changes nothing for the real tokens.
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
    let d = max_diff(&padded, &want);
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
        let d = max_diff(&alone, &batched.narrow(0, i, 1).unwrap());
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
    let d = max_diff(&logits, &t["logits"]);
    assert!(d <= TOL, "composite logits differ by {d:e}");
    for p in model.params() {
        let key = Family::DebertaV2.checkpoint_key(&p.name);
        let g = grads.get(p.var.as_tensor()).unwrap();
        let d = max_diff(g, &t[&format!("grad.{key}")]);
        assert!(
            d <= TOL,
            "composite gradient of {} differs by {d:e}",
            p.name
        );
    }
}
