//! One post-LayerNorm encoder layer (BERT's) as a single graph node, forward and backward.
//!
//! Built from the per-op nodes (three projections, attention, output projection, dropout,
//! residual add, LayerNorm, FFN in, GELU, FFN out, dropout, residual add, LayerNorm), the
//! layer is about fourteen graph nodes, and candle's backward pass fills a fresh zero tensor
//! and adds into it for every edge of every node, activation-sized for most of them. As one
//! node the layer's backward is written out here: each gradient is computed once into its own
//! buffer, the residual branches are summed with one add each, and nothing is zero-filled.
//!
//! The forward pass runs the same fused kernels as the per-op path, except that the query, key
//! and value projections are one product with the three weights stacked (`[rows, 3H]`, read by
//! attention in place with row stride `3H`); its outputs are bit-identical to the per-op path's
//! (tested). The backward pass calls the same kernels' backward halves; attention writes
//! `dq | dk | dv` side by side, so one product gives the input's gradient from all three and one
//! the stacked weights' gradient. It differs from the per-op path only in rounding: the order
//! in which the gradients reaching the layer input are summed.
//!
//! The parameters reach the node as one flat tensor (`Tensor::cat` of the sixteen flattened
//! weights and biases), so their gradients flow back through candle's autograd to whatever
//! tensors the model passed (trainable `Var`s or overrides) without any side channel.

use super::attention::{with_slice, AttentionOp, Segments};
use super::gelu::GeluErfOp;
use super::layer_norm::LayerNormOp;
use super::linear::LinearOp;
use candle_core::{CpuStorage, CustomOp1, CustomOp2, CustomOp3, Layout, Result, Shape, Tensor};
use std::sync::{Arc, Mutex};

/// The node's name, in errors too.
const NAME: &str = "fused-encoder-layer";

/// Number of parameter tensors of one layer: eight (weight, bias) pairs.
pub(crate) const NUM_PARAMS: usize = 16;

/// Positions of the (weight, bias) pairs in the parameter list, in the order the layer uses
/// them.
const Q: usize = 0;
const K: usize = 2;
const V: usize = 4;
const O: usize = 6;
const ATTN_LN: usize = 8;
const FFN_IN: usize = 10;
const FFN_OUT: usize = 12;
const OUT_LN: usize = 14;

/// What the layer needs besides its input and parameters.
pub(crate) struct LayerShape {
    pub(crate) heads: usize,
    pub(crate) scale: f32,
    pub(crate) eps: f32,
    pub(crate) segs: Arc<Segments>,
    /// Inverted-dropout factors on the attention probabilities (as [`AttentionOp`] takes them).
    pub(crate) attn_dropout: Option<Arc<Vec<f32>>>,
    /// Inverted-dropout factors on the attention output projection, `[rows, H]`.
    pub(crate) attn_out_dropout: Option<Tensor>,
    /// Inverted-dropout factors on the FFN output, `[rows, H]`.
    pub(crate) ffn_dropout: Option<Tensor>,
}

/// The activations the backward pass reads, all `[rows, ·]` and detached from the graph.
struct Saved {
    x: Tensor,
    /// The query, key and value weights stacked `[3H, H]`, their biases `[3H]`, and the
    /// projections side by side `[rows, 3H]`.
    wqkv: Tensor,
    bqkv: Tensor,
    qkv: Tensor,
    attn: AttentionOp,
    ctx: Tensor,
    /// Input of the first LayerNorm: attention output (after dropout) plus `x`.
    a_pre: Tensor,
    /// Output of the first LayerNorm.
    a: Tensor,
    /// FFN pre-activation and its GELU.
    h: Tensor,
    g: Tensor,
    /// Input of the second LayerNorm: FFN output (after dropout) plus `a`.
    y_pre: Tensor,
}

/// The graph node: its forward pass hands out the output computed by [`forward`]; its
/// backward pass is [`backward`].
pub(crate) struct LayerNode {
    params: Vec<Tensor>,
    eps: f32,
    attn_out_dropout: Option<Tensor>,
    ffn_dropout: Option<Tensor>,
    out: Mutex<Option<Tensor>>,
    saved: Saved,
}

/// `y = x · wᵀ + b` with the fused kernel, recording nothing.
fn lin(x: &Tensor, p: &[Tensor], at: usize) -> Result<Tensor> {
    x.apply_op3_no_bwd(&p[at], &p[at + 1], &LinearOp)
}

