//! Fused, multi-threaded CPU kernels with backward passes, as candle custom ops.
//!
//! candle's composite LayerNorm, softmax and GELU are built from many single-threaded,
//! allocating elementwise ops, and its fused `candle_nn::ops::layer_norm` /
//! `softmax_last_dim` have no backward (they silently cut gradients). The ops here are fused
//! in both directions and split their rows over the current rayon pool
//! (`RAYON_NUM_THREADS`).
//!
//! The fused path is taken for f32 tensors on the CPU; any other device or dtype (cuda,
//! metal, f64, ...) falls back to the composite candle implementation, which is also
//! exported (`*_composite`) for comparison.
//!
//! `fused` and `device_updates` hold the optimizer's per-element passes (masked AdamW, masked
//! gradient norm, importance accumulation) on raw slices and as device tensor ops.
//!
//! This module depends only on external crates (candle, rayon).

mod attention;
mod blocks;
pub mod device_updates;
mod encoder_layer;
pub mod fused;
mod gelu;
pub(crate) mod gemm;
mod layer_norm;
mod linear;
mod math;
#[cfg(feature = "mkl")]
mod mkl;
pub(crate) mod simd;
mod softmax;

use candle_core::{CpuStorage, DType, Layout, Result, Tensor, D};

/// Minimum number of f32 elements handed to one rayon task. Fixed (not derived from the
/// thread count) so that results do not depend on the number of threads.
pub(crate) const GRAIN: usize = 16 * 1024;

/// A vector of `n` f32 written by `fill`, with no zero-fill first: the kernels' outputs are
/// written completely, and zero-filling them first took 4–6 % of a training step.
///
/// # Safety
/// `fill` must initialise every element of the slice it is given.
pub(crate) unsafe fn uninit_f32(
    n: usize,
    fill: impl FnOnce(&mut [std::mem::MaybeUninit<f32>]),
) -> Vec<f32> {
    let mut buf = Box::<[f32]>::new_uninit_slice(n);
    fill(&mut buf);
    // SAFETY: `fill` initialised every element (the caller's contract).
    unsafe { buf.assume_init() }.into_vec()
}

/// The slice `s` as initialised f32.
///
/// # Safety
/// Every element of `s` must be initialised.
pub(crate) unsafe fn assume_init_mut(s: &mut [std::mem::MaybeUninit<f32>]) -> &mut [f32] {
    // SAFETY: MaybeUninit<f32> has f32's layout, and the caller vouches that every element is
    // initialised.
    unsafe { &mut *(s as *mut [std::mem::MaybeUninit<f32>] as *mut [f32]) }
}

/// Number of rows of length `row_len` per rayon task.
pub(crate) fn rows_per_task(row_len: usize) -> usize {
    GRAIN.div_ceil(row_len.max(1)).max(1)
}

/// Borrows the f32 data of a contiguous CPU storage, honouring the layout's start offset.
pub(crate) fn contiguous_f32<'a>(
    storage: &'a CpuStorage,
    layout: &Layout,
    op: &str,
    what: &str,
) -> Result<&'a [f32]> {
    let data = match storage {
        CpuStorage::F32(v) => v.as_slice(),
        other => candle_core::bail!(
            "{op}: {what} must be f32 for the fused CPU kernel, got {:?} (the public wrappers fall back to the composite op for other dtypes)",
            candle_core::backend::BackendStorage::dtype(other)
        ),
    };
    match layout.contiguous_offsets() {
        Some((start, end)) => Ok(&data[start..end]),
        None => candle_core::bail!(
            "{op}: {what} must be contiguous for the fused CPU kernel (call .contiguous() first)"
        ),
    }
}

thread_local! {
    static COMPOSITE_ONLY: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Checks that the matrix-product engine this binary was built with can run: in builds with the
/// `mkl` feature, loads MKL (an error names the library path and the fix); otherwise nothing.
pub fn check_engine() -> std::result::Result<(), String> {
    #[cfg(feature = "mkl")]
    return mkl::check();
    #[cfg(not(feature = "mkl"))]
    Ok(())
}

/// Runs `f` with every op of this module taking its composite path, even for f32 CPU tensors:
/// the path a CUDA or Metal device takes, so it can be checked against the fused one on the
/// CPU. Applies to the calling thread only.
pub fn with_composite_ops<R>(f: impl FnOnce() -> R) -> R {
    with_switch_on(&COMPOSITE_ONLY, f)
}

/// Runs `f` with the thread-local `switch` set, restoring its value afterwards (also when `f`
/// panics).
fn with_switch_on<R>(
    switch: &'static std::thread::LocalKey<std::cell::Cell<bool>>,
    f: impl FnOnce() -> R,
) -> R {
    struct Restore(&'static std::thread::LocalKey<std::cell::Cell<bool>>, bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            self.0.with(|c| c.set(self.1));
        }
    }
    let _restore = Restore(switch, switch.with(|c| c.replace(true)));
    f()
}

