//! The ELECTRA discriminator: BERT's encoder with embeddings of width `embedding_size`
//! (projected to `hidden_size` by `embeddings_project` when they differ), no pooler, and
//! `ElectraClassificationHead` (`out_proj(dropout(gelu(dense(dropout(x₀)))))`).

use super::config::BertConfig;
use super::layout::{HeadAct, HeadLayout, Layout};
use crate::model::family::Family;

/// `ElectraConfig`'s default `embedding_size`.
const DEFAULT_EMBEDDING_SIZE: usize = 128;

/// The layout of an ELECTRA config.
pub fn layout(cfg: &BertConfig) -> Layout {
    let e = cfg
        .extra
        .get("embedding_size")
        .and_then(serde_json::Value::as_u64)
        .map_or(DEFAULT_EMBEDDING_SIZE, |v| v as usize);
    Layout {
        family: Family::Electra,
        emb_width: e,
        emb_proj: (e != cfg.hidden_size).then_some("embeddings_project"),
        head: HeadLayout {
            dense: "classifier.dense",
            act: HeadAct::Gelu,
            out: "classifier.out_proj",
            dropout_before_dense: true,
        },
        ..Layout::bert(cfg)
    }
}
