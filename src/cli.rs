//! Command-line parsing and the subcommands. The binary edge: errors are `anyhow`.

use anyhow::{anyhow, bail, Context, Result};
use clap::{Args, Parser, Subcommand};
use crossbeam_channel::{unbounded, Receiver, Sender};
use dps_tui::config::{self, TrainConfig};
use dps_tui::runs::checkpoint::{self, RunCheckpointer};
use dps_tui::runs::event_log::{self, EventLog};
use dps_tui::runs::RunDir;
use dps_tui::train::events::{Command, Event};
use dps_tui::train::setup::{self, build_trainer};
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
    /// Timed steps (after 3 warm-up steps).
    #[arg(long, default_value_t = 20)]
    pub steps: usize,
    /// Measure a real task's epoch instead of a fixed shape.
    #[arg(long)]
    pub task: Option<String>,
    /// A GLUE data folder in the original layout (with --task).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// With --task: also measure the epoch with length-grouped batches (as the Hugging Face
    /// Trainer's `group_by_length`).
    #[arg(long)]
    pub group_by_length: bool,
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
            run,
        }) => {
            if headless {
                headless_train(preset, resume, &run)
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
        }) => report(&root, json, &baseline),
        Some(Cmd::Replay { run }) => replay(&run),
        Some(Cmd::Parity { reference, device }) => {
            dps_tui::parity::run(&reference, &device)?;
            Ok(0)
        }
        Some(Cmd::Compare { runs, headless }) => compare(&runs, headless),
    }
}

/// The configuration from a preset plus command-line overrides.
pub fn resolve_config(preset: Option<&str>, run: &RunArgs) -> Result<TrainConfig> {
    let (mut c, _origin) = config::load_preset(preset.unwrap_or("rte"))?;
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
    Ok(c)
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
    };
    setup::apply_threads(config.threads);
    let (mut trainer, assets) = build_trainer(&config)?;
    for n in &assets.notes {
        tracing::info!("{n}");
    }
    if !resuming {
        // config.yaml records what the run uses, e.g. the dropout `auto` resolved to.
        run_dir
            .write_config(&trainer.config)
            .with_context(|| format!("cannot write {}", run_dir.path.display()))?;
    }
    if resuming {
        let Some((_, ck)) = run_dir.checkpoints().pop() else {
            bail!(
                "{}: no complete checkpoint to resume from. Fix: start a new run, or set checkpoint_every",
                run_dir.path.display()
            );
        };
        let loaded = checkpoint::load(&ck).map_err(|e| anyhow!(e))?;
        let weights = candle_core::safetensors::load(
            ck.join("model.safetensors"),
            &candle_core::Device::Cpu,
        )?;
        for p in trainer.model.params() {
            let key = dps_tui::model::checkpoint_io::checkpoint_key(&p.name);
            let t = weights
                .get(&key)
                .ok_or_else(|| anyhow!("{}: lacks {key}", ck.display()))?;
            p.var.set(&t.to_device(p.var.device())?)?;
        }
        trainer.restore(&loaded.state, &loaded.optimizer, &loaded.strategy)?;
        eprintln!(
            "resuming {} from step {}",
            run_dir.path.display(),
            loaded.state.step
        );
    }
    let log = EventLog::open(&run_dir.events_path())
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

fn headless_train(preset: Option<String>, resume: Option<PathBuf>, run: &RunArgs) -> Result<i32> {
    init_logging(&run.out);
    let source = match resume {
        Some(r) => Source::Resume(r),
        None => Source::New(Box::new(resolve_config(preset.as_deref(), run)?)),
    };
    let (mut trainer, run_dir) = make_trainer(source, run)?;
    eprintln!("run folder: {}", run_dir.path.display());
    trainer.add_sink(Box::new(StdoutSink {
        last: Instant::now(),
        total: 0,
    }));
    trainer.on_failure = OnFailure::Stop;
    match trainer.run() {
        Ok(_) => Ok(0),
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
        (None, None) => dps_tui::ui::run_app(&mut start)?,
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

fn spawn(source: Source, run: &RunArgs) -> Result<(Receiver<Event>, Sender<Command>)> {
    let (mut trainer, _rd) = make_trainer(source, run)?;
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
        against: b.against,
        threads: b.threads,
        dropout: b.dropout,
        device: b.device,
    })?;
    Ok(0)
}

