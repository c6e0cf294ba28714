//! Times forward + backward of the fused CPU ops against candle's composite versions at
//! MiniLM shapes (batch 16 × seq 128, hidden 384, 12 heads, FFN 1536).
//!
//! Run: `RAYON_NUM_THREADS=1 cargo run --release --example ops_bench` (and with 2).

use candle_core::{Device, Result, Tensor, Var, D};
use dps_tui::model::ops;
use std::time::Instant;

/// CPU time in ms used so far by all threads of this process (Linux `schedstat`; 0 elsewhere).
fn cpu_ms() -> f64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0.0;
    };
    tasks
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<f64>().ok())
        .sum::<f64>()
        / 1e6
}

/// Timing of one benchmarked closure: minimum wall time and mean CPU time (all threads) per
/// run, both in ms. The minimum wall time is the least disturbed by other load on the machine.
#[derive(Clone, Copy)]
struct Timing {
    wall_min: f64,
    cpu_mean: f64,
}

/// Times `iters` runs of `f` after two warm-up runs.
fn time_ms(iters: usize, mut f: impl FnMut() -> Result<()>) -> Result<Timing> {
    for _ in 0..2 {
        f()?;
    }
    let mut wall_min = f64::INFINITY;
    let cpu0 = cpu_ms();
    for _ in 0..iters {
        let t = Instant::now();
        f()?;
        wall_min = wall_min.min(t.elapsed().as_secs_f64() * 1e3);
    }
    let cpu_mean = (cpu_ms() - cpu0) / iters as f64;
    Ok(Timing { wall_min, cpu_mean })
}

/// Times forward only and forward + backward of `f` applied to the variables, with the loss
/// `sum(f(..) * r)`.
fn bench(
    name: &str,
    vars: &[&Var],
    r: &Tensor,
    iters: usize,
    f: impl Fn() -> Result<Tensor>,
) -> Result<(Timing, Timing)> {
    let fwd = time_ms(iters, || f().map(|_| ()))?;
    let fwd_bwd = time_ms(iters, || {
        let y = f()?;
        let grads = (y * r)?.sum_all()?.backward()?;
        for v in vars {
            assert!(grads.get(v).is_some(), "{name}: missing gradient");
        }
        Ok(())
    })?;
    Ok((fwd, fwd_bwd))
}

fn report(name: &str, fused: (Timing, Timing), composite: (Timing, Timing)) {
    let row = |kind: &str, (f, fb): (Timing, Timing)| {
        println!(
            "{name:<32} {kind:<9} fwd {:>7.2} ms (cpu {:>7.2})  fwd+bwd {:>7.2} ms (cpu {:>7.2})",
            f.wall_min, f.cpu_mean, fb.wall_min, fb.cpu_mean
        );
    };
    row("fused", fused);
    row("composite", composite);
    println!(
        "{name:<32} speed-up fwd+bwd (wall) {:.1}x",
        composite.1.wall_min / fused.1.wall_min
    );
}

fn main() -> Result<()> {
    let dev = Device::Cpu;
    let iters = 10;
    println!(
        "threads: {} (RAYON_NUM_THREADS={})",
        rayon::current_num_threads(),
        std::env::var("RAYON_NUM_THREADS").unwrap_or_else(|_| "unset".into())
    );

    // The loss `sum(y * r)` and its backward alone, on a [2048, 1536] variable: part of every
    // fwd+bwd figure below (scaled by the element count).
    let v = Var::from_tensor(&Tensor::randn(0f32, 1.0, (2048, 1536), &dev)?)?;
    let rv = Tensor::randn(0f32, 1.0, (2048, 1536), &dev)?;
    let (_, loss) = bench("loss", &[&v], &rv, iters, || Ok(v.as_tensor().clone()))?;
    println!(
        "{:<32} {:<9} fwd+bwd {:>7.2} ms (cpu {:>7.2})",
        "loss only [2048,1536]", "", loss.wall_min, loss.cpu_mean
    );

    // LayerNorm [2048, 384].
    let x = Var::from_tensor(&Tensor::randn(0f32, 1.0, (2048, 384), &dev)?)?;
    let w = Var::from_tensor(&Tensor::randn(1f32, 0.1, 384, &dev)?)?;
    let b = Var::from_tensor(&Tensor::randn(0f32, 0.1, 384, &dev)?)?;
    let r = Tensor::randn(0f32, 1.0, (2048, 384), &dev)?;
    let vars = [&x, &w, &b];
    let fused = bench("layer_norm", &vars, &r, iters, || {
        ops::layer_norm(&x, &w, &b, 1e-12)
    })?;
    let comp = bench("layer_norm", &vars, &r, iters, || {
        ops::layer_norm_composite(&x, &w, &b, 1e-12)
    })?;
    report("layer_norm [2048,384]", fused, comp);

    // Masked softmax [16, 12, 128, 128].
    let s = Var::from_tensor(&Tensor::randn(0f32, 3.0, (16, 12, 128, 128), &dev)?)?;
    let lens: Vec<f32> = (0..16 * 128)
        .map(|i| {
            if i % 128 < 40 + (i / 128) * 5 {
                0.0
            } else {
                f32::MIN
            }
        })
        .collect();
    let mask = Tensor::from_vec(lens, (16, 1, 1, 128), &dev)?;
    let r = Tensor::randn(0f32, 1.0, (16, 12, 128, 128), &dev)?;
    let scale = 1.0 / 32f64.sqrt();
    let fused = bench("masked_softmax", &[&s], &r, iters, || {
        ops::masked_softmax(&s, &mask, scale)
    })?;
    let comp = bench("masked_softmax", &[&s], &r, iters, || {
        let z = (s.as_tensor() * scale)?.broadcast_add(&mask)?;
        candle_nn::ops::softmax(&z, D::Minus1)
    })?;
    report("masked_softmax [16,12,128,128]", fused, comp);

    // GELU [2048, 1536].
    let g = Var::from_tensor(&Tensor::randn(0f32, 1.0, (2048, 1536), &dev)?)?;
    let r = Tensor::randn(0f32, 1.0, (2048, 1536), &dev)?;
    let fused = bench("gelu_erf", &[&g], &r, iters, || ops::gelu_erf(&g))?;
    let comp = bench("gelu_erf", &[&g], &r, iters, || g.gelu_erf())?;
    report("gelu_erf [2048,1536]", fused, comp);

    Ok(())
}