/// Multiplies by the dropout factors, if any.
fn drop(x: Tensor, mask: &Option<Tensor>) -> Result<Tensor> {
    match mask {
        Some(m) => x.mul(m),
        None => Ok(x),
    }
}

type Grads3 = (Option<Tensor>, Option<Tensor>, Option<Tensor>);

/// The three gradients of a custom op's backward, all present.
fn all3(name: &str, g: Result<Grads3>) -> Result<[Tensor; 3]> {
    match g? {
        (Some(a), Some(b), Some(c)) => Ok([a, b, c]),
        _ => candle_core::bail!("encoder layer: {name} returned no gradient"),
    }
}

impl LayerNode {
    /// Runs the layer on `x` `[rows, H]` with `params` (the sixteen tensors, detached), and
    /// returns the node that holds the output and what the backward pass needs.
    pub(crate) fn forward(x: Tensor, params: Vec<Tensor>, shape: LayerShape) -> Result<Self> {
        if params.len() != NUM_PARAMS {
            candle_core::bail!(
                "encoder layer: {} parameter tensors, expected {NUM_PARAMS}",
                params.len()
            );
        }
        let p = &params;
        let norm = LayerNormOp { eps: shape.eps };
        let (rows, h) = x.dims2()?;
        // One product for the three projections: [rows, H] · [3H, H]ᵀ.
        let wqkv = Tensor::cat(&[&p[Q], &p[K], &p[V]], 0)?;
        let bqkv = Tensor::cat(&[&p[Q + 1], &p[K + 1], &p[V + 1]], 0)?;
        let qkv = x.apply_op3_no_bwd(&wqkv, &bqkv, &LinearOp)?;
        let attn = AttentionOp::new(shape.heads, shape.scale, shape.segs, shape.attn_dropout);
        attn.check(NAME, rows, h)?;
        let ctx = with_slice(&qkv, NAME, "qkv", |s| {
            Ok(attn.forward_strided(s, &s[h..], &s[2 * h..], 3 * h, rows, h))
        })?;
        let ctx = Tensor::from_vec(ctx, (rows, h), x.device())?;
        let o = drop(lin(&ctx, p, O)?, &shape.attn_out_dropout)?;
        let a_pre = (o + &x)?;
        let a = a_pre.apply_op3_no_bwd(&p[ATTN_LN], &p[ATTN_LN + 1], &norm)?;
        let h = lin(&a, p, FFN_IN)?;
        let g = h.apply_op1_no_bwd(&GeluErfOp)?;
        let f = drop(lin(&g, p, FFN_OUT)?, &shape.ffn_dropout)?;
        let y_pre = (f + &a)?;
        let y = y_pre.apply_op3_no_bwd(&p[OUT_LN], &p[OUT_LN + 1], &norm)?;
        Ok(LayerNode {
            params,
            eps: shape.eps,
            attn_out_dropout: shape.attn_out_dropout,
            ffn_dropout: shape.ffn_dropout,
            out: Mutex::new(Some(y)),
            saved: Saved {
                x,
                wqkv,
                bqkv,
                qkv,
                attn,
                ctx,
                a_pre,
                a,
                h,
                g,
                y_pre,
            },
        })
    }

