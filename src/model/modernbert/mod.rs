//! ModernBERT with its sequence-classification head, matching
//! `transformers.ModernBertForSequenceClassification` (eager attention, float32): pre-norm
//! layers (layer 0 has no attention norm), LayerNorms and Linear layers without biases unless
//! the config asks for them, a fused `Wqkv` projection, RoPE with one base for the global and
//! one for the local layers, a GeGLU MLP, global attention every few layers and a sliding
//! window elsewhere, a final norm, and the head `classifier(drop(norm(act(dense(pool(x))))))`
//! with `cls` or `mean` pooling.

pub mod config;

use candle_core::{DType, Device, Tensor};
use rand_chacha::ChaCha8Rng;
use serde_json::{Map, Value};

pub use config::{Activation, ModernBertConfig, Pooling};

use super::base::{self, BaseConfig, Build, ModelBase, ParamIndex, Wb};
use super::classifier::{
    config_plumbing, ForwardOutput, HeadKind, SequenceClassifier, WeightOverrides,
};
use super::dropout::{draw_mask, maybe_dropout};
use super::family::Family;
use super::init::{Init, ParamSpec, Specs};
use super::inputs::ModelInput;
use super::ops;
use super::params::Param;
use super::ModelError;

/// Every parameter for this configuration and head (names without the `model.` prefix),
/// sorted by name.
fn param_specs(cfg: &ModernBertConfig, head: HeadKind) -> Vec<ParamSpec> {
    let (h, i) = (cfg.hidden_size, cfg.intermediate_size);
    let nb = cfg.norm_bias;
    let mut s = Specs::default();
    let pad_row = cfg.pad_token_id.filter(|&p| p < cfg.vocab_size);
    s.add(
        "embeddings.tok_embeddings.weight",
        vec![cfg.vocab_size, h],
        Init::Embedding { pad_row },
    );
    s.norm("embeddings.norm", h, nb);
    for l in 0..cfg.num_hidden_layers {
        let p = format!("layers.{l}");
        if l > 0 {
            s.norm(&format!("{p}.attn_norm"), h, nb);
        }
        s.linear(&format!("{p}.attn.Wqkv"), 3 * h, h, cfg.attention_bias);
        s.linear(&format!("{p}.attn.Wo"), h, h, cfg.attention_bias);
        s.norm(&format!("{p}.mlp_norm"), h, nb);
        s.linear(&format!("{p}.mlp.Wi"), 2 * i, h, cfg.mlp_bias);
        s.linear(&format!("{p}.mlp.Wo"), h, i, cfg.mlp_bias);
    }
    s.norm("final_norm", h, nb);
    s.linear("head.dense", h, h, cfg.classifier_bias);
    s.norm("head.norm", h, nb);
    s.linear("classifier", head.num_outputs(), h, true);
    s.sorted()
}

#[derive(Debug, Clone)]
struct LayerIdx {
    /// `None` on layer 0, whose attention norm is the identity.
    attn_norm: Option<Wb>,
    wqkv: Wb,
    attn_out: Wb,
    mlp_norm: Wb,
    wi: Wb,
    mlp_out: Wb,
    /// Global attention (otherwise the sliding window).
    global: bool,
}

#[derive(Debug, Clone)]
struct ModelIdx {
    tok: usize,
    emb_norm: Wb,
    layers: Vec<LayerIdx>,
    final_norm: Wb,
    head_dense: Wb,
    head_norm: Wb,
    classifier: Wb,
}

impl ModelIdx {
    fn build(params: &[Param], cfg: &ModernBertConfig) -> Self {
        // The names come from `param_specs`, so every weight lookup succeeds.
        let names = ParamIndex::new(params);
        let wb = |p: &str| names.wb(p);
        ModelIdx {
            tok: names.get("embeddings.tok_embeddings.weight"),
            emb_norm: wb("embeddings.norm"),
            layers: (0..cfg.num_hidden_layers)
                .map(|l| {
                    let p = format!("layers.{l}");
                    LayerIdx {
                        attn_norm: (l > 0).then(|| wb(&format!("{p}.attn_norm"))),
                        wqkv: wb(&format!("{p}.attn.Wqkv")),
                        attn_out: wb(&format!("{p}.attn.Wo")),
                        mlp_norm: wb(&format!("{p}.mlp_norm")),
                        wi: wb(&format!("{p}.mlp.Wi")),
                        mlp_out: wb(&format!("{p}.mlp.Wo")),
                        global: cfg.global_layers[l],
                    }
                })
                .collect(),
            final_norm: wb("final_norm"),
            head_dense: wb("head.dense"),
            head_norm: wb("head.norm"),
            classifier: wb("classifier"),
        }
    }
}

