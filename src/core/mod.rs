//! The vocabulary shared by the trainer and the strategies, below both: the events and commands
//! that flow out of and into a run, the per-step masks a strategy hands the optimizer, the seeded
//! random-number streams. The kernels live in `model::ops`.
//!
//! `core` imports only `config` and `model`; `dps` and `train` import it, never each other's
//! vocabulary.

pub mod events;
pub mod masks;
pub mod rng;

pub use masks::StepMasks;
