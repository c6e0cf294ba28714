//! The fields of `transformers.ModernBertConfig` the model reads, with transformers' defaults
//! for absent keys. The whole `config.json` object is kept so that it can be written back.

use serde_json::{Map, Value};

use crate::model::classifier::ModelDropout;
use crate::model::inputs::InputLimits;
use crate::model::ModelError;

/// The feed-forward and head activations ModernBERT checkpoints use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    /// `gelu`: exact erf GELU.
    GeluErf,
    /// `gelu_new`, `gelu_pytorch_tanh`, `gelu_fast`: the tanh approximation.
    GeluTanh,
    /// `relu`.
    Relu,
    /// `silu` / `swish`.
    Silu,
}

impl Activation {
    fn parse(key: &str, name: &str) -> Result<Self, String> {
        match name {
            "gelu" => Ok(Activation::GeluErf),
            "gelu_new" | "gelu_pytorch_tanh" | "gelu_fast" => Ok(Activation::GeluTanh),
            "relu" => Ok(Activation::Relu),
            "silu" | "swish" => Ok(Activation::Silu),
            other => Err(format!(
                "{key} is {other:?}; ModernBERT supports \"gelu\", \"gelu_new\", \
                 \"gelu_pytorch_tanh\", \"gelu_fast\", \"relu\" and \"silu\""
            )),
        }
    }
}

/// How the classifier pools the last hidden state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pooling {
    /// The first token.
    Cls,
    /// The mean over the real (unmasked) tokens.
    Mean,
}

/// The ModernBERT configuration (`model_type: modernbert`).
#[derive(Debug, Clone)]
pub struct ModernBertConfig {
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub intermediate_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub hidden_activation: Activation,
    pub max_position_embeddings: usize,
    pub initializer_range: f64,
    pub norm_eps: f64,
    /// LayerNorms have a bias.
    pub norm_bias: bool,
    pub pad_token_id: Option<usize>,
    /// `Wqkv` and the attention `Wo` have biases.
    pub attention_bias: bool,
    /// `mlp.Wi` and `mlp.Wo` have biases.
    pub mlp_bias: bool,
    /// `head.dense` has a bias.
    pub classifier_bias: bool,
    pub classifier_activation: Activation,
    pub classifier_pooling: Pooling,
    /// Per layer: true for global (`full_attention`), false for local (`sliding_attention`).
    pub global_layers: Vec<bool>,
    /// RoPE base of the global layers.
    pub global_rope_theta: f64,
    /// RoPE base of the local layers.
    pub local_rope_theta: f64,
    /// The local window: a token sees the tokens within `local_attention / 2` of it.
    pub local_attention: usize,
    pub embedding_dropout: f64,
    /// On the attention probabilities and on the attention output.
    pub attention_dropout: f64,
    /// Inside the MLP, on `act(input) * gate`.
    pub mlp_dropout: f64,
    /// Before the classifier.
    pub classifier_dropout: f64,
    /// The `config.json` object as read.
    pub raw: Map<String, Value>,
}

/// Typed reads of `config.json` keys, with the key named in every error.
struct Reader<'a>(&'a Map<String, Value>);

impl Reader<'_> {
    fn get(&self, key: &str) -> Option<&Value> {
        self.0.get(key).filter(|v| !v.is_null())
    }

    fn usize(&self, key: &str, default: usize) -> Result<usize, String> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => v
                .as_u64()
                .map(|n| n as usize)
                .ok_or_else(|| format!("{key} must be a non-negative integer, got {v}")),
        }
    }

    fn f64(&self, key: &str, default: f64) -> Result<f64, String> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => v
                .as_f64()
                .ok_or_else(|| format!("{key} must be a number, got {v}")),
        }
    }

    fn bool(&self, key: &str, default: bool) -> Result<bool, String> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => v
                .as_bool()
                .ok_or_else(|| format!("{key} must be true or false, got {v}")),
        }
    }

    fn str<'b>(&'b self, key: &str, default: &'b str) -> Result<&'b str, String> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => v
                .as_str()
                .ok_or_else(|| format!("{key} must be a string, got {v}")),
        }
    }

    fn dropout(&self, key: &str) -> Result<f64, String> {
        let p = self.f64(key, 0.0)?;
        if (0.0..1.0).contains(&p) {
            Ok(p)
        } else {
            Err(format!(
                "{key} is {p}; a dropout probability must be in [0, 1)"
            ))
        }
    }
}

