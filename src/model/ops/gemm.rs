//! The matrix products of the fused linear layer (forward, and the backward's `dx = g·w` and
//! `dw = gᵀ·x`) and of the attention core: one function over strided f32 matrices.
//!
//! The pure-Rust `gemm` crate runs each product; it takes row and column strides, so transposed
//! operands are read in place, never copied. Built with its `x86-v4` feature, it runs its
//! AVX-512 micro-kernels on CPUs that have AVX-512 and its AVX2 + FMA ones elsewhere, chosen
//! at run time. [`gemm`] runs a product on the calling thread
//! ([`Threads::Caller`]) or over the current rayon pool ([`Threads::Pool`]). A parallel product
//! with a short inner dimension (≤ 512: q/k/v/o, the FFN's first layer) goes to the crate's own
//! split; one with a longer inner dimension (the FFN's 1,536, every weight gradient's token
//! count) is cut into fixed blocks of rows or columns, each a single-threaded crate call. With
//! other processes on the cores that measured 1.1–1.4× the crate's split on those shapes and a
//! 16×128 step 6.5 % shorter at 2 threads; on a quiet machine the two are equal
//! (docs/performance.md). Neither splits the inner dimension, and the blocks follow from
//! the shape alone, so results do not depend on the number of threads (a test checks 1, 2 and 3
//! threads bit for bit). `DPS_GEMM_SPLIT=crate` gives every parallel product to the crate's
//! split (for A/B timings).
//!
//! BLIS 0.9 (`bli_sgemm`, zen3 kernels) in place of the crate was no faster (1.003), and MKL
//! slower on the AMD EPYC (the optional `mkl` feature, [`super::mkl`]).

pub(crate) use super::blocks::Mat;
use super::blocks::{for_blocks, Block};

/// Where a product runs.
#[derive(Clone, Copy)]
pub(crate) enum Threads {
    /// Split by the gemm crate over the current rayon pool.
    Pool,
    /// On the calling thread only (for callers that split the work themselves).
    Caller,
}

/// `dst (m×n, row stride dst_rs, column stride 1) (+)= lhs (m×k) · rhs (k×n)`; with
/// `accumulate` the product is added to what `dst` holds, otherwise it overwrites it.
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
    threads: Threads,
) {
    #[cfg(feature = "mkl")]
    // SAFETY: forwarded from the caller.
    if unsafe {
        super::mkl::try_gemm(
            m,
            n,
            k,
            dst,
            dst_rs,
            accumulate,
            lhs,
            rhs,
            matches!(threads, Threads::Pool),
        )
    } {
        return;
    }
    match threads {
        Threads::Caller => unsafe {
            crate_gemm(
                m,
                n,
                k,
                dst,
                dst_rs,
                accumulate,
                lhs,
                rhs,
                ::gemm::Parallelism::None,
            )
        },
        Threads::Pool if crate_split() || k <= SHORT_INNER => unsafe {
            let p = ::gemm::Parallelism::Rayon(rayon::current_num_threads());
            crate_gemm(m, n, k, dst, dst_rs, accumulate, lhs, rhs, p)
        },
        Threads::Pool => {
            let whole = Block {
                m,
                n,
                dst,
                lhs,
                rhs,
            };
            for_blocks(whole, k, dst_rs, |b| {
                // SAFETY: a block of the caller's product (its rows and columns, the operands
                // moved to them); the blocks write disjoint parts of `dst`.
                unsafe {
                    crate_gemm(
                        b.m,
                        b.n,
                        k,
                        b.dst,
                        dst_rs,
                        accumulate,
                        b.lhs,
                        b.rhs,
                        ::gemm::Parallelism::None,
                    )
                }
            });
        }
    }
}

/// `DPS_GEMM_SPLIT=crate`: parallel products split by the gemm crate itself (for A/B timings).
fn crate_split() -> bool {
    static CRATE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *CRATE.get_or_init(|| std::env::var("DPS_GEMM_SPLIT").is_ok_and(|v| v == "crate"))
}

/// Parallel products whose inner dimension is at most this are split by the gemm crate itself;
/// longer ones (the FFN's 1,536, the weight gradients' token count) in [`for_blocks`], which
/// measured 1.2–1.5× the crate's own split on them at 2 threads with other processes on the
/// cores, and the same when the machine is quiet (docs/performance.md).
const SHORT_INNER: usize = 512;
/// One call of the gemm crate.
///
/// # Safety
/// As [`gemm`].
#[allow(clippy::too_many_arguments)]
unsafe fn crate_gemm(
    m: usize,
    n: usize,
    k: usize,
    dst: *mut f32,
    dst_rs: isize,
    accumulate: bool,
    lhs: Mat,
    rhs: Mat,
    parallelism: ::gemm::Parallelism,
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
            parallelism,
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
                    Mat::new(a.as_ptr(), ars as isize, acs as isize),
                    Mat::new(b.as_ptr(), brs as isize, bcs as isize),
                    Threads::Pool,
                )
            }
        });
        dst
    }

    #[test]
    fn products_are_right_and_do_not_depend_on_the_thread_count() {
        // Tall and wide results, a tiny one, a long inner dimension, plain and transposed
        // operands, overwrite and accumulate.
        for &(m, n, k) in &[
            (600, 33, 45),
            (33, 600, 45),
            (5, 3, 200),
            (530, 300, 530),
            (40, 700, 600),
        ] {
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
