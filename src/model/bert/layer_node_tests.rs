//! The encoder layer as one graph node (`ops::encoder_layer`) against the per-op path: the same
//! logits bit for bit, the same dropout draws, and the same gradient for every parameter, on
//! padded and packed inputs, with and without dropout, and with a weight override.

use super::*;
use crate::model::inputs::ModelInput;
use candle_core::Var;
use rand::SeedableRng;

fn model() -> BertForSequenceClassification {
    let mut cfg = BertConfig::tiny_demo(60);
    cfg.hidden_size = 32;
    cfg.intermediate_size = 48;
    BertForSequenceClassification::random(
        cfg,
        HeadKind::Classification { num_labels: 3 },
        &Device::Cpu,
        11,
    )
    .unwrap()
}

/// Packed input over `ids` and `tt`, sequence `i` in rows `offsets[i]..offsets[i + 1]`.
fn packed<'a>(ids: &'a Tensor, tt: &'a Tensor, offsets: &'a [usize]) -> ModelInput<'a> {
    ModelInput::Packed {
        input_ids: ids,
        token_type_ids: tt,
        offsets,
    }
}

/// Nine tokens packed as sequences of 4, 2 and 3 ([`NINE_OFFSETS`]), with token types `tt`
/// (all zero when `None`).
fn nine_tokens(tt: Option<&[u32]>) -> (Tensor, Tensor) {
    let d = &Device::Cpu;
    let ids = Tensor::new(&[2u32, 7, 9, 5, 3, 4, 8, 1, 6], d).unwrap();
    let tt = match tt {
        Some(t) => Tensor::new(t, d).unwrap(),
        None => Tensor::zeros(9, DType::U32, d).unwrap(),
    };
    (ids, tt)
}

const NINE_OFFSETS: [usize; 4] = [0, 4, 6, 9];

/// Logits, the dropout stream's state after the forward pass, and every parameter's
/// gradient (and the override's, if any), in parameter order.
type Outcome = (Vec<Vec<f32>>, ChaCha8Rng, Vec<(String, Vec<f32>)>);

fn run(
    m: &BertForSequenceClassification,
    input: &ModelInput,
    seed: Option<u64>,
    ov: Option<&WeightOverrides>,
) -> Outcome {
    let mut rng = ChaCha8Rng::seed_from_u64(seed.unwrap_or(0));
    let out = m
        .forward_input(input, seed.is_some().then_some(&mut rng), ov)
        .unwrap();
    let labels = Tensor::new(&[0u32, 2, 1], &Device::Cpu).unwrap();
    let grads = m.loss(&out.logits, &labels).unwrap().backward().unwrap();
    let mut gs: Vec<(String, Vec<f32>)> = m
        .params()
        .iter()
        .filter_map(|p| {
            let g = grads.get(p.var.as_tensor())?;
            Some((p.name.clone(), g.flatten_all().unwrap().to_vec1().unwrap()))
        })
        .collect();
    for (name, t) in ov.into_iter().flat_map(|o| o.iter()) {
        let g = grads.get(t).expect("the override gets a gradient");
        gs.push((
            format!("override {name}"),
            g.flatten_all().unwrap().to_vec1().unwrap(),
        ));
    }
    (out.logits.to_vec2().unwrap(), rng, gs)
}

/// The same logits bit for bit, the same random stream, and every gradient within `1e-5` of
/// its tensor's largest element.
fn assert_same(what: &str, node: &Outcome, per_op: &Outcome) {
    assert_eq!(node.0, per_op.0, "{what}: logits");
    assert_eq!(node.1, per_op.1, "{what}: dropout draws");
    assert_eq!(node.2.len(), per_op.2.len(), "{what}: gradients");
    let mut largest = 0f32;
    for ((name, a), (name_b, b)) in node.2.iter().zip(&per_op.2) {
        assert_eq!(name, name_b);
        let scale = b.iter().fold(0f32, |s, x| s.max(x.abs()));
        largest = largest.max(scale);
        let diff = a.iter().zip(b).fold(0f32, |s, (x, y)| s.max((x - y).abs()));
        assert!(
            diff <= 1e-5 * scale.max(1e-6),
            "{what}: gradient of {name} differs by {diff:e} (scale {scale:e})"
        );
    }
    assert!(largest > 1e-3, "{what}: gradients too small to compare");
}

/// Runs `f` and checks that it built `nodes` layer nodes.
fn counting<R>(nodes: usize, f: impl FnOnce() -> R) -> R {
    let before = ops::layer_nodes_built();
    let r = f();
    assert_eq!(
        ops::layer_nodes_built() - before,
        nodes,
        "layer nodes built"
    );
    r
}