/// The RoPE base of one layer type: `rope_parameters.<layer_type>.rope_theta` when set (only
/// the `default` RoPE type is supported), otherwise the legacy key, otherwise the default.
fn rope_theta(r: &Reader, layer_type: &str, legacy_key: &str, default: f64) -> Result<f64, String> {
    if let Some(scaling) = r.get("rope_scaling") {
        return Err(format!(
            "rope_scaling is {scaling}; only the default RoPE is supported, remove rope_scaling"
        ));
    }
    let params = match r.get("rope_parameters") {
        None => None,
        Some(Value::Object(m)) => m.get(layer_type).filter(|v| !v.is_null()),
        Some(other) => {
            return Err(format!(
                "rope_parameters must be an object keyed by layer type, got {other}"
            ))
        }
    };
    let legacy = r.f64(legacy_key, default)?;
    let Some(p) = params else { return Ok(legacy) };
    let Value::Object(p) = p else {
        return Err(format!(
            "rope_parameters.{layer_type} must be an object, got {p}"
        ));
    };
    let p = Reader(p);
    let kind = p.str("rope_type", "default")?;
    if kind != "default" {
        return Err(format!(
            "rope_parameters.{layer_type}.rope_type is {kind:?}; only \"default\" RoPE is supported"
        ));
    }
    p.f64("rope_theta", legacy)
        .map_err(|e| format!("rope_parameters.{layer_type}.{e}"))
}

/// Per layer, whether it is global: from `layer_types` when set, otherwise every
/// `global_attn_every_n_layers`-th layer (from layer 0) is global.
fn global_layers(r: &Reader, num_layers: usize) -> Result<Vec<bool>, String> {
    match r.get("layer_types") {
        Some(Value::Array(types)) => {
            if types.len() != num_layers {
                return Err(format!(
                    "layer_types has {} entries but num_hidden_layers is {num_layers}",
                    types.len()
                ));
            }
            types
                .iter()
                .map(|t| match t.as_str() {
                    Some("full_attention") => Ok(true),
                    Some("sliding_attention") => Ok(false),
                    _ => Err(format!(
                        "layer_types holds {t}; each entry must be \"full_attention\" or \
                         \"sliding_attention\""
                    )),
                })
                .collect()
        }
        Some(other) => Err(format!("layer_types must be a list, got {other}")),
        None => {
            let every = r.usize("global_attn_every_n_layers", 3)?;
            if every == 0 {
                return Err("global_attn_every_n_layers must be at least 1".into());
            }
            Ok((0..num_layers).map(|i| i % every == 0).collect())
        }
    }
}

impl ModernBertConfig {
    /// Parse a `config.json` object; absent keys take transformers' defaults. Settings this
    /// implementation does not support are an [`ModelError::UnsupportedConfig`] naming the key.
    pub fn from_map(raw: Map<String, Value>) -> Result<Self, ModelError> {
        Self::parse(raw).map_err(|message| ModelError::UnsupportedConfig {
            path: None,
            message: format!("ModernBERT config: {message}"),
        })
    }

