use super::*;
use crate::model::testing::{assert_same_params, max_abs_diff, row_abs_sum};
use candle_core::{DType, Device, Var};
use rand::SeedableRng;
use serde_json::json;
use std::collections::HashMap;

/// A DeBERTa-v3-like config: buckets, shared keys, LayerNorm on the relative embeddings.
fn v3_config() -> Map<String, Value> {
    json!({
        "model_type": "deberta-v2",
        "_name_or_path": "tiny-v3",
        "vocab_size": 50, "hidden_size": 16, "num_hidden_layers": 2,
        "num_attention_heads": 2, "intermediate_size": 32, "max_position_embeddings": 32,
        "relative_attention": true, "position_buckets": 4, "norm_rel_ebd": "layer_norm",
        "share_att_key": true, "pos_att_type": ["p2c", "c2p"],
        "position_biased_input": false, "type_vocab_size": 0,
        "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1
    })
    .as_object()
    .unwrap()
    .clone()
}

fn with(mut c: Map<String, Value>, key: &str, v: Value) -> Map<String, Value> {
    c.insert(key.into(), v);
    c
}

const HEAD: HeadKind = HeadKind::Classification { num_labels: 2 };

fn model(c: Map<String, Value>) -> DebertaV2ForSequenceClassification {
    DebertaV2ForSequenceClassification::random(c, HEAD, &Device::Cpu, 3).unwrap()
}

fn names(m: &DebertaV2ForSequenceClassification) -> Vec<String> {
    m.params().iter().map(|p| p.name.clone()).collect()
}

fn ids(rows: &[&[u32]]) -> Tensor {
    let l = rows.iter().map(|r| r.len()).max().unwrap();
    let data: Vec<u32> = rows
        .iter()
        .flat_map(|r| r.iter().copied().chain(std::iter::repeat_n(0, l - r.len())))
        .collect();
    Tensor::from_vec(data, (rows.len(), l), &Device::Cpu).unwrap()
}

fn run(
    m: &DebertaV2ForSequenceClassification,
    input_ids: &Tensor,
    rng: Option<&mut ChaCha8Rng>,
    ov: Option<&WeightOverrides>,
) -> Result<ForwardOutput, ModelError> {
    let mask = input_ids.ne(0u32).unwrap().to_dtype(DType::U32).unwrap();
    let tt = input_ids.zeros_like().unwrap();
    let input = ModelInput::Padded {
        input_ids,
        token_type_ids: &tt,
        attention_mask: &mask,
    };
    m.forward_input(&input, rng, ov)
}

#[test]
fn random_is_deterministic_sorted_and_follows_the_config() {
    let a = model(v3_config());
    assert_same_params(&a, &model(v3_config()));
    let n = names(&a);
    // 3 embedding + 3 encoder + 16 per layer + 4 head.
    assert_eq!(n.len(), 3 + 3 + 2 * 16 + 4);
    let rel = a.param("encoder.rel_embeddings.weight").unwrap();
    assert_eq!(rel.var.as_tensor().dims(), [8, 16]);
    assert!(a.param("encoder.LayerNorm.weight").is_some());
    assert!(a.param("embeddings.position_embeddings.weight").is_none());
    assert_eq!(row_abs_sum(&a, "embeddings.word_embeddings.weight", 0), 0.0);
}

#[test]
fn options_add_their_parameters() {
    let c = with(v3_config(), "share_att_key", json!(false));
    let c = with(c, "pos_att_type", json!("P2C|c2p"));
    let c = with(c, "position_biased_input", json!(true));
    let c = with(c, "type_vocab_size", json!(2));
    let c = with(c, "embedding_size", json!(8));
    let c = with(c, "position_buckets", json!(-1));
    let c = with(c, "max_relative_positions", json!(6));
    let m = model(c);
    let n = names(&m);
    for want in [
        "encoder.layer.1.attention.self.pos_key_proj.weight",
        "encoder.layer.1.attention.self.pos_query_proj.bias",
        "embeddings.position_embeddings.weight",
        "embeddings.token_type_embeddings.weight",
        "embeddings.embed_proj.weight",
    ] {
        assert!(n.iter().any(|x| x == want), "{want} missing from {n:?}");
    }
    assert!(!n.iter().any(|x| x == "embeddings.embed_proj.bias"));
    let rel = m.param("encoder.rel_embeddings.weight").unwrap();
    assert_eq!(rel.var.as_tensor().dims(), [12, 16]);
    assert_eq!(m.config().scale_factor(), 3);
    let x = ids(&[&[5, 6, 7, 8, 9, 10, 11, 12, 13, 14], &[3, 4]]);
    assert_eq!(run(&m, &x, None, None).unwrap().logits.dims(), [2, 2]);

    // c2p only: no pos_query_proj, scores divided by √(2d).
    let c = with(v3_config(), "share_att_key", json!(false));
    let m = model(with(c, "pos_att_type", json!(["c2p"])));
    let n = names(&m);
    assert!(n.iter().any(|x| x.contains("pos_key_proj")));
    assert!(!n.iter().any(|x| x.contains("pos_query_proj")));
    assert_eq!(m.config().scale_factor(), 2);

    // Without relative attention: no relative embeddings, still runs.
    let m = model(with(v3_config(), "relative_attention", json!(false)));
    assert!(m.param("encoder.rel_embeddings.weight").is_none());
    assert!(run(&m, &x, None, None).is_ok());
}

