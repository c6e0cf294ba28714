//! DeBERTa-v2 and -v3 with the ContextPooler and a sequence-classification head, matching
//! `transformers.DebertaV2ForSequenceClassification` (float32): disentangled relative-position
//! attention (see [`super::deberta_attention`]), optional absolute positions, token types and
//! embedding projection.

use std::collections::HashMap;

use candle_core::{Device, Tensor};
use rand_chacha::ChaCha8Rng;
use serde_json::{Map, Value};

use super::classifier::{
    weight_or_override, ForwardOutput, HeadKind, ModelDropout, SequenceClassifier, WeightOverrides,
};
use super::deberta_attention::{
    disentangled_attention, pair_mask, split_heads, split_positions, AttentionInputs, RelativeIndex,
};
use super::deberta_config::{Activation, DebertaV2Config};
use super::dropout::{draw_mask, maybe_dropout};
use super::family::Family;
use super::init::{self, Init, ParamSpec, Specs};
use super::inputs::{InputLimits, InputShape, ModelInput};
use super::ops;
use super::params::Param;
use super::ModelError;

/// Indices into the sorted parameter list of a Linear or LayerNorm's weight and bias.
#[derive(Debug, Clone, Copy)]
struct Wb {
    w: usize,
    b: usize,
}

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
        let pos: HashMap<&str, usize> = params
            .iter()
            .enumerate()
            .map(|(i, p)| (p.name.as_str(), i))
            .collect();
        // The names come from `param_specs` for the same config, so every lookup succeeds.
        let i = |n: &str| pos[n];
        let opt = |n: &str| pos.get(n).copied();
        let wb = |p: &str| Wb {
            w: i(&format!("{p}.weight")),
            b: i(&format!("{p}.bias")),
        };
        let opt_wb = |p: &str| {
            Some(Wb {
                w: opt(&format!("{p}.weight"))?,
                b: opt(&format!("{p}.bias"))?,
            })
        };
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
    head: HeadKind,
    device: Device,
    params: Vec<Param>,
    idx: ModelIdx,
}

impl DebertaV2ForSequenceClassification {
    fn parse(config: Map<String, Value>, head: HeadKind) -> Result<DebertaV2Config, ModelError> {
        if head.num_outputs() == 0 {
            return Err(ModelError::UnsupportedConfig {
                path: None,
                message: "a classification head needs at least 1 label".into(),
            });
        }
        DebertaV2Config::from_map(config)
    }

    fn assemble(cfg: DebertaV2Config, head: HeadKind, device: &Device, params: Vec<Param>) -> Self {
        let idx = ModelIdx::build(&params, &cfg);
        DebertaV2ForSequenceClassification {
            cfg,
            head,
            device: device.clone(),
            params,
            idx,
        }
    }

    /// Build from `config.json` and named checkpoint tensors (with or without the `deberta.`
    /// prefix; legacy `gamma`/`beta` accepted; buffers and pretraining heads ignored). A
    /// missing pooler or classifier is initialised (N(0, initializer_range²) weights, zero
    /// biases, from a ChaCha8 RNG seeded with `seed`) and its names returned; a missing
    /// encoder tensor or a wrong shape is an error naming it.
    pub fn from_config_and_tensors(
        config: Map<String, Value>,
        head: HeadKind,
        tensors: HashMap<String, Tensor>,
        device: &Device,
        seed: u64,
    ) -> Result<(Self, Vec<String>), ModelError> {
        let cfg = Self::parse(config, head)?;
        let family = Family::DebertaV2;
        let biased = cfg.position_biased_input;
        let by_name =
            init::rename_tensors(tensors, family.base_prefix(), |n| is_ignored(n, biased))?;
        let specs = param_specs(&cfg, head);
        let (params, initialised) = init::params_from_tensors(
            &specs,
            by_name,
            family.head_roots(),
            cfg.initializer_range,
            device,
            seed,
        )?;
        Ok((Self::assemble(cfg, head, device, params), initialised))
    }

