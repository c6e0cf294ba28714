//! Dropout whose masks are drawn on the host from a seeded ChaCha8 RNG, so a training run (and
//! a resumed one) sees exactly the same masks for the same RNG state.

use candle_core::Tensor;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// Draw a dropout mask of `numel` elements: each element is `1 / (1 - p)` with probability
/// `1 - p` and `0` otherwise. Draws one `u32` per element from `rng`.
pub fn draw_mask(numel: usize, p: f64, rng: &mut ChaCha8Rng) -> Vec<f32> {
    let scale = (1.0 / (1.0 - p)) as f32;
    // An element is dropped when its 24-bit uniform draw falls below p.
    let threshold = (p * (1u64 << 24) as f64).round() as u32;
    (0..numel)
        .map(|_| {
            if (rng.random::<u32>() >> 8) < threshold {
                0.0
            } else {
                scale
            }
        })
        .collect()
}

/// Apply inverted dropout with probability `p` to `x` (training mode). Returns `x` unchanged
/// (and draws nothing) when `p` is 0.
pub fn dropout(x: &Tensor, p: f64, rng: &mut ChaCha8Rng) -> candle_core::Result<Tensor> {
    if p <= 0.0 {
        return Ok(x.clone());
    }
    let mask = draw_mask(x.elem_count(), p, rng);
    let mask = Tensor::from_vec(mask, x.shape(), x.device())?.to_dtype(x.dtype())?;
    x.mul(&mask)
}

/// Apply dropout when training (`rng` is `Some`) and `p > 0`.
pub fn maybe_dropout(
    x: Tensor,
    p: f64,
    rng: &mut Option<&mut ChaCha8Rng>,
) -> candle_core::Result<Tensor> {
    match rng {
        Some(r) if p > 0.0 => dropout(&x, p, r),
        _ => Ok(x),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;
    use rand::SeedableRng;

    #[test]
    fn mask_rate_scale_and_determinism() {
        let mut r1 = ChaCha8Rng::seed_from_u64(7);
        let mut r2 = ChaCha8Rng::seed_from_u64(7);
        let a = draw_mask(100_000, 0.1, &mut r1);
        let b = draw_mask(100_000, 0.1, &mut r2);
        assert_eq!(a, b);
        let dropped = a.iter().filter(|&&v| v == 0.0).count() as f64 / a.len() as f64;
        assert!((dropped - 0.1).abs() < 0.01, "dropped fraction {dropped}");
        let kept = a.iter().find(|&&v| v != 0.0).unwrap();
        assert!((kept - 1.0 / 0.9).abs() < 1e-6);
    }

    #[test]
    fn zero_probability_is_identity_and_draws_nothing() {
        let x = Tensor::ones((2, 3), candle_core::DType::F32, &Device::Cpu).unwrap();
        let mut r = ChaCha8Rng::seed_from_u64(1);
        let before = r.clone();
        let y = dropout(&x, 0.0, &mut r).unwrap();
        assert_eq!(y.to_vec2::<f32>().unwrap(), x.to_vec2::<f32>().unwrap());
        assert_eq!(r, before);
    }
}
