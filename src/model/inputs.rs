//! What the model reads: a padded batch (`[B, L]` with an attention mask) or a packed one
//! (the sequences end to end, `[T]`, with each sequence's offset), and the checks on them.

use super::family::Family;
use super::ModelError;
use candle_core::{DType, Tensor};

/// The token inputs of one forward pass.
#[derive(Debug, Clone, Copy)]
pub enum ModelInput<'a> {
    /// `[B, L]` u32 each; `attention_mask` is 1 on real tokens and 0 on padding.
    Padded {
        input_ids: &'a Tensor,
        token_type_ids: &'a Tensor,
        attention_mask: &'a Tensor,
    },
    /// `[T]` u32 each, the `B` sequences end to end with no padding: sequence `i` is rows
    /// `offsets[i]..offsets[i + 1]` (`B + 1` offsets, the first 0, the last `T`). Position ids
    /// restart at 0 in each sequence.
    Packed {
        input_ids: &'a Tensor,
        token_type_ids: &'a Tensor,
        offsets: &'a [usize],
    },
}

/// What a model accepts: checked by [`ModelInput::check`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InputLimits {
    /// Token ids must be below this.
    pub vocab_size: usize,
    /// The longest sequence, when the model has one (absolute position embeddings).
    pub max_len: Option<usize>,
    /// Token type ids must be below this, when the model reads them (`None`: ignored).
    pub type_vocab_size: Option<usize>,
}

impl InputLimits {
    fn check_len(&self, len: usize) -> Result<(), ModelError> {
        match self.max_len {
            Some(max) if len > max => Err(ModelError::Input(format!(
                "sequence length {len} exceeds the model's {max} positions \
                 (max_position_embeddings); truncate the inputs"
            ))),
            _ => Ok(()),
        }
    }
}

/// The shape of checked inputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum InputShape {
    /// `B` sequences padded to `L`.
    Padded { b: usize, l: usize },
    /// `B` sequences, `T` tokens in all.
    Packed { b: usize, t: usize },
}

impl InputShape {
    /// Number of sequences.
    pub(crate) fn batch(&self) -> usize {
        match *self {
            InputShape::Padded { b, .. } | InputShape::Packed { b, .. } => b,
        }
    }
}

impl<'a> ModelInput<'a> {
    /// The token ids.
    pub fn input_ids(&self) -> &'a Tensor {
        match *self {
            ModelInput::Padded { input_ids, .. } | ModelInput::Packed { input_ids, .. } => {
                input_ids
            }
        }
    }

    /// The token type (segment) ids.
    pub fn token_type_ids(&self) -> &'a Tensor {
        match *self {
            ModelInput::Padded { token_type_ids, .. }
            | ModelInput::Packed { token_type_ids, .. } => token_type_ids,
        }
    }

    /// Position ids of packed inputs: `0..len` for each sequence, end to end.
    pub(crate) fn packed_positions(offsets: &[usize]) -> Vec<u32> {
        offsets
            .windows(2)
            .flat_map(|w| 0..(w[1] - w[0]) as u32)
            .collect()
    }

    /// [`ModelInput::check`] for a family without packed batches: the attention mask, batch
    /// size and length of a padded batch; a packed batch is an error naming the family.
    pub(crate) fn check_padded(
        &self,
        limits: &InputLimits,
        family: Family,
    ) -> Result<(&'a Tensor, usize, usize), ModelError> {
        match (*self, self.check(limits)?) {
            (ModelInput::Padded { attention_mask, .. }, InputShape::Padded { b, l }) => {
                Ok((attention_mask, b, l))
            }
            _ => Err(ModelError::Input(format!(
                "{family} runs on padded batches only; pad the sequences to one length with an \
                 attention mask (packed batches are not supported for this family)"
            ))),
        }
    }

    /// Check shapes, dtypes and ranges against the model configuration.
    pub(crate) fn check(&self, limits: &InputLimits) -> Result<InputShape, ModelError> {
        let shape = match *self {
            ModelInput::Padded {
                input_ids,
                token_type_ids,
                attention_mask,
            } => {
                let (b, l) = input_ids.dims2().map_err(|_| {
                    ModelError::Input(format!(
                        "input_ids must be [batch, seq_len], got {:?}",
                        input_ids.dims()
                    ))
                })?;
                for (name, t) in [
                    ("token_type_ids", token_type_ids),
                    ("attention_mask", attention_mask),
                ] {
                    if t.dims() != [b, l] {
                        return Err(ModelError::Input(format!(
                            "{name} has shape {:?} but input_ids has [{b}, {l}]",
                            t.dims()
                        )));
                    }
                }
                if attention_mask.dtype() != DType::U32 {
                    return Err(ModelError::Input(format!(
                        "attention_mask must be u32, got {:?}",
                        attention_mask.dtype()
                    )));
                }
                if b == 0 || l == 0 {
                    return Err(ModelError::Input(format!("empty batch [{b}, {l}]")));
                }
                limits.check_len(l)?;
                InputShape::Padded { b, l }
            }
            ModelInput::Packed {
                input_ids,
                token_type_ids,
                offsets,
            } => {
                let t = input_ids.dims1().map_err(|_| {
                    ModelError::Input(format!(
                        "packed input_ids must be [tokens], got {:?}",
                        input_ids.dims()
                    ))
                })?;
                if token_type_ids.dims() != [t] {
                    return Err(ModelError::Input(format!(
                        "token_type_ids has shape {:?} but packed input_ids has [{t}]",
                        token_type_ids.dims()
                    )));
                }
                let ok = offsets.len() >= 2
                    && offsets[0] == 0
                    && offsets[offsets.len() - 1] == t
                    && offsets.windows(2).all(|w| w[0] < w[1]);
                if !ok {
                    return Err(ModelError::Input(format!(
                        "packed offsets must rise strictly from 0 to the {t} tokens (one \
                         non-empty sequence at least), got {offsets:?}"
                    )));
                }
                let longest = offsets.windows(2).map(|w| w[1] - w[0]).max().unwrap_or(0);
                limits.check_len(longest)?;
                InputShape::Packed {
                    b: offsets.len() - 1,
                    t,
                }
            }
        };
        for (name, t) in [
            ("input_ids", self.input_ids()),
            ("token_type_ids", self.token_type_ids()),
        ] {
            if t.dtype() != DType::U32 {
                return Err(ModelError::Input(format!(
                    "{name} must be u32, got {:?}",
                    t.dtype()
                )));
            }
        }
        let max_id = self.input_ids().flatten_all()?.max(0)?.to_scalar::<u32>()? as usize;
        if max_id >= limits.vocab_size {
            return Err(ModelError::Input(format!(
                "token id {max_id} is out of range for vocab_size {}; the tokenizer does not match the model",
                limits.vocab_size
            )));
        }
        if let Some(types) = limits.type_vocab_size {
            let max_tt = self
                .token_type_ids()
                .flatten_all()?
                .max(0)?
                .to_scalar::<u32>()? as usize;
            if max_tt >= types {
                return Err(ModelError::Input(format!(
                    "token type id {max_tt} is out of range for type_vocab_size {types}"
                )));
            }
        }
        Ok(shape)
    }
}
