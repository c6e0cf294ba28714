//! [`SequenceClassifier`]: what the trainer, DPS, checkpoints and the UI see of a model,
//! whatever its encoder family.

use candle_core::{DType, Device, Tensor};
use rand_chacha::ChaCha8Rng;

pub use super::base::HeadKind;
use super::base::ModelBase;
use super::family::Family;
use super::inputs::ModelInput;
use super::params::Param;
pub use super::params::{weight_or_override, WeightOverrides};
use super::ModelError;

/// Outputs of [`SequenceClassifier::forward_input`].
#[derive(Debug, Clone)]
pub struct ForwardOutput {
    /// `[B, L, H]` each (`[T, H]` for packed inputs): the hidden states `transformers` returns
    /// with `output_hidden_states=True` (the embedding output, then each layer's). Padded
    /// positions are included.
    pub hidden_states: Vec<Tensor>,
    /// `[B, H]`: what the head's last linear layer reads, before its dropout (BERT: the
    /// pooler output; RoBERTa: `tanh(dense(x₀))`; …).
    pub pooler_output: Tensor,
    /// `[B, num_outputs]`.
    pub logits: Tensor,
}

/// The dropout probabilities a model's own config sets.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ModelDropout {
    /// On hidden states (embeddings, sub-layer outputs).
    pub hidden: f64,
    /// On attention probabilities.
    pub attention: f64,
}

/// The [`SequenceClassifier`] methods a family writes the same way: `base` is the `base` field,
/// and the dropout is read and set through its config (`self.cfg.dropout()`,
/// `self.cfg.set_dropout(p)`). Used inside the `impl SequenceClassifier` block.
macro_rules! config_plumbing {
    () => {
        fn base(&self) -> &$crate::model::base::ModelBase {
            &self.base
        }

        fn config_dropout(&self) -> $crate::model::classifier::ModelDropout {
            self.cfg.dropout()
        }

        fn set_dropout(&mut self, p: f64) {
            self.cfg.set_dropout(p);
        }
    };
}
pub(crate) use config_plumbing;

/// A pre-trained encoder with a sequence-classification (or regression) head, every weight a
/// trainable `Var`. Parameter names are the `transformers` names without the base-model prefix
/// (`encoder.layer.0.attention.self.query.weight`, `classifier.weight`), sorted.
pub trait SequenceClassifier: Send + Sync {
    /// What every family holds: family, head, device, parameters, sizes.
    fn base(&self) -> &ModelBase;
    /// The encoder family.
    fn family(&self) -> Family {
        self.base().family()
    }
    /// The head on top of the encoder.
    fn head(&self) -> HeadKind {
        self.base().head()
    }
    /// The device every parameter lives on.
    fn device(&self) -> &Device {
        self.base().device()
    }
    /// All trainable parameters, sorted by name.
    fn params(&self) -> &[Param] {
        self.base().params()
    }
    /// Rows of the word-embedding table (the largest token id + 1).
    fn vocab_size(&self) -> usize {
        self.base().vocab_size()
    }
    /// Attention heads per layer.
    fn num_attention_heads(&self) -> usize {
        self.base().num_attention_heads()
    }
    /// The dropout the model's config sets (what `dropout: model` and `auto` use).
    fn config_dropout(&self) -> ModelDropout;
    /// Set every dropout probability (hidden, attention, head) to `p`.
    fn set_dropout(&mut self, p: f64);
    /// Whether [`ModelInput::Packed`] batches are supported (otherwise the trainer pads).
    fn supports_packed(&self) -> bool {
        self.base().supports_packed()
    }
    /// Run the model. `dropout`: `None` = evaluation; `Some(rng)` = training, masks drawn from
    /// `rng` on the host (nothing is drawn where the probability is 0). `overrides` replaces
    /// named parameters.
    fn forward_input(
        &self,
        input: &ModelInput,
        dropout: Option<&mut ChaCha8Rng>,
        overrides: Option<&WeightOverrides>,
    ) -> Result<ForwardOutput, ModelError>;
    /// The `config.json` to save with a checkpoint, before the head's fields (labels,
    /// `architectures`) are added: the loaded config with the current dropout.
    fn hf_config(&self) -> Result<serde_json::Map<String, serde_json::Value>, ModelError>;

    /// The parameter with this name.
    fn param(&self, name: &str) -> Option<&Param> {
        let params = self.params();
        params
            .binary_search_by(|p| p.name.as_str().cmp(name))
            .ok()
            .map(|i| &params[i])
    }
    /// Total number of trainable scalars.
    fn num_parameters(&self) -> usize {
        self.params().iter().map(Param::numel).sum()
    }
    /// The training loss of `*ForSequenceClassification`: see [`head_loss`].
    fn loss(&self, logits: &Tensor, labels: &Tensor) -> Result<Tensor, ModelError> {
        head_loss(self.head(), logits, labels)
    }
}

/// A model of any family.
pub type Model = Box<dyn SequenceClassifier>;

/// Mean cross-entropy over the batch (classification; `labels` u32 `[B]`) or mean squared error
/// (regression; `labels` f32 `[B]`, `logits` `[B, 1]`), as `transformers` computes it. Returns a
/// scalar tensor.
pub fn head_loss(head: HeadKind, logits: &Tensor, labels: &Tensor) -> Result<Tensor, ModelError> {
    let bsz = labels.dims1().map_err(|_| {
        ModelError::Input(format!("labels must be [batch], got {:?}", labels.dims()))
    })?;
    let n_out = head.num_outputs();
    if logits.dims() != [bsz, n_out] {
        return Err(ModelError::Input(format!(
            "logits have shape {:?}, expected [{bsz}, {n_out}] for {bsz} labels",
            logits.dims()
        )));
    }
    match head {
        HeadKind::Classification { num_labels } => {
            if labels.dtype() != DType::U32 {
                return Err(ModelError::Input(format!(
                    "classification labels must be u32, got {:?}",
                    labels.dtype()
                )));
            }
            let max = labels.max(0)?.to_scalar::<u32>()? as usize;
            if max >= num_labels {
                return Err(ModelError::Input(format!(
                    "label {max} is out of range for {num_labels} classes"
                )));
            }
            Ok(candle_nn::loss::cross_entropy(logits, labels)?)
        }
        HeadKind::Regression => {
            let y = labels.to_dtype(DType::F32)?;
            let pred = logits.squeeze(1)?;
            Ok((pred - y)?.sqr()?.mean_all()?)
        }
    }
}
