//! The per-step updates of [`super::fused`] (masked AdamW, masked squared gradient norm, DPS
//! importance accumulation) as candle tensor ops: the path taken on CUDA and Metal, where the
//! tensors stay on the device and nothing is copied to the host.
//!
//! The arithmetic is the fused CPU kernels', with the same f32 coefficients, so the two paths
//! agree to rounding (checked on the CPU in the tests below).

use candle_core::{DType, Result, Tensor, Var};

/// Hyperparameters of one AdamW update.
#[derive(Debug, Clone, Copy)]
pub struct AdamWStep {
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    /// Decoupled weight decay for this parameter (0 for biases and LayerNorm).
    pub weight_decay: f64,
    /// 1-based step count (for bias correction).
    pub t: u64,
    /// Multiplies the (masked) gradient: the gradient-clipping coefficient.
    pub grad_scale: f32,
}

/// `Σ (g·mask)²` (mask = 1 when absent) as a 0-d f32 tensor on `g`'s device.
pub fn masked_sq_norm(g: &Tensor, mask: Option<&Tensor>) -> Result<Tensor> {
    let gm = match mask {
        Some(m) => (g * m)?,
        None => g.clone(),
    };
    gm.sqr()?.sum_all()
}

/// In place, on the device: `acc += (g·mask)² / divisor` (mask = 1 when absent).
pub fn accumulate_sq(acc: &Var, g: &Tensor, mask: Option<&Tensor>, divisor: f32) -> Result<()> {
    let gm = match mask {
        Some(m) => (g * m)?,
        None => g.clone(),
    };
    let upd = (acc.as_tensor() + (gm.sqr()? / divisor as f64)?)?;
    acc.set(&upd)
}

/// One masked AdamW update on the device (see [`super::fused::adamw_update`] for the maths):
/// `g = grad·grad_mask·grad_scale`, `m ← m + (1 − β1)(g − m)`, `v ← β2·v + (1 − β2)·g²`,
/// `p ← p·decay − step · m / (√v / √bc2 + eps)`; where `update_mask` is 0, `p`, `m` and `v`
/// keep their values.
pub fn adamw_update(
    param: &Var,
    m: &Var,
    v: &Var,
    grad: &Tensor,
    grad_mask: Option<&Tensor>,
    update_mask: Option<&Tensor>,
    h: AdamWStep,
) -> Result<()> {
    let k = Coeffs::new(&h);
    let mut g = grad.clone();
    if let Some(gm) = grad_mask {
        g = (g * gm)?;
    }
    if h.grad_scale != 1.0 {
        g = (g * h.grad_scale as f64)?;
    }
    let (m0, v0, p0) = (m.as_tensor(), v.as_tensor(), param.as_tensor());
    let m_new = (m0 + ((&g - m0)? * k.omb1)?)?;
    let v_new = ((v0 * k.b2)? + (g.sqr()? * k.omb2)?)?;
    let p_dec = if k.decay != 1.0 {
        (p0 * k.decay)?
    } else {
        p0.clone()
    };
    let denom = ((v_new.sqrt()? / k.bc2_sqrt)? + k.eps)?;
    let p_new = (p_dec - ((&m_new / denom)? * k.step_size)?)?;
    let (m_new, v_new, p_new) = match update_mask {
        None => (m_new, v_new, p_new),
        Some(u) => {
            let keep = u.ne(0f32)?;
            (
                keep.where_cond(&m_new, m0)?,
                keep.where_cond(&v_new, v0)?,
                keep.where_cond(&p_new, p0)?,
            )
        }
    };
    m.set(&m_new)?;
    v.set(&v_new)?;
    param.set(&p_new)
}

/// The f32 coefficients the fused CPU kernels use, widened for candle's scalar ops (exact).
struct Coeffs {
    b2: f64,
    omb1: f64,
    omb2: f64,
    decay: f64,
    step_size: f64,
    bc2_sqrt: f64,
    eps: f64,
}

impl Coeffs {
    fn new(h: &AdamWStep) -> Self {
        let bc1 = 1.0 - h.beta1.powi(h.t as i32);
        let bc2 = 1.0 - h.beta2.powi(h.t as i32);
        let f = |x: f64| x as f32 as f64;
        Self {
            b2: f(h.beta2),
            omb1: f(1.0 - h.beta1),
            omb2: f(1.0 - h.beta2),
            decay: f(1.0 - h.lr * h.weight_decay),
            step_size: f(h.lr / bc1),
            bc2_sqrt: f(bc2.sqrt()),
            eps: f(h.eps),
        }
    }
}

