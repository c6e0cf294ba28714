//! The Hugging Face `DebertaV2Config` (the `config.json` of a DeBERTa-v2 or -v3 checkpoint),
//! read with `transformers`' defaults for absent keys.

use serde_json::{Map, Value};

use crate::model::classifier::ModelDropout;
use crate::model::inputs::InputLimits;
use crate::model::ModelError;

/// An activation function `config.json` names (`hidden_act`, `pooler_hidden_act`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    /// `gelu`: exact, `0.5 · x · (1 + erf(x / √2))`.
    GeluErf,
    /// `gelu_new`, `gelu_pytorch_tanh`: the tanh approximation.
    GeluTanh,
    /// `relu`.
    Relu,
    /// `tanh`.
    Tanh,
}

impl Activation {
    /// The activation `transformers`' `ACT2FN` maps this name to, when supported.
    pub fn from_name(name: &str) -> Option<Activation> {
        match name {
            "gelu" => Some(Activation::GeluErf),
            "gelu_new" | "gelu_pytorch_tanh" => Some(Activation::GeluTanh),
            "relu" => Some(Activation::Relu),
            "tanh" => Some(Activation::Tanh),
            _ => None,
        }
    }
}

/// The fields of a `DebertaV2Config` that define the model. The whole `config.json` object is
/// kept in [`DebertaV2Config::raw`] so that a saved checkpoint writes it back.
#[derive(Debug, Clone)]
pub struct DebertaV2Config {
    /// Rows of the word-embedding table.
    pub vocab_size: usize,
    /// Width of every hidden state.
    pub hidden_size: usize,
    /// Width of the embedding tables (`embedding_size`, default `hidden_size`); when it
    /// differs, `embeddings.embed_proj` maps the embeddings to `hidden_size`.
    pub embedding_size: usize,
    /// Number of transformer layers.
    pub num_hidden_layers: usize,
    /// Attention heads per layer (must divide `hidden_size`).
    pub num_attention_heads: usize,
    /// Width of the feed-forward layer.
    pub intermediate_size: usize,
    /// The feed-forward activation.
    pub hidden_act: Activation,
    /// Dropout on embeddings, sub-layer outputs and the relative embeddings.
    pub hidden_dropout_prob: f64,
    /// Dropout on the attention probabilities.
    pub attention_probs_dropout_prob: f64,
    /// Rows of the absolute position table, and the default range of relative positions.
    pub max_position_embeddings: usize,
    /// Rows of the token-type table (0: no token types).
    pub type_vocab_size: usize,
    /// Standard deviation of the normal initialisation of new weights.
    pub initializer_range: f64,
    /// Epsilon of every LayerNorm.
    pub layer_norm_eps: f64,
    /// The padding token (its embedding row is zero in a fresh model).
    pub pad_token_id: Option<usize>,
    /// Whether attention has the disentangled relative-position terms.
    pub relative_attention: bool,
    /// `max_relative_positions`, or `max_position_embeddings` when it is below 1.
    pub max_relative_positions: usize,
    /// `position_buckets` when positive (log buckets), else `None`.
    pub position_buckets: Option<usize>,
    /// Whether absolute position embeddings are added to the input (DeBERTa-v3: false).
    pub position_biased_input: bool,
    /// Content-to-position attention (`"c2p"` in `pos_att_type`).
    pub c2p: bool,
    /// Position-to-content attention (`"p2c"` in `pos_att_type`).
    pub p2c: bool,
    /// Whether the relative embeddings go through the content query/key projections
    /// (otherwise `pos_key_proj` / `pos_query_proj` of their own).
    pub share_att_key: bool,
    /// Whether the relative embeddings go through `encoder.LayerNorm` (`norm_rel_ebd`
    /// contains `layer_norm`).
    pub norm_rel_ebd: bool,
    /// The activation after `pooler.dense`.
    pub pooler_hidden_act: Activation,
    /// Dropout on the first token before `pooler.dense`.
    pub pooler_dropout: f64,
    /// Dropout before the classifier: `cls_dropout`, or `hidden_dropout_prob` when absent.
    pub cls_dropout: Option<f64>,
    /// The whole `config.json` object as loaded.
    pub raw: Map<String, Value>,
}

