//! The Hugging Face `BertConfig` (the `config.json` of a BERT checkpoint), which RoBERTa,
//! XLM-RoBERTa and ELECTRA share, and DistilBERT's config read into the same fields.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::model::family::Family;
use crate::model::ModelError;

/// The families whose config is a `BertConfig` (DistilBERT's keys are renamed on load).
pub const POST_NORM_FAMILIES: [Family; 5] = [
    Family::Bert,
    Family::Roberta,
    Family::XlmRoberta,
    Family::Electra,
    Family::DistilBert,
];

/// The fields of a Hugging Face `BertConfig` that define the encoder. Fields absent from
/// `config.json` take the Hugging Face defaults (BERT-base); every other field of the file
/// (`model_type`, `id2label`, `_name_or_path`, ...) is kept in [`BertConfig::extra`] so that it
/// survives a load/save round trip.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BertConfig {
    /// Number of rows of the word-embedding table.
    #[serde(default = "defaults::vocab_size")]
    pub vocab_size: usize,
    /// Width of every hidden state.
    #[serde(default = "defaults::hidden_size")]
    pub hidden_size: usize,
    /// Number of transformer layers.
    #[serde(default = "defaults::num_hidden_layers")]
    pub num_hidden_layers: usize,
    /// Number of attention heads per layer (must divide `hidden_size`).
    #[serde(default = "defaults::num_attention_heads")]
    pub num_attention_heads: usize,
    /// Width of the feed-forward layer.
    #[serde(default = "defaults::intermediate_size")]
    pub intermediate_size: usize,
    /// Feed-forward activation: `gelu` (erf form), `gelu_new` (tanh approximation) or `relu`.
    #[serde(default = "defaults::hidden_act")]
    pub hidden_act: String,
    /// Dropout on embeddings, sub-layer outputs and (unless `classifier_dropout` is set) the
    /// pooled output.
    #[serde(default = "defaults::dropout")]
    pub hidden_dropout_prob: f64,
    /// Dropout on the attention probabilities.
    #[serde(default = "defaults::dropout")]
    pub attention_probs_dropout_prob: f64,
    /// Number of rows of the position-embedding table (the longest input).
    #[serde(default = "defaults::max_position_embeddings")]
    pub max_position_embeddings: usize,
    /// Number of rows of the token-type (segment) embedding table.
    #[serde(default = "defaults::type_vocab_size")]
    pub type_vocab_size: usize,
    /// Standard deviation of the normal initialisation of new weights.
    #[serde(default = "defaults::initializer_range")]
    pub initializer_range: f64,
    /// Epsilon added to the variance in every LayerNorm.
    #[serde(default = "defaults::layer_norm_eps")]
    pub layer_norm_eps: f64,
    /// Id of the `[PAD]` token.
    #[serde(default)]
    pub pad_token_id: usize,
    /// Every other field of `config.json`, kept verbatim.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

mod defaults {
    pub fn vocab_size() -> usize {
        30522
    }
    pub fn hidden_size() -> usize {
        768
    }
    pub fn num_hidden_layers() -> usize {
        12
    }
    pub fn num_attention_heads() -> usize {
        12
    }
    pub fn intermediate_size() -> usize {
        3072
    }
    pub fn hidden_act() -> String {
        "gelu".to_string()
    }
    pub fn dropout() -> f64 {
        0.1
    }
    pub fn max_position_embeddings() -> usize {
        512
    }
    pub fn type_vocab_size() -> usize {
        2
    }
    pub fn initializer_range() -> f64 {
        0.02
    }
    pub fn layer_norm_eps() -> f64 {
        1e-12
    }
}

/// The activation functions the encoder supports (see [`BertConfig::hidden_act`]).
pub const SUPPORTED_ACTIVATIONS: [&str; 3] = ["gelu", "gelu_new", "relu"];

impl BertConfig {
    /// Read and validate a `config.json`.
    pub fn from_file(path: &Path) -> Result<Self, ModelError> {
        let text = crate::model::read_config_text(path)?;
        Self::from_json_str(&text, Some(path))
    }

    /// Parse and validate the text of a `config.json`; `path` is only used in error messages.
    pub fn from_json_str(text: &str, path: Option<&Path>) -> Result<Self, ModelError> {
        let parse_error = |e: serde_json::Error| ModelError::ConfigParse {
            path: path
                .map(Path::to_path_buf)
                .unwrap_or_else(|| "config.json".into()),
            line: e.line(),
            column: e.column(),
            message: e.to_string(),
        };
        let value: serde_json::Value = serde_json::from_str(text).map_err(parse_error)?;
        let cfg: BertConfig = if value["model_type"] == "distilbert" {
            serde_json::from_value(to_bert_keys(value)).map_err(parse_error)?
        } else {
            // From the text, so that a type error names its line.
            serde_json::from_str(text).map_err(parse_error)?
        };
        cfg.validate()
            .map_err(|message| ModelError::UnsupportedConfig {
                path: path.map(Path::to_path_buf),
                message,
            })?;
        Ok(cfg)
    }

