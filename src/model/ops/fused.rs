//! Fused, in-place, multi-threaded updates over raw f32 slices on CPU, with a tensor-op fallback
//! for other devices (CUDA, Metal; [`super::device_updates`]) so every device goes through the
//! same calls.
//!
//! These are the per-step, per-element passes of training that candle would otherwise run as
//! a dozen single-threaded allocating ops: the masked gradient norm, the squared-gradient
//! accumulation of DPS importance, and the masked AdamW update.

use super::device_updates;
pub use super::device_updates::AdamWStep;
use super::simd::simd_kernel;
use candle_core::{CpuStorage, DType, InplaceOp1, Layout, Result, Storage, Tensor, Var};
use rayon::prelude::*;

/// Elements per rayon task: large enough to amortise scheduling.
const CHUNK: usize = 1 << 15;

/// Run `f` on the contiguous f32 CPU slice of `t`; `None` when `t` is not a contiguous f32
/// CPU tensor (the caller then uses the tensor-op fallback).
pub fn with_cpu_slice<R>(t: &Tensor, f: impl FnOnce(&[f32]) -> R) -> Option<R> {
    let (storage, layout) = t.storage_and_layout();
    match &*storage {
        Storage::Cpu(CpuStorage::F32(v)) => {
            let (a, b) = layout.contiguous_offsets()?;
            Some(f(&v[a..b]))
        }
        _ => None,
    }
}

fn is_cpu_f32(t: &Tensor) -> bool {
    t.device().is_cpu() && t.dtype() == DType::F32
}

/// Ensure a tensor is contiguous (gradients nearly always are; this is a cheap check).
fn contiguous(t: &Tensor) -> Result<Tensor> {
    if t.is_contiguous() {
        Ok(t.clone())
    } else {
        t.contiguous()
    }
}

simd_kernel! {
    /// `acc += (g·mask)² / d` elementwise (`mask` empty: no mask).
    fn accumulate_sq_chunk(acc: &mut [f32], g: &[f32], mask: &[f32], d: f32) {
        let g = &g[..acc.len()];
        if mask.is_empty() {
            for (a, &g) in acc.iter_mut().zip(g) {
                *a += g * g / d;
            }
        } else {
            for ((a, &g), &k) in acc.iter_mut().zip(g).zip(&mask[..g.len()]) {
                let x = g * k;
                *a += x * x / d;
            }
        }
    }
}

/// Coefficients of one AdamW moment update.
#[derive(Clone, Copy)]
struct MomentCoeffs {
    beta: f32,
    one_minus: f32,
    scale: f32,
}

/// One element's gradient as AdamW sees it: `(g · grad_mask) · scale`.
#[inline(always)]
fn moment_grad<const GM: bool>(g: &[f32], gm: &[f32], j: usize, scale: f32) -> f32 {
    let mut x = g[j];
    if GM {
        x *= gm[j];
    }
    x * scale
}

/// The moment loop for one combination of masks; `square` picks the second moment.
#[inline(always)]
fn moment_loop<const GM: bool, const UM: bool>(
    st: &mut [f32],
    g: &[f32],
    gm: &[f32],
    um: &[f32],
    k: MomentCoeffs,
    square: bool,
) {
    let n = st.len();
    let (g, gm, um) = (
        &g[..n],
        &gm[..if GM { n } else { 0 }],
        &um[..if UM { n } else { 0 }],
    );
    for j in 0..n {
        let x = moment_grad::<GM>(g, gm, j, k.scale);
        let old = st[j];
        let new = if square {
            old * k.beta + k.one_minus * (x * x)
        } else {
            // torch: exp_avg.lerp_(grad, 1 - beta1)
            old + k.one_minus * (x - old)
        };
        st[j] = if UM && um[j] == 0.0 { old } else { new };
    }
}

simd_kernel! {
    /// Over one chunk: `m ← m + (1 − β1)·(g − m)`, or with `square` `v ← β2·v + (1 − β2)·g²`
    /// (`gm`/`um` empty: no gradient / update mask; elements whose update mask is 0 keep their
    /// value).
    fn adamw_moment(st: &mut [f32], g: &[f32], gm: &[f32], um: &[f32], k: MomentCoeffs, square: bool) {
        match (gm.is_empty(), um.is_empty()) {
            (true, true) => moment_loop::<false, false>(st, g, gm, um, k, square),
            (false, true) => moment_loop::<true, false>(st, g, gm, um, k, square),
            (true, false) => moment_loop::<false, true>(st, g, gm, um, k, square),
            (false, false) => moment_loop::<true, true>(st, g, gm, um, k, square),
        }
    }
}

