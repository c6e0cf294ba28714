//! Fused multi-head self-attention core, forward and backward, as one graph node:
//! `ctx = dropout(softmax(q·kᵀ · scale + mask)) · v` per sequence and head, reading the heads
//! straight out of the `[rows, H]` projections.
//!
//! The rows hold sequences side by side: either padded (`B` sequences of `L` rows each, with an
//! additive key mask) or packed (sequences of their own lengths end to end, no mask, no
//! padding). Each sequence attends only to its own rows.
//!
//! Built from candle ops, the attention core splits the heads with three transposed copies,
//! merges them back with a fourth, and its backward fills and adds activation-sized zero
//! tensors for each of about ten nodes. Here each (sequence, head) pair is one task that runs
//! small matrix products on strided views (row stride `H`) of `q`, `k` and `v`, so nothing is
//! transposed or copied, and the backward computes `dq`, `dk` and `dv` in one pass. The
//! softmax probabilities (and the dropout mask, if any) are kept from the forward pass for the
//! backward pass.

use super::gemm::{gemm, Mat, Threads};
use super::softmax::{masked_softmax_rows, softmax_bwd_rows};
use super::{assume_init_mut, contiguous_f32, uninit_f32};
use candle_core::{CpuStorage, CustomOp3, Layout, Result, Shape, Tensor};
use rayon::prelude::*;
use std::mem::MaybeUninit;
use std::sync::{Arc, Mutex};

/// A raw pointer that tasks may share; each task writes a disjoint set of elements.
#[derive(Clone, Copy)]
struct SharedMut(*mut f32);
// SAFETY: tasks that share a SharedMut write disjoint elements (one head's columns of one
// sequence's rows each).
unsafe impl Send for SharedMut {}
// SAFETY: as above.
unsafe impl Sync for SharedMut {}

impl SharedMut {
    /// The pointer (a method, so that closures capture the whole `Send + Sync` wrapper).
    fn get(self) -> *mut f32 {
        self.0
    }
}

/// The sequences laid side by side in the rows of `q`, `k` and `v`.
#[derive(Debug, Clone)]
pub(crate) struct Segments {
    /// `(first row, length)` of each sequence, in row order, without gaps or overlaps.
    spans: Vec<(usize, usize)>,
    /// Additive key mask, one value per row (0 for real tokens, a large negative number for
    /// padding); `None` when every row is a real token.
    key_mask: Option<Vec<f32>>,
}

impl Segments {
    /// `b` sequences of `l` rows each, with the additive key mask `[b·l]`.
    pub(crate) fn padded(b: usize, l: usize, key_mask: Vec<f32>) -> Self {
        Segments {
            spans: (0..b).map(|i| (i * l, l)).collect(),
            key_mask: Some(key_mask),
        }
    }

    /// Sequences end to end: sequence `i` has rows `offsets[i]..offsets[i + 1]`.
    pub(crate) fn packed(offsets: &[usize]) -> Self {
        Segments {
            spans: offsets.windows(2).map(|w| (w[0], w[1] - w[0])).collect(),
            key_mask: None,
        }
    }

    /// Number of attention probabilities for `heads` heads: `Σ heads · len²`.
    pub(crate) fn num_probs(&self, heads: usize) -> usize {
        self.spans.iter().map(|&(_, n)| heads * n * n).sum()
    }

    /// The `(first row, length)` of each sequence.
    pub(crate) fn spans(&self) -> &[(usize, usize)] {
        &self.spans
    }

    /// Check that the spans tile `0..rows` and every length is at least 1.
    fn check(&self, name: &str, rows: usize) -> Result<()> {
        let mut next = 0;
        for &(s, n) in &self.spans {
            if s != next || n == 0 {
                candle_core::bail!("{name}: sequence spans must tile the rows with lengths >= 1");
            }
            next = s + n;
        }
        if next != rows {
            candle_core::bail!("{name}: the sequences cover {next} rows, the inputs have {rows}");
        }
        if let Some(m) = &self.key_mask {
            if m.len() != rows {
                candle_core::bail!(
                    "{name}: the key mask has {} values, expected one per row ({rows})",
                    m.len()
                );
            }
        }
        Ok(())
    }
}

/// Split `buf` into one slice per (sequence, head) task, `len²` elements each.
fn task_slices<'a, T>(
    buf: &'a mut [T],
    spans: &[(usize, usize)],
    heads: usize,
) -> Vec<&'a mut [T]> {
    let mut out = Vec::with_capacity(spans.len() * heads);
    let mut rest = buf;
    for &(_, n) in spans {
        for _ in 0..heads {
            let (a, b) = rest.split_at_mut(n * n);
            out.push(a);
            rest = b;
        }
    }
    out
}

