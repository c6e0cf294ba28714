//! What the matrix products share below both engines ([`super::gemm`]'s gemm crate and the
//! optional [`super::mkl`]): strided operands, and the fixed blocks a parallel product is cut into.

use rayon::prelude::*;

/// A strided f32 matrix operand: element `(i, j)` is at `ptr + i·rs + j·cs`.
#[derive(Clone, Copy)]
pub(crate) struct Mat {
    pub ptr: *const f32,
    pub rs: isize,
    pub cs: isize,
}

impl Mat {
    /// The operand at `ptr` with row stride `rs` and column stride `cs`.
    pub(crate) const fn new(ptr: *const f32, rs: isize, cs: isize) -> Self {
        Mat { ptr, rs, cs }
    }
}

/// Multiply-adds per block of a parallel product, at least.
const BLOCK_WORK: usize = 16 << 20;
/// Blocks per product, at most.
const MAX_BLOCKS: usize = 8;
/// Block edges fall on multiples of this (the micro-kernel's tile).
const BLOCK_ALIGN: usize = 16;

/// A product's result of `m×n` elements at `dst` (column stride 1), with the operands that
/// make it: `lhs` (m×k) and `rhs` (k×n). [`for_blocks`] hands out parts of one as blocks.
#[derive(Clone, Copy)]
pub(crate) struct Block {
    pub m: usize,
    pub n: usize,
    pub dst: *mut f32,
    pub lhs: Mat,
    pub rhs: Mat,
}

/// Runs `f` over the blocks of the `whole` product (inner dimension `k`, result row stride
/// `dst_rs`), in parallel over the current rayon pool; each block's `dst`, `lhs` and `rhs` point
/// at its own rows and columns. The blocks are rows of the result when `m ≥ n`, else columns (so
/// the operand every block packs again is the smaller one), and they depend on the shape alone:
/// the calls made, and so the results, do not depend on the number of threads.
pub(crate) fn for_blocks(whole: Block, k: usize, dst_rs: isize, f: impl Fn(Block) + Sync) {
    let Block { m, n, .. } = whole;
    let rows = m >= n;
    let dim = if rows { m } else { n };
    let count = (m * n * k).div_ceil(BLOCK_WORK).clamp(1, MAX_BLOCKS);
    let edge = |b: usize| {
        if b >= count {
            dim
        } else {
            (b * dim / count) / BLOCK_ALIGN * BLOCK_ALIGN
        }
    };
    // Raw pointers are neither Send nor Sync: the blocks get the addresses.
    let (a0, b0, c0) = (
        whole.lhs.ptr as usize,
        whole.rhs.ptr as usize,
        whole.dst as usize,
    );
    let (lrs, lcs) = (whole.lhs.rs, whole.lhs.cs);
    let (rrs, rcs) = (whole.rhs.rs, whole.rhs.cs);
    let block = |b: usize| {
        let (s, e) = (edge(b), edge(b + 1));
        if e <= s {
            return;
        }
        let (i0, mi, j0, nj) = if rows {
            (s, e - s, 0, n)
        } else {
            (0, m, s, e - s)
        };
        f(Block {
            m: mi,
            n: nj,
            dst: (c0 as *mut f32).wrapping_offset(i0 as isize * dst_rs + j0 as isize),
            lhs: Mat::new(
                (a0 as *const f32).wrapping_offset(i0 as isize * lrs),
                lrs,
                lcs,
            ),
            rhs: Mat::new(
                (b0 as *const f32).wrapping_offset(j0 as isize * rcs),
                rrs,
                rcs,
            ),
        })
    };
    if count == 1 {
        block(0);
    } else {
        (0..count).into_par_iter().for_each(block);
    }
}
