//! `dps-tui watch ROOT`: a live board of every run under a root (a sweep, or any run folder
//! root, local or on shared storage).
//!
//! - [`state`]: [`WatchState`], built from the run folders' event logs (read incrementally),
//!   with sorting, filtering and a mean ± std per group. Pure.
//! - [`view`]: `draw(frame, &WatchState)`, a pure function.
//! - [`run`]: the loop (refresh, draw, keys; enter opens a run's dashboard).
//! - [`follow`]: a run's dashboard that follows its growing log.

pub mod follow;
pub mod run;
pub mod state;
pub mod view;

pub use run::watch;
pub use state::WatchState;
