//! Fused CPU ops (`src/model/ops`) against candle's composite implementations: forward values,
//! gradients, finite differences, f64 ground truth, non-contiguous inputs and thread-count
//! independence.

mod common;
use common::max_abs_diff;

use dps_tui::model::ops;

use candle_core::{DType, Device, Result, Tensor, Var, D};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Deterministic normal(0, std) f32 tensor.
fn randn(rng: &mut ChaCha8Rng, shape: &[usize], std: f32) -> Tensor {
    let n: usize = shape.iter().product();
    let v: Vec<f32> = (0..n)
        .map(|_| {
            let u1: f32 = rng.random_range(1e-7f32..1.0);
            let u2: f32 = rng.random_range(0f32..1.0);
            std * (-2.0 * u1.ln()).sqrt() * (2.0 * std::f32::consts::PI * u2).cos()
        })
        .collect();
    Tensor::from_vec(v, shape, &Device::Cpu).unwrap()
}

/// Additive attention mask [b, 1, 1, lk]: 0 for the first `len` keys of each batch row, `neg`
/// after. `lens[i] == 0` masks a whole row.
fn key_mask(lens: &[usize], lk: usize, neg: f32) -> Tensor {
    let v: Vec<f32> = lens
        .iter()
        .flat_map(|&len| (0..lk).map(move |j| if j < len { 0.0 } else { neg }))
        .collect();
    Tensor::from_vec(v, (lens.len(), 1, 1, lk), &Device::Cpu).unwrap()
}

fn max_abs(a: &Tensor) -> f32 {
    a.to_dtype(DType::F32)
        .unwrap()
        .flatten_all()
        .unwrap()
        .abs()
        .unwrap()
        .max(0)
        .unwrap()
        .to_scalar::<f32>()
        .unwrap()
}

/// Asserts `max|a - b| <= tol * max(1, max|b|)`.
fn assert_close(what: &str, a: &Tensor, b: &Tensor, tol: f32) {
    let diff = max_abs_diff(a, b);
    let scale = max_abs(b).max(1.0);
    eprintln!("{what}: max abs diff {diff:e} (scale {scale:.3})");
    assert!(
        diff <= tol * scale,
        "{what}: max abs diff {diff:e} exceeds {tol:e} * {scale}"
    );
}

/// `sum(y * r)` so that the gradient reaching `y` is `r`.
fn weighted_loss(y: &Tensor, r: &Tensor) -> Tensor {
    (y * r).unwrap().sum_all().unwrap()
}

// ---------------------------------------------------------------- LayerNorm

fn ln_inputs(rng: &mut ChaCha8Rng, shape: &[usize]) -> (Tensor, Tensor, Tensor) {
    let d = *shape.last().unwrap();
    let x = (randn(rng, shape, 1.5) + 0.3).unwrap();
    let w = (randn(rng, &[d], 0.2) + 1.0).unwrap();
    let b = randn(rng, &[d], 0.2);
    (x, w, b)
}

#[test]
fn layer_norm_forward_matches_composite() -> Result<()> {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    for shape in [&[16, 128, 384][..], &[5, 33], &[3, 7, 8]] {
        let (x, w, b) = ln_inputs(&mut rng, shape);
        let fused = ops::layer_norm(&x, &w, &b, 1e-12)?;
        let slow = candle_nn::ops::layer_norm_slow(&x, &w, &b, 1e-12)?;
        let ours_composite = ops::layer_norm_composite(&x, &w, &b, 1e-12)?;
        assert_close(&format!("ln fwd {shape:?} vs candle"), &fused, &slow, 1e-6);
        assert_close(
            &format!("ln composite {shape:?} vs candle"),
            &ours_composite,
            &slow,
            1e-6,
        );
    }
    Ok(())
}

