//! `bench`: training-throughput measurements (see `dps_tui::diagnostics::bench`).

use anyhow::Result;
use clap::Args;
use std::io::Write;
use std::path::PathBuf;

#[derive(Args, Debug, Clone)]
pub struct BenchArgs {
    /// Model folder, `demo` for the tiny random model, or `random:CONFIG.json` for random
    /// weights of the shape a config.json describes.
    #[arg(long)]
    pub model: String,
    /// The method to measure: vanilla, dps-dense, dps-mix, child-tuning-f or child-tuning-d.
    #[arg(long, default_value = "vanilla")]
    pub method: String,
    /// Examples per batch.
    #[arg(long, default_value_t = 16)]
    pub batch: usize,
    /// Fixed shape: tokens per example; with --task, the truncation length (max_seq_length).
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
    /// Time the linear layers' matrix products (forward, dx = g·w, dw = gᵀ·x) on the model's
    /// shapes instead of training steps; --model gives the sizes, --threads the pool.
    #[arg(long)]
    pub gemm: bool,
    /// With --gemm: token rows of the per-token layers (comma-separated).
    #[arg(long, default_value = "1000,2048", value_delimiter = ',')]
    pub gemm_rows: Vec<usize>,
    /// With --gemm: timed seconds per product, at least.
    #[arg(long, default_value_t = 0.5)]
    pub gemm_seconds: f64,
    /// Fixed shape: also build a trainer of this method (e.g. vanilla) and step the two
    /// alternately, reporting the step-time ratio.
    #[arg(long)]
    pub against: Option<String>,
}

pub(crate) fn bench(b: BenchArgs) -> Result<i32> {
    if b.gemm {
        if let Some(t) = b.threads {
            dps_tui::train::setup::apply_threads(t);
        }
        let report = dps_tui::diagnostics::gemm_bench::run(
            &dps_tui::diagnostics::gemm_bench::GemmOptions {
                model: b.model,
                rows: b.gemm_rows,
                batch: b.batch,
                seq: b.seq,
                min_seconds: b.gemm_seconds,
            },
        )?;
        writeln!(super::stdout(), "{report}")?;
        return Ok(0);
    }
    let report = dps_tui::diagnostics::bench::run(&dps_tui::diagnostics::bench::BenchOptions {
        model: b.model,
        method: b.method,
        batch: b.batch,
        seq: b.seq,
        steps: b.steps,
        task: b.task,
        data_dir: b.data_dir,
        group_by_length: b.group_by_length,
        paddings: dps_tui::diagnostics::bench::parse_paddings(&b.padding)?,
        against: b.against,
        threads: b.threads,
        dropout: b.dropout,
        device: b.device,
    })?;
    writeln!(super::stdout(), "{report}")?;
    Ok(0)
}
