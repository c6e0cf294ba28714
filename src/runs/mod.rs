//! Run folders on disk: `runs/<UTC time>-<task>-<method>/` with `config.yaml`,
//! `events.jsonl` and `checkpoints/step-<N>/`.

pub mod checkpoint;
pub mod event_log;
pub mod report;
pub mod run_dir;

pub use run_dir::RunDir;