/// Fused f32 gradients against composite f32 gradients and against f64 ground truth.
fn check_layer_norm_grads(
    x_src: &Tensor,
    make_x: impl Fn(&Tensor) -> Tensor,
    w: &Tensor,
    b: &Tensor,
    r: &Tensor,
) -> Result<()> {
    let eps = 1e-12;
    let run = |dtype: DType, fused: bool| -> Result<(Tensor, Tensor, Tensor, Tensor)> {
        let xv = Var::from_tensor(&x_src.to_dtype(dtype)?)?;
        let wv = Var::from_tensor(&w.to_dtype(dtype)?)?;
        let bv = Var::from_tensor(&b.to_dtype(dtype)?)?;
        let x = make_x(xv.as_tensor());
        let y = if fused {
            ops::layer_norm(&x, &wv, &bv, eps)?
        } else {
            ops::layer_norm_composite(&x, &wv, &bv, eps)?
        };
        let grads = weighted_loss(&y, &r.to_dtype(dtype)?).backward()?;
        Ok((
            y,
            grads.get(&xv).expect("dx").clone(),
            grads.get(&wv).expect("dw").clone(),
            grads.get(&bv).expect("db").clone(),
        ))
    };
    let (yf, dxf, dwf, dbf) = run(DType::F32, true)?;
    let (yc, dxc, dwc, dbc) = run(DType::F32, false)?;
    let (y64, dx64, dw64, db64) = run(DType::F64, true)?; // f64 takes the composite fallback
    assert_close("ln y fused vs composite", &yf, &yc, 1e-6);
    assert_close("ln dx fused vs composite", &dxf, &dxc, 1e-5);
    assert_close("ln dw fused vs composite", &dwf, &dwc, 1e-5);
    assert_close("ln db fused vs composite", &dbf, &dbc, 1e-5);
    assert_close("ln y fused vs f64", &yf, &y64, 1e-6);
    assert_close("ln dx fused vs f64", &dxf, &dx64, 1e-5);
    assert_close("ln dw fused vs f64", &dwf, &dw64, 1e-5);
    assert_close("ln db fused vs f64", &dbf, &db64, 1e-5);
    Ok(())
}

#[test]
fn layer_norm_grads_match_composite() -> Result<()> {
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    let (x, w, b) = ln_inputs(&mut rng, &[16, 128, 384]);
    let r = randn(&mut rng, &[16, 128, 384], 1.0);
    check_layer_norm_grads(&x, |t| t.clone(), &w, &b, &r)?;
    // A row length that is not a multiple of 8.
    let (x, w, b) = ln_inputs(&mut rng, &[6, 50]);
    let r = randn(&mut rng, &[6, 50], 1.0);
    check_layer_norm_grads(&x, |t| t.clone(), &w, &b, &r)
}

#[test]
fn layer_norm_non_contiguous_input() -> Result<()> {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    // x is stored as [128, 16, 384] and viewed as [16, 128, 384].
    let (x, w, b) = ln_inputs(&mut rng, &[128, 16, 384]);
    let r = randn(&mut rng, &[16, 128, 384], 1.0);
    let xt = x.transpose(0, 1)?;
    assert!(!xt.is_contiguous());
    check_layer_norm_grads(&x, |t| t.transpose(0, 1).unwrap(), &w, &b, &r)?;
    // A view with a non-zero start offset.
    let big = randn(&mut rng, &[10, 64], 1.0);
    let view = big.narrow(0, 3, 5)?;
    let (_, w, b) = ln_inputs(&mut rng, &[1, 64]);
    let fused = ops::layer_norm(&view, &w, &b, 1e-5)?;
    let slow = candle_nn::ops::layer_norm_slow(&view, &w, &b, 1e-5)?;
    assert_close("ln offset view", &fused, &slow, 1e-6);
    Ok(())
}

