//! Branch-free scalar math kernels (exp, erfc, normal CDF) written so that the compiler can
//! vectorise loops over them, plus small reductions with several accumulators.

/// Natural exponential for f32, accurate to about 2 ulp. Returns exactly 0 below -87.3 (where
/// the true value would be a subnormal) and +inf above 88.7.
#[inline(always)]
pub(crate) fn exp_f32(x: f32) -> f32 {
    exp_hi_lo(x, 0.0)
}

/// `exp(hi + lo)` without rounding `hi + lo` to f32 first (the reduced argument is formed
/// from `hi` and `lo` separately). Same range behaviour as [`exp_f32`], decided on `hi + lo`.
#[inline(always)]
fn exp_hi_lo(hi: f32, lo: f32) -> f32 {
    let x = hi + lo;
    const MAGIC: f32 = 12_582_912.0; // 1.5 * 2^23: adding it rounds to an integer.
    const C1: f32 = 0.693_359_4; // ln 2 high part (exactly 355/512)
    const C2: f32 = -2.121_944_4e-4; // ln 2 low part
    let kf = x.clamp(-87.0, 88.0) * std::f32::consts::LOG2_E + MAGIC;
    let k = kf - MAGIC;
    let r = (hi - k * C1) - k * C2 + lo;
    let z = r * r;
    let p = (((((1.987_569_1e-4 * r + 1.398_199_9e-3) * r + 8.333_452e-3) * r + 4.166_579_6e-2)
        * r
        + 1.666_666_5e-1)
        * r
        + 0.5)
        * z
        + r
        + 1.0;
    let ki = (kf.to_bits() as i32).wrapping_sub(0x4B40_0000);
    let scale = f32::from_bits((ki.wrapping_add(127) << 23) as u32);
    let y = p * scale;
    let y = if x < -87.3 { 0.0 } else { y };
    if x > 88.7 {
        f32::INFINITY
    } else {
        y
    }
}

/// `-x²/2` as an exact f32 head plus a small tail (Dekker split, no FMA needed).
#[inline(always)]
fn neg_half_square(x: f32) -> (f32, f32) {
    let xh = f32::from_bits(x.to_bits() & 0xFFFF_F000);
    let xl = x - xh;
    (-0.5 * (xh * xh), -0.5 * (xl * (xh + xh + xl)))
}

/// The Numerical Recipes `erfcc` Chebyshev fit: `erfc(z) = t · exp(-z² + q(t))` with
/// `t = 1 / (1 + z/2)`, fractional error below 1.2e-7 for `z >= 0`. Returns `(t, q(t))`.
#[inline(always)]
fn erfc_fit(z: f32) -> (f32, f32) {
    let t = 1.0 / (1.0 + 0.5 * z);
    let q = -1.265_512_2
        + t * (1.000_023_7
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_204
                                + t * (1.488_515_9 + t * (-0.822_152_2 + t * 0.170_872_77))))))));
    (t, q)
}

/// Standard normal CDF Φ(x) = 0.5·(1 + erf(x/√2)) = 0.5·erfc(-x/√2).
#[inline(always)]
pub(crate) fn normal_cdf(x: f32) -> f32 {
    let (t, q) = erfc_fit(x.abs() * std::f32::consts::FRAC_1_SQRT_2);
    let (hi, lo) = neg_half_square(x);
    let h = 0.5 * t * exp_hi_lo(hi, lo + q);
    if x >= 0.0 {
        1.0 - h
    } else {
        h
    }
}

/// Exact-erf GELU: x·Φ(x).
#[inline(always)]
pub(crate) fn gelu_erf(x: f32) -> f32 {
    x * normal_cdf(x)
}

/// Derivative of the exact-erf GELU: Φ(x) + x·φ(x), with φ the standard normal density.
#[inline(always)]
pub(crate) fn gelu_erf_grad(x: f32) -> f32 {
    const INV_SQRT_2PI: f32 = 0.398_942_3;
    let (t, q) = erfc_fit(x.abs() * std::f32::consts::FRAC_1_SQRT_2);
    let (hi, lo) = neg_half_square(x);
    let g = exp_hi_lo(hi, lo); // exp(-x²/2)
    let h = 0.5 * t * g * exp_f32(q);
    let cdf = if x >= 0.0 { 1.0 - h } else { h };
    cdf + x * g * INV_SQRT_2PI
}

/// Sum of a slice with eight independent accumulators.
#[inline(always)]
pub(crate) fn sum(xs: &[f32]) -> f32 {
    let mut acc = [0f32; 8];
    let chunks = xs.chunks_exact(8);
    let rest = chunks.remainder();
    for c in chunks {
        for i in 0..8 {
            acc[i] += c[i];
        }
    }
    let mut s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    for v in rest {
        s += v;
    }
    s
}

/// Dot product of two equal-length slices with eight independent accumulators.
#[inline(always)]
pub(crate) fn dot(xs: &[f32], ys: &[f32]) -> f32 {
    let n = xs.len().min(ys.len());
    let (xs, ys) = (&xs[..n], &ys[..n]);
    let mut acc = [0f32; 8];
    let xc = xs.chunks_exact(8);
    let yc = ys.chunks_exact(8);
    let (xr, yr) = (xc.remainder(), yc.remainder());
    for (a, b) in xc.zip(yc) {
        for i in 0..8 {
            acc[i] += a[i] * b[i];
        }
    }
    let mut s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    for (a, b) in xr.iter().zip(yr) {
        s += a * b;
    }
    s
}