    /// A randomly initialised model (`transformers`' scheme: normal weights and embeddings,
    /// the padding row zero, zero biases, unit LayerNorm weights), drawn from a ChaCha8 RNG
    /// seeded with `seed`.
    pub fn random(
        config: Map<String, Value>,
        head: HeadKind,
        device: &Device,
        seed: u64,
    ) -> Result<Self, ModelError> {
        let cfg = Self::parse(config, head)?;
        let specs = param_specs(&cfg, head);
        let params = init::random_params(&specs, cfg.initializer_range, device, seed)?;
        Ok(Self::assemble(cfg, head, device, params))
    }

    /// The configuration (with the current dropout probabilities).
    pub fn config(&self) -> &DebertaV2Config {
        &self.cfg
    }

    fn w<'a>(
        &'a self,
        i: usize,
        ov: Option<&'a WeightOverrides>,
    ) -> Result<&'a Tensor, ModelError> {
        weight_or_override(&self.params, i, ov)
    }

    fn lin(&self, x: &Tensor, wb: Wb, ov: Option<&WeightOverrides>) -> Result<Tensor, ModelError> {
        Ok(ops::linear(x, self.w(wb.w, ov)?, self.w(wb.b, ov)?)?)
    }

    fn norm(&self, x: &Tensor, wb: Wb, ov: Option<&WeightOverrides>) -> Result<Tensor, ModelError> {
        Ok(ops::layer_norm(
            x,
            self.w(wb.w, ov)?,
            self.w(wb.b, ov)?,
            self.cfg.layer_norm_eps,
        )?)
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
            .w(ix.word, ov)?
            .index_select(&input.input_ids().flatten_all()?, 0)?
            .reshape((b, l, e))?;
        if let Some(pos) = ix.pos {
            x = x.broadcast_add(&self.w(pos, ov)?.narrow(0, 0, l)?)?;
        }
        if let Some(tok) = ix.tok {
            let t = self
                .w(tok, ov)?
                .index_select(&input.token_type_ids().flatten_all()?, 0)?;
            x = (x + t.reshape((b, l, e))?)?;
        }
        if let Some(p) = ix.embed_proj {
            let w = self.w(p, ov)?;
            x = x
                .reshape((b * l, e))?
                .matmul(&w.t()?)?
                .reshape((b, l, self.cfg.hidden_size))?;
        }
        let x = self.norm(&x, ix.emb_ln, ov)?;
        let keep = attention_mask.to_dtype(x.dtype())?.reshape((b, l, 1))?;
        Ok(x.broadcast_mul(&keep)?)
    }
}

impl SequenceClassifier for DebertaV2ForSequenceClassification {
    fn family(&self) -> Family {
        Family::DebertaV2
    }

    fn head(&self) -> HeadKind {
        self.head
    }

    fn device(&self) -> &Device {
        &self.device
    }

    fn params(&self) -> &[Param] {
        &self.params
    }

    fn vocab_size(&self) -> usize {
        self.cfg.vocab_size
    }

    fn num_attention_heads(&self) -> usize {
        self.cfg.num_attention_heads
    }

    fn config_dropout(&self) -> ModelDropout {
        ModelDropout {
            hidden: self.cfg.hidden_dropout_prob,
            attention: self.cfg.attention_probs_dropout_prob,
        }
    }

    fn set_dropout(&mut self, p: f64) {
        self.cfg.set_dropout(p);
    }

    fn supports_packed(&self) -> bool {
        false
    }

    fn forward_input(
        &self,
        input: &ModelInput,
        dropout: Option<&mut ChaCha8Rng>,
        overrides: Option<&WeightOverrides>,
    ) -> Result<ForwardOutput, ModelError> {
        let mut rng = dropout;
        let ov = overrides;
        let cfg = &self.cfg;
        let shape = input.check(&InputLimits {
            vocab_size: cfg.vocab_size,
            max_len: cfg
                .position_biased_input
                .then_some(cfg.max_position_embeddings),
            type_vocab_size: (cfg.type_vocab_size > 0).then_some(cfg.type_vocab_size),
        })?;
        let (attention_mask, b, l) = match (input, shape) {
            (ModelInput::Padded { attention_mask, .. }, InputShape::Padded { b, l }) => {
                (*attention_mask, b, l)
            }
            _ => {
                return Err(ModelError::Input(
                    "DeBERTa-v2 runs on padded batches only; pad the sequences (packed \
                     batches are not supported for this family)"
                        .into(),
                ))
            }
        };
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
                let r = self.w(r, ov)?.clone();
                Some(match ix.rel_ln {
                    Some(ln) => self.norm(&r, ln, ov)?,
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
                &self.device,
            )?),
            _ => None,
        };
        let scale = 1.0 / ((cfg.head_dim() * cfg.scale_factor()) as f64).sqrt();
        let num_probs = nh * b * l * l;