/// Central finite differences of `sum(op(x) * r)` (accumulated in f64) at a few points.
fn finite_diff_check(
    name: &str,
    x: &Tensor,
    r: &Tensor,
    analytic: &Tensor,
    f: impl Fn(&Tensor) -> Tensor,
    h: f32,
    tol: f64,
) {
    let xs: Vec<f32> = x.flatten_all().unwrap().to_vec1().unwrap();
    let an: Vec<f32> = analytic.flatten_all().unwrap().to_vec1().unwrap();
    let loss = |v: &[f32]| -> f64 {
        let t = Tensor::from_slice(v, x.shape(), &Device::Cpu).unwrap();
        let y = f(&t).to_dtype(DType::F64).unwrap();
        (y * r.to_dtype(DType::F64).unwrap())
            .unwrap()
            .sum_all()
            .unwrap()
            .to_scalar::<f64>()
            .unwrap()
    };
    let n = xs.len();
    for &i in &[0, 1, n / 3, n / 2, n - 2, n - 1] {
        let mut p = xs.clone();
        p[i] += h;
        let lp = loss(&p);
        p[i] = xs[i] - h;
        let lm = loss(&p);
        let step = (xs[i] + h) as f64 - (xs[i] - h) as f64;
        let fd = (lp - lm) / step;
        let a = an[i] as f64;
        eprintln!("{name} fd[{i}]: numeric {fd:.6}, analytic {a:.6}");
        assert!(
            (fd - a).abs() <= tol * (1.0 + a.abs()),
            "{name}: finite difference {fd} vs analytic {a} at element {i}"
        );
    }
}

#[test]
fn layer_norm_finite_differences() -> Result<()> {
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    let (x, w, b) = ln_inputs(&mut rng, &[4, 3, 37]);
    let r = randn(&mut rng, &[4, 3, 37], 1.0);
    let xv = Var::from_tensor(&x)?;
    let wv = Var::from_tensor(&w)?;
    let y = ops::layer_norm(&xv, &wv, &b, 1e-5)?;
    let grads = weighted_loss(&y, &r).backward()?;
    let f = |t: &Tensor| ops::layer_norm(t, &w, &b, 1e-5).unwrap();
    finite_diff_check("ln dx", &x, &r, grads.get(&xv).unwrap(), f, 1e-2, 2e-3);
    let fw = |t: &Tensor| ops::layer_norm(&x, t, &b, 1e-5).unwrap();
    finite_diff_check("ln dw", &w, &r, grads.get(&wv).unwrap(), fw, 1e-2, 2e-3);
    Ok(())
}

// ---------------------------------------------------------------- masked softmax

fn attention_inputs(rng: &mut ChaCha8Rng, b: usize, h: usize, l: usize) -> (Tensor, Tensor) {
    let scores = randn(rng, &[b, h, l, l], 4.0);
    let lens: Vec<usize> = (0..b)
        .map(|i| if i == 0 { l } else { rng.random_range(1..=l) })
        .collect();
    (scores, key_mask(&lens, l, f32::MIN))
}

#[test]
fn masked_softmax_forward_matches_composite() -> Result<()> {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let scale = 1.0 / (32f64).sqrt();
    let (scores, mask) = attention_inputs(&mut rng, 16, 12, 128);
    let fused = ops::masked_softmax(&scores, &mask, scale)?;
    let reference = candle_nn::ops::softmax(&(&scores * scale)?.broadcast_add(&mask)?, D::Minus1)?;
    assert_close("softmax fwd", &fused, &reference, 1e-6);
    // Masked keys get exactly zero probability; rows sum to one.
    let masked = mask.broadcast_as(fused.shape())?.lt(-1.0)?;
    let leak = masked.where_cond(&fused, &fused.zeros_like()?)?;
    assert_eq!(max_abs(&leak), 0.0, "masked keys must get zero probability");
    let row_sums = fused.sum(D::Minus1)?;
    assert_close("softmax row sums", &row_sums, &row_sums.ones_like()?, 1e-6);

    // A fully masked row (all keys at f32::MIN) and a -1e9 mask, on a small odd shape.
    let scores = randn(&mut rng, &[3, 2, 5, 13], 2.0);
    for neg in [f32::MIN, -1e9] {
        let mask = key_mask(&[13, 0, 6], 13, neg);
        let fused = ops::masked_softmax(&scores, &mask, 0.7)?;
        let reference = ops::masked_softmax_composite(&scores, &mask, 0.7)?;
        assert_close(&format!("softmax fwd mask {neg}"), &fused, &reference, 1e-6);
    }
    Ok(())
}

