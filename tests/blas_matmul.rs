//! `blas::matmul` against candle's own matmul: forward values and gradients,
//! for plain, transposed-view, strided, broadcast and batched (3-D, 4-D attention) operands.
//! Runs with and without the `openblas` feature (without it both sides are candle's matmul).

#[allow(dead_code)]
#[path = "../src/model/blas/mod.rs"]
mod blas;

use candle_core::{DType, Device, IndexOp, Tensor, Var};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Relative tolerance: max |got - want| over max |want|.
const TOL: f32 = 1e-4;

fn rand_tensor(rng: &mut ChaCha8Rng, dims: &[usize]) -> Tensor {
    let n: usize = dims.iter().product();
    let data: Vec<f32> = (0..n).map(|_| rng.random_range(-1.0f32..1.0)).collect();
    Tensor::from_vec(data, dims, &Device::Cpu).unwrap()
}

/// max |got - want| / max |want| (over all elements, after checking shapes agree).
fn rel_err(got: &Tensor, want: &Tensor) -> f32 {
    assert_eq!(got.dims(), want.dims(), "shape mismatch");
    let got = got.to_dtype(DType::F32).unwrap().flatten_all().unwrap();
    let want = want.to_dtype(DType::F32).unwrap().flatten_all().unwrap();
    let diff = (&got - &want)
        .unwrap()
        .abs()
        .unwrap()
        .max(0)
        .unwrap()
        .to_scalar::<f32>()
        .unwrap();
    let scale = want
        .abs()
        .unwrap()
        .max(0)
        .unwrap()
        .to_scalar::<f32>()
        .unwrap();
    assert!(
        scale > 0.0,
        "reference is all zeros; the test would be vacuous"
    );
    diff / scale
}

fn assert_close(what: &str, got: &Tensor, want: &Tensor) {
    let e = rel_err(got, want);
    assert!(e <= TOL, "{what}: relative error {e:e} > {TOL:e}");
}

/// Forward of `blas::matmul(a, b)` against candle's matmul of contiguous copies.
fn check_forward(what: &str, a: &Tensor, b: &Tensor) {
    let got = blas::matmul(a, b).unwrap();
    let want = a
        .contiguous()
        .unwrap()
        .matmul(&b.contiguous().unwrap())
        .unwrap();
    assert_close(what, &got, &want);
}

#[test]
fn enabled_matches_feature() {
    assert_eq!(blas::enabled(), cfg!(feature = "openblas"));
    assert_eq!(blas::num_threads().is_some(), blas::enabled());
    assert_eq!(blas::config().is_some(), blas::enabled());
}

#[test]
fn forward_2d() {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    for &(m, k, n) in &[
        (1, 1, 1),
        (37, 53, 29),
        (1, 64, 7),
        (9, 1, 5),
        (256, 384, 512),
    ] {
        let a = rand_tensor(&mut rng, &[m, k]);
        let b = rand_tensor(&mut rng, &[k, n]);
        check_forward(&format!("2-D {m}x{k}x{n}"), &a, &b);
    }
}

#[test]
fn forward_transposed_views() {
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    let (m, k, n) = (45, 70, 33);
    let a = rand_tensor(&mut rng, &[m, k]);
    let at = rand_tensor(&mut rng, &[k, m]);
    let b = rand_tensor(&mut rng, &[k, n]);
    let bt = rand_tensor(&mut rng, &[n, k]);
    check_forward("A·Bᵀview", &a, &bt.t().unwrap());
    check_forward("Aᵀview·B", &at.t().unwrap(), &b);
    check_forward("Aᵀview·Bᵀview", &at.t().unwrap(), &bt.t().unwrap());
    // The MiniLM FFN linear: [2048,384]·[1536,384]ᵀ.
    let x = rand_tensor(&mut rng, &[2048, 384]);
    let w = rand_tensor(&mut rng, &[1536, 384]);
    check_forward("FFN x·wᵀ", &x, &w.t().unwrap());
}

