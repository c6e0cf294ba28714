//! DistilBERT: BERT's post-norm layers under other names (`transformer.layer.<l>.attention.q_lin`,
//! `sa_layer_norm`, `ffn.lin1`, …), no token types, no dropout after the attention output, and
//! the `pre_classifier` head (`classifier(dropout(relu(pre_classifier(x₀))))`). Its config keys
//! (`dim`, `n_layers`, …) are read into [`BertConfig`]'s fields and written back on save.

use super::bert_layout::{HeadAct, HeadLayout, LayerNames, Layout, TokenTypes};
use super::config::BertConfig;
use super::family::Family;

/// DistilBERT's key → BertConfig's key.
const KEYS: [(&str, &str); 7] = [
    ("dim", "hidden_size"),
    ("n_layers", "num_hidden_layers"),
    ("n_heads", "num_attention_heads"),
    ("hidden_dim", "intermediate_size"),
    ("activation", "hidden_act"),
    ("dropout", "hidden_dropout_prob"),
    ("attention_dropout", "attention_probs_dropout_prob"),
];

/// `DistilBertConfig`'s defaults for keys a config.json may leave out.
const DEFAULTS: [(&str, f64); 7] = [
    ("dim", 768.0),
    ("n_layers", 6.0),
    ("n_heads", 12.0),
    ("hidden_dim", 3072.0),
    ("dropout", 0.1),
    ("attention_dropout", 0.1),
    ("seq_classif_dropout", 0.2),
];

/// The layer-norm epsilon DistilBERT hard-codes.
const LAYER_NORM_EPS: f64 = 1e-12;

/// Rename a DistilBERT config's keys to BertConfig's (the DistilBERT keys stay, for saving).
pub fn to_bert_keys(mut value: serde_json::Value) -> serde_json::Value {
    if let Some(obj) = value.as_object_mut() {
        for (key, default) in DEFAULTS {
            obj.entry(key)
                .or_insert_with(|| serde_json::Number::from_f64(default).into());
        }
        obj.entry("activation").or_insert_with(|| "gelu".into());
        for (from, to) in KEYS {
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
        obj.insert("layer_norm_eps".into(), LAYER_NORM_EPS.into());
    }
    value
}

/// The config.json of a DistilBERT: its own keys, with the current values of `cfg`.
pub fn to_distilbert_keys(cfg: &BertConfig) -> serde_json::Map<String, serde_json::Value> {
    let mut obj = match serde_json::to_value(cfg) {
        Ok(serde_json::Value::Object(m)) => m,
        _ => cfg.extra.clone(),
    };
    for (from, to) in KEYS {
        if let Some(v) = obj.remove(to) {
            obj.insert(from.into(), v);
        }
    }
    // Keys DistilBERT's config does not have (set by `to_bert_keys`).
    obj.remove("type_vocab_size");
    obj.remove("layer_norm_eps");
    obj
}

/// The dropout before the classifier (`seq_classif_dropout`).
fn head_dropout(cfg: &BertConfig) -> f64 {
    cfg.extra
        .get("seq_classif_dropout")
        .and_then(serde_json::Value::as_f64)
        .unwrap_or(0.2)
}

/// Check what DistilBERT options the encoder implements.
pub fn validate(cfg: &BertConfig) -> Result<(), String> {
    if cfg.extra.get("sinusoidal_pos_embds") == Some(&serde_json::Value::Bool(true)) {
        return Err(
            "sinusoidal_pos_embds is true, but only learned position embeddings are \
                    supported"
                .into(),
        );
    }
    Ok(())
}

/// The layout of a DistilBERT config.
pub fn layout(cfg: &BertConfig) -> Layout {
    Layout {
        family: Family::DistilBert,
        token_types: TokenTypes::Absent,
        layer_prefix: "transformer.layer",
        layer: LayerNames {
            q: "attention.q_lin",
            k: "attention.k_lin",
            v: "attention.v_lin",
            o: "attention.out_lin",
            attn_norm: "sa_layer_norm",
            ffn_in: "ffn.lin1",
            ffn_out: "ffn.lin2",
            out_norm: "output_layer_norm",
        },
        attn_output_dropout: false,
        head: HeadLayout {
            dense: "pre_classifier",
            act: HeadAct::Relu,
            out: "classifier",
            dropout_before_dense: false,
        },
        layer_norm_eps: LAYER_NORM_EPS,
        head_dropout: head_dropout(cfg),
        ..Layout::bert(cfg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip() {
        let v = serde_json::json!({"model_type": "distilbert", "dim": 32, "n_layers": 2,
            "n_heads": 4, "hidden_dim": 64, "dropout": 0.0, "vocab_size": 99});
        let cfg = BertConfig::from_json_str(&v.to_string(), None).unwrap();
        assert_eq!(
            (
                cfg.hidden_size,
                cfg.num_hidden_layers,
                cfg.intermediate_size
            ),
            (32, 2, 64)
        );
        assert_eq!(cfg.attention_probs_dropout_prob, 0.1);
        let back = to_distilbert_keys(&cfg);
        assert_eq!(back["dim"], 32);
        assert_eq!(back["dropout"], 0.0);
        assert!(!back.contains_key("hidden_size"));
        assert_eq!(back["max_position_embeddings"], 512);
        assert_eq!(layout(&cfg).head_dropout, 0.2);
    }
}
