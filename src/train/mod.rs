//! THE training loop and what it needs: the masked AdamW, the schedule, the setup of a run.
//! The events, commands and masks it speaks in live in [`crate::core`].

pub mod allocator;
pub mod checkpointing;
mod evaluate;
pub mod optimizer;
pub mod resume;
pub mod schedule;
pub mod setup;
pub mod snapshot;
pub mod stop;
pub mod trainer;
pub mod validate;

pub use resume::Checkpoint;
pub use trainer::{TrainError, Trainer};
