//! `dps-tui bench`: training throughput through the real trainer.
//!
//! - Fixed shape (`--batch 16 --seq 128`): synthetic full-length sequences (ids uniform in
//!   [1000, vocab), `[CLS]` first, `[SEP]` last, as the PyTorch baseline's bench does), 3
//!   warm-up steps, then the median seconds per optimizer step over `--steps` steps, with the
//!   phase split. DPS runs use a stage length of 10, so the timed steps cover importance
//!   accumulation, one selection and masked steps, as in the baseline.
//! - A real task (`--task rte --data-dir ...`): `--steps` training steps (`0` = one epoch) of
//!   real batches for each `--padding` mode (packed, longest, max_length, all), optionally
//!   length-grouped, as examples and real tokens per second.
//! - `--against vanilla`: two trainers in one process stepping alternately, for a step-time
//!   ratio that load changes on the machine do not skew.

use crate::config::{Method, TrainConfig};
use crate::data::batching::{Encoded, EncodedDataset, Padding};
use crate::data::glue::{self, Label};
use crate::model::{loader, BertForSequenceClassification, HeadKind, Model};
use crate::train::setup::{self, build_trainer};
use crate::train::trainer::{StepTimings, Trainer};
use anyhow::{anyhow, Result};
use std::path::PathBuf;
use std::time::Instant;

pub struct BenchOptions {
    pub model: String,
    pub method: String,
    pub batch: usize,
    pub seq: usize,
    pub steps: usize,
    pub task: Option<String>,
    pub data_dir: Option<PathBuf>,
    pub group_by_length: bool,
    /// With a task: the padding modes to measure.
    pub paddings: Vec<Padding>,
    pub threads: Option<usize>,
    pub dropout: f64,
    /// Fixed shape only: step a trainer of this method alternately with `method`'s.
    pub against: Option<String>,
    /// `cpu`, `cuda` or `cuda:N`.
    pub device: String,
}

/// Peak resident memory of this process in MiB (Linux `VmHWM`), if known.
pub fn peak_rss_mib() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    if v.is_empty() {
        return f64::NAN;
    }
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        0.5 * (v[n / 2 - 1] + v[n / 2])
    }
}

fn base_config(o: &BenchOptions) -> Result<TrainConfig> {
    let mut c = TrainConfig {
        model: o.model.clone(),
        method: Method::parse(&o.method).ok_or_else(|| anyhow!("unknown method `{}`", o.method))?,
        batch_size: o.batch,
        max_seq_length: o.seq,
        dropout: crate::config::Dropout::Fixed(o.dropout),
        warmup_ratio: 0.1,
        device: o.device.clone(),
        ..TrainConfig::default()
    };
    if let Some(t) = o.threads {
        c.threads = t;
    }
    Ok(c)
}

/// The results as one JSON object, for `bench` to print on stdout (a human summary goes to
/// stderr as it runs).
pub fn run(o: &BenchOptions) -> Result<serde_json::Value> {
    if let Some(t) = o.threads {
        setup::apply_threads(t);
    }
    let threads = candle_core::utils::get_num_threads();
    match &o.task {
        None => fixed_shape(o, threads),
        Some(task) => task_epoch(o, task, threads),
    }
}

