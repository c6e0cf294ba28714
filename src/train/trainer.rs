//! THE training loop. Every method (vanilla, DPS variants, ChildTuning) runs through
//! [`Trainer::run`]; methods differ only in the [`Strategy`] plugged in.
//!
//! One step: apply pending commands → `strategy.begin_step` (stage changes, selection) →
//! forward → loss → backward → `strategy.on_gradients` (importance, masks) → global-norm
//! clipping of the masked gradients → masked AdamW at the scheduled learning rate → `step`
//! event → evaluation and checkpoint when due.

use super::optimizer::{AdamWConfig, MaskedAdamW};
use super::schedule::LinearSchedule;
use crate::config::{Control, TrainConfig};
use crate::core::events::{Command, ControlOutcome, ControlStatus, Event, Metrics};
use crate::core::StepMasks;
use crate::data::batching::{
    epoch_batches, epoch_order, Encoded, EncodedDataset, ModelBatch, Padding,
};
use crate::data::glue::TaskSpec;
use crate::dps::strategy::Strategy;
use crate::model::ops::fused::total_sq_norm;
use crate::model::Model;
use crate::rng;
use crossbeam_channel::Receiver;
use rand_chacha::ChaCha8Rng;
use std::time::Instant;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum TrainError {
    #[error("model: {0}")]
    Model(#[from] crate::model::ModelError),
    #[error("data: {0}")]
    Data(#[from] crate::data::DataError),
    #[error("tensor: {0}")]
    Tensor(#[from] candle_core::Error),
    #[error("the loss is {loss} at step {step}. Fix: lower the learning rate (`--set learning_rate=...`) or check the data")]
    NonFinite { step: usize, loss: f64 },
    #[error("checkpoint at step {step} failed: {message}")]
    Checkpoint { step: usize, message: String },
    #[error("the training set is empty")]
    EmptyTrainSet,
}

/// What the trainer does when the loss is not finite or a checkpoint cannot be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnFailure {
    /// Emit an error event and stop (headless).
    Stop,
    /// Emit an error event and pause, waiting for commands (the TUI). A failed final
    /// checkpoint is tried again on resume.
    Pause,
}

/// Where events go: the TUI channel, stdout, the run's event log. Sinks never block training
/// for long and never fail it: a sink that cannot write reports it itself.
pub trait EventSink: Send {
    fn emit(&mut self, event: &Event);
    /// Make everything emitted so far durable (the event log flushes and syncs); the log's
    /// length then, from the sink that is the run's log. Called before each checkpoint.
    fn sync(&mut self) -> Option<u64> {
        None
    }
}

pub use super::snapshot::{Checkpointer, TrainerSnapshot, TrainerState};

impl EventSink for crossbeam_channel::Sender<Event> {
    fn emit(&mut self, event: &Event) {
        let _ = self.send(event.clone());
    }
}

pub struct Trainer {
    pub config: TrainConfig,
    pub task: &'static TaskSpec,
    pub model: Model,
    pub train: EncodedDataset,
    /// Dev sets with the suffix their metric names get (`""`, `"_mm"`).
    pub devs: Vec<(String, EncodedDataset)>,
    /// Other tasks' dev sets, scored through a label map (`eval_tasks`).
    pub eval_sets: Vec<crate::data::label_map::EvalSet>,
    /// Logged as `warning` events after `start` (eval tasks whose data was not found).
    pub start_warnings: Vec<String>,
    pub strategy: Box<dyn Strategy>,
    pub optimizer: MaskedAdamW,
    pub schedule: LinearSchedule,
    pub total_steps: usize,
    pub step: usize,
    pub best_metric: Option<f64>,
    pub on_failure: OnFailure,
    /// The shortest time a step takes: after a quicker step the trainer waits out the rest,
    /// still answering commands (the TUI paces the demo so it can be watched). `None`: full speed.
    pub min_step_interval: Option<std::time::Duration>,
    /// Set by a stop signal (headless runs): the run checkpoints and stops between steps.
    pub stop: Option<super::stop::StopSignal>,
    pub(super) sinks: Vec<Box<dyn EventSink>>,
    commands: Option<Receiver<Command>>,
    pub(super) checkpointer: Option<Box<dyn Checkpointer>>,
    pub(super) dropout_rng: ChaCha8Rng,
    paused: bool,
    /// When the `start` event went out, and the time spent paused since (the steps' running
    /// time, `run_seconds`).
    started: Option<Instant>,
    paused_time: std::time::Duration,
    /// Cached order of the current epoch: (epoch, batches of indices).
    epoch_cache: Option<(usize, Vec<Vec<usize>>)>,
    pub(super) eval_batch_size: usize,
    /// Phase split of the last step.
    pub last_timings: StepTimings,
    /// Live controls to apply right after the `start` event (a resumed run's pending changes
    /// and its `--set` live keys), so each is announced after it.
    pub(super) after_start: Vec<Control>,
}

/// Where the time of the last step went, in seconds.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct StepTimings {
    /// Batch assembly, forward pass and loss.
    pub forward: f64,
    pub backward: f64,
    /// Stage changes, selection, importance accumulation and masks.
    pub strategy: f64,
    /// Gradient norm, clipping and the AdamW update.
    pub optimizer: f64,
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq)]
pub struct RunSummary {
    pub step: usize,
    pub metrics: Metrics,
    pub stopped_early: bool,
}