#[test]
fn unsupported_configs_name_the_key() {
    let cases = [
        ("conv_kernel_size", json!(3)),
        ("pooler_hidden_size", json!(8)),
        ("attention_head_size", json!(4)),
        ("hidden_act", json!("swish")),
        ("pooler_hidden_act", json!("silu_x")),
        ("num_attention_heads", json!(3)),
        ("position_buckets", json!(1)),
        ("share_att_key", json!("yes")),
        ("pos_att_type", json!(7)),
    ];
    for (key, v) in cases {
        let e = DebertaV2ForSequenceClassification::random(
            with(v3_config(), key, v),
            HEAD,
            &Device::Cpu,
            1,
        )
        .err()
        .unwrap_or_else(|| panic!("{key} accepted"));
        assert!(matches!(e, ModelError::UnsupportedConfig { .. }), "{e}");
        let msg = e.to_string();
        let named = msg.contains(key) || (key == "num_attention_heads" && msg.contains("heads"));
        assert!(named, "{key}: {msg}");
    }
}

#[test]
fn hf_config_keeps_every_key_with_the_current_dropout() {
    let mut m = model(with(v3_config(), "cls_dropout", json!(0.3)));
    assert_eq!(m.config_dropout().hidden, 0.1);
    assert_eq!(m.config().classifier_dropout(), 0.3);
    m.set_dropout(0.2);
    let c = m.hf_config().unwrap();
    assert_eq!(c["_name_or_path"], json!("tiny-v3"));
    assert_eq!(c["position_buckets"], json!(4));
    for k in [
        "hidden_dropout_prob",
        "attention_probs_dropout_prob",
        "pooler_dropout",
        "cls_dropout",
    ] {
        assert_eq!(c[k], json!(0.2), "{k}");
    }
    let again = model(c);
    assert_eq!(names(&again), names(&m));
    assert_eq!(again.config_dropout().attention, 0.2);
}

#[test]
fn checkpoint_tensors_load_and_a_missing_head_is_initialised() {
    let src = model(v3_config());
    let mut tensors: HashMap<String, Tensor> = src
        .params()
        .iter()
        .filter(|p| !p.name.starts_with("pooler.") && !p.name.starts_with("classifier."))
        .map(|p| (format!("deberta.{}", p.name), p.var.as_tensor().clone()))
        .collect();
    tensors.insert(
        "deberta.embeddings.position_ids".into(),
        Tensor::zeros(4, DType::U32, &Device::Cpu).unwrap(),
    );
    let (m, init) = DebertaV2ForSequenceClassification::from_config_and_tensors(
        v3_config(),
        HEAD,
        tensors.clone(),
        &Device::Cpu,
        9,
    )
    .unwrap();
    assert_eq!(
        init,
        [
            "classifier.bias",
            "classifier.weight",
            "pooler.dense.bias",
            "pooler.dense.weight"
        ]
    );
    let name = "encoder.layer.0.attention.self.key_proj.weight";
    let d = max_abs_diff(
        m.param(name).unwrap().var.as_tensor(),
        src.param(name).unwrap().var.as_tensor(),
    );
    assert_eq!(d, 0.0);
    tensors.remove("deberta.encoder.rel_embeddings.weight");
    let e = DebertaV2ForSequenceClassification::from_config_and_tensors(
        v3_config(),
        HEAD,
        tensors,
        &Device::Cpu,
        9,
    )
    .err()
    .unwrap();
    assert!(
        e.to_string().contains("encoder.rel_embeddings.weight"),
        "{e}"
    );
}

