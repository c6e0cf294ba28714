//! Where the BERT-style (post-norm) families differ: tensor names, embeddings and the head.
//! [`super::BertForSequenceClassification`] runs any of them; each family's module
//! ([`super::roberta`], [`super::electra`], [`super::distilbert`]) builds its [`Layout`], and
//! [`super::layout_of`] picks it.

use super::config::BertConfig;
use crate::model::classifier::HeadKind;
use crate::model::family::Family;
use crate::model::init::{Init, ParamSpec, Specs};

/// The activation between the head's two linear layers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeadAct {
    /// BERT's pooler, RoBERTa's head.
    Tanh,
    /// ELECTRA's head (exact GELU).
    Gelu,
    /// DistilBERT's pre-classifier.
    Relu,
}

/// The classification head: `out(dropout(act(dense(dropout?(x₀)))))`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeadLayout {
    /// The first linear layer (`pooler.dense`, `classifier.dense`, `pre_classifier`).
    pub dense: &'static str,
    /// Its activation.
    pub act: HeadAct,
    /// The last linear layer (`classifier`, `classifier.out_proj`).
    pub out: &'static str,
    /// Whether dropout also applies to the first token before `dense` (RoBERTa, ELECTRA).
    pub dropout_before_dense: bool,
}

/// Token-type (segment) embeddings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenTypes {
    /// Indexed by the input's token type ids (BERT, ELECTRA).
    Input,
    /// A table that is always read at row 0, whatever the input says (RoBERTa and XLM-R, whose
    /// tokenizers give no token types).
    Zeros,
    /// No table (DistilBERT).
    Absent,
}

/// The names of one layer's modules, under `<layer_prefix>.<l>.`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LayerNames {
    pub q: &'static str,
    pub k: &'static str,
    pub v: &'static str,
    pub o: &'static str,
    pub attn_norm: &'static str,
    pub ffn_in: &'static str,
    pub ffn_out: &'static str,
    pub out_norm: &'static str,
}

/// BERT's layer names, which RoBERTa, XLM-RoBERTa and ELECTRA share.
pub const BERT_LAYER: LayerNames = LayerNames {
    q: "attention.self.query",
    k: "attention.self.key",
    v: "attention.self.value",
    o: "attention.output.dense",
    attn_norm: "attention.output.LayerNorm",
    ffn_in: "intermediate.dense",
    ffn_out: "output.dense",
    out_norm: "output.LayerNorm",
};

/// How one BERT-style family lays out its tensors and computes its embeddings and head.
#[derive(Debug, Clone, PartialEq)]
pub struct Layout {
    /// The family.
    pub family: Family,
    /// Width of the embedding tables (ELECTRA's `embedding_size`; otherwise `hidden_size`).
    pub emb_width: usize,
    /// The token-type embeddings and what indexes them.
    pub token_types: TokenTypes,
    /// Position ids: `None` = `0..L` (BERT); `Some(pad)` = RoBERTa's, counting real tokens from
    /// `pad + 1` with padding at `pad`.
    pub roberta_positions: Option<usize>,
    /// ELECTRA's `embeddings_project` when `embedding_size != hidden_size`.
    pub emb_proj: Option<&'static str>,
    /// `encoder.layer` or `transformer.layer`.
    pub layer_prefix: &'static str,
    /// Module names inside a layer.
    pub layer: LayerNames,
    /// Whether dropout follows the attention output projection (not in DistilBERT).
    pub attn_output_dropout: bool,
    /// The head.
    pub head: HeadLayout,
    /// Epsilon of every LayerNorm.
    pub layer_norm_eps: f64,
    /// Dropout in the head.
    pub head_dropout: f64,
}

impl Layout {
    /// BERT's layout (also the base of the other families').
    pub fn bert(cfg: &BertConfig) -> Self {
        Layout {
            family: Family::Bert,
            emb_width: cfg.hidden_size,
            token_types: TokenTypes::Input,
            roberta_positions: None,
            emb_proj: None,
            layer_prefix: "encoder.layer",
            layer: BERT_LAYER,
            attn_output_dropout: true,
            head: HeadLayout {
                dense: "pooler.dense",
                act: HeadAct::Tanh,
                out: "classifier",
                dropout_before_dense: false,
            },
            layer_norm_eps: cfg.layer_norm_eps,
            head_dropout: cfg.classifier_dropout(),
        }
    }

    /// The longest sequence the position table allows.
    pub fn max_len(&self, cfg: &BertConfig) -> usize {
        let offset = self.roberta_positions.map_or(0, |pad| pad + 1);
        cfg.max_position_embeddings.saturating_sub(offset)
    }

    /// Every parameter of this layout, sorted by name.
    pub fn param_specs(&self, cfg: &BertConfig, head: HeadKind) -> Vec<ParamSpec> {
        let h = cfg.hidden_size;
        let e = self.emb_width;
        let mut s = Specs::default();
        let pad_row = (cfg.pad_token_id < cfg.vocab_size).then_some(cfg.pad_token_id);
        s.add(
            "embeddings.word_embeddings.weight",
            vec![cfg.vocab_size, e],
            Init::Embedding { pad_row },
        );
        s.add(
            "embeddings.position_embeddings.weight",
            vec![cfg.max_position_embeddings, e],
            match self.roberta_positions {
                Some(pad) => Init::Embedding { pad_row: Some(pad) },
                None => Init::Normal,
            },
        );
        if self.token_types != TokenTypes::Absent {
            s.add(
                "embeddings.token_type_embeddings.weight",
                vec![cfg.type_vocab_size, e],
                Init::Normal,
            );
        }
        s.norm("embeddings.LayerNorm", e, true);
        if let Some(proj) = self.emb_proj {
            s.linear(proj, h, e, true);
        }
        let n = &self.layer;
        for l in 0..cfg.num_hidden_layers {
            let p = format!("{}.{l}", self.layer_prefix);
            for m in [n.q, n.k, n.v, n.o] {
                s.linear(&format!("{p}.{m}"), h, h, true);
            }
            s.norm(&format!("{p}.{}", n.attn_norm), h, true);
            s.linear(&format!("{p}.{}", n.ffn_in), cfg.intermediate_size, h, true);
            s.linear(
                &format!("{p}.{}", n.ffn_out),
                h,
                cfg.intermediate_size,
                true,
            );
            s.norm(&format!("{p}.{}", n.out_norm), h, true);
        }
        s.linear(self.head.dense, h, h, true);
        s.linear(self.head.out, head.num_outputs(), h, true);
        s.sorted()
    }

    /// Whether a checkpoint tensor (already renamed) is a buffer or a pretraining head the
    /// model does not use.
    pub fn is_ignored(&self, name: &str) -> bool {
        name.starts_with("cls.")
            || name.starts_with("lm_head.")
            || name.starts_with("generator")
            || name.starts_with("discriminator_predictions.")
            || name.starts_with("vocab_")
            || name.ends_with("position_ids")
            || name == "embeddings.token_type_ids"
            || (self.token_types == TokenTypes::Absent
                && name == "embeddings.token_type_embeddings.weight")
            || (self.head.dense != "pooler.dense" && name.starts_with("pooler."))
    }
}