    fn parse(raw: Map<String, Value>) -> Result<Self, String> {
        let r = Reader(&raw);
        match r.get("model_type").and_then(Value::as_str) {
            Some("modernbert") | None => {}
            Some(other) => return Err(format!("model_type is {other:?}, expected \"modernbert\"")),
        }
        let num_hidden_layers = r.usize("num_hidden_layers", 22)?;
        let pooling = match r.str("classifier_pooling", "cls")? {
            "cls" => Pooling::Cls,
            "mean" => Pooling::Mean,
            other => {
                return Err(format!(
                    "classifier_pooling is {other:?}; it must be \"cls\" or \"mean\""
                ))
            }
        };
        let cfg = ModernBertConfig {
            vocab_size: r.usize("vocab_size", 50368)?,
            hidden_size: r.usize("hidden_size", 768)?,
            intermediate_size: r.usize("intermediate_size", 1152)?,
            num_hidden_layers,
            num_attention_heads: r.usize("num_attention_heads", 12)?,
            hidden_activation: Activation::parse(
                "hidden_activation",
                r.str("hidden_activation", "gelu")?,
            )?,
            max_position_embeddings: r.usize("max_position_embeddings", 8192)?,
            initializer_range: r.f64("initializer_range", 0.02)?,
            norm_eps: r.f64("norm_eps", 1e-5)?,
            norm_bias: r.bool("norm_bias", false)?,
            pad_token_id: match r.get("pad_token_id") {
                None => None,
                Some(_) => Some(r.usize("pad_token_id", 0)?),
            },
            attention_bias: r.bool("attention_bias", false)?,
            mlp_bias: r.bool("mlp_bias", false)?,
            classifier_bias: r.bool("classifier_bias", false)?,
            classifier_activation: Activation::parse(
                "classifier_activation",
                r.str("classifier_activation", "gelu")?,
            )?,
            classifier_pooling: pooling,
            global_layers: global_layers(&r, num_hidden_layers)?,
            global_rope_theta: rope_theta(&r, "full_attention", "global_rope_theta", 160_000.0)?,
            local_rope_theta: rope_theta(&r, "sliding_attention", "local_rope_theta", 10_000.0)?,
            local_attention: r.usize("local_attention", 128)?,
            embedding_dropout: r.dropout("embedding_dropout")?,
            attention_dropout: r.dropout("attention_dropout")?,
            mlp_dropout: r.dropout("mlp_dropout")?,
            classifier_dropout: r.dropout("classifier_dropout")?,
            raw,
        };
        cfg.validate()?;
        Ok(cfg)
    }

    fn validate(&self) -> Result<(), String> {
        let (h, nh) = (self.hidden_size, self.num_attention_heads);
        if h == 0 || nh == 0 || h % nh != 0 {
            return Err(format!(
                "hidden_size {h} must be a positive multiple of num_attention_heads {nh}"
            ));
        }
        if !self.head_dim().is_multiple_of(2) {
            return Err(format!(
                "the head size {} (hidden_size / num_attention_heads) must be even for RoPE",
                self.head_dim()
            ));
        }
        if let Some(d) = Reader(&self.raw).get("head_dim") {
            if d.as_u64() != Some(self.head_dim() as u64) {
                return Err(format!(
                    "head_dim is {d} but hidden_size / num_attention_heads is {}; a separate \
                     head size is not supported",
                    self.head_dim()
                ));
            }
        }
        if self.vocab_size == 0 || self.intermediate_size == 0 || self.num_hidden_layers == 0 {
            return Err(
                "vocab_size, intermediate_size and num_hidden_layers must be positive".into(),
            );
        }
        if self.max_position_embeddings == 0 {
            return Err("max_position_embeddings must be positive".into());
        }
        if self.norm_eps.is_nan() || self.norm_eps <= 0.0 {
            return Err(format!(
                "norm_eps is {}; it must be positive",
                self.norm_eps
            ));
        }
        Ok(())
    }

    /// Size of one attention head.
    pub fn head_dim(&self) -> usize {
        self.hidden_size / self.num_attention_heads
    }

    /// The half-window of the local layers: a query sees keys within this distance.
    pub fn half_window(&self) -> usize {
        self.local_attention / 2
    }

    /// The dropout the config sets: `hidden` is `mlp_dropout` (the dropout inside every layer's
    /// MLP), `attention` is `attention_dropout` (on the probabilities and the attention output).
    pub fn dropout(&self) -> ModelDropout {
        ModelDropout {
            hidden: self.mlp_dropout,
            attention: self.attention_dropout,
        }
    }

    /// What an input must fit: the vocabulary and the positions (no token types).
    pub fn input_limits(&self) -> InputLimits {
        InputLimits {
            vocab_size: self.vocab_size,
            max_len: Some(self.max_position_embeddings),
            type_vocab_size: None,
        }
    }

    /// Set every dropout probability (embedding, attention, MLP, classifier).
    pub fn set_dropout(&mut self, p: f64) {
        self.embedding_dropout = p;
        self.attention_dropout = p;
        self.mlp_dropout = p;
        self.classifier_dropout = p;
    }

