//! Fused exact-erf GELU, forward and backward.

use super::simd::simd_kernel;
use super::{contiguous_f32, math, uninit_f32, GRAIN};
use candle_core::{CpuStorage, CustomOp1, CustomOp2, Layout, Result, Shape, Tensor};
use rayon::prelude::*;
use std::mem::MaybeUninit;

simd_kernel! {
    /// `y = gelu(x)` elementwise.
    fn gelu_chunk(y: &mut [MaybeUninit<f32>], x: &[f32]) {
        for (y, &x) in y.iter_mut().zip(x) {
            y.write(math::gelu_erf(x));
        }
    }
}

simd_kernel! {
    /// `y = g · gelu'(x)` elementwise.
    fn gelu_grad_chunk(y: &mut [MaybeUninit<f32>], x: &[f32], g: &[f32]) {
        for ((y, &x), &g) in y.iter_mut().zip(x).zip(g) {
            y.write(g * math::gelu_erf_grad(x));
        }
    }
}

/// Forward GELU op: `x · Φ(x)`.
pub(crate) struct GeluErfOp;

impl CustomOp1 for GeluErfOp {
    fn name(&self) -> &'static str {
        "fused-gelu-erf"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let x = contiguous_f32(storage, layout, self.name(), "x")?;
        // SAFETY: the chunks of `dst` and `x` pair up one to one, and the kernel writes every
        // element of its chunk.
        let dst = unsafe {
            uninit_f32(x.len(), |dst| {
                dst.par_chunks_mut(GRAIN)
                    .zip(x.par_chunks(GRAIN))
                    .for_each(|(y, x)| gelu_chunk(y, x))
            })
        };
        Ok((CpuStorage::F32(dst), layout.shape().clone()))
    }

    fn bwd(&self, arg: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        let grad = grad.contiguous()?;
        Ok(Some(arg.apply_op2_no_bwd(&grad, &GeluErfBwdOp)?))
    }
}

/// GELU backward over `(x, grad_y)`: `grad_y · (Φ(x) + x · φ(x))`.
pub(crate) struct GeluErfBwdOp;

impl CustomOp2 for GeluErfBwdOp {
    fn name(&self) -> &'static str {
        "fused-gelu-erf-bwd"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let name = self.name();
        let x = contiguous_f32(s1, l1, name, "x")?;
        let g = contiguous_f32(s2, l2, name, "grad")?;
        if x.len() != g.len() {
            candle_core::bail!("{name}: x {:?} and grad {:?} differ", l1.dims(), l2.dims());
        }
        // SAFETY: as in the forward pass (`g` has `x`'s length, checked above).
        let dst = unsafe {
            uninit_f32(x.len(), |dst| {
                dst.par_chunks_mut(GRAIN)
                    .zip(x.par_chunks(GRAIN).zip(g.par_chunks(GRAIN)))
                    .for_each(|(y, (x, g))| gelu_grad_chunk(y, x, g))
            })
        };
        Ok((CpuStorage::F32(dst), l1.shape().clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The dispatched kernels (AVX2 + FMA where the CPU has them) give the bits of the scalar
    /// formulas compiled for the baseline target.
    #[test]
    fn kernels_match_scalar_bit_for_bit() {
        let x: Vec<f32> = (0..10_001).map(|i| (i as f32 - 5000.0) / 700.0).collect();
        let g: Vec<f32> = x.iter().map(|v| v.sin()).collect();
        // SAFETY: the kernels write every element.
        let y = unsafe { uninit_f32(x.len(), |y| gelu_chunk(y, &x)) };
        let dy = unsafe { uninit_f32(x.len(), |dy| gelu_grad_chunk(dy, &x, &g)) };
        for i in 0..x.len() {
            assert_eq!(
                y[i].to_bits(),
                math::gelu_erf(x[i]).to_bits(),
                "x = {}",
                x[i]
            );
            let want = g[i] * math::gelu_erf_grad(x[i]);
            assert_eq!(dy[i].to_bits(), want.to_bits(), "x = {}", x[i]);
        }
    }
}
