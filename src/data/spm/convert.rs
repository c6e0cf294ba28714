//! A SentencePiece unigram model (`spm.model`) with its `tokenizer_config.json` turned into the
//! tokenizer that `transformers`' `DebertaV2TokenizerFast` builds from it
//! (`convert_slow_tokenizer.DebertaV2Converter`):
//!
//! - model: `Unigram` over the pieces and their scores, the trainer's unknown id, no byte
//!   fallback;
//! - normalizer: `Lowercase` (when `do_lower_case`), `Strip`, `Precompiled` (the model's
//!   character map, when it has one), and runs of spaces replaced by one space;
//! - pre-tokenizer: `Punctuation` (isolated, when `split_by_punct`), then `Metaspace` (`▁`,
//!   prepended always, splitting on spaces);
//! - added tokens: the control and user-defined pieces, then the special tokens (`[CLS]`,
//!   `[SEP]`, `[UNK]`, `[PAD]`, `[MASK]` unless `tokenizer_config.json` names others) that are
//!   not added yet, a missing one getting the next id;
//! - post-processor: `[CLS] $A [SEP]` and `[CLS] $A [SEP] $B [SEP]` with type ids 0 and 1.

use super::proto::{PieceType, SpmModel};
use tokenizers::decoders::metaspace::Metaspace as MetaspaceDecoder;
use tokenizers::models::unigram::Unigram;
use tokenizers::normalizers::{
    Lowercase, NormalizerWrapper, Precompiled, Replace, Sequence as NormalizerSequence, Strip,
};
use tokenizers::pre_tokenizers::metaspace::{Metaspace, PrependScheme};
use tokenizers::pre_tokenizers::punctuation::Punctuation;
use tokenizers::pre_tokenizers::sequence::Sequence as PreTokenizerSequence;
use tokenizers::pre_tokenizers::PreTokenizerWrapper;
use tokenizers::processors::template::TemplateProcessing;
use tokenizers::{AddedToken, SplitDelimiterBehavior, Tokenizer};

/// What `tokenizer_config.json` says about a DeBERTa-v2 tokenizer (transformers' defaults for
/// the keys it lacks).
#[derive(Debug, Clone, PartialEq)]
pub struct DebertaV2Options {
    pub do_lower_case: bool,
    pub split_by_punct: bool,
    pub bos_token: String,
    pub eos_token: String,
    pub unk_token: String,
    pub sep_token: String,
    pub pad_token: String,
    pub cls_token: String,
    pub mask_token: String,
}

impl Default for DebertaV2Options {
    fn default() -> Self {
        Self {
            do_lower_case: false,
            split_by_punct: false,
            bos_token: "[CLS]".into(),
            eos_token: "[SEP]".into(),
            unk_token: "[UNK]".into(),
            sep_token: "[SEP]".into(),
            pad_token: "[PAD]".into(),
            cls_token: "[CLS]".into(),
            mask_token: "[MASK]".into(),
        }
    }
}