/// An unsupported or ill-typed config value.
fn bad(message: String) -> ModelError {
    ModelError::UnsupportedConfig {
        path: None,
        message,
    }
}

fn get_usize(c: &Map<String, Value>, key: &str, default: usize) -> Result<usize, ModelError> {
    match c.get(key) {
        None | Some(Value::Null) => Ok(default),
        Some(v) => v
            .as_u64()
            .map(|n| n as usize)
            .ok_or_else(|| bad(format!("`{key}` is {v}, but it must be a whole number ≥ 0"))),
    }
}

fn get_i64(c: &Map<String, Value>, key: &str, default: i64) -> Result<i64, ModelError> {
    match c.get(key) {
        None | Some(Value::Null) => Ok(default),
        Some(v) => v
            .as_i64()
            .ok_or_else(|| bad(format!("`{key}` is {v}, but it must be a whole number"))),
    }
}

fn get_f64(c: &Map<String, Value>, key: &str, default: f64) -> Result<f64, ModelError> {
    match c.get(key) {
        None | Some(Value::Null) => Ok(default),
        Some(v) => v
            .as_f64()
            .ok_or_else(|| bad(format!("`{key}` is {v}, but it must be a number"))),
    }
}

fn get_bool(c: &Map<String, Value>, key: &str, default: bool) -> Result<bool, ModelError> {
    match c.get(key) {
        None | Some(Value::Null) => Ok(default),
        Some(v) => v
            .as_bool()
            .ok_or_else(|| bad(format!("`{key}` is {v}, but it must be true or false"))),
    }
}

fn get_str<'a>(
    c: &'a Map<String, Value>,
    key: &str,
    default: &'a str,
) -> Result<&'a str, ModelError> {
    match c.get(key) {
        None | Some(Value::Null) => Ok(default),
        Some(v) => v
            .as_str()
            .ok_or_else(|| bad(format!("`{key}` is {v}, but it must be a string"))),
    }
}

fn get_activation(c: &Map<String, Value>, key: &str) -> Result<Activation, ModelError> {
    let name = get_str(c, key, "gelu")?;
    Activation::from_name(name).ok_or_else(|| {
        bad(format!(
            "`{key}` is {name:?}; the supported activations are \"gelu\", \"gelu_new\", \
             \"gelu_pytorch_tanh\", \"relu\" and \"tanh\""
        ))
    })
}

/// `pos_att_type` as a list of lower-case names: a JSON list, or the legacy `"p2c|c2p"` string.
fn pos_att_types(c: &Map<String, Value>) -> Result<Vec<String>, ModelError> {
    match c.get("pos_att_type") {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(s)) => Ok(s
            .to_lowercase()
            .split('|')
            .map(|x| x.trim().to_string())
            .collect()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_str().map(str::to_string).ok_or_else(|| {
                    bad(format!(
                        "`pos_att_type` holds {v}, but its entries must be strings"
                    ))
                })
            })
            .collect(),
        Some(v) => Err(bad(format!(
            "`pos_att_type` is {v}, but it must be a list such as [\"p2c\", \"c2p\"]"
        ))),
    }
}

