//! Command-line parsing and the subcommands. The binary edge: errors are `anyhow`.

use anyhow::{anyhow, bail, Context, Result};
use clap::{Args, Parser, Subcommand};
use crossbeam_channel::{unbounded, Receiver, Sender};
use dps_tui::config::{self, TrainConfig};
use dps_tui::core::events::{Command, Event};
use dps_tui::runs::checkpoint::{self, RunCheckpointer};
use dps_tui::runs::event_log::{self, EventLog};
use dps_tui::runs::lock::RunLock;
use dps_tui::runs::{self, RunDir, RunRecord};
use dps_tui::train::setup::{self, build_trainer};
use dps_tui::train::stop::{exit_code, StopSignal};
use dps_tui::train::trainer::{EventSink, OnFailure, Trainer};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

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
    Bench(BenchArgs),
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
    Sweep(crate::sweep_cli::SweepArgs),
    /// A live board of every run under ROOT (a sweep's --out, or any runs folder).
    Watch { root: PathBuf },
}

#[derive(Args, Debug, Clone)]
pub struct BenchArgs {
    /// Model folder, `demo` for the tiny random model, or `random:CONFIG.json` for random
    /// weights of the shape a config.json describes.
    #[arg(long)]
    pub model: String,
    #[arg(long, default_value = "vanilla")]
    pub method: String,
    #[arg(long, default_value_t = 16)]
    pub batch: usize,
    #[arg(long, default_value_t = 128)]
    pub seq: usize,
    /// Timed steps (after 3 warm-up steps); with --task, 0 = one whole epoch.
    #[arg(long, default_value_t = 20)]
    pub steps: usize,
    /// Measure a real task's epoch instead of a fixed shape.
    #[arg(long)]
    pub task: Option<String>,
    /// A GLUE data folder in the original layout (with --task).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// With --task: length-grouped batches (as the Hugging Face Trainer's `group_by_length`).
    #[arg(long)]
    pub group_by_length: bool,
    /// With --task: the padding modes to measure: packed, longest, max_length (comma-separated)
    /// or all.
    #[arg(long, default_value = "all")]
    pub padding: String,
    /// Threads for the matrix products and fused kernels (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Dropout probability for the measured model.
    #[arg(long, default_value_t = 0.0)]
    pub dropout: f64,
    /// cpu, cuda or cuda:N.
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// Fixed shape: also build a trainer of this method (e.g. vanilla) and step the two
    /// alternately, reporting the step-time ratio.
    #[arg(long)]
    pub against: Option<String>,
}