    /// `(dx, the sixteen parameter gradients)` for the output gradient `gy` `[rows, H]`.
    fn backward(&self, gy: &Tensor) -> Result<(Tensor, Vec<Tensor>)> {
        let s = &self.saved;
        let p = &self.params;
        let norm = LayerNormOp { eps: self.eps };
        let gy = gy.contiguous()?;
        let mut grads: Vec<Option<Tensor>> = vec![None; NUM_PARAMS];
        let mut put = |at: usize, w: Tensor, b: Tensor| {
            grads[at] = Some(w);
            grads[at + 1] = Some(b);
        };
        let lin_bwd = |x: &Tensor, at: usize, g: &Tensor| {
            all3("linear", LinearOp.bwd(x, &p[at], &p[at + 1], g, g))
        };
        let norm_bwd = |x: &Tensor, at: usize, g: &Tensor| {
            all3("layer norm", norm.bwd(x, &p[at], &p[at + 1], g, g))
        };

        // Second LayerNorm; its input was FFN output (after dropout) + a.
        let [d_ypre, dw, db] = norm_bwd(&s.y_pre, OUT_LN, &gy)?;
        put(OUT_LN, dw, db);
        let d_f = drop(d_ypre.clone(), &self.ffn_dropout)?;
        let [d_g, dw, db] = lin_bwd(&s.g, FFN_OUT, &d_f)?;
        put(FFN_OUT, dw, db);
        let d_h = GeluErfOp
            .bwd(&s.h, &s.g, &d_g)?
            .ok_or_else(|| candle_core::Error::Msg("encoder layer: gelu gradient".into()))?;
        let [d_a_ffn, dw, db] = lin_bwd(&s.a, FFN_IN, &d_h)?;
        put(FFN_IN, dw, db);
        let d_a = (d_ypre + d_a_ffn)?;

        // First LayerNorm; its input was attention output (after dropout) + x.
        let [d_apre, dw, db] = norm_bwd(&s.a_pre, ATTN_LN, &d_a)?;
        put(ATTN_LN, dw, db);
        let d_o = drop(d_apre.clone(), &self.attn_out_dropout)?;
        let [d_ctx, dw, db] = lin_bwd(&s.ctx, O, &d_o)?;
        put(O, dw, db);
        // Attention writes dq, dk and dv side by side, as the projections were laid out.
        let (rows, h) = s.x.dims2()?;
        let mut dqkv = Box::<[f32]>::new_uninit_slice(rows * 3 * h);
        let d_ctx = d_ctx.contiguous()?;
        with_slice(&s.qkv, NAME, "qkv", |qkv| {
            with_slice(&d_ctx, NAME, "context gradient", |g| {
                let out: *mut f32 = dqkv.as_mut_ptr().cast();
                // SAFETY: dqkv holds rows × 3H elements; dq, dk and dv are its column blocks
                // [0, H), [H, 2H) and [2H, 3H) with row stride 3H, disjoint from each other and
                // from the inputs.
                unsafe {
                    let (dk, dv) = (out.add(h), out.add(2 * h));
                    s.attn
                        .backward_strided(qkv, &qkv[h..], &qkv[2 * h..], 3 * h, g, h, out, dk, dv)
                }
            })
        })?;
        // SAFETY: attention's backward wrote every element of dq, dk and dv, which tile dqkv.
        let dqkv = unsafe { dqkv.assume_init() }.into_vec();
        let dqkv = Tensor::from_vec(dqkv, (rows, 3 * h), s.x.device())?;
        let [dx_qkv, dw, db] = all3("linear", LinearOp.bwd(&s.x, &s.wqkv, &s.bqkv, &dqkv, &dqkv))?;
        for (i, at) in [Q, K, V].into_iter().enumerate() {
            put(at, dw.narrow(0, i * h, h)?, db.narrow(0, i * h, h)?);
        }
        let dx = (d_apre + dx_qkv)?;
        let grads = grads
            .into_iter()
            .map(|g| g.ok_or_else(|| candle_core::Error::Msg("encoder layer: gradient".into())))
            .collect::<Result<Vec<_>>>()?;
        Ok((dx, grads))
    }
}

impl CustomOp2 for LayerNode {
    fn name(&self) -> &'static str {
        NAME
    }

    fn cpu_fwd(
        &self,
        _s1: &CpuStorage,
        l1: &Layout,
        _s2: &CpuStorage,
        _l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let y = self
            .out
            .lock()
            .expect("encoder layer output lock")
            .take()
            .ok_or_else(|| candle_core::Error::Msg(format!("{NAME}: the output was taken")))?;
        if y.dims() != l1.dims() {
            candle_core::bail!(
                "{NAME}: output {:?} does not fit the input {:?}",
                y.dims(),
                l1.dims()
            );
        }
        let data = y.flatten_all()?.to_vec1::<f32>()?;
        Ok((CpuStorage::F32(data), l1.shape().clone()))
    }

    fn bwd(
        &self,
        x: &Tensor,
        _params: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let (dx, grads) = self.backward(grad)?;
        let flat = grads
            .iter()
            .map(|g| g.flatten_all())
            .collect::<Result<Vec<_>>>()?;
        Ok((Some(dx.reshape(x.shape())?), Some(Tensor::cat(&flat, 0)?)))
    }
}
