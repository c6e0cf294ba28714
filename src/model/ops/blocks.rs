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

/// Runs `f(i0, mi, j0, nj)` over the blocks of an `m×n×k` product, in parallel over the
/// current rayon pool. The blocks are rows of the result when `m ≥ n`, else columns (so the
/// operand every block packs again is the smaller one), and they depend on the shape alone:
/// the calls made, and so the results, do not depend on the number of threads.
pub(crate) fn for_blocks(
    m: usize,
    n: usize,
    k: usize,
    f: impl Fn(usize, usize, usize, usize) + Sync,
) {
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
    let block = |b: usize| {
        let (s, e) = (edge(b), edge(b + 1));
        if e > s {
            if rows {
                f(s, e - s, 0, n)
            } else {
                f(0, m, s, e - s)
            }
        }
    };
    if count == 1 {
        block(0);
    } else {
        (0..count).into_par_iter().for_each(block);
    }
}