impl Trainer {
    pub fn new(
        config: TrainConfig,
        task: &'static TaskSpec,
        model: Model,
        train: EncodedDataset,
        devs: Vec<(String, EncodedDataset)>,
    ) -> Result<Self, TrainError> {
        if train.items.is_empty() {
            return Err(TrainError::EmptyTrainSet);
        }
        let total_steps = config.total_steps(train.items.len());
        let num_heads = model.num_attention_heads();
        let stage_base = config.stage_base_steps(train.items.len());
        let strategy = crate::dps::build(&config, model.params(), stage_base, num_heads)?;
        let optimizer = MaskedAdamW::new(
            model.params(),
            AdamWConfig {
                beta1: config.adam_beta1,
                beta2: config.adam_beta2,
                eps: config.adam_epsilon,
                weight_decay: config.weight_decay,
            },
        )?;
        let mut schedule =
            LinearSchedule::new(config.learning_rate, config.warmup_ratio, total_steps);
        schedule.constant = config.lr_scheduler == crate::config::LrScheduler::Constant;
        let dropout_rng = rng::seeded(config.seed, rng::STREAM_DROPOUT);
        Ok(Trainer {
            config,
            task,
            model,
            train,
            devs,
            eval_sets: Vec::new(),
            start_warnings: Vec::new(),
            strategy,
            optimizer,
            schedule,
            total_steps,
            step: 0,
            best_metric: None,
            on_failure: OnFailure::Stop,
            min_step_interval: None,
            stop: None,
            sinks: Vec::new(),
            commands: None,
            checkpointer: None,
            dropout_rng,
            paused: false,
            started: None,
            paused_time: std::time::Duration::ZERO,
            epoch_cache: None,
            eval_batch_size: 64,
            last_timings: StepTimings::default(),
            after_start: Vec::new(),
        })
    }

    pub fn add_sink(&mut self, sink: Box<dyn EventSink>) {
        self.sinks.push(sink);
    }
    pub fn set_commands(&mut self, rx: Receiver<Command>) {
        self.commands = Some(rx);
    }
    pub fn set_checkpointer(&mut self, c: Box<dyn Checkpointer>) {
        self.checkpointer = Some(c);
    }

    pub fn steps_per_epoch(&self) -> usize {
        self.train
            .items
            .len()
            .div_ceil(self.config.batch_size)
            .max(1)
    }

    /// Send an event to every sink (the run's log, the UI, stdout).
    pub fn emit(&mut self, e: Event) {
        for s in &mut self.sinks {
            s.emit(&e);
        }
    }

    fn emit_all(&mut self, es: Vec<Event>) {
        for e in es {
            self.emit(e);
        }
    }

    /// The batch of example indices for `step` (1-based): a deterministic function of the seed
    /// and the step, so a resumed run sees the same batches.
    pub fn batch_indices(&mut self, step: usize) -> Vec<usize> {
        let per_epoch = self.steps_per_epoch();
        let epoch = (step - 1) / per_epoch;
        let within = (step - 1) % per_epoch;
        if self.epoch_cache.as_ref().map(|c| c.0) != Some(epoch) {
            let lengths = self.train.lengths();
            let group = self
                .config
                .group_by_length
                .then_some((lengths.as_slice(), self.config.batch_size));
            let order = if self.config.shuffle {
                epoch_order(self.train.items.len(), self.config.seed, epoch, group)
            } else {
                (0..self.train.items.len()).collect()
            };
            self.epoch_cache = Some((epoch, epoch_batches(&order, self.config.batch_size)));
        }
        self.epoch_cache.as_ref().unwrap().1[within].clone()
    }

