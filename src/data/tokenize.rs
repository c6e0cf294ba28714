//! [`TextEncoder`]: a `tokenizers` tokenizer configured as Hugging Face's
//! `tokenizer(a, b, truncation=True, max_length=N)` with no padding.
//!
//! A model folder's tokenizer is its `tokenizer.json`, else its SentencePiece `spm.model` (with
//! `tokenizer_config.json`), converted as `transformers`' `DebertaV2TokenizerFast` does (see
//! [`super::spm`]).
//!
//! Published `tokenizer.json` files may carry their own padding and truncation settings
//! (all-MiniLM-L6-v2's pads every encoding to 128); both are replaced here. Padding is done
//! later, per batch, by [`crate::data::make_batch`].

use super::batching::{Encoded, EncodedDataset};
use super::glue::{Dataset, Label};
use super::DataError;
use std::path::{Path, PathBuf};
use tokenizers::{
    EncodeInput, Encoding, Tokenizer, TruncationDirection, TruncationParams, TruncationStrategy,
};

/// How many examples are handed to `encode_batch` at once (bounds the memory held by
/// `tokenizers`' full `Encoding` values).
const CHUNK: usize = 4096;

/// The tokenizer file of a model folder: `tokenizer.json`, else `spm.model`.
pub fn tokenizer_file(dir: &Path) -> Option<PathBuf> {
    [TOKENIZER_JSON, super::spm::SPM_MODEL]
        .iter()
        .map(|f| dir.join(f))
        .find(|p| p.is_file())
}

/// The `tokenizers` file of a model folder.
pub const TOKENIZER_JSON: &str = "tokenizer.json";

/// A WordPiece (or any `tokenizer.json` or `spm.model`) tokenizer with longest-first truncation to `max_len`
/// tokens, special tokens included, and no padding.
pub struct TextEncoder {
    tokenizer: Tokenizer,
    max_len: usize,
    path: PathBuf,
}

impl TextEncoder {
    /// Load `tokenizer.json`, or an `spm.model` (a file name ending in `.model`, read with the
    /// `tokenizer_config.json` beside it); disable the file's own padding; set longest-first
    /// truncation to `max_len` tokens counting special tokens (as HF's `truncation=True,
    /// max_length`).
    pub fn from_file(path: &Path, max_len: usize) -> Result<Self, DataError> {
        let err = |message: String| DataError::Tokenizer {
            path: path.to_path_buf(),
            message,
        };
        if !path.is_file() {
            return Err(err("the file does not exist".into()));
        }
        let is_spm = path.extension().is_some_and(|e| e == "model");
        let mut tokenizer = if is_spm {
            super::spm::load_deberta_v2(path).map_err(err)?
        } else {
            Tokenizer::from_file(path).map_err(|e| err(e.to_string()))?
        };
        tokenizer.with_padding(None);
        tokenizer
            .with_truncation(Some(TruncationParams {
                direction: TruncationDirection::Right,
                max_length: max_len,
                strategy: TruncationStrategy::LongestFirst,
                stride: 0,
            }))
            .map_err(|e| err(format!("cannot truncate to max_len {max_len}: {e}")))?;
        Ok(Self {
            tokenizer,
            max_len,
            path: path.to_path_buf(),
        })
    }

    /// Vocabulary size, added tokens included.
    pub fn vocab_size(&self) -> usize {
        self.tokenizer.get_vocab_size(true)
    }

    /// The truncation length (special tokens included).
    pub fn max_len(&self) -> usize {
        self.max_len
    }

    /// The `tokenizer.json` (or `spm.model`) this encoder was loaded from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The id of `token` (such as `[PAD]`), if the vocabulary has it.
    pub fn token_to_id(&self, token: &str) -> Option<u32> {
        self.tokenizer.token_to_id(token)
    }

    /// The underlying `tokenizers` tokenizer.
    pub fn tokenizer(&self) -> &Tokenizer {
        &self.tokenizer
    }

    /// Encode every example of `ds` once, in parallel, keeping example order.
    pub fn encode_dataset(&self, ds: &Dataset) -> Result<EncodedDataset, DataError> {
        let mut items = Vec::with_capacity(ds.examples.len());
        for chunk in ds.examples.chunks(CHUNK) {
            let inputs: Vec<EncodeInput> = chunk
                .iter()
                .map(|e| match &e.text_b {
                    Some(b) => (e.text_a.as_str(), b.as_str()).into(),
                    None => e.text_a.as_str().into(),
                })
                .collect();
            let encodings = self
                .tokenizer
                .encode_batch_fast(inputs, true)
                .map_err(|e| DataError::Encode(format!("{}: {e}", ds.source)))?;
            items.extend(
                encodings
                    .iter()
                    .zip(chunk)
                    .map(|(enc, ex)| to_encoded(enc, ex.label.clone())),
            );
        }
        Ok(EncodedDataset {
            items,
            task: ds.task,
        })
    }

    /// Encode one text or pair. The label of the result is `Label::Class(0)` (a placeholder).
    pub fn encode_pair(&self, a: &str, b: Option<&str>) -> Result<Encoded, DataError> {
        let input: EncodeInput = match b {
            Some(b) => (a, b).into(),
            None => a.into(),
        };
        let enc = self
            .tokenizer
            .encode_fast(input, true)
            .map_err(|e| DataError::Encode(e.to_string()))?;
        Ok(to_encoded(&enc, Label::Class(0)))
    }
}

fn to_encoded(enc: &Encoding, label: Label) -> Encoded {
    Encoded {
        ids: enc.get_ids().to_vec(),
        type_ids: enc.get_type_ids().to_vec(),
        label,
    }
}
