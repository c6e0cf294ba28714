//! Fused LayerNorm forward and backward kernels.

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
                .for_each(|(dst, x)| {
                    for (y, x) in dst.chunks_exact_mut(d).zip(x.chunks_exact(d)) {
                        let (mean, std) = row_stats(x, eps);
                        for (((y, &x), &w), &b) in y.iter_mut().zip(x).zip(w).zip(b) {
                            *y = (x - mean) / std * w + b;
                        }
                    }
                });
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
            let inv_d = 1.0 / d as f32;
            let chunk = rows_per_task(d) * d;
            let (dx_all, dwdb) = out.split_at_mut(nd);
            // Each task returns its partial [dw | db]; partials are summed in task order.
            let partials: Vec<Vec<f32>> = dx_all
                .par_chunks_mut(chunk)
                .zip(x.par_chunks(chunk).zip(g.par_chunks(chunk)))
                .map(|(dx, (x, g))| {
                    let mut acc = vec![0f32; 2 * d];
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
