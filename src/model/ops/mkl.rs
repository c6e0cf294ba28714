//! Intel MKL's `cblas_sgemm` as the engine of [`super::gemm::gemm`], in builds with the `mkl`
//! feature (`scripts/mkl/build.sh`).
//!
//! The library is loaded at the first product, not linked: from `DPS_MKL_LIB` (the file
//! `libmkl_rt.so.3` or its folder) when set, else from the folder the build script recorded
//! (`DPS_MKL_LIB` at build time, the PyPI `mkl` wheel it installed). `DPS_GEMM=crate` runs the
//! gemm crate instead in the same binary, for A/B timings.
//!
//! MKL runs sequentially (`MKL_Set_Threading_Layer(SEQUENTIAL)`); parallel products are cut
//! into the fixed blocks of rows or columns of [`super::blocks::for_blocks`], which rayon runs,
//! so the calls made, and so the results, do not depend on the number of threads. Conditional numerical reproducibility is set to the
//! AVX2 code path (`MKL_CBWR_Set`), so results do not depend on memory alignment either.

use super::blocks::{for_blocks, Block, Mat};
use std::ffi::{c_char, c_int, c_void, CString};
use std::sync::OnceLock;

type Sgemm = unsafe extern "C" fn(
    c_int,
    c_int,
    c_int,
    c_int,
    c_int,
    c_int,
    f32,
    *const f32,
    c_int,
    *const f32,
    c_int,
    f32,
    *mut f32,
    c_int,
);
type SetInt = unsafe extern "C" fn(c_int) -> c_int;

const ROW_MAJOR: c_int = 101;
const NO_TRANS: c_int = 111;
const TRANS: c_int = 112;
const THREADING_SEQUENTIAL: c_int = 1;
const CBWR_AVX2: c_int = 10;

struct Mkl {
    sgemm: Sgemm,
}

static MKL: OnceLock<Result<Option<Mkl>, String>> = OnceLock::new();

/// Loads MKL now (unless `DPS_GEMM=crate`), so that a missing library is an error at the start,
/// naming the path and the fix, before any screen or training begins.
pub(crate) fn check() -> Result<(), String> {
    MKL.get_or_init(init)
        .as_ref()
        .map(|_| ())
        .map_err(Clone::clone)
}

fn init() -> Result<Option<Mkl>, String> {
    if std::env::var("DPS_GEMM").is_ok_and(|v| v == "crate") {
        return Ok(None);
    }
    load().map(Some)
}

/// MKL when it is to be used (loaded, and `DPS_GEMM` is not `crate`); `None` runs the gemm
/// crate. The binary calls [`check`] first; a library that still cannot be loaded here is a
/// panic naming the path and the fix (the panic hook restores the terminal).
fn mkl() -> Option<&'static Mkl> {
    match MKL.get_or_init(init) {
        Ok(m) => m.as_ref(),
        Err(e) => panic!("{e}"),
    }
}

/// The path of `libmkl_rt.so.3`: `DPS_MKL_LIB` now, else the one recorded at build time.
fn library_path() -> Option<std::path::PathBuf> {
    let raw = std::env::var("DPS_MKL_LIB")
        .ok()
        .or_else(|| option_env!("DPS_MKL_LIB").map(str::to_string))?;
    let p = std::path::PathBuf::from(raw);
    Some(if p.is_dir() {
        p.join("libmkl_rt.so.3")
    } else {
        p
    })
}

fn load() -> Result<Mkl, String> {
    let fix = "Fix: run scripts/mkl/build.sh (it installs the PyPI `mkl` wheel), set DPS_MKL_LIB \
               to the folder holding libmkl_rt.so.3, or set DPS_GEMM=crate";
    let path = library_path().ok_or_else(|| {
        format!("this dps-tui was built with the `mkl` feature but DPS_MKL_LIB is not set. {fix}")
    })?;
    let c_path = CString::new(path.to_string_lossy().as_bytes()).map_err(|e| e.to_string())?;
    // SAFETY: dlopen/dlsym with NUL-terminated strings; the handle is never closed, so the
    // function pointers stay valid for the life of the process.
    unsafe {
        let handle = libc::dlopen(c_path.as_ptr(), libc::RTLD_NOW | libc::RTLD_GLOBAL);
        if handle.is_null() {
            let why = std::ffi::CStr::from_ptr(libc::dlerror()).to_string_lossy();
            return Err(format!(
                "cannot load MKL from {}: {why}. {fix}",
                path.display()
            ));
        }
        let sym = |name: &str| -> Result<*mut c_void, String> {
            let c = CString::new(name).unwrap();
            let p = libc::dlsym(handle, c.as_ptr() as *const c_char);
            if p.is_null() {
                Err(format!("{} has no symbol {name}. {fix}", path.display()))
            } else {
                Ok(p)
            }
        };
        let set_layer: SetInt = std::mem::transmute(sym("MKL_Set_Threading_Layer")?);
        let cbwr_set: SetInt = std::mem::transmute(sym("MKL_CBWR_Set")?);
        set_layer(THREADING_SEQUENTIAL);
        cbwr_set(CBWR_AVX2);
        Ok(Mkl {
            sgemm: std::mem::transmute::<*mut c_void, Sgemm>(sym("cblas_sgemm")?),
        })
    }
}

