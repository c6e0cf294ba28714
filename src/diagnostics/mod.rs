//! Diagnostics: training-throughput benchmarks ([`bench`]), the linear layers' matrix products
//! on their real shapes ([`gemm_bench`]) and the check of the model and
//! optimizer against the PyTorch reference case ([`parity`]).

pub mod bench;
pub mod gemm_bench;
pub mod parity;
