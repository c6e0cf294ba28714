//! Fused LayerNorm forward and backward kernels.

use super::simd::simd_kernel;
use super::{contiguous_f32, math, rows_per_task};
use candle_core::{CpuStorage, CustomOp3, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

/// Forward LayerNorm custom op over `(x, w, b)`; its backward runs [`LayerNormBwdOp`].
pub(crate) struct LayerNormOp {
    pub(crate) eps: f32,
}

/// Mean and 1/std of one row (biased variance).
#[inline(always)]
fn row_stats(row: &[f32], eps: f32) -> (f32, f32) {
    let n = row.len() as f32;
    let mean = math::sum(row) / n;
    let var = math::sum_sq_dev(row, mean) / n;
    (mean, (var + eps).sqrt())
}

simd_kernel! {
    /// LayerNorm of each row of `x` (rows of `w.len()` elements) into `dst`.
    fn normalize_rows(dst: &mut [f32], x: &[f32], w: &[f32], b: &[f32], eps: f32) {
        let d = w.len();
        for (y, x) in dst.chunks_exact_mut(d).zip(x.chunks_exact(d)) {
            let (mean, std) = row_stats(x, eps);
            for (((y, &x), &w), &b) in y.iter_mut().zip(x).zip(w).zip(b) {
                *y = (x - mean) / std * w + b;
            }
        }
    }
}

simd_kernel! {
    /// LayerNorm backward for the rows of `x` and `g` (rows of `w.len()` elements): writes
    /// `dx` and adds the rows' `dw` and `db` to `acc` (`[dw | db]`).
    fn normalize_rows_bwd(dx: &mut [f32], x: &[f32], g: &[f32], w: &[f32], acc: &mut [f32], eps: f32) {
        let d = w.len();
        let inv_d = 1.0 / d as f32;
        let mut xhat = vec![0f32; d];
        let mut gw = vec![0f32; d];
        let (dw, db) = acc.split_at_mut(d);
        for ((dx, x), g) in dx
            .chunks_exact_mut(d)
            .zip(x.chunks_exact(d))
            .zip(g.chunks_exact(d))
        {
            let (mean, std) = row_stats(x, eps);
            let rstd = 1.0 / std;
            for (((((xh, gw), &x), &g), &w), (dw, db)) in xhat
                .iter_mut()
                .zip(gw.iter_mut())
                .zip(x)
                .zip(g)
                .zip(w)
                .zip(dw.iter_mut().zip(db.iter_mut()))
            {
                let h = (x - mean) * rstd;
                *xh = h;
                *gw = g * w;
                *dw += g * h;
                *db += g;
            }
            let mean_gw = math::sum(&gw) * inv_d;
            let mean_gwx = math::dot(&gw, &xhat) * inv_d;
            for ((dx, &h), &gw) in dx.iter_mut().zip(&xhat).zip(&gw) {
                *dx = rstd * (gw - mean_gw - h * mean_gwx);
            }
        }
    }
}

impl CustomOp3 for LayerNormOp {
    fn name(&self) -> &'static str {
        "fused-layer-norm"
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
        let w = contiguous_f32(s2, l2, name, "weight")?;
        let b = contiguous_f32(s3, l3, name, "bias")?;
        let d = l1.dims().last().copied().unwrap_or(1);
        if w.len() != d || b.len() != d {
            candle_core::bail!(
                "{name}: weight/bias have {}/{} elements but the last dim of x is {d}",
                w.len(),
                b.len()
            );
        }
        let mut dst = vec![0f32; x.len()];
        if d > 0 {
            let eps = self.eps;
            let chunk = rows_per_task(d) * d;
            dst.par_chunks_mut(chunk)
                .zip(x.par_chunks(chunk))
                .for_each(|(dst, x)| normalize_rows(dst, x, w, b, eps));
        }
        Ok((CpuStorage::F32(dst), l1.shape().clone()))
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        b: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let grad = grad.contiguous()?;
        let packed = x.apply_op3_no_bwd(w, &grad, &LayerNormBwdOp { eps: self.eps })?;
        let nd = x.elem_count();
        let d = w.elem_count();
        let dx = packed.narrow(0, 0, nd)?.reshape(x.shape())?;
        let dw = packed.narrow(0, nd, d)?.reshape(w.shape())?;
        let db = packed.narrow(0, nd + d, d)?.reshape(b.shape())?;
        Ok((Some(dx), Some(dw), Some(db)))
    }
}