/// Sum of squared deviations from `mean`, with eight independent accumulators.
#[inline(always)]
pub(crate) fn sum_sq_dev(xs: &[f32], mean: f32) -> f32 {
    let mut acc = [0f32; 8];
    let chunks = xs.chunks_exact(8);
    let rest = chunks.remainder();
    for c in chunks {
        for i in 0..8 {
            let d = c[i] - mean;
            acc[i] += d * d;
        }
    }
    let mut s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    for v in rest {
        let d = v - mean;
        s += d * d;
    }
    s
}

/// Maximum of a slice (NaN-ignoring, -inf for an empty slice).
#[inline(always)]
pub(crate) fn max(xs: &[f32]) -> f32 {
    let mut acc = [f32::NEG_INFINITY; 8];
    let chunks = xs.chunks_exact(8);
    let rest = chunks.remainder();
    for c in chunks {
        for i in 0..8 {
            acc[i] = acc[i].max(c[i]);
        }
    }
    let mut m = acc.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    for v in rest {
        m = m.max(*v);
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Exact-erf GELU and its derivative in f64, from libm's erfc (via candle).
    fn gelu_ref(x: f64) -> (f64, f64) {
        let cdf = 0.5 * candle_core::cpu::erf::erfc_f64(-x / std::f64::consts::SQRT_2);
        let pdf = (-0.5 * x * x).exp() / (2.0 * std::f64::consts::PI).sqrt();
        (x * cdf, cdf + x * pdf)
    }

    /// Points spread over [-lo, hi] in f32.
    fn sweep(lo: f32, hi: f32, n: usize) -> impl Iterator<Item = f32> {
        (0..=n).map(move |i| lo + (hi - lo) * i as f32 / n as f32)
    }

    #[test]
    fn exp_f32_is_accurate() {
        let mut worst = 0f64;
        for x in sweep(-87.0, 88.0, 200_000) {
            let want = (x as f64).exp();
            let got = exp_f32(x) as f64;
            worst = worst.max(((got - want) / want).abs());
        }
        eprintln!("exp_f32 max relative error: {worst:e}");
        assert!(worst < 3e-7, "exp_f32 relative error {worst:e}");
        assert_eq!(exp_f32(-1e30), 0.0);
        assert_eq!(exp_f32(f32::MIN), 0.0);
        assert_eq!(exp_f32(0.0), 1.0);
        assert!(exp_f32(100.0).is_infinite());
    }

    #[test]
    fn gelu_and_grad_are_accurate() {
        // Relative error where |x| <= 9 (Φ(-9) ≈ 1e-19) and, for the derivative, away from its
        // zero crossing near x = -0.75; absolute error everywhere.
        let (mut rel, mut abs, mut grel, mut gabs) = (0f64, 0f64, 0f64, 0f64);
        for x in sweep(-12.0, 12.0, 400_001) {
            let (want, gwant) = gelu_ref(x as f64);
            let got = gelu_erf(x) as f64;
            let ggot = gelu_erf_grad(x) as f64;
            abs = abs.max((got - want).abs());
            gabs = gabs.max((ggot - gwant).abs());
            if x.abs() <= 9.0 && x != 0.0 {
                rel = rel.max(((got - want) / want).abs());
            }
            if x.abs() <= 9.0 && gwant.abs() > 0.05 {
                grel = grel.max(((ggot - gwant) / gwant).abs());
            }
        }
        eprintln!(
            "gelu: max rel {rel:e}, max abs {abs:e}; grad: max rel {grel:e}, max abs {gabs:e}"
        );
        assert!(rel < 6e-7, "gelu relative error {rel:e}");
        assert!(abs < 1e-6, "gelu absolute error {abs:e}");
        assert!(grel < 3e-6, "gelu grad relative error {grel:e}");
        assert!(gabs < 5e-7, "gelu grad absolute error {gabs:e}");
    }

    #[test]
    fn reductions_match_naive() {
        let xs: Vec<f32> = (0..389)
            .map(|i| ((i * 37 % 101) as f32 - 50.0) / 7.0)
            .collect();
        let ys: Vec<f32> = (0..389)
            .map(|i| ((i * 13 % 29) as f32 - 14.0) / 3.0)
            .collect();
        let n_sum: f64 = xs.iter().map(|&v| v as f64).sum();
        let n_dot: f64 = xs.iter().zip(&ys).map(|(&a, &b)| a as f64 * b as f64).sum();
        let mean = (n_sum / 389.0) as f32;
        let n_ssd: f64 = xs.iter().map(|&v| ((v - mean) as f64).powi(2)).sum();
        assert!((sum(&xs) as f64 - n_sum).abs() < 1e-3);
        assert!((dot(&xs, &ys) as f64 - n_dot).abs() < 1e-2);
        assert!((sum_sq_dev(&xs, mean) as f64 - n_ssd).abs() < 1e-2);
        let m = xs.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        assert_eq!(max(&xs), m);
        assert_eq!(
            max(&xs[..5]),
            xs[..5].iter().copied().fold(f32::NEG_INFINITY, f32::max)
        );
    }
}
