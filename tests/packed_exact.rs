//! Packed batches are exact: the same batch gives the same loss and the same gradient for every
//! parameter whether its sequences are packed end to end or padded (to the longest item or to a
//! fixed length). On a tiny random BERT (1e-6) and on all-MiniLM-L6-v2 with real MRPC batches
//! (`../shared`, 1e-5).

mod common;

use candle_core::{Device, Tensor};
use dps_tui::config::{Method, TrainConfig};
use dps_tui::data::batching::{Encoded, ModelBatch, Padding};
use dps_tui::data::glue::Label;
use dps_tui::model::bert::{BertForSequenceClassification, HeadKind};
use dps_tui::model::BertConfig;
use dps_tui::model::SequenceClassifier;
use dps_tui::train::setup;
use std::path::Path;

/// Loss and every parameter's gradient (flattened, in parameter order) for one batch.
fn loss_and_grads(
    model: &dyn SequenceClassifier,
    batch: &ModelBatch,
) -> (f32, Vec<(String, Vec<f32>)>) {
    let out = model.forward_input(&batch.input(), None, None).unwrap();
    let loss = model.loss(&out.logits, batch.labels()).unwrap();
    let grads = loss.backward().unwrap();
    let gs = model
        .params()
        .iter()
        .map(|p| {
            let g = grads
                .get(p.var.as_tensor())
                .unwrap_or_else(|| panic!("{} got no gradient", p.name));
            (
                p.name.clone(),
                g.flatten_all().unwrap().to_vec1::<f32>().unwrap(),
            )
        })
        .collect();
    (loss.to_scalar::<f32>().unwrap(), gs)
}

/// Largest |x|.
fn max_abs(v: &[f32]) -> f32 {
    v.iter().fold(0f32, |m, x| m.max(x.abs()))
}

/// Assert that `packed` matches `padded`: the loss within `tol`, and every gradient element
/// within `tol` relative to its tensor's largest gradient (or to a thousandth of the model's
/// largest, for tensors whose exact gradient is zero and whose values are rounding noise, such
/// as the key biases). Returns the model's largest gradient element, so callers can check that
/// the comparison was not between near-zero values.
fn assert_same(
    what: &str,
    padded: &(f32, Vec<(String, Vec<f32>)>),
    packed: &(f32, Vec<(String, Vec<f32>)>),
    tol: f32,
) -> f32 {
    assert!(
        (padded.0 - packed.0).abs() <= tol,
        "{what}: loss padded {} vs packed {}",
        padded.0,
        packed.0
    );
    let global = padded
        .1
        .iter()
        .map(|(_, g)| max_abs(g))
        .fold(0f32, f32::max);
    for ((name, a), (_, b)) in padded.1.iter().zip(&packed.1) {
        let scale = max_abs(a).max(1e-3 * global);
        let diff = a.iter().zip(b).fold(0f32, |m, (x, y)| m.max((x - y).abs()));
        assert!(
            diff <= tol * scale,
            "{what}: gradient of {name} differs by {diff:e} (scale {scale:e})"
        );
    }
    global
}

fn item(ids: Vec<u32>, first_segment: usize, label: Label) -> Encoded {
    let type_ids = (0..ids.len())
        .map(|i| u32::from(i >= first_segment))
        .collect();
    Encoded {
        ids,
        type_ids,
        label,
    }
}

/// Sequences of lengths 7, 3, 12, 1, 9 and 12 with two segments each (where long enough).
fn tiny_items(vocab: u32, regression: bool) -> Vec<Encoded> {
    let lens = [7usize, 3, 12, 1, 9, 12];
    lens.iter()
        .enumerate()
        .map(|(n, &len)| {
            let ids = (0..len)
                .map(|i| 1 + ((n * 31 + i * 17) as u32 % (vocab - 1)))
                .collect();
            let label = if regression {
                Label::Score(n as f32 * 0.7 - 1.0)
            } else {
                Label::Class(n % 3)
            };
            item(ids, len / 2, label)
        })
        .collect()
}

fn tiny_model(head: HeadKind) -> BertForSequenceClassification {
    let mut cfg = BertConfig::tiny_demo(50);
    cfg.hidden_size = 32;
    cfg.num_attention_heads = 4;
    cfg.intermediate_size = 48;
    let mut m = BertForSequenceClassification::random(cfg, head, &Device::Cpu, 11).unwrap();
    m.set_dropout(0.0);
    m
}

