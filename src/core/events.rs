//! The one vocabulary between the trainer and everything that watches or steers it.
//!
//! Events flow out of the trainer (to the TUI, to stdout as JSON lines in headless mode, and to
//! `events.jsonl` in the run folder). Commands flow in; the trainer applies them between steps.
//! Both are plain serde enums. Events are serialised with an `"event"` tag.

use crate::config::{Control, ControlKey};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Version of the event schema. Written in the `start` event (the first line of `events.jsonl`).
pub const EVENT_SCHEMA_VERSION: u32 = 1;

/// Dev-set metrics by run_glue name (`accuracy`, `f1`, `mcc`, `pearson`, `spearmanr`, `combined_score`, `loss`).
pub type Metrics = BTreeMap<String, f64>;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StageKind {
    /// Every parameter trains; DPS importance accumulates.
    Full,
    /// Only the selected subnetwork of each DPS matrix receives gradient.
    Subnet,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ControlStatus {
    /// Accepted, takes effect later (for example p at the next selection).
    Pending,
    /// In effect from this step on.
    Applied,
    /// Refused (out of range, not applicable to this method); `message` says why.
    Rejected,
}

/// The answer to a live control: its status and, where there is one, why.
#[derive(Debug, Clone, PartialEq)]
pub struct ControlOutcome {
    pub status: ControlStatus,
    pub message: Option<String>,
}

impl ControlOutcome {
    pub fn applied(message: Option<String>) -> Self {
        ControlOutcome {
            status: ControlStatus::Applied,
            message,
        }
    }
    pub fn pending(msg: impl Into<String>) -> Self {
        ControlOutcome {
            status: ControlStatus::Pending,
            message: Some(msg.into()),
        }
    }
    pub fn rejected(msg: impl Into<String>) -> Self {
        ControlOutcome {
            status: ControlStatus::Rejected,
            message: Some(msg.into()),
        }
    }
}

/// One DPS weight matrix in a selection report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MatrixReport {
    /// Hugging Face parameter name, e.g. `encoder.layer.3.attention.self.query.weight`.
    pub name: String,
    /// Encoder layer index; `None` for the pooler and the classifier.
    pub layer: Option<usize>,
    /// Short module name: `q`, `k`, `v`, `o`, `ffn_in`, `ffn_out`, `pooler`, `classifier`.
    pub module: String,
    /// `[rows, cols]` (PyTorch layout `[out, in]`).
    pub shape: Vec<usize>,
    /// Share of the matrix's elements that receive gradient in this subnetwork stage.
    pub selected_fraction: f64,
    /// This matrix's share of the summed importance over all DPS matrices.
    pub importance_share: f64,
    /// Jaccard overlap with the previous mask of this matrix (`null` at the first selection).
    pub overlap_prev: Option<f64>,
    /// Mean |ΔW| over the previous stage relative to mean |W|.
    pub update_rel: f64,
    /// Selected fraction per output row (or per row group when there are many rows),
    /// quantised to 0..=255.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub row_density: Vec<u8>,
    /// Selected fraction per attention head (q, k, v: head = block of output rows; o: block of
    /// input columns), quantised to 0..=255. Empty for non-attention matrices.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub head_density: Vec<u8>,
    /// A coarse 2-D density map of the mask, `density_shape[0] x density_shape[1]` cells,
    /// row-major, each quantised to 0..=255.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub density: Vec<u8>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub density_shape: Vec<usize>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// First event of every run: what is being trained.
    Start {
        schema: u32,
        task: String,
        method: String,
        total_steps: usize,
        steps_per_epoch: usize,
        num_train: usize,
        num_dev: usize,
        /// The fully resolved configuration.
        config: serde_json::Value,
        /// Step the run starts from (0, or the checkpoint's step when resuming).
        #[serde(default)]
        start_step: usize,
        /// The device trained on (with the GPU's model and memory on CUDA).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        device: Option<crate::model::device::DeviceInfo>,
    },
    /// One optimizer step finished.
    Step {
        step: usize,
        epoch: f64,
        loss: f64,
        lr: f64,
        examples_per_sec: f64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        grad_norm: Option<f64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        step_seconds: Option<f64>,
        /// Running time of this part of the run (since its `start` event) when the step ended:
        /// wall-clock time, paused time left out. The replay shows the run's elapsed time
        /// from it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        run_seconds: Option<f64>,
    },
    /// A dev-set evaluation.
    Eval {
        step: usize,
        metrics: Metrics,
    },
    /// A new DPS stage begins at `step`.
    Stage {
        stage: usize,
        kind: StageKind,
        step: usize,
        /// Length of a stage in steps.
        #[serde(default)]
        update_steps: usize,
    },
    /// A subnetwork was selected (first step of a subnetwork stage).
    Selection {
        stage: usize,
        step: usize,
        p: f64,
        matrices: Vec<MatrixReport>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        seconds: Option<f64>,
    },
    /// A live change of a setting.
    Control {
        step: usize,
        key: ControlKey,
        value: serde_json::Value,
        status: ControlStatus,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message: Option<String>,
    },
    Paused {
        step: usize,
    },
    Resumed {
        step: usize,
    },
    Checkpoint {
        step: usize,
        path: String,
    },
    Warning {
        step: usize,
        message: String,
    },
    Error {
        step: usize,
        message: String,
    },
    /// A signal (SIGINT, SIGTERM, SIGHUP) stopped the run after its step and checkpoint; the
    /// process exits with `exit_code` (128 + the signal's number). A `done` event with
    /// `stopped_early: true` follows.
    Stopped {
        step: usize,
        /// `SIGINT`, `SIGTERM` or `SIGHUP`.
        signal: String,
        exit_code: i32,
    },
    /// A resumed run cut its log back to the checkpoint it resumes from: a torn last line (a
    /// crash mid-write) and the events logged after the checkpoint, which it writes again.
    Repair {
        /// The checkpoint's step.
        step: usize,
        torn_bytes: usize,
        dropped_events: usize,
        message: String,
    },
    /// Training finished (or was stopped); final dev metrics.
    Done {
        step: usize,
        metrics: Metrics,
        #[serde(default)]
        stopped_early: bool,
    },
}

