//! The matrix products of the fused linear layer, forward and backward: one function over
//! strided f32 matrices, split over the current rayon pool.
//!
//! The pure-Rust `gemm` crate runs each product; it takes row and column strides, so
//! transposed operands are read in place, never copied.
//!
//! Threading: a product is cut into blocks of about 256 rows (or columns, when the result has
//! fewer rows than columns), each block one single-threaded call handed to rayon, rather than
//! the whole product going to the gemm crate's own rayon split. The cut depends only on the
//! shape, so results do not depend on the number of threads (a test checks 1, 2 and 3 threads
//! bit for bit).

use rayon::prelude::*;

/// A strided f32 matrix operand: element `(i, j)` is at `ptr + i·rs + j·cs`.
#[derive(Clone, Copy)]
pub(crate) struct Mat {
    pub ptr: *const f32,
    pub rs: isize,
    pub cs: isize,
}

// SAFETY: `Mat` is only read, by tasks that all read the same immutable data.
unsafe impl Send for Mat {}
// SAFETY: as above.
unsafe impl Sync for Mat {}

/// A destination pointer shared by the tasks of one product; each writes its own block.
#[derive(Clone, Copy)]
struct Dst(*mut f32);
// SAFETY: the blocks of one product are disjoint.
unsafe impl Send for Dst {}
// SAFETY: as above.
unsafe impl Sync for Dst {}

impl Dst {
    fn get(self) -> *mut f32 {
        self.0
    }
}

/// Rows (or columns) per block are a multiple of this, so that every block but the last fills
/// whole register tiles.
const BLOCK_ALIGN: usize = 16;

/// About this many rows (or columns) per block: large enough that re-packing the other operand
/// for each block costs little, small enough to keep 2 to 8 threads busy on a GLUE batch.
const BLOCK_TARGET: usize = 256;

/// How a dimension of `len` is cut: `(number of blocks, size of each but the last)`. The count
/// depends on `len` only, never on the thread count; above one block it is even, so that two
/// threads get the same share.
fn blocks(len: usize) -> (usize, usize) {
    let mut n = len.div_ceil(BLOCK_TARGET).max(1);
    if n > 1 && n % 2 == 1 {
        n += 1;
    }
    let per = len.div_ceil(n).div_ceil(BLOCK_ALIGN) * BLOCK_ALIGN;
    (len.div_ceil(per.max(1)), per.max(1))
}

/// `dst (m×n, row stride dst_rs, column stride 1) (+)= lhs (m×k) · rhs (k×n)`; with
/// `accumulate` the product is added to what `dst` holds, otherwise it overwrites it.
/// Split over the current rayon pool (see the module docs).
///
/// # Safety
/// Every operand must cover the elements its strides describe; `dst` aliases neither input
/// and no other thread touches its `m×n` elements during the call.
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn gemm(
    m: usize,
    n: usize,
    k: usize,
    dst: *mut f32,
    dst_rs: isize,
    accumulate: bool,
    lhs: Mat,
    rhs: Mat,
) {
    if m == 0 || n == 0 {
        return;
    }
    let dst = Dst(dst);
    let split_rows = m >= n;
    let len = if split_rows { m } else { n };
    let (blocks, per) = blocks(len);
    if blocks == 1 {
        // SAFETY: forwarded from the caller.
        unsafe { gemm_one(m, n, k, dst.get(), dst_rs, accumulate, lhs, rhs) };
        return;
    }
    (0..blocks).into_par_iter().for_each(|i| {
        let start = i * per;
        let size = per.min(len - start);
        // SAFETY: block `i` covers rows (or columns) `start..start + size` of `dst` and reads
        // the matching rows of `lhs` (or columns of `rhs`); blocks are disjoint.
        unsafe {
            if split_rows {
                let lhs = Mat {
                    ptr: lhs.ptr.offset(start as isize * lhs.rs),
                    ..lhs
                };
                let d = dst.get().offset(start as isize * dst_rs);
                gemm_one(size, n, k, d, dst_rs, accumulate, lhs, rhs);
            } else {
                let rhs = Mat {
                    ptr: rhs.ptr.offset(start as isize * rhs.cs),
                    ..rhs
                };
                let d = dst.get().add(start);
                gemm_one(m, size, k, d, dst_rs, accumulate, lhs, rhs);
            }
        }
    });
}

