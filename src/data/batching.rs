//! Encoded examples, batches (packed, or padded to the longest item or to a fixed length) as
//! tensors, and the order of examples in each epoch.

use super::glue::{Label, TaskSpec};
use super::DataError;
use crate::model::ModelInput;
use crate::rng;
use candle_core::{Device, Tensor};
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

/// One tokenized example: token ids, token type (segment) ids, and its label. No padding.
#[derive(Debug, Clone)]
pub struct Encoded {
    pub ids: Vec<u32>,
    pub type_ids: Vec<u32>,
    pub label: Label,
}

impl Encoded {
    /// Number of tokens.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether there are no tokens.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }
}

/// All examples of one split, tokenized once.
#[derive(Debug, Clone)]
pub struct EncodedDataset {
    pub items: Vec<Encoded>,
    pub task: &'static TaskSpec,
}

impl EncodedDataset {
    /// Number of examples.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether there are no examples.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Token count of every item, in order (for length grouping).
    pub fn lengths(&self) -> Vec<usize> {
        self.items.iter().map(Encoded::len).collect()
    }

    /// The labels, in order.
    pub fn labels(&self) -> Vec<Label> {
        self.items.iter().map(|e| e.label.clone()).collect()
    }

    /// The items at `indices`, in that order (the input of [`make_batch`]).
    pub fn select(&self, indices: &[usize]) -> Vec<&Encoded> {
        indices.iter().map(|&i| &self.items[i]).collect()
    }
}

/// How the sequences of a batch are laid out for the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Padding {
    /// The sequences end to end with no padding (`[T]` tokens plus each sequence's offset).
    Packed,
    /// Right-padded to the longest sequence of the batch (dynamic padding).
    Longest,
    /// Right-padded to `max_seq_length` (run_glue's default).
    MaxLength,
}

impl Padding {
    /// Every mode, in the order benchmarks report them.
    pub const ALL: [Padding; 3] = [Padding::Packed, Padding::Longest, Padding::MaxLength];

    /// Parse `packed`, `longest` or `max_length`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "packed" => Some(Padding::Packed),
            "longest" => Some(Padding::Longest),
            "max_length" => Some(Padding::MaxLength),
            _ => None,
        }
    }

    /// The name `parse` reads.
    pub fn as_str(&self) -> &'static str {
        match self {
            Padding::Packed => "packed",
            Padding::Longest => "longest",
            Padding::MaxLength => "max_length",
        }
    }
}

/// A padded batch, ready for the model.
pub struct Batch {
    /// `[B, L]` u32 token ids, right-padded with 0.
    pub input_ids: Tensor,
    /// `[B, L]` u32 token type ids, 0 on padding.
    pub token_type_ids: Tensor,
    /// `[B, L]` u32, 1 on real tokens and 0 on padding.
    pub attention_mask: Tensor,
    /// `[B]` u32 class ids, or `[B]` f32 scores for regression.
    pub labels: Tensor,
    /// Number of examples `B`.
    pub size: usize,
    /// Padded length `L`.
    pub seq_len: usize,
    /// Number of non-padding tokens in the batch.
    pub real_tokens: usize,
}