    /// Check that the configuration describes a BERT this crate can run; the error says what
    /// is wrong and how to fix it.
    pub fn validate(&self) -> Result<(), String> {
        let family = Family::of_config(&self.extra)?;
        if !POST_NORM_FAMILIES.contains(&family) {
            return Err(format!(
                "model_type {family} does not use a BERT-style config; this is a bug in the loader"
            ));
        }
        if !SUPPORTED_ACTIVATIONS.contains(&self.hidden_act.as_str()) {
            return Err(format!(
                "hidden_act is {:?}, but only {:?} are supported",
                self.hidden_act, SUPPORTED_ACTIVATIONS
            ));
        }
        if let Some(pe) = self.extra.get("position_embedding_type") {
            if !(pe.is_null() || pe.as_str() == Some("absolute")) {
                return Err(format!(
                    "position_embedding_type is {pe}, but only \"absolute\" is supported"
                ));
            }
        }
        for (name, v) in [
            ("vocab_size", self.vocab_size),
            ("hidden_size", self.hidden_size),
            ("num_hidden_layers", self.num_hidden_layers),
            ("num_attention_heads", self.num_attention_heads),
            ("intermediate_size", self.intermediate_size),
            ("max_position_embeddings", self.max_position_embeddings),
            ("type_vocab_size", self.type_vocab_size),
        ] {
            if v == 0 {
                return Err(format!("{name} must be at least 1"));
            }
        }
        if !self.hidden_size.is_multiple_of(self.num_attention_heads) {
            return Err(format!(
                "hidden_size {} is not a multiple of num_attention_heads {}",
                self.hidden_size, self.num_attention_heads
            ));
        }
        for (name, p) in [
            ("hidden_dropout_prob", self.hidden_dropout_prob),
            (
                "attention_probs_dropout_prob",
                self.attention_probs_dropout_prob,
            ),
            ("classifier_dropout", self.classifier_dropout()),
        ] {
            if !(0.0..1.0).contains(&p) {
                return Err(format!("{name} is {p}; it must be in [0, 1)"));
            }
        }
        if !(self.layer_norm_eps > 0.0 && self.layer_norm_eps.is_finite()) {
            return Err(format!(
                "layer_norm_eps is {}; it must be a positive number",
                self.layer_norm_eps
            ));
        }
        if !(self.initializer_range >= 0.0 && self.initializer_range.is_finite()) {
            return Err(format!(
                "initializer_range is {}; it must be a non-negative number",
                self.initializer_range
            ));
        }
        Ok(())
    }

    /// A small BERT for demos and tests: hidden 64, 2 layers, 4 heads, feed-forward 128,
    /// 64 positions, GELU, dropout 0.1.
    pub fn tiny_demo(vocab_size: usize) -> Self {
        let mut extra = serde_json::Map::new();
        extra.insert("model_type".into(), "bert".into());
        extra.insert("position_embedding_type".into(), "absolute".into());
        BertConfig {
            vocab_size,
            hidden_size: 64,
            num_hidden_layers: 2,
            num_attention_heads: 4,
            intermediate_size: 128,
            hidden_act: "gelu".into(),
            hidden_dropout_prob: 0.1,
            attention_probs_dropout_prob: 0.1,
            max_position_embeddings: 64,
            type_vocab_size: 2,
            initializer_range: 0.02,
            layer_norm_eps: 1e-12,
            pad_token_id: 0,
            extra,
        }
    }

    /// Width of one attention head.
    pub fn head_dim(&self) -> usize {
        self.hidden_size / self.num_attention_heads
    }

    /// Dropout applied to the pooled output before the classifier: `classifier_dropout` when the
    /// config sets it to a number, otherwise `hidden_dropout_prob` (as in `transformers`).
    pub fn classifier_dropout(&self) -> f64 {
        self.extra
            .get("classifier_dropout")
            .and_then(serde_json::Value::as_f64)
            .unwrap_or(self.hidden_dropout_prob)
    }
}

/// DistilBERT's key → BertConfig's key.
const DISTILBERT_KEYS: [(&str, &str); 7] = [
    ("dim", "hidden_size"),
    ("n_layers", "num_hidden_layers"),
    ("n_heads", "num_attention_heads"),
    ("hidden_dim", "intermediate_size"),
    ("activation", "hidden_act"),
    ("dropout", "hidden_dropout_prob"),
    ("attention_dropout", "attention_probs_dropout_prob"),
];

