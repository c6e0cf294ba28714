//! Run folders on disk: `runs/<UTC time>-<task>-<method>/` with `config.yaml`,
//! `events.jsonl` and `checkpoints/step-<N>/`, and everything known about them: the event log,
//! checkpoints, and the one [`summary::RunSummary`] of a run that every listing reuses.

pub mod checkpoint;
pub mod event_log;
pub mod imported;
pub mod live_values;
pub mod lock;
pub mod log_repair;
pub mod report;
pub mod run_dir;
pub mod stats;
pub mod summary;

pub use run_dir::RunDir;
pub use summary::{scan, RunRecord, RunState, RunSummary};
