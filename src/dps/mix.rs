//! The mixout pieces of DPS-Mix (Lee et al. 2020, as the DPS authors' `Grads_Ops` use them).
//!
//! Forward: `W_eff = ((1 − Z)·T + Z·W − p·T) / (1 − p)` with Z a 0/1 mask. In a full stage Z is
//! drawn per *input column* with P(Z = 1) = 1 − p and T is the pre-trained W(0); in a subnetwork
//! stage Z is the selected mask and T the snapshot of W at the stage's first step. Evaluation
//! uses the raw W.

use candle_core::{Device, Result, Tensor};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// A `[1, cols]` 0/1 row with P(1) = 1 − p, broadcast over the rows of a weight.
pub fn column_noise(rng: &mut ChaCha8Rng, cols: usize, p: f64, device: &Device) -> Result<Tensor> {
    let z: Vec<f32> = (0..cols)
        .map(|_| {
            if rng.random::<f64>() < 1.0 - p {
                1.0
            } else {
                0.0
            }
        })
        .collect();
    Tensor::from_vec(z, (1, cols), device)
}

/// `((1 − Z)·T + Z·W − p·T) / (1 − p)`; Z broadcasts (a `[1, cols]` row or a full mask).
pub fn effective_weight(w: &Tensor, target: &Tensor, z: &Tensor, p: f64) -> Result<Tensor> {
    let one_minus_z = z.affine(-1.0, 1.0)?;
    let mixed = (one_minus_z.broadcast_mul(target)? + z.broadcast_mul(w)?)?;
    (mixed - (target * p)?)? / (1.0 - p)
}

/// The selection score: `G / A` with `A = F where F > 0 else 1`, times `exp(−A/us)` when the
/// stage is at least 50 steps long (the authors' frequency penalty).
pub fn selection_score(g: &Tensor, f_cols: &Tensor, update_steps: usize) -> Result<Tensor> {
    let a = f_cols.gt(0f32)?.where_cond(f_cols, &f_cols.ones_like()?)?;
    let score = g.broadcast_div(&a)?;
    if update_steps >= 50 {
        score.broadcast_mul(&(a / -(update_steps as f64))?.exp()?)
    } else {
        Ok(score)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng;

    #[test]
    fn mixout_formula() {
        let dev = Device::Cpu;
        let w = Tensor::new(&[[2f32, 4.0]], &dev).unwrap();
        let t = Tensor::new(&[[1f32, 1.0]], &dev).unwrap();
        let z = Tensor::new(&[[1f32, 0.0]], &dev).unwrap();
        let e = effective_weight(&w, &t, &z, 0.5)
            .unwrap()
            .to_vec2::<f32>()
            .unwrap();
        // selected: T + (W − T)/(1 − p) = 1 + 1/0.5 = 3; frozen: T = 1.
        assert_eq!(e, vec![vec![3.0, 1.0]]);
    }

    #[test]
    fn noise_keeps_about_one_minus_p() {
        let mut r = rng::seeded(1, rng::STREAM_MIX);
        let z = column_noise(&mut r, 10_000, 0.3, &Device::Cpu).unwrap();
        let kept = z.sum_all().unwrap().to_scalar::<f32>().unwrap() / 10_000.0;
        assert!((kept - 0.7).abs() < 0.02, "{kept}");
    }

    #[test]
    fn penalty_only_for_long_stages() {
        let dev = Device::Cpu;
        let g = Tensor::new(&[[4f32, 4.0]], &dev).unwrap();
        let f = Tensor::new(&[[2f32, 0.0]], &dev).unwrap();
        let s = selection_score(&g, &f, 10)
            .unwrap()
            .to_vec2::<f32>()
            .unwrap();
        assert_eq!(s, vec![vec![2.0, 4.0]]);
        let s = selection_score(&g, &f, 100)
            .unwrap()
            .to_vec2::<f32>()
            .unwrap();
        assert!((s[0][0] - 2.0 * (-0.02f32).exp()).abs() < 1e-6);
        assert!((s[0][1] - 4.0 * (-0.01f32).exp()).abs() < 1e-6);
    }
}
