//! The reducer: [`Run::apply`] folds one trainer [`Event`] into the [`Run`], one small function
//! per kind of event. It is the only place the run state changes.

use crate::config::ControlKey;
use crate::core::events::{ControlStatus, Event, MatrixReport, Metrics, StageKind};
use crate::core::task_metrics;
use crate::ui::format::value_text;
use crate::ui::run_state::{
    same_value, ControlRecord, DoneInfo, Hyper, LogKind, RowKey, Run, RunStatus, SelectionColumn,
    StageSpan,
};

/// The message shown when the trainer goes away without a `done` event.
pub const DISCONNECTED: &str =
    "the trainer stopped without a `done` event (see the log above or stderr)";

/// `name value · name value` for a set of metrics: `task`'s main metric first (the number a
/// cut line must keep), then its other metrics, then the eval tasks' (`sick/accuracy`).
fn metrics_text(task: &str, metrics: &Metrics) -> String {
    let own: std::collections::BTreeSet<&str> = task_metrics::own_metrics(metrics)
        .map(|(k, _)| k.as_str())
        .collect();
    let main = task_metrics::main_metric_among(task, &own);
    let rank = |k: &str| {
        if Some(k) == main.as_deref() {
            0
        } else if own.contains(k) {
            1
        } else {
            2
        }
    };
    let mut pairs: Vec<(&String, &f64)> = metrics.iter().collect();
    pairs.sort_by_key(|(k, _)| rank(k));
    pairs
        .iter()
        .map(|(k, v)| format!("{k} {v:.4}"))
        .collect::<Vec<_>>()
        .join(" · ")
}

impl Run {
    /// A run with `events` applied in order.
    pub fn from_events(events: &[Event]) -> Run {
        let mut run = Run::default();
        for e in events {
            run.apply(e);
        }
        run
    }

    /// Fold one trainer event into the state.
    pub fn apply(&mut self, ev: &Event) {
        self.events_seen += 1;
        match ev {
            Event::Start {
                task,
                method,
                total_steps,
                steps_per_epoch,
                num_train,
                num_dev,
                config,
                start_step,
                device,
                ..
            } => {
                self.device = device.as_ref().map(|d| d.summary());
                self.on_start(
                    task,
                    method,
                    [*total_steps, *steps_per_epoch, *num_train, *num_dev],
                    config,
                    *start_step,
                )
            }
            Event::Step {
                step,
                epoch,
                loss,
                lr,
                examples_per_sec,
                grad_norm,
                step_seconds,
                ..
            } => {
                self.on_step(*step, *epoch, *loss, *lr, *examples_per_sec);
                self.grad_norm = *grad_norm;
                self.on_step_time(*step_seconds);
            }
            Event::Eval { step, metrics } => self.on_eval(*step, metrics),
            Event::Stage {
                stage,
                kind,
                step,
                update_steps,
            } => self.on_stage(StageSpan {
                stage: *stage,
                kind: *kind,
                start: *step,
                update_steps: *update_steps,
            }),
            Event::Selection {
                stage,
                step,
                p,
                matrices,
                seconds,
            } => self.on_selection(*stage, *step, *p, matrices, *seconds),
            Event::Control {
                step,
                key,
                value,
                status,
                message,
            } => self.on_control(ControlRecord {
                step: *step,
                key: *key,
                value: value.clone(),
                status: *status,
                message: message.clone(),
            }),
            Event::Paused { step } => self.on_paused(*step),
            Event::Resumed { step } => self.on_resumed(*step),
            Event::Checkpoint { step, path } => self.on_checkpoint(*step, path),
            Event::Warning { step, message } => {
                self.log(Some(*step), LogKind::Warning, message.clone())
            }
            Event::Error { step, message } => self.on_error(*step, message),
            Event::Stopped { step, signal, .. } => self.log(
                Some(*step),
                LogKind::Warning,
                format!("stopped by {signal} after its checkpoint"),
            ),
            Event::Repair { step, message, .. } => {
                self.log(Some(*step), LogKind::Info, message.clone())
            }
            Event::Done {
                step,
                metrics,
                stopped_early,
            } => self.on_done(DoneInfo {
                step: *step,
                metrics: metrics.clone(),
                stopped_early: *stopped_early,
            }),
        }
    }

