//! Fused exact-erf GELU (optionally with a bias added first), forward and backward.

use super::simd::simd_kernel;
use super::{contiguous_f32, math, rows_per_task, GRAIN};
use candle_core::{CpuStorage, CustomOp1, CustomOp2, CustomOp3, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

simd_kernel! {
    /// `y = gelu(x)` elementwise.
    fn gelu_chunk(y: &mut [f32], x: &[f32]) {
        for (y, &x) in y.iter_mut().zip(x) {
            *y = math::gelu_erf(x);
        }
    }
}

simd_kernel! {
    /// `y = g · gelu'(x)` elementwise.
    fn gelu_grad_chunk(y: &mut [f32], x: &[f32], g: &[f32]) {
        for ((y, &x), &g) in y.iter_mut().zip(x).zip(g) {
            *y = g * math::gelu_erf_grad(x);
        }
    }
}

/// Forward GELU op: `x · Φ(x)`.
pub(crate) struct GeluErfOp;

impl CustomOp1 for GeluErfOp {
    fn name(&self) -> &'static str {
        "fused-gelu-erf"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let x = contiguous_f32(storage, layout, self.name(), "x")?;
        let mut dst = vec![0f32; x.len()];
        dst.par_chunks_mut(GRAIN)
            .zip(x.par_chunks(GRAIN))
            .for_each(|(y, x)| gelu_chunk(y, x));
        Ok((CpuStorage::F32(dst), layout.shape().clone()))
    }

    fn bwd(&self, arg: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        let grad = grad.contiguous()?;
        Ok(Some(arg.apply_op2_no_bwd(&grad, &GeluErfBwdOp)?))
    }
}

/// GELU backward over `(x, grad_y)`: `grad_y · (Φ(x) + x · φ(x))`.
pub(crate) struct GeluErfBwdOp;

impl CustomOp2 for GeluErfBwdOp {
    fn name(&self) -> &'static str {
        "fused-gelu-erf-bwd"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let name = self.name();
        let x = contiguous_f32(s1, l1, name, "x")?;
        let g = contiguous_f32(s2, l2, name, "grad")?;
        if x.len() != g.len() {
            candle_core::bail!("{name}: x {:?} and grad {:?} differ", l1.dims(), l2.dims());
        }
        let mut dst = vec![0f32; x.len()];
        dst.par_chunks_mut(GRAIN)
            .zip(x.par_chunks(GRAIN).zip(g.par_chunks(GRAIN)))
            .for_each(|(y, (x, g))| gelu_grad_chunk(y, x, g));
        Ok((CpuStorage::F32(dst), l1.shape().clone()))
    }
}

/// Forward op over `(x, b)`: `gelu_erf(x + b)` with `b` of shape `[D]` (last dim of x).
pub(crate) struct BiasGeluErfOp;

impl CustomOp2 for BiasGeluErfOp {
    fn name(&self) -> &'static str {
        "fused-bias-gelu-erf"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let name = self.name();
        let x = contiguous_f32(s1, l1, name, "x")?;
        let b = contiguous_f32(s2, l2, name, "bias")?;
        let d = b.len();
        if l1.dims().last().copied() != Some(d) {
            candle_core::bail!("{name}: bias [{d}] does not match x {:?}", l1.dims());
        }
        let mut dst = vec![0f32; x.len()];
        if d > 0 {
            let chunk = rows_per_task(d) * d;
            dst.par_chunks_mut(chunk)
                .zip(x.par_chunks(chunk))
                .for_each(|(y, x)| {
                    for (y, x) in y.chunks_exact_mut(d).zip(x.chunks_exact(d)) {
                        for ((y, &x), &b) in y.iter_mut().zip(x).zip(b) {
                            *y = math::gelu_erf(x + b);
                        }
                    }
                });
        }
        Ok((CpuStorage::F32(dst), l1.shape().clone()))
    }

    fn bwd(
        &self,
        x: &Tensor,
        b: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let grad = grad.contiguous()?;
        let packed = x.apply_op3_no_bwd(b, &grad, &BiasGeluErfBwdOp)?;
        let nd = x.elem_count();
        let d = b.elem_count();
        let dx = packed.narrow(0, 0, nd)?.reshape(x.shape())?;
        let db = packed.narrow(0, nd, d)?.reshape(b.shape())?;
        Ok((Some(dx), Some(db)))
    }
}

/// Bias-GELU backward over `(x, b, grad_y)`. Produces one flat tensor holding `dx` (all
/// elements of x) followed by `db` (D), the column sums of `dx`.
pub(crate) struct BiasGeluErfBwdOp;

impl CustomOp3 for BiasGeluErfBwdOp {
    fn name(&self) -> &'static str {
        "fused-bias-gelu-erf-bwd"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let name = self.name();
        let x = contiguous_f32(s1, l1, name, "x")?;
        let b = contiguous_f32(s2, l2, name, "bias")?;
        let g = contiguous_f32(s3, l3, name, "grad")?;
        let d = b.len();
        if l1.dims().last().copied() != Some(d) || g.len() != x.len() {
            candle_core::bail!(
                "{name}: shapes do not match: x {:?}, bias [{d}], grad {:?}",
                l1.dims(),
                l3.dims()
            );
        }
        let nd = x.len();
        let mut out = vec![0f32; nd + d];
        if d > 0 && nd > 0 {
            let chunk = rows_per_task(d) * d;
            let (dx_all, db_out) = out.split_at_mut(nd);
            let partials: Vec<Vec<f32>> = dx_all
                .par_chunks_mut(chunk)
                .zip(x.par_chunks(chunk).zip(g.par_chunks(chunk)))
                .map(|(dx, (x, g))| {
                    let mut db = vec![0f32; d];
                    for ((dx, x), g) in dx
                        .chunks_exact_mut(d)
                        .zip(x.chunks_exact(d))
                        .zip(g.chunks_exact(d))
                    {
                        for ((((dx, &x), &g), &b), db) in
                            dx.iter_mut().zip(x).zip(g).zip(b).zip(db.iter_mut())
                        {
                            let v = g * math::gelu_erf_grad(x + b);
                            *dx = v;
                            *db += v;
                        }
                    }
                    db
                })
                .collect();
            for p in partials {
                for (o, v) in db_out.iter_mut().zip(&p) {
                    *o += v;
                }
            }
        }
        let n = out.len();
        Ok((CpuStorage::F32(out), Shape::from_dims(&[n])))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The dispatched kernels (AVX2 + FMA where the CPU has them) give the bits of the scalar
    /// formulas compiled for the baseline target.
    #[test]
    fn kernels_match_scalar_bit_for_bit() {
        let x: Vec<f32> = (0..10_001).map(|i| (i as f32 - 5000.0) / 700.0).collect();
        let g: Vec<f32> = x.iter().map(|v| v.sin()).collect();
        let (mut y, mut dy) = (vec![0f32; x.len()], vec![0f32; x.len()]);
        gelu_chunk(&mut y, &x);
        gelu_grad_chunk(&mut dy, &x, &g);
        for i in 0..x.len() {
            assert_eq!(
                y[i].to_bits(),
                math::gelu_erf(x[i]).to_bits(),
                "x = {}",
                x[i]
            );
            let want = g[i] * math::gelu_erf_grad(x[i]);
            assert_eq!(dy[i].to_bits(), want.to_bits(), "x = {}", x[i]);
        }
    }
}
