//! The vocabulary shared by the trainer and the strategies, below both: the events and commands
//! that flow out of and into a run, the per-step masks a strategy hands the optimizer, the seeded
//! random-number streams, and the fused per-element kernels (importance accumulation, masked
//! norm, masked AdamW).
//!
//! `core` imports only `config` and `model`; `dps` and `train` import it, never each other's
//! vocabulary.

pub mod device_updates;
pub mod events;
pub mod fused;
pub mod masks;
pub mod rng;

pub use masks::StepMasks;