    /// The event channel closed without a `done` event: the run failed.
    pub fn on_disconnect(&mut self) {
        self.disconnected = true;
        if self.status != RunStatus::Finished {
            self.status = RunStatus::Error;
            self.error = Some(DISCONNECTED.into());
            self.log(Some(self.step), LogKind::Error, DISCONNECTED.into());
        }
    }

    fn on_start(
        &mut self,
        task: &str,
        method: &str,
        [total_steps, steps_per_epoch, num_train, num_dev]: [usize; 4],
        config: &serde_json::Value,
        start_step: usize,
    ) {
        self.task = task.to_string();
        self.total_steps = total_steps;
        self.steps_per_epoch = steps_per_epoch;
        self.num_train = num_train;
        self.num_dev = num_dev;
        self.start_step = start_step;
        self.step = start_step;
        self.config = config.clone();
        let f = |k: &str| config.get(k).and_then(|v| v.as_f64());
        let s = |k: &str| config.get(k).and_then(|v| v.as_str()).map(String::from);
        self.hyper = Hyper {
            method: method.to_string(),
            p: f("p"),
            learning_rate: f("learning_rate"),
            update_ratio: f("update_ratio"),
            selection_scope: s("selection_scope"),
            freeze: s("freeze"),
            batch_size: config
                .get("batch_size")
                .and_then(|v| v.as_u64())
                .map(|b| b as usize),
        };
        self.status = RunStatus::Running;
        // A resumed run goes on: what ended or stopped it before is over.
        self.done = None;
        self.error = None;
        let resumed = if start_step > 0 {
            format!(", resuming at step {start_step}")
        } else {
            String::new()
        };
        self.log(
            Some(start_step),
            LogKind::Info,
            format!(
                "start {task} · {method} · {total_steps} steps · {num_train} train / {num_dev} dev{resumed}"
            ),
        );
    }

    fn on_step(&mut self, step: usize, epoch: f64, loss: f64, lr: f64, examples_per_sec: f64) {
        self.loss.push(step, loss, lr);
        self.step = step;
        self.epoch = epoch;
        self.lr = lr;
        self.examples_per_sec = examples_per_sec;
        if self.status == RunStatus::Waiting {
            self.status = RunStatus::Running;
        }
    }

    /// Add a step's time to the total and the smoothed step time (for the ETA).
    fn on_step_time(&mut self, seconds: Option<f64>) {
        if let Some(s) = seconds.filter(|s| s.is_finite() && *s >= 0.0) {
            self.train_seconds += s;
            self.step_seconds = Some(match self.step_seconds {
                Some(prev) => 0.9 * prev + 0.1 * s,
                None => s,
            });
        }
    }

    fn on_eval(&mut self, step: usize, metrics: &Metrics) {
        self.evals.push((step, metrics.clone()));
        if metrics.keys().any(|k| task_metrics::is_task_metric(k)) {
            let declared = task_metrics::declared(&self.config);
            self.eval_tasks = task_metrics::eval_tasks(self.evals.iter().map(|e| &e.1), &declared);
        }
        if self.activity == Some(crate::ui::run_state::Activity::Evaluating) {
            self.activity = None;
        }
        let text = metrics_text(&self.task, metrics);
        self.log(Some(step), LogKind::Eval, format!("eval: {text}"));
    }

    fn on_stage(&mut self, span: StageSpan) {
        // A resumed run re-announces stages: drop any recorded at or after this one.
        let keep = self.stages.partition_point(|s| s.start < span.start);
        self.stages.truncate(keep);
        self.stages.push(span);
        let kind = match span.kind {
            StageKind::Full => "full",
            StageKind::Subnet => "subnet",
        };
        self.log(
            Some(span.start),
            LogKind::Stage,
            format!("stage {} {kind} ({} steps)", span.stage, span.update_steps),
        );
    }