impl DebertaV2Config {
    /// Read a `config.json` object. Absent keys take `transformers`' defaults (those of
    /// `DebertaV2Config` and of the modules' `getattr` fallbacks); unsupported settings are an
    /// [`ModelError::UnsupportedConfig`] that says which key to change.
    pub fn from_map(raw: Map<String, Value>) -> Result<Self, ModelError> {
        let c = &raw;
        let hidden_size = get_usize(c, "hidden_size", 1536)?;
        let num_attention_heads = get_usize(c, "num_attention_heads", 24)?;
        let max_position_embeddings = get_usize(c, "max_position_embeddings", 512)?;
        let max_rel = get_i64(c, "max_relative_positions", -1)?;
        let buckets = get_i64(c, "position_buckets", -1)?;
        Self::check_unsupported(c, hidden_size, num_attention_heads)?;
        let types = pos_att_types(c)?;
        for t in &types {
            if t != "c2p" && t != "p2c" {
                tracing::warn!(
                    "pos_att_type {t:?} is not used by DeBERTa-v2 (only \"c2p\" and \"p2c\" are)"
                );
            }
        }
        let norm_rel_ebd = get_str(c, "norm_rel_ebd", "none")?
            .to_lowercase()
            .split('|')
            .any(|x| x.trim() == "layer_norm");
        let mut cfg = DebertaV2Config {
            vocab_size: get_usize(c, "vocab_size", 128100)?,
            hidden_size,
            embedding_size: get_usize(c, "embedding_size", hidden_size)?,
            num_hidden_layers: get_usize(c, "num_hidden_layers", 24)?,
            num_attention_heads,
            intermediate_size: get_usize(c, "intermediate_size", 6144)?,
            hidden_act: get_activation(c, "hidden_act")?,
            hidden_dropout_prob: get_f64(c, "hidden_dropout_prob", 0.1)?,
            attention_probs_dropout_prob: get_f64(c, "attention_probs_dropout_prob", 0.1)?,
            max_position_embeddings,
            type_vocab_size: get_usize(c, "type_vocab_size", 0)?,
            initializer_range: get_f64(c, "initializer_range", 0.02)?,
            layer_norm_eps: get_f64(c, "layer_norm_eps", 1e-7)?,
            pad_token_id: match c.get("pad_token_id") {
                None => Some(0),
                Some(Value::Null) => None,
                Some(_) => Some(get_usize(c, "pad_token_id", 0)?),
            },
            relative_attention: get_bool(c, "relative_attention", false)?,
            max_relative_positions: if max_rel < 1 {
                max_position_embeddings
            } else {
                max_rel as usize
            },
            position_buckets: (buckets > 0).then_some(buckets as usize),
            position_biased_input: get_bool(c, "position_biased_input", true)?,
            c2p: types.iter().any(|t| t == "c2p"),
            p2c: types.iter().any(|t| t == "p2c"),
            share_att_key: get_bool(c, "share_att_key", false)?,
            norm_rel_ebd,
            pooler_hidden_act: get_activation(c, "pooler_hidden_act")?,
            pooler_dropout: get_f64(c, "pooler_dropout", 0.0)?,
            cls_dropout: match c.get("cls_dropout") {
                None | Some(Value::Null) => None,
                Some(_) => Some(get_f64(c, "cls_dropout", 0.0)?),
            },
            raw: Map::new(),
        };
        cfg.validate()?;
        cfg.raw = raw;
        Ok(cfg)
    }

    fn validate(&self) -> Result<(), ModelError> {
        let h = self.hidden_size;
        let nh = self.num_attention_heads;
        if h == 0 || nh == 0 || !h.is_multiple_of(nh) {
            return Err(bad(format!(
                "hidden_size {h} is not a multiple of num_attention_heads {nh}"
            )));
        }
        if self.vocab_size == 0 || self.embedding_size == 0 || self.intermediate_size == 0 {
            return Err(bad(
                "vocab_size, embedding_size and intermediate_size must be positive".into(),
            ));
        }
        if self.position_biased_input && self.max_position_embeddings == 0 {
            return Err(bad(
                "position_biased_input is true but max_position_embeddings is 0".into(),
            ));
        }
        if self.relative_attention && self.max_relative_positions < 2 {
            return Err(bad(format!(
                "max_relative_positions resolves to {}, but relative attention needs at least 2",
                self.max_relative_positions
            )));
        }
        if let Some(b) = self.position_buckets {
            if b < 2 {
                return Err(bad(format!(
                    "position_buckets is {b}; use at least 2 buckets, or -1 for none"
                )));
            }
        }
        for (k, p) in [
            ("hidden_dropout_prob", self.hidden_dropout_prob),
            (
                "attention_probs_dropout_prob",
                self.attention_probs_dropout_prob,
            ),
            ("pooler_dropout", self.pooler_dropout),
            ("cls_dropout", self.cls_dropout.unwrap_or(0.0)),
        ] {
            if !(0.0..1.0).contains(&p) {
                return Err(bad(format!("`{k}` is {p}, but it must lie in [0, 1)")));
            }
        }
        Ok(())
    }