/// Whether the fused CPU kernels apply to these tensors (all f32 and on the CPU, and the
/// composite path not forced by [`with_composite_ops`]).
fn fused_applies(ts: &[&Tensor]) -> bool {
    !COMPOSITE_ONLY.with(|c| c.get())
        && ts
            .iter()
            .all(|t| t.device().is_cpu() && t.dtype() == DType::F32)
}

/// LayerNorm over the last dimension with weight `w` and bias `b` (both of shape `[D]`):
/// `(x - mean) / sqrt(var + eps) * w + b`, with the biased variance.
///
/// On the CPU in f32 this is a fused multi-threaded kernel whose backward (dx, dw, db) is
/// also one fused kernel; elsewhere it is [`layer_norm_composite`].
pub fn layer_norm(x: &Tensor, w: &Tensor, b: &Tensor, eps: f64) -> Result<Tensor> {
    let d = x.dim(D::Minus1)?;
    if fused_applies(&[x, w, b]) && w.dims() == [d] && b.dims() == [d] {
        let x = x.contiguous()?;
        let w = w.contiguous()?;
        let b = b.contiguous()?;
        x.apply_op3(&w, &b, layer_norm::LayerNormOp { eps: eps as f32 })
    } else {
        layer_norm_composite(x, w, b, eps)
    }
}

/// LayerNorm over the last dimension built from differentiable candle ops (mean, centred
/// variance, sqrt, broadcast mul/add). Works on every device and float dtype.
pub fn layer_norm_composite(x: &Tensor, w: &Tensor, b: &Tensor, eps: f64) -> Result<Tensor> {
    let d = x.dim(D::Minus1)? as f64;
    let mean = (x.sum_keepdim(D::Minus1)? / d)?;
    let xc = x.broadcast_sub(&mean)?;
    let var = (xc.sqr()?.sum_keepdim(D::Minus1)? / d)?;
    let xhat = xc.broadcast_div(&(var + eps)?.sqrt()?)?;
    xhat.broadcast_mul(w)?.broadcast_add(b)
}

/// `y = x · wᵀ + b` over the last dimension of `x` (any rank ≥ 1), with `w` `[out, in]` and
/// `b` `[out]`.
///
/// On the CPU in f32 this is one fused graph node (bias added inside the matrix product;
/// backward `dx = g·w`, `dw = gᵀ·x`, `db = Σ g`); elsewhere it is `x.matmul(wᵀ) + b` from
/// candle ops.
pub fn linear(x: &Tensor, w: &Tensor, b: &Tensor) -> Result<Tensor> {
    let dims = x.dims().to_vec();
    let in_f = *dims.last().unwrap_or(&0);
    let (out_f, in_w) = w.dims2()?;
    if in_w != in_f || b.dims() != [out_f] {
        candle_core::bail!(
            "linear: x {:?}, w {:?} and b {:?} do not fit y = x·wᵀ + b",
            dims,
            w.dims(),
            b.dims()
        );
    }
    let rows = x.elem_count() / in_f.max(1);
    let mut out_dims = dims;
    if let Some(last) = out_dims.last_mut() {
        *last = out_f;
    }
    let x2 = x.reshape((rows, in_f))?;
    let y = if fused_applies(&[x, w, b]) {
        x2.contiguous()?
            .apply_op3(&w.contiguous()?, &b.contiguous()?, linear::LinearOp)?
    } else {
        x2.matmul(&w.t()?)?.broadcast_add(b)?
    };
    y.reshape(out_dims)
}

/// `dx = g · w`, the first product of [`linear`]'s backward pass, as its fused graph node
/// computes it on the CPU in f32 (`g` `[rows, out]`, `w` `[out, in]`). Public for
/// `bench --gemm`, which times the trainer's own products.
pub fn linear_grad_input(g: &Tensor, w: &Tensor) -> Result<Tensor> {
    linear::grad_times_weight(&g.contiguous()?, &w.contiguous()?)
}

/// `dw = gᵀ · x`, the second product of [`linear`]'s backward pass, as its fused graph node
/// computes it on the CPU in f32 (`g` `[rows, out]`, `x` `[rows, in]`).
pub fn linear_grad_weight(g: &Tensor, x: &Tensor) -> Result<Tensor> {
    linear::grad_t_times_input(&g.contiguous()?, &x.contiguous()?)
}

