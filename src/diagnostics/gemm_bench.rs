//! `dps-tui bench --gemm`: the matrix products of an encoder's linear layers on their real
//! shapes, through the code the trainer runs (the fused linear op's forward, and its
//! backward's `dx = g·w` and `dw = gᵀ·x`), as GFLOP/s.
//!
//! For each linear layer shape of a BERT-style config (the attention's q/k/v/o, the FFN's in
//! and out, the pooler and the classifier) and each `rows` (tokens per batch; the pooler and
//! the classifier see one row per sequence), each product runs a few untimed times, then
//! repeatedly for at least `min_seconds` (and at least [`MIN_REPS`] times); the median call
//! time gives the GFLOP/s. The report also holds the training step's FLOPs at `batch × seq`
//! ([`step_flops`]), for the floor that `scripts/bench/gemm-vs-torch.sh` computes.
//! `scripts/bench/gemm_torch.py` measures PyTorch's products on the same shapes.

use crate::model::ops;
use anyhow::{anyhow, Context, Result};
use candle_core::{Device, Tensor};
use std::path::Path;
use std::time::Instant;

/// Timed calls per product, at least.
pub const MIN_REPS: usize = 5;
/// Untimed calls per product first.
const WARMUP: usize = 2;

/// The shapes that matter: the encoder's sizes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Dims {
    pub hidden: usize,
    pub intermediate: usize,
    pub heads: usize,
    pub layers: usize,
    /// Outputs of the classifier.
    pub labels: usize,
}

/// One linear layer shape, `y = x · wᵀ + b` with `x` `[rows, in_f]` and `w` `[out_f, in_f]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Linear {
    pub name: &'static str,
    pub in_f: usize,
    pub out_f: usize,
    /// How many layers of this shape one forward pass runs.
    pub count: usize,
    /// One row per sequence (pooler, classifier) rather than one per token.
    pub per_sequence: bool,
}

/// The three products of a linear layer in training.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Product {
    /// `y = x · wᵀ + b`, `[rows, out]`.
    Forward,
    /// `dx = g · w`, `[rows, in]`.
    GradInput,
    /// `dw = gᵀ · x`, `[out, in]`.
    GradWeight,
}

impl Product {
    pub const ALL: [Product; 3] = [Product::Forward, Product::GradInput, Product::GradWeight];

    pub fn as_str(self) -> &'static str {
        match self {
            Product::Forward => "forward",
            Product::GradInput => "grad_input",
            Product::GradWeight => "grad_weight",
        }
    }
}

/// The linear layers of a BERT-style sequence classifier with these sizes.
pub fn linears(d: &Dims) -> Vec<Linear> {
    let (h, i) = (d.hidden, d.intermediate);
    let lin = |name, in_f, out_f, count, per_sequence| Linear {
        name,
        in_f,
        out_f,
        count,
        per_sequence,
    };
    vec![
        lin("attn_qkvo", h, h, 4 * d.layers, false),
        lin("ffn_in", h, i, d.layers, false),
        lin("ffn_out", i, h, d.layers, false),
        lin("pooler", h, h, 1, true),
        lin("classifier", h, d.labels, 1, true),
    ]
}

/// FLOPs of one product of a layer over `rows` rows: each of the three is `rows·in·out`
/// multiply-adds.
pub fn product_flops(rows: usize, l: &Linear) -> f64 {
    2.0 * rows as f64 * l.in_f as f64 * l.out_f as f64
}

/// FLOPs of one training step (forward + backward, matrix products only) at `batch`
/// sequences of `seq` tokens: every linear layer, and per encoder layer the attention's
/// `q·kᵀ` and `p·v` (each `2·batch·seq²·hidden`). The backward runs two products for each
/// forward one, so the step is three times the forward.
pub fn step_flops(d: &Dims, batch: usize, seq: usize) -> f64 {
    let tokens = batch * seq;
    let linear: f64 = linears(d)
        .iter()
        .map(|l| l.count as f64 * product_flops(if l.per_sequence { batch } else { tokens }, l))
        .sum();
    let attention =
        d.layers as f64 * 2.0 * (2.0 * batch as f64 * (seq * seq) as f64 * d.hidden as f64);
    3.0 * (linear + attention)
}

