//! Fused masked, scaled softmax over the last dimension, forward and backward.

use super::simd::simd_kernel;
use super::{contiguous_f32, math, rows_per_task};
use candle_core::{CpuStorage, CustomOp2, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

simd_kernel! {
    /// In place, for each row of `rows` (rows of `mask.len()` scores):
    /// `softmax(row · scale + mask)`.
    pub(crate) fn masked_softmax_rows(rows: &mut [f32], mask: &[f32], scale: f32) {
        for row in rows.chunks_exact_mut(mask.len().max(1)) {
            for (s, &m) in row.iter_mut().zip(mask) {
                *s = *s * scale + m;
            }
            let mx = math::max(row);
            for s in row.iter_mut() {
                *s = math::exp_f32(*s - mx);
            }
            let inv = 1.0 / math::sum(row);
            for s in row.iter_mut() {
                *s *= inv;
            }
        }
    }
}

simd_kernel! {
    /// In place, for each row (of `len` elements) of `dp`, with the softmax output `p`:
    /// `dS = scale · P ⊙ (dP − rowsum(dP ⊙ P))`.
    pub(crate) fn softmax_bwd_rows(dp: &mut [f32], p: &[f32], len: usize, scale: f32) {
        let len = len.max(1);
        for (row, pr) in dp.chunks_exact_mut(len).zip(p.chunks_exact(len)) {
            let dot = math::dot(row, pr);
            for (x, &pv) in row.iter_mut().zip(pr) {
                *x = scale * pv * (*x - dot);
            }
        }
    }
}

/// Forward op over `(scores, mask)`, where `mask` has already been broadcast (as a strided
/// view) to the shape of `scores`: `softmax(scores * scale + mask)` over the last dim.
pub(crate) struct MaskedSoftmaxOp {
    pub(crate) scale: f32,
}

/// Offset in the mask storage of the first element of row `row` (rows enumerate all but the
/// last dimension in row-major order).
#[inline]
fn mask_row_offset(row: usize, lead_dims: &[usize], lead_strides: &[usize], start: usize) -> usize {
    let mut r = row;
    let mut off = start;
    for (&dim, &stride) in lead_dims.iter().zip(lead_strides).rev() {
        off += (r % dim) * stride;
        r /= dim;
    }
    off
}

impl CustomOp2 for MaskedSoftmaxOp {
    fn name(&self) -> &'static str {
        "fused-masked-softmax"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let name = self.name();
        let scores = contiguous_f32(s1, l1, name, "scores")?;
        let mask = match s2 {
            CpuStorage::F32(v) => v.as_slice(),
            other => candle_core::bail!(
                "{name}: mask must be f32, got {:?}",
                candle_core::backend::BackendStorage::dtype(other)
            ),
        };
        if l1.dims() != l2.dims() {
            candle_core::bail!(
                "{name}: mask view {:?} must have the shape of the scores {:?}",
                l2.dims(),
                l1.dims()
            );
        }
        let dims = l1.dims();
        let Some((&lk, lead_dims)) = dims.split_last() else {
            candle_core::bail!("{name}: scores must have at least one dimension");
        };
        let (&mask_last_stride, lead_strides) = l2
            .stride()
            .split_last()
            .expect("mask has the rank of the scores");
        let mask_start = l2.start_offset();
        let mut dst = vec![0f32; scores.len()];
        if lk > 0 {
            let scale = self.scale;
            let rpt = rows_per_task(lk);
            dst.par_chunks_mut(rpt * lk)
                .zip(scores.par_chunks(rpt * lk))
                .enumerate()
                .for_each(|(task, (dst, src))| {
                    let mut mask_row = vec![0f32; if mask_last_stride == 1 { 0 } else { lk }];
                    for (i, (y, s)) in dst
                        .chunks_exact_mut(lk)
                        .zip(src.chunks_exact(lk))
                        .enumerate()
                    {
                        let off =
                            mask_row_offset(task * rpt + i, lead_dims, lead_strides, mask_start);
                        let m: &[f32] = if mask_last_stride == 1 {
                            &mask[off..off + lk]
                        } else {
                            for (j, mv) in mask_row.iter_mut().enumerate() {
                                *mv = mask[off + j * mask_last_stride];
                            }
                            &mask_row
                        };
                        y.copy_from_slice(s);
                        masked_softmax_rows(y, m, scale);
                    }
                });
        }
        Ok((CpuStorage::F32(dst), l1.shape().clone()))
    }

    fn bwd(
        &self,
        _scores: &Tensor,
        mask: &Tensor,
        res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let grad = grad.contiguous()?;
        let res = res.contiguous()?;
        if mask.track_op() {
            let g = res.apply_op2_no_bwd(&grad, &SoftmaxBwdOp { scale: 1.0 })?;
            let ds = (&g * self.scale as f64)?;
            Ok((Some(ds), Some(g)))
        } else {
            let ds = res.apply_op2_no_bwd(&grad, &SoftmaxBwdOp { scale: self.scale })?;
            Ok((Some(ds), None))
        }
    }
}