/// Start of each task's `len²` block in the probabilities buffer.
fn task_offsets(spans: &[(usize, usize)], heads: usize) -> Vec<usize> {
    let mut offs = Vec::with_capacity(spans.len() * heads);
    let mut o = 0;
    for &(_, n) in spans {
        for _ in 0..heads {
            offs.push(o);
            o += n * n;
        }
    }
    offs
}

/// The attention core over `(q, k, v)`, each `[.., H]` contiguous f32 with `H = heads · d`.
pub(crate) struct AttentionOp {
    heads: usize,
    scale: f32,
    segs: Arc<Segments>,
    /// Inverted-dropout mask on the probabilities (`0` or `1 / (1 − p)`), laid out as the
    /// probabilities: per sequence, per head, `len × len` row-major.
    dropout: Option<Arc<Vec<f32>>>,
    /// Softmax probabilities from the forward pass (before dropout).
    probs: Mutex<Option<Arc<Vec<f32>>>>,
}

impl AttentionOp {
    pub(crate) fn new(
        heads: usize,
        scale: f32,
        segs: Arc<Segments>,
        dropout: Option<Arc<Vec<f32>>>,
    ) -> Self {
        Self {
            heads,
            scale,
            segs,
            dropout,
            probs: Mutex::new(None),
        }
    }

    /// `(rows, H, d)` after checking the operands.
    fn dims(&self, name: &str, layouts: [&Layout; 3]) -> Result<(usize, usize, usize)> {
        let dims = layouts[0].dims();
        for lay in &layouts[1..] {
            if lay.dims() != dims {
                candle_core::bail!(
                    "{name}: q {:?}, k {:?} and v {:?} must have the same shape",
                    layouts[0].dims(),
                    layouts[1].dims(),
                    layouts[2].dims()
                );
            }
        }
        let h = *dims.last().unwrap_or(&0);
        let rows = layouts[0].shape().elem_count() / h.max(1);
        self.check(name, rows, h)?;
        Ok((rows, h, h / self.heads))
    }

    /// Checks that `rows` rows of width `h` fit the heads, the sequences and the dropout mask.
    pub(crate) fn check(&self, name: &str, rows: usize, h: usize) -> Result<()> {
        if self.heads == 0 || h == 0 || !h.is_multiple_of(self.heads) {
            candle_core::bail!(
                "{name}: hidden size {h} is not a multiple of {} heads",
                self.heads
            );
        }
        self.segs.check(name, rows)?;
        if let Some(m) = &self.dropout {
            let want = self.segs.num_probs(self.heads);
            if m.len() != want {
                candle_core::bail!(
                    "{name}: the dropout mask has {} values, expected {want}",
                    m.len()
                );
            }
        }
        Ok(())
    }
}

/// Borrow the contiguous f32 data of a tensor on the CPU (errors name the op `op` and `what`).
pub(crate) fn with_slice<R>(
    t: &Tensor,
    op: &str,
    what: &str,
    f: impl FnOnce(&[f32]) -> Result<R>,
) -> Result<R> {
    let (storage, layout) = t.storage_and_layout();
    match &*storage {
        candle_core::Storage::Cpu(cpu) => f(contiguous_f32(cpu, layout, op, what)?),
        _ => candle_core::bail!("{op}: {what} is not on the CPU"),
    }
}

/// The backward pass's name in errors.
const BWD: &str = "fused-attention-bwd";

/// `out = p ⊙ m`, resized to `p`'s length.
fn dropped(out: &mut Vec<f32>, p: &[f32], m: &[f32]) {
    out.clear();
    out.extend(p.iter().zip(m).map(|(a, b)| a * b));
}

impl AttentionOp {
    /// The context `[rows, h]` for `q`, `k` and `v` read with row stride `stride` (each slice
    /// starts at its own first element and spans `rows` rows); keeps the probabilities for
    /// [`Self::backward_strided`].
    pub(crate) fn forward_strided(
        &self,
        q: &[f32],
        k: &[f32],
        v: &[f32],
        stride: usize,
        rows: usize,
        h: usize,
    ) -> Vec<f32> {
        // The outputs are not zero-filled: the tasks must cover them, which `check` ensures.
        assert!(
            self.check("fused-attention", rows, h).is_ok(),
            "fused attention: operands that `check` rejects"
        );
        let nh = self.heads;
        let spans = self.segs.spans();
        let longest = spans.iter().map(|s| s.1).max().unwrap_or(0);
        let zeros = vec![0f32; longest];
        let offs = task_offsets(spans, nh);
        let mut probs = Box::<[f32]>::new_uninit_slice(self.segs.num_probs(nh));
        // SAFETY: the spans tile the rows (checked just above) and the heads tile the columns,
        // so the tasks together write every element of ctx (each its head's columns of its
        // sequence's rows).
        let ctx = unsafe {
            uninit_f32(rows * h, |ctx| {
                let ctx_ptr = SharedMut(ctx.as_mut_ptr().cast());
                self.forward_tasks(q, k, v, (stride, h), &mut probs, ctx_ptr, &zeros, &offs)
            })
        };
        // SAFETY: every task wrote its whole n×n block of probabilities (its q·kᵀ product,
        // then the softmax in place), and the blocks tile the buffer.
        let probs = unsafe { probs.assume_init() }.into_vec();
        *self.probs.lock().expect("attention probs lock") = Some(Arc::new(probs));
        ctx
    }