/// A trainer on synthetic full-length batches of the fixed shape, for `method`, and the number
/// of steps it runs (3 warm-up steps + `o.steps`).
fn fixed_shape_trainer(o: &BenchOptions, method: &str) -> Result<(Trainer, usize)> {
    let mut c = base_config(o)?;
    c.method = Method::parse(method).ok_or_else(|| anyhow!("unknown method `{method}`"))?;
    c.task = if o.model == "demo" {
        "demo".into()
    } else {
        "rte".into()
    };
    let total = o.steps + 3;
    c.max_steps = Some(total);
    c.update_ratio = (10.0 / total as f64).min(1.0);
    c.eval_every = 0;
    c.train_size = Some(64);
    c.data_dir = None;
    // The model comes from setup; the data is synthetic, so no data folder is needed.
    let device = setup::select_device(&c.device)?;
    let task = glue::task(&c.task).unwrap();
    let head = HeadKind::Classification { num_labels: 2 };
    let model: Model = if o.model == "demo" {
        let cfg = crate::model::BertConfig::tiny_demo(64);
        Box::new(BertForSequenceClassification::random(
            cfg, head, &device, c.seed,
        )?)
    } else if let Some(config) = o.model.strip_prefix("random:") {
        // Random weights of the shape a config.json describes (fast to ship, same speed).
        let cfg = loader::read_config(std::path::Path::new(config))?;
        let mut m = loader::random(cfg, head, &device, c.seed)?;
        m.set_dropout(o.dropout);
        m
    } else {
        let dir = setup::resolve_model_dir(&o.model)?;
        let (mut m, _) = loader::load_dir(&dir, head, &device, c.seed)?;
        m.set_dropout(o.dropout);
        m
    };
    let vocab = model.vocab_size() as u32;
    let lo = 1000.min(vocab / 2);
    let mut rng = crate::rng::seeded(c.seed, crate::rng::STREAM_BENCH);
    use rand::Rng;
    let items: Vec<Encoded> = (0..o.batch * 4)
        .map(|i| {
            let mut ids: Vec<u32> = (0..o.seq).map(|_| rng.random_range(lo..vocab)).collect();
            ids[0] = 101.min(vocab - 1);
            ids[o.seq - 1] = 102.min(vocab - 1);
            Encoded {
                ids,
                type_ids: vec![0; o.seq],
                label: Label::Class(i % 2),
            }
        })
        .collect();
    let train = EncodedDataset { items, task };
    let dev = EncodedDataset {
        items: train.items[..o.batch].to_vec(),
        task,
    };
    let trainer = Trainer::new(c, task, model, train, vec![(String::new(), dev)])?;
    Ok((trainer, total))
}

fn fixed_shape(o: &BenchOptions, threads: usize) -> Result<serde_json::Value> {
    if let Some(base) = &o.against {
        return interleaved(o, base, threads);
    }
    let (mut trainer, total) = fixed_shape_trainer(o, &o.method)?;
    let mut times = Vec::new();
    let mut phases: Vec<StepTimings> = Vec::new();
    for s in 0..total {
        let t0 = Instant::now();
        trainer.train_step()?;
        let dt = t0.elapsed().as_secs_f64();
        eprintln!("step {:>3} {:.3} s {:?}", s + 1, dt, trainer.last_timings);
        if s >= 3 {
            times.push(dt);
            phases.push(trainer.last_timings);
        }
    }
    let med = median(&mut times.clone());
    let ph = |f: fn(&StepTimings) -> f64| median(&mut phases.iter().map(f).collect::<Vec<_>>());
    let out = serde_json::json!({
        "bench": "fixed_shape",
        "model": o.model, "method": o.method, "batch": o.batch, "seq": o.seq, "device": o.device,
        "threads": threads, "dropout": o.dropout, "timed_steps": times.len(),
        "median_s_per_step": med,
        "examples_per_sec": o.batch as f64 / med,
        "phases_median_s": {
            "forward": ph(|p| p.forward), "backward": ph(|p| p.backward),
            "strategy": ph(|p| p.strategy), "optimizer": ph(|p| p.optimizer),
        },
        "step_times": times,
        "peak_rss_mib": peak_rss_mib(),
    });
    eprintln!(
        "median {:.3} s/step, {:.2} examples/s ({} threads)",
        med,
        o.batch as f64 / med,
        threads
    );
    Ok(out)
}

