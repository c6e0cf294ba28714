//! dps-tui: fine-tune BERT-style encoders on GLUE with Dynamic Parameter Selection (DPS),
//! and watch and steer the run live in the terminal.
//!
//! Module map (one concept, one place):
//! - [`config`]: presets (YAML), run configuration, `--set` overrides and validation.
//! - [`model`]: the BERT encoder we own (every weight a trainable `Var`), heads, checkpoint I/O.
//! - [`data`]: GLUE task registry, TSV reading, tokenization, batching, metrics, the demo task.
//! - [`train`]: THE training loop, the masked AdamW, the LR schedule, events and commands.
//! - [`dps`]: strategies that plug into the trainer (vanilla, DPS-Dense, DPS-Mix, ChildTuning).
//! - [`hub`]: Hugging Face Hub models and datasets, from the local cache first.
//! - [`runs`]: run folders, event logs and checkpoints on disk.
//! - [`ui`]: the ratatui terminal UI (a reducer over events plus pure rendering).

pub mod bench;
pub mod config;
pub mod data;
pub mod dps;
pub mod hub;
pub mod model;
pub mod parity;
pub mod runs;
pub mod train;
pub mod ui;