#[test]
fn forward_strided_and_broadcast() {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    // Row-major with padded rows (leading dim larger than the row length).
    let wide = rand_tensor(&mut rng, &[20, 50]);
    let a = wide.narrow(1, 5, 30).unwrap();
    let b = rand_tensor(&mut rng, &[30, 11]);
    check_forward("narrowed lhs", &a, &b);
    check_forward(
        "narrowed rhs (transposed)",
        &b.t().unwrap(),
        &a.t().unwrap(),
    );
    // Neither row- nor column-major (every other element): copied.
    let pairs = rand_tensor(&mut rng, &[20, 30, 2]);
    let a = pairs.i((.., .., 1)).unwrap();
    assert_eq!(a.stride(), &[60, 2]);
    check_forward("element-strided lhs", &a, &b);
    // A broadcast row (stride 0 along rows): copied.
    let row = rand_tensor(&mut rng, &[1, 30]);
    let a = row.broadcast_as((20, 30)).unwrap();
    check_forward("broadcast lhs", &a, &b);
    // A batch dim with stride 0 (the same matrix for every item).
    let w = rand_tensor(&mut rng, &[1, 30, 11]);
    let x = rand_tensor(&mut rng, &[4, 20, 30]);
    check_forward(
        "broadcast batch rhs",
        &x,
        &w.broadcast_as((4, 30, 11)).unwrap(),
    );
}

#[test]
fn forward_batched_3d() {
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    let a = rand_tensor(&mut rng, &[4, 33, 17]);
    let b = rand_tensor(&mut rng, &[4, 17, 21]);
    check_forward("3-D", &a, &b);
    let bt = rand_tensor(&mut rng, &[4, 21, 17]);
    check_forward("3-D rhs transposed view", &a, &bt.transpose(1, 2).unwrap());
    let at = rand_tensor(&mut rng, &[4, 17, 33]);
    check_forward("3-D lhs transposed view", &at.transpose(1, 2).unwrap(), &b);
    // Batch-major stored as [k, batch, m]: permuted to [batch, m, k], column-major per item.
    let kbm = rand_tensor(&mut rng, &[17, 4, 33]);
    check_forward("3-D permuted lhs", &kbm.permute((1, 2, 0)).unwrap(), &b);
}

#[test]
fn forward_batched_4d_attention() {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let (bs, h, t, d) = (16, 12, 128, 32);
    let q = rand_tensor(&mut rng, &[bs, h, t, d]);
    let k = rand_tensor(&mut rng, &[bs, h, t, d]);
    let v = rand_tensor(&mut rng, &[bs, h, t, d]);
    let kt = k.transpose(2, 3).unwrap();
    check_forward("q·kᵀ", &q, &kt);
    let scores = blas::matmul(&q, &kt).unwrap();
    assert_eq!(scores.dims(), &[bs, h, t, t]);
    check_forward("scores·v", &scores, &v);
    // Heads split from [b, t, h, d] by a transpose, as in BERT attention (non-uniform batch
    // strides, which candle's matmul itself rejects: the reference uses contiguous copies).
    let qs = rand_tensor(&mut rng, &[bs, t, h, d])
        .transpose(1, 2)
        .unwrap();
    check_forward("head-split q·kᵀ", &qs, &kt);
}

#[test]
fn threading_modes_agree() {
    let mut rng = ChaCha8Rng::seed_from_u64(6);
    let a = rand_tensor(&mut rng, &[2, 300, 200]);
    let b = rand_tensor(&mut rng, &[2, 200, 170])
        .transpose(1, 2)
        .unwrap();
    let b = b.contiguous().unwrap().transpose(1, 2).unwrap();
    let a1 = rand_tensor(&mut rng, &[1, 70, 200]);
    let b1 = rand_tensor(&mut rng, &[1, 200, 500]);
    let want = a.matmul(&b.contiguous().unwrap()).unwrap();
    let want1 = a1.matmul(&b1).unwrap();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(3)
        .build()
        .unwrap();
    // Serial (OpenBLAS-threaded), split over batch items, split by rows, split by columns.
    for blas_threads in [2, 1] {
        blas::set_num_threads(blas_threads);
        pool.install(|| {
            let got = blas::matmul(&a, &b).unwrap();
            assert_close(
                &format!("batch split, {blas_threads} blas threads"),
                &got,
                &want,
            );
            let got = blas::matmul(&a.i(0).unwrap(), &b.i(0).unwrap()).unwrap();
            assert_close("row split", &got, &want.i(0).unwrap());
            let got = blas::matmul(&a1, &b1).unwrap();
            assert_close("column split", &got, &want1);
        });
    }
}