/// Gradients (scores, and the mask when it is a variable) fused vs composite vs f64.
fn check_softmax_grads(
    scores: &Tensor,
    make_scores: impl Fn(&Tensor) -> Tensor,
    mask: &Tensor,
    mask_is_var: bool,
    scale: f64,
    r: &Tensor,
) -> Result<()> {
    let run = |dtype: DType, fused: bool| -> Result<(Tensor, Tensor, Option<Tensor>)> {
        let sv = Var::from_tensor(&scores.to_dtype(dtype)?)?;
        let mv = Var::from_tensor(&mask.to_dtype(dtype)?)?;
        let m = if mask_is_var {
            mv.as_tensor().clone()
        } else {
            mask.to_dtype(dtype)?
        };
        let s = make_scores(sv.as_tensor());
        let p = if fused {
            ops::masked_softmax(&s, &m, scale)?
        } else {
            ops::masked_softmax_composite(&s, &m, scale)?
        };
        let grads = weighted_loss(&p, &r.to_dtype(dtype)?).backward()?;
        Ok((
            p,
            grads.get(&sv).expect("dscores").clone(),
            grads.get(&mv).cloned(),
        ))
    };
    let (pf, dsf, dmf) = run(DType::F32, true)?;
    let (pc, dsc, dmc) = run(DType::F32, false)?;
    let (p64, ds64, dm64) = run(DType::F64, true)?;
    assert_close("softmax p fused vs composite", &pf, &pc, 1e-6);
    assert_close("softmax dscores fused vs composite", &dsf, &dsc, 1e-5);
    assert_close("softmax p fused vs f64", &pf, &p64, 1e-6);
    assert_close("softmax dscores fused vs f64", &dsf, &ds64, 1e-5);
    if mask_is_var {
        let (dmf, dmc, dm64) = (
            dmf.expect("dmask"),
            dmc.expect("dmask"),
            dm64.expect("dmask"),
        );
        assert_eq!(dmf.dims(), mask.dims());
        assert_close("softmax dmask fused vs composite", &dmf, &dmc, 1e-5);
        assert_close("softmax dmask fused vs f64", &dmf, &dm64, 1e-5);
    } else {
        assert!(dmf.is_none());
    }
    Ok(())
}

#[test]
fn masked_softmax_grads_match_composite() -> Result<()> {
    let mut rng = ChaCha8Rng::seed_from_u64(6);
    let (scores, mask) = attention_inputs(&mut rng, 16, 12, 128);
    let r = randn(&mut rng, &[16, 12, 128, 128], 1.0);
    check_softmax_grads(&scores, |t| t.clone(), &mask, false, 0.125, &r)?;
    // The mask as a variable, with a large-but-safe negative so its gradient is meaningful.
    let (scores, _) = attention_inputs(&mut rng, 3, 4, 19);
    let mask = key_mask(&[19, 7, 12], 19, -30.0);
    let r = randn(&mut rng, &[3, 4, 19, 19], 1.0);
    check_softmax_grads(&scores, |t| t.clone(), &mask, true, 0.3, &r)
}

#[test]
fn masked_softmax_non_contiguous_and_mask_layouts() -> Result<()> {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    // Scores stored as [B, Lq, H, Lk] and viewed as [B, H, Lq, Lk].
    let scores = randn(&mut rng, &[4, 32, 6, 32], 3.0);
    let lens = [32, 20, 1, 9];
    let mask = key_mask(&lens, 32, f32::MIN);
    let r = randn(&mut rng, &[4, 6, 32, 32], 1.0);
    check_softmax_grads(
        &scores,
        |t| t.transpose(1, 2).unwrap(),
        &mask,
        false,
        0.25,
        &r,
    )?;

    // Masks of other broadcastable shapes and layouts: [Lk], [B, 1, Lq, Lk], a view with a start
    // offset, and a transposed (last stride != 1) view.
    let scores = randn(&mut rng, &[2, 3, 5, 7], 2.0);
    let m_vec = randn(&mut rng, &[7], 2.0);
    let m_full = randn(&mut rng, &[2, 1, 5, 7], 2.0);
    let big = randn(&mut rng, &[4, 1, 1, 7], 2.0);
    let m_offset = big.narrow(0, 2, 2)?;
    let m_t = randn(&mut rng, &[2, 1, 7, 5], 2.0).transpose(2, 3)?;
    for (name, m) in [
        ("[Lk]", &m_vec),
        ("[B,1,Lq,Lk]", &m_full),
        ("offset", &m_offset),
        ("transposed", &m_t),
    ] {
        let fused = ops::masked_softmax(&scores, m, 0.5)?;
        let reference = ops::masked_softmax_composite(&scores, m, 0.5)?;
        assert_close(&format!("softmax mask {name}"), &fused, &reference, 1e-6);
    }
    Ok(())
}

