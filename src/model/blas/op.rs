//! The `cblas_sgemm` matrix product as a candle [`CustomOp2`] with a backward pass.

use super::{check_matmul_shapes, ffi, matmul, BlasError};
use candle_core::backend::BackendStorage;
use candle_core::{CpuStorage, CustomOp2, Layout, Shape, Tensor};
use rayon::prelude::*;
use std::borrow::Cow;
use std::ffi::c_int;

/// Below this many flops (`2·batch·m·n·k`) a product is not split over the rayon pool.
const MIN_PARALLEL_FLOPS: usize = 1 << 20;
/// Smallest number of result rows (or columns) in one block when a single matrix product is split
/// over the rayon pool.
const MIN_BLOCK: usize = 64;
/// At most this many blocks per rayon thread when a single matrix product is split, so that a
/// thread slowed down by other load on the machine can be helped by work stealing.
const BLOCKS_PER_THREAD: usize = 4;

/// The batched matrix product `C[i] = A[i] · B[i]` through `cblas_sgemm` (f32, CPU).
pub struct BlasMatMul;

/// One operand as BLAS reads it: where each batch item's matrix starts, and whether the matrix is
/// row-major (`CblasNoTrans`) or column-major (`CblasTrans`) with leading dimension `ld`.
struct Operand<'a> {
    data: Cow<'a, [f32]>,
    offsets: Vec<usize>,
    trans: bool,
    ld: usize,
}

/// How BLAS can read a `rows × cols` matrix whose elements are `rs` apart along rows and `cs`
/// apart along columns: `Some((false, ld))` row-major, `Some((true, ld))` column-major (a
/// transposed view), `None` when neither (it must be copied). Strides of dims of size 1 do not
/// matter.
pub(crate) fn matrix_layout(
    rows: usize,
    cols: usize,
    rs: usize,
    cs: usize,
) -> Option<(bool, usize)> {
    if cols <= 1 || cs == 1 {
        let ld = if rows <= 1 { cols.max(1) } else { rs };
        if ld >= cols.max(1) {
            return Some((false, ld));
        }
    }
    if rows <= 1 || rs == 1 {
        let ld = if cols <= 1 { rows.max(1) } else { cs };
        if ld >= rows.max(1) {
            return Some((true, ld));
        }
    }
    None
}

/// The offset of every index of `dims` (row-major order) for `stride`, starting at `start`.
fn offsets(start: usize, dims: &[usize], stride: &[usize]) -> Vec<usize> {
    let count: usize = dims.iter().product();
    let mut out = Vec::with_capacity(count);
    if count == 0 {
        return out;
    }
    let mut idx = vec![0usize; dims.len()];
    let mut off = start;
    loop {
        out.push(off);
        let mut d = dims.len();
        loop {
            if d == 0 {
                return out;
            }
            d -= 1;
            idx[d] += 1;
            off += stride[d];
            if idx[d] < dims[d] {
                break;
            }
            off -= stride[d] * dims[d];
            idx[d] = 0;
        }
    }
}

/// Fails unless every element `layout` describes lies inside a storage of `len` elements.
fn check_bounds(len: usize, layout: &Layout) -> Result<(), BlasError> {
    let dims = layout.dims();
    if dims.contains(&0) {
        return Ok(());
    }
    let last = dims
        .iter()
        .zip(layout.stride())
        .fold(layout.start_offset(), |acc, (&d, &s)| acc + (d - 1) * s);
    if last < len {
        Ok(())
    } else {
        Err(BlasError::OutOfBounds {
            dims: dims.to_vec(),
            stride: layout.stride().to_vec(),
            offset: layout.start_offset(),
            len,
        })
    }
}