fn list_runs(out: &Path) -> Result<i32> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(out)
        .with_context(|| format!("cannot list {}", out.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("events.jsonl").exists())
        .collect();
    dirs.sort();
    println!(
        "{:<48} {:<6} {:<15} {:>11} {:>10} status",
        "run", "task", "method", "steps", "best"
    );
    for d in dirs {
        let log = event_log::read(&d.join("events.jsonl"))?;
        let (mut task, mut method, mut total, mut step, mut best) =
            (String::new(), String::new(), 0, 0, None::<f64>);
        let mut status = "crashed";
        let mut main_metric = None;
        for e in &log.events {
            match e {
                Event::Start {
                    task: t,
                    method: m,
                    total_steps,
                    ..
                } => {
                    task = t.clone();
                    method = m.clone();
                    total = *total_steps;
                    main_metric = dps_tui::data::glue::task(t).map(|s| s.main_metric);
                    status = "crashed";
                }
                Event::Step { step: s, .. } => step = *s,
                Event::Eval { metrics, .. } | Event::Done { metrics, .. } => {
                    if let Some(v) = main_metric.and_then(|k| metrics.get(k)) {
                        best = Some(best.map_or(*v, |b: f64| b.max(*v)));
                    }
                    if matches!(e, Event::Done { .. }) {
                        status = "finished";
                    }
                }
                _ => {}
            }
        }
        if status == "crashed" {
            // A run whose log was written to in the last minute is probably still running.
            let recent = std::fs::metadata(d.join("events.jsonl"))
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|e| e.as_secs() < 60);
            if recent {
                status = "running";
            }
        }
        println!(
            "{:<48} {:<6} {:<15} {:>5}/{:<5} {:>10} {status}",
            d.file_name().unwrap_or_default().to_string_lossy(),
            task,
            method,
            step,
            total,
            best.map(|b| format!("{b:.4}"))
                .unwrap_or_else(|| "-".into())
        );
    }
    Ok(0)
}

fn export(run: &Path, format: &str) -> Result<i32> {
    let log = event_log::read(&run.join("events.jsonl"))
        .with_context(|| format!("cannot read {}/events.jsonl", run.display()))?;
    if let Some(t) = &log.torn_tail {
        eprintln!(
            "warning: the last line of the log is torn and was skipped ({} bytes)",
            t.len()
        );
    }
    let mut rows: std::collections::BTreeMap<usize, serde_json::Map<String, serde_json::Value>> =
        Default::default();
    let mut eval_keys = std::collections::BTreeSet::new();
    for e in &log.events {
        match e {
            Event::Step {
                step,
                epoch,
                loss,
                lr,
                examples_per_sec,
                ..
            } => {
                let r = rows.entry(*step).or_default();
                r.insert("step".into(), (*step).into());
                r.insert("epoch".into(), (*epoch).into());
                r.insert("loss".into(), (*loss).into());
                r.insert("lr".into(), (*lr).into());
                r.insert("examples_per_sec".into(), (*examples_per_sec).into());
            }
            Event::Eval { step, metrics } | Event::Done { step, metrics, .. } => {
                let r = rows.entry(*step).or_default();
                r.insert("step".into(), (*step).into());
                for (k, v) in metrics {
                    let key = format!("eval_{k}");
                    eval_keys.insert(key.clone());
                    r.insert(key, (*v).into());
                }
            }
            _ => {}
        }
    }
    let mut out = std::io::stdout().lock();
    match format {
        "jsonl" => {
            for r in rows.values() {
                writeln!(out, "{}", serde_json::Value::Object(r.clone()))?;
            }
        }
        "csv" => {
            let mut cols = vec!["step", "epoch", "loss", "lr", "examples_per_sec"]
                .into_iter()
                .map(String::from)
                .collect::<Vec<_>>();
            cols.extend(eval_keys);
            writeln!(out, "{}", cols.join(","))?;
            for r in rows.values() {
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
                r.path.display()
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

fn report(root: &Path, json: bool, baseline: &str) -> Result<i32> {
    if !root.is_dir() {
        bail!(
            "{}: no such folder. Fix: pass the folder that holds the run folders (default runs/)",
            root.display()
        );
    }
    let (runs, skipped) = dps_tui::runs::report::collect(root);
    for (dir, why) in &skipped {
        eprintln!("left out {}: {why}", dir.display());
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
