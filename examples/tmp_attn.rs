use std::time::Instant;
fn main() {
    let (n, d, h) = (128usize, 32usize, 384usize);
    let q: Vec<f32> = (0..n * h)
        .map(|i| ((i * 7919) % 1000) as f32 / 1000.0 - 0.5)
        .collect();
    let k: Vec<f32> = (0..n * h)
        .map(|i| ((i * 104729) % 1000) as f32 / 1000.0 - 0.5)
        .collect();
    let mut p = vec![0f32; n * n];
    let mut ctx = vec![0f32; n * h];
    let iters = 2000;
    for rep in 0..3 {
        let t = Instant::now();
        for it in 0..iters {
            let head = it % 12;
            unsafe {
                gemm::gemm(
                    n,
                    n,
                    d,
                    p.as_mut_ptr(),
                    1,
                    n as isize,
                    false,
                    q.as_ptr().add(head * d),
                    1,
                    h as isize,
                    k.as_ptr().add(head * d),
                    h as isize,
                    1,
                    1.0,
                    1.0,
                    false,
                    false,
                    false,
                    gemm::Parallelism::None,
                );
            }
        }
        let s = t.elapsed().as_secs_f64() / iters as f64;
        println!(
            "qk^T {n}x{n}x{d}: {:.2} us, {:.1} GFLOP/s",
            s * 1e6,
            2.0 * (n * n * d) as f64 / s / 1e9
        );
        let t = Instant::now();
        for it in 0..iters {
            let head = it % 12;
            unsafe {
                gemm::gemm(
                    n,
                    d,
                    n,
                    ctx.as_mut_ptr().add(head * d),
                    1,
                    h as isize,
                    false,
                    p.as_ptr(),
                    1,
                    n as isize,
                    k.as_ptr().add(head * d),
                    1,
                    h as isize,
                    1.0,
                    1.0,
                    false,
                    false,
                    false,
                    gemm::Parallelism::None,
                );
            }
        }
        let s = t.elapsed().as_secs_f64() / iters as f64;
        println!(
            "p.v {n}x{d}x{n}: {:.2} us, {:.1} GFLOP/s (rep {rep})",
            s * 1e6,
            2.0 * (n * n * d) as f64 / s / 1e9
        );
        // p^T . g (dv), transposed lhs
        let t = Instant::now();
        for it in 0..iters {
            let head = it % 12;
            unsafe {
                gemm::gemm(
                    n,
                    d,
                    n,
                    ctx.as_mut_ptr().add(head * d),
                    1,
                    h as isize,
                    false,
                    p.as_ptr(),
                    n as isize,
                    1,
                    k.as_ptr().add(head * d),
                    1,
                    h as isize,
                    1.0,
                    1.0,
                    false,
                    false,
                    false,
                    gemm::Parallelism::None,
                );
            }
        }
        let s = t.elapsed().as_secs_f64() / iters as f64;
        println!(
            "p^T.g {n}x{d}x{n}: {:.2} us, {:.1} GFLOP/s",
            s * 1e6,
            2.0 * (n * n * d) as f64 / s / 1e9
        );
    }
}
