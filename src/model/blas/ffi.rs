//! The few OpenBLAS entry points used here (32-bit integer interface, as in `libopenblas-dev`).

use std::ffi::{c_char, c_int, CStr};

/// `CblasRowMajor`.
pub const ROW_MAJOR: c_int = 101;
/// `CblasNoTrans`.
pub const NO_TRANS: c_int = 111;
/// `CblasTrans`.
pub const TRANS: c_int = 112;

#[link(name = "openblas")]
extern "C" {
    fn cblas_sgemm(
        layout: c_int,
        trans_a: c_int,
        trans_b: c_int,
        m: c_int,
        n: c_int,
        k: c_int,
        alpha: f32,
        a: *const f32,
        lda: c_int,
        b: *const f32,
        ldb: c_int,
        beta: f32,
        c: *mut f32,
        ldc: c_int,
    );
    fn openblas_set_num_threads(n: c_int);
    fn openblas_get_num_threads() -> c_int;
    fn openblas_get_config() -> *const c_char;
}

/// `C = op(A) · op(B)` (row-major, alpha 1, beta 0) for an `m × n` result with inner size `k`.
///
/// # Safety
/// `a`, `b` and `c` must point to matrices that cover every element the arguments describe:
/// `op(A)` is `m × k` with leading dimension `lda`, `op(B)` is `k × n` with `ldb`, `C` is
/// `m × n` with `ldc`; `c` must not alias `a` or `b`, and no other thread may touch that part
/// of `c` during the call. The leading dimensions must satisfy the BLAS rules.
#[allow(clippy::too_many_arguments)]
pub unsafe fn sgemm(
    trans_a: c_int,
    trans_b: c_int,
    m: c_int,
    n: c_int,
    k: c_int,
    a: *const f32,
    lda: c_int,
    b: *const f32,
    ldb: c_int,
    c: *mut f32,
    ldc: c_int,
) {
    cblas_sgemm(
        ROW_MAJOR, trans_a, trans_b, m, n, k, 1.0, a, lda, b, ldb, 0.0, c, ldc,
    )
}

/// Sets the number of OpenBLAS threads (at least 1).
pub fn set_num_threads(n: usize) {
    let n = c_int::try_from(n.max(1)).unwrap_or(c_int::MAX);
    // SAFETY: plain setter of the library's global thread count.
    unsafe { openblas_set_num_threads(n) }
}

/// The number of OpenBLAS threads.
pub fn num_threads() -> usize {
    // SAFETY: plain getter.
    let n = unsafe { openblas_get_num_threads() };
    usize::try_from(n).unwrap_or(1).max(1)
}

/// OpenBLAS's build description.
pub fn config() -> String {
    // SAFETY: returns a pointer to a static NUL-terminated string (or null).
    let p = unsafe { openblas_get_config() };
    if p.is_null() {
        return String::new();
    }
    // SAFETY: non-null, static, NUL-terminated.
    unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
}
