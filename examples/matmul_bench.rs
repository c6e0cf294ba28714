//! GFLOP/s of candle's CPU matmul against `blas::matmul` (OpenBLAS) for every matrix product of
//! one MiniLM training step (hidden 384, 12 heads, FFN 1536, batch 16 × seq 128, f32), with 1
//! and 2 threads, and the matmul time per step (6 layers, forward and backward) that follows.
//!
//! Run: `cargo run --release --features openblas --example matmul_bench`
//! (without the feature the "blas" columns are candle's matmul too).

#[allow(dead_code)]
#[path = "../src/model/blas/mod.rs"]
mod blas;

use candle_core::{Device, Tensor};
use std::time::{Duration, Instant};

const TOKENS: usize = 16 * 128;
const HIDDEN: usize = 384;
const FFN: usize = 1536;
const LAYERS: usize = 6;
const ITEMS: usize = 16 * 12;
const SEQ: usize = 128;
const HEAD: usize = 32;

/// One matrix product of a layer: its operands (possibly transposed views) and how many times
/// a layer performs it per training step.
struct Product {
    name: String,
    per_layer: usize,
    a: Tensor,
    b: Tensor,
    flops: f64,
}

fn randn(dims: &[usize]) -> Tensor {
    Tensor::randn(0f32, 1f32, dims, &Device::Cpu).expect("randn")
}

fn product(name: String, per_layer: usize, a: Tensor, b: Tensor) -> Product {
    let d = a.dims();
    let r = d.len();
    let batch: usize = d[..r - 2].iter().product();
    let flops = 2.0 * (batch * d[r - 2] * d[r - 1] * b.dims()[r - 1]) as f64;
    Product {
        name,
        per_layer,
        a,
        b,
        flops,
    }
}

/// The products of one layer: each linear's forward `x·wᵀ` and backward `dY·w`, `xᵀ·dY`, and
/// attention's `q·kᵀ`, `p·v` with their backward products.
fn layer_products() -> Vec<Product> {
    let mut out = Vec::new();
    for (label, fan_in, fan_out, count) in [
        ("q/k/v/o", HIDDEN, HIDDEN, 4),
        ("ffn-up ", HIDDEN, FFN, 1),
        ("ffn-dn ", FFN, HIDDEN, 1),
    ] {
        let x = randn(&[TOKENS, fan_in]);
        let w = randn(&[fan_out, fan_in]);
        let dy = randn(&[TOKENS, fan_out]);
        let s = format!("[{TOKENS},{fan_in}]x[{fan_out},{fan_in}]");
        out.push(product(
            format!("{label} fwd x·wᵀ {s}"),
            count,
            x.clone(),
            w.t().unwrap(),
        ));
        out.push(product(
            format!("{label} dX  dY·w"),
            count,
            dy.clone(),
            w.clone(),
        ));
        out.push(product(
            format!("{label} dW  xᵀ·dY"),
            count,
            x.t().unwrap(),
            dy,
        ));
    }
    let q = randn(&[16, 12, SEQ, HEAD]);
    let k = randn(&[16, 12, SEQ, HEAD]);
    let p = randn(&[16, 12, SEQ, SEQ]);
    let t = |x: &Tensor| x.transpose(2, 3).unwrap();
    let s = format!("[{ITEMS}x {SEQ}x{HEAD}]");
    out.push(product(format!("attn fwd q·kᵀ {s}"), 1, q.clone(), t(&k)));
    out.push(product("attn dQ  dS·k".into(), 1, p.clone(), k.clone()));
    out.push(product("attn dKᵀ qᵀ·dS".into(), 1, t(&q), p.clone()));
    out.push(product("attn fwd p·v".into(), 1, p.clone(), k.clone()));
    out.push(product("attn dP  dO·vᵀ".into(), 1, q.clone(), t(&k)));
    out.push(product("attn dV  pᵀ·dO".into(), 1, t(&p), q));
    out
}

/// Median seconds of `f` over repetitions filling about `budget` (at least 3), after one warm-up.
fn time(budget: Duration, mut f: impl FnMut()) -> f64 {
    f();
    let mut times = Vec::new();
    let start = Instant::now();
    while times.len() < 3 || (start.elapsed() < budget && times.len() < 50) {
        let t = Instant::now();
        f();
        times.push(t.elapsed().as_secs_f64());
    }
    times.sort_by(|a, b| a.total_cmp(b));
    times[times.len() / 2]
}

/// One column of the table: which implementation, with how many threads of each kind.
struct Config {
    label: &'static str,
    rayon: usize,
    blas_threads: usize,
    use_blas: bool,
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

fn main() {
    println!(
        "blas enabled: {}; {}",
        blas::enabled(),
        blas::config().unwrap_or_default()
    );
    println!("load average at start: {}", loadavg());
    let products = layer_products();
    let configs = [
        Config {
            label: "candle 1t",
            rayon: 1,
            blas_threads: 1,
            use_blas: false,
        },
        Config {
            label: "blas 1t",
            rayon: 1,
            blas_threads: 1,
            use_blas: true,
        },
        Config {
            label: "candle 2t",
            rayon: 2,
            blas_threads: 1,
            use_blas: false,
        },
        Config {
            label: "blas 2t(ob)",
            rayon: 2,
            blas_threads: 2,
            use_blas: true,
        },
        Config {
            label: "blas 2t(ry)",
            rayon: 2,
            blas_threads: 1,
            use_blas: true,
        },
    ];
    let budget = Duration::from_millis(400);
    // secs[config][product]
    let mut secs = vec![vec![0.0; products.len()]; configs.len()];
    for (ci, c) in configs.iter().enumerate() {
        // candle's CPU matmul reads its thread count from RAYON_NUM_THREADS on every call.
        std::env::set_var("RAYON_NUM_THREADS", c.rayon.to_string());
        blas::set_num_threads(c.blas_threads);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(c.rayon)
            .build()
            .expect("rayon pool");
        pool.install(|| {
            for (pi, p) in products.iter().enumerate() {
                secs[ci][pi] = time(budget, || {
                    let y = if c.use_blas {
                        blas::matmul(&p.a, &p.b)
                    } else {
                        p.a.matmul(&p.b)
                    };
                    std::hint::black_box(y.expect("matmul"));
                });
            }
        });
    }
    println!("\nGFLOP/s (median); 2t(ob) = OpenBLAS 2 threads, 2t(ry) = OpenBLAS 1 thread split over 2 rayon threads");
    print!("{:<44}{:>6}", "product (per layer ×count)", "GFLOP");
    for c in &configs {
        print!("{:>13}", c.label);
    }
    println!();
    for (pi, p) in products.iter().enumerate() {
        print!(
            "{:<44}{:>6.2}",
            format!("{} ×{}", p.name, p.per_layer),
            p.flops / 1e9
        );
        for row in &secs {
            print!("{:>13.1}", p.flops / row[pi] / 1e9);
        }
        println!();
    }
    let step_flops: f64 = products
        .iter()
        .map(|p| p.flops * p.per_layer as f64)
        .sum::<f64>()
        * LAYERS as f64;
    print!(
        "{:<44}{:>6.1}",
        "matmul seconds per step (6 layers, f+b)",
        step_flops / 1e9
    );
    for row in &secs {
        let s: f64 = products
            .iter()
            .zip(row)
            .map(|(p, t)| t * p.per_layer as f64)
            .sum::<f64>()
            * LAYERS as f64;
        print!("{s:>13.3}");
    }
    println!();
    println!("load average at end: {}", loadavg());
}
