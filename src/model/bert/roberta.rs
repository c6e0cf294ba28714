//! RoBERTa and XLM-RoBERTa: BERT's encoder with position ids counted from `pad_token_id + 1`,
//! token types always 0, no pooler, and `RobertaClassificationHead`
//! (`out_proj(dropout(tanh(dense(dropout(x₀)))))`).

use super::config::BertConfig;
use super::layout::{HeadAct, HeadLayout, Layout, TokenTypes};
use crate::model::family::Family;

/// The layout of a RoBERTa or XLM-RoBERTa config.
pub fn layout(family: Family, cfg: &BertConfig) -> Layout {
    Layout {
        family,
        token_types: TokenTypes::Zeros,
        roberta_positions: Some(cfg.pad_token_id),
        head: HeadLayout {
            dense: "classifier.dense",
            act: HeadAct::Tanh,
            out: "classifier.out_proj",
            dropout_before_dense: true,
        },
        ..Layout::bert(cfg)
    }
}

/// RoBERTa's position ids for one sequence (`create_position_ids_from_input_ids`), given which
/// tokens are real (1) and which are padding (0): `pad + 1, pad + 2, …` for real tokens, `pad`
/// for padding.
pub fn position_ids(real: &[u32], pad: usize) -> impl Iterator<Item = u32> + '_ {
    let mut count = 0u32;
    real.iter().map(move |&r| {
        if r == 0 {
            pad as u32
        } else {
            count += 1;
            pad as u32 + count
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_count_real_tokens_from_pad_plus_one() {
        let p: Vec<u32> = position_ids(&[1, 1, 1, 0, 0], 1).collect();
        assert_eq!(p, [2, 3, 4, 1, 1]);
    }
}