    fn on_selection(
        &mut self,
        stage: usize,
        step: usize,
        p: f64,
        matrices: &[MatrixReport],
        seconds: Option<f64>,
    ) {
        let keys: Vec<RowKey> = matrices
            .iter()
            .map(|m| RowKey {
                layer: m.layer,
                module: m.module.clone(),
            })
            .collect();
        // Insert every new row first: an insertion shifts the rows after it.
        for k in &keys {
            self.add_row(k.clone());
        }
        let mut row_index = vec![None; self.rows.len()];
        for (i, k) in keys.into_iter().enumerate() {
            let r = self.add_row(k);
            row_index[r] = Some(i as u16);
        }
        self.selections.retain(|c| c.stage != stage);
        let col = SelectionColumn {
            stage,
            step,
            p,
            seconds,
            reports: matrices.to_vec(),
            row_index,
        };
        let at = self.selections.partition_point(|c| c.step <= step);
        self.selections.insert(at, col);
        let churn: Vec<f64> = matrices
            .iter()
            .filter_map(|m| m.overlap_prev.map(|o| 1.0 - o))
            .collect();
        let churn = if churn.is_empty() {
            String::new()
        } else {
            format!(
                ", mean churn {:.3}",
                churn.iter().sum::<f64>() / churn.len() as f64
            )
        };
        let secs = seconds.map(|s| format!(" in {s:.2}s")).unwrap_or_default();
        self.log(
            Some(step),
            LogKind::Selection,
            format!(
                "selection stage {stage}: p={p:.2}, {} matrices{churn}{secs}",
                matrices.len()
            ),
        );
    }

    fn on_control(&mut self, rec: ControlRecord) {
        let (step, ck) = (rec.step, rec.key);
        self.pending.retain(|c| c.key != ck);
        let shown = value_text(&rec.value);
        let note = rec
            .message
            .as_deref()
            .map(|m| format!(": {m}"))
            .unwrap_or_default();
        match rec.status {
            // Asking for the value in effect cancels the change that was waiting.
            ControlStatus::Pending
                if self.applied(ck).is_some_and(|a| same_value(&a, &rec.value)) =>
            {
                self.log(
                    Some(step),
                    LogKind::Control,
                    format!("{ck} stays {shown}: no change pending"),
                );
            }
            ControlStatus::Pending => {
                self.pending.push(rec.clone());
                self.log(
                    Some(step),
                    LogKind::Control,
                    format!("{ck} → {shown} pending{note}"),
                );
            }
            ControlStatus::Applied => {
                let v = rec.value.as_f64();
                let name = rec.value.as_str().map(String::from);
                let h = &mut self.hyper;
                match ck {
                    ControlKey::P => h.p = v.or(h.p),
                    ControlKey::LearningRate => h.learning_rate = v.or(h.learning_rate),
                    ControlKey::UpdateRatio => h.update_ratio = v.or(h.update_ratio),
                    ControlKey::SelectionScope => {
                        h.selection_scope = name.or(h.selection_scope.take())
                    }
                    ControlKey::Freeze => h.freeze = name.or(h.freeze.take()),
                }
                self.markers.push((step, ck));
                self.log(
                    Some(step),
                    LogKind::Control,
                    format!("{ck} = {shown} applied{note}"),
                );
            }
            ControlStatus::Rejected => {
                self.log(
                    Some(step),
                    LogKind::Warning,
                    format!("{ck} → {shown} rejected{note}"),
                );
            }
        }
        self.controls.push(rec);
    }

    fn on_paused(&mut self, step: usize) {
        if self.status != RunStatus::Finished {
            self.status = RunStatus::Paused;
        }
        self.log(Some(step), LogKind::Info, "paused".into());
    }

