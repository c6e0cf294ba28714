//! Help text shared by the arguments: the examples under each subcommand's `--help`, and the
//! keys `--set` accepts, read from the configuration's own table ([`config::KEYS`]).

use dps_tui::config;

/// `--set`'s long help: every key with what it accepts.
pub fn set_keys() -> String {
    let mut s = String::from(
        "Override a preset key: `--set p=0.5` (repeatable). The value is read as YAML \
         (`--set max_steps=null`). Keys:",
    );
    for (key, accepts) in config::KEYS {
        s.push_str(&format!("\n  {key}: {accepts}"));
    }
    s
}

/// `--resume`'s help: the keys `--set` may change on resume.
pub fn resume() -> String {
    format!(
        "Resume the run in this folder from its latest complete checkpoint. Its config.yaml \
         holds the settings; `--set` may change only {} (the others are refused)",
        dps_tui::config::resume::resume_keys().join(", ")
    )
}

pub const TOP: &str = "\
The options above are the terminal UI's; a subcommand takes its own after its name:
  dps-tui train --preset demo --threads 1

Examples:
  dps-tui                                   the preset picker (`demo` needs no download)
  dps-tui --preset demo                     the dashboard on the demo directly
  dps-tui train --preset rte --headless     MiniLM on RTE from the Hugging Face Hub, JSON lines
  dps-tui runs                              the runs under runs/";

pub const TRAIN: &str = "\
Examples:
  dps-tui train --preset demo --headless --set max_steps=100
  dps-tui train --preset rte --headless --model ./my-model --data-dir ./glue
  dps-tui train --preset mrpc --set method=vanilla --set learning_rate=3e-5
  dps-tui train --resume runs/20260101T120000Z-rte-dps-dense --headless --set threads=4";

pub const EVAL: &str = "\
Examples:
  dps-tui eval --checkpoint runs/20260101T120000Z-rte-dps-dense
  dps-tui eval --checkpoint runs/20260101T120000Z-rte-dps-dense/checkpoints/step-400 --task rte";

pub const BENCH: &str = "\
Examples:
  dps-tui bench --model demo --steps 50
  dps-tui bench --model sentence-transformers/all-MiniLM-L6-v2 --method dps-dense --against vanilla
  dps-tui bench --model ./my-model --task rte --data-dir ./glue --steps 0";

pub const DOWNLOAD: &str = "\
Examples:
  dps-tui download sentence-transformers/all-MiniLM-L6-v2 --task rte --task mrpc
  HF_HUB_OFFLINE=1 dps-tui train --preset rte --headless    later, without the network";

pub const RUNS: &str = "\
Each line starts with the run's folder, as `replay`, `compare`, `export` and `eval` take it.

Examples:
  dps-tui runs
  dps-tui runs --out sweep";

pub const EXPORT: &str = "\
Examples:
  dps-tui export runs/20260101T120000Z-rte-dps-dense > rte.csv
  dps-tui export runs/20260101T120000Z-rte-dps-dense --format jsonl | head -3";

pub const REPORT: &str = "\
Examples:
  dps-tui report runs
  dps-tui report sweep --baseline vanilla --json";

pub const REPLAY: &str = "\
Example:
  dps-tui replay runs/20260101T120000Z-rte-dps-dense";

pub const PARITY: &str = "\
Example (with the reference data beside the checkout):
  dps-tui parity --reference ../shared/reference/tiny-bert --device cuda";

pub const COMPARE: &str = "\
Examples:
  dps-tui compare runs/20260101T120000Z-rte-vanilla runs/20260101T130000Z-rte-dps-dense
  dps-tui compare runs/*-rte-* --json";

pub const SWEEP: &str = "\
Examples:
  dps-tui sweep grid.yaml --out sweep --jobs 2
  dps-tui sweep grid.yaml --out sweep --backend slurm --dry-run
  dps-tui sweep --status sweep";

pub const WATCH: &str = "\
Examples:
  dps-tui watch runs
  dps-tui watch sweep";