    /// The tasks of [`Self::forward_strided`]: one per (sequence, head), each writing its block
    /// of `probs` and its head's columns of the context at `ctx` (row stride `h`).
    #[allow(clippy::too_many_arguments)]
    fn forward_tasks(
        &self,
        q: &[f32],
        k: &[f32],
        v: &[f32],
        (stride, h): (usize, usize),
        probs: &mut [MaybeUninit<f32>],
        ctx_ptr: SharedMut,
        zeros: &[f32],
        offs: &[usize],
    ) {
        let nh = self.heads;
        let d = h / nh;
        let spans = self.segs.spans();
        let (hs, is, scale) = (h as isize, stride as isize, self.scale);
        task_slices(probs, spans, nh)
            .into_par_iter()
            .enumerate()
            .for_each_init(Vec::new, |scratch, (task, p)| {
                let (start, n) = spans[task / nh];
                let head = task % nh;
                let off_in = start * stride + head * d;
                let off = start * h + head * d;
                let mask = match &self.segs.key_mask {
                    Some(m) => &m[start..start + n],
                    None => &zeros[..n],
                };
                // SAFETY: q, k and v hold `rows` rows of row stride `stride`; the sequence's
                // head view starts at `off_in`, n rows and d columns. p is this task's own n×n
                // block, which the product (not accumulating, d ≥ 1) writes completely; ctx
                // columns [head·d, head·d + d) of the sequence's rows are written by this task
                // only.
                let p = unsafe {
                    let qm = Mat::new(q.as_ptr().add(off_in), is, 1);
                    let kt = Mat::new(k.as_ptr().add(off_in), 1, is);
                    gemm(
                        n,
                        n,
                        d,
                        p.as_mut_ptr().cast(),
                        n as isize,
                        false,
                        qm,
                        kt,
                        Threads::Caller,
                    );
                    assume_init_mut(p)
                };
                masked_softmax_rows(p, mask, scale);
                let pd: &[f32] = match &self.dropout {
                    Some(m) => {
                        dropped(scratch, p, &m[offs[task]..offs[task] + n * n]);
                        scratch
                    }
                    None => p,
                };
                // SAFETY: as above.
                unsafe {
                    let pm = Mat::new(pd.as_ptr(), n as isize, 1);
                    let vm = Mat::new(v.as_ptr().add(off_in), is, 1);
                    gemm(
                        n,
                        d,
                        n,
                        ctx_ptr.get().add(off),
                        hs,
                        false,
                        pm,
                        vm,
                        Threads::Caller,
                    );
                }
            });
    }