#[test]
fn overrides_replace_weights_and_receive_gradients() {
    let m = model(v3_config());
    let x = ids(&[&[5, 6, 7, 8, 9], &[3, 4, 2]]);
    for name in [
        "encoder.layer.1.attention.self.key_proj.weight",
        "encoder.rel_embeddings.weight",
        "pooler.dense.weight",
    ] {
        let w = m.param(name).unwrap().var.as_tensor();
        // Not a per-row scale or shift, which the LayerNorm on the relative embeddings
        // would undo.
        let changed = ((w * 2.0).unwrap() + (w.sqr().unwrap() * 50.0).unwrap()).unwrap();
        let ov_t = Var::from_tensor(&changed).unwrap();
        let mut ov = WeightOverrides::new();
        ov.insert(name.to_string(), ov_t.as_tensor().clone());
        let out = run(&m, &x, None, Some(&ov)).unwrap();
        let base = run(&m, &x, None, None).unwrap();
        assert_ne!(
            out.logits.to_vec2::<f32>().unwrap(),
            base.logits.to_vec2::<f32>().unwrap(),
            "{name}"
        );
        let labels = Tensor::new(&[0u32, 1], &Device::Cpu).unwrap();
        let grads = m.loss(&out.logits, &labels).unwrap().backward().unwrap();
        assert!(grads.get(ov_t.as_tensor()).is_some(), "{name}");
        assert!(grads.get(m.param(name).unwrap().var.as_tensor()).is_none());
        ov.insert(
            name.to_string(),
            Tensor::zeros((2, 2), DType::F32, &Device::Cpu).unwrap(),
        );
        let e = run(&m, &x, None, Some(&ov)).unwrap_err();
        assert!(e.to_string().contains(name), "{e}");
    }
}

#[test]
fn dropout_is_seeded_and_zero_dropout_draws_nothing() {
    let mut m = model(v3_config());
    let x = ids(&[&[5, 6, 7, 8, 9], &[3, 4, 2]]);
    let eval = run(&m, &x, None, None)
        .unwrap()
        .logits
        .to_vec2::<f32>()
        .unwrap();
    let train = |m: &DebertaV2ForSequenceClassification, seed| {
        let mut r = ChaCha8Rng::seed_from_u64(seed);
        run(m, &x, Some(&mut r), None)
            .unwrap()
            .logits
            .to_vec2::<f32>()
            .unwrap()
    };
    assert_eq!(train(&m, 5), train(&m, 5));
    assert_ne!(train(&m, 5), eval);
    m.set_dropout(0.0);
    let mut r = ChaCha8Rng::seed_from_u64(5);
    let before = r.clone();
    let t = run(&m, &x, Some(&mut r), None).unwrap().logits;
    assert_eq!(r, before);
    assert_eq!(t.to_vec2::<f32>().unwrap(), eval);
}

#[test]
fn input_limits_follow_the_positions() {
    // Relative positions only: longer than max_position_embeddings (32) is fine.
    let m = model(v3_config());
    let long: Vec<u32> = (0..40).map(|i| 3 + i % 40).collect();
    let x = ids(&[&long]);
    assert!(run(&m, &x, None, None).is_ok());
    assert!(!m.supports_packed());
    // Absolute positions: the limit is max_position_embeddings.
    let m = model(with(v3_config(), "position_biased_input", json!(true)));
    let e = run(&m, &x, None, None).unwrap_err();
    assert!(e.to_string().contains("max_position_embeddings"), "{e}");
    let bad = ids(&[&[5, 60]]);
    let e = run(&m, &bad, None, None).unwrap_err();
    assert!(e.to_string().contains("60"), "{e}");
    let tokens = Tensor::new(&[5u32, 6], &Device::Cpu).unwrap();
    let packed = ModelInput::Packed {
        input_ids: &tokens,
        token_type_ids: &tokens.zeros_like().unwrap(),
        offsets: &[0, 2],
    };
    let e = m.forward_input(&packed, None, None).unwrap_err();
    assert!(e.to_string().contains("padded"), "{e}");
}

#[test]
fn regression_head_has_one_output() {
    let m = DebertaV2ForSequenceClassification::random(
        v3_config(),
        HeadKind::Regression,
        &Device::Cpu,
        1,
    )
    .unwrap();
    assert_eq!(
        m.param("classifier.weight").unwrap().var.as_tensor().dims(),
        [1, 16]
    );
    let x = ids(&[&[5, 6, 7]]);
    assert_eq!(run(&m, &x, None, None).unwrap().logits.dims(), [1, 1]);
}
