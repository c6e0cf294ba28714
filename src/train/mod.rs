//! THE training loop and what it needs: optimizer, schedule, events and commands.

pub mod allocator;
pub mod device_updates;
pub mod events;
pub mod fused;
pub mod optimizer;
pub mod rng;
pub mod schedule;
pub mod setup;
pub mod trainer;

pub use trainer::{TrainError, Trainer};
