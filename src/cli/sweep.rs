//! `sweep`: a grid of headless runs, here or as a SLURM array job.

use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};
use dps_tui::sweep::{self, local, slurm, status, SweepFile};
use std::io::Write;
use std::path::PathBuf;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Backend {
    /// Run the cells on this machine, --jobs at a time.
    Local,
    /// Write ROOT/sweep.sbatch (an array job, one task per cell) and submit it with sbatch.
    Slurm,
}

#[derive(Args, Debug, Clone)]
pub struct SweepArgs {
    /// The SPEC file: `preset:`, `set:`, `grid:` (key: [values]) and optional `slurm:`.
    #[arg(required_unless_present_any = ["status", "cell"])]
    pub spec: Option<PathBuf>,
    /// Where the cells run.
    #[arg(long, value_enum, default_value = "local")]
    pub backend: Backend,
    /// Cells run at once (local backend); the threads are split between them.
    #[arg(long, default_value_t = 1)]
    pub jobs: usize,
    /// The sweep's root: one run folder per cell, `sweep.json`, `logs/`.
    #[arg(long, default_value = "sweep")]
    pub out: PathBuf,
    /// Write sweep.json (and, for slurm, sweep.sbatch) and print the cells; run nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// CPU threads in all (default: all cores; with --cell, all of this task's cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Run this one cell of ROOT/sweep.json in the foreground (what each SLURM task runs).
    #[arg(long, value_name = "INDEX", conflicts_with = "status")]
    pub cell: Option<usize>,
    /// List the cells of the sweep in ROOT and their state: pending, running, done, failed.
    #[arg(long, value_name = "ROOT")]
    pub status: Option<PathBuf>,
}

fn exe() -> Result<PathBuf> {
    std::env::current_exe().context("cannot find this program's path to start the cells")
}

pub fn sweep(a: SweepArgs) -> Result<i32> {
    if let Some(root) = &a.status {
        let file = SweepFile::read(root)?;
        let sched = file
            .slurm_job
            .as_deref()
            .map(slurm::task_states)
            .unwrap_or_default();
        let rows = status::statuses(&file, root, &sched);
        if let Some(job) = &file.slurm_job {
            writeln!(super::stdout(), "SLURM job {job}")?;
        }
        write!(super::stdout(), "{}", status::table(&rows))?;
        return Ok(0);
    }
    if let Some(index) = a.cell {
        let file = SweepFile::read(&a.out)?;
        return Ok(local::run_one(&exe()?, &file, &a.out, index, a.threads)?);
    }
    let Some(spec_path) = &a.spec else {
        bail!("no SPEC file. Fix: dps-tui sweep SPEC.yaml [--out ROOT]");
    };
    if a.jobs == 0 {
        bail!("--jobs 0: nothing would run. Fix: --jobs 1 or more");
    }
    let (spec, mut file) = sweep::prepare(spec_path, &a.out)?;
    let root = sweep::spec::absolute(&a.out);
    eprintln!(
        "{} cells from {} into {}",
        file.cells.len(),
        spec_path.display(),
        root.display()
    );
    match a.backend {
        Backend::Local => {
            if a.dry_run {
                let mut out = super::stdout();
                for c in &file.cells {
                    writeln!(out, "{:>4}  {}", c.index, c.name)?;
                }
                return Ok(0);
            }
            let threads = local::threads_per_cell(a.threads, a.jobs);
            let out = local::run_all(&exe()?, &file, &root, a.jobs, threads)?;
            eprintln!("{}", out.summary());
            Ok(out.exit_code())
        }
        Backend::Slurm => {
            let script = slurm::write_script(&file, &root, &exe()?, &spec.slurm)?;
            if a.dry_run {
                writeln!(super::stdout(), "{}", script.display())?;
                return Ok(0);
            }
            let job = slurm::submit(&script)?;
            let mut out = super::stdout();
            writeln!(
                out,
                "submitted SLURM job {job}: {} array tasks",
                file.cells.len()
            )?;
            writeln!(out, "  state:  dps-tui sweep --status {}", root.display())?;
            writeln!(out, "  board:  dps-tui watch {}", root.display())?;
            file.slurm_job = Some(job);
            file.write(&root)?;
            Ok(0)
        }
    }
}