        for layer in &ix.layers {
            let q = split_heads(&self.lin(&hidden, layer.q, ov)?, nh)?;
            let k = split_heads(&self.lin(&hidden, layer.k, ov)?, nh)?;
            let v = split_heads(&self.lin(&hidden, layer.v, ov)?, nh)?;
            let (mut pos_key, mut pos_query) = (None, None);
            if let Some(r) = &rel {
                let r = maybe_dropout(r.clone(), p_hidden, &mut rng)?;
                if cfg.c2p {
                    let proj = layer.pos_key.unwrap_or(layer.k);
                    pos_key = Some(split_positions(&self.lin(&r, proj, ov)?, nh)?);
                }
                if cfg.p2c {
                    let proj = layer.pos_query.unwrap_or(layer.q);
                    pos_query = Some(split_positions(&self.lin(&r, proj, ov)?, nh)?);
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
            let attn = self.lin(&ctx, layer.o, ov)?;
            let attn = maybe_dropout(attn, p_hidden, &mut rng)?;
            let a = self.norm(&(attn + &hidden)?, layer.attn_ln, ov)?;
            let f = activate(&self.lin(&a, layer.ffn_in, ov)?, cfg.hidden_act)?;
            let f = self.lin(&f, layer.ffn_out, ov)?;
            let f = maybe_dropout(f, p_hidden, &mut rng)?;
            hidden = self.norm(&(f + &a)?, layer.out_ln, ov)?;
            hidden_states.push(hidden.clone());
        }

        // ContextPooler: the first token, dropout, dense, activation; then the classifier.
        let first = hidden.narrow(1, 0, 1)?.squeeze(1)?;
        let first = maybe_dropout(first, cfg.pooler_dropout, &mut rng)?;
        let pooler_output = activate(&self.lin(&first, ix.pooler, ov)?, cfg.pooler_hidden_act)?;
        let pooled = maybe_dropout(pooler_output.clone(), cfg.classifier_dropout(), &mut rng)?;
        let logits = self.lin(&pooled, ix.classifier, ov)?;
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
mod tests {
    use super::*;
    use candle_core::{DType, Var};
    use rand::SeedableRng;
    use serde_json::json;

    /// A DeBERTa-v3-like config: buckets, shared keys, LayerNorm on the relative embeddings.
    fn v3_config() -> Map<String, Value> {
        json!({
            "model_type": "deberta-v2",
            "_name_or_path": "tiny-v3",
            "vocab_size": 50, "hidden_size": 16, "num_hidden_layers": 2,
            "num_attention_heads": 2, "intermediate_size": 32, "max_position_embeddings": 32,
            "relative_attention": true, "position_buckets": 4, "norm_rel_ebd": "layer_norm",
            "share_att_key": true, "pos_att_type": ["p2c", "c2p"],
            "position_biased_input": false, "type_vocab_size": 0,
            "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1
        })
        .as_object()
        .unwrap()
        .clone()
    }

    fn with(mut c: Map<String, Value>, key: &str, v: Value) -> Map<String, Value> {
        c.insert(key.into(), v);
        c
    }

    const HEAD: HeadKind = HeadKind::Classification { num_labels: 2 };

    fn model(c: Map<String, Value>) -> DebertaV2ForSequenceClassification {
        DebertaV2ForSequenceClassification::random(c, HEAD, &Device::Cpu, 3).unwrap()
    }

    fn names(m: &DebertaV2ForSequenceClassification) -> Vec<String> {
        m.params().iter().map(|p| p.name.clone()).collect()
    }

    fn ids(rows: &[&[u32]]) -> Tensor {
        let l = rows.iter().map(|r| r.len()).max().unwrap();
        let data: Vec<u32> = rows
            .iter()
            .flat_map(|r| r.iter().copied().chain(std::iter::repeat_n(0, l - r.len())))
            .collect();
        Tensor::from_vec(data, (rows.len(), l), &Device::Cpu).unwrap()
    }

    fn run(
        m: &DebertaV2ForSequenceClassification,
        input_ids: &Tensor,
        rng: Option<&mut ChaCha8Rng>,
        ov: Option<&WeightOverrides>,
    ) -> Result<ForwardOutput, ModelError> {
        let mask = input_ids.ne(0u32).unwrap().to_dtype(DType::U32).unwrap();
        let tt = input_ids.zeros_like().unwrap();
        let input = ModelInput::Padded {
            input_ids,
            token_type_ids: &tt,
            attention_mask: &mask,
        };
        m.forward_input(&input, rng, ov)
    }

    #[test]
    fn random_is_deterministic_sorted_and_follows_the_config() {
        let a = model(v3_config());
        let b = model(v3_config());
        assert_eq!(names(&a), names(&b));
        for (x, y) in a.params().iter().zip(b.params()) {
            let d = (x.var.as_tensor() - y.var.as_tensor())
                .unwrap()
                .abs()
                .unwrap();
            assert_eq!(d.max_all().unwrap().to_scalar::<f32>().unwrap(), 0.0);
        }
        let n = names(&a);
        let mut sorted = n.clone();
        sorted.sort();
        assert_eq!(n, sorted);
        // 3 embedding + 3 encoder + 16 per layer + 4 head.
        assert_eq!(n.len(), 3 + 3 + 2 * 16 + 4);
        let rel = a.param("encoder.rel_embeddings.weight").unwrap();
        assert_eq!(rel.var.as_tensor().dims(), [8, 16]);
        assert!(a.param("encoder.LayerNorm.weight").is_some());
        assert!(a.param("embeddings.position_embeddings.weight").is_none());
        let pad = a
            .param("embeddings.word_embeddings.weight")
            .unwrap()
            .var
            .as_tensor();
        let pad = pad.get(0).unwrap().abs().unwrap().sum_all().unwrap();
        assert_eq!(pad.to_scalar::<f32>().unwrap(), 0.0);
    }

    #[test]
    fn options_add_their_parameters() {
        let c = with(v3_config(), "share_att_key", json!(false));
        let c = with(c, "pos_att_type", json!("P2C|c2p"));
        let c = with(c, "position_biased_input", json!(true));
        let c = with(c, "type_vocab_size", json!(2));
        let c = with(c, "embedding_size", json!(8));
        let c = with(c, "position_buckets", json!(-1));
        let c = with(c, "max_relative_positions", json!(6));
        let m = model(c);
        let n = names(&m);
        for want in [
            "encoder.layer.1.attention.self.pos_key_proj.weight",
            "encoder.layer.1.attention.self.pos_query_proj.bias",
            "embeddings.position_embeddings.weight",
            "embeddings.token_type_embeddings.weight",
            "embeddings.embed_proj.weight",
        ] {
            assert!(n.iter().any(|x| x == want), "{want} missing from {n:?}");
        }
        assert!(!n.iter().any(|x| x == "embeddings.embed_proj.bias"));
        let rel = m.param("encoder.rel_embeddings.weight").unwrap();
        assert_eq!(rel.var.as_tensor().dims(), [12, 16]);
        assert_eq!(m.config().scale_factor(), 3);
        let x = ids(&[&[5, 6, 7, 8, 9, 10, 11, 12, 13, 14], &[3, 4]]);
        assert_eq!(run(&m, &x, None, None).unwrap().logits.dims(), [2, 2]);

        // c2p only: no pos_query_proj, scores divided by √(2d).
        let c = with(v3_config(), "share_att_key", json!(false));
        let m = model(with(c, "pos_att_type", json!(["c2p"])));
        let n = names(&m);
        assert!(n.iter().any(|x| x.contains("pos_key_proj")));
        assert!(!n.iter().any(|x| x.contains("pos_query_proj")));
        assert_eq!(m.config().scale_factor(), 2);

        // Without relative attention: no relative embeddings, still runs.
        let m = model(with(v3_config(), "relative_attention", json!(false)));
        assert!(m.param("encoder.rel_embeddings.weight").is_none());
        assert!(run(&m, &x, None, None).is_ok());
    }

    #[test]
    fn unsupported_configs_name_the_key() {
        let cases = [
            ("conv_kernel_size", json!(3)),
            ("pooler_hidden_size", json!(8)),
            ("attention_head_size", json!(4)),
            ("hidden_act", json!("swish")),
            ("pooler_hidden_act", json!("silu_x")),
            ("num_attention_heads", json!(3)),
            ("position_buckets", json!(1)),
            ("share_att_key", json!("yes")),
            ("pos_att_type", json!(7)),
        ];
        for (key, v) in cases {
            let e = DebertaV2ForSequenceClassification::random(
                with(v3_config(), key, v),
                HEAD,
                &Device::Cpu,
                1,
            )
            .err()
            .unwrap_or_else(|| panic!("{key} accepted"));
            assert!(matches!(e, ModelError::UnsupportedConfig { .. }), "{e}");
            let msg = e.to_string();
            let named =
                msg.contains(key) || (key == "num_attention_heads" && msg.contains("heads"));
            assert!(named, "{key}: {msg}");
        }
    }

    #[test]
    fn hf_config_keeps_every_key_with_the_current_dropout() {
        let mut m = model(with(v3_config(), "cls_dropout", json!(0.3)));
        assert_eq!(m.config_dropout().hidden, 0.1);
        assert_eq!(m.config().classifier_dropout(), 0.3);
        m.set_dropout(0.2);
        let c = m.hf_config().unwrap();
        assert_eq!(c["_name_or_path"], json!("tiny-v3"));
        assert_eq!(c["position_buckets"], json!(4));
        for k in [
            "hidden_dropout_prob",
            "attention_probs_dropout_prob",
            "pooler_dropout",
            "cls_dropout",
        ] {
            assert_eq!(c[k], json!(0.2), "{k}");
        }
        let again = model(c);
        assert_eq!(names(&again), names(&m));
        assert_eq!(again.config_dropout().attention, 0.2);
    }

    #[test]
    fn checkpoint_tensors_load_and_a_missing_head_is_initialised() {
        let src = model(v3_config());
        let mut tensors: HashMap<String, Tensor> = src
            .params()
            .iter()
            .filter(|p| !p.name.starts_with("pooler.") && !p.name.starts_with("classifier."))
            .map(|p| (format!("deberta.{}", p.name), p.var.as_tensor().clone()))
            .collect();
        tensors.insert(
            "deberta.embeddings.position_ids".into(),
            Tensor::zeros(4, DType::U32, &Device::Cpu).unwrap(),
        );
        let (m, init) = DebertaV2ForSequenceClassification::from_config_and_tensors(
            v3_config(),
            HEAD,
            tensors.clone(),
            &Device::Cpu,
            9,
        )
        .unwrap();
        assert_eq!(
            init,
            [
                "classifier.bias",
                "classifier.weight",
                "pooler.dense.bias",
                "pooler.dense.weight"
            ]
        );
        let name = "encoder.layer.0.attention.self.key_proj.weight";
        let d = (m.param(name).unwrap().var.as_tensor() - src.param(name).unwrap().var.as_tensor())
            .unwrap()
            .abs()
            .unwrap()
            .max_all()
            .unwrap();
        assert_eq!(d.to_scalar::<f32>().unwrap(), 0.0);
        tensors.remove("deberta.encoder.rel_embeddings.weight");
        let e = DebertaV2ForSequenceClassification::from_config_and_tensors(
            v3_config(),
            HEAD,
            tensors,
            &Device::Cpu,
            9,
        )
        .err()
        .unwrap();
        assert!(
            e.to_string().contains("encoder.rel_embeddings.weight"),
            "{e}"
        );
    }

    #[test]
    fn overrides_replace_weights_and_receive_gradients() {
        let m = model(v3_config());
        let x = ids(&[&[5, 6, 7, 8, 9], &[3, 4, 2]]);
        for name in [
            "encoder.layer.1.attention.self.key_proj.weight",
            "encoder.rel_embeddings.weight",
            "pooler.dense.weight",
        ] {
            let w = m.param(name).unwrap().var.as_tensor();
            // Not a per-row scale or shift, which the LayerNorm on the relative embeddings
            // would undo.
            let changed = ((w * 2.0).unwrap() + (w.sqr().unwrap() * 50.0).unwrap()).unwrap();
            let ov_t = Var::from_tensor(&changed).unwrap();
            let mut ov = WeightOverrides::new();
            ov.insert(name.to_string(), ov_t.as_tensor().clone());
            let out = run(&m, &x, None, Some(&ov)).unwrap();
            let base = run(&m, &x, None, None).unwrap();
            assert_ne!(
                out.logits.to_vec2::<f32>().unwrap(),
                base.logits.to_vec2::<f32>().unwrap(),
                "{name}"
            );
            let labels = Tensor::new(&[0u32, 1], &Device::Cpu).unwrap();
            let grads = m.loss(&out.logits, &labels).unwrap().backward().unwrap();
            assert!(grads.get(ov_t.as_tensor()).is_some(), "{name}");
            assert!(grads.get(m.param(name).unwrap().var.as_tensor()).is_none());
            ov.insert(
                name.to_string(),
                Tensor::zeros((2, 2), DType::F32, &Device::Cpu).unwrap(),
            );
            let e = run(&m, &x, None, Some(&ov)).unwrap_err();
            assert!(e.to_string().contains(name), "{e}");
        }
    }

    #[test]
    fn dropout_is_seeded_and_zero_dropout_draws_nothing() {
        let mut m = model(v3_config());
        let x = ids(&[&[5, 6, 7, 8, 9], &[3, 4, 2]]);
        let eval = run(&m, &x, None, None)
            .unwrap()
            .logits
            .to_vec2::<f32>()
            .unwrap();
        let train = |m: &DebertaV2ForSequenceClassification, seed| {
            let mut r = ChaCha8Rng::seed_from_u64(seed);
            run(m, &x, Some(&mut r), None)
                .unwrap()
                .logits
                .to_vec2::<f32>()
                .unwrap()
        };
        assert_eq!(train(&m, 5), train(&m, 5));
        assert_ne!(train(&m, 5), eval);
        m.set_dropout(0.0);
        let mut r = ChaCha8Rng::seed_from_u64(5);
        let before = r.clone();
        let t = run(&m, &x, Some(&mut r), None).unwrap().logits;
        assert_eq!(r, before);
        assert_eq!(t.to_vec2::<f32>().unwrap(), eval);
    }

    #[test]
    fn input_limits_follow_the_positions() {
        // Relative positions only: longer than max_position_embeddings (32) is fine.
        let m = model(v3_config());
        let long: Vec<u32> = (0..40).map(|i| 3 + i % 40).collect();
        let x = ids(&[&long]);
        assert!(run(&m, &x, None, None).is_ok());
        assert!(!m.supports_packed());
        // Absolute positions: the limit is max_position_embeddings.
        let m = model(with(v3_config(), "position_biased_input", json!(true)));
        let e = run(&m, &x, None, None).unwrap_err();
        assert!(e.to_string().contains("max_position_embeddings"), "{e}");
        let bad = ids(&[&[5, 60]]);
        let e = run(&m, &bad, None, None).unwrap_err();
        assert!(e.to_string().contains("60"), "{e}");
        let tokens = Tensor::new(&[5u32, 6], &Device::Cpu).unwrap();
        let packed = ModelInput::Packed {
            input_ids: &tokens,
            token_type_ids: &tokens.zeros_like().unwrap(),
            offsets: &[0, 2],
        };
        let e = m.forward_input(&packed, None, None).unwrap_err();
        assert!(e.to_string().contains("padded"), "{e}");
    }

    #[test]
    fn regression_head_has_one_output() {
        let m = DebertaV2ForSequenceClassification::random(
            v3_config(),
            HeadKind::Regression,
            &Device::Cpu,
            1,
        )
        .unwrap();
        assert_eq!(
            m.param("classifier.weight").unwrap().var.as_tensor().dims(),
            [1, 16]
        );
        let x = ids(&[&[5, 6, 7]]);
        assert_eq!(run(&m, &x, None, None).unwrap().logits.dims(), [1, 1]);
    }
}