    fn on_resumed(&mut self, step: usize) {
        if self.status != RunStatus::Finished {
            self.status = RunStatus::Running;
        }
        self.error = None;
        self.log(Some(step), LogKind::Info, "resumed".into());
    }

    fn on_checkpoint(&mut self, step: usize, path: &str) {
        self.last_checkpoint = Some((step, path.to_string()));
        if self.activity == Some(crate::ui::run_state::Activity::Checkpointing) {
            self.activity = None;
        }
        self.log(
            Some(step),
            LogKind::Checkpoint,
            format!("checkpoint {path}"),
        );
    }

    fn on_error(&mut self, step: usize, message: &str) {
        self.error = Some(message.to_string());
        if self.status != RunStatus::Finished {
            self.status = RunStatus::Paused;
        }
        self.activity = None;
        self.log(Some(step), LogKind::Error, message.to_string());
    }

    fn on_done(&mut self, done: DoneInfo) {
        self.status = RunStatus::Finished;
        self.activity = None;
        self.step = self.step.max(done.step);
        // `finished` or `stopped early`, as `runs`, `watch` and `report` say it.
        let how = crate::runs::RunState::of(Some(done.stopped_early), None).word();
        let text = format!("{how}: {}", metrics_text(&self.task, &done.metrics));
        self.log(Some(done.step), LogKind::Done, text);
        self.done = Some(done);
    }
}
#[cfg(test)]
mod tests {
    use super::*;
    use crate::ui::view::View;

    fn start(total: usize) -> Event {
        Event::Start {
            schema: crate::core::events::EVENT_SCHEMA_VERSION,
            task: "demo".into(),
            method: "dps-dense".into(),
            total_steps: total,
            steps_per_epoch: 10,
            num_train: 160,
            num_dev: 32,
            config: serde_json::json!({"p": 0.3, "learning_rate": 1e-3, "update_ratio": 0.05, "batch_size": 16}),
            start_step: 0,
            device: None,
        }
    }