#[test]
fn masked_softmax_finite_differences() -> Result<()> {
    let mut rng = ChaCha8Rng::seed_from_u64(8);
    let scores = randn(&mut rng, &[2, 2, 3, 11], 1.5);
    let mask = key_mask(&[11, 6], 11, f32::MIN);
    let r = randn(&mut rng, &[2, 2, 3, 11], 1.0);
    let sv = Var::from_tensor(&scores)?;
    let p = ops::masked_softmax(&sv, &mask, 0.8)?;
    let grads = weighted_loss(&p, &r).backward()?;
    let f = |t: &Tensor| ops::masked_softmax(t, &mask, 0.8).unwrap();
    finite_diff_check(
        "softmax ds",
        &scores,
        &r,
        grads.get(&sv).unwrap(),
        f,
        1e-2,
        2e-3,
    );
    Ok(())
}

// ---------------------------------------------------------------- GELU

#[test]
fn gelu_forward_and_grads_match_composite() -> Result<()> {
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let x = randn(&mut rng, &[2048, 1536], 2.5);
    let r = randn(&mut rng, &[2048, 1536], 1.0);
    let run = |dtype: DType, fused: bool| -> Result<(Tensor, Tensor)> {
        let xv = Var::from_tensor(&x.to_dtype(dtype)?)?;
        let y = if fused {
            ops::gelu_erf(&xv)?
        } else {
            xv.gelu_erf()?
        };
        let grads = weighted_loss(&y, &r.to_dtype(dtype)?).backward()?;
        Ok((y, grads.get(&xv).expect("dx").clone()))
    };
    let (yf, dxf) = run(DType::F32, true)?;
    let (yc, dxc) = run(DType::F32, false)?;
    let (y64, dx64) = run(DType::F64, true)?;
    assert_close("gelu y fused vs candle", &yf, &yc, 1e-6);
    assert_close("gelu dx fused vs candle", &dxf, &dxc, 1e-5);
    assert_close("gelu y fused vs f64", &yf, &y64, 1e-6);
    assert_close("gelu dx fused vs f64", &dxf, &dx64, 1e-5);

    // Non-contiguous input.
    let xt = x.narrow(0, 0, 64)?.t()?;
    assert!(!xt.is_contiguous());
    assert_close(
        "gelu transposed",
        &ops::gelu_erf(&xt)?,
        &xt.gelu_erf()?,
        1e-6,
    );

    let xs = randn(&mut rng, &[5, 9], 2.0);
    let rs = randn(&mut rng, &[5, 9], 1.0);
    let xv = Var::from_tensor(&xs)?;
    let grads = weighted_loss(&ops::gelu_erf(&xv)?, &rs).backward()?;
    let f = |t: &Tensor| ops::gelu_erf(t).unwrap();
    finite_diff_check("gelu dx", &xs, &rs, grads.get(&xv).unwrap(), f, 1e-2, 2e-3);
    Ok(())
}

