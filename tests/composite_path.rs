//! The path a CUDA (or Metal) device takes, checked on the CPU: the whole encoder forward and
//! backward with every op on its composite candle implementation (`ops::with_composite_ops`)
//! against the fused CPU kernels, with and without dropout (attention dropout takes the
//! masked-softmax path, no dropout the fused attention core), for both heads.

use candle_core::{DType, Device, Tensor};
use dps_tui::model::ops;
use dps_tui::model::SequenceClassifier;
use dps_tui::model::{BertConfig, BertForSequenceClassification, HeadKind};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

fn model(head: HeadKind, dropout: f64) -> BertForSequenceClassification {
    let mut cfg = BertConfig::tiny_demo(60);
    cfg.hidden_size = 32;
    cfg.num_attention_heads = 4;
    cfg.intermediate_size = 64;
    let mut m = BertForSequenceClassification::random(cfg, head, &Device::Cpu, 11).unwrap();
    m.set_dropout(dropout);
    m
}

/// Forward + backward of one batch (with padding); returns the logits, the loss and the
/// gradient of every parameter, in parameter order.
fn run(m: &BertForSequenceClassification, dropout: bool) -> (Tensor, f32, Vec<Tensor>) {
    let d = &Device::Cpu;
    let ids = Tensor::new(
        &[
            [2u32, 17, 9, 41, 5, 3],
            [3, 4, 22, 0, 0, 0],
            [7, 8, 0, 0, 0, 0],
        ],
        d,
    )
    .unwrap();
    let tt = Tensor::new(
        &[
            [0u32, 0, 0, 1, 1, 1],
            [0, 0, 1, 0, 0, 0],
            [0, 0, 0, 0, 0, 0],
        ],
        d,
    )
    .unwrap();
    let mask = ids.ne(0u32).unwrap().to_dtype(DType::U32).unwrap();
    let labels = match m.head() {
        HeadKind::Regression => Tensor::new(&[0.5f32, -1.0, 2.0], d).unwrap(),
        _ => Tensor::new(&[1u32, 0, 1], d).unwrap(),
    };
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let out = m
        .forward(&ids, &tt, &mask, dropout.then_some(&mut rng), None)
        .unwrap();
    let loss = m.loss(&out.logits, &labels).unwrap();
    let grads = loss.backward().unwrap();
    let gs = m
        .params()
        .iter()
        .map(|p| {
            grads
                .get(p.var.as_tensor())
                .unwrap_or_else(|| panic!("no gradient for {}", p.name))
                .clone()
        })
        .collect();
    (out.logits, loss.to_scalar::<f32>().unwrap(), gs)
}

fn max_abs(t: &Tensor) -> f32 {
    t.abs()
        .unwrap()
        .flatten_all()
        .unwrap()
        .max(0)
        .unwrap()
        .to_scalar::<f32>()
        .unwrap()
}

fn assert_close(what: &str, a: &Tensor, b: &Tensor, tol: f32) {
    assert_eq!(a.dims(), b.dims(), "{what}: shapes differ");
    let diff = max_abs(&(a - b).unwrap());
    let scale = max_abs(b).max(1e-3);
    assert!(
        diff <= tol * scale,
        "{what}: max abs diff {diff:e} exceeds {tol:e} × {scale:e}"
    );
}

fn check(head: HeadKind, dropout: bool) {
    let m = model(head, if dropout { 0.1 } else { 0.0 });
    let (lf, loss_f, gf) = run(&m, dropout);
    let (lc, loss_c, gc) = ops::with_composite_ops(|| run(&m, dropout));
    let tag = format!("{head:?} dropout={dropout}");
    assert_close(&format!("{tag}: logits"), &lf, &lc, 1e-4);
    assert!(
        (loss_f - loss_c).abs() <= 1e-5 * loss_c.abs().max(1.0),
        "{tag}: loss {loss_f} (fused) vs {loss_c} (composite)"
    );
    let mut nonzero = 0;
    for ((p, a), b) in m.params().iter().zip(&gf).zip(&gc) {
        assert_close(&format!("{tag}: grad of {}", p.name), a, b, 1e-3);
        nonzero += usize::from(max_abs(b) > 0.0);
    }
    // The comparison means something only if gradients reach (nearly) every parameter.
    assert!(
        nonzero + 2 >= m.params().len(),
        "{tag}: only {nonzero} of {} gradients are non-zero",
        m.params().len()
    );
}

#[test]
fn composite_path_matches_fused_classification() {
    check(HeadKind::Classification { num_labels: 2 }, false);
    check(HeadKind::Classification { num_labels: 2 }, true);
}

#[test]
fn composite_path_matches_fused_regression() {
    check(HeadKind::Regression, false);
    check(HeadKind::Regression, true);
}

#[test]
fn composite_switch_is_scoped_and_changes_the_path() {
    // Fused and composite kernels sum in different orders, so over a long row their results
    // differ in the last bits: that tells which path ran.
    let n = 4096;
    let v: Vec<f32> = (0..n)
        .map(|i| ((i * 7919 % 1000) as f32 / 250.0) - 2.0)
        .collect();
    let x = Tensor::from_vec(v, (1, n), &Device::Cpu).unwrap();
    let w = (Tensor::ones(n, DType::F32, &Device::Cpu).unwrap() * 1.5).unwrap();
    let b = Tensor::zeros(n, DType::F32, &Device::Cpu).unwrap();
    let bits = |t: &Tensor| -> Vec<u32> {
        let v = t.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        v.iter().map(|x| x.to_bits()).collect()
    };
    let paths = || {
        (
            ops::layer_norm(&x, &w, &b, 1e-12).unwrap(),
            ops::gelu_erf(&x).unwrap(),
        )
    };
    let (ln_f, ge_f) = paths();
    let (ln_c, ge_c) = ops::with_composite_ops(paths);
    let (ln_again, ge_again) = paths();
    assert_close("layer norm", &ln_f, &ln_c, 1e-5);
    assert_close("gelu", &ge_f, &ge_c, 1e-5);
    assert!(
        bits(&ln_f) != bits(&ln_c) || bits(&ge_f) != bits(&ge_c),
        "with_composite_ops did not change the path"
    );
    assert_eq!(
        bits(&ln_f),
        bits(&ln_again),
        "the switch leaked past its scope"
    );
    assert_eq!(
        bits(&ge_f),
        bits(&ge_again),
        "the switch leaked past its scope"
    );
}
