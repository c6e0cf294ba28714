use std::collections::HashMap;

use super::*;
use crate::model::classifier::ModelDropout;
use crate::model::testing::row_abs_sum;
use candle_core::Var;
use rand::SeedableRng;
use serde_json::json;

fn cfg(extra: Value) -> Map<String, Value> {
    let mut m = json!({
        "model_type": "modernbert",
        "vocab_size": 50,
        "hidden_size": 16,
        "intermediate_size": 24,
        "num_hidden_layers": 3,
        "num_attention_heads": 2,
        "max_position_embeddings": 32,
        "local_attention": 4,
        "pad_token_id": 0,
        "embedding_dropout": 0.1,
        "attention_dropout": 0.1,
        "mlp_dropout": 0.1,
        "classifier_dropout": 0.1
    });
    if let (Value::Object(m), Value::Object(e)) = (&mut m, extra) {
        m.extend(e);
    }
    match m {
        Value::Object(m) => m,
        _ => unreachable!(),
    }
}

fn tiny(extra: Value) -> ModernBertForSequenceClassification {
    ModernBertForSequenceClassification::random(
        cfg(extra),
        HeadKind::Classification { num_labels: 2 },
        &Device::Cpu,
        3,
    )
    .unwrap()
}

fn inputs() -> (Tensor, Tensor, Tensor) {
    let d = &Device::Cpu;
    let ids = Tensor::new(&[[2u32, 7, 9, 4, 5, 6, 0], [3, 4, 8, 0, 0, 0, 0]], d).unwrap();
    let tt = ids.zeros_like().unwrap();
    let m = Tensor::new(&[[1u32, 1, 1, 1, 1, 1, 0], [1, 1, 1, 0, 0, 0, 0]], d).unwrap();
    (ids, tt, m)
}

fn run(
    m: &ModernBertForSequenceClassification,
    rng: Option<&mut ChaCha8Rng>,
    ov: Option<&WeightOverrides>,
) -> Result<ForwardOutput, ModelError> {
    let (ids, tt, mask) = inputs();
    let input = ModelInput::Padded {
        input_ids: &ids,
        token_type_ids: &tt,
        attention_mask: &mask,
    };
    m.forward_input(&input, rng, ov)
}

fn logits(out: &ForwardOutput) -> Vec<Vec<f32>> {
    out.logits.to_vec2::<f32>().unwrap()
}

#[test]
fn parameters_follow_transformers_names() {
    let m = tiny(json!({}));
    let names: Vec<&str> = m.params().iter().map(|p| p.name.as_str()).collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted);
    // Layer 0's attention norm is the identity; nothing has a bias but the classifier.
    assert!(m.param("layers.0.attn_norm.weight").is_none());
    assert!(m.param("layers.1.attn_norm.weight").is_some());
    let biases: Vec<&str> = names
        .iter()
        .copied()
        .filter(|n| n.ends_with(".bias"))
        .collect();
    assert_eq!(biases, ["classifier.bias"]);
    // emb (2) + 3 layers × 6 − 1 (no attn_norm on layer 0) + final_norm + head (2) + classifier (2).
    assert_eq!(names.len(), 2 + 3 * 6 - 1 + 1 + 2 + 2);
    assert_eq!(
        m.param("layers.2.mlp.Wi.weight").unwrap().var.dims(),
        [48, 16]
    );
    assert_eq!(
        m.param("layers.2.attn.Wqkv.weight").unwrap().var.dims(),
        [48, 16]
    );
    // The padding row of the embeddings is zero.
    assert_eq!(row_abs_sum(&m, "embeddings.tok_embeddings.weight", 0), 0.0);

    let b = tiny(json!({
        "norm_bias": true, "attention_bias": true, "mlp_bias": true, "classifier_bias": true
    }));
    for n in [
        "embeddings.norm.bias",
        "layers.1.attn_norm.bias",
        "layers.0.attn.Wqkv.bias",
        "layers.0.attn.Wo.bias",
        "layers.0.mlp.Wi.bias",
        "layers.0.mlp.Wo.bias",
        "layers.0.mlp_norm.bias",
        "final_norm.bias",
        "head.dense.bias",
        "head.norm.bias",
    ] {
        assert!(b.param(n).is_some(), "{n}");
    }
    run(&b, None, None).unwrap();
}

