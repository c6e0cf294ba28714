//! Fused linear layer `y = x · wᵀ + b`, forward and backward, as one graph node.
//!
//! Built from candle ops, a linear layer is five nodes (reshape, transpose of `w`, matmul,
//! broadcast add of `b`, reshape), and candle's backward pass fills a zero tensor and adds
//! into it for every node: four activation-sized zero-fill-and-add passes per layer. As one
//! custom op there is one node: the forward adds the bias inside the matrix product (the
//! destination starts as the broadcast bias), and the backward computes `dx = g · w`,
//! `dw = gᵀ · x` and `db = Σ_rows g` directly.

use super::gemm::{gemm, Mat, Threads};
use super::simd::simd_kernel;
use super::{contiguous_f32, rows_per_task, uninit_f32};
use candle_core::{CpuStorage, CustomOp1, CustomOp2, CustomOp3, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

/// `y = x · wᵀ + b` for `x` `[rows, in]`, `w` `[out, in]`, `b` `[out]`, all contiguous f32.
pub(crate) struct LinearOp;

impl CustomOp3 for LinearOp {
    fn name(&self) -> &'static str {
        "fused-linear"
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
        let w = contiguous_f32(s2, l2, name, "w")?;
        let b = contiguous_f32(s3, l3, name, "b")?;
        let (rows, in_f) = l1.shape().dims2()?;
        let (out_f, in_w) = l2.shape().dims2()?;
        if in_w != in_f || b.len() != out_f {
            candle_core::bail!(
                "{name}: x {:?}, w {:?} and b {:?} do not fit y = x·wᵀ + b",
                l1.dims(),
                l2.dims(),
                l3.dims()
            );
        }
        // Start from the broadcast bias; the product is accumulated onto it.
        // SAFETY: every row (all `out_f` elements) is written with the bias.
        let mut dst = unsafe {
            uninit_f32(rows * out_f, |dst| {
                if out_f > 0 {
                    dst.par_chunks_mut(out_f * rows_per_task(out_f))
                        .for_each(|chunk| {
                            for row in chunk.chunks_mut(out_f) {
                                for (d, &v) in row.iter_mut().zip(b) {
                                    d.write(v);
                                }
                            }
                        });
                }
            })
        };
        if rows > 0 && out_f > 0 && in_f > 0 {
            // SAFETY: x is rows×in (row stride in_f), wᵀ is read from w (out×in) as an
            // in×out matrix with row stride 1 and column stride in_f, dst is rows×out; all
            // three slices hold exactly those elements and dst aliases neither input.
            unsafe {
                gemm(
                    rows,
                    out_f,
                    in_f,
                    dst.as_mut_ptr(),
                    out_f as isize,
                    true,
                    Mat::new(x.as_ptr(), in_f as isize, 1),
                    Mat::new(w.as_ptr(), 1, in_f as isize),
                    Threads::Pool,
                );
            }
        }
        Ok((CpuStorage::F32(dst), Shape::from((rows, out_f))))
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        _b: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let grad = grad.contiguous()?;
        let dx = grad_times_weight(&grad, w)?;
        let dw = grad_t_times_input(&grad, x)?;
        let db = column_sums(&grad)?;
        Ok((Some(dx), Some(dw), Some(db)))
    }
}

/// The backward's `dx = g · w` for a contiguous `g` `[rows, out]` and `w` `[out, in]`.
pub(crate) fn grad_times_weight(g: &Tensor, w: &Tensor) -> Result<Tensor> {
    g.apply_op2_no_bwd(
        w,
        &ProductOp {
            lhs_transposed: false,
        },
    )
}

/// The backward's `dw = gᵀ · x` for a contiguous `g` `[rows, out]` and `x` `[rows, in]`.
pub(crate) fn grad_t_times_input(g: &Tensor, x: &Tensor) -> Result<Tensor> {
    g.apply_op2_no_bwd(
        x,
        &ProductOp {
            lhs_transposed: true,
        },
    )
}

/// `Σ_rows g` for a contiguous `[rows, cols]` f32 tensor.
fn column_sums(g: &Tensor) -> Result<Tensor> {
    g.apply_op1_no_bwd(&ColumnSumOp)
}

simd_kernel! {
    /// Adds, row by row, columns `c0 .. c0 + out.len()` of the `[rows, cols]` matrix `g` to `out`.
    fn add_column_block(out: &mut [f32], g: &[f32], rows: usize, cols: usize, c0: usize) {
        for r in 0..rows {
            let row = &g[r * cols + c0..r * cols + c0 + out.len()];
            for (s, &v) in out.iter_mut().zip(row) {
                *s += v;
            }
        }
    }
}

/// Column sums of a `[rows, cols]` matrix, split over columns (the sums are exactly those of a
/// sequential loop over rows, whatever the thread count).
struct ColumnSumOp;

impl CustomOp1 for ColumnSumOp {
    fn name(&self) -> &'static str {
        "column-sum"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let g = contiguous_f32(storage, layout, self.name(), "grad")?;
        let (rows, cols) = layout.shape().dims2()?;
        const COLS_PER_TASK: usize = 64;
        let mut sums = vec![0f32; cols];
        sums.par_chunks_mut(COLS_PER_TASK)
            .enumerate()
            .for_each(|(task, out)| add_column_block(out, g, rows, cols, task * COLS_PER_TASK));
        Ok((CpuStorage::F32(sums), Shape::from(cols)))
    }
}

/// `lhs · rhs` (`lhs` `[m, k]`) or `lhsᵀ · rhs` (`lhs` `[k, m]`) for contiguous 2-D f32 `lhs`
/// and `rhs` `[k, n]`: the two products of the linear layer's backward pass, `dx = g · w` and
/// `dw = gᵀ · x`, with the transpose read through strides rather than copied.
struct ProductOp {
    lhs_transposed: bool,
}

impl CustomOp2 for ProductOp {
    fn name(&self) -> &'static str {
        "linear-grad-product"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let name = self.name();
        let a = contiguous_f32(s1, l1, name, "lhs")?;
        let b = contiguous_f32(s2, l2, name, "rhs")?;
        let (r1, c1) = l1.shape().dims2()?;
        let (k, n) = l2.shape().dims2()?;
        let (m, k1, lhs) = if self.lhs_transposed {
            let lhs = Mat::new(a.as_ptr(), 1, c1 as isize);
            (c1, r1, lhs)
        } else {
            let lhs = Mat::new(a.as_ptr(), c1 as isize, 1);
            (r1, c1, lhs)
        };
        if k1 != k {
            candle_core::bail!("{name}: {:?} and {:?} do not fit", l1.dims(), l2.dims());
        }
        let dst = if k > 0 && m > 0 && n > 0 {
            // SAFETY: lhs covers the m×k matrix its strides describe in `a`, rhs the k×n
            // matrix `b`, and dst is a fresh m×n buffer that the product (not accumulating)
            // writes completely.
            unsafe {
                uninit_f32(m * n, |dst| {
                    gemm(
                        m,
                        n,
                        k,
                        dst.as_mut_ptr().cast(),
                        n as isize,
                        false,
                        lhs,
                        Mat::new(b.as_ptr(), n as isize, 1),
                        Threads::Pool,
                    )
                })
            }
        } else {
            vec![0f32; m * n]
        };
        Ok((CpuStorage::F32(dst), Shape::from((m, n))))
    }
}