/// [`gemm`] on the calling thread only (for callers that split the work themselves).
///
/// # Safety
/// As for [`gemm`].
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn gemm_one(
    m: usize,
    n: usize,
    k: usize,
    dst: *mut f32,
    dst_rs: isize,
    accumulate: bool,
    lhs: Mat,
    rhs: Mat,
) {
    // SAFETY: forwarded from the caller; the gemm crate takes column stride then row
    // stride, and with `read_dst == false` it ignores what `dst` holds.
    unsafe {
        ::gemm::gemm(
            m,
            n,
            k,
            dst,
            1,
            dst_rs,
            accumulate,
            lhs.ptr,
            lhs.cs,
            lhs.rs,
            rhs.ptr,
            rhs.cs,
            rhs.rs,
            1.0,
            1.0,
            false,
            false,
            false,
            ::gemm::Parallelism::None,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A deterministic, non-trivial f32 sequence.
    fn data(n: usize, seed: u64) -> Vec<f32> {
        (0..n as u64)
            .map(|i| ((i * 2_654_435_761 + seed * 97) % 1009) as f32 / 1009.0 - 0.5)
            .collect()
    }

    /// `lhs (+)= a·b` in f64, `a` and `b` read through strides.
    #[allow(clippy::too_many_arguments)]
    fn reference(
        m: usize,
        n: usize,
        k: usize,
        start: &[f32],
        a: &[f32],
        (ars, acs): (usize, usize),
        b: &[f32],
        (brs, bcs): (usize, usize),
    ) -> Vec<f64> {
        let mut out: Vec<f64> = start.iter().map(|&v| v as f64).collect();
        for i in 0..m {
            for j in 0..n {
                let mut s = 0f64;
                for p in 0..k {
                    s += a[i * ars + p * acs] as f64 * b[p * brs + j * bcs] as f64;
                }
                out[i * n + j] += s;
            }
        }
        out
    }

    /// Runs [`gemm`] in a pool of `threads` threads.
    #[allow(clippy::too_many_arguments)]
    fn run(
        threads: usize,
        m: usize,
        n: usize,
        k: usize,
        start: &[f32],
        accumulate: bool,
        a: &[f32],
        (ars, acs): (usize, usize),
        b: &[f32],
        (brs, bcs): (usize, usize),
    ) -> Vec<f32> {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        let mut dst = start.to_vec();
        pool.install(|| {
            // SAFETY: the strides below describe matrices inside `a` and `b`; dst is m×n.
            unsafe {
                gemm(
                    m,
                    n,
                    k,
                    dst.as_mut_ptr(),
                    n as isize,
                    accumulate,
                    Mat {
                        ptr: a.as_ptr(),
                        rs: ars as isize,
                        cs: acs as isize,
                    },
                    Mat {
                        ptr: b.as_ptr(),
                        rs: brs as isize,
                        cs: bcs as isize,
                    },
                )
            }
        });
        dst
    }

    #[test]
    fn blocks_cover_the_dimension_and_do_not_depend_on_threads() {
        for len in [1, 15, 16, 255, 256, 257, 850, 2048, 2049] {
            let (n, per) = blocks(len);
            assert!(per % BLOCK_ALIGN == 0 && (n - 1) * per < len && n * per >= len, "{len}");
            assert!(n == 1 || n % 2 == 0, "{len}: {n} blocks");
        }
        assert_eq!(blocks(2048), (8, 256));
    }

    #[test]
    fn products_are_right_and_do_not_depend_on_the_thread_count() {
        // Tall (rows cut into blocks) and wide (columns cut) results, one block, sizes that are
        // not multiples of the blocks, plain and transposed operands, overwrite and accumulate.
        assert_eq!(blocks(600), (4, 160));
        assert_eq!(blocks(33), (1, 48));
        for &(m, n, k) in &[(600, 33, 45), (33, 600, 45), (5, 3, 200), (530, 300, 530)] {
            let a = data(m * k, 1);
            let b = data(k * n, 2);
            let start = data(m * n, 3);
            for &(a_t, b_t) in &[(false, false), (true, false), (false, true), (true, true)] {
                let asd = if a_t { (1, m) } else { (k, 1) };
                let bsd = if b_t { (1, k) } else { (n, 1) };
                for accumulate in [false, true] {
                    let one = run(1, m, n, k, &start, accumulate, &a, asd, &b, bsd);
                    let zero = vec![0f32; m * n];
                    let base: &[f32] = if accumulate { &start } else { &zero };
                    let want = reference(m, n, k, base, &a, asd, &b, bsd);
                    for (g, w) in one.iter().zip(&want) {
                        assert!(
                            (*g as f64 - w).abs() < 1e-4,
                            "{m}x{n}x{k} a_t {a_t} b_t {b_t} acc {accumulate}: {g} vs {w}"
                        );
                    }
                    for threads in [2, 3] {
                        let many = run(threads, m, n, k, &start, accumulate, &a, asd, &b, bsd);
                        assert_eq!(
                            one.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                            many.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                            "{m}x{n}x{k} a_t {a_t} b_t {b_t} acc {accumulate}: {threads} threads"
                        );
                    }
                }
            }
        }
    }
}