/// Backward LayerNorm kernel over `(x, w, grad_y)`. Produces one flat tensor holding
/// `dx` (all elements of x), then `dw` (D), then `db` (D).
pub(crate) struct LayerNormBwdOp {
    pub(crate) eps: f32,
}

impl CustomOp3 for LayerNormBwdOp {
    fn name(&self) -> &'static str {
        "fused-layer-norm-bwd"
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
        let w = contiguous_f32(s2, l2, name, "weight")?;
        let g = contiguous_f32(s3, l3, name, "grad")?;
        let d = w.len();
        if l1.dims().last().copied() != Some(d) || g.len() != x.len() {
            candle_core::bail!(
                "{name}: shapes do not match: x {:?}, weight [{d}], grad {:?}",
                l1.dims(),
                l3.dims()
            );
        }
        let nd = x.len();
        let mut out = vec![0f32; nd + 2 * d];
        if d > 0 && nd > 0 {
            let eps = self.eps;
            let chunk = rows_per_task(d) * d;
            let (dx_all, dwdb) = out.split_at_mut(nd);
            // Each task returns its partial [dw | db]; partials are summed in task order.
            let partials: Vec<Vec<f32>> = dx_all
                .par_chunks_mut(chunk)
                .zip(x.par_chunks(chunk).zip(g.par_chunks(chunk)))
                .map(|(dx, (x, g))| {
                    let mut acc = vec![0f32; 2 * d];
                    normalize_rows_bwd(dx, x, g, w, &mut acc, eps);
                    acc
                })
                .collect();
            for p in partials {
                for (o, v) in dwdb.iter_mut().zip(&p) {
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

    /// The dispatched row kernels give the bits of scalar loops compiled for the baseline target.
    #[test]
    fn kernels_match_scalar_bit_for_bit() {
        let (d, rows, eps) = (45, 4, 1e-12);
        let x: Vec<f32> = (0..d * rows)
            .map(|i| ((i * 13) % 29) as f32 / 3.0 - 4.0)
            .collect();
        let g: Vec<f32> = (0..d * rows).map(|i| (i as f32 * 0.71).sin()).collect();
        let w: Vec<f32> = (0..d).map(|j| 1.0 + j as f32 / 50.0).collect();
        let b: Vec<f32> = (0..d).map(|j| j as f32 / 90.0 - 0.2).collect();
        let mut y = vec![0f32; d * rows];
        normalize_rows(&mut y, &x, &w, &b, eps);
        let mut dx = vec![0f32; d * rows];
        let mut acc = vec![0f32; 2 * d];
        normalize_rows_bwd(&mut dx, &x, &g, &w, &mut acc, eps);
        let mut want_acc = vec![0f32; 2 * d];
        for r in 0..rows {
            let (xr, gr) = (&x[r * d..(r + 1) * d], &g[r * d..(r + 1) * d]);
            let (mean, std) = row_stats(xr, eps);
            let rstd = 1.0 / std;
            let xhat: Vec<f32> = xr.iter().map(|&v| (v - mean) * rstd).collect();
            let gw: Vec<f32> = gr.iter().zip(&w).map(|(&g, &w)| g * w).collect();
            let (mean_gw, mean_gwx) = (
                math::sum(&gw) * (1.0 / d as f32),
                math::dot(&gw, &xhat) * (1.0 / d as f32),
            );
            for j in 0..d {
                let want_y = (xr[j] - mean) / std * w[j] + b[j];
                assert_eq!(y[r * d + j].to_bits(), want_y.to_bits(), "y[{r},{j}]");
                let want_dx = rstd * (gw[j] - mean_gw - xhat[j] * mean_gwx);
                assert_eq!(dx[r * d + j].to_bits(), want_dx.to_bits(), "dx[{r},{j}]");
                want_acc[j] += gr[j] * xhat[j];
                want_acc[d + j] += gr[j];
            }
        }
        for (j, (a, w)) in acc.iter().zip(&want_acc).enumerate() {
            assert_eq!(a.to_bits(), w.to_bits(), "dw/db[{j}]");
        }
    }
}