#[test]
fn window_mask_keeps_real_keys_within_half_the_window() {
    let mask = Tensor::new(&[[1u32, 1, 1, 1, 0]], &Device::Cpu).unwrap();
    let w = window_mask(&mask, 1, &Device::Cpu).unwrap();
    assert_eq!(w.dims(), [1, 1, 5, 5]);
    let rows = w
        .squeeze(0)
        .unwrap()
        .squeeze(0)
        .unwrap()
        .to_vec2::<f32>()
        .unwrap();
    let seen: Vec<Vec<usize>> = rows
        .iter()
        .map(|r| (0..5).filter(|&k| r[k] == 0.0).collect())
        .collect();
    assert_eq!(
        seen,
        [
            vec![0, 1],
            vec![0, 1, 2],
            vec![1, 2, 3],
            vec![2, 3],
            vec![3]
        ]
    );
    assert!(rows[0][2] == f32::MIN && rows[4][4] == f32::MIN);
}

#[test]
fn rope_scores_depend_on_relative_position_only() {
    let d = 8;
    let (cos, sin) = rope_tables(12, d, 10_000.0, &Device::Cpu).unwrap();
    let q: Vec<f32> = (0..d).map(|i| (i as f32 * 0.7).sin()).collect();
    let k: Vec<f32> = (0..d).map(|i| (i as f32 * 0.3).cos()).collect();
    // The same q and k at every position: [1, 12, 1, d].
    let at_all = |v: &[f32]| Tensor::from_vec(v.repeat(12), (1, 12, 1, d), &Device::Cpu).unwrap();
    let rq = apply_rope(&at_all(&q), &cos, &sin).unwrap();
    let rk = apply_rope(&at_all(&k), &cos, &sin).unwrap();
    let row = |t: &Tensor, p: usize| t.get(0).unwrap().get(p).unwrap().flatten_all().unwrap();
    let dot = |a: usize, b: usize| {
        (row(&rq, a) * row(&rk, b))
            .unwrap()
            .sum_all()
            .unwrap()
            .to_scalar::<f32>()
            .unwrap()
    };
    // Position 0 is the identity.
    let r0 = row(&rq, 0).to_vec1::<f32>().unwrap();
    assert!(r0.iter().zip(&q).all(|(a, b)| (a - b).abs() < 1e-6));
    assert!((dot(3, 1) - dot(9, 7)).abs() < 1e-4);
    assert!((dot(2, 5) - dot(6, 9)).abs() < 1e-4);
    assert!((dot(3, 1) - dot(1, 3)).abs() > 1e-3);
}

#[test]
fn dropout_is_seeded_and_eval_is_deterministic() {
    let m = tiny(json!({}));
    let e1 = logits(&run(&m, None, None).unwrap());
    assert_eq!(e1, logits(&run(&m, None, None).unwrap()));
    let mut r1 = ChaCha8Rng::seed_from_u64(5);
    let mut r2 = ChaCha8Rng::seed_from_u64(5);
    let t1 = logits(&run(&m, Some(&mut r1), None).unwrap());
    let t2 = logits(&run(&m, Some(&mut r2), None).unwrap());
    assert_eq!(t1, t2);
    assert_ne!(t1, e1);
    let mut r3 = ChaCha8Rng::seed_from_u64(6);
    assert_ne!(t1, logits(&run(&m, Some(&mut r3), None).unwrap()));
    // With dropout 0 no mask is drawn and training equals evaluation.
    let mut m0 = tiny(json!({}));
    m0.set_dropout(0.0);
    let mut r4 = ChaCha8Rng::seed_from_u64(5);
    let before = r4.clone();
    assert_eq!(logits(&run(&m0, Some(&mut r4), None).unwrap()), e1);
    assert_eq!(r4, before);
}