/// Coefficients of one AdamW parameter update.
#[derive(Clone, Copy)]
struct UpdateCoeffs {
    decay: f32,
    step_size: f32,
    bc2_sqrt: f32,
    eps: f32,
}

/// The parameter loop with or without an update mask.
#[inline(always)]
fn param_loop<const UM: bool>(p: &mut [f32], m: &[f32], v: &[f32], um: &[f32], k: UpdateCoeffs) {
    let n = p.len();
    let (m, v, um) = (&m[..n], &v[..n], &um[..if UM { n } else { 0 }]);
    for j in 0..n {
        let old = p[j];
        // Multiplying by a decay of exactly 1 leaves `old` unchanged.
        let w = old * k.decay;
        let denom = v[j].sqrt() / k.bc2_sqrt + k.eps;
        let new = w - k.step_size * (m[j] / denom);
        p[j] = if UM && um[j] == 0.0 { old } else { new };
    }
}

simd_kernel! {
    /// `p ← p·decay − step_size · m / (√v / √bc2 + eps)` over one chunk (`um` empty: no update
    /// mask; elements whose update mask is 0 keep their value).
    fn adamw_param(p: &mut [f32], m: &[f32], v: &[f32], um: &[f32], k: UpdateCoeffs) {
        if um.is_empty() {
            param_loop::<false>(p, m, v, um, k)
        } else {
            param_loop::<true>(p, m, v, um, k)
        }
    }
}

/// Σ (g·mask)² in f64 (mask = 1 when absent).
pub fn masked_sq_norm(g: &Tensor, mask: Option<&Tensor>) -> Result<f64> {
    let g = contiguous(g)?;
    if is_cpu_f32(&g) {
        let mask = mask.map(contiguous).transpose()?;
        let r = with_cpu_slice(&g, |gs| match &mask {
            None => gs
                .par_chunks(CHUNK)
                .map(|c| c.iter().map(|&x| (x as f64) * (x as f64)).sum::<f64>())
                .sum::<f64>(),
            Some(m) => with_cpu_slice(m, |ms| {
                gs.par_chunks(CHUNK)
                    .zip(ms.par_chunks(CHUNK))
                    .map(|(c, mc)| {
                        c.iter()
                            .zip(mc)
                            .map(|(&x, &k)| {
                                let y = (x * k) as f64;
                                y * y
                            })
                            .sum::<f64>()
                    })
                    .sum::<f64>()
            })
            .unwrap_or(f64::NAN),
        });
        if let Some(r) = r {
            if !r.is_nan() || mask.is_none() {
                return Ok(r);
            }
        }
    }
    Ok(device_updates::masked_sq_norm(&g, mask)?.to_scalar::<f32>()? as f64)
}

/// `Σ_i Σ (g_i·mask_i)²` over many gradients. Off the CPU the partial sums stay on the device
/// and only the total is read back: one transfer per step, not one per parameter.
pub fn total_sq_norm<'a>(
    items: impl IntoIterator<Item = (&'a Tensor, Option<&'a Tensor>)>,
) -> Result<f64> {
    let mut host = 0f64;
    let mut device: Option<Tensor> = None;
    for (g, mask) in items {
        if device_updates::applies(g) {
            let s = device_updates::masked_sq_norm(g, mask)?;
            device = Some(match device {
                Some(d) => (d + s)?,
                None => s,
            });
        } else {
            host += masked_sq_norm(g, mask)?;
        }
    }
    if let Some(d) = device {
        host += d.to_dtype(DType::F64)?.to_scalar::<f64>()?;
    }
    Ok(host)
}