/// The activation `act` applied to `x`.
fn activation(x: &Tensor, act: Activation) -> candle_core::Result<Tensor> {
    match act {
        Activation::GeluErf => ops::gelu_erf(x),
        Activation::GeluTanh => x.gelu(),
        Activation::Relu => x.relu(),
        Activation::Silu => x.silu(),
    }
}

/// RoPE tables `cos`, `sin` `[1, L, 1, d]` for positions `0..l` and base `theta`, computed in
/// f32 as transformers does (`inv_freq = 1 / θ^(2i/d)`, the frequencies repeated twice).
fn rope_tables(
    l: usize,
    d: usize,
    theta: f64,
    device: &Device,
) -> candle_core::Result<(Tensor, Tensor)> {
    let half = d / 2;
    let inv: Vec<f32> = (0..half)
        .map(|i| 1.0 / (theta as f32).powf((2 * i) as f32 / d as f32))
        .collect();
    let mut cos = Vec::with_capacity(l * d);
    let mut sin = Vec::with_capacity(l * d);
    for p in 0..l {
        for _ in 0..2 {
            for f in &inv {
                let a = p as f32 * f;
                cos.push(a.cos());
                sin.push(a.sin());
            }
        }
    }
    Ok((
        Tensor::from_vec(cos, (1, l, 1, d), device)?,
        Tensor::from_vec(sin, (1, l, 1, d), device)?,
    ))
}

/// `x · cos + rotate_half(x) · sin` for `x` `[B, L, heads, d]`, where `rotate_half` maps the
/// halves `(x₁, x₂)` of the last dimension to `(−x₂, x₁)`.
fn apply_rope(x: &Tensor, cos: &Tensor, sin: &Tensor) -> candle_core::Result<Tensor> {
    let d = x.dim(3)?;
    let x1 = x.narrow(3, 0, d / 2)?;
    let x2 = x.narrow(3, d / 2, d / 2)?;
    let rotated = Tensor::cat(&[&x2.neg()?, &x1], 3)?;
    x.broadcast_mul(cos)? + rotated.broadcast_mul(sin)?
}

/// The additive mask `[B, 1, L, L]` of the local layers: 0 where the key is a real token
/// within `half_window` of the query, `f32::MIN` elsewhere (as transformers' eager mask; a
/// padded query with no real key in reach then attends uniformly to every key, as there).
fn window_mask(
    attention_mask: &Tensor,
    half_window: usize,
    device: &Device,
) -> Result<Tensor, ModelError> {
    let real = attention_mask.to_vec2::<u32>()?;
    let (b, l) = (real.len(), real.first().map_or(0, Vec::len));
    let mut m = vec![f32::MIN; b * l * l];
    for (s, row) in real.iter().enumerate() {
        for q in 0..l {
            let lo = q.saturating_sub(half_window);
            let hi = (q + half_window).min(l - 1);
            for k in lo..=hi {
                if row[k] != 0 {
                    m[(s * l + q) * l + k] = 0.0;
                }
            }
        }
    }
    Ok(Tensor::from_vec(m, (b, 1, l, l), device)?)
}

/// Attention with a full additive mask `[B, 1, L, L]` (the sliding window): `q`, `k`, `v`
/// `[B, L, H]`, `heads` heads, optional dropout factors laid out `[B, heads, L, L]`.
fn masked_attention(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    mask: &Tensor,
    heads: usize,
    scale: f64,
    drop: Option<Vec<f32>>,
) -> candle_core::Result<Tensor> {
    let (b, l, h) = q.dims3()?;
    let d = h / heads;
    let split = |t: &Tensor| t.reshape((b, l, heads, d))?.transpose(1, 2)?.contiguous();
    let (q, k, v) = (split(q)?, split(k)?, split(v)?);
    let scores = q.matmul(&k.t()?)?;
    let mut probs = ops::masked_softmax(&scores, mask, scale)?;
    if let Some(m) = drop {
        probs = probs.mul(&Tensor::from_vec(m, probs.shape(), probs.device())?)?;
    }
    probs.matmul(&v)?.transpose(1, 2)?.reshape((b, l, h))
}