#[test]
fn linear_forward_and_grads_match_composite() -> Result<()> {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    for (shape, out_f) in [
        (vec![3usize, 7, 24], 40usize),
        (vec![5, 16], 3),
        (vec![2, 1, 9], 1),
    ] {
        let in_f = *shape.last().unwrap();
        let x = Var::from_tensor(&randn(&mut rng, &shape, 1.0))?;
        let w = Var::from_tensor(&randn(&mut rng, &[out_f, in_f], 0.2))?;
        let b = Var::from_tensor(&randn(&mut rng, &[out_f], 0.5))?;
        let fused = ops::linear(x.as_tensor(), w.as_tensor(), b.as_tensor())?;
        let composite = x
            .as_tensor()
            .broadcast_matmul(&w.as_tensor().t()?)?
            .broadcast_add(b.as_tensor())?;
        assert_eq!(fused.dims(), composite.dims());
        assert_close("linear forward", &fused, &composite, 1e-5);
        let r = randn(&mut rng, fused.dims(), 1.0);
        let gf = weighted_loss(&fused, &r).backward()?;
        let gc = weighted_loss(&composite, &r).backward()?;
        for (what, v) in [("dx", &x), ("dw", &w), ("db", &b)] {
            let a = gf.get(v.as_tensor()).expect("fused grad");
            let c = gc.get(v.as_tensor()).expect("composite grad");
            assert_close(&format!("linear {what} {shape:?}"), a, c, 1e-4);
        }
    }
    // Shapes that do not fit are an error, not a panic.
    let x = Tensor::zeros((2, 3), DType::F32, &Device::Cpu)?;
    let w = Tensor::zeros((4, 5), DType::F32, &Device::Cpu)?;
    let b = Tensor::zeros(4, DType::F32, &Device::Cpu)?;
    assert!(ops::linear(&x, &w, &b).is_err());
    Ok(())
}

#[test]
fn attention_forward_and_grads_match_composite() -> Result<()> {
    let mut rng = ChaCha8Rng::seed_from_u64(12);
    for (b, l, heads, d, lens) in [
        (3usize, 7usize, 2usize, 4usize, vec![7usize, 3, 1]),
        (2, 16, 4, 8, vec![16, 9]),
        (1, 1, 1, 3, vec![1]),
    ] {
        let h = heads * d;
        let q = Var::from_tensor(&randn(&mut rng, &[b, l, h], 1.0))?;
        let k = Var::from_tensor(&randn(&mut rng, &[b, l, h], 1.0))?;
        let v = Var::from_tensor(&randn(&mut rng, &[b, l, h], 1.0))?;
        let mask = key_mask(&lens, l, f32::MIN).reshape((b, l))?;
        let scale = (d as f64).powf(-0.5);
        let (qt, kt, vt) = (q.as_tensor(), k.as_tensor(), v.as_tensor());
        let fused = ops::attention(qt, kt, vt, &mask, heads, scale)?;
        let composite = ops::attention_composite(qt, kt, vt, &mask, heads, scale)?;
        assert_close("attention forward", &fused, &composite, 1e-5);
        let r = randn(&mut rng, fused.dims(), 1.0);
        let gf = weighted_loss(&fused, &r).backward()?;
        let gc = weighted_loss(&composite, &r).backward()?;
        for (what, var) in [("dq", &q), ("dk", &k), ("dv", &v)] {
            let a = gf.get(var.as_tensor()).expect("fused grad");
            let c = gc.get(var.as_tensor()).expect("composite grad");
            assert_close(&format!("attention {what} b{b} l{l} h{heads}"), a, c, 1e-4);
        }
    }
    // Shapes that do not fit are an error, not a panic.
    let x = Tensor::zeros((2, 3, 6), DType::F32, &Device::Cpu)?;
    let m = Tensor::zeros((2, 3), DType::F32, &Device::Cpu)?;
    assert!(ops::attention(&x, &x, &x, &m, 4, 1.0).is_err());
    assert!(ops::attention(&x, &x, &x, &m.narrow(1, 0, 2)?, 2, 1.0).is_err());
    Ok(())
}

/// One sequence's attention from candle ops: rows `[n, H]`, additive key mask `[n]`, optional
/// dropout factors `[heads, n, n]`.
fn attention_reference(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    mask: &[f32],
    drop: Option<&[f32]>,
    heads: usize,
    scale: f64,
) -> Result<Tensor> {
    let (n, h) = q.dims2()?;
    let d = h / heads;
    let split = |t: &Tensor| t.reshape((n, heads, d))?.transpose(0, 1)?.contiguous();
    let (q, k, v) = (split(q)?, split(k)?, split(v)?);
    let m = Tensor::from_vec(mask.to_vec(), (1, 1, n), &Device::Cpu)?;
    let scores = (q.matmul(&k.t()?)? * scale)?.broadcast_add(&m)?;
    let mut probs = candle_nn::ops::softmax(&scores, D::Minus1)?;
    if let Some(f) = drop {
        probs = probs.mul(&Tensor::from_vec(f.to_vec(), (heads, n, n), &Device::Cpu)?)?;
    }
    probs.matmul(&v)?.transpose(0, 1)?.reshape((n, h))
}