    /// Check the keys [`Self::from_map`] does not model but must refuse: DeBERTa-v2-xlarge's
    /// convolution, a head size other than `hidden_size / heads`, a pooler of another width.
    fn check_unsupported(
        raw: &Map<String, Value>,
        hidden_size: usize,
        heads: usize,
    ) -> Result<(), ModelError> {
        let conv = get_usize(raw, "conv_kernel_size", 0)?;
        if conv > 0 {
            return Err(bad(format!(
                "conv_kernel_size is {conv}: the convolution layer of DeBERTa-v2 xlarge/xxlarge \
                 is not supported; use a DeBERTa-v3 checkpoint (e.g. microsoft/deberta-v3-base) \
                 or one without conv_kernel_size"
            )));
        }
        let head = hidden_size / heads.max(1);
        let ahs = get_usize(raw, "attention_head_size", head)?;
        if ahs != head {
            return Err(bad(format!(
                "attention_head_size is {ahs}, but only hidden_size / num_attention_heads = \
                 {head} is supported"
            )));
        }
        let pooler = get_usize(raw, "pooler_hidden_size", hidden_size)?;
        if pooler != hidden_size {
            return Err(bad(format!(
                "pooler_hidden_size is {pooler}, but transformers' classifier reads hidden_size \
                 = {hidden_size} features; set pooler_hidden_size to {hidden_size}"
            )));
        }
        Ok(())
    }

    /// Width of one attention head.
    pub fn head_dim(&self) -> usize {
        self.hidden_size / self.num_attention_heads
    }

    /// Half the number of relative-embedding rows: `position_buckets`, or
    /// `max_relative_positions` without buckets (`att_span` in `transformers`).
    pub fn att_span(&self) -> usize {
        self.position_buckets.unwrap_or(self.max_relative_positions)
    }

    /// `1 + [c2p] + [p2c]`: attention scores are divided by `√(head_dim · scale_factor)`.
    pub fn scale_factor(&self) -> usize {
        1 + usize::from(self.c2p) + usize::from(self.p2c)
    }

    /// The dropout before the classifier.
    pub fn classifier_dropout(&self) -> f64 {
        self.cls_dropout.unwrap_or(self.hidden_dropout_prob)
    }

    /// The dropout the config sets, as the trainer reads it.
    pub fn dropout(&self) -> ModelDropout {
        ModelDropout {
            hidden: self.hidden_dropout_prob,
            attention: self.attention_probs_dropout_prob,
        }
    }

    /// What an input must fit: the vocabulary, the positions when they are embedded absolutely
    /// (`position_biased_input`), the token types when the model has any.
    pub fn input_limits(&self) -> InputLimits {
        InputLimits {
            vocab_size: self.vocab_size,
            max_len: self
                .position_biased_input
                .then_some(self.max_position_embeddings),
            type_vocab_size: (self.type_vocab_size > 0).then_some(self.type_vocab_size),
        }
    }

    /// Set every dropout probability (hidden, attention, pooler and classifier) to `p`.
    pub fn set_dropout(&mut self, p: f64) {
        self.hidden_dropout_prob = p;
        self.attention_probs_dropout_prob = p;
        self.pooler_dropout = p;
        if self.cls_dropout.is_some() {
            self.cls_dropout = Some(p);
        }
    }

    /// `config.json` as loaded, with the current dropout probabilities.
    pub fn to_map(&self) -> Map<String, Value> {
        let mut m = self.raw.clone();
        m.insert(
            "hidden_dropout_prob".into(),
            self.hidden_dropout_prob.into(),
        );
        m.insert(
            "attention_probs_dropout_prob".into(),
            self.attention_probs_dropout_prob.into(),
        );
        m.insert("pooler_dropout".into(), self.pooler_dropout.into());
        if let Some(p) = self.cls_dropout {
            m.insert("cls_dropout".into(), p.into());
        }
        m
    }
}