#[test]
fn tiny_bert_packed_equals_padded_loss_and_every_gradient() {
    for head in [
        HeadKind::Classification { num_labels: 3 },
        HeadKind::Regression,
    ] {
        let model = tiny_model(head);
        let regression = head == HeadKind::Regression;
        let items = tiny_items(50, regression);
        let refs: Vec<&Encoded> = items.iter().collect();
        let dev = &Device::Cpu;
        let batch = |p| ModelBatch::new(&refs, p, 16, regression, dev).unwrap();
        let packed = loss_and_grads(&model, &batch(Padding::Packed));
        assert_eq!(packed.1.len(), model.params().len());
        for mode in [Padding::Longest, Padding::MaxLength] {
            let padded = loss_and_grads(&model, &batch(mode));
            let largest = assert_same(
                &format!("{head:?} {}", mode.as_str()),
                &padded,
                &packed,
                1e-6,
            );
            assert!(largest > 1e-3, "gradients too small to compare: {largest}");
        }
    }
}

#[test]
fn packed_outputs_are_per_sequence() {
    // A packed batch's logits equal each sequence run on its own: nothing leaks across
    // sequences.
    let model = tiny_model(HeadKind::Classification { num_labels: 3 });
    let items = tiny_items(50, false);
    let refs: Vec<&Encoded> = items.iter().collect();
    let dev = &Device::Cpu;
    let all = ModelBatch::new(&refs, Padding::Packed, 16, false, dev).unwrap();
    let logits = model
        .forward_input(&all.input(), None, None)
        .unwrap()
        .logits
        .to_vec2::<f32>()
        .unwrap();
    for (i, e) in refs.iter().enumerate() {
        let one = ModelBatch::new(&[*e], Padding::Packed, 16, false, dev).unwrap();
        let l = model
            .forward_input(&one.input(), None, None)
            .unwrap()
            .logits;
        let l = l.to_vec2::<f32>().unwrap();
        for (a, b) in l[0].iter().zip(&logits[i]) {
            assert!((a - b).abs() < 1e-6, "sequence {i}: {a} vs {b}");
        }
    }
}

#[test]
fn packed_input_errors_name_the_problem() {
    let model = tiny_model(HeadKind::Classification { num_labels: 3 });
    let dev = &Device::Cpu;
    let ids = Tensor::new(&[2u32, 7, 9, 3, 4], dev).unwrap();
    let tt = Tensor::new(&[0u32, 0, 1, 0, 0], dev).unwrap();
    for (offsets, want) in [
        (vec![0usize, 3, 4], "offsets"),
        (vec![0usize, 3, 3, 5], "offsets"),
        (vec![1usize, 5], "offsets"),
    ] {
        let input = dps_tui::model::ModelInput::Packed {
            input_ids: &ids,
            token_type_ids: &tt,
            offsets: &offsets,
        };
        let e = model.forward_input(&input, None, None).unwrap_err();
        assert!(e.to_string().contains(want), "{offsets:?}: {e}");
    }
    let empty = item(vec![], 0, Label::Class(0));
    let e = ModelBatch::new(&[&empty], Padding::Packed, 16, false, dev)
        .err()
        .unwrap();
    assert!(e.to_string().contains("no tokens"), "{e}");
}

#[test]
fn minilm_packed_equals_padded_on_real_mrpc_batches() {
    let model_dir = Path::new("../shared/models/all-MiniLM-L6-v2");
    let data_dir = Path::new("../shared/glue");
    if !model_dir.join("model.safetensors").is_file() || !data_dir.join("MRPC").is_dir() {
        common::skipped("../shared (all-MiniLM-L6-v2 and glue/MRPC) not found");
        return;
    }
    let config = TrainConfig {
        task: "mrpc".into(),
        model: model_dir.display().to_string(),
        method: Method::Vanilla,
        data_dir: Some(data_dir.to_path_buf()),
        dropout: dps_tui::config::Dropout::Fixed(0.0),
        ..TrainConfig::default()
    };
    let p = setup::prepare(&config).unwrap();
    let dev = &Device::Cpu;
    for start in [0usize, 1600] {
        let refs: Vec<&Encoded> = p.train.items[start..start + 16].iter().collect();
        let batch = |mode| ModelBatch::new(&refs, mode, 128, false, dev).unwrap();
        let packed = loss_and_grads(p.model.as_ref(), &batch(Padding::Packed));
        let padded = loss_and_grads(p.model.as_ref(), &batch(Padding::Longest));
        let largest = assert_same(&format!("MRPC batch at {start}"), &padded, &packed, 1e-5);
        assert!(largest > 1e-3, "gradients too small to compare: {largest}");
    }
}
