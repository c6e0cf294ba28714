//! `train` (headless, or in the TUI) and the TUI with no subcommand.

use super::{apply_overrides, init_logging, resolve_config, RunArgs};
use anyhow::{anyhow, bail, Context, Result};
use crossbeam_channel::{unbounded, Receiver, Sender};
use dps_tui::config::resume::{self, ResumeOverrides};
use dps_tui::config::TrainConfig;
use dps_tui::core::events::{Command, Event};
use dps_tui::runs::checkpoint::{self, RunCheckpointer};
use dps_tui::runs::event_log::{self, EventLog};
use dps_tui::runs::lock::RunLock;
use dps_tui::runs::RunDir;
use dps_tui::train::setup::{self, build_trainer, RunAssets, SetupError};
use dps_tui::train::stop::{exit_code, StopSignal};
use dps_tui::train::trainer::{EventSink, OnFailure, Trainer};
use dps_tui::ui::event_loop::StartFn;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

/// JSON lines on stdout, a human progress line on stderr.
struct StdoutSink {
    last: Instant,
    total: usize,
    /// A write to stdout failed (other than a closed pipe) and was reported.
    failed: bool,
}

impl EventSink for StdoutSink {
    fn emit(&mut self, e: &Event) {
        let mut out = std::io::stdout().lock();
        let written = writeln!(out, "{}", e.to_json_line()).and_then(|_| out.flush());
        // The run goes on: events.jsonl holds every event. A closed pipe (`| head`) is the
        // reader's choice and stays quiet; any other failure is said once.
        if let Err(err) = written {
            if err.kind() != std::io::ErrorKind::BrokenPipe && !self.failed {
                self.failed = true;
                eprintln!(
                    "warning: cannot write events to standard output: {err}; the run goes on \
                     and events.jsonl in the run folder holds every event. Fix: free space \
                     where standard output goes, or read the events from events.jsonl"
                );
            }
        }
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

/// What a resumed run's `--set` asks for once every sink is attached: the resume keys it
/// changed (logged as a warning) and the live keys (applied as controls, each logged as a
/// `control` event with its outcome).
#[derive(Default)]
struct OnResume(ResumeOverrides);

impl OnResume {
    fn apply(self, trainer: &mut Trainer) {
        let step = trainer.step;
        for (key, before, after) in self.0.changed {
            trainer.emit(Event::Warning {
                step,
                message: format!(
                    "resumed with {key}: {after} (the run started with {before}; config.yaml \
                     keeps that)"
                ),
            });
        }
        for c in self.0.controls {
            trainer.control_after_start(c);
        }
    }
}

/// Build a trainer for a new run or a resumed one, with its run folder and event log.
fn make_trainer(source: Source, run: &RunArgs) -> Result<(Trainer, RunDir, OnResume)> {
    match source {
        Source::Resume(dir) => resume_trainer(&dir, run),
        Source::New(c) => new_trainer(*c, None, &run.out),
        Source::NewAt(c, dir) => new_trainer(*c, Some(&dir), &run.out),
    }
}

/// A new run: the model and data first, then the run folder, so a start that fails before
/// step 1 (a missing model, unreadable data, no network) leaves no folder behind.
fn new_trainer(
    config: TrainConfig,
    at: Option<&Path>,
    out: &Path,
) -> Result<(Trainer, RunDir, OnResume)> {
    setup::apply_threads(config.threads);
    let (trainer, assets) = build_trainer(&config).map_err(setup_error)?;
    // config.yaml records what the run uses, e.g. the dropout `auto` resolved to.
    // A folder that was there before (`--run-dir` at an empty folder) is not removed.
    let existed = at.is_some_and(Path::exists);
    let run_dir = match at {
        None => RunDir::create(out, &trainer.config).map_err(|e| {
            cannot_create(
                format!("cannot create a run folder under {}", out.display()),
                e,
                "--out",
            )
        })?,
        Some(dir) => RunDir::create_at(dir, &trainer.config).map_err(|e| {
            cannot_create(
                format!("cannot create the run folder {}", dir.display()),
                e,
                "--run-dir",
            )
        })?,
    };
    let attached = RunLock::acquire(&run_dir.path)
        .map_err(anyhow::Error::from)
        .and_then(|lock| attach(trainer, &assets, &run_dir, lock, None));
    match attached {
        Ok(t) => Ok((t, run_dir, OnResume::default())),
        Err(e) => {
            if !existed {
                let _ = std::fs::remove_dir_all(&run_dir.path);
            }
            Err(e)
        }
    }
}

/// A run folder that could not be written: the error, and the fix unless it gives its own.
fn cannot_create(what: String, e: std::io::Error, option: &str) -> anyhow::Error {
    if e.to_string().contains("Fix:") {
        return anyhow!(e).context(what);
    }
    anyhow!(
        "{what}: {e}. Fix: pass {option} a folder that can be written (with free space, and \
         no file in the way of its path)"
    )
}

/// A run continued from its latest complete checkpoint, with the `--set` (and `--threads`)
/// that may change on resume (see [`dps_tui::config::resume`]).
fn resume_trainer(dir: &Path, run: &RunArgs) -> Result<(Trainer, RunDir, OnResume)> {
    let run_dir = RunDir::open(dir)?;
    let lock = RunLock::acquire(&run_dir.path)?;
    let mut config = run_dir.read_config()?;
    let sets: Vec<String> = run
        .threads
        .map(|t| format!("threads={t}"))
        .into_iter()
        .chain(run.set.iter().cloned())
        .collect();
    let overrides = resume::apply_on_resume(&mut config, &sets)?;
    setup::apply_threads(config.threads);
    let Some((_, ck)) = run_dir.checkpoints().pop() else {
        bail!(
            "{0}: no complete checkpoint to resume from (the run stopped before its first). Fix: delete the folder (`rm -r {0}`) and start the run again with `train --headless --run-dir {0}`, or start a new run; a smaller checkpoint_every checkpoints sooner",
            run_dir.path.display()
        );
    };
    let checkpoint = checkpoint::load(&ck).map_err(|e| anyhow!(e))?;
    let (trainer, assets) = Trainer::resume(&config, &checkpoint).map_err(setup_error)?;
    eprintln!(
        "resuming {} from step {}",
        run_dir.path.display(),
        checkpoint.state.step
    );
    let resumed_at = Some((checkpoint.state.step, checkpoint.state.event_log_bytes));
    let trainer = attach(trainer, &assets, &run_dir, lock, resumed_at)?;
    Ok((trainer, run_dir, OnResume(overrides)))
}

/// The run's event log (holding the run's lock; on resume cut back to the checkpoint's length)
/// and checkpointer.
fn attach(
    mut trainer: Trainer,
    assets: &RunAssets,
    run_dir: &RunDir,
    lock: RunLock,
    resumed_at: Option<(usize, Option<u64>)>,
) -> Result<Trainer> {
    for n in &assets.notes {
        tracing::info!("{n}");
    }
    let log = EventLog::open_run(&run_dir.events_path(), lock, resumed_at)
        .with_context(|| format!("cannot write {}", run_dir.events_path().display()))?;
    trainer.add_sink(Box::new(log));
    let config = &trainer.config;
    let checkpointer = RunCheckpointer::new(
        run_dir,
        assets.tokenizer_dir.clone(),
        assets.id2label.clone(),
        config.keep_last,
        config.keep_best,
    );
    trainer.set_checkpointer(Box::new(checkpointer));
    Ok(trainer)
}

/// A setup error; when the Hub was needed and could not serve, what to do without it.
fn setup_error(e: SetupError) -> anyhow::Error {
    let hub = matches!(
        e,
        SetupError::Hub(_) | SetupError::Data(dps_tui::data::DataError::Hub(_))
    );
    if !hub {
        return e.into();
    }
    anyhow!(
        "{e}\nWithout the Hub: `dps-tui train --preset demo` needs no download; `--model DIR \
         --data-dir DIR` uses local folders (a model folder with config.json, model.safetensors \
         and tokenizer.json; GLUE TSVs as DIR/<TASK>/train.tsv); or fill the cache once with the \
         network (`dps-tui download MODEL --task TASK`, or a first run) and then set \
         HF_HUB_OFFLINE=1"
    )
}

pub(crate) fn headless_train(
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
    let (mut trainer, run_dir, on_resume) = make_trainer(source, run)?;
    eprintln!("run folder: {}", run_dir.path.display());
    trainer.add_sink(Box::new(StdoutSink {
        last: Instant::now(),
        total: 0,
        failed: false,
    }));
    on_resume.apply(&mut trainer);
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
/// A run's setup (loading, or downloading, its model and data) runs on a thread of its own
/// while the picker or the dashboard shows its downloads.
pub(crate) fn tui(preset: Option<String>, resume: Option<PathBuf>, run: &RunArgs) -> Result<i32> {
    init_logging(&run.out);
    let run2 = run.clone();
    let start: Arc<StartFn> = Arc::new(move |config: TrainConfig| {
        spawn(Source::New(Box::new(config)), &run2)
            .map(|(events, commands, _)| (events, commands))
            .map_err(|e| format!("{e:#}"))
    });
    let outcome = match (preset, resume) {
        (None, None) => {
            let picker = dps_tui::ui::form::Picker::from_presets(|c| {
                apply_overrides(c, run).map_err(|e| format!("{e:#}"))
            });
            dps_tui::ui::run_app(picker, start)?
        }
        (_, Some(r)) => {
            let run = run.clone();
            // The dashboard opens at once, then on the run as its log holds it up to the
            // checkpoint.
            dps_tui::ui::run_dashboard_after(
                dps_tui::ui::App::new(),
                Box::new(move || {
                    spawn(Source::Resume(r), &run)
                        .map(|(events, commands, history)| ((events, commands), history))
                        .map_err(|e| format!("{e:#}"))
                }),
            )?
        }
        (Some(p), None) => {
            let c = resolve_config(Some(&p), run)?;
            dps_tui::ui::run_dashboard_after(
                dps_tui::ui::App::new(),
                Box::new(move || start(c).map(|ch| (ch, Vec::new()))),
            )?
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

/// Start a trainer on its own thread: its event and command channels, and for a resumed run
/// the events its log holds (cut back to the checkpoint), read before the trainer adds any.
fn spawn(source: Source, run: &RunArgs) -> Result<(Receiver<Event>, Sender<Command>, Vec<Event>)> {
    let resumed = matches!(source, Source::Resume(_));
    let (mut trainer, rd, on_resume) = make_trainer(source, run)?;
    let history = if resumed {
        let path = rd.events_path();
        let log =
            event_log::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
        log.events
    } else {
        Vec::new()
    };
    pace_for_tui(&mut trainer);
    let (etx, erx) = unbounded::<Event>();
    let (ctx, crx) = unbounded::<Command>();
    trainer.add_sink(Box::new(etx));
    on_resume.apply(&mut trainer);
    trainer.set_commands(crx);
    trainer.on_failure = OnFailure::Pause;
    std::thread::Builder::new()
        .name("trainer".into())
        .spawn(move || {
            if let Err(e) = trainer.run() {
                tracing::error!("training stopped: {e}");
            }
        })?;
    Ok((erx, ctx, history))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::RunArgs;

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
        let (headless, _, _) = make_trainer(Source::New(Box::new(c.clone())), &run).unwrap();
        assert_eq!(
            headless.min_step_interval, None,
            "the headless demo is not paced"
        );
        let (mut tui, _, _) = make_trainer(Source::New(Box::new(c)), &run).unwrap();
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
            match (p.name.as_str(), &p.config) {
                // The demo refuses a model it would not use, and says so in the picker.
                ("demo", Err(e)) => assert!(e.contains("task `demo`"), "{e}"),
                (_, Ok(c)) => assert_eq!(c.model, "/models/minilm", "{}", p.name),
                (name, Err(e)) => panic!("{name}: {e}"),
            }
        }
    }
}