pub fn run(cli: Cli) -> Result<i32> {
    match cli.command {
        None => {
            let preset = cli.preset.clone();
            tui(preset, None, &cli.run)
        }
        Some(Cmd::Train {
            preset,
            resume,
            headless,
            run_dir,
            run,
        }) => {
            if headless {
                headless_train(preset, resume, run_dir, &run)
            } else {
                tui(preset.or(Some("rte".into())), resume, &run)
            }
        }
        Some(Cmd::Eval {
            checkpoint,
            task,
            data_dir,
            max_seq_length,
            device,
        }) => eval(&checkpoint, &task, data_dir, max_seq_length, &device),
        Some(Cmd::Bench(b)) => crate_bench(b),
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
        Some(Cmd::Runs { out }) => list_runs(&out),
        Some(Cmd::Export { run, format }) => export(&run, &format),
        Some(Cmd::Report {
            root,
            json,
            baseline,
            imports,
            include_stopped,
        }) => report(&root, json, &baseline, &imports, include_stopped),
        Some(Cmd::Replay { run }) => replay(&run),
        Some(Cmd::Parity { reference, device }) => {
            dps_tui::parity::run(&reference, &device)?;
            Ok(0)
        }
        Some(Cmd::Compare { runs, headless }) => compare(&runs, headless),
        Some(Cmd::Sweep(a)) => crate::sweep_cli::sweep(a),
        Some(Cmd::Watch { root }) => crate::sweep_cli::watch(&root),
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

fn init_logging(out: &Path) {
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

/// JSON lines on stdout, a human progress line on stderr.
struct StdoutSink {
    last: Instant,
    total: usize,
}

impl EventSink for StdoutSink {
    fn emit(&mut self, e: &Event) {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{}", e.to_json_line());
        let _ = out.flush();
        match e {
            Event::Start { total_steps, .. } => self.total = *total_steps,
            Event::Step {
                step,
                loss,
                examples_per_sec,
                ..
            } if self.last.elapsed().as_secs_f64() >= 2.0 || *step == self.total => {
                self.last = Instant::now();
                eprintln!(
                    "step {step}/{} loss {loss:.4} {examples_per_sec:.1} ex/s",
                    self.total
                );
            }
            Event::Eval { step, metrics } => eprintln!("eval @ {step}: {metrics:?}"),
            Event::Stage {
                stage, kind, step, ..
            } => eprintln!("stage {stage} ({kind:?}) from step {step}"),
            Event::Warning { message, .. } => eprintln!("warning: {message}"),
            Event::Error { message, .. } => eprintln!("error: {message}"),
            Event::Done { metrics, .. } => eprintln!("done: {metrics:?}"),
            _ => {}
        }
    }
}

/// A new run from a resolved configuration, or a resumed one.
enum Source {
    New(Box<TrainConfig>),
    /// A new run in exactly this folder.
    NewAt(Box<TrainConfig>, PathBuf),
    Resume(PathBuf),
}

/// Build a trainer for a new run or a resumed one, with its run folder and event log.
fn make_trainer(source: Source, run: &RunArgs) -> Result<(Trainer, RunDir)> {
    let resuming = matches!(source, Source::Resume(_));
    let (config, run_dir) = match source {
        Source::Resume(dir) => {
            let rd = RunDir::open(&dir)?;
            let mut c = rd.read_config()?;
            if let Some(t) = run.threads {
                c.threads = t;
            }
            (c, rd)
        }
        Source::New(c) => {
            let c = *c;
            let rd = RunDir::create(&run.out, &c).with_context(|| {
                format!("cannot create a run folder under {}", run.out.display())
            })?;
            (c, rd)
        }
        Source::NewAt(c, dir) => {
            let c = *c;
            let rd = RunDir::create_at(&dir, &c)
                .with_context(|| format!("cannot create the run folder {}", dir.display()))?;
            (c, rd)
        }
    };
    let lock = RunLock::acquire(&run_dir.path)?;
    setup::apply_threads(config.threads);
    let mut resumed_at = None;
    let (mut trainer, assets) = if resuming {
        let Some((_, ck)) = run_dir.checkpoints().pop() else {
            bail!(
                "{0}: no complete checkpoint to resume from (the run stopped before its first). Fix: delete the folder (`rm -r {0}`) and start the run again with `train --headless --run-dir {0}`, or start a new run; a smaller checkpoint_every checkpoints sooner",
                run_dir.path.display()
            );
        };
        let checkpoint = checkpoint::load(&ck).map_err(|e| anyhow!(e))?;
        let resumed = Trainer::resume(&config, &checkpoint)?;
        resumed_at = Some((checkpoint.state.step, checkpoint.state.event_log_bytes));
        eprintln!(
            "resuming {} from step {}",
            run_dir.path.display(),
            checkpoint.state.step
        );
        resumed
    } else {
        let built = build_trainer(&config)?;
        // config.yaml records what the run uses, e.g. the dropout `auto` resolved to.
        run_dir
            .write_config(&built.0.config)
            .with_context(|| format!("cannot write {}", run_dir.path.display()))?;
        built
    };
    for n in &assets.notes {
        tracing::info!("{n}");
    }
    let log = EventLog::open_run(&run_dir.events_path(), lock, resumed_at)
        .with_context(|| format!("cannot write {}", run_dir.events_path().display()))?;
    trainer.add_sink(Box::new(log));
    trainer.set_checkpointer(Box::new(RunCheckpointer::new(
        &run_dir,
        assets.tokenizer_dir.clone(),
        assets.id2label.clone(),
        config.keep_last,
        config.keep_best,
    )));
    Ok((trainer, run_dir))
}

fn headless_train(
    preset: Option<String>,
    resume: Option<PathBuf>,
    run_dir: Option<PathBuf>,
    run: &RunArgs,
) -> Result<i32> {
    init_logging(&run.out);
    let stop = StopSignal::install().context("cannot catch SIGINT/SIGTERM/SIGHUP")?;
    let source = match (resume, run_dir) {
        (Some(r), _) => Source::Resume(r),
        (None, Some(d)) => Source::NewAt(Box::new(resolve_config(preset.as_deref(), run)?), d),
        (None, None) => Source::New(Box::new(resolve_config(preset.as_deref(), run)?)),
    };
    let (mut trainer, run_dir) = make_trainer(source, run)?;
    eprintln!("run folder: {}", run_dir.path.display());
    trainer.add_sink(Box::new(StdoutSink {
        last: Instant::now(),
        total: 0,
    }));
    trainer.on_failure = OnFailure::Stop;
    trainer.stop = Some(stop.clone());
    match trainer.run() {
        Ok(s) => Ok(stop
            .received()
            .filter(|_| s.stopped_early)
            .map_or(0, exit_code)),
        Err(e) => {
            eprintln!("error: {e}");
            Ok(1)
        }
    }
}

/// The TUI: the picker (or a preset directly), the dashboard, with the trainer on its own thread.
fn tui(preset: Option<String>, resume: Option<PathBuf>, run: &RunArgs) -> Result<i32> {
    init_logging(&run.out);
    let run2 = run.clone();
    let mut start = move |config: TrainConfig| -> std::result::Result<(Receiver<Event>, Sender<Command>), String> {
        spawn(Source::New(Box::new(config)), &run2).map_err(|e| format!("{e:#}"))
    };
    let outcome = match (preset, resume) {
        (None, None) => {
            let picker = dps_tui::ui::form::Picker::from_presets(|c| {
                apply_overrides(c, run).map_err(|e| format!("{e:#}"))
            });
            dps_tui::ui::run_app(picker, &mut start)?
        }
        (_, Some(r)) => {
            let (events, commands) = spawn(Source::Resume(r), run)?;
            dps_tui::ui::run_dashboard(dps_tui::ui::App::new(), events, commands)?
        }
        (Some(p), None) => {
            let c = resolve_config(Some(&p), run)?;
            let (events, commands) = start(c).map_err(|e| anyhow!(e))?;
            dps_tui::ui::run_dashboard(dps_tui::ui::App::new(), events, commands)?
        }
    };
    tracing::info!("ui closed: {outcome:?}");
    Ok(0)
}

/// Slow the demo down enough to watch and steer it (see [`dps_tui::ui::pacing`]); other runs,
/// and every headless run, go at full speed.
fn pace_for_tui(trainer: &mut Trainer) {
    trainer.min_step_interval =
        dps_tui::ui::pacing::step_interval(&trainer.config, trainer.total_steps);
}

fn spawn(source: Source, run: &RunArgs) -> Result<(Receiver<Event>, Sender<Command>)> {
    let (mut trainer, _rd) = make_trainer(source, run)?;
    pace_for_tui(&mut trainer);
    let (etx, erx) = unbounded::<Event>();
    let (ctx, crx) = unbounded::<Command>();
    trainer.add_sink(Box::new(etx));
    trainer.set_commands(crx);
    trainer.on_failure = OnFailure::Pause;
    std::thread::Builder::new()
        .name("trainer".into())
        .spawn(move || {
            if let Err(e) = trainer.run() {
                tracing::error!("training stopped: {e}");
            }
        })?;
    Ok((erx, ctx))
}

fn eval(
    checkpoint: &Path,
    task: &str,
    data_dir: Option<PathBuf>,
    max_len: usize,
    device: &str,
) -> Result<i32> {
    let mut c = TrainConfig::default();
    c.set("task", &serde_yaml::Value::String(task.into()), "--task")?;
    c.model = checkpoint.display().to_string();
    c.data_dir = data_dir;
    c.max_seq_length = max_len;
    c.device = device.into();
    c.method = config::Method::Vanilla;
    c.max_steps = Some(1);
    let (mut trainer, _) = build_trainer(&c)?;
    let metrics = trainer.evaluate()?;
    println!(
        "{}",
        serde_json::to_string(
            &serde_json::json!({"event": "eval", "checkpoint": checkpoint, "task": c.task, "metrics": metrics})
        )?
    );
    Ok(0)
}

fn crate_bench(b: BenchArgs) -> Result<i32> {
    dps_tui::bench::run(&dps_tui::bench::BenchOptions {
        model: b.model,
        method: b.method,
        batch: b.batch,
        seq: b.seq,
        steps: b.steps,
        task: b.task,
        data_dir: b.data_dir,
        group_by_length: b.group_by_length,
        paddings: dps_tui::bench::parse_paddings(&b.padding)?,
        against: b.against,
        threads: b.threads,
        dropout: b.dropout,
        device: b.device,
    })?;
    Ok(0)
}

fn list_runs(out: &Path) -> Result<i32> {
    if !out.is_dir() {
        bail!(
            "cannot list {}: not a folder. Fix: pass --out with the folder your runs are in",
            out.display()
        );
    }
    println!(
        "{:<48} {:<6} {:<15} {:>11} {:>10} status",
        "run", "task", "method", "steps", "best"
    );
    for dir in runs::scan(out) {
        let name = dir.strip_prefix(out).unwrap_or(&dir).display().to_string();
        let s = match RunRecord::read(&dir) {
            Ok(r) => r.summary,
            Err(e) => {
                eprintln!("warning: {e}");
                continue;
            }
        };
        println!(
            "{:<48} {:<6} {:<15} {:>5}/{:<5} {:>10} {}",
            name,
            s.task,
            s.method,
            s.step,
            s.total_steps,
            s.best
                .map(|b| format!("{:.4}", b.value))
                .unwrap_or_else(|| "-".into()),
            s.status.word()
        );
    }
    Ok(0)
}

fn export(run: &Path, format: &str) -> Result<i32> {
    let record = RunRecord::read(run)?;
    if record.torn_tail {
        eprintln!("warning: the last line of the log is torn and was skipped");
    }
    let (rows, eval_keys) = record.scalar_rows();
    let mut out = std::io::stdout().lock();
    match format {
        "jsonl" => {
            for r in rows {
                writeln!(out, "{}", serde_json::Value::Object(r))?;
            }
        }
        "csv" => {
            let mut cols = vec!["step", "epoch", "loss", "lr", "examples_per_sec"]
                .into_iter()
                .map(String::from)
                .collect::<Vec<_>>();
            cols.extend(eval_keys);
            writeln!(out, "{}", cols.join(","))?;
            for r in &rows {
                let line: Vec<String> = cols
                    .iter()
                    .map(|c| r.get(c).map(|v| v.to_string()).unwrap_or_default())
                    .collect();
                writeln!(out, "{}", line.join(","))?;
            }
        }
        other => bail!("unknown export format `{other}`. Fix: use --format csv or --format jsonl"),
    }
    Ok(0)
}

fn replay(run: &Path) -> Result<i32> {
    let log = event_log::read(&run.join("events.jsonl")).with_context(|| {
        format!(
            "cannot read {}/events.jsonl. Fix: pass a run folder (`dps-tui runs`)",
            run.display()
        )
    })?;
    if let Some(t) = &log.torn_tail {
        tracing::warn!("torn last line skipped: {} bytes", t.len());
    }
    dps_tui::ui::replay_view(log.events)?;
    Ok(0)
}

fn compare(runs: &[PathBuf], headless: bool) -> Result<i32> {
    let state = dps_tui::ui::compare::CompareState::load(runs)?;
    for r in &state.runs {
        if r.torn_tail {
            eprintln!(
                "warning: {}: the last line of events.jsonl is torn and was skipped",
                r.summary.path.display()
            );
        }
    }
    if headless {
        println!("{}", serde_json::to_string_pretty(&state.to_json())?);
        return Ok(0);
    }
    dps_tui::ui::compare_view(state)?;
    Ok(0)
}

fn report(
    root: &Path,
    json: bool,
    baseline: &str,
    imports: &[PathBuf],
    include_stopped: bool,
) -> Result<i32> {
    if !root.is_dir() {
        bail!(
            "{}: no such folder. Fix: pass the folder that holds the run folders (default runs/)",
            root.display()
        );
    }
    let (mut runs, skipped) = dps_tui::runs::report::collect_with(root, include_stopped);
    for (dir, why) in &skipped {
        eprintln!("left out {}: {why}", dir.display());
    }
    for file in imports {
        runs.extend(dps_tui::runs::imported::read(file)?);
    }
    if runs.is_empty() {
        bail!(
            "{}: no finished runs found (a run is finished when its events.jsonl ends with a `done` event)",
            root.display()
        );
    }
    let r = dps_tui::runs::report::build(&runs, baseline);
    if json {
        println!("{}", serde_json::to_string_pretty(&r)?);
    } else {
        print!("{}", dps_tui::runs::report::to_markdown(&r));
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_tui_paces_the_demo() {
        let tmp = tempfile::tempdir().unwrap();
        let run = RunArgs {
            out: tmp.path().to_path_buf(),
            threads: Some(1),
            ..RunArgs::default()
        };
        let c = resolve_config(Some("demo"), &run).unwrap();
        // `headless_train` builds its trainer with `make_trainer` alone.
        let (headless, _) = make_trainer(Source::New(Box::new(c.clone())), &run).unwrap();
        assert_eq!(
            headless.min_step_interval, None,
            "the headless demo is not paced"
        );
        let (mut tui, _) = make_trainer(Source::New(Box::new(c)), &run).unwrap();
        pace_for_tui(&mut tui);
        let every = tui.min_step_interval.expect("the TUI paces the demo");
        assert!(every.as_secs_f64() * tui.total_steps as f64 >= 120.0);
    }

    #[test]
    fn the_pickers_presets_carry_the_command_line() {
        let run = RunArgs {
            model: Some("/models/minilm".into()),
            data_dir: Some("/data/glue".into()),
            set: vec!["seed=7".into()],
            ..RunArgs::default()
        };
        let picker = dps_tui::ui::form::Picker::from_presets(|c| {
            apply_overrides(c, &run).map_err(|e| format!("{e:#}"))
        });
        let text = |k: &str| {
            let f = picker.fields.iter().find(|f| f.key == k).unwrap();
            f.text.clone()
        };
        assert_eq!(text("model"), "/models/minilm");
        assert_eq!(text("data_dir"), "/data/glue");
        assert_eq!(text("seed"), "7");
        for p in &picker.presets {
            let c = p.config.as_ref().unwrap();
            assert_eq!(c.model, "/models/minilm", "{}", p.name);
        }
    }
}