/// `DistilBertConfig`'s defaults for keys a config.json may leave out.
const DISTILBERT_DEFAULTS: [(&str, f64); 7] = [
    ("dim", 768.0),
    ("n_layers", 6.0),
    ("n_heads", 12.0),
    ("hidden_dim", 3072.0),
    ("dropout", 0.1),
    ("attention_dropout", 0.1),
    ("seq_classif_dropout", 0.2),
];

/// The layer-norm epsilon DistilBERT hard-codes.
pub const DISTILBERT_LAYER_NORM_EPS: f64 = 1e-12;

/// Rename a DistilBERT config's keys to BertConfig's (the DistilBERT keys stay, for saving).
pub fn to_bert_keys(mut value: serde_json::Value) -> serde_json::Value {
    if let Some(obj) = value.as_object_mut() {
        for (key, default) in DISTILBERT_DEFAULTS {
            obj.entry(key)
                .or_insert_with(|| serde_json::Number::from_f64(default).into());
        }
        obj.entry("activation").or_insert_with(|| "gelu".into());
        for (from, to) in DISTILBERT_KEYS {
            if let Some(v) = obj.get(from).cloned() {
                // Integers stay integers (serde reads usize fields from them).
                let v = match v.as_f64() {
                    Some(f) if f.fract() == 0.0 && !from.contains("dropout") => {
                        serde_json::Value::from(f as u64)
                    }
                    _ => v,
                };
                obj.insert(to.into(), v);
            }
        }
        obj.insert("type_vocab_size".into(), 1.into());
        obj.insert("layer_norm_eps".into(), DISTILBERT_LAYER_NORM_EPS.into());
    }
    value
}

/// The config.json of a DistilBERT: its own keys, with the current values of `cfg`.
pub fn to_distilbert_keys(cfg: &BertConfig) -> serde_json::Map<String, serde_json::Value> {
    let mut obj = match serde_json::to_value(cfg) {
        Ok(serde_json::Value::Object(m)) => m,
        _ => cfg.extra.clone(),
    };
    for (from, to) in DISTILBERT_KEYS {
        if let Some(v) = obj.remove(to) {
            obj.insert(from.into(), v);
        }
    }
    // Keys DistilBERT's config does not have (set by `to_bert_keys`).
    obj.remove("type_vocab_size");
    obj.remove("layer_norm_eps");
    obj
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_extra_round_trip() {
        let cfg = BertConfig::from_json_str(
            r#"{"model_type":"bert","hidden_size":32,"num_attention_heads":4,"foo":[1,2]}"#,
            None,
        )
        .unwrap();
        assert_eq!(cfg.hidden_size, 32);
        assert_eq!(cfg.vocab_size, 30522);
        assert_eq!(cfg.hidden_act, "gelu");
        assert_eq!(cfg.extra["foo"], serde_json::json!([1, 2]));
        let back: serde_json::Value = serde_json::to_value(&cfg).unwrap();
        assert_eq!(back["foo"], serde_json::json!([1, 2]));
        assert_eq!(back["model_type"], "bert");
        assert_eq!(back["hidden_size"], 32);
    }

    #[test]
    fn rejects_unknown_model_types_and_activations() {
        let e = BertConfig::from_json_str(r#"{"model_type":"gpt2"}"#, None).unwrap_err();
        assert!(e.to_string().contains("gpt2"), "{e}");
        assert!(e.to_string().contains("\"modernbert\""), "{e}");
        BertConfig::from_json_str(r#"{"model_type":"roberta"}"#, None).unwrap();
        let e = BertConfig::from_json_str(r#"{"hidden_act":"silu"}"#, None).unwrap_err();
        assert!(e.to_string().contains("silu"), "{e}");
        let e = BertConfig::from_json_str(r#"{"hidden_size":30}"#, None).unwrap_err();
        assert!(e.to_string().contains("multiple"), "{e}");
        for act in SUPPORTED_ACTIVATIONS {
            let j = format!(r#"{{"hidden_act":"{act}"}}"#);
            BertConfig::from_json_str(&j, None).unwrap();
        }
    }

    #[test]
    fn parse_error_names_file_and_line() {
        let e = BertConfig::from_json_str(
            "{\n\"hidden_size\": \"x\"}",
            Some(Path::new("a/config.json")),
        )
        .unwrap_err();
        let s = e.to_string();
        assert!(s.contains("a/config.json") && s.contains("line 2"), "{s}");
    }

    #[test]
    fn missing_file_names_path() {
        let e = BertConfig::from_file(Path::new("/nonexistent/dir/config.json")).unwrap_err();
        let s = e.to_string();
        assert!(
            s.contains("/nonexistent/dir/config.json") && s.contains("model.safetensors"),
            "{s}"
        );
    }

    #[test]
    fn tiny_demo_is_valid() {
        let c = BertConfig::tiny_demo(100);
        c.validate().unwrap();
        assert_eq!(c.head_dim(), 16);
    }
}