    /// The padding mode of this run's batches (training and evaluation alike): the configured
    /// one on this device, except that a family without packed batches (DeBERTa, ModernBERT)
    /// pads to the longest sequence instead.
    pub fn padding(&self) -> Padding {
        match self.config.padding_on(self.model.device().is_cpu()) {
            Padding::Packed if !self.model.supports_packed() => Padding::Longest,
            p => p,
        }
    }

    /// The batch of `items` in this run's padding mode.
    pub(super) fn make_batch(&self, items: &[&Encoded]) -> Result<ModelBatch, TrainError> {
        Ok(ModelBatch::new(
            items,
            self.padding(),
            self.config.max_seq_length,
            self.task.is_regression(),
            self.model.device(),
        )?)
    }

    fn main_metric(&self, m: &Metrics) -> Option<f64> {
        m.get(self.task.main_metric).copied()
    }

    /// The main metric of an evaluation, also kept as the best so far when it improves.
    fn record_metric(&mut self, m: &Metrics) -> Option<f64> {
        let v = self.main_metric(m)?;
        if self.best_metric.is_none_or(|b| v > b) {
            self.best_metric = Some(v);
        }
        Some(v)
    }

    fn run_eval(&mut self) -> Result<Metrics, TrainError> {
        let metrics = self.evaluate()?;
        let step = self.step;
        self.emit(Event::Eval {
            step,
            metrics: metrics.clone(),
        });
        Ok(metrics)
    }

    /// Apply a live control: checked against its declared range, then the learning rate here
    /// and everything else by the strategy. The configuration follows what was accepted.
    pub fn control(&mut self, control: Control) {
        let outcome = match control.validate(self.config.method) {
            Err(message) => ControlOutcome::rejected(message),
            Ok(()) => match control {
                Control::LearningRate(lr) => {
                    self.schedule.peak_lr = lr;
                    ControlOutcome::applied(None)
                }
                other => self.strategy.control(other),
            },
        };
        if outcome.status != ControlStatus::Rejected {
            control.apply_to(&mut self.config);
        }
        let step = self.step;
        self.emit(Event::control(step, &control, outcome));
    }

    /// Handle one command. Returns `Some(summary)` when the run must end.
    fn handle(&mut self, cmd: Command) -> Result<Option<RunSummary>, TrainError> {
        let step = self.step;
        match cmd {
            Command::Pause => {
                if !self.paused {
                    self.paused = true;
                    self.emit(Event::Paused { step });
                }
            }
            Command::Resume => {
                if self.paused {
                    self.paused = false;
                    self.emit(Event::Resumed { step });
                }
            }
            Command::Control(control) => self.control(control),
            Command::Evaluate => {
                self.run_eval()?;
            }
            Command::Checkpoint => {
                // A failed checkpoint is reported as an event; training goes on (or stays
                // paused) with the previous checkpoint intact.
                if self.checkpoint(None).is_err() && self.on_failure == OnFailure::Pause {
                    self.paused = true;
                    self.emit(Event::Paused { step });
                }
            }
            Command::Quit { checkpoint } => {
                if checkpoint {
                    self.checkpoint(None)?;
                }
                let metrics = Metrics::new();
                self.emit(Event::Done {
                    step,
                    metrics: metrics.clone(),
                    stopped_early: true,
                });
                return Ok(Some(RunSummary {
                    step,
                    metrics,
                    stopped_early: true,
                }));
            }
        }
        Ok(None)
    }

    /// Apply pending commands; while paused, wait for them.
    fn poll_commands(&mut self) -> Result<Option<RunSummary>, TrainError> {
        let Some(rx) = self.commands.clone() else {
            return Ok(None);
        };
        loop {
            let cmd = if self.paused {
                let waited = Instant::now();
                let got = rx.recv();
                self.paused_time += waited.elapsed();
                match got {
                    Ok(c) => c,
                    // Nobody can resume us: stop.
                    Err(_) => return self.handle(Command::Quit { checkpoint: false }),
                }
            } else {
                match rx.try_recv() {
                    Ok(c) => c,
                    Err(_) => return Ok(None),
                }
            };
            if let Some(s) = self.handle(cmd)? {
                return Ok(Some(s));
            }
        }
    }

