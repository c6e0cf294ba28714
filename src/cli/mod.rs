//! Command-line parsing and the subcommands. The binary edge: errors are `anyhow`.
//!
//! - `mod.rs`: the arguments (clap) and the dispatch to a subcommand;
//! - [`train`]: `train` (headless or in the TUI), the TUI with no subcommand, and `eval`;
//! - [`runs`]: `runs`, `export`, `replay`, `compare`, `report`;
//! - [`sweep`]: `sweep`; [`watch`]: `watch`; [`bench`]: `bench`.

mod bench;
mod runs;
mod sweep;
mod train;
mod watch;

use anyhow::Result;
use clap::{Args, Parser, Subcommand};
use dps_tui::config::{self, TrainConfig};
use std::path::{Path, PathBuf};

#[derive(Parser, Debug)]
#[command(
    name = "dps-tui",
    version,
    about = "Fine-tune BERT encoders on GLUE with Dynamic Parameter Selection, and watch and steer it live",
    long_about = "Fine-tune BERT encoders on GLUE with Dynamic Parameter Selection (DPS, Zhang et al. 2022), \
                  and watch and steer it live. With no subcommand, opens the terminal UI's preset picker."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Cmd>,
    /// Open the dashboard on this preset directly (skips the picker).
    #[arg(long, global = false)]
    pub preset: Option<String>,
    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(Args, Debug, Clone, Default)]
pub struct RunArgs {
    /// Override a preset key: `--set p=0.5` (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// A local model folder or a Hugging Face model id.
    #[arg(long)]
    pub model: Option<String>,
    /// A GLUE data folder in the original layout (<dir>/<TASK>/train.tsv).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Where run folders go.
    #[arg(long, default_value = "runs")]
    pub out: PathBuf,
    /// cpu, cuda, cuda:N or metal.
    #[arg(long)]
    pub device: Option<String>,
    /// CPU threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
}

#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// Train (headless with --headless, else in the TUI).
    Train {
        /// Preset name (rte, mrpc, ...) or path to a .yaml file.
        #[arg(long)]
        preset: Option<String>,
        /// Resume the run in this folder from its latest complete checkpoint.
        #[arg(long)]
        resume: Option<PathBuf>,
        /// No terminal UI: JSON lines on stdout, progress on stderr.
        #[arg(long)]
        headless: bool,
        /// With --headless: create the run folder exactly here (instead of a new folder under
        /// --out named after the time, task and method).
        #[arg(long, requires = "headless", conflicts_with = "resume")]
        run_dir: Option<PathBuf>,
        #[command(flatten)]
        run: RunArgs,
    },
    /// Evaluate a checkpoint on a task's dev set; prints metrics as JSON.
    Eval {
        #[arg(long)]
        checkpoint: PathBuf,
        #[arg(long)]
        task: String,
        #[arg(long)]
        data_dir: Option<PathBuf>,
        #[arg(long, default_value_t = 128)]
        max_seq_length: usize,
        #[arg(long, default_value = "cpu")]
        device: String,
    },
    /// Measure training throughput.
    Bench(bench::BenchArgs),
    /// Fill the Hugging Face cache ahead of time (as `huggingface-cli download`): MODEL's
    /// files and the GLUE data of each --task; later runs can then work offline.
    Download {
        /// A Hugging Face model id (owner/name).
        model: String,
        /// A GLUE task whose train and dev splits to fetch (repeatable).
        #[arg(long = "task", value_name = "TASK")]
        tasks: Vec<String>,
    },
    /// List the presets.
    Presets,
    /// List runs: task, method, steps, best metric, status.
    Runs {
        #[arg(long, default_value = "runs")]
        out: PathBuf,
    },
    /// Export a run's scalars, one row per step.
    Export {
        run: PathBuf,
        #[arg(long, default_value = "csv")]
        format: String,
    },
    /// Results over seeds: the finished runs under ROOT grouped by task × method (and any
    /// other key that differs), with mean, std, median, min, max of the main dev metric, and
    /// each method against a baseline, paired by seed, with a bootstrap 95% interval.
    Report {
        /// A folder holding run folders at any depth (`runs`, a sweep's root, ...).
        root: PathBuf,
        /// Print JSON instead of markdown tables.
        #[arg(long)]
        json: bool,
        /// The method the others are compared with.
        #[arg(long, default_value = "vanilla")]
        baseline: String,
        /// Also read another tool's results from a JSON-lines file, one finished run a line:
        /// {"source": "pytorch", "task": "mrpc", "method": "vanilla", "seed": 42,
        /// "metrics": {"combined_score": 0.81}, "config": {"dropout": "0.1"}}. They form
        /// groups of their own (key `source`) and are paired only with their own source's
        /// baseline. Repeatable.
        #[arg(long = "import", value_name = "FILE")]
        imports: Vec<PathBuf>,
        /// Also count runs stopped early (a quit, a signal), at their last evaluation.
        #[arg(long)]
        include_stopped: bool,
    },
    /// Open the dashboard on a finished or crashed run, with a time cursor.
    Replay { run: PathBuf },
    /// Check the model and optimizer against the PyTorch reference case on a device; prints
    /// the largest errors as JSON.
    Parity {
        /// The tiny-bert reference folder (shared/reference/tiny-bert).
        #[arg(long)]
        reference: PathBuf,
        #[arg(long, default_value = "cpu")]
        device: String,
    },
    /// Overlay the loss and dev-metric curves of several runs and compare their configurations
    /// and metrics.
    Compare {
        /// Run folders (`dps-tui runs` lists them).
        #[arg(required = true)]
        runs: Vec<PathBuf>,
        /// No terminal UI: print the comparison as JSON on stdout.
        #[arg(long, visible_alias = "json")]
        headless: bool,
    },
    /// Run a grid of headless runs from a SPEC file, here (--jobs N) or as a SLURM array job.
    Sweep(sweep::SweepArgs),
    /// A live board of every run under ROOT (a sweep's --out, or any runs folder).
    Watch { root: PathBuf },
}

