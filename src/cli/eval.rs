//! `eval`: a checkpoint's metrics on a task's dev set.
//!
//! The checkpoint is a run's `checkpoints/step-N` folder, or a run folder (its latest complete
//! checkpoint). Inside a run, the run's `config.yaml` gives the task, the data and the sequence
//! length unless the command line names them; a folder that holds no checkpoint is refused.

use anyhow::{bail, Context, Result};
use clap::Args;
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
    /// The task whose dev set to evaluate on (rte, mrpc, ..., demo); default: the run's task.
    #[arg(long)]
    pub task: Option<String>,
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
    if let Some(n) = a.max_seq_length {
        c.max_seq_length = n;
    }
    c.device = a.device.clone();
    c.method = config::Method::Vanilla;
    c.max_steps = Some(1);
    Ok(c)
}

pub(crate) fn eval(a: &EvalArgs) -> Result<i32> {
    let (ck, run) = locate(&a.checkpoint)?;
    let c = eval_config(a, &ck, run.as_ref())?;
    let (mut trainer, _) =
        build_trainer(&c).with_context(|| format!("cannot evaluate {}", ck.display()))?;
    let metrics = trainer.evaluate()?;
    let line = serde_json::json!({
        "event": "eval", "checkpoint": ck, "task": c.task, "metrics": metrics
    });
    writeln!(std::io::stdout().lock(), "{line}")?;
    Ok(0)
}