/// ModernBERT encoder + prediction head + classifier; every weight is a trainable `Var`.
pub struct ModernBertForSequenceClassification {
    cfg: ModernBertConfig,
    base: ModelBase,
    idx: ModelIdx,
}

/// Checkpoint tensors the model does not use: the masked-LM decoder and RoPE buffers.
fn is_ignored_name(name: &str) -> bool {
    name.starts_with("decoder.") || name.ends_with("inv_freq")
}

impl Build for ModernBertForSequenceClassification {
    type Config = ModernBertConfig;

    fn base_config(cfg: &ModernBertConfig) -> BaseConfig {
        BaseConfig {
            family: Family::ModernBert,
            initializer_range: cfg.initializer_range,
            vocab_size: cfg.vocab_size,
            num_attention_heads: cfg.num_attention_heads,
            layer_norm_eps: cfg.norm_eps,
            packed: false,
        }
    }

    fn specs(cfg: &ModernBertConfig, head: HeadKind) -> Vec<ParamSpec> {
        param_specs(cfg, head)
    }

    fn is_ignored(_: &ModernBertConfig, name: &str) -> bool {
        is_ignored_name(name)
    }

    fn assemble(cfg: ModernBertConfig, base: ModelBase) -> Self {
        let idx = ModelIdx::build(base.params(), &cfg);
        ModernBertForSequenceClassification { cfg, base, idx }
    }
}

base::constructors_from_map!(
    ModernBertForSequenceClassification,
    ModernBertConfig,
    concat!(
        "Build from a `config.json` object and checkpoint tensors (names with or without the ",
        "`model.` prefix; the masked-LM `decoder.*` ignored). A missing head (`head.*`, ",
        "`classifier.*`) is initialised (N(0, initializer_range²) weights, zero biases, unit ",
        "norm weights, from a ChaCha8 RNG seeded with `seed`) and its names returned; a missing",
        " encoder tensor or a tensor of the wrong shape is an error naming it.",
    ),
    concat!(
        "A randomly initialised model (Linear weights and embeddings N(0, initializer_range²), ",
        "the padding row zero, biases 0, norm weights 1), drawn from a ChaCha8 RNG seeded with ",
        "`seed`.",
    ),
);

impl ModernBertForSequenceClassification {
    /// The parsed configuration (with the current dropout).
    pub fn config(&self) -> &ModernBertConfig {
        &self.cfg
    }

    /// One encoder layer (pre-norm attention, then the pre-norm GeGLU MLP), in place.
    #[allow(clippy::too_many_arguments)]
    fn layer(
        &self,
        hidden: &Tensor,
        layer: &LayerIdx,
        rope: &(Tensor, Tensor),
        key_mask: &Tensor,
        window: Option<&Tensor>,
        rng: &mut Option<&mut ChaCha8Rng>,
        ov: Option<&WeightOverrides>,
    ) -> Result<Tensor, ModelError> {
        let cfg = &self.cfg;
        let (b, l, h) = hidden.dims3()?;
        let (nh, d) = (cfg.num_attention_heads, cfg.head_dim());
        let x = match layer.attn_norm {
            Some(n) => self.base.norm(hidden, n, ov)?,
            None => hidden.clone(),
        };
        let qkv = self
            .base
            .lin(&x, layer.wqkv, ov)?
            .reshape((b, l, 3, nh, d))?;
        let part = |i: usize| qkv.narrow(2, i, 1)?.squeeze(2);
        let q = apply_rope(&part(0)?, &rope.0, &rope.1)?.reshape((b, l, h))?;
        let k = apply_rope(&part(1)?, &rope.0, &rope.1)?.reshape((b, l, h))?;
        let v = part(2)?.reshape((b, l, h))?;
        let p_attn = cfg.attention_dropout;
        let drop = match rng.as_deref_mut() {
            Some(r) if p_attn > 0.0 => Some(draw_mask(b * nh * l * l, p_attn, r)),
            _ => None,
        };
        let scale = (d as f64).powf(-0.5);
        let ctx = match (layer.global, window) {
            (false, Some(w)) => masked_attention(&q, &k, &v, w, nh, scale, drop)?,
            _ => ops::attention_with_dropout(&q, &k, &v, key_mask, nh, scale, drop)?,
        };
        let attn = maybe_dropout(self.base.lin(&ctx, layer.attn_out, ov)?, p_attn, rng)?;
        let hidden = (hidden + attn)?;
        let wi = self
            .base
            .lin(&self.base.norm(&hidden, layer.mlp_norm, ov)?, layer.wi, ov)?;
        let i = cfg.intermediate_size;
        let input = wi.narrow(2, 0, i)?;
        let gate = wi.narrow(2, i, i)?;
        let g = (activation(&input, cfg.hidden_activation)? * gate)?;
        let g = maybe_dropout(g, cfg.mlp_dropout, rng)?;
        let mlp = self.base.lin(&g, layer.mlp_out, ov)?;
        Ok((hidden + mlp)?)
    }
}

