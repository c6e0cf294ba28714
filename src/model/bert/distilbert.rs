//! DistilBERT: BERT's post-norm layers under other names (`transformer.layer.<l>.attention.q_lin`,
//! `sa_layer_norm`, `ffn.lin1`, …), no token types, no dropout after the attention output, and
//! the `pre_classifier` head (`classifier(dropout(relu(pre_classifier(x₀))))`). Its config keys
//! (`dim`, `n_layers`, …) are read into [`BertConfig`]'s fields and written back on save.

use super::config::{BertConfig, DISTILBERT_LAYER_NORM_EPS};
use super::layout::{HeadAct, HeadLayout, LayerNames, Layout, TokenTypes};
use crate::model::family::Family;

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
        layer_norm_eps: DISTILBERT_LAYER_NORM_EPS,
        head_dropout: head_dropout(cfg),
        ..Layout::bert(cfg)
    }
}

#[cfg(test)]
mod tests {
    use super::super::config::to_distilbert_keys;
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
