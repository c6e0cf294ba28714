//! Diagnostics: training-throughput benchmarks ([`bench`]) and the check of the model and
//! optimizer against the PyTorch reference case ([`parity`]).

pub mod bench;
pub mod parity;