impl SequenceClassifier for ModernBertForSequenceClassification {
    // Dropout as `ModernBertConfig::dropout` and `set_dropout` read and set it.
    config_plumbing!();

    fn forward_input(
        &self,
        input: &ModelInput,
        mut rng: Option<&mut ChaCha8Rng>,
        ov: Option<&WeightOverrides>,
    ) -> Result<ForwardOutput, ModelError> {
        let cfg = &self.cfg;
        let (attention_mask, b, l) = input.check_padded(&cfg.input_limits(), Family::ModernBert)?;
        let (h, dev, ix) = (cfg.hidden_size, self.base.device(), &self.idx);

        let ids = input.input_ids().flatten_all()?;
        let x = self
            .base
            .weight(ix.tok, ov)?
            .index_select(&ids, 0)?
            .reshape((b, l, h))?;
        let x = self.base.norm(&x, ix.emb_norm, ov)?;
        let mut hidden = maybe_dropout(x, cfg.embedding_dropout, &mut rng)?;

        let mask = attention_mask.to_dtype(DType::F32)?;
        // Additive key mask of the global layers: 0 for real tokens, f32::MIN for padding.
        let key_mask = mask.affine(-(f32::MIN as f64), f32::MIN as f64)?;
        let any_local = ix.layers.iter().any(|layer| !layer.global);
        let window = match any_local {
            true => Some(window_mask(attention_mask, cfg.half_window(), dev)?),
            false => None,
        };
        let d = cfg.head_dim();
        let rope_global = rope_tables(l, d, cfg.global_rope_theta, dev)?;
        let rope_local = rope_tables(l, d, cfg.local_rope_theta, dev)?;

        let mut hidden_states = Vec::with_capacity(ix.layers.len() + 1);
        hidden_states.push(hidden.clone());
        for layer in &ix.layers {
            let rope = if layer.global {
                &rope_global
            } else {
                &rope_local
            };
            hidden = self.layer(
                &hidden,
                layer,
                rope,
                &key_mask,
                window.as_ref(),
                &mut rng,
                ov,
            )?;
            hidden_states.push(hidden.clone());
        }
        // transformers' last hidden state is the final norm's output.
        let last = self.base.norm(&hidden, ix.final_norm, ov)?;
        if let Some(s) = hidden_states.last_mut() {
            *s = last.clone();
        }

        let pooled = match cfg.classifier_pooling {
            Pooling::Cls => last.narrow(1, 0, 1)?.squeeze(1)?,
            Pooling::Mean => last
                .broadcast_mul(&mask.unsqueeze(2)?)?
                .sum(1)?
                .broadcast_div(&mask.sum_keepdim(1)?)?,
        };
        let dense = self.base.lin(&pooled, ix.head_dense, ov)?;
        let pooler_output = self.base.norm(
            &activation(&dense, cfg.classifier_activation)?,
            ix.head_norm,
            ov,
        )?;
        let dropped = maybe_dropout(pooler_output.clone(), cfg.classifier_dropout, &mut rng)?;
        let logits = self.base.lin(&dropped, ix.classifier, ov)?;
        Ok(ForwardOutput {
            hidden_states,
            pooler_output,
            logits,
        })
    }

    fn hf_config(&self) -> Result<Map<String, Value>, ModelError> {
        let mut m = self.cfg.to_map();
        m.entry("model_type")
            .or_insert_with(|| Value::from(Family::ModernBert.model_type()));
        Ok(m)
    }
}

#[cfg(test)]
mod tests;