    #[test]
    fn eval_lines_put_the_main_metric_first() {
        let m: Metrics = [
            ("accuracy", 0.8),
            ("hans/accuracy", 0.5),
            ("loss", 0.4),
            ("mcc", 0.51),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), *v))
        .collect();
        assert_eq!(
            metrics_text("cola", &m),
            "mcc 0.5100 · accuracy 0.8000 · loss 0.4000 · hans/accuracy 0.5000"
        );
        assert!(metrics_text("rte", &m).starts_with("accuracy 0.8000 · loss"));
    }

    fn step(s: usize) -> Event {
        Event::Step {
            step: s,
            epoch: s as f64 / 10.0,
            loss: 1.0 / s as f64,
            lr: 1e-3,
            examples_per_sec: 100.0,
            grad_norm: None,
            step_seconds: Some(0.16),
            run_seconds: None,
        }
    }

    fn report(layer: Option<usize>, module: &str) -> MatrixReport {
        MatrixReport {
            name: format!("{module}.weight"),
            layer,
            module: module.into(),
            shape: vec![4, 4],
            selected_fraction: 0.7,
            importance_share: 0.25,
            overlap_prev: None,
            update_rel: 0.01,
            row_density: vec![],
            head_density: vec![],
            density: vec![],
            density_shape: vec![],
        }
    }

    #[test]
    fn start_and_steps() {
        let mut run = Run::default();
        assert_eq!(run.status, RunStatus::Waiting);
        run.apply(&start(100));
        for s in 1..=10 {
            run.apply(&step(s));
        }
        assert_eq!(run.status, RunStatus::Running);
        assert_eq!((run.step, run.total_steps), (10, 100));
        assert_eq!(run.hyper.p, Some(0.3));
        assert_eq!(run.hyper.batch_size, Some(16));
        assert!((run.train_seconds - 1.6).abs() < 1e-9);
        assert!((run.eta_seconds().unwrap() - 90.0 * 0.16).abs() < 1e-6);
        // Paced: 10 steps took 10 s of wall time, so 90 steps to go take 90 s.
        let wall = Some(std::time::Duration::from_secs(10));
        assert!((run.eta_seconds_with_wall(wall).unwrap() - 90.0).abs() < 1e-6);
        assert!((run.eta_seconds_with_wall(None).unwrap() - 90.0 * 0.16).abs() < 1e-6);
    }

    #[test]
    fn stages_and_steps_left() {
        let mut run = Run::from_events(&[start(100)]);
        run.apply(&Event::Stage {
            stage: 0,
            kind: StageKind::Full,
            step: 0,
            update_steps: 5,
        });
        run.apply(&step(3));
        let (s, left) = run.current_stage().unwrap();
        assert_eq!((s.stage, left), (0, Some(2)));
        run.apply(&Event::Stage {
            stage: 1,
            kind: StageKind::Subnet,
            step: 5,
            update_steps: 5,
        });
        run.apply(&step(6));
        let (s, left) = run.current_stage().unwrap();
        assert_eq!((s.kind, left), (StageKind::Subnet, Some(4)));
        assert_eq!(
            run.stage_ranges(8),
            vec![(0, 5, StageKind::Full), (5, 8, StageKind::Subnet)]
        );
    }

    #[test]
    fn selections_become_sorted_rows_and_columns() {
        let mut run = Run::from_events(&[start(100)]);
        // Out of order, pooler first: rows are sorted by layer then module.
        run.apply(&Event::Selection {
            stage: 1,
            step: 5,
            p: 0.3,
            matrices: vec![
                report(None, "pooler"),
                report(Some(1), "q"),
                report(Some(0), "ffn_out"),
                report(Some(0), "q"),
            ],
            seconds: None,
        });
        let labels: Vec<String> = run.rows.iter().map(|r| r.label()).collect();
        assert_eq!(labels, ["L0 q", "L0 ffn_out", "L1 q", "pooler"]);
        assert_eq!(run.cell(1, 0).unwrap().module, "ffn_out");
        // A later selection adds the classifier row; the old column gets a gap.
        run.apply(&Event::Selection {
            stage: 3,
            step: 15,
            p: 0.3,
            matrices: vec![report(Some(0), "q"), report(None, "classifier")],
            seconds: None,
        });
        assert_eq!(run.rows.len(), 5);
        assert_eq!(run.selections.len(), 2);
        assert!(run.cell(4, 0).is_none());
        assert_eq!(run.cell(4, 1).unwrap().module, "classifier");
        assert!(run.cell(1, 1).is_none());
        assert_eq!(
            View::default().heat_col(&run),
            Some(1),
            "the cursor follows the newest column"
        );
    }

    #[test]
    fn control_events_of_old_logs_still_read() {
        // Control events as older logs hold them: the `lr` spelling, which the reader has
        // always accepted for `learning_rate`, and the spelling of today.
        let old = r#"{"event":"control","step":4,"key":"lr","value":0.002,"status":"applied"}"#;
        let now = r#"{"event":"control","step":5,"key":"p","value":0.4,"status":"pending"}"#;
        let mut run = Run::from_events(&[start(100)]);
        for line in [old, now] {
            run.apply(&serde_json::from_str::<Event>(line).unwrap());
        }
        assert_eq!(run.hyper.learning_rate, Some(0.002));
        assert_eq!(run.markers, vec![(4, ControlKey::LearningRate)]);
        assert_eq!(run.pending_value(ControlKey::P), Some(0.4));
        // Written back, the key is spelled as the schema spells it today.
        let back = serde_json::to_value(serde_json::from_str::<Event>(old).unwrap()).unwrap();
        assert_eq!(back["key"], "learning_rate");
        let back = serde_json::to_value(serde_json::from_str::<Event>(now).unwrap()).unwrap();
        assert_eq!(
            back,
            serde_json::from_str::<serde_json::Value>(now).unwrap()
        );
    }
}