/// Multi-head self-attention core: for each of `heads` heads (columns `[i·d, (i+1)·d)` of the
/// hidden size `H`), `softmax(q·kᵀ · scale + mask) · v`, with `q`, `k`, `v` `[B, L, H]` and
/// `key_mask` `[B, L]` additive (0 for real tokens, a large negative number for padding).
/// Returns the context `[B, L, H]` with the heads side by side again.
///
/// On the CPU in f32 this is one fused graph node with a fused backward; elsewhere it is
/// [`attention_composite`].
pub fn attention(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    key_mask: &Tensor,
    heads: usize,
    scale: f64,
) -> Result<Tensor> {
    attention_with_dropout(q, k, v, key_mask, heads, scale, None)
}

/// [`attention`] with inverted dropout on the probabilities: `dropout` holds one factor
/// (`0` or `1 / (1 − p)`) per probability, laid out `[B, heads, L, L]` row-major (the order
/// in which the model's dropout draws a mask of that shape).
pub fn attention_with_dropout(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    key_mask: &Tensor,
    heads: usize,
    scale: f64,
    dropout: Option<Vec<f32>>,
) -> Result<Tensor> {
    let (b, l, h) = q.dims3()?;
    if k.dims() != [b, l, h] || v.dims() != [b, l, h] || key_mask.dims() != [b, l] {
        candle_core::bail!(
            "attention: q {:?}, k {:?}, v {:?} must be [B, L, H] and the key mask {:?} [B, L]",
            q.dims(),
            k.dims(),
            v.dims(),
            key_mask.dims()
        );
    }
    if heads == 0 || h % heads != 0 {
        candle_core::bail!("attention: hidden size {h} is not a multiple of {heads} heads");
    }
    if fused_applies(&[q, k, v, key_mask]) {
        let mask = key_mask.flatten_all()?.to_vec1::<f32>()?;
        let segs = attention::Segments::padded(b, l, mask);
        let op = attention::AttentionOp::new(
            heads,
            scale as f32,
            std::sync::Arc::new(segs),
            dropout.map(std::sync::Arc::new),
        );
        q.contiguous()?
            .apply_op3(&k.contiguous()?, &v.contiguous()?, op)
    } else {
        composite_core(q, k, v, key_mask, heads, scale, dropout)
    }
}

/// Attention over packed rows: `q`, `k`, `v` are `[T, H]` holding sequences end to end,
/// sequence `i` in rows `offsets[i]..offsets[i + 1]` (`offsets[0] = 0`, the last is `T`).
/// Each sequence attends to its own rows only; there is no mask and no padding. `dropout`
/// (optional) holds one factor per probability, per sequence then head, `len × len`
/// row-major. Returns the context `[T, H]`.
///
/// On the CPU in f32 this is one fused graph node with a fused backward; elsewhere each
/// sequence goes through [`attention_composite`].
pub fn packed_attention(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    offsets: &[usize],
    heads: usize,
    scale: f64,
    dropout: Option<Vec<f32>>,
) -> Result<Tensor> {
    let (t, h) = q.dims2()?;
    if k.dims() != [t, h] || v.dims() != [t, h] {
        candle_core::bail!(
            "packed attention: q {:?}, k {:?}, v {:?} must all be [T, H]",
            q.dims(),
            k.dims(),
            v.dims()
        );
    }
    if heads == 0 || h % heads != 0 {
        candle_core::bail!("packed attention: hidden size {h} is not a multiple of {heads} heads");
    }
    let tiles = offsets.first() == Some(&0)
        && offsets.last() == Some(&t)
        && offsets.windows(2).all(|w| w[0] < w[1]);
    if !tiles {
        candle_core::bail!(
            "packed attention: offsets must rise strictly from 0 to the {t} rows, got {offsets:?}"
        );
    }
    let segs = attention::Segments::packed(offsets);
    if let Some(m) = &dropout {
        let want = segs.num_probs(heads);
        if m.len() != want {
            candle_core::bail!(
                "packed attention: the dropout mask has {} values, expected {want}",
                m.len()
            );
        }
    }
    if fused_applies(&[q, k, v]) {
        let op = attention::AttentionOp::new(
            heads,
            scale as f32,
            std::sync::Arc::new(segs),
            dropout.map(std::sync::Arc::new),
        );
        q.contiguous()?
            .apply_op3(&k.contiguous()?, &v.contiguous()?, op)
    } else {
        let mut parts = Vec::with_capacity(offsets.len() - 1);
        let mut drop_at = 0;
        for &(start, n) in segs.spans() {
            let one = |x: &Tensor| x.narrow(0, start, n)?.unsqueeze(0);
            let zeros = Tensor::zeros((1, n), q.dtype(), q.device())?;
            let m = dropout.as_ref().map(|m| {
                let part = m[drop_at..drop_at + heads * n * n].to_vec();
                drop_at += heads * n * n;
                part
            });
            let ctx = composite_core(&one(q)?, &one(k)?, &one(v)?, &zeros, heads, scale, m)?;
            parts.push(ctx.squeeze(0)?);
        }
        Tensor::cat(&parts, 0)
    }
}