#[test]
fn dropout_config_and_hf_config() {
    let mut m = tiny(json!({"mlp_dropout": 0.2, "attention_dropout": 0.3, "foo": 1}));
    assert_eq!(
        m.config_dropout(),
        ModelDropout {
            hidden: 0.2,
            attention: 0.3
        }
    );
    m.set_dropout(0.05);
    assert_eq!(m.config_dropout().hidden, 0.05);
    let c = m.hf_config().unwrap();
    assert_eq!(c["foo"], json!(1));
    assert_eq!(c["model_type"], json!("modernbert"));
    for k in [
        "embedding_dropout",
        "attention_dropout",
        "mlp_dropout",
        "classifier_dropout",
    ] {
        assert_eq!(c[k], json!(0.05), "{k}");
    }
    // The written config builds the same model.
    let m2 = ModernBertForSequenceClassification::random(c, m.head(), &Device::Cpu, 3).unwrap();
    assert_eq!(m2.config().mlp_dropout, 0.05);
    assert_eq!(
        logits(&run(&m, None, None).unwrap()),
        logits(&run(&m2, None, None).unwrap())
    );
}

#[test]
fn overrides_replace_weights_and_receive_gradients() {
    let m = tiny(json!({}));
    let name = "layers.1.attn.Wqkv.weight";
    let w = m.param(name).unwrap().var.as_tensor();
    let ov_t = Var::from_tensor(&(w * 2.0).unwrap()).unwrap();
    let mut ov = WeightOverrides::new();
    ov.insert(name.to_string(), ov_t.as_tensor().clone());
    let out = run(&m, None, Some(&ov)).unwrap();
    assert_ne!(logits(&out), logits(&run(&m, None, None).unwrap()));
    let labels = Tensor::new(&[0u32, 1], &Device::Cpu).unwrap();
    let grads = m.loss(&out.logits, &labels).unwrap().backward().unwrap();
    assert!(grads.get(ov_t.as_tensor()).is_some());
    assert!(grads.get(m.param(name).unwrap().var.as_tensor()).is_none());
    // Every other parameter receives a gradient.
    for p in m.params().iter().filter(|p| p.name != name) {
        assert!(grads.get(p.var.as_tensor()).is_some(), "{}", p.name);
    }
    ov.insert(
        name.to_string(),
        Tensor::zeros((2, 2), DType::F32, &Device::Cpu).unwrap(),
    );
    let e = run(&m, None, Some(&ov)).unwrap_err();
    assert!(e.to_string().contains(name), "{e}");
}

#[test]
fn packed_inputs_and_bad_inputs_are_errors() {
    let m = tiny(json!({}));
    assert!(!m.supports_packed());
    let ids = Tensor::new(&[2u32, 7, 9], &Device::Cpu).unwrap();
    let tt = ids.zeros_like().unwrap();
    let input = ModelInput::Packed {
        input_ids: &ids,
        token_type_ids: &tt,
        offsets: &[0, 3],
    };
    let e = m.forward_input(&input, None, None).unwrap_err();
    assert!(e.to_string().contains("padded"), "{e}");
    let long = Tensor::ones((1, 33), DType::U32, &Device::Cpu).unwrap();
    let input = ModelInput::Padded {
        input_ids: &long,
        token_type_ids: &long,
        attention_mask: &long,
    };
    let e = m.forward_input(&input, None, None).unwrap_err();
    assert!(e.to_string().contains("max_position_embeddings"), "{e}");
}

#[test]
fn checkpoint_tensors_load_with_or_without_prefix() {
    let m = tiny(json!({}));
    let tensors: HashMap<String, Tensor> = m
        .params()
        .iter()
        .map(|p| {
            let key = if p.name.starts_with("classifier") {
                p.name.clone()
            } else {
                format!("model.{}", p.name)
            };
            (key, p.var.as_tensor().clone())
        })
        .chain([(
            "decoder.bias".to_string(),
            Tensor::zeros(50, DType::F32, &Device::Cpu).unwrap(),
        )])
        .collect();
    let (m2, init) = ModernBertForSequenceClassification::from_config_and_tensors(
        cfg(json!({})),
        m.head(),
        tensors.clone(),
        &Device::Cpu,
        0,
    )
    .unwrap();
    assert!(init.is_empty(), "{init:?}");
    assert_eq!(
        logits(&run(&m, None, None).unwrap()),
        logits(&run(&m2, None, None).unwrap())
    );
    let mut missing = tensors;
    missing.remove("model.layers.2.mlp.Wo.weight");
    let e = ModernBertForSequenceClassification::from_config_and_tensors(
        cfg(json!({})),
        m.head(),
        missing,
        &Device::Cpu,
        0,
    )
    .err()
    .unwrap();
    assert!(e.to_string().contains("layers.2.mlp.Wo.weight"), "{e}");
}
