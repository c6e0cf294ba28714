//! Matrix products through the system OpenBLAS (`cblas_sgemm`), as differentiable candle ops.
//!
//! With the cargo feature `openblas` (needs the system library, Debian: `libopenblas-dev`),
//! [`matmul`] runs f32 CPU products as one `cblas_sgemm` per batch item and has a
//! backward pass that itself goes through [`matmul`]: `dA = dC · Bᵀ`, `dB = Aᵀ · dC`, with the
//! transposes passed to BLAS as `CblasTrans` rather than copied. Without the feature, or for
//! tensors that are not f32 on the CPU, it falls back to candle's own `Tensor::matmul`.
//!
//! Threading: [`set_num_threads`] sets the number of OpenBLAS threads. When OpenBLAS runs with
//! one thread and the current rayon pool has more than one, a product is split over the rayon
//! pool instead (batch items, or else row / column blocks of the result), each piece a
//! single-threaded `cblas_sgemm`. With one OpenBLAS thread the only worker threads are rayon's
//! (which candle's own CPU ops use too), so OpenBLAS's thread pool never competes with them, and a
//! single product is cut into several blocks per thread, so work stealing evens out a core that
//! is busy with other work. This is the default: the first product sets OpenBLAS to one thread
//! unless [`set_num_threads`] was called before or `OPENBLAS_NUM_THREADS` is set.

#[cfg(feature = "openblas")]
mod ffi;
#[cfg(feature = "openblas")]
mod op;

use candle_core::{DType, Tensor};

/// What can be wrong with the arguments of [`matmul`], or with a tensor layout
/// handed to the BLAS kernel.
#[derive(Debug, thiserror::Error)]
pub enum BlasError {
    /// The two operands of a matrix product do not fit together.
    #[error("blas::matmul: shapes {lhs:?} and {rhs:?} do not fit; both need the same rank (>= 2), lhs [.., m, k] and rhs [.., k, n] with the same number of batch items")]
    MatmulShape {
        /// Shape of the left operand.
        lhs: Vec<usize>,
        /// Shape of the right operand.
        rhs: Vec<usize>,
    },
    /// The BLAS kernel only handles f32.
    #[error("blas::matmul: the OpenBLAS kernel got {0:?} data, only f32 is supported; call candle's Tensor::matmul for other dtypes")]
    DType(DType),
    /// A dimension or stride does not fit the 32-bit integers of the BLAS interface.
    #[error("blas::matmul: {what} = {value} does not fit a 32-bit BLAS integer; split the product into smaller pieces")]
    TooLarge {
        /// Which quantity overflowed.
        what: &'static str,
        /// Its value.
        value: usize,
    },
    /// A layout reaches outside its storage (a bug in the caller of the custom op).
    #[error("blas::matmul: layout with dims {dims:?}, strides {stride:?}, offset {offset} reaches past the storage of {len} elements")]
    OutOfBounds {
        /// Dims of the layout.
        dims: Vec<usize>,
        /// Strides of the layout.
        stride: Vec<usize>,
        /// Start offset of the layout.
        offset: usize,
        /// Number of elements in the storage.
        len: usize,
    },
}

impl From<BlasError> for candle_core::Error {
    fn from(e: BlasError) -> Self {
        candle_core::Error::wrap(e)
    }
}

/// Sets OpenBLAS to one thread on the first product, unless [`set_num_threads`] came first or
/// `OPENBLAS_NUM_THREADS` is set.
#[cfg(feature = "openblas")]
static DEFAULT_THREADS: std::sync::Once = std::sync::Once::new();

/// Whether the OpenBLAS path is compiled in (cargo feature `openblas`).
pub fn enabled() -> bool {
    cfg!(feature = "openblas")
}

/// Sets the number of OpenBLAS threads (clamped to at least 1); a no-op without the feature.
///
/// Call once at startup. `1` (the default, see the module docs) makes products run on the current
/// rayon pool instead, which avoids two thread pools competing for the same cores.
pub fn set_num_threads(n: usize) {
    #[cfg(feature = "openblas")]
    {
        DEFAULT_THREADS.call_once(|| {});
        ffi::set_num_threads(n);
    }
    #[cfg(not(feature = "openblas"))]
    let _ = n;
}

/// The number of threads OpenBLAS is set to use, or `None` without the feature.
pub fn num_threads() -> Option<usize> {
    #[cfg(feature = "openblas")]
    {
        Some(ffi::num_threads())
    }
    #[cfg(not(feature = "openblas"))]
    {
        None
    }
}

/// OpenBLAS's build description (version, threading model, kernel chosen for this CPU), or
/// `None` without the feature.
pub fn config() -> Option<String> {
    #[cfg(feature = "openblas")]
    {
        Some(ffi::config())
    }
    #[cfg(not(feature = "openblas"))]
    {
        None
    }
}

/// Checks the shapes of a product like candle's `Tensor::matmul` does: equal ranks >= 2, equal
/// inner dimension and the same number of batch items. Returns `(batch, m, n, k)`.
fn check_matmul_shapes(
    a: &[usize],
    b: &[usize],
) -> Result<(usize, usize, usize, usize), BlasError> {
    let err = || BlasError::MatmulShape {
        lhs: a.to_vec(),
        rhs: b.to_vec(),
    };
    let rank = a.len();
    if rank < 2 || b.len() != rank {
        return Err(err());
    }
    let (m, k) = (a[rank - 2], a[rank - 1]);
    let (k2, n) = (b[rank - 2], b[rank - 1]);
    let batch: usize = a[..rank - 2].iter().product();
    let batch_b: usize = b[..rank - 2].iter().product();
    if k != k2 || batch != batch_b {
        return Err(err());
    }
    Ok((batch, m, n, k))
}

/// Whether a product of these tensors goes through OpenBLAS.
fn use_blas(a: &Tensor, b: &Tensor) -> bool {
    enabled()
        && a.device().is_cpu()
        && b.device().is_cpu()
        && a.dtype() == DType::F32
        && b.dtype() == DType::F32
}

/// Drop-in for `a.matmul(b)`: 2-D, or batched with the same number of batch items (the result
/// takes `a`'s batch dims), any strides (e.g. `w.t()` or `k.transpose(2, 3)`), differentiable.
///
/// CPU f32 with the feature `openblas`: one `cblas_sgemm` per batch item. The last two dims of
/// each operand are passed as `CblasNoTrans` when row-major and `CblasTrans` when column-major
/// (a transposed view), and are copied only when they are neither. The backward pass computes
/// `dA = dC · Bᵀ` and `dB = Aᵀ · dC` with this same function. Otherwise: `a.matmul(b)`, retried
/// on contiguous copies of `a` and `b` when candle rejects their strides.
pub fn matmul(a: &Tensor, b: &Tensor) -> candle_core::Result<Tensor> {
    check_matmul_shapes(a.dims(), b.dims())?;
    if !use_blas(a, b) {
        // candle rejects some batch strides (e.g. heads split from [b, t, h, d] by a transpose)
        // that the BLAS path reads directly; contiguous copies make both paths accept them.
        return a
            .matmul(b)
            .or_else(|_| a.contiguous()?.matmul(&b.contiguous()?));
    }
    #[cfg(feature = "openblas")]
    {
        DEFAULT_THREADS.call_once(|| {
            if std::env::var_os("OPENBLAS_NUM_THREADS").is_none() {
                ffi::set_num_threads(1);
            }
        });
        a.apply_op2(b, op::BlasMatMul)
    }
    #[cfg(not(feature = "openblas"))]
    {
        unreachable!("use_blas is false without the openblas feature")
    }
}
