//! The vocabulary shared by the trainer and the strategies, below both: the events and commands
//! that flow out of and into a run, the per-step masks a strategy hands the optimizer, and how the metrics of eval tasks are named ([`task_metrics`]). The
//! kernels live in `model::ops`, the seeded random streams in [`crate::rng`].
//!
//! `core` imports only `config`, `data` (a task's main metric) and `model`; `dps` and `train`
//! import it, never each other's vocabulary.

pub mod events;
pub mod masks;
pub mod task_metrics;

pub use masks::StepMasks;
