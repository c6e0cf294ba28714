//! DeBERTa-v2 and -v3 with the ContextPooler and a sequence-classification head, matching
//! `transformers.DebertaV2ForSequenceClassification` (float32): disentangled relative-position
//! attention (see [`attention`]), optional absolute positions, token types and
//! embedding projection.

use candle_core::Tensor;
use rand_chacha::ChaCha8Rng;
use serde_json::{Map, Value};

pub mod attention;
pub mod config;

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
use attention::{
    disentangled_attention, pair_mask, split_heads, split_positions, AttentionInputs, RelativeIndex,
};
use config::{Activation, DebertaV2Config};

#[derive(Debug, Clone)]
struct LayerIdx {
    q: Wb,
    k: Wb,
    v: Wb,
    /// `pos_key_proj` (c2p without shared keys).
    pos_key: Option<Wb>,
    /// `pos_query_proj` (p2c without shared keys).
    pos_query: Option<Wb>,
    o: Wb,
    attn_ln: Wb,
    ffn_in: Wb,
    ffn_out: Wb,
    out_ln: Wb,
}

#[derive(Debug, Clone)]
struct ModelIdx {
    word: usize,
    pos: Option<usize>,
    tok: Option<usize>,
    embed_proj: Option<usize>,
    emb_ln: Wb,
    rel: Option<usize>,
    rel_ln: Option<Wb>,
    layers: Vec<LayerIdx>,
    pooler: Wb,
    classifier: Wb,
}

/// Every parameter of the model for this configuration and head, sorted by name.
fn param_specs(cfg: &DebertaV2Config, head: HeadKind) -> Vec<ParamSpec> {
    let h = cfg.hidden_size;
    let e = cfg.embedding_size;
    let mut s = Specs::default();
    let pad_row = cfg.pad_token_id.filter(|&p| p < cfg.vocab_size);
    s.add(
        "embeddings.word_embeddings.weight",
        vec![cfg.vocab_size, e],
        Init::Embedding { pad_row },
    );
    if cfg.position_biased_input {
        s.add(
            "embeddings.position_embeddings.weight",
            vec![cfg.max_position_embeddings, e],
            Init::Normal,
        );
    }
    if cfg.type_vocab_size > 0 {
        s.add(
            "embeddings.token_type_embeddings.weight",
            vec![cfg.type_vocab_size, e],
            Init::Normal,
        );
    }
    if e != h {
        s.linear("embeddings.embed_proj", h, e, false);
    }
    s.norm("embeddings.LayerNorm", h, true);
    if cfg.relative_attention {
        s.add(
            "encoder.rel_embeddings.weight",
            vec![2 * cfg.att_span(), h],
            Init::Normal,
        );
    }
    if cfg.norm_rel_ebd {
        s.norm("encoder.LayerNorm", h, true);
    }
    for l in 0..cfg.num_hidden_layers {
        let p = format!("encoder.layer.{l}");
        for m in ["query_proj", "key_proj", "value_proj"] {
            s.linear(&format!("{p}.attention.self.{m}"), h, h, true);
        }
        if cfg.relative_attention && !cfg.share_att_key {
            if cfg.c2p {
                s.linear(&format!("{p}.attention.self.pos_key_proj"), h, h, true);
            }
            if cfg.p2c {
                s.linear(&format!("{p}.attention.self.pos_query_proj"), h, h, true);
            }
        }
        s.linear(&format!("{p}.attention.output.dense"), h, h, true);
        s.norm(&format!("{p}.attention.output.LayerNorm"), h, true);
        s.linear(
            &format!("{p}.intermediate.dense"),
            cfg.intermediate_size,
            h,
            true,
        );
        s.linear(&format!("{p}.output.dense"), h, cfg.intermediate_size, true);
        s.norm(&format!("{p}.output.LayerNorm"), h, true);
    }
    s.linear("pooler.dense", h, h, true);
    s.linear("classifier", head.num_outputs(), h, true);
    s.sorted()
}

impl ModelIdx {
    fn build(params: &[Param], cfg: &DebertaV2Config) -> Self {
        // The names come from `param_specs` for the same config, so every lookup succeeds.
        let names = ParamIndex::new(params);
        let i = |n: &str| names.get(n);
        let opt = |n: &str| names.opt(n);
        let wb = |p: &str| names.wb(p);
        let opt_wb = |p: &str| names.opt_wb(p);
        ModelIdx {
            word: i("embeddings.word_embeddings.weight"),
            pos: opt("embeddings.position_embeddings.weight"),
            tok: opt("embeddings.token_type_embeddings.weight"),
            embed_proj: opt("embeddings.embed_proj.weight"),
            emb_ln: wb("embeddings.LayerNorm"),
            rel: opt("encoder.rel_embeddings.weight"),
            rel_ln: opt_wb("encoder.LayerNorm"),
            layers: (0..cfg.num_hidden_layers)
                .map(|l| {
                    let p = format!("encoder.layer.{l}");
                    LayerIdx {
                        q: wb(&format!("{p}.attention.self.query_proj")),
                        k: wb(&format!("{p}.attention.self.key_proj")),
                        v: wb(&format!("{p}.attention.self.value_proj")),
                        pos_key: opt_wb(&format!("{p}.attention.self.pos_key_proj")),
                        pos_query: opt_wb(&format!("{p}.attention.self.pos_query_proj")),
                        o: wb(&format!("{p}.attention.output.dense")),
                        attn_ln: wb(&format!("{p}.attention.output.LayerNorm")),
                        ffn_in: wb(&format!("{p}.intermediate.dense")),
                        ffn_out: wb(&format!("{p}.output.dense")),
                        out_ln: wb(&format!("{p}.output.LayerNorm")),
                    }
                })
                .collect(),
            pooler: wb("pooler.dense"),
            classifier: wb("classifier"),
        }
    }
}