/// `--against BASE`: trainers for BASE and `--method` in one process, stepping alternately on the
/// same batches, so that load changes on the machine hit both alike. Reports both medians and the
/// median of the per-pair ratios `method / BASE`.
fn interleaved(o: &BenchOptions, base: &str, threads: usize) -> Result<serde_json::Value> {
    let (mut a, total) = fixed_shape_trainer(o, base)?;
    let (mut b, _) = fixed_shape_trainer(o, &o.method)?;
    let (mut ta, mut tb, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    let mut strategy = Vec::new();
    for s in 0..total {
        let mut pair = [0.0; 2];
        for (i, t) in [&mut a, &mut b].into_iter().enumerate() {
            let t0 = Instant::now();
            t.train_step()?;
            pair[i] = t0.elapsed().as_secs_f64();
        }
        eprintln!(
            "step {:>3} {base} {:.3} s, {} {:.3} s",
            s + 1,
            pair[0],
            o.method,
            pair[1]
        );
        if s >= 3 {
            ta.push(pair[0]);
            tb.push(pair[1]);
            ratios.push(pair[1] / pair[0]);
            strategy.push(b.last_timings.strategy);
        }
    }
    let (ma, mb, mr) = (median(&mut ta), median(&mut tb), median(&mut ratios));
    eprintln!(
        "{base} {ma:.3} s/step, {} {mb:.3} s/step, median pair ratio {mr:.3}",
        o.method
    );
    Ok(serde_json::json!({
        "bench": "fixed_shape_interleaved", "model": o.model, "batch": o.batch, "seq": o.seq,
        "threads": threads, "dropout": o.dropout, "timed_steps": ta.len(),
        "baseline": base, "method": o.method,
        "baseline_median_s_per_step": ma, "method_median_s_per_step": mb,
        "ratio_of_medians": mb / ma, "median_pair_ratio": mr,
        "method_strategy_median_s": median(&mut strategy),
        "peak_rss_mib": peak_rss_mib(),
    }))
}

/// The padding modes `--padding` names (`all` = every mode).
pub fn parse_paddings(s: &str) -> Result<Vec<Padding>> {
    if s == "all" {
        return Ok(Padding::ALL.to_vec());
    }
    s.split(',')
        .map(|p| {
            Padding::parse(p.trim()).ok_or_else(|| {
                anyhow!("--padding: unknown mode `{p}`; use packed, longest, max_length or all")
            })
        })
        .collect()
}

/// Train on a real task for each padding mode: 3 untimed warm-up steps, then `--steps` timed
/// steps (`0` = one whole epoch), batched as in training (shuffled from the seed, optionally
/// length-grouped). Reports examples and real (non-padding) tokens per second.
fn task_epoch(o: &BenchOptions, task: &str, threads: usize) -> Result<serde_json::Value> {
    const WARMUP: usize = 3;
    let mut c = base_config(o)?;
    c.set("task", &serde_yaml::Value::String(task.into()), "--task")?;
    c.data_dir = o.data_dir.clone();
    c.max_seq_length = 128;
    c.group_by_length = o.group_by_length;
    let mut results = Vec::new();
    for padding in &o.paddings {
        c.padding = Some(*padding);
        // Size the schedule first, so that warm-up + timed steps fit in it.
        c.max_steps = Some(1);
        let (probe, _) = build_trainer(&c)?;
        let steps = if o.steps == 0 {
            probe.steps_per_epoch()
        } else {
            o.steps
        };
        drop(probe);
        c.max_steps = Some(WARMUP + steps);
        let (mut trainer, _) = build_trainer(&c)?;
        if trainer.padding() != *padding {
            return Err(anyhow!(
                "padding `{}` is not available on this device",
                padding.as_str()
            ));
        }
        let (mut examples, mut tokens, mut secs) = (0usize, 0usize, 0f64);
        for s in 1..=WARMUP + steps {
            let idx = trainer.batch_indices(s);
            let t0 = Instant::now();
            trainer.train_step()?;
            if s > WARMUP {
                secs += t0.elapsed().as_secs_f64();
                examples += idx.len();
                tokens += idx
                    .iter()
                    .map(|&i| trainer.train.items[i].len())
                    .sum::<usize>();
            }
        }
        results.push(serde_json::json!({
            "padding": padding.as_str(), "group_by_length": o.group_by_length, "steps": steps,
            "seconds": secs, "examples_per_sec": examples as f64 / secs,
            "real_tokens_per_sec": tokens as f64 / secs,
        }));
        eprintln!(
            "{} (group_by_length {}): {steps} steps in {secs:.1} s = {:.2} examples/s, {:.0} real tokens/s",
            padding.as_str(),
            o.group_by_length,
            examples as f64 / secs,
            tokens as f64 / secs
        );
    }
    Ok(
        serde_json::json!({"bench": "task", "task": task, "method": o.method, "threads": threads,
            "results": results, "peak_rss_mib": peak_rss_mib()}),
    )
}