/// Right-pad `items` with id 0, type 0 and mask 0 to the longest item (`pad_to = None`) or to
/// `pad_to` tokens. Labels become a u32 tensor of class ids, or f32 scores when `regression`.
pub fn make_batch(
    items: &[&Encoded],
    pad_to: Option<usize>,
    regression: bool,
    device: &Device,
) -> Result<Batch, DataError> {
    if items.is_empty() {
        return Err(DataError::Batch("no examples in the batch".into()));
    }
    let longest = items.iter().map(|e| e.len()).max().unwrap_or(0);
    let seq_len = match pad_to {
        None => longest,
        Some(p) if p >= longest => p,
        Some(p) => {
            return Err(DataError::Batch(format!(
                "an item has {longest} tokens, more than pad_to = {p}. Fix: encode with \
                 max_len <= {p}"
            )))
        }
    };
    if seq_len == 0 {
        return Err(DataError::Batch("every item of the batch is empty".into()));
    }
    let b = items.len();
    let mut ids = vec![0u32; b * seq_len];
    let mut types = vec![0u32; b * seq_len];
    let mut mask = vec![0u32; b * seq_len];
    let mut real_tokens = 0;
    for (row, e) in items.iter().enumerate() {
        if e.type_ids.len() != e.ids.len() {
            return Err(DataError::Batch(format!(
                "item {row} has {} ids but {} type ids",
                e.ids.len(),
                e.type_ids.len()
            )));
        }
        let start = row * seq_len;
        let n = e.len();
        ids[start..start + n].copy_from_slice(&e.ids);
        types[start..start + n].copy_from_slice(&e.type_ids);
        mask[start..start + n].fill(1);
        real_tokens += n;
    }
    let labels = labels_tensor(items, regression, device)?;
    Ok(Batch {
        input_ids: Tensor::from_vec(ids, (b, seq_len), device)?,
        token_type_ids: Tensor::from_vec(types, (b, seq_len), device)?,
        attention_mask: Tensor::from_vec(mask, (b, seq_len), device)?,
        labels,
        size: b,
        seq_len,
        real_tokens,
    })
}

/// A packed batch: the sequences end to end, no padding.
pub struct PackedBatch {
    /// `[T]` u32 token ids, `T` the total number of tokens.
    pub input_ids: Tensor,
    /// `[T]` u32 token type ids.
    pub token_type_ids: Tensor,
    /// `B + 1` offsets: sequence `i` is tokens `offsets[i]..offsets[i + 1]`.
    pub offsets: Vec<usize>,
    /// `[B]` u32 class ids, or `[B]` f32 scores for regression.
    pub labels: Tensor,
    /// Number of examples `B`.
    pub size: usize,
}

/// Lay `items` end to end. Labels as in [`make_batch`]. Every item must have at least one
/// token.
pub fn make_packed_batch(
    items: &[&Encoded],
    regression: bool,
    device: &Device,
) -> Result<PackedBatch, DataError> {
    if items.is_empty() {
        return Err(DataError::Batch("no examples in the batch".into()));
    }
    let total: usize = items.iter().map(|e| e.len()).sum();
    let mut ids = Vec::with_capacity(total);
    let mut types = Vec::with_capacity(total);
    let mut offsets = Vec::with_capacity(items.len() + 1);
    offsets.push(0);
    for (row, e) in items.iter().enumerate() {
        if e.type_ids.len() != e.ids.len() {
            return Err(DataError::Batch(format!(
                "item {row} has {} ids but {} type ids",
                e.ids.len(),
                e.type_ids.len()
            )));
        }
        if e.is_empty() {
            return Err(DataError::Batch(format!(
                "item {row} has no tokens; a packed batch needs at least one per item"
            )));
        }
        ids.extend_from_slice(&e.ids);
        types.extend_from_slice(&e.type_ids);
        offsets.push(ids.len());
    }
    Ok(PackedBatch {
        input_ids: Tensor::from_vec(ids, total, device)?,
        token_type_ids: Tensor::from_vec(types, total, device)?,
        offsets,
        labels: labels_tensor(items, regression, device)?,
        size: items.len(),
    })
}

/// A batch in the layout of a [`Padding`] mode.
pub enum ModelBatch {
    Padded(Batch),
    Packed(PackedBatch),
}

impl ModelBatch {
    /// Build the batch of `items` for `padding` (`max_length` pads to `max_len`).
    pub fn new(
        items: &[&Encoded],
        padding: Padding,
        max_len: usize,
        regression: bool,
        device: &Device,
    ) -> Result<Self, DataError> {
        Ok(match padding {
            Padding::Packed => ModelBatch::Packed(make_packed_batch(items, regression, device)?),
            Padding::Longest => ModelBatch::Padded(make_batch(items, None, regression, device)?),
            Padding::MaxLength => {
                ModelBatch::Padded(make_batch(items, Some(max_len), regression, device)?)
            }
        })
    }