impl Event {
    /// The step an event refers to, where it has one.
    pub fn step(&self) -> Option<usize> {
        match self {
            Event::Start { start_step, .. } => Some(*start_step),
            Event::Step { step, .. }
            | Event::Eval { step, .. }
            | Event::Stage { step, .. }
            | Event::Selection { step, .. }
            | Event::Control { step, .. }
            | Event::Paused { step }
            | Event::Resumed { step }
            | Event::Checkpoint { step, .. }
            | Event::Warning { step, .. }
            | Event::Error { step, .. }
            | Event::Stopped { step, .. }
            | Event::Repair { step, .. }
            | Event::Done { step, .. } => Some(*step),
        }
    }

    /// The `control` event of `control` at `step`: the one way such events are built.
    pub fn control(step: usize, control: &Control, outcome: ControlOutcome) -> Event {
        Event::Control {
            step,
            key: control.key(),
            value: control.value_json(),
            status: outcome.status,
            message: outcome.message,
        }
    }

    /// One JSON line (no trailing newline).
    pub fn to_json_line(&self) -> String {
        serde_json::to_string(self).expect("events always serialise")
    }
}

/// What the UI (or a script) asks of a running trainer. Applied between steps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum Command {
    Pause,
    Resume,
    /// Change a setting while training; the trainer answers with a `control` event (applied
    /// now, pending until the next stage or selection, or rejected with the reason).
    Control(Control),
    /// Evaluate on the dev set now.
    Evaluate,
    /// Write a checkpoint now.
    Checkpoint,
    /// Stop; checkpoint first when asked.
    Quit {
        checkpoint: bool,
    },
}

#[cfg(test)]
impl Event {
    /// A `start` event for tests: a run of `task` with `method`, `total_steps` steps in one
    /// epoch, from step 0, with `config`.
    pub(crate) fn test_start(
        task: &str,
        method: &str,
        total_steps: usize,
        config: serde_json::Value,
    ) -> Event {
        Event::Start {
            schema: EVENT_SCHEMA_VERSION,
            task: task.into(),
            method: method.into(),
            total_steps,
            steps_per_epoch: total_steps,
            num_train: 100,
            num_dev: 10,
            config,
            start_step: 0,
            device: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Freeze;

    #[test]
    fn control_events_keep_the_log_schema() {
        let e = Event::control(
            7,
            &Control::Freeze(Freeze::Strict),
            ControlOutcome::pending("takes effect at the next selection"),
        );
        let j: serde_json::Value = serde_json::from_str(&e.to_json_line()).unwrap();
        assert_eq!(
            j,
            serde_json::json!({"event": "control", "step": 7, "key": "freeze", "value": "strict",
                "status": "pending", "message": "takes effect at the next selection"})
        );
        let e = Event::control(3, &Control::P(0.4), ControlOutcome::applied(None));
        let j: serde_json::Value = serde_json::from_str(&e.to_json_line()).unwrap();
        assert_eq!(
            j,
            serde_json::json!({"event": "control", "step": 3, "key": "p", "value": 0.4,
                "status": "applied"})
        );
    }

    #[test]
    fn commands_round_trip_through_json() {
        for c in [
            Command::Pause,
            Command::Control(Control::LearningRate(1e-4)),
            Command::Control(Control::Freeze(Freeze::Gradient)),
            Command::Quit { checkpoint: true },
        ] {
            let text = serde_json::to_string(&c).unwrap();
            assert_eq!(serde_json::from_str::<Command>(&text).unwrap(), c, "{text}");
        }
        let text = serde_json::to_string(&Command::Control(Control::P(0.5))).unwrap();
        let j: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            j,
            serde_json::json!({"command": "control", "key": "p", "value": 0.5})
        );
    }
}