/// Whether a tensor takes this path rather than the fused CPU kernels.
pub fn applies(t: &Tensor) -> bool {
    !(t.device().is_cpu() && t.dtype() == DType::F32)
}

#[cfg(test)]
mod tests {
    use super::super::fused;
    use super::*;
    use candle_core::Device;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn t(v: &[f32]) -> Tensor {
        Tensor::from_slice(v, v.len(), &Device::Cpu).unwrap()
    }

    fn randv(rng: &mut ChaCha8Rng, n: usize, lo: f32, hi: f32) -> Vec<f32> {
        (0..n).map(|_| rng.random_range(lo..hi)).collect()
    }

    fn mask(rng: &mut ChaCha8Rng, n: usize) -> Vec<f32> {
        (0..n)
            .map(|_| if rng.random_bool(0.6) { 1.0 } else { 0.0 })
            .collect()
    }

    fn assert_close(what: &str, a: &Tensor, b: &Tensor, tol: f32) {
        let a = a.to_vec1::<f32>().unwrap();
        let b = b.to_vec1::<f32>().unwrap();
        assert_eq!(a.len(), b.len());
        for (j, (x, y)) in a.iter().zip(&b).enumerate() {
            assert!(
                (x - y).abs() <= tol * y.abs().max(1e-3),
                "{what}[{j}]: {x} (fused) vs {y} (tensor path)"
            );
        }
    }

    /// Three AdamW steps of the fused CPU kernels against this path, every mask combination.
    #[test]
    fn adamw_matches_fused_cpu() {
        let n = 70_000; // more than one chunk of the fused kernels
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let p = randv(&mut rng, n, -1.0, 1.0);
        let gm = mask(&mut rng, n);
        let um = mask(&mut rng, n);
        for (use_gm, use_um) in [(false, false), (true, false), (false, true), (true, true)] {
            let vars = || {
                (
                    Var::from_tensor(&t(&p)).unwrap(),
                    Var::zeros(n, DType::F32, &Device::Cpu).unwrap(),
                    Var::zeros(n, DType::F32, &Device::Cpu).unwrap(),
                )
            };
            let (pf, mf, vf) = vars();
            let (pt, mt, vt) = vars();
            for step in 1..=3u64 {
                let g = t(&randv(&mut rng, n, -0.5, 0.5));
                let h = AdamWStep {
                    lr: 2e-3,
                    beta1: 0.9,
                    beta2: 0.999,
                    eps: 1e-8,
                    weight_decay: 0.01,
                    t: step,
                    grad_scale: 0.75,
                };
                let gmt = use_gm.then(|| t(&gm));
                let umt = use_um.then(|| t(&um));
                fused::adamw_update(&pf, &mf, &vf, &g, gmt.as_ref(), umt.as_ref(), h).unwrap();
                adamw_update(&pt, &mt, &vt, &g, gmt.as_ref(), umt.as_ref(), h).unwrap();
            }
            let tag = format!("masks {use_gm}/{use_um}");
            assert_close(&format!("{tag} m"), mf.as_tensor(), mt.as_tensor(), 1e-5);
            assert_close(&format!("{tag} v"), vf.as_tensor(), vt.as_tensor(), 1e-5);
            assert_close(&format!("{tag} p"), pf.as_tensor(), pt.as_tensor(), 1e-5);
            let moved = (pf.as_tensor() - t(&p)).unwrap().abs().unwrap();
            let moved = moved.to_vec1::<f32>().unwrap();
            for (j, d) in moved.iter().enumerate() {
                // Frozen elements stay exactly; the others move.
                assert_eq!(use_um && um[j] == 0.0, *d == 0.0, "{tag}: element {j}");
            }
        }
    }

    #[test]
    fn sq_norm_and_importance_match_fused_cpu() {
        let n = 50_000;
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        let g = t(&randv(&mut rng, n, -2.0, 2.0));
        let m = t(&mask(&mut rng, n));
        for mk in [None, Some(&m)] {
            let want = fused::masked_sq_norm(&g, mk).unwrap();
            let got = masked_sq_norm(&g, mk).unwrap().to_scalar::<f32>().unwrap() as f64;
            assert!((got - want).abs() <= 1e-5 * want, "sq norm {got} vs {want}");
            let af = Var::from_tensor(&t(&randv(&mut rng, n, 0.0, 1.0))).unwrap();
            let at = Var::from_tensor(&af.as_tensor().copy().unwrap()).unwrap();
            for _ in 0..2 {
                fused::accumulate_sq(&af, &g, mk, 1e3).unwrap();
                accumulate_sq(&at, &g, mk, 1e3).unwrap();
            }
            assert_close("importance", af.as_tensor(), at.as_tensor(), 1e-6);
        }
    }
}