/// Prepares one operand of rank >= 2: no copy when its last two dims are row- or column-major,
/// otherwise a contiguous copy of the whole tensor.
fn operand<'a>(data: &'a [f32], layout: &Layout) -> Result<Operand<'a>, BlasError> {
    check_bounds(data.len(), layout)?;
    let dims = layout.dims();
    let stride = layout.stride();
    let rank = dims.len();
    let (rows, cols) = (dims[rank - 2], dims[rank - 1]);
    let (rs, cs) = (stride[rank - 2], stride[rank - 1]);
    match matrix_layout(rows, cols, rs, cs) {
        Some((trans, ld)) => Ok(Operand {
            data: Cow::Borrowed(data),
            offsets: offsets(
                layout.start_offset(),
                &dims[..rank - 2],
                &stride[..rank - 2],
            ),
            trans,
            ld,
        }),
        None => {
            let copy: Vec<f32> = offsets(layout.start_offset(), dims, stride)
                .into_iter()
                .map(|o| data[o])
                .collect();
            let batch: usize = dims[..rank - 2].iter().product();
            Ok(Operand {
                data: Cow::Owned(copy),
                offsets: (0..batch).map(|i| i * rows * cols).collect(),
                trans: false,
                ld: cols.max(1),
            })
        }
    }
}

/// Converts a size to the BLAS integer type.
fn blas_int(what: &'static str, value: usize) -> Result<c_int, BlasError> {
    c_int::try_from(value).map_err(|_| BlasError::TooLarge { what, value })
}

/// A pointer to the result buffer that rayon tasks may share; each task writes a disjoint block.
#[derive(Clone, Copy)]
struct DstPtr(*mut f32);
// SAFETY: the tasks that share a DstPtr write disjoint parts of the buffer (see `Product::run`).
unsafe impl Send for DstPtr {}
// SAFETY: as above.
unsafe impl Sync for DstPtr {}

/// A checked batched product ready to run.
struct Product<'a> {
    a: Operand<'a>,
    b: Operand<'a>,
    batch: usize,
    m: usize,
    n: usize,
    k: usize,
}

impl Product<'_> {
    /// Computes the block `rows × cols` of batch item `item` of the result into `dst`.
    ///
    /// # Safety
    /// `dst` must hold `batch·m·n` elements, and no other thread may write the same block.
    unsafe fn block(
        &self,
        dst: DstPtr,
        item: usize,
        rows: std::ops::Range<usize>,
        cols: std::ops::Range<usize>,
    ) {
        let (a, b) = (&self.a, &self.b);
        let a_off = a.offsets[item]
            + if a.trans {
                rows.start
            } else {
                rows.start * a.ld
            };
        let b_off = b.offsets[item]
            + if b.trans {
                cols.start * b.ld
            } else {
                cols.start
            };
        let c_off = item * self.m * self.n + rows.start * self.n + cols.start;
        let trans = |t: bool| if t { ffi::TRANS } else { ffi::NO_TRANS };
        // Sizes were checked to fit c_int in `Product::new`, and the offsets lie inside the
        // storages (checked by `check_bounds`).
        ffi::sgemm(
            trans(a.trans),
            trans(b.trans),
            rows.len() as c_int,
            cols.len() as c_int,
            self.k as c_int,
            a.data.as_ptr().add(a_off),
            a.ld as c_int,
            b.data.as_ptr().add(b_off),
            b.ld as c_int,
            dst.0.add(c_off),
            self.n as c_int,
        )
    }

    /// Runs the product into `dst` (`batch·m·n` elements, row-major per item).
    fn run(&self, dst: &mut [f32]) {
        assert_eq!(dst.len(), self.batch * self.m * self.n);
        let ptr = DstPtr(dst.as_mut_ptr());
        let (m, n) = (self.m, self.n);
        let threads = rayon::current_num_threads();
        let flops = 2 * self.batch * m * n * self.k;
        let split = threads > 1 && flops >= MIN_PARALLEL_FLOPS && ffi::num_threads() == 1;
        // SAFETY (all three branches): every call writes a different block of `dst`, which
        // outlives the calls, and `dst` has the asserted size.
        if !split {
            for item in 0..self.batch {
                unsafe { self.block(ptr, item, 0..m, 0..n) }
            }
        } else if self.batch >= threads {
            (0..self.batch)
                .into_par_iter()
                .for_each(|item| unsafe { self.block(ptr, item, 0..m, 0..n) });
        } else {
            let along_rows = m >= n;
            let len = if along_rows { m } else { n };
            let blocks = (len / MIN_BLOCK).clamp(1, threads * BLOCKS_PER_THREAD);
            let size = len.div_ceil(blocks);
            for item in 0..self.batch {
                (0..len.div_ceil(size)).into_par_iter().for_each(|i| {
                    let r = i * size..((i + 1) * size).min(len);
                    if along_rows {
                        unsafe { self.block(ptr, item, r, 0..n) }
                    } else {
                        unsafe { self.block(ptr, item, 0..m, r) }
                    }
                });
            }
        }
    }
}