impl DebertaV2Options {
    /// The options of a `tokenizer_config.json` object. A special token is a string or an
    /// object with a `content` string (transformers' serialised `AddedToken`).
    pub fn from_config(
        config: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<Self, String> {
        let mut o = Self::default();
        let flag = |key: &str, default: bool| -> Result<bool, String> {
            match config.get(key) {
                None | Some(serde_json::Value::Null) => Ok(default),
                Some(serde_json::Value::Bool(b)) => Ok(*b),
                Some(other) => Err(format!("`{key}` must be true or false, not {other}")),
            }
        };
        o.do_lower_case = flag("do_lower_case", o.do_lower_case)?;
        o.split_by_punct = flag("split_by_punct", o.split_by_punct)?;
        let tokens: [(&str, &mut String); 7] = [
            ("bos_token", &mut o.bos_token),
            ("eos_token", &mut o.eos_token),
            ("unk_token", &mut o.unk_token),
            ("sep_token", &mut o.sep_token),
            ("pad_token", &mut o.pad_token),
            ("cls_token", &mut o.cls_token),
            ("mask_token", &mut o.mask_token),
        ];
        for (key, slot) in tokens {
            match config.get(key) {
                None | Some(serde_json::Value::Null) => {}
                Some(serde_json::Value::String(s)) => *slot = s.clone(),
                Some(serde_json::Value::Object(m)) => match m.get("content") {
                    Some(serde_json::Value::String(s)) => *slot = s.clone(),
                    _ => return Err(format!("`{key}` has no \"content\" string")),
                },
                Some(other) => return Err(format!("`{key}` must be a string, not {other}")),
            }
        }
        Ok(o)
    }

    /// The special tokens in transformers' order (`SPECIAL_TOKENS_ATTRIBUTES`).
    fn special_tokens(&self) -> [&str; 7] {
        [
            &self.bos_token,
            &self.eos_token,
            &self.unk_token,
            &self.sep_token,
            &self.pad_token,
            &self.cls_token,
            &self.mask_token,
        ]
    }
}

/// Build the DeBERTa-v2 fast tokenizer of a parsed `spm.model`.
pub fn deberta_v2_tokenizer(
    model: &SpmModel,
    options: &DebertaV2Options,
) -> Result<Tokenizer, String> {
    if model.model_type != 1 {
        return Err(format!(
            "the SentencePiece model type is {} but only unigram (1) models are converted, as \
             DeBERTa-v2/v3 ship",
            model.model_type
        ));
    }
    let vocab: Vec<(String, f64)> = model
        .pieces
        .iter()
        .map(|p| (p.piece.clone(), f64::from(p.score)))
        .collect();
    let unigram = Unigram::from(vocab, Some(model.unk_id), false).map_err(|e| e.to_string())?;
    let mut tokenizer = Tokenizer::new(unigram);

    let mut normalizers: Vec<NormalizerWrapper> = Vec::new();
    if options.do_lower_case {
        normalizers.push(Lowercase.into());
    }
    normalizers.push(Strip::new(true, true).into());
    if !model.precompiled_charsmap.is_empty() {
        let p = Precompiled::from(&model.precompiled_charsmap)
            .map_err(|e| format!("the precompiled character map cannot be read: {e}"))?;
        normalizers.push(p.into());
    }
    let spaces = Replace::new(
        tokenizers::normalizers::replace::ReplacePattern::Regex(" {2,}".into()),
        " ",
    )
    .map_err(|e| e.to_string())?;
    normalizers.push(spaces.into());
    tokenizer
        .with_normalizer(Some(NormalizerSequence::new(normalizers)))
        .map_err(|e| e.to_string())?;

    let mut pre: Vec<PreTokenizerWrapper> = Vec::new();
    if options.split_by_punct {
        pre.push(Punctuation::new(SplitDelimiterBehavior::Isolated).into());
    }
    pre.push(Metaspace::new('▁', PrependScheme::Always, true).into());
    tokenizer.with_pre_tokenizer(Some(PreTokenizerSequence::new(pre)));
    tokenizer.with_decoder(Some(MetaspaceDecoder::new(
        '▁',
        PrependScheme::Always,
        true,
    )));

    // The converter's added tokens: control pieces (special) and user-defined ones, by id.
    let specials = options.special_tokens();
    let from_pieces: Vec<AddedToken> = model
        .pieces
        .iter()
        .filter(|p| matches!(p.kind, PieceType::Control | PieceType::UserDefined))
        .map(|p| {
            let special = p.kind == PieceType::Control || specials.contains(&p.piece.as_str());
            AddedToken::from(p.piece.clone(), special).normalized(false)
        })
        .collect();
    tokenizer
        .add_tokens(from_pieces.clone())
        .map_err(|e| e.to_string())?;
    // The fast tokenizer's special tokens that are not added tokens yet.
    let mut seen: Vec<&str> = from_pieces.iter().map(|t| t.content.as_str()).collect();
    let mut rest = Vec::new();
    for s in specials {
        if !seen.contains(&s) {
            seen.push(s);
            rest.push(AddedToken::from(s.to_string(), true).normalized(false));
        }
    }
    tokenizer
        .add_special_tokens(rest)
        .map_err(|e| e.to_string())?;

    let id = |t: &str| {
        tokenizer
            .token_to_id(t)
            .ok_or_else(|| format!("the special token {t:?} has no id"))
    };
    let (cls, sep) = (options.cls_token.as_str(), options.sep_token.as_str());
    let post = TemplateProcessing::builder()
        .try_single(format!("{cls}:0 $A:0 {sep}:0"))
        .and_then(|b| b.try_pair(format!("{cls}:0 $A:0 {sep}:0 $B:1 {sep}:1")))
        .map_err(|e| format!("bad template: {e}"))?
        .special_tokens(vec![(cls, id(cls)?), (sep, id(sep)?)])
        .build()
        .map_err(|e| format!("bad template: {e}"))?;
    tokenizer.with_post_processor(Some(post));
    Ok(tokenizer)
}