/// The sizes in a `config.json` (BERT key names).
pub fn read_dims(config: &Path, labels: usize) -> Result<Dims> {
    let text = std::fs::read_to_string(config).with_context(|| {
        format!(
            "reading {} (bench --gemm needs the config)",
            config.display()
        )
    })?;
    let v: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("{}: not JSON", config.display()))?;
    let key = |k: &str| -> Result<usize> {
        v.get(k)
            .and_then(|x| x.as_u64())
            .map(|x| x as usize)
            .ok_or_else(|| {
                anyhow!(
                    "{}: no positive integer `{k}` (bench --gemm reads BERT-style sizes)",
                    config.display()
                )
            })
    };
    Ok(Dims {
        hidden: key("hidden_size")?,
        intermediate: key("intermediate_size")?,
        heads: key("num_attention_heads")?,
        layers: key("num_hidden_layers")?,
        labels,
    })
}

/// The operands of one layer shape at `rows` rows: input `x`, weight `w`, bias `b` and the
/// output gradient `g`.
pub struct Operands {
    pub x: Tensor,
    pub w: Tensor,
    pub b: Tensor,
    pub g: Tensor,
}

impl Operands {
    pub fn random(rows: usize, l: &Linear) -> Result<Operands> {
        let dev = Device::Cpu;
        let r = |shape: &[usize]| Tensor::randn(0f32, 1f32, shape, &dev);
        Ok(Operands {
            x: r(&[rows, l.in_f])?,
            w: r(&[l.out_f, l.in_f])?,
            b: r(&[l.out_f])?,
            g: r(&[rows, l.out_f])?,
        })
    }

    /// Runs one product through the trainer's ops.
    pub fn run(&self, p: Product) -> Result<Tensor> {
        Ok(match p {
            Product::Forward => ops::linear(&self.x, &self.w, &self.b)?,
            Product::GradInput => ops::linear_grad_input(&self.g, &self.w)?,
            Product::GradWeight => ops::linear_grad_weight(&self.g, &self.x)?,
        })
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        0.5 * (v[n / 2 - 1] + v[n / 2])
    }
}

/// Median seconds per call of `f` and the number of timed calls.
fn time_calls(min_seconds: f64, mut f: impl FnMut() -> Result<()>) -> Result<(f64, usize)> {
    for _ in 0..WARMUP {
        f()?;
    }
    let mut times = Vec::new();
    let start = Instant::now();
    while times.len() < MIN_REPS || start.elapsed().as_secs_f64() < min_seconds {
        let t = Instant::now();
        f()?;
        times.push(t.elapsed().as_secs_f64());
    }
    let n = times.len();
    Ok((median(times), n))
}

pub struct GemmOptions {
    /// A model folder or `random:CONFIG.json`: where the sizes come from.
    pub model: String,
    /// Token rows to measure the per-token layers at.
    pub rows: Vec<usize>,
    /// Sequences per batch (the pooler's and classifier's rows, and the step's batch).
    pub batch: usize,
    /// Tokens per sequence for the step's FLOP count.
    pub seq: usize,
    pub min_seconds: f64,
}