fn dropout_factors(rng: &mut ChaCha8Rng, n: usize) -> Vec<f32> {
    (0..n)
        .map(|_| {
            if rng.random::<f32>() < 0.25 {
                0.0
            } else {
                4.0 / 3.0
            }
        })
        .collect()
}

#[test]
fn packed_attention_matches_per_sequence_reference_with_and_without_dropout() -> Result<()> {
    let mut rng = ChaCha8Rng::seed_from_u64(13);
    let (heads, d) = (3usize, 4usize);
    let h = heads * d;
    let offsets = [0usize, 5, 6, 13, 17];
    let t = 17;
    let q = Var::from_tensor(&randn(&mut rng, &[t, h], 1.0))?;
    let k = Var::from_tensor(&randn(&mut rng, &[t, h], 1.0))?;
    let v = Var::from_tensor(&randn(&mut rng, &[t, h], 1.0))?;
    let scale = (d as f64).powf(-0.5);
    let num_probs: usize = offsets
        .windows(2)
        .map(|w| heads * (w[1] - w[0]).pow(2))
        .sum();
    for with_dropout in [false, true] {
        let drop = with_dropout.then(|| dropout_factors(&mut rng, num_probs));
        let (qt, kt, vt) = (q.as_tensor(), k.as_tensor(), v.as_tensor());
        let fused = ops::packed_attention(qt, kt, vt, &offsets, heads, scale, drop.clone())?;
        let mut parts = Vec::new();
        let mut at = 0;
        for w in offsets.windows(2) {
            let (s, n) = (w[0], w[1] - w[0]);
            let f = drop.as_ref().map(|f| &f[at..at + heads * n * n]);
            at += heads * n * n;
            let one = |x: &Tensor| x.narrow(0, s, n);
            let zeros = vec![0f32; n];
            parts.push(attention_reference(
                &one(qt)?,
                &one(kt)?,
                &one(vt)?,
                &zeros,
                f,
                heads,
                scale,
            )?);
        }
        let reference = Tensor::cat(&parts, 0)?;
        assert_close("packed attention forward", &fused, &reference, 1e-5);
        let r = randn(&mut rng, fused.dims(), 1.0);
        let gf = weighted_loss(&fused, &r).backward()?;
        let gr = weighted_loss(&reference, &r).backward()?;
        for (what, var) in [("dq", &q), ("dk", &k), ("dv", &v)] {
            let a = gf.get(var.as_tensor()).expect("fused grad");
            let c = gr.get(var.as_tensor()).expect("reference grad");
            assert_close(
                &format!("packed attention {what} dropout {with_dropout}"),
                a,
                c,
                1e-4,
            );
        }
    }
    // Offsets that do not tile the rows, and a dropout mask of the wrong size, are errors.
    let x = q.as_tensor();
    assert!(ops::packed_attention(x, x, x, &[0, 5, 16], heads, 1.0, None).is_err());
    assert!(ops::packed_attention(x, x, x, &[0, 5, 5, 17], heads, 1.0, None).is_err());
    assert!(ops::packed_attention(x, x, x, &[0, 17], heads, 1.0, Some(vec![1.0; 3])).is_err());
    Ok(())
}