    /// Wait out the rest of `min_step_interval` after a step that began at `began`, applying
    /// commands as they arrive.
    fn pace(&mut self, began: Instant) -> Result<Option<RunSummary>, TrainError> {
        let Some(deadline) = self.min_step_interval.map(|d| began + d) else {
            return Ok(None);
        };
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            let Some(rx) = self.commands.clone() else {
                std::thread::sleep(left);
                break;
            };
            match rx.recv_timeout(left) {
                Ok(cmd) => {
                    if let Some(s) = self.handle(cmd)? {
                        return Ok(Some(s));
                    }
                }
                Err(_) => break,
            }
        }
        Ok(None)
    }

    /// Emit the `start` event.
    pub fn emit_start(&mut self) {
        let e = Event::Start {
            schema: crate::core::events::EVENT_SCHEMA_VERSION,
            task: self.config.task.clone(),
            method: self.config.method.as_str().into(),
            total_steps: self.total_steps,
            steps_per_epoch: self.steps_per_epoch(),
            num_train: self.train.items.len(),
            num_dev: self.devs.iter().map(|d| d.1.items.len()).sum(),
            config: serde_json::to_value(&self.config).unwrap_or_default(),
            start_step: self.step,
            device: Some(crate::model::device::DeviceInfo::of(self.model.device())),
        };
        self.started = Some(Instant::now());
        self.paused_time = std::time::Duration::ZERO;
        self.emit(e);
        for message in self.start_warnings.clone() {
            self.emit(Event::Warning {
                step: self.step,
                message,
            });
        }
    }

    /// ChildTuning-D's Fisher pass over the training set, in train mode as the original
    /// (`ChildTuningD.py`, `calculate_fisher`, line 56: `model.train()`), with its own dropout
    /// stream so the training steps draw the same masks as without the pass.
    fn fisher_pass(&mut self) -> Result<(), TrainError> {
        let n = self.train.items.len();
        let num_batches = n.div_ceil(self.config.batch_size);
        let mut rng = rng::seeded(self.config.seed, rng::STREAM_FISHER);
        for start in (0..n).step_by(self.config.batch_size) {
            let idx: Vec<usize> = (start..(start + self.config.batch_size).min(n)).collect();
            let refs = self.train.select(&idx);
            let b = self.make_batch(&refs)?;
            let out = self.model.forward_input(&b.input(), Some(&mut rng), None)?;
            let loss = self.model.loss(&out.logits, b.labels())?;
            let grads = loss.backward()?;
            let gs: Vec<_> = self
                .model
                .params()
                .iter()
                .map(|p| grads.get(p.var.as_tensor()).cloned())
                .collect();
            self.strategy
                .add_fisher(self.model.params(), &gs, num_batches)?;
        }
        let events = self.strategy.finish_fisher(self.model.params())?;
        self.emit_all(events);
        Ok(())
    }

    /// One optimizer step. Returns the loss and the gradient norm.
    pub fn train_step(&mut self) -> Result<(f64, f64), TrainError> {
        let step = self.step + 1;
        let t_begin = Instant::now();
        let events = self.strategy.begin_step(step, self.model.params())?;
        self.emit_all(events);
        let t_strategy0 = t_begin.elapsed().as_secs_f64();
        let t_fwd = Instant::now();
        let idx = self.batch_indices(step);
        let refs = self.train.select(&idx);
        let b = self.make_batch(&refs)?;
        let out = self.model.forward_input(
            &b.input(),
            Some(&mut self.dropout_rng),
            self.strategy.weight_overrides(),
        )?;
        let loss_t = self.model.loss(&out.logits, b.labels())?;
        let loss = loss_t.to_scalar::<f32>()? as f64;
        if !loss.is_finite() {
            return Err(TrainError::NonFinite { step, loss });
        }
        let forward = t_fwd.elapsed().as_secs_f64();
        let t_bwd = Instant::now();
        let grads = loss_t.backward()?;
        drop(out);
        let params = self.model.params();
        let mut gs: Vec<_> = params
            .iter()
            .map(|p| grads.get(p.var.as_tensor()).cloned())
            .collect();
        drop(grads);
        let backward = t_bwd.elapsed().as_secs_f64();
        let t_strat = Instant::now();
        let mut masks = StepMasks::none(params.len());
        self.strategy
            .on_gradients(step, params, &mut gs, &mut masks)?;
        let strategy = t_strategy0 + t_strat.elapsed().as_secs_f64();
        let t_opt = Instant::now();
        let sq = total_sq_norm(
            gs.iter()
                .enumerate()
                .filter_map(|(i, g)| Some((g.as_ref()?, masks.for_clip_norm(i)))),
        )?;
        let norm = sq.sqrt();
        if !norm.is_finite() {
            return Err(TrainError::NonFinite { step, loss: norm });
        }
        let scale = if self.config.max_grad_norm > 0.0 {
            (self.config.max_grad_norm / (norm + 1e-6)).min(1.0) as f32
        } else {
            1.0
        };
        let lr = self.schedule.lr_at(step);
        self.optimizer.step(params, &gs, &masks, scale, lr)?;
        self.step = step;
        self.last_timings = StepTimings {
            forward,
            backward,
            strategy,
            optimizer: t_opt.elapsed().as_secs_f64(),
        };
        Ok((loss, norm))
    }

    /// Train to the end (or until told to stop). Emits `start` first unless resuming.
    pub fn run(&mut self) -> Result<RunSummary, TrainError> {
        self.emit_start();
        for c in std::mem::take(&mut self.after_start) {
            self.control(c);
        }
        if self.step == 0 && self.strategy.needs_fisher() {
            self.fisher_pass()?;
        }
        let per_epoch = self.steps_per_epoch();
        while self.step < self.total_steps {
            if let Some(s) = self.poll_commands()? {
                return Ok(s);
            }
            if let Some(s) = self.stop_if_signalled()? {
                return Ok(s);
            }
            let t0 = Instant::now();
            let result = self.train_step();
            let (loss, norm) = match result {
                Ok(x) => x,
                Err(e @ TrainError::NonFinite { .. }) => {
                    let step = self.step + 1;
                    self.emit(Event::Error {
                        step,
                        message: e.to_string(),
                    });
                    match self.on_failure {
                        OnFailure::Stop => return Err(e),
                        OnFailure::Pause => {
                            self.paused = true;
                            self.emit(Event::Paused { step: self.step });
                            continue;
                        }
                    }
                }
                Err(e) => {
                    let step = self.step + 1;
                    self.emit(Event::Error {
                        step,
                        message: e.to_string(),
                    });
                    return Err(e);
                }
            };
            let secs = t0.elapsed().as_secs_f64();
            let step = self.step;
            let batch = self.batch_size_at(step);
            self.emit(Event::Step {
                step,
                epoch: step as f64 / per_epoch as f64,
                loss,
                lr: self.schedule.lr_at(step),
                examples_per_sec: batch as f64 / secs.max(1e-9),
                grad_norm: Some(norm),
                step_seconds: Some(secs),
                run_seconds: self
                    .started
                    .map(|t| t.elapsed().saturating_sub(self.paused_time).as_secs_f64()),
            });
            let eval_due = if self.config.eval_every > 0 {
                step.is_multiple_of(self.config.eval_every)
            } else {
                step.is_multiple_of(per_epoch)
            };
            let mut metric = None;
            if eval_due && step < self.total_steps {
                let m = self.run_eval()?;
                metric = self.record_metric(&m);
            }
            if self.config.checkpoint_every > 0
                && step.is_multiple_of(self.config.checkpoint_every)
                && step < self.total_steps
            {
                if let Err(e) = self.checkpoint(metric) {
                    // The error event is out; the previous checkpoint is intact.
                    match self.on_failure {
                        OnFailure::Stop => return Err(e),
                        OnFailure::Pause => {
                            self.paused = true;
                            self.emit(Event::Paused { step });
                        }
                    }
                }
            }
            if let Some(s) = self.pace(t0)? {
                return Ok(s);
            }
        }
        // A resume from the final checkpoint evaluates again: its log ends before this eval.
        let mark = self.sync_sinks();
        let metrics = self.run_eval()?;
        let metric = self.record_metric(&metrics);
        if self.checkpointer.is_some() {
            // The final checkpoint: in the TUI a failure pauses, and resuming tries again.
            while let Err(e) = self.checkpoint_marked(metric, mark) {
                if self.on_failure == OnFailure::Stop || self.commands.is_none() {
                    return Err(e);
                }
                self.paused = true;
                let step = self.step;
                self.emit(Event::Paused { step });
                if let Some(s) = self.poll_commands()? {
                    return Ok(s);
                }
            }
        }
        let step = self.step;
        self.emit(Event::Done {
            step,
            metrics: metrics.clone(),
            stopped_early: false,
        });
        // Stay responsive to a final quit when a UI is attached and paused.
        Ok(RunSummary {
            step,
            metrics,
            stopped_early: false,
        })
    }

    fn batch_size_at(&self, step: usize) -> usize {
        let per_epoch = self.steps_per_epoch();
        let within = (step - 1) % per_epoch;
        let n = self.train.items.len();
        let bs = self.config.batch_size;
        if within + 1 == per_epoch && !n.is_multiple_of(bs) {
            n % bs
        } else {
            bs
        }
    }
}