pub fn run(cli: Cli) -> Result<i32> {
    match cli.command {
        None => {
            let preset = cli.preset.clone();
            train::tui(preset, None, &cli.run)
        }
        Some(Cmd::Train {
            preset,
            resume,
            headless,
            run_dir,
            run,
        }) => {
            if headless {
                train::headless_train(preset, resume, run_dir, &run)
            } else {
                train::tui(preset.or(Some("rte".into())), resume, &run)
            }
        }
        Some(Cmd::Eval {
            checkpoint,
            task,
            data_dir,
            max_seq_length,
            device,
        }) => train::eval(&checkpoint, &task, data_dir, max_seq_length, &device),
        Some(Cmd::Bench(b)) => bench::bench(b),
        Some(Cmd::Download { model, tasks }) => {
            dps_tui::data::prefetch::run(&model, &tasks)?;
            Ok(0)
        }
        Some(Cmd::Presets) => {
            for p in config::list_presets() {
                match p {
                    Ok(p) => println!(
                        "{:<6} {:<10} {:<16} {:>6} steps  ({})",
                        p.name,
                        p.config.task,
                        p.config.method,
                        p.config
                            .max_steps
                            .map(|s| s.to_string())
                            .unwrap_or_else(|| format!("{} ep", p.config.num_epochs)),
                        p.origin
                    ),
                    Err(e) => println!("error: {e}"),
                }
            }
            Ok(0)
        }
        Some(Cmd::Runs { out }) => runs::list_runs(&out),
        Some(Cmd::Export { run, format }) => runs::export(&run, &format),
        Some(Cmd::Report {
            root,
            json,
            baseline,
            imports,
            include_stopped,
        }) => runs::report(&root, json, &baseline, &imports, include_stopped),
        Some(Cmd::Replay { run }) => runs::replay(&run),
        Some(Cmd::Parity { reference, device }) => {
            dps_tui::diagnostics::parity::run(&reference, &device)?;
            Ok(0)
        }
        Some(Cmd::Compare { runs, headless }) => runs::compare(&runs, headless),
        Some(Cmd::Sweep(a)) => sweep::sweep(a),
        Some(Cmd::Watch { root }) => watch::watch(&root),
    }
}

/// The configuration from a preset plus command-line overrides.
pub fn resolve_config(preset: Option<&str>, run: &RunArgs) -> Result<TrainConfig> {
    let (mut c, _origin) = config::load_preset(preset.unwrap_or("rte"))?;
    apply_overrides(&mut c, run)?;
    Ok(c)
}

/// Apply the command line's `--model`, `--data-dir`, `--device`, `--threads` and `--set` to a
/// preset's configuration, then validate it.
pub fn apply_overrides(c: &mut TrainConfig, run: &RunArgs) -> Result<()> {
    if let Some(m) = &run.model {
        c.model = m.clone();
    }
    if let Some(d) = &run.data_dir {
        c.data_dir = Some(d.clone());
    }
    if let Some(d) = &run.device {
        c.set("device", &serde_yaml::Value::String(d.clone()), "--device")?;
    }
    if let Some(t) = run.threads {
        c.threads = t;
    }
    for kv in &run.set {
        c.set_override(kv)?;
    }
    c.validate("the command line")?;
    Ok(())
}

pub(crate) fn init_logging(out: &Path) {
    let _ = std::fs::create_dir_all(out);
    if let Ok(f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(out.join("dps-tui.log"))
    {
        let _ = tracing_subscriber::fmt()
            .with_writer(std::sync::Mutex::new(f))
            .with_ansi(false)
            .with_env_filter(
                tracing_subscriber::EnvFilter::try_from_default_env()
                    .unwrap_or_else(|_| "info".into()),
            )
            .try_init();
    }
}