impl<'a> Product<'a> {
    /// Checks shapes and layouts and prepares both operands.
    fn new(a: &'a [f32], la: &Layout, b: &'a [f32], lb: &Layout) -> Result<Self, BlasError> {
        let (batch, m, n, k) = check_matmul_shapes(la.dims(), lb.dims())?;
        let a = operand(a, la)?;
        let b = operand(b, lb)?;
        for (what, v) in [("m", m), ("n", n), ("k", k), ("lda", a.ld), ("ldb", b.ld)] {
            blas_int(what, v)?;
        }
        Ok(Self {
            a,
            b,
            batch,
            m,
            n,
            k,
        })
    }
}

impl CustomOp2 for BlasMatMul {
    fn name(&self) -> &'static str {
        "blas-matmul"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let (a, b) = match (s1, s2) {
            (CpuStorage::F32(a), CpuStorage::F32(b)) => (a.as_slice(), b.as_slice()),
            (CpuStorage::F32(_), other) | (other, _) => {
                return Err(BlasError::DType(other.dtype()).into())
            }
        };
        let (batch, m, n, k) = check_matmul_shapes(l1.dims(), l2.dims())?;
        let rank = l1.dims().len();
        let mut out_dims = l1.dims()[..rank - 2].to_vec();
        out_dims.extend([m, n]);
        let mut dst = vec![0f32; batch * m * n];
        if !dst.is_empty() && k > 0 {
            Product::new(a, l1, b, l2)?.run(&mut dst);
        }
        Ok((CpuStorage::F32(dst), Shape::from(out_dims)))
    }

    fn bwd(
        &self,
        a: &Tensor,
        b: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>)> {
        let ga = matmul(grad, &b.t()?)?;
        let gb = matmul(&a.t()?, grad)?;
        // With different batch dims (same item count) the products take `grad`'s batch dims.
        let ga = if ga.dims() == a.dims() {
            ga
        } else {
            ga.reshape(a.shape())?
        };
        let gb = if gb.dims() == b.dims() {
            gb
        } else {
            gb.reshape(b.shape())?
        };
        Ok((Some(ga), Some(gb)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matrix_layouts() {
        // Row-major, column-major (transposed view), padded rows, and neither.
        assert_eq!(matrix_layout(3, 4, 4, 1), Some((false, 4)));
        assert_eq!(matrix_layout(3, 4, 1, 3), Some((true, 3)));
        assert_eq!(matrix_layout(3, 4, 8, 1), Some((false, 8)));
        assert_eq!(matrix_layout(3, 4, 8, 2), None);
        assert_eq!(matrix_layout(3, 4, 0, 1), None);
        // Size-1 dims ignore their stride.
        assert_eq!(matrix_layout(1, 4, 0, 1), Some((false, 4)));
        assert_eq!(matrix_layout(4, 1, 7, 0), Some((false, 7)));
        assert_eq!(matrix_layout(1, 1, 0, 0), Some((false, 1)));
        // A broadcast column is neither.
        assert_eq!(matrix_layout(4, 1, 0, 5), None);
    }

    #[test]
    fn batch_offsets() {
        assert_eq!(offsets(5, &[], &[]), vec![5]);
        assert_eq!(offsets(0, &[2, 3], &[10, 1]), vec![0, 1, 2, 10, 11, 12]);
        assert_eq!(offsets(1, &[2, 2], &[0, 3]), vec![1, 4, 1, 4]);
        assert!(offsets(0, &[2, 0], &[1, 1]).is_empty());
    }
}