/// [`attention`] from candle ops: split heads, `q·kᵀ`, [`masked_softmax_composite`], `·v`,
/// merge heads. Works on every device and float dtype.
pub fn attention_composite(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    key_mask: &Tensor,
    heads: usize,
    scale: f64,
) -> Result<Tensor> {
    composite_core(q, k, v, key_mask, heads, scale, None)
}

/// [`attention_composite`] with an optional dropout mask `[B, heads, L, L]` on the
/// probabilities.
fn composite_core(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    key_mask: &Tensor,
    heads: usize,
    scale: f64,
    dropout: Option<Vec<f32>>,
) -> Result<Tensor> {
    let (b, l, h) = q.dims3()?;
    let d = h / heads.max(1);
    let split = |t: &Tensor| t.reshape((b, l, heads, d))?.transpose(1, 2)?.contiguous();
    let (q, k, v) = (split(q)?, split(k)?, split(v)?);
    let scores = q.matmul(&k.t()?)?;
    let mut probs = masked_softmax_composite(&scores, &key_mask.reshape((b, 1, 1, l))?, scale)?;
    if let Some(m) = dropout {
        let m = Tensor::from_vec(m, probs.shape(), probs.device())?.to_dtype(probs.dtype())?;
        probs = probs.mul(&m)?;
    }
    probs.matmul(&v)?.transpose(1, 2)?.reshape((b, l, h))
}

/// Softmax over the last dimension of `scores * scale + mask`, where `mask` is an additive
/// mask broadcastable to the shape of `scores` (typically `[B, 1, 1, Lk]` holding 0 or a
/// large negative number).
///
/// On the CPU in f32 this is a fused multi-threaded kernel; its backward with respect to the
/// scores is `scale · P ⊙ (dP − rowsum(dP ⊙ P))`, also fused. A gradient for `mask` is
/// produced only when the mask itself tracks gradients. Elsewhere it is
/// [`masked_softmax_composite`].
pub fn masked_softmax(scores: &Tensor, mask: &Tensor, scale: f64) -> Result<Tensor> {
    if fused_applies(&[scores, mask]) {
        let scores = scores.contiguous()?;
        let mask = mask.broadcast_as(scores.shape())?;
        scores.apply_op2(
            &mask,
            softmax::MaskedSoftmaxOp {
                scale: scale as f32,
            },
        )
    } else {
        masked_softmax_composite(scores, mask, scale)
    }
}

/// `candle_nn::ops::softmax(scores * scale + mask, D::Minus1)` from differentiable candle ops.
pub fn masked_softmax_composite(scores: &Tensor, mask: &Tensor, scale: f64) -> Result<Tensor> {
    let s = (scores * scale)?.broadcast_add(mask)?;
    candle_nn::ops::softmax(&s, D::Minus1)
}

/// Exact-erf GELU, `0.5 · x · (1 + erf(x / √2))` (HF `"gelu"`), with derivative
/// `Φ(x) + x · φ(x)`.
///
/// On the CPU in f32 this is a fused multi-threaded kernel (erf relative error about 1e-7);
/// elsewhere it is candle's `Tensor::gelu_erf`.
pub fn gelu_erf(x: &Tensor) -> Result<Tensor> {
    if fused_applies(&[x]) {
        x.contiguous()?.apply_op1(gelu::GeluErfOp)
    } else {
        x.gelu_erf()
    }
}