/// Softmax backward over `(P, dP)`: `scale · P ⊙ (dP − rowsum(dP ⊙ P))`.
pub(crate) struct SoftmaxBwdOp {
    pub(crate) scale: f32,
}

impl CustomOp2 for SoftmaxBwdOp {
    fn name(&self) -> &'static str {
        "fused-softmax-bwd"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let name = self.name();
        let p = contiguous_f32(s1, l1, name, "softmax output")?;
        let dp = contiguous_f32(s2, l2, name, "grad")?;
        if l1.dims() != l2.dims() {
            candle_core::bail!(
                "{name}: grad {:?} must have the shape of the output {:?}",
                l2.dims(),
                l1.dims()
            );
        }
        let lk = l1.dims().last().copied().unwrap_or(1);
        let mut dst = vec![0f32; p.len()];
        if lk > 0 {
            let scale = self.scale;
            let chunk = rows_per_task(lk) * lk;
            dst.par_chunks_mut(chunk)
                .zip(p.par_chunks(chunk).zip(dp.par_chunks(chunk)))
                .for_each(|(dst, (p, dp))| {
                    dst.copy_from_slice(dp);
                    softmax_bwd_rows(dst, p, lk, scale);
                });
        }
        Ok((CpuStorage::F32(dst), l1.shape().clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The dispatched row kernels give the bits of scalar loops compiled for the baseline target.
    #[test]
    fn kernels_match_scalar_bit_for_bit() {
        let l = 37;
        let rows = 5;
        let scores: Vec<f32> = (0..l * rows)
            .map(|i| ((i * 31) % 97) as f32 / 9.0 - 4.0)
            .collect();
        let mask: Vec<f32> = (0..l)
            .map(|j| if j % 7 == 3 { -1e4 } else { 0.0 })
            .collect();
        let dp: Vec<f32> = (0..l * rows).map(|i| (i as f32 * 0.37).cos()).collect();
        let scale = 0.176_776_7;
        let mut p = scores.clone();
        masked_softmax_rows(&mut p, &mask, scale);
        let mut ds = dp.clone();
        softmax_bwd_rows(&mut ds, &p, l, scale);
        for r in 0..rows {
            let row: Vec<f32> = (0..l)
                .map(|j| scores[r * l + j] * scale + mask[j])
                .collect();
            let mx = math::max(&row);
            let e: Vec<f32> = row.iter().map(|&s| math::exp_f32(s - mx)).collect();
            let inv = 1.0 / math::sum(&e);
            for j in 0..l {
                assert_eq!(p[r * l + j].to_bits(), (e[j] * inv).to_bits(), "p[{r},{j}]");
            }
            let dot = math::dot(&dp[r * l..(r + 1) * l], &p[r * l..(r + 1) * l]);
            for j in 0..l {
                let want = scale * p[r * l + j] * (dp[r * l + j] - dot);
                assert_eq!(ds[r * l + j].to_bits(), want.to_bits(), "ds[{r},{j}]");
            }
        }
    }
}
