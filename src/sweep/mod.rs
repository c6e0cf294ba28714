//! Sweeps: a grid of runs from one SPEC file, run on this machine or as a SLURM array job.
//!
//! - [`spec`]: the SPEC file (preset, `set`, `grid`, `slurm`), validated before anything runs.
//! - [`grid`]: the product of the grid into named cells, and `ROOT/sweep.json`.
//! - [`local`]: a cell's state on disk, and running the cells N at a time here.
//! - [`slurm`]: `ROOT/sweep.sbatch`, `sbatch`, and the array's states from `squeue`/`sacct`.
//! - [`status`]: each cell's state: pending, running, done or failed.
//!
//! Every cell is a headless `dps-tui train` whose run folder is `ROOT/<cell name>/`.

pub mod grid;
pub mod local;
pub mod slurm;
pub mod spec;
pub mod status;

pub use grid::{Cell, SweepFile};
pub use spec::SweepSpec;

use std::path::{Path, PathBuf};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum SweepError {
    #[error("{origin}: {message}")]
    Spec { origin: String, message: String },
    /// A value the configuration refuses (its message names the SPEC and the key).
    #[error("{0}")]
    Config(crate::config::ConfigError),
    #[error("{path}: {error}")]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("{root} is not a sweep root (cannot read its sweep.json: {error}). Fix: pass the --out folder of a `dps-tui sweep`")]
    NotASweep {
        root: PathBuf,
        error: std::io::Error,
    },
    #[error("{root} holds another sweep's cells (its sweep.json lists {theirs} cells, this SPEC makes {ours}, or their names differ). Fix: choose another --out, or delete that folder")]
    OtherSweep {
        root: PathBuf,
        theirs: usize,
        ours: usize,
    },
    #[error("this sweep has {count} cells; there is no cell {index}. Fix: pass --cell 0 to {}", count.saturating_sub(1))]
    NoSuchCell { index: usize, count: usize },
    #[error("cell {cell} is being trained by another process (pid {pid}), which holds the lock of {dir}. Fix: let it finish (`dps-tui sweep --status` shows it running), or stop it with `kill -INT {pid}` before rerunning the sweep")]
    Busy {
        cell: String,
        dir: PathBuf,
        pid: String,
    },
    #[error("cannot start {exe}: {error}")]
    Spawn { exe: PathBuf, error: std::io::Error },
    #[error("cannot run sbatch: {error}. Fix: run on a SLURM login node (or start one here with scripts/slurm/slurm-local.sh start), use --dry-run to only write the script, or --backend local")]
    NoSbatch { error: std::io::Error },
    #[error("sbatch refused {script}: {message}")]
    Submit { script: PathBuf, message: String },
}

/// Expand a SPEC into `ROOT/sweep.json` (kept as it is when ROOT already holds the same cells,
/// so a restart keeps the submitted job id). Refuses a ROOT that holds another sweep.
pub fn prepare(spec_path: &Path, root: &Path) -> Result<(SweepSpec, SweepFile), SweepError> {
    let spec = SweepSpec::load(spec_path)?;
    let cells = grid::cells(&spec);
    let mut seen = std::collections::BTreeSet::new();
    if let Some(c) = cells.iter().find(|c| !seen.insert(&c.name)) {
        return Err(SweepError::Spec {
            origin: spec_path.display().to_string(),
            message: format!(
                "the grid makes the cell `{}` twice, so two runs would share one folder. Fix: remove the repeated value from its `grid:` list",
                c.name
            ),
        });
    }
    let mut file = SweepFile {
        spec: spec::absolute(spec_path).display().to_string(),
        preset: spec.preset.clone(),
        workdir: std::env::current_dir().map_err(|error| SweepError::Io {
            path: ".".into(),
            error,
        })?,
        cells,
        slurm_job: None,
    };
    if SweepFile::path(root).exists() {
        let old = SweepFile::read(root)?;
        if old.cells != file.cells {
            return Err(SweepError::OtherSweep {
                root: root.to_path_buf(),
                theirs: old.cells.len(),
                ours: file.cells.len(),
            });
        }
        file.slurm_job = old.slurm_job;
    }
    file.write(root)?;
    Ok((spec, file))
}