fn both(m: &BertForSequenceClassification, input: &ModelInput, seed: Option<u64>) {
    let layers = m.config().num_hidden_layers;
    let node = counting(layers, || run(m, input, seed, None));
    let per_op = counting(0, || ops::with_per_op_layers(|| run(m, input, seed, None)));
    assert_same(&format!("seed {seed:?}"), &node, &per_op);
}

#[test]
fn padded_and_packed_match_the_per_op_path() {
    let d = &Device::Cpu;
    let m = model();
    let ids = Tensor::new(&[[2u32, 7, 9, 5, 0], [3, 4, 0, 0, 0], [8, 1, 6, 0, 0]], d).unwrap();
    let tt = Tensor::new(&[[0u32, 0, 1, 1, 0], [0, 0, 0, 0, 0], [0, 1, 1, 0, 0]], d).unwrap();
    let mask = Tensor::new(&[[1u32, 1, 1, 1, 0], [1, 1, 0, 0, 0], [1, 1, 1, 0, 0]], d).unwrap();
    let padded = ModelInput::Padded {
        input_ids: &ids,
        token_type_ids: &tt,
        attention_mask: &mask,
    };
    let (pids, ptt) = nine_tokens(Some(&[0, 0, 1, 1, 0, 0, 0, 1, 1]));
    let packed = packed(&pids, &ptt, &NINE_OFFSETS);
    for input in [&padded, &packed] {
        both(&m, input, None);
        both(&m, input, Some(5));
    }
}

#[test]
fn families_without_attention_output_dropout_match() {
    // DistilBERT's layout has no dropout on the attention output: the node must draw the
    // same masks as the per-op path there too.
    let v = serde_json::json!({"model_type": "distilbert", "dim": 32, "n_layers": 2,
        "n_heads": 4, "hidden_dim": 48, "dropout": 0.1, "attention_dropout": 0.1,
        "vocab_size": 60});
    let cfg = BertConfig::from_json_str(&v.to_string(), None).unwrap();
    let m = BertForSequenceClassification::random(
        cfg,
        HeadKind::Classification { num_labels: 3 },
        &Device::Cpu,
        4,
    )
    .unwrap();
    let (pids, ptt) = nine_tokens(None);
    let packed = packed(&pids, &ptt, &NINE_OFFSETS);
    both(&m, &packed, Some(9));
}

#[test]
fn overrides_get_gradients_through_the_node() {
    let m = model();
    let name = "encoder.layer.0.intermediate.dense.weight";
    let w = m.param(name).unwrap().var.as_tensor();
    let ov_t = Var::from_tensor(&(w * 1.5).unwrap()).unwrap();
    let mut ov = WeightOverrides::new();
    ov.insert(name.to_string(), ov_t.as_tensor().clone());
    let (pids, ptt) = nine_tokens(None);
    let packed = packed(&pids, &ptt, &NINE_OFFSETS);
    let node = counting(2, || run(&m, &packed, Some(3), Some(&ov)));
    let per_op = counting(0, || {
        ops::with_per_op_layers(|| run(&m, &packed, Some(3), Some(&ov)))
    });
    assert!(
        !node.2.iter().any(|(n, _)| n == name),
        "the replaced weight got a gradient"
    );
    assert_same("override", &node, &per_op);
}

#[test]
fn the_node_does_not_depend_on_the_thread_count() {
    // Wide enough that the stacked q/k/v products have an inner dimension over 512 in the
    // backward pass (the blocked split) and the FFN products run blocked too.
    let mut cfg = BertConfig::tiny_demo(60);
    cfg.hidden_size = 256;
    cfg.intermediate_size = 640;
    cfg.num_hidden_layers = 1;
    let m = BertForSequenceClassification::random(
        cfg,
        HeadKind::Classification { num_labels: 3 },
        &Device::Cpu,
        8,
    )
    .unwrap();
    let d = &Device::Cpu;
    let ids: Vec<u32> = (0..40).map(|i| (i * 7 % 59) + 1).collect();
    let pids = Tensor::new(ids.as_slice(), d).unwrap();
    let ptt = Tensor::zeros(40, DType::U32, d).unwrap();
    let offsets = [0, 17, 29, 40];
    let packed = packed(&pids, &ptt, &offsets);
    let pool = |n| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build()
            .unwrap()
    };
    let one = pool(1).install(|| run(&m, &packed, Some(2), None));
    let three = pool(3).install(|| run(&m, &packed, Some(2), None));
    assert_eq!(one.0, three.0, "logits");
    assert_eq!(one.2, three.2, "gradients differ between 1 and 3 threads");
}
