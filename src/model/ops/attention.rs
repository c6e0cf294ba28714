//! Fused multi-head self-attention core, forward and backward, as one graph node:
//! `ctx = softmax(q·kᵀ · scale + mask) · v` per head, reading the heads straight out of the
//! `[B, L, H]` projections.
//!
//! Built from candle ops, the attention core splits the heads with three transposed copies,
//! merges them back with a fourth, and its backward fills and adds activation-sized zero
//! tensors for each of about ten nodes. Here each (batch item, head) pair is one task that
//! runs small matrix products on strided views (row stride `H`) of `q`, `k` and `v`, so
//! nothing is transposed or copied, and the backward computes `dq`, `dk` and `dv` in one pass.
//! The softmax probabilities are kept from the forward pass for the backward pass (the
//! memory the candle graph keeps for them too).

use super::contiguous_f32;
use super::softmax::{masked_softmax_rows, softmax_bwd_rows};
use candle_core::{CpuStorage, CustomOp3, Layout, Result, Shape, Tensor};
use rayon::prelude::*;
use std::sync::{Arc, Mutex};

/// A raw pointer that tasks may share; each task writes a disjoint set of elements.
#[derive(Clone, Copy)]
struct SharedMut(*mut f32);
// SAFETY: tasks that share a SharedMut write disjoint elements (one head's columns each).
unsafe impl Send for SharedMut {}
// SAFETY: as above.
unsafe impl Sync for SharedMut {}

impl SharedMut {
    /// The pointer (a method, so that closures capture the whole `Send + Sync` wrapper).
    fn get(self) -> *mut f32 {
        self.0
    }
}

/// Strided matrix operand: `ptr`, row stride, column stride.
#[derive(Clone, Copy)]
struct Mat(*const f32, isize, isize);

/// `dst (m×n, row stride dst_rs) = lhs (m×k) · rhs (k×n)`, single-threaded.
///
/// # Safety
/// Every operand must cover the elements its strides describe; `dst` aliases neither input
/// and no other thread writes those elements.
#[allow(clippy::too_many_arguments)]
unsafe fn gemm_into(
    m: usize,
    n: usize,
    k: usize,
    dst: *mut f32,
    dst_rs: isize,
    lhs: Mat,
    rhs: Mat,
) {
    gemm::gemm(
        m,
        n,
        k,
        dst,
        1,
        dst_rs,
        false,
        lhs.0,
        lhs.2,
        lhs.1,
        rhs.0,
        rhs.2,
        rhs.1,
        0.0,
        1.0,
        false,
        false,
        false,
        gemm::Parallelism::None,
    )
}

/// The attention core over `(q, k, v)`, each `[B, L, H]` contiguous f32 with `H = heads · d`.
pub(crate) struct AttentionOp {
    pub(crate) heads: usize,
    pub(crate) scale: f32,
    /// Additive key mask `[B, L]` (0 for real tokens, a large negative number for padding).
    pub(crate) mask: Arc<Vec<f32>>,
    /// Softmax probabilities `[B, heads, L, L]` from the forward pass.
    probs: Mutex<Option<Arc<Vec<f32>>>>,
}

impl AttentionOp {
    pub(crate) fn new(heads: usize, scale: f32, mask: Arc<Vec<f32>>) -> Self {
        Self {
            heads,
            scale,
            mask,
            probs: Mutex::new(None),
        }
    }

    /// `(B, L, H, d)` after checking the operands.
    fn dims(&self, name: &str, layouts: [&Layout; 3]) -> Result<(usize, usize, usize, usize)> {
        let (b, l, h) = layouts[0].shape().dims3()?;
        for lay in &layouts[1..] {
            if lay.dims() != [b, l, h] {
                candle_core::bail!(
                    "{name}: q {:?}, k {:?} and v {:?} must have the same shape",
                    layouts[0].dims(),
                    layouts[1].dims(),
                    layouts[2].dims()
                );
            }
        }
        if self.heads == 0 || h % self.heads != 0 {
            candle_core::bail!(
                "{name}: hidden size {h} is not a multiple of {} heads",
                self.heads
            );
        }
        if self.mask.len() != b * l {
            candle_core::bail!(
                "{name}: the key mask has {} values, expected {b}×{l}",
                self.mask.len()
            );
        }
        Ok((b, l, h, h / self.heads))
    }
}

/// Borrow the contiguous f32 data of a tensor on the CPU.
fn with_slice<R>(t: &Tensor, what: &str, f: impl FnOnce(&[f32]) -> Result<R>) -> Result<R> {
    let (storage, layout) = t.storage_and_layout();
    match &*storage {
        candle_core::Storage::Cpu(cpu) => {
            f(contiguous_f32(cpu, layout, "fused-attention-bwd", what)?)
        }
        _ => candle_core::bail!("fused-attention-bwd: {what} is not on the CPU"),
    }
}

