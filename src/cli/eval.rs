//! `eval`: a checkpoint's metrics on a task's dev set.
//!
//! The checkpoint is a run's `checkpoints/step-N` folder, or a run folder (its latest complete
//! checkpoint). Inside a run, the run's `config.yaml` gives the task, the data and the sequence
//! length unless the command line names them; a folder that holds no checkpoint is refused.
//! `--task` naming another task than the run's scores the run's model on that task through the
//! label map a run's `eval_tasks` would use (`mnli` → `scitail`: entailment onto entails,
//! neutral and contradiction onto neutral), as `<task>/<metric>`.

use anyhow::{bail, Context, Result};
use clap::Args;
use dps_tui::config::eval_tasks::eval_task_name;
use dps_tui::config::{self, TrainConfig};
use dps_tui::runs::RunDir;
use dps_tui::train::setup::build_trainer;
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Args, Debug, Clone)]
pub struct EvalArgs {
    /// A run folder (its latest complete checkpoint; `dps-tui runs` lists them) or one of its
    /// `checkpoints/step-N` folders.
    #[arg(long)]
    pub checkpoint: PathBuf,
    /// The task whose dev set to evaluate on (rte, mrpc, ..., snli, sick, scitail, demo;
    /// `scitail:test` for a labelled test split); default: the run's task. Another task than
    /// the run's is scored through a label map (the run's `label_maps`, else the default).
    #[arg(long)]
    pub task: Option<String>,
    /// The folder of SNLI, SICK and SciTail in their original layouts; default: the run's
    /// `nli_dir`, else --data-dir.
    #[arg(long)]
    pub nli_dir: Option<PathBuf>,
    /// A GLUE data folder in the original layout (<dir>/<TASK>/dev.tsv); default: the run's,
    /// else the Hugging Face Hub.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Longest input in tokens; default: the run's, else 128.
    #[arg(long)]
    pub max_seq_length: Option<usize>,
    /// cpu, cuda or cuda:N.
    #[arg(long, default_value = "cpu")]
    pub device: String,
}

/// The checkpoint folder an `--checkpoint` argument names, and the run it belongs to.
fn locate(arg: &Path) -> Result<(PathBuf, Option<RunDir>)> {
    let in_run = |ck: &Path| {
        ck.parent()
            .and_then(Path::parent)
            .filter(|run| run.join("config.yaml").is_file())
            .and_then(|run| RunDir::open(run).ok())
    };
    if arg.join("config.json").is_file() {
        return Ok((arg.to_path_buf(), in_run(arg)));
    }
    if arg.join("config.yaml").is_file() {
        let run = RunDir::open(arg)?;
        let Some((_, ck)) = run.checkpoints().pop() else {
            bail!(
                "{}: the run has no complete checkpoint (checkpoints/step-N with \
                 trainer_state.json). Fix: resume it to the end, or set checkpoint_every",
                arg.display()
            );
        };
        return Ok((ck, Some(run)));
    }
    let what = if arg.exists() {
        "is neither a checkpoint (no config.json) nor a run folder (no config.yaml)"
    } else {
        "does not exist"
    };
    bail!(
        "--checkpoint {}: {what}. Fix: pass a run folder (`dps-tui runs` lists them) or one of \
         its checkpoints/step-N folders",
        arg.display()
    )
}

/// The configuration `eval` builds its model and data from.
fn eval_config(a: &EvalArgs, ck: &Path, run: Option<&RunDir>) -> Result<TrainConfig> {
    let mut c = match run {
        Some(r) => r.read_config()?,
        None => TrainConfig::default(),
    };
    match (&a.task, run) {
        (Some(t), Some(_)) if another_task(t, &c.task) => {
            // The run's model, scored on `t` through a label map.
            c.set(
                "eval_tasks",
                &serde_yaml::Value::String(t.clone()),
                "--task",
            )?;
            let names: Vec<String> = c
                .eval_tasks
                .iter()
                .map(|e| eval_task_name(e).to_string())
                .collect();
            c.label_maps.retain(|k, _| names.contains(k));
            c.validate("--task")?;
            // Only the eval set is scored: one training example keeps setup cheap.
            c.train_size = Some(1);
            c.train_sampling = config::TrainSampling::Random;
        }
        (Some(t), _) => c.set("task", &serde_yaml::Value::String(t.clone()), "--task")?,
        (None, Some(_)) => {}
        (None, None) => bail!(
            "{} is not inside a run folder, so its task is unknown. Fix: pass --task",
            ck.display()
        ),
    }
    c.model = ck.display().to_string();
    if let Some(d) = &a.data_dir {
        c.data_dir = Some(d.clone());
    }
    if let Some(d) = &a.nli_dir {
        c.nli_dir = Some(d.clone());
    }
    if let Some(n) = a.max_seq_length {
        c.max_seq_length = n;
    }
    c.device = a.device.clone();
    c.method = config::Method::Vanilla;
    c.max_steps = Some(1);
    Ok(c)
}

/// Whether `--task` names another task than the run's (ignoring a `:test` split).
fn another_task(arg: &str, run_task: &str) -> bool {
    let name = arg
        .split_once(':')
        .map_or(arg, |(t, _)| t)
        .to_ascii_lowercase();
    dps_tui::data::glue::normalise_task_name(&name) != Some(run_task) || arg.contains(':')
}

pub(crate) fn eval(a: &EvalArgs) -> Result<i32> {
    let (ck, run) = locate(&a.checkpoint)?;
    let c = eval_config(a, &ck, run.as_ref())?;
    let (mut trainer, _) =
        build_trainer(&c).with_context(|| format!("cannot evaluate {}", ck.display()))?;
    if !c.eval_tasks.is_empty() {
        // Scoring another task: only its set.
        trainer.devs.clear();
        if trainer.eval_sets.is_empty() {
            bail!(
                "--task {}: its files were not found ({}). Fix: pass --nli-dir or --data-dir \
                 with the set in its original layout, or let the Hub fetch it",
                c.eval_tasks.join(", "),
                trainer.start_warnings.join("; ")
            );
        }
    }
    let metrics = trainer.evaluate()?;
    let line = serde_json::json!({
        "event": "eval", "checkpoint": ck, "task": c.task, "metrics": metrics
    });
    writeln!(super::stdout(), "{line}")?;
    Ok(0)
}