    /// The config object as read, with the current dropout probabilities.
    pub fn to_map(&self) -> Map<String, Value> {
        let mut m = self.raw.clone();
        for (k, p) in [
            ("embedding_dropout", self.embedding_dropout),
            ("attention_dropout", self.attention_dropout),
            ("mlp_dropout", self.mlp_dropout),
            ("classifier_dropout", self.classifier_dropout),
        ] {
            m.insert(k.into(), serde_json::json!(p));
        }
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => unreachable!(),
        }
    }

    #[test]
    fn defaults_are_transformers_defaults() {
        let c = ModernBertConfig::from_map(map(json!({"model_type": "modernbert"}))).unwrap();
        assert_eq!(c.hidden_size, 768);
        assert_eq!(c.num_hidden_layers, 22);
        assert_eq!(c.global_layers.len(), 22);
        // Every third layer, from layer 0, is global.
        assert_eq!(&c.global_layers[..4], &[true, false, false, true]);
        assert_eq!(
            (c.global_rope_theta, c.local_rope_theta),
            (160_000.0, 10_000.0)
        );
        assert_eq!(c.half_window(), 64);
        assert!(!c.norm_bias && !c.attention_bias && !c.mlp_bias && !c.classifier_bias);
        assert_eq!(c.classifier_pooling, Pooling::Cls);
        assert_eq!(c.hidden_activation, Activation::GeluErf);
    }

    #[test]
    fn legacy_rope_keys_and_rope_parameters() {
        // Hub configs (ModernBERT-base) use global_rope_theta / local_rope_theta.
        let c = ModernBertConfig::from_map(map(json!({
            "global_rope_theta": 50_000.0, "local_rope_theta": 20_000.0,
            "global_attn_every_n_layers": 2, "num_hidden_layers": 4
        })))
        .unwrap();
        assert_eq!(
            (c.global_rope_theta, c.local_rope_theta),
            (50_000.0, 20_000.0)
        );
        assert_eq!(c.global_layers, [true, false, true, false]);
        // rope_parameters (what transformers 5 writes) wins over the legacy keys.
        let c = ModernBertConfig::from_map(map(json!({
            "global_rope_theta": 50_000.0,
            "rope_parameters": {
                "full_attention": {"rope_type": "default", "rope_theta": 7.0},
                "sliding_attention": {"rope_type": "default", "rope_theta": 9.0}
            },
            "num_hidden_layers": 2,
            "layer_types": ["sliding_attention", "full_attention"]
        })))
        .unwrap();
        assert_eq!((c.global_rope_theta, c.local_rope_theta), (7.0, 9.0));
        assert_eq!(c.global_layers, [false, true]);
    }

    #[test]
    fn unsupported_settings_name_the_key() {
        for (cfg, key) in [
            (json!({"classifier_pooling": "max"}), "classifier_pooling"),
            (
                json!({"hidden_activation": "quick_gelu"}),
                "hidden_activation",
            ),
            (
                json!({"rope_parameters": {"full_attention": {"rope_type": "yarn"}}}),
                "rope_type",
            ),
            (
                json!({"rope_scaling": {"rope_type": "linear"}}),
                "rope_scaling",
            ),
            (
                json!({"num_hidden_layers": 2, "layer_types": ["full_attention"]}),
                "layer_types",
            ),
            (
                json!({"hidden_size": 30, "num_attention_heads": 4}),
                "hidden_size",
            ),
            (json!({"mlp_dropout": 1.5}), "mlp_dropout"),
            (json!({"norm_bias": "yes"}), "norm_bias"),
        ] {
            let e = ModernBertConfig::from_map(map(cfg))
                .unwrap_err()
                .to_string();
            assert!(e.contains(key), "{e}");
        }
    }

    #[test]
    fn dropout_is_written_back_with_every_other_key() {
        let mut c = ModernBertConfig::from_map(map(json!({
            "mlp_dropout": 0.1, "foo": [1, 2], "id2label": {"0": "a"}
        })))
        .unwrap();
        assert_eq!(c.mlp_dropout, 0.1);
        c.set_dropout(0.25);
        let m = c.to_map();
        assert_eq!(m["foo"], json!([1, 2]));
        assert_eq!(m["id2label"], json!({"0": "a"}));
        for k in [
            "embedding_dropout",
            "attention_dropout",
            "mlp_dropout",
            "classifier_dropout",
        ] {
            assert_eq!(m[k], json!(0.25), "{k}");
        }
    }
}