    /// The model's view of the tokens.
    pub fn input(&self) -> ModelInput<'_> {
        match self {
            ModelBatch::Padded(b) => ModelInput::Padded {
                input_ids: &b.input_ids,
                token_type_ids: &b.token_type_ids,
                attention_mask: &b.attention_mask,
            },
            ModelBatch::Packed(b) => ModelInput::Packed {
                input_ids: &b.input_ids,
                token_type_ids: &b.token_type_ids,
                offsets: &b.offsets,
            },
        }
    }

    /// The labels `[B]`.
    pub fn labels(&self) -> &Tensor {
        match self {
            ModelBatch::Padded(b) => &b.labels,
            ModelBatch::Packed(b) => &b.labels,
        }
    }

    /// Number of examples.
    pub fn size(&self) -> usize {
        match self {
            ModelBatch::Padded(b) => b.size,
            ModelBatch::Packed(b) => b.size,
        }
    }

    /// Number of real (non-padding) tokens.
    pub fn real_tokens(&self) -> usize {
        match self {
            ModelBatch::Padded(b) => b.real_tokens,
            ModelBatch::Packed(b) => b.offsets.last().copied().unwrap_or(0),
        }
    }
}

/// The labels of `items`: a u32 tensor of class ids, or f32 scores when `regression`.
fn labels_tensor(
    items: &[&Encoded],
    regression: bool,
    device: &Device,
) -> Result<Tensor, DataError> {
    Ok(if regression {
        let v = items
            .iter()
            .map(|e| match e.label {
                Label::Score(s) => Ok(s),
                Label::Class(_) => Err(DataError::Batch(
                    "a regression batch got a class label".into(),
                )),
            })
            .collect::<Result<Vec<f32>, _>>()?;
        Tensor::from_vec(v, items.len(), device)?
    } else {
        let v = items
            .iter()
            .map(|e| match e.label {
                Label::Class(c) => Ok(c as u32),
                Label::Score(_) => Err(DataError::Batch(
                    "a classification batch got a regression score".into(),
                )),
            })
            .collect::<Result<Vec<u32>, _>>()?;
        Tensor::from_vec(v, items.len(), device)?
    })
}

/// The random generator for epoch `epoch` of a run seeded with `seed`.
fn epoch_rng(seed: u64, epoch: usize) -> ChaCha8Rng {
    rng::keyed(seed, epoch as u64, *b"dps-tui/epochord")
}

/// The order of example indices for epoch `epoch` (0-based): a permutation of `0..n` that
/// depends only on `(seed, epoch, n)` (and the lengths, when grouping).
///
/// With `group_by_length = Some((lengths, batch_size))`, as Hugging Face's
/// `LengthGroupedSampler`: shuffle, cut into mega-batches of `m * batch_size` indices
/// (`m = min(n / (4 * batch_size), 50)`, at least 1), and sort each mega-batch by length,
/// longest first, so consecutive batches hold examples of similar length.
///
/// Panics if `lengths.len() != n` or `batch_size == 0`.
pub fn epoch_order(
    n: usize,
    seed: u64,
    epoch: usize,
    group_by_length: Option<(&[usize], usize)>,
) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(&mut epoch_rng(seed, epoch));
    if let Some((lengths, batch_size)) = group_by_length {
        assert_eq!(lengths.len(), n, "epoch_order: one length per example");
        assert!(batch_size > 0, "epoch_order: batch_size must be > 0");
        let mult = (n / (batch_size * 4)).clamp(1, 50);
        for mega in order.chunks_mut(mult * batch_size) {
            // Stable sort: ties keep their shuffled order.
            mega.sort_by(|&a, &b| lengths[b].cmp(&lengths[a]));
        }
    }
    order
}

/// Cut an epoch order into batches of `batch_size` indices, in order; the last partial batch
/// is kept. Panics if `batch_size == 0`.
pub fn epoch_batches(order: &[usize], batch_size: usize) -> Vec<Vec<usize>> {
    assert!(batch_size > 0, "epoch_batches: batch_size must be > 0");
    order.chunks(batch_size).map(<[usize]>::to_vec).collect()
}