#[test]
fn padded_attention_with_dropout_matches_reference() -> Result<()> {
    let mut rng = ChaCha8Rng::seed_from_u64(14);
    let (b, l, heads, d) = (3usize, 6usize, 2usize, 4usize);
    let h = heads * d;
    let lens = [6usize, 2, 4];
    let q = Var::from_tensor(&randn(&mut rng, &[b, l, h], 1.0))?;
    let k = Var::from_tensor(&randn(&mut rng, &[b, l, h], 1.0))?;
    let v = Var::from_tensor(&randn(&mut rng, &[b, l, h], 1.0))?;
    let mask = key_mask(&lens, l, f32::MIN).reshape((b, l))?;
    let drop = dropout_factors(&mut rng, b * heads * l * l);
    let scale = (d as f64).powf(-0.5);
    let (qt, kt, vt) = (q.as_tensor(), k.as_tensor(), v.as_tensor());
    let fused = ops::attention_with_dropout(qt, kt, vt, &mask, heads, scale, Some(drop.clone()))?;
    let mvec = mask.flatten_all()?.to_vec1::<f32>()?;
    let mut parts = Vec::new();
    for i in 0..b {
        let one = |x: &Tensor| x.get(i);
        let f = &drop[i * heads * l * l..(i + 1) * heads * l * l];
        let m = &mvec[i * l..(i + 1) * l];
        parts.push(attention_reference(
            &one(qt)?,
            &one(kt)?,
            &one(vt)?,
            m,
            Some(f),
            heads,
            scale,
        )?);
    }
    let reference = Tensor::stack(&parts, 0)?;
    assert_close("padded attention dropout forward", &fused, &reference, 1e-5);
    let r = randn(&mut rng, fused.dims(), 1.0);
    let gf = weighted_loss(&fused, &r).backward()?;
    let gr = weighted_loss(&reference, &r).backward()?;
    for (what, var) in [("dq", &q), ("dk", &k), ("dv", &v)] {
        let a = gf.get(var.as_tensor()).expect("fused grad");
        let c = gr.get(var.as_tensor()).expect("reference grad");
        assert_close(&format!("padded attention dropout {what}"), a, c, 1e-4);
    }
    Ok(())
}

#[test]
fn results_do_not_depend_on_thread_count() -> Result<()> {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let (x, w, b) = ln_inputs(&mut rng, &[256, 384]);
    let r = randn(&mut rng, &[256, 384], 1.0);
    let (scores, mask) = attention_inputs(&mut rng, 4, 3, 64);
    let rs = randn(&mut rng, &[4, 3, 64, 64], 1.0);
    let all = || -> Result<Vec<Vec<f32>>> {
        let xv = Var::from_tensor(&x)?;
        let wv = Var::from_tensor(&w)?;
        let bv = Var::from_tensor(&b)?;
        let sv = Var::from_tensor(&scores)?;
        let y = ops::layer_norm(&xv, &wv, &bv, 1e-12)?;
        let g2 = ops::gelu_erf(&y)?;
        let p = ops::masked_softmax(&sv, &mask, 0.2)?;
        let loss = weighted_loss(&g2, &r);
        let loss = (loss + weighted_loss(&p, &rs))?;
        let grads = loss.backward()?;
        let mut out = vec![];
        for t in [&y, &g2, &p] {
            out.push(t.flatten_all()?.to_vec1::<f32>()?);
        }
        for v in [&xv, &wv, &bv, &sv] {
            out.push(grads.get(v).unwrap().flatten_all()?.to_vec1::<f32>()?);
        }
        Ok(out)
    };
    let pool = |n| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build()
            .unwrap()
    };
    let one = pool(1).install(all)?;
    let two = pool(2).install(all)?;
    assert!(one == two, "results differ between 1 and 2 threads");
    Ok(())
}

/// Non-f32 inputs take the composite path and still get gradients.
#[test]
fn f64_falls_back_to_composite() -> Result<()> {
    let mut rng = ChaCha8Rng::seed_from_u64(12);
    let (x, w, b) = ln_inputs(&mut rng, &[3, 10]);
    let (x, w, b) = (
        x.to_dtype(DType::F64)?,
        w.to_dtype(DType::F64)?,
        b.to_dtype(DType::F64)?,
    );
    let xv = Var::from_tensor(&x)?;
    let y = ops::layer_norm(&xv, &w, &b, 1e-5)?;
    assert_eq!(y.dtype(), DType::F64);
    let slow = candle_nn::ops::layer_norm_slow(&x, &w, &b, 1e-5)?;
    assert_close("ln f64", &y, &slow, 1e-12);
    let grads = y.sqr()?.sum_all()?.backward()?;
    assert!(grads.get(&xv).is_some());
    Ok(())
}
