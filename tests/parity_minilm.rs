//! Parity of the BERT encoder with transformers on the real all-MiniLM-L6-v2 checkpoint
//! (`../shared/models/all-MiniLM-L6-v2`) against `../shared/reference/minilm/expected.json`:
//! `last_hidden_state[0, 0]` and `pooler_output`, one input at a time and as a padded batch.

mod common;

use dps_tui::model::SequenceClassifier;
use std::path::Path;

use candle_core::{Device, Tensor};
use dps_tui::model::{BertForSequenceClassification, HeadKind};

const TOL: f32 = 1e-4;

struct Item {
    ids: Vec<u32>,
    types: Vec<u32>,
    mask: Vec<u32>,
    cls: Vec<f32>,
    pooler: Vec<f32>,
}

fn u32s(v: &serde_json::Value, key: &str) -> Vec<u32> {
    v[key]
        .as_array()
        .unwrap_or_else(|| panic!("expected.json item has no {key}"))
        .iter()
        .map(|x| x.as_u64().unwrap() as u32)
        .collect()
}

fn f32s(v: &serde_json::Value, key: &str) -> Vec<f32> {
    v[key]
        .as_array()
        .unwrap_or_else(|| panic!("expected.json item has no {key}"))
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect()
}

fn setup() -> Option<(BertForSequenceClassification, Vec<Item>)> {
    let model_dir = Path::new("../shared/models/all-MiniLM-L6-v2");
    let expected = Path::new("../shared/reference/minilm/expected.json");
    if !model_dir.join("model.safetensors").is_file() || !expected.is_file() {
        common::skipped("../shared not found (no all-MiniLM-L6-v2 model or minilm/expected.json)");
        return None;
    }
    let (model, initialised) = BertForSequenceClassification::load_dir(
        model_dir,
        HeadKind::Classification { num_labels: 2 },
        &Device::Cpu,
        0,
    )
    .unwrap();
    // The checkpoint has a pooler but no classifier.
    assert_eq!(initialised, vec!["classifier.bias", "classifier.weight"]);
    assert_eq!(model.params().len(), 5 + 6 * 16 + 4);
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(expected).unwrap()).unwrap();
    let items: Vec<Item> = json["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| Item {
            ids: u32s(v, "input_ids"),
            types: u32s(v, "token_type_ids"),
            mask: u32s(v, "attention_mask"),
            cls: f32s(v, "cls"),
            pooler: f32s(v, "pooler_output"),
        })
        .collect();
    assert_eq!(items.len(), 9);
    Some((model, items))
}

fn max_err(got: &[f32], want: &[f32]) -> f32 {
    assert_eq!(got.len(), want.len());
    got.iter()
        .zip(want)
        .map(|(a, b)| {
            assert!(a.is_finite());
            (a - b).abs()
        })
        .fold(0.0, f32::max)
}

/// Run a right-padded batch; returns (cls rows, pooler rows).
fn run(model: &BertForSequenceClassification, items: &[&Item]) -> (Vec<Vec<f32>>, Vec<Vec<f32>>) {
    let len = items.iter().map(|i| i.ids.len()).max().unwrap();
    let pad = |v: &Vec<u32>| {
        let mut v = v.clone();
        v.resize(len, 0);
        v
    };
    let d = &Device::Cpu;
    let b = items.len();
    let mk = |f: &dyn Fn(&Item) -> &Vec<u32>| {
        let flat: Vec<u32> = items.iter().flat_map(|i| pad(f(i))).collect();
        Tensor::from_vec(flat, (b, len), d).unwrap()
    };
    let out = model
        .forward(
            &mk(&|i| &i.ids),
            &mk(&|i| &i.types),
            &mk(&|i| &i.mask),
            None,
            None,
        )
        .unwrap();
    let last = out.hidden_states.last().unwrap();
    let cls: Vec<Vec<f32>> = last
        .narrow(1, 0, 1)
        .unwrap()
        .squeeze(1)
        .unwrap()
        .to_vec2()
        .unwrap();
    (cls, out.pooler_output.to_vec2().unwrap())
}

#[test]
fn minilm_one_at_a_time_matches_transformers() {
    let Some((model, items)) = setup() else {
        return;
    };
    let (mut worst_cls, mut worst_pool) = (0f32, 0f32);
    for (n, item) in items.iter().enumerate() {
        let (cls, pool) = run(&model, &[item]);
        let ec = max_err(&cls[0], &item.cls);
        let ep = max_err(&pool[0], &item.pooler);
        assert!(ec <= TOL, "item {n}: cls differs by {ec}");
        assert!(ep <= TOL, "item {n}: pooler_output differs by {ep}");
        worst_cls = worst_cls.max(ec);
        worst_pool = worst_pool.max(ep);
    }
    eprintln!(
        "MiniLM one at a time: cls max abs error {worst_cls:.3e}, pooler_output {worst_pool:.3e}"
    );
}

#[test]
fn minilm_padded_batch_matches_transformers() {
    let Some((model, items)) = setup() else {
        return;
    };
    let refs: Vec<&Item> = items.iter().collect();
    assert!(
        refs.iter().any(|i| i.ids.len() < 128),
        "the batch must contain padding"
    );
    let (cls, pool) = run(&model, &refs);
    let (mut worst_cls, mut worst_pool) = (0f32, 0f32);
    for (n, item) in items.iter().enumerate() {
        let ec = max_err(&cls[n], &item.cls);
        let ep = max_err(&pool[n], &item.pooler);
        assert!(
            ec <= TOL,
            "item {n}: cls differs by {ec} in the padded batch"
        );
        assert!(
            ep <= TOL,
            "item {n}: pooler_output differs by {ep} in the padded batch"
        );
        worst_cls = worst_cls.max(ec);
        worst_pool = worst_pool.max(ep);
    }
    eprintln!("MiniLM padded batch of 9: cls max abs error {worst_cls:.3e}, pooler_output {worst_pool:.3e}");
}
