//! dps-tui: fine-tune BERT-style encoders on GLUE with Dynamic Parameter Selection (DPS),
//! and watch and steer the run live in the terminal.
//!
//! Module map (one concept, one place), top to bottom. A module imports only modules below it
//! (`tests/layers.rs` checks this):
//!
//! ```text
//! main → cli → watch → ui, sweep → runs, diagnostics → train → dps → core → config → data → hub → model → rng
//! ```
//!
//! - `main`, `cli/` (the binary): argument parsing and the subcommands, one file per group.
//! - [`watch`]: a live board of every run under a root.
//! - [`ui`]: the ratatui terminal UI (a reducer over events plus pure rendering).
//! - [`sweep`]: grids of runs from one SPEC file, run here or as a SLURM array job.
//! - [`runs`]: run folders on disk: event logs, checkpoints, and the one summary of a run.
//! - [`diagnostics`]: training-throughput benchmarks and the PyTorch reference check.
//! - [`train`]: THE training loop, the masked AdamW, the LR schedule, the setup of a run.
//! - [`dps`]: strategies that plug into the trainer (vanilla, DPS-Dense, DPS-Mix, ChildTuning).
//! - [`core`]: the vocabulary `train` and `dps` share: events and commands, step masks, the names
//!   of eval tasks' metrics.
//! - [`config`]: presets (YAML), run configuration, `--set` overrides, validation, and the typed
//!   live controls with their ranges.
//! - [`data`]: GLUE task registry, TSV reading, tokenization, batching, metrics, the demo task.
//! - [`hub`]: Hugging Face Hub models and datasets, from the local cache first.
//! - [`model`]: the encoders we own, one folder per family (`bert/`, `deberta/`, `modernbert/`;
//!   every weight a trainable `Var`), heads, checkpoint I/O, and every kernel (`model/ops/`).
//! - [`rng`]: every seeded random stream (data order, subsets, initial weights, dropout, masks) and
//!   its checkpointed position.

pub mod config;
pub mod core;
pub mod data;
pub mod diagnostics;
pub mod dps;
pub mod hub;
pub mod model;
pub mod rng;
pub mod runs;
pub mod sweep;
pub mod train;
pub mod ui;
pub mod watch;
