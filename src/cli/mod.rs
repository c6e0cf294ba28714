//! Command-line parsing and the subcommands. The binary edge: errors are `anyhow`.
//!
//! - `mod.rs`: the arguments (clap) and the dispatch to a subcommand;
//! - [`train`]: `train` (headless or in the TUI), the TUI with no subcommand, and `eval`;
//! - [`runs`]: `runs`, `export`, `replay`, `compare`, `report`;
//! - [`sweep`]: `sweep`; [`watch`]: `watch`; [`bench`]: `bench`.

mod bench;
mod eval;
mod help;
mod runs;
mod sweep;
mod train;
mod watch;

use anyhow::Result;
use clap::{Args, Parser, Subcommand};
use dps_tui::config::{self, TrainConfig};
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Parser, Debug)]
#[command(
    name = "dps-tui",
    version,
    about = "Fine-tune BERT encoders on GLUE with Dynamic Parameter Selection, and watch and steer it live",
    long_about = "Fine-tune BERT encoders on GLUE with Dynamic Parameter Selection (DPS, Zhang et al. 2022), \
                  and watch and steer it live. With no subcommand, opens the terminal UI's preset picker.",
    // The options here are the TUI's; given before a subcommand they would be dropped.
    args_conflicts_with_subcommands = true,
    after_help = help::TOP
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
    /// Override a preset key: `--set p=0.5` (repeatable; `--help` lists the keys).
    #[arg(long = "set", value_name = "KEY=VALUE", long_help = help::set_keys())]
    pub set: Vec<String>,
    /// A local model folder or a Hugging Face model id.
    #[arg(long)]
    pub model: Option<String>,
    /// A GLUE data folder in the original layout (<dir>/<TASK>/train.tsv).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Where run folders go, and the program's log (dps-tui.log; with --resume, only the log).
    #[arg(long, default_value = "runs")]
    pub out: PathBuf,
    /// cpu, cuda or cuda:N.
    #[arg(long)]
    pub device: Option<String>,
    /// CPU threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
}

#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// Train (headless with --headless, else in the TUI).
    #[command(after_help = help::TRAIN)]
    Train {
        /// Preset name (rte, mrpc, ..., demo) or path to a .yaml file.
        #[arg(long)]
        preset: Option<String>,
        /// Resume the run in this folder from its latest complete checkpoint (`--help` lists
        /// the keys `--set` may change).
        #[arg(long, long_help = help::resume(), conflicts_with_all = ["preset", "model", "data_dir", "device"])]
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
    #[command(after_help = help::EVAL)]
    Eval(eval::EvalArgs),
    /// Measure training throughput.
    #[command(after_help = help::BENCH)]
    Bench(bench::BenchArgs),
    /// Fill the Hugging Face cache ahead of time (as `huggingface-cli download`): MODEL's
    /// files and the GLUE data of each --task; later runs can then work offline.
    #[command(after_help = help::DOWNLOAD)]
    Download {
        /// A Hugging Face model id (owner/name).
        model: String,
        /// A GLUE task whose train and dev splits to fetch (repeatable).
        #[arg(long = "task", value_name = "TASK")]
        tasks: Vec<String>,
    },
    /// List the presets.
    Presets,
    /// List runs: path, task, method, steps, best metric, status.
    #[command(after_help = help::RUNS)]
    Runs {
        /// The folder holding the run folders.
        #[arg(long, default_value = "runs")]
        out: PathBuf,
    },
    /// Export a run's scalars, one row per step.
    #[command(after_help = help::EXPORT)]
    Export {
        /// A run folder (`dps-tui runs` lists them).
        run: PathBuf,
        /// The output format.
        #[arg(long, value_enum, default_value_t = runs::ExportFormat::Csv)]
        format: runs::ExportFormat,
    },
    /// Results over seeds: the finished runs under ROOT grouped by task × method (and any
    /// other key that differs), with mean, std, median, min, max of the main dev metric, and
    /// each method against a baseline, paired by seed, with a bootstrap 95% interval.
    #[command(after_help = help::REPORT)]
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
    #[command(after_help = help::REPLAY)]
    Replay {
        /// A run folder (`dps-tui runs` lists them).
        run: PathBuf,
    },
    /// Check the model and optimizer against the PyTorch reference case on a device; prints
    /// the largest errors as JSON. A developer check: it needs the tiny-BERT reference folder
    /// of the project's reference data (`reference/tiny-bert`: config.json, model.safetensors,
    /// classifier.safetensors and case.safetensors, written by PyTorch), which is not shipped
    /// with the program.
    #[command(hide = true, after_help = help::PARITY)]
    Parity {
        /// The tiny-BERT reference folder (`reference/tiny-bert` of the reference data).
        #[arg(long)]
        reference: PathBuf,
        /// cpu, cuda or cuda:N.
        #[arg(long, default_value = "cpu")]
        device: String,
    },
    /// Overlay the loss and dev-metric curves of several runs and compare their configurations
    /// and metrics.
    #[command(after_help = help::COMPARE)]
    Compare {
        /// Run folders (`dps-tui runs` lists them).
        #[arg(required = true)]
        runs: Vec<PathBuf>,
        /// No terminal UI: print the comparison as JSON on stdout.
        #[arg(long, visible_alias = "json")]
        headless: bool,
    },
    /// Run a grid of headless runs from a SPEC file, here (--jobs N) or as a SLURM array job.
    #[command(after_help = help::SWEEP)]
    Sweep(sweep::SweepArgs),
    /// A live board of every run under ROOT (a sweep's --out, or any runs folder).
    #[command(after_help = help::WATCH)]
    Watch {
        /// A folder holding run folders at any depth: a sweep's --out, or a runs folder.
        root: PathBuf,
    },
}