/// Gradients of `sum(matmul(f(A), g(B)) ⊙ R)` for `A`, `B` through blas vs candle.
fn check_grads(
    what: &str,
    a_dims: &[usize],
    b_dims: &[usize],
    prep_a: impl Fn(&Tensor) -> Tensor,
    prep_b: impl Fn(&Tensor) -> Tensor,
    seed: u64,
) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let a = Var::from_tensor(&rand_tensor(&mut rng, a_dims)).unwrap();
    let b = Var::from_tensor(&rand_tensor(&mut rng, b_dims)).unwrap();
    let (fa, fb) = (prep_a(a.as_tensor()), prep_b(b.as_tensor()));
    let out = blas::matmul(&fa, &fb).unwrap();
    let want_out = fa
        .contiguous()
        .unwrap()
        .matmul(&fb.contiguous().unwrap())
        .unwrap();
    assert_close(&format!("{what} forward"), &out, &want_out);
    let r = rand_tensor(&mut rng, out.dims());
    let grads = (&out * &r).unwrap().sum_all().unwrap().backward().unwrap();
    let want = (&want_out * &r)
        .unwrap()
        .sum_all()
        .unwrap()
        .backward()
        .unwrap();
    for (name, v) in [("dA", &a), ("dB", &b)] {
        let got = grads
            .get(v.as_tensor())
            .expect("blas path gave no gradient");
        let exp = want.get(v.as_tensor()).expect("candle gave no gradient");
        assert_close(&format!("{what} {name}"), got, exp);
    }
}

#[test]
fn gradients_2d_and_transposed() {
    let id = |t: &Tensor| t.clone();
    let tr = |t: &Tensor| t.t().unwrap();
    check_grads("2-D", &[31, 47], &[47, 23], id, id, 10);
    check_grads("x·wᵀ", &[64, 96], &[80, 96], id, tr, 11);
    check_grads("aᵀ·b", &[47, 31], &[47, 23], tr, id, 12);
}

#[test]
fn gradients_batched() {
    let id = |t: &Tensor| t.clone();
    let tr = |t: &Tensor| t.transpose(2, 3).unwrap();
    check_grads("3-D", &[3, 19, 28], &[3, 28, 13], id, id, 20);
    check_grads(
        "attention q·kᵀ",
        &[16, 12, 128, 32],
        &[16, 12, 128, 32],
        id,
        tr,
        21,
    );
    check_grads(
        "attention p·v",
        &[16, 12, 128, 128],
        &[16, 12, 128, 32],
        id,
        id,
        22,
    );
}

#[test]
fn shape_errors_and_fallbacks() {
    let mut rng = ChaCha8Rng::seed_from_u64(40);
    let a = rand_tensor(&mut rng, &[3, 4]);
    let b = rand_tensor(&mut rng, &[5, 6]);
    assert!(blas::matmul(&a, &b).is_err(), "inner dims differ");
    let a3 = rand_tensor(&mut rng, &[2, 3, 4]);
    let b3 = rand_tensor(&mut rng, &[3, 4, 6]);
    assert!(blas::matmul(&a3, &b3).is_err(), "batch sizes differ");
    assert!(
        blas::matmul(&a3, &rand_tensor(&mut rng, &[4, 6])).is_err(),
        "ranks differ"
    );
    let err = blas::matmul(&a, &b).unwrap_err().to_string();
    assert!(err.contains("[3, 4]") && err.contains("[5, 6]"), "{err}");
    // f64 falls back to candle's matmul.
    let a64 = a.to_dtype(DType::F64).unwrap();
    let b64 = rand_tensor(&mut rng, &[4, 6]).to_dtype(DType::F64).unwrap();
    let got = blas::matmul(&a64, &b64).unwrap();
    assert_eq!(got.dtype(), DType::F64);
    assert_close("f64 fallback", &got, &a64.matmul(&b64).unwrap());
}