/// Apply an activation named by the config.
fn activate(x: &Tensor, act: Activation) -> candle_core::Result<Tensor> {
    match act {
        Activation::GeluErf => ops::gelu_erf(x),
        Activation::GeluTanh => x.gelu(),
        Activation::Relu => x.relu(),
        Activation::Tanh => x.tanh(),
    }
}

/// Checkpoint tensors the model does not use and need no warning: buffers, the pretraining
/// heads, and absolute positions when the config does not add them (`transformers` ignores
/// those too).
fn is_ignored(name: &str, position_biased_input: bool) -> bool {
    name.ends_with("position_ids")
        || name.starts_with("lm_predictions.")
        || name.starts_with("mask_predictions.")
        || name.starts_with("cls.")
        || (!position_biased_input && name == "embeddings.position_embeddings.weight")
}

/// DeBERTa-v2/-v3 encoder + ContextPooler + classification (or regression) head; every weight
/// is a trainable [`candle_core::Var`]. Parameter names are `transformers`' without the
/// `deberta.` prefix.
pub struct DebertaV2ForSequenceClassification {
    cfg: DebertaV2Config,
    base: ModelBase,
    idx: ModelIdx,
}

impl Build for DebertaV2ForSequenceClassification {
    type Config = DebertaV2Config;

    fn base_config(cfg: &DebertaV2Config) -> BaseConfig {
        BaseConfig {
            family: Family::DebertaV2,
            initializer_range: cfg.initializer_range,
            vocab_size: cfg.vocab_size,
            num_attention_heads: cfg.num_attention_heads,
            layer_norm_eps: cfg.layer_norm_eps,
            packed: false,
        }
    }

    fn specs(cfg: &DebertaV2Config, head: HeadKind) -> Vec<ParamSpec> {
        param_specs(cfg, head)
    }

    fn is_ignored(cfg: &DebertaV2Config, name: &str) -> bool {
        is_ignored(name, cfg.position_biased_input)
    }

    fn assemble(cfg: DebertaV2Config, base: ModelBase) -> Self {
        let idx = ModelIdx::build(base.params(), &cfg);
        DebertaV2ForSequenceClassification { cfg, base, idx }
    }
}

base::constructors_from_map!(
    DebertaV2ForSequenceClassification,
    DebertaV2Config,
    concat!(
        "Build from `config.json` and named checkpoint tensors (with or without the `deberta.` ",
        "prefix; legacy `gamma`/`beta` accepted; buffers and pretraining heads ignored). A ",
        "missing pooler or classifier is initialised (N(0, initializer_range²) weights, zero ",
        "biases, from a ChaCha8 RNG seeded with `seed`) and its names returned; a missing ",
        "encoder tensor or a wrong shape is an error naming it.",
    ),
    concat!(
        "A randomly initialised model (`transformers`' scheme: normal weights and embeddings, ",
        "the padding row zero, zero biases, unit LayerNorm weights), drawn from a ChaCha8 RNG ",
        "seeded with `seed`.",
    ),
);

impl DebertaV2ForSequenceClassification {
    /// The configuration (with the current dropout probabilities).
    pub fn config(&self) -> &DebertaV2Config {
        &self.cfg
    }

    /// `DebertaV2Embeddings`: word (+ absolute position) (+ token type) embeddings, the
    /// projection to `hidden_size`, LayerNorm, zero at padded positions. `[B, L, H]`.
    fn embeddings(
        &self,
        input: &ModelInput,
        attention_mask: &Tensor,
        b: usize,
        l: usize,
        ov: Option<&WeightOverrides>,
    ) -> Result<Tensor, ModelError> {
        let ix = &self.idx;
        let e = self.cfg.embedding_size;
        let mut x = self
            .base
            .weight(ix.word, ov)?
            .index_select(&input.input_ids().flatten_all()?, 0)?
            .reshape((b, l, e))?;
        if let Some(pos) = ix.pos {
            x = x.broadcast_add(&self.base.weight(pos, ov)?.narrow(0, 0, l)?)?;
        }
        if let Some(tok) = ix.tok {
            let t = self
                .base
                .weight(tok, ov)?
                .index_select(&input.token_type_ids().flatten_all()?, 0)?;
            x = (x + t.reshape((b, l, e))?)?;
        }
        if let Some(p) = ix.embed_proj {
            let w = self.base.weight(p, ov)?;
            x = x
                .reshape((b * l, e))?
                .matmul(&w.t()?)?
                .reshape((b, l, self.cfg.hidden_size))?;
        }
        let x = self.base.norm(&x, ix.emb_ln, ov)?;
        let keep = attention_mask.to_dtype(x.dtype())?.reshape((b, l, 1))?;
        Ok(x.broadcast_mul(&keep)?)
    }
}