/// Parse the command line, or print clap's error and exit. Options given before a subcommand
/// are the TUI's and refused there (`args_conflicts_with_subcommands`); the error then also
/// says where they go.
pub fn parse() -> Cli {
    Cli::try_parse().unwrap_or_else(|e| {
        let before_subcommand = e.kind() == clap::error::ErrorKind::ArgumentConflict
            && e.to_string().contains("the subcommand '");
        let _ = e.print();
        if before_subcommand {
            eprintln!(
                "\nOptions before a subcommand are the terminal UI's. Fix: put them after the \
                 subcommand's name, e.g. `dps-tui train --preset demo --headless --threads 1`"
            );
        }
        std::process::exit(e.exit_code())
    })
}

pub fn run(cli: Cli) -> Result<i32> {
    dps_tui::model::ops::check_engine().map_err(|e| anyhow::anyhow!(e))?;
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
        Some(Cmd::Eval(a)) => eval::eval(&a),
        Some(Cmd::Bench(b)) => bench::bench(b),
        Some(Cmd::Download { model, tasks }) => download(&model, &tasks),
        Some(Cmd::Presets) => list_presets(),
        Some(Cmd::Runs { out }) => runs::list_runs(&out),
        Some(Cmd::Export { run, format }) => runs::export(&run, format),
        Some(Cmd::Report {
            root,
            json,
            baseline,
            imports,
            include_stopped,
        }) => runs::report(&root, json, &baseline, &imports, include_stopped),
        Some(Cmd::Replay { run }) => runs::replay(&run),
        Some(Cmd::Parity { reference, device }) => {
            let report = dps_tui::diagnostics::parity::run(&reference, &device)?;
            writeln!(stdout(), "{report}")?;
            dps_tui::diagnostics::parity::check(&report, &device)?;
            Ok(0)
        }
        Some(Cmd::Compare { runs, headless }) => runs::compare(&runs, headless),
        Some(Cmd::Sweep(a)) => sweep::sweep(a),
        Some(Cmd::Watch { root }) => watch::watch(&root),
    }
}

/// Standard output whose write errors say what failed (`cannot write to standard output: No
/// space left on device`), keeping the error's kind, so a closed pipe still ends quietly.
pub(crate) struct Stdout(std::io::StdoutLock<'static>);

/// The locked [`Stdout`].
pub(crate) fn stdout() -> Stdout {
    Stdout(std::io::stdout().lock())
}

fn stdout_error(e: std::io::Error) -> std::io::Error {
    std::io::Error::new(
        e.kind(),
        format!(
            "cannot write to standard output: {e}. Fix: free space where standard output goes, \
             or send it to another file"
        ),
    )
}

impl Write for Stdout {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.write(buf).map_err(stdout_error)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush().map_err(stdout_error)
    }
}

/// `download MODEL [--task T ...]`: fill the cache ([`dps_tui::data::prefetch`]) with the
/// cache, endpoint and offline flag from the environment, then say what it holds.
fn download(model: &str, tasks: &[String]) -> Result<i32> {
    let hub = dps_tui::hub::HubSource::from_env();
    let got = dps_tui::data::prefetch::prefetch(&hub, model, tasks)?;
    let mut out = stdout();
    writeln!(out, "model {model}: {}", got.model_dir.display())?;
    for t in &got.tasks {
        for (split, n, file) in &t.splits {
            writeln!(out, "{} {split}: {n} examples, {file}", t.task)?;
        }
    }
    writeln!(
        out,
        "cache: {} (runs can now use it offline with HF_HUB_OFFLINE=1)",
        hub.cache_dir.display()
    )?;
    Ok(0)
}

/// `presets`: one line per preset.
fn list_presets() -> Result<i32> {
    let mut out = stdout();
    let presets = config::list_presets();
    let width = presets
        .iter()
        .flatten()
        .map(|p| p.name.chars().count())
        .max()
        .unwrap_or(6);
    for p in presets {
        match p {
            Ok(p) => writeln!(
                out,
                "{:<width$} {:<10} {:<16} {:>6} steps  ({})",
                p.name,
                p.config.task,
                p.config.method,
                p.config
                    .max_steps
                    .map(|s| s.to_string())
                    .unwrap_or_else(|| format!("{} ep", p.config.num_epochs)),
                p.origin
            )?,
            Err(e) => writeln!(out, "error: {e}")?,
        }
    }
    Ok(0)
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