/// Measures every product of every layer shape; the rayon pool is whatever the caller set up.
pub fn run(o: &GemmOptions) -> Result<serde_json::Value> {
    let config = match o.model.strip_prefix("random:") {
        Some(c) => c.into(),
        None => crate::train::setup::resolve_model_dir(&o.model)?.join("config.json"),
    };
    let dims = read_dims(&config, 2)?;
    let threads = rayon::current_num_threads();
    let mut results = Vec::new();
    let mut measure = |l: &Linear, rows: usize| -> Result<()> {
        let ops = Operands::random(rows, l)?;
        for p in Product::ALL {
            let (s, reps) = time_calls(o.min_seconds, || ops.run(p).map(drop))?;
            let flops = product_flops(rows, l);
            eprintln!(
                "{:<10} {:<11} rows {rows:>5}: {:>8.3} ms, {:>6.1} GFLOP/s ({reps} calls)",
                l.name,
                p.as_str(),
                s * 1e3,
                flops / s / 1e9
            );
            results.push(serde_json::json!({
                "layer": l.name, "product": p.as_str(), "rows": rows, "in": l.in_f,
                "out": l.out_f, "count": l.count, "flops": flops, "median_s": s,
                "gflops": flops / s / 1e9, "reps": reps,
            }));
        }
        Ok(())
    };
    for l in linears(&dims) {
        if l.per_sequence {
            measure(&l, o.batch)?;
        } else {
            for &rows in &o.rows {
                measure(&l, rows)?;
            }
        }
    }
    Ok(serde_json::json!({
        "bench": "gemm", "who": "dps-tui", "model": o.model, "threads": threads,
        "hidden": dims.hidden, "intermediate": dims.intermediate, "heads": dims.heads,
        "layers": dims.layers, "batch": o.batch, "seq": o.seq,
        "step_flops": step_flops(&dims, o.batch, o.seq),
        "results": results,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINILM: Dims = Dims {
        hidden: 384,
        intermediate: 1536,
        heads: 12,
        layers: 6,
        labels: 2,
    };

    /// `a (m×k) · b (k×n)` in f64 by the textbook loop, and the number of multiply-adds it did.
    fn naive(a: &[f32], b: &[f32], m: usize, k: usize, n: usize) -> (Vec<f64>, usize) {
        let mut out = vec![0f64; m * n];
        let mut madds = 0;
        for i in 0..m {
            for j in 0..n {
                for p in 0..k {
                    out[i * n + j] += a[i * k + p] as f64 * b[p * n + j] as f64;
                    madds += 1;
                }
            }
        }
        (out, madds)
    }

    fn transpose(a: &[f32], rows: usize, cols: usize) -> Vec<f32> {
        (0..cols * rows)
            .map(|i| a[(i % rows) * cols + i / rows])
            .collect()
    }

    #[test]
    fn the_timed_products_are_the_linear_layers_products_and_their_flops_are_counted() {
        let l = Linear {
            name: "t",
            in_f: 7,
            out_f: 5,
            count: 1,
            per_sequence: false,
        };
        let rows = 9;
        let o = Operands::random(rows, &l).unwrap();
        let v = |t: &Tensor| t.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        let (x, w, b, g) = (v(&o.x), v(&o.w), v(&o.b), v(&o.g));
        let wt = transpose(&w, l.out_f, l.in_f);
        let gt = transpose(&g, rows, l.out_f);
        for p in Product::ALL {
            let (mut want, madds) = match p {
                Product::Forward => naive(&x, &wt, rows, l.in_f, l.out_f),
                Product::GradInput => naive(&g, &w, rows, l.out_f, l.in_f),
                Product::GradWeight => naive(&gt, &x, l.out_f, rows, l.in_f),
            };
            if p == Product::Forward {
                for (i, y) in want.iter_mut().enumerate() {
                    *y += b[i % l.out_f] as f64;
                }
            }
            assert_eq!(product_flops(rows, &l), 2.0 * madds as f64, "{p:?}");
            let got = v(&o.run(p).unwrap());
            assert_eq!(got.len(), want.len(), "{p:?}");
            for (a, e) in got.iter().zip(&want) {
                assert!((*a as f64 - e).abs() < 1e-4, "{p:?}: {a} vs {e}");
            }
        }
    }

    #[test]
    fn a_minilm_step_counts_every_matrix_product_three_times() {
        // Per layer at 16 × 128 = 2,048 tokens: q, k, v, o 4·2·2048·384², the FFN
        // 2·2·2048·384·1536, attention 2·2·16·128²·384; the head 2·16·384·(384 + 2).
        let per_layer = 4.0 * 2.0 * 2048.0 * 384.0 * 384.0
            + 2.0 * 2.0 * 2048.0 * 384.0 * 1536.0
            + 2.0 * 2.0 * 16.0 * 128.0 * 128.0 * 384.0;
        let head = 2.0 * 16.0 * 384.0 * (384.0 + 2.0);
        let want = 3.0 * (6.0 * per_layer + head);
        assert_eq!(step_flops(&MINILM, 16, 128), want);
        // About 137.7 GFLOP.
        assert!((want / 1e9 - 137.7).abs() < 0.05, "{}", want / 1e9);
    }

    #[test]
    fn sizes_come_from_the_config_and_a_missing_key_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("config.json");
        std::fs::write(
            &p,
            r#"{"hidden_size": 384, "intermediate_size": 1536, "num_attention_heads": 12,
                "num_hidden_layers": 6}"#,
        )
        .unwrap();
        assert_eq!(read_dims(&p, 2).unwrap(), MINILM);
        std::fs::write(&p, r#"{"hidden_size": 384}"#).unwrap();
        let e = read_dims(&p, 2).unwrap_err().to_string();
        assert!(
            e.contains("intermediate_size") && e.contains("config.json"),
            "{e}"
        );
    }
}