impl SequenceClassifier for DebertaV2ForSequenceClassification {
    config_plumbing!();

    fn forward_input(
        &self,
        input: &ModelInput,
        mut rng: Option<&mut ChaCha8Rng>,
        ov: Option<&WeightOverrides>,
    ) -> Result<ForwardOutput, ModelError> {
        let cfg = &self.cfg;
        let (attention_mask, b, l) = input.check_padded(&cfg.input_limits(), Family::DebertaV2)?;
        let nh = cfg.num_attention_heads;
        let p_hidden = cfg.hidden_dropout_prob;
        let p_attn = cfg.attention_probs_dropout_prob;
        let ix = &self.idx;

        let x = self.embeddings(input, attention_mask, b, l, ov)?;
        let mut hidden = maybe_dropout(x, p_hidden, &mut rng)?;
        let mut hidden_states = Vec::with_capacity(cfg.num_hidden_layers + 1);
        hidden_states.push(hidden.clone());

        let mask = pair_mask(attention_mask)?;
        let rel = match ix.rel {
            Some(r) => {
                let r = self.base.weight(r, ov)?.clone();
                Some(match ix.rel_ln {
                    Some(ln) => self.base.norm(&r, ln, ov)?,
                    None => r,
                })
            }
            None => None,
        };
        let index = match &rel {
            Some(_) if cfg.c2p || cfg.p2c => Some(RelativeIndex::new(
                b,
                l,
                cfg.att_span(),
                cfg.position_buckets,
                cfg.max_relative_positions,
                self.base.device(),
            )?),
            _ => None,
        };
        let scale = 1.0 / ((cfg.head_dim() * cfg.scale_factor()) as f64).sqrt();
        let num_probs = nh * b * l * l;

        for layer in &ix.layers {
            let q = split_heads(&self.base.lin(&hidden, layer.q, ov)?, nh)?;
            let k = split_heads(&self.base.lin(&hidden, layer.k, ov)?, nh)?;
            let v = split_heads(&self.base.lin(&hidden, layer.v, ov)?, nh)?;
            let (mut pos_key, mut pos_query) = (None, None);
            if let Some(r) = &rel {
                let r = maybe_dropout(r.clone(), p_hidden, &mut rng)?;
                if cfg.c2p {
                    let proj = layer.pos_key.unwrap_or(layer.k);
                    pos_key = Some(split_positions(&self.base.lin(&r, proj, ov)?, nh)?);
                }
                if cfg.p2c {
                    let proj = layer.pos_query.unwrap_or(layer.q);
                    pos_query = Some(split_positions(&self.base.lin(&r, proj, ov)?, nh)?);
                }
            }
            let drop = match rng.as_deref_mut() {
                Some(r) if p_attn > 0.0 => Some(draw_mask(num_probs, p_attn, r)),
                _ => None,
            };
            let ctx = disentangled_attention(AttentionInputs {
                q: &q,
                k: &k,
                v: &v,
                pos_key: pos_key.as_ref(),
                pos_query: pos_query.as_ref(),
                index: index.as_ref(),
                mask: &mask,
                scale,
                dropout: drop,
            })?;
            let attn = self.base.lin(&ctx, layer.o, ov)?;
            let attn = maybe_dropout(attn, p_hidden, &mut rng)?;
            let a = self.base.norm(&(attn + &hidden)?, layer.attn_ln, ov)?;
            let f = activate(&self.base.lin(&a, layer.ffn_in, ov)?, cfg.hidden_act)?;
            let f = self.base.lin(&f, layer.ffn_out, ov)?;
            let f = maybe_dropout(f, p_hidden, &mut rng)?;
            hidden = self.base.norm(&(f + &a)?, layer.out_ln, ov)?;
            hidden_states.push(hidden.clone());
        }

        // ContextPooler: the first token, dropout, dense, activation; then the classifier.
        let first = hidden.narrow(1, 0, 1)?.squeeze(1)?;
        let first = maybe_dropout(first, cfg.pooler_dropout, &mut rng)?;
        let pooler_output = activate(
            &self.base.lin(&first, ix.pooler, ov)?,
            cfg.pooler_hidden_act,
        )?;
        let pooled = maybe_dropout(pooler_output.clone(), cfg.classifier_dropout(), &mut rng)?;
        let logits = self.base.lin(&pooled, ix.classifier, ov)?;
        Ok(ForwardOutput {
            hidden_states,
            pooler_output,
            logits,
        })
    }

    fn hf_config(&self) -> Result<Map<String, Value>, ModelError> {
        Ok(self.cfg.to_map())
    }
}

#[cfg(test)]
mod tests;