thread_local! {
    static PER_OP_LAYERS: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    /// How many layer nodes this thread has built (for tests that must see the node taken).
    static LAYER_NODES: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// How many [`encoder_layer`] nodes the calling thread has built so far.
pub fn layer_nodes_built() -> usize {
    LAYER_NODES.with(|c| c.get())
}

/// Runs `f` with encoder layers built from their per-op nodes ([`encoder_layer_applies`] is
/// false), the path the layer node is checked against. Applies to the calling thread only.
pub fn with_per_op_layers<R>(f: impl FnOnce() -> R) -> R {
    with_switch_on(&PER_OP_LAYERS, f)
}

/// Whether [`encoder_layer`] applies to the input `x`: an f32 CPU tensor, the fused kernels not
/// turned off by [`with_composite_ops`], the per-op layers not asked for by
/// [`with_per_op_layers`] or by `DPS_LAYER_NODE=0` in the environment (for A/B timings).
pub fn encoder_layer_applies(x: &Tensor) -> bool {
    static OFF: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let off = *OFF.get_or_init(|| std::env::var("DPS_LAYER_NODE").is_ok_and(|v| v == "0"));
    !off && !PER_OP_LAYERS.with(|c| c.get()) && fused_applies(&[x])
}

/// How the rows of an encoder layer's input form sequences for attention.
pub enum LayerRows<'a> {
    /// `[B, L, H]` input with the additive key mask `[B, L]` (0 for tokens, very negative for
    /// padding).
    Padded(&'a Tensor),
    /// `[T, H]` input, sequence `i` in rows `offsets[i]..offsets[i + 1]`.
    Packed(&'a [usize]),
}

/// One encoder layer's dropout factors (`0` or `1 / (1 − p)`), drawn by the caller in the order
/// the per-op path draws them: attention probabilities (laid out as for [`attention`] or
/// [`packed_attention`]), then attention output, then FFN output (both one per input element).
#[derive(Debug, Default)]
pub struct LayerDropout {
    pub attention: Option<Vec<f32>>,
    pub attention_output: Option<Vec<f32>>,
    pub output: Option<Vec<f32>>,
}

/// A post-LayerNorm encoder layer (BERT's, with exact-erf GELU) as one graph node:
///
/// ```text
/// a = LN(dropout(attention(x·Wqᵀ+bq, x·Wkᵀ+bk, x·Wvᵀ+bv)·Woᵀ + bo) + x)
/// y = LN(dropout(gelu(a·Wiᵀ + bi)·Wfᵀ + bf) + a)
/// ```
///
/// `params` are the sixteen tensors in the order q, k, v, o, attention LayerNorm, FFN in, FFN
/// out, output LayerNorm, each weight then its bias. The forward pass equals the per-op path
/// bit for bit; gradients flow to every tensor in `params` and to `x`. Only for f32 on the CPU
/// (check [`encoder_layer_applies`]).
#[allow(clippy::too_many_arguments)]
pub fn encoder_layer(
    x: &Tensor,
    params: &[&Tensor],
    rows: LayerRows,
    heads: usize,
    scale: f64,
    eps: f64,
    dropout: LayerDropout,
) -> Result<Tensor> {
    let dims = x.dims().to_vec();
    let h = *dims.last().unwrap_or(&0);
    if heads == 0 || h == 0 || !h.is_multiple_of(heads) {
        candle_core::bail!("encoder layer: hidden size {h} is not a multiple of {heads} heads");
    }
    let n = x.elem_count() / h;
    let segs = match rows {
        LayerRows::Padded(mask) => {
            let (b, l) = mask.dims2()?;
            if dims != [b, l, h] {
                candle_core::bail!(
                    "encoder layer: input {dims:?} does not fit the key mask {:?}",
                    mask.dims()
                );
            }
            attention::Segments::padded(b, l, mask.flatten_all()?.to_vec1::<f32>()?)
        }
        LayerRows::Packed(offsets) => attention::Segments::packed(offsets),
    };
    let dev = x.device();
    let factors = |m: Option<Vec<f32>>| -> Result<Option<Tensor>> {
        m.map(|m| Tensor::from_vec(m, (n, h), dev)).transpose()
    };
    let x2 = x.reshape((n, h))?.contiguous()?;
    let detached = params
        .iter()
        .map(|t| t.detach().contiguous())
        .collect::<Result<Vec<_>>>()?;
    let node = encoder_layer::LayerNode::forward(
        x2.detach(),
        detached,
        encoder_layer::LayerShape {
            heads,
            scale: scale as f32,
            eps: eps as f32,
            segs: std::sync::Arc::new(segs),
            attn_dropout: dropout.attention.map(std::sync::Arc::new),
            attn_out_dropout: factors(dropout.attention_output)?,
            ffn_dropout: factors(dropout.output)?,
        },
    )?;
    let flat = params
        .iter()
        .map(|t| t.flatten_all())
        .collect::<Result<Vec<_>>>()?;
    let pack = Tensor::cat(&flat, 0)?;
    LAYER_NODES.with(|c| c.set(c.get() + 1));
    x2.apply_op2(&pack, node)?.reshape(dims)
}