/// One operand as cblas sees it: transposed or not, and its leading dimension; `None` when
/// neither stride is 1 (the caller then uses the gemm crate).
fn operand(m: Mat, rows: usize, cols: usize) -> Option<(c_int, c_int)> {
    if m.cs == 1 && (rows <= 1 || m.rs >= cols.max(1) as isize) {
        Some((NO_TRANS, m.rs.max(cols.max(1) as isize) as c_int))
    } else if m.rs == 1 && (cols <= 1 || m.cs >= rows.max(1) as isize) {
        Some((TRANS, m.cs.max(rows.max(1) as isize) as c_int))
    } else {
        None
    }
}

/// `dst (+)= lhs · rhs` through MKL, as [`super::gemm::gemm`]; `false` when MKL is not in use
/// or cannot take these strides (nothing was written then).
///
/// # Safety
/// As [`super::gemm::gemm`].
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn try_gemm(
    m: usize,
    n: usize,
    k: usize,
    dst: *mut f32,
    dst_rs: isize,
    accumulate: bool,
    lhs: Mat,
    rhs: Mat,
    parallel: bool,
) -> bool {
    let Some(lib) = mkl() else { return false };
    let (Some((ta, lda)), Some((tb, ldb))) = (operand(lhs, m, k), operand(rhs, k, n)) else {
        return false;
    };
    if m == 0 || n == 0 {
        return true;
    }
    let beta = if accumulate { 1.0 } else { 0.0 };
    let ldc = dst_rs.max(n as isize) as c_int;
    // SAFETY (every call): the caller guarantees the operands cover the elements their
    // strides describe; the blocks write disjoint parts of `dst`.
    let call = |b: Block| unsafe {
        (lib.sgemm)(
            ROW_MAJOR,
            ta,
            tb,
            b.m as c_int,
            b.n as c_int,
            k as c_int,
            1.0,
            b.lhs.ptr,
            lda,
            b.rhs.ptr,
            ldb,
            beta,
            b.dst,
            ldc,
        );
    };
    let whole = Block {
        m,
        n,
        dst,
        lhs,
        rhs,
    };
    if parallel {
        for_blocks(whole, k, dst_rs, call);
    } else {
        call(whole);
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mkl_is_loaded_and_its_products_are_right() {
        if std::env::var("DPS_GEMM").is_ok_and(|v| v == "crate") {
            eprintln!("SKIPPED: DPS_GEMM=crate");
            return;
        }
        let (m, n, k) = (300, 7, 50);
        let a: Vec<f32> = (0..m * k).map(|i| (i % 13) as f32 * 0.1 - 0.6).collect();
        let b: Vec<f32> = (0..k * n).map(|i| (i % 7) as f32 * 0.2 - 0.5).collect();
        for parallel in [false, true] {
            let mut c = vec![1f32; m * n];
            // SAFETY: a is m×k and b is k×n, both row-major; c is m×n.
            let used = unsafe {
                try_gemm(
                    m,
                    n,
                    k,
                    c.as_mut_ptr(),
                    n as isize,
                    true,
                    Mat::new(a.as_ptr(), k as isize, 1),
                    Mat::new(b.as_ptr(), n as isize, 1),
                    parallel,
                )
            };
            assert!(used, "MKL was not used");
            for i in 0..m {
                for j in 0..n {
                    let want: f64 = 1.0
                        + (0..k)
                            .map(|p| a[i * k + p] as f64 * b[p * n + j] as f64)
                            .sum::<f64>();
                    let got = c[i * n + j] as f64;
                    assert!((got - want).abs() < 1e-4, "({i}, {j}): {got} vs {want}");
                }
            }
        }
    }
}