/// In-place `acc += (g·mask)² / divisor` (mask = 1 when absent). `divisor` follows the authors'
/// code, which divides by 1e3 (and so does this, bit for bit).
pub fn accumulate_sq(acc: &Var, g: &Tensor, mask: Option<&Tensor>, divisor: f32) -> Result<()> {
    let g = contiguous(g)?;
    let mask = mask.map(contiguous).transpose()?;
    if is_cpu_f32(&g) && is_cpu_f32(acc.as_tensor()) {
        struct Acc<'a> {
            g: &'a [f32],
            m: Option<&'a [f32]>,
            divisor: f32,
        }
        impl InplaceOp1 for Acc<'_> {
            fn name(&self) -> &'static str {
                "accumulate-sq"
            }
            fn cpu_fwd(&self, s: &mut CpuStorage, l: &Layout) -> Result<()> {
                let (a, b) = l
                    .contiguous_offsets()
                    .ok_or_else(|| candle_core::Error::Msg("accumulator not contiguous".into()))?;
                let CpuStorage::F32(acc) = s else {
                    candle_core::bail!("accumulator is not f32")
                };
                let acc = &mut acc[a..b];
                let d = self.divisor;
                match self.m {
                    None => acc
                        .par_chunks_mut(CHUNK)
                        .zip(self.g.par_chunks(CHUNK))
                        .for_each(|(a, g)| accumulate_sq_chunk(a, g, &[], d)),
                    Some(m) => acc
                        .par_chunks_mut(CHUNK)
                        .zip(self.g.par_chunks(CHUNK).zip(m.par_chunks(CHUNK)))
                        .for_each(|(a, (g, m))| accumulate_sq_chunk(a, g, m, d)),
                }
                Ok(())
            }
        }
        let done = with_cpu_slice(&g, |gs| match &mask {
            None => acc.as_tensor().inplace_op1(&Acc {
                g: gs,
                m: None,
                divisor,
            }),
            Some(m) => with_cpu_slice(m, |ms| {
                acc.as_tensor().inplace_op1(&Acc {
                    g: gs,
                    m: Some(ms),
                    divisor,
                })
            })
            .unwrap_or_else(|| candle_core::bail!("mask is not a contiguous f32 cpu tensor")),
        });
        if let Some(r) = done {
            return r;
        }
    }
    device_updates::accumulate_sq(acc, &g, mask.as_ref(), divisor)
}