    /// The backward pass of [`Self::forward_strided`] for the context gradient `g` `[rows, h]`:
    /// writes every element of `dq`, `dk` and `dv` (row stride `stride`, like `q`, `k`, `v`).
    ///
    /// # Safety
    /// `dq`, `dk` and `dv` must each point to `rows` writable rows of row stride `stride` and
    /// width `h`, overlapping neither each other's elements nor the inputs.
    #[allow(clippy::too_many_arguments)]
    pub(crate) unsafe fn backward_strided(
        &self,
        q: &[f32],
        k: &[f32],
        v: &[f32],
        stride: usize,
        g: &[f32],
        h: usize,
        dq: *mut f32,
        dk: *mut f32,
        dv: *mut f32,
    ) -> Result<()> {
        let name = BWD;
        let probs = self
            .probs
            .lock()
            .expect("attention probs lock")
            .clone()
            .ok_or_else(|| candle_core::Error::Msg(format!("{name}: no forward pass recorded")))?;
        let nh = self.heads;
        let d = h / nh;
        let spans = self.segs.spans();
        if probs.len() != self.segs.num_probs(nh) {
            candle_core::bail!("{name}: the gradient does not fit the forward pass");
        }
        let offs = task_offsets(spans, nh);
        let (dq_p, dk_p, dv_p) = (SharedMut(dq), SharedMut(dk), SharedMut(dv));
        let (hs, is) = (h as isize, stride as isize);
        let scale = self.scale;
        (0..spans.len() * nh).into_par_iter().for_each_init(
            || (Vec::new(), Vec::new()),
            |(ds, pd), task| {
                let (start, n) = spans[task / nh];
                let head = task % nh;
                let off_in = start * stride + head * d;
                let off = start * h + head * d;
                let ls = n as isize;
                let p = &probs[offs[task]..offs[task] + n * n];
                let m = self
                    .dropout
                    .as_ref()
                    .map(|m| &m[offs[task]..offs[task] + n * n]);
                ds.resize(n * n, 0.0);
                let pdrop: &[f32] = match m {
                    Some(m) => {
                        dropped(pd, p, m);
                        pd
                    }
                    None => p,
                };
                // SAFETY: views as in the forward pass; ds and pd are this task's scratch;
                // each task writes only its head's columns of dq, dk and dv for its
                // sequence's rows.
                unsafe {
                    let gm = Mat::new(g.as_ptr().add(off), hs, 1);
                    // dP = dctx · vᵀ
                    let vt = Mat::new(v.as_ptr().add(off_in), 1, is);
                    gemm(n, n, d, ds.as_mut_ptr(), ls, false, gm, vt, Threads::Caller);
                    // dv = P_droppedᵀ · dctx
                    let pt = Mat::new(pdrop.as_ptr(), 1, ls);
                    let dvo = dv_p.get().add(off_in);
                    gemm(n, d, n, dvo, is, false, pt, gm, Threads::Caller);
                }
                if let Some(m) = m {
                    for (x, &mv) in ds.iter_mut().zip(m) {
                        *x *= mv;
                    }
                }
                // dS = scale · P ⊙ (dP − rowsum(dP ⊙ P))
                softmax_bwd_rows(ds, p, n, scale);
                // SAFETY: as above.
                unsafe {
                    let dsm = Mat::new(ds.as_ptr(), ls, 1);
                    let dst = Mat::new(ds.as_ptr(), 1, ls);
                    // dq = dS · k ; dk = dSᵀ · q
                    let km = Mat::new(k.as_ptr().add(off_in), is, 1);
                    let qm = Mat::new(q.as_ptr().add(off_in), is, 1);
                    let dqo = dq_p.get().add(off_in);
                    gemm(n, d, n, dqo, is, false, dsm, km, Threads::Caller);
                    let dko = dk_p.get().add(off_in);
                    gemm(n, d, n, dko, is, false, dst, qm, Threads::Caller);
                }
            },
        );
        Ok(())
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
        let (rows, h, _d) = self.dims(name, [l1, l2, l3])?;
        let q = contiguous_f32(s1, l1, name, "q")?;
        let k = contiguous_f32(s2, l2, name, "k")?;
        let v = contiguous_f32(s3, l3, name, "v")?;
        let ctx = self.forward_strided(q, k, v, h, rows, h);
        Ok((CpuStorage::F32(ctx), l1.shape().clone()))
    }

    fn bwd(
        &self,
        q: &Tensor,
        k: &Tensor,
        v: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let (q, k, v, grad) = (
            q.contiguous()?,
            k.contiguous()?,
            v.contiguous()?,
            grad.contiguous()?,
        );
        let h = q.dim(candle_core::D::Minus1)?;
        let rows = q.elem_count() / h.max(1);
        if grad.dims() != q.dims() {
            candle_core::bail!(
                "fused-attention-bwd: gradient {:?} does not fit the forward pass",
                grad.dims()
            );
        }
        let mut dq = Box::<[f32]>::new_uninit_slice(rows * h);
        let mut dk = Box::<[f32]>::new_uninit_slice(rows * h);
        let mut dv = Box::<[f32]>::new_uninit_slice(rows * h);
        with_slice(&q, BWD, "q", |q| {
            with_slice(&k, BWD, "k", |k| {
                with_slice(&v, BWD, "v", |v| {
                    with_slice(&grad, BWD, "grad", |g| {
                        // SAFETY: dq, dk and dv are fresh rows × h buffers (stride h).
                        unsafe {
                            self.backward_strided(
                                q,
                                k,
                                v,
                                h,
                                g,
                                h,
                                dq.as_mut_ptr().cast(),
                                dk.as_mut_ptr().cast(),
                                dv.as_mut_ptr().cast(),
                            )
                        }
                    })
                })
            })
        })?;
        // SAFETY: `backward_strided` wrote every element of dq, dk and dv.
        let (dq, dk, dv) = unsafe {
            (
                dq.assume_init().into_vec(),
                dk.assume_init().into_vec(),
                dv.assume_init().into_vec(),
            )
        };
        let dev = q.device();
        let shape = q.shape().clone();
        Ok((
            Some(Tensor::from_vec(dq, shape.clone(), dev)?),
            Some(Tensor::from_vec(dk, shape.clone(), dev)?),
            Some(Tensor::from_vec(dv, shape, dev)?),
        ))
    }
}