impl CustomOp3 for AttentionOp {
    fn name(&self) -> &'static str {
        "fused-attention"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let name = self.name();
        let (b, l, h, d) = self.dims(name, [l1, l2, l3])?;
        let q = contiguous_f32(s1, l1, name, "q")?;
        let k = contiguous_f32(s2, l2, name, "k")?;
        let v = contiguous_f32(s3, l3, name, "v")?;
        let nh = self.heads;
        let mut probs = vec![0f32; b * nh * l * l];
        let mut ctx = vec![0f32; b * l * h];
        let ctx_ptr = SharedMut(ctx.as_mut_ptr());
        let (hs, scale) = (h as isize, self.scale);
        probs
            .par_chunks_mut((l * l).max(1))
            .enumerate()
            .for_each(|(task, p)| {
                let (bi, head) = (task / nh, task % nh);
                let off = bi * l * h + head * d;
                let mask = &self.mask[bi * l..(bi + 1) * l];
                // SAFETY: q, k and v hold B·L·H elements; the head's view starts at `off`
                // with row stride H and d columns. p is this task's own L×L block; ctx
                // columns [head·d, head·d + d) of batch item bi are written by this task only.
                unsafe {
                    let qm = Mat(q.as_ptr().add(off), hs, 1);
                    let kt = Mat(k.as_ptr().add(off), 1, hs);
                    gemm_into(l, l, d, p.as_mut_ptr(), l as isize, qm, kt);
                }
                masked_softmax_rows(p, mask, scale);
                // SAFETY: as above.
                unsafe {
                    let pm = Mat(p.as_ptr(), l as isize, 1);
                    let vm = Mat(v.as_ptr().add(off), hs, 1);
                    gemm_into(l, d, l, ctx_ptr.get().add(off), hs, pm, vm);
                }
            });
        *self.probs.lock().expect("attention probs lock") = Some(Arc::new(probs));
        Ok((CpuStorage::F32(ctx), Shape::from((b, l, h))))
    }

    fn bwd(
        &self,
        q: &Tensor,
        k: &Tensor,
        v: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let name = "fused-attention-bwd";
        let probs = self
            .probs
            .lock()
            .expect("attention probs lock")
            .clone()
            .ok_or_else(|| candle_core::Error::Msg(format!("{name}: no forward pass recorded")))?;
        let (q, k, v, grad) = (
            q.contiguous()?,
            k.contiguous()?,
            v.contiguous()?,
            grad.contiguous()?,
        );
        let (b, l, h) = q.dims3()?;
        let nh = self.heads;
        let d = h / nh;
        if grad.dims() != [b, l, h] || probs.len() != b * nh * l * l {
            candle_core::bail!(
                "{name}: gradient {:?} does not fit the forward pass",
                grad.dims()
            );
        }
        let mut dq = vec![0f32; b * l * h];
        let mut dk = vec![0f32; b * l * h];
        let mut dv = vec![0f32; b * l * h];
        let (dq_p, dk_p, dv_p) = (
            SharedMut(dq.as_mut_ptr()),
            SharedMut(dk.as_mut_ptr()),
            SharedMut(dv.as_mut_ptr()),
        );
        let (hs, ls, scale) = (h as isize, l as isize, self.scale);
        with_slice(&q, "q", |q| {
            with_slice(&k, "k", |k| {
                with_slice(&v, "v", |v| {
                    with_slice(&grad, "grad", |g| {
                        (0..b * nh).into_par_iter().for_each_init(
                            || vec![0f32; l * l],
                            |ds, task| {
                                let (bi, head) = (task / nh, task % nh);
                                let off = bi * l * h + head * d;
                                let p = &probs[task * l * l..(task + 1) * l * l];
                                // SAFETY: views as in the forward pass; ds is this task's
                                // scratch; each task writes only its head's columns of
                                // dq, dk and dv for batch item bi.
                                unsafe {
                                    let gm = Mat(g.as_ptr().add(off), hs, 1);
                                    // dP = dctx · vᵀ
                                    let vt = Mat(v.as_ptr().add(off), 1, hs);
                                    gemm_into(l, l, d, ds.as_mut_ptr(), ls, gm, vt);
                                    // dv = Pᵀ · dctx
                                    let pt = Mat(p.as_ptr(), 1, ls);
                                    gemm_into(l, d, l, dv_p.get().add(off), hs, pt, gm);
                                }
                                // dS = scale · P ⊙ (dP − rowsum(dP ⊙ P))
                                softmax_bwd_rows(ds, p, l, scale);
                                // SAFETY: as above.
                                unsafe {
                                    let dsm = Mat(ds.as_ptr(), ls, 1);
                                    let dst = Mat(ds.as_ptr(), 1, ls);
                                    // dq = dS · k ; dk = dSᵀ · q
                                    let km = Mat(k.as_ptr().add(off), hs, 1);
                                    let qm = Mat(q.as_ptr().add(off), hs, 1);
                                    gemm_into(l, d, l, dq_p.get().add(off), hs, dsm, km);
                                    gemm_into(l, d, l, dk_p.get().add(off), hs, dst, qm);
                                }
                            },
                        );
                        Ok(())
                    })
                })
            })
        })?;
        let dev = q.device();
        Ok((
            Some(Tensor::from_vec(dq, (b, l, h), dev)?),
            Some(Tensor::from_vec(dk, (b, l, h), dev)?),
            Some(Tensor::from_vec(dv, (b, l, h), dev)?),
        ))
    }
}