/// One `torch.optim.AdamW` update of one parameter, in place:
/// `p ← p·(1 − lr·wd)`, `m ← β1·m + (1 − β1)·g`, `v ← β2·v + (1 − β2)·g²`,
/// `p ← p − (lr / bc1) · m / (√v / √bc2 + eps)`, with `g = grad · grad_mask · grad_scale`.
/// Elements where `update_mask` is 0 are left untouched (no decay, no moment update): the
/// strict freeze.
pub fn adamw_update(
    param: &Var,
    m: &Var,
    v: &Var,
    grad: &Tensor,
    grad_mask: Option<&Tensor>,
    update_mask: Option<&Tensor>,
    h: AdamWStep,
) -> Result<()> {
    let grad = contiguous(grad)?;
    let grad_mask = grad_mask.map(contiguous).transpose()?;
    let update_mask = update_mask.map(contiguous).transpose()?;
    let bc1 = 1.0 - h.beta1.powi(h.t as i32);
    let bc2 = 1.0 - h.beta2.powi(h.t as i32);
    let step_size = (h.lr / bc1) as f32;
    let bc2_sqrt = bc2.sqrt() as f32;
    let decay = (1.0 - h.lr * h.weight_decay) as f32;
    let (b1, b2, eps) = (h.beta1 as f32, h.beta2 as f32, h.eps as f32);
    let (omb1, omb2) = ((1.0 - h.beta1) as f32, (1.0 - h.beta2) as f32);
    let scale = h.grad_scale;
    let all_cpu = is_cpu_f32(param.as_tensor()) && is_cpu_f32(&grad);
    if all_cpu {
        // m and v are updated in place by a first op; p by a second that reads them.
        struct Moments<'a> {
            g: &'a [f32],
            gm: Option<&'a [f32]>,
            um: Option<&'a [f32]>,
            beta: f32,
            one_minus: f32,
            square: bool,
            scale: f32,
        }
        impl InplaceOp1 for Moments<'_> {
            fn name(&self) -> &'static str {
                "adamw-moment"
            }
            fn cpu_fwd(&self, s: &mut CpuStorage, l: &Layout) -> Result<()> {
                let (a, b) = l
                    .contiguous_offsets()
                    .ok_or_else(|| candle_core::Error::Msg("moment not contiguous".into()))?;
                let CpuStorage::F32(st) = s else {
                    candle_core::bail!("moment is not f32")
                };
                let st = &mut st[a..b];
                st.par_chunks_mut(CHUNK)
                    .enumerate()
                    .for_each(|(ci, chunk)| {
                        let r = ci * CHUNK..ci * CHUNK + chunk.len();
                        let gm = self.gm.map_or(&[][..], |s| &s[r.clone()]);
                        let um = self.um.map_or(&[][..], |s| &s[r.clone()]);
                        let k = MomentCoeffs {
                            beta: self.beta,
                            one_minus: self.one_minus,
                            scale: self.scale,
                        };
                        adamw_moment(chunk, &self.g[r], gm, um, k, self.square);
                    });
                Ok(())
            }
        }
        struct Update<'a> {
            m: &'a [f32],
            v: &'a [f32],
            um: Option<&'a [f32]>,
            decay: f32,
            step_size: f32,
            bc2_sqrt: f32,
            eps: f32,
        }
        impl InplaceOp1 for Update<'_> {
            fn name(&self) -> &'static str {
                "adamw-update"
            }
            fn cpu_fwd(&self, s: &mut CpuStorage, l: &Layout) -> Result<()> {
                let (a, b) = l
                    .contiguous_offsets()
                    .ok_or_else(|| candle_core::Error::Msg("param not contiguous".into()))?;
                let CpuStorage::F32(p) = s else {
                    candle_core::bail!("param is not f32")
                };
                let p = &mut p[a..b];
                p.par_chunks_mut(CHUNK).enumerate().for_each(|(ci, chunk)| {
                    let r = ci * CHUNK..ci * CHUNK + chunk.len();
                    let um = self.um.map_or(&[][..], |s| &s[r.clone()]);
                    let k = UpdateCoeffs {
                        decay: self.decay,
                        step_size: self.step_size,
                        bc2_sqrt: self.bc2_sqrt,
                        eps: self.eps,
                    };
                    adamw_param(chunk, &self.m[r.clone()], &self.v[r], um, k);
                });
                Ok(())
            }
        }
        let r = with_cpu_slice(&grad, |gs| -> Option<Result<()>> {
            let run = |gm: Option<&[f32]>, um: Option<&[f32]>| -> Result<()> {
                for (st, beta, one_minus, square) in [(m, b1, omb1, false), (v, b2, omb2, true)] {
                    st.as_tensor().inplace_op1(&Moments {
                        g: gs,
                        gm,
                        um,
                        beta,
                        one_minus,
                        square,
                        scale,
                    })?;
                }
                let done = with_cpu_slice(m.as_tensor(), |ms| {
                    with_cpu_slice(v.as_tensor(), |vs| {
                        param.as_tensor().inplace_op1(&Update {
                            m: ms,
                            v: vs,
                            um,
                            decay,
                            step_size,
                            bc2_sqrt,
                            eps,
                        })
                    })
                });
                done.flatten()
                    .unwrap_or_else(|| candle_core::bail!("optimizer state is not on the cpu"))
            };
            let gm_slice = |f: &dyn Fn(Option<&[f32]>) -> Result<()>| -> Option<Result<()>> {
                match &grad_mask {
                    None => Some(f(None)),
                    Some(t) => with_cpu_slice(t, |s| f(Some(s))),
                }
            };
            match &update_mask {
                None => gm_slice(&|gm| run(gm, None)),
                Some(u) => with_cpu_slice(u, |us| gm_slice(&|gm| run(gm, Some(us)))).flatten(),
            }
        });
        if let Some(Some(r)) = r {
            return r;
        }
    }
    // Tensor-op path (CUDA, Metal): the same arithmetic, on the device.
    device_updates::adamw_update(
        param,
        m,
        v,
        &grad,
        grad_mask.as_ref(),
        update_mask.as_ref(),
        h,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    fn t(v: &[f32]) -> Tensor {
        Tensor::from_slice(v, v.len(), &Device::Cpu).unwrap()
    }

    /// Gradients, parameters (shifted down by `p_shift`), a mask dropping every third element,
    /// and AdamW hyperparameters at step 3 with this gradient scale.
    fn case(n: usize, p_shift: f32, grad_scale: f32) -> (Vec<f32>, Vec<f32>, Vec<f32>, AdamWStep) {
        let g = (0..n)
            .map(|i| ((i * 7919) % 1000) as f32 / 500.0 - 1.0)
            .collect();
        let p = (0..n)
            .map(|i| ((i * 104729) % 997) as f32 / 997.0 - p_shift)
            .collect();
        let mask = (0..n).map(|i| (i % 3 != 0) as u8 as f32).collect();
        let h = AdamWStep {
            lr: 1e-3,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.01,
            t: 3,
            grad_scale,
        };
        (g, p, mask, h)
    }

    /// The dispatched AdamW kernels (AVX2 + FMA where the CPU has them) give, for every
    /// element, the bits of the scalar formulas compiled for the baseline target, with and
    /// without masks.
    #[test]
    fn adamw_kernels_match_scalar_bit_for_bit() {
        let n = 70_001;
        let (g, p, mask, h) = case(n, 0.4, 0.7);
        let bc1 = 1.0 - h.beta1.powi(3);
        let bc2 = 1.0 - h.beta2.powi(3);
        let (step_size, bc2_sqrt) = ((h.lr / bc1) as f32, bc2.sqrt() as f32);
        let decay = (1.0 - h.lr * h.weight_decay) as f32;
        for (gm, um) in [(false, false), (true, false), (false, true), (true, true)] {
            let (pa, ma, va) = (
                Var::from_tensor(&t(&p)).unwrap(),
                Var::from_tensor(&t(&p)).unwrap(),
                Var::from_tensor(&t(&p).abs().unwrap()).unwrap(),
            );
            let mt = t(&mask);
            let (gmt, umt) = (gm.then_some(&mt), um.then_some(&mt));
            adamw_update(&pa, &ma, &va, &t(&g), gmt, umt, h).unwrap();
            let (got_p, got_m, got_v) = (
                pa.as_tensor().to_vec1::<f32>().unwrap(),
                ma.as_tensor().to_vec1::<f32>().unwrap(),
                va.as_tensor().to_vec1::<f32>().unwrap(),
            );
            for j in 0..n {
                let (p0, m0, v0) = (p[j], p[j], p[j].abs());
                let (mut wp, mut wm, mut wv) = (p0, m0, v0);
                if !(um && mask[j] == 0.0) {
                    let mut x = g[j];
                    if gm {
                        x *= mask[j];
                    }
                    x *= h.grad_scale;
                    wm = m0 + 0.1f32 * (x - m0);
                    wv = v0 * 0.999 + 0.001f32 * (x * x);
                    let denom = wv.sqrt() / bc2_sqrt + 1e-8;
                    wp = p0 * decay - step_size * (wm / denom);
                }
                assert_eq!(got_m[j].to_bits(), wm.to_bits(), "m[{j}] masks {gm}/{um}");
                assert_eq!(got_v[j].to_bits(), wv.to_bits(), "v[{j}] masks {gm}/{um}");
                assert_eq!(got_p[j].to_bits(), wp.to_bits(), "p[{j}] masks {gm}/{um}");
            }
        }
    }

    #[test]
    fn cpu_and_tensor_paths_agree() {
        let n = 70_000; // more than one chunk
        let (g, p, mask, h) = case(n, 0.0, 0.5);
        // Fast path.
        let (pa, ma, va) = (
            Var::from_tensor(&t(&p)).unwrap(),
            Var::from_tensor(&t(&p)).unwrap(),
            Var::from_tensor(&t(&p).abs().unwrap()).unwrap(),
        );
        adamw_update(&pa, &ma, &va, &t(&g), Some(&t(&mask)), Some(&t(&mask)), h).unwrap();
        // Reference, scalar loop.
        for j in [0usize, 1, 2, 40_000, n - 1] {
            let got = pa.as_tensor().get(j).unwrap().to_scalar::<f32>().unwrap();
            if mask[j] == 0.0 {
                assert_eq!(got, p[j]);
                continue;
            }
            let gg = g[j] * mask[j] * 0.5;
            let mm = p[j] + 0.1f32 * (gg - p[j]);
            let vv = p[j].abs() * 0.999 + 0.001f32 * (gg * gg);
            let bc1 = 1.0 - 0.9f64.powi(3);
            let bc2 = 1.0 - 0.999f64.powi(3);
            let w = p[j] * (1.0 - 1e-3 * 0.01) as f32;
            let want = w - (1e-3 / bc1) as f32 * (mm / (vv.sqrt() / bc2.sqrt() as f32 + 1e-8));
            assert!((got - want).abs() < 1e-7, "{j}: {got} vs {want}");
        }
        let n2 = masked_sq_norm(&t(&g), Some(&t(&mask))).unwrap();
        let want: f64 = g
            .iter()
            .zip(&mask)
            .map(|(&a, &b)| ((a * b) as f64).powi(2))
            .sum();
        assert!((n2 - want).abs() < 1e-6 * want);
        let acc = Var::zeros(n, DType::F32, &Device::Cpu).unwrap();
        accumulate_sq(&acc, &t(&g), None, 1e3).unwrap();
        accumulate_sq(&acc, &t(&g), None, 1e3).unwrap();
        let got = acc.as_tensor().get(5).unwrap().to_scalar::<f32>().unwrap();
        let once = g[5] * g[5] / 1e3f32;
        assert_eq!(got, once + once);
    }
}
