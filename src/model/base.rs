//! What every family's model holds besides its own config ([`ModelBase`]: family, head,
//! device, the sorted parameters), the Linear and LayerNorm layers read from those parameters,
//! the index from parameter names to positions that each family builds its layer map with, and
//! the one way a family's model is built from checkpoint tensors or at random (`Build`).

use std::collections::HashMap;

use candle_core::{DType, Device, Tensor};

use super::family::Family;
use super::init::{self, ParamSpec};
use super::ops;
use super::params::Param;
use super::params::{weight_or_override, WeightOverrides};
use super::ModelError;

/// What sits on top of the encoder.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum HeadKind {
    /// `num_labels` logits, trained with cross-entropy.
    Classification {
        /// Number of classes.
        num_labels: usize,
    },
    /// One output, trained with mean squared error (e.g. STS-B).
    Regression,
}

impl HeadKind {
    /// Number of outputs of the classifier layer.
    pub fn num_outputs(&self) -> usize {
        match self {
            HeadKind::Classification { num_labels } => *num_labels,
            HeadKind::Regression => 1,
        }
    }
}

/// Indices into the sorted parameter list of a Linear or LayerNorm's weight and bias (`None`
/// for a layer without one).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Wb {
    pub(crate) w: usize,
    pub(crate) b: Option<usize>,
}

/// Parameter name → position in the sorted parameter list.
pub(crate) struct ParamIndex<'a>(HashMap<&'a str, usize>);

impl<'a> ParamIndex<'a> {
    pub(crate) fn new(params: &'a [Param]) -> Self {
        ParamIndex(
            params
                .iter()
                .enumerate()
                .map(|(i, p)| (p.name.as_str(), i))
                .collect(),
        )
    }

    /// The position of a parameter the family's specs always create.
    ///
    /// # Panics
    /// When `name` is not a parameter: the names a family looks up come from the specs its
    /// parameters were built from, so this is a bug in that family.
    pub(crate) fn get(&self, name: &str) -> usize {
        match self.0.get(name) {
            Some(&i) => i,
            None => panic!("no parameter {name}: the family's specs and its index disagree"),
        }
    }

    /// The position of a parameter the config may leave out.
    pub(crate) fn opt(&self, name: &str) -> Option<usize> {
        self.0.get(name).copied()
    }

    /// `<prefix>.weight` and, if there is one, `<prefix>.bias`.
    pub(crate) fn wb(&self, prefix: &str) -> Wb {
        Wb {
            w: self.get(&format!("{prefix}.weight")),
            b: self.opt(&format!("{prefix}.bias")),
        }
    }

    /// [`ParamIndex::wb`] of a layer the config may leave out.
    pub(crate) fn opt_wb(&self, prefix: &str) -> Option<Wb> {
        Some(Wb {
            w: self.opt(&format!("{prefix}.weight"))?,
            b: self.opt(&format!("{prefix}.bias")),
        })
    }
}

/// What a model of any family holds besides its config, and what
/// [`super::SequenceClassifier`]'s default methods read.
pub struct ModelBase {
    head: HeadKind,
    device: Device,
    params: Vec<Param>,
    cfg: BaseConfig,
    /// Constant zero biases, by width, for the weights that have no bias.
    zeros: HashMap<usize, Tensor>,
}

/// What [`ModelBase`] takes from a family's config.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BaseConfig {
    pub(crate) family: Family,
    /// The standard deviation of the normal initialisation.
    pub(crate) initializer_range: f64,
    pub(crate) vocab_size: usize,
    pub(crate) num_attention_heads: usize,
    /// The epsilon of every LayerNorm.
    pub(crate) layer_norm_eps: f64,
    /// Whether the family runs on packed batches.
    pub(crate) packed: bool,
}

impl ModelBase {
    /// A head must have at least one output.
    pub(crate) fn check_head(head: HeadKind) -> Result<(), ModelError> {
        if head.num_outputs() == 0 {
            return Err(ModelError::UnsupportedConfig {
                path: None,
                message: "a classification head needs at least 1 label".into(),
            });
        }
        Ok(())
    }

    fn new(
        head: HeadKind,
        device: &Device,
        params: Vec<Param>,
        cfg: BaseConfig,
    ) -> Result<Self, ModelError> {
        // Zero biases for the layers without one; embedding tables are not layers.
        let names = ParamIndex::new(&params);
        let mut zeros = HashMap::new();
        for p in &params {
            let Some(prefix) = p.name.strip_suffix(".weight") else {
                continue;
            };
            if prefix.ends_with("embeddings") || names.opt(&format!("{prefix}.bias")).is_some() {
                continue;
            }
            let n = p.var.as_tensor().dims()[0];
            if let std::collections::hash_map::Entry::Vacant(e) = zeros.entry(n) {
                e.insert(Tensor::zeros(n, DType::F32, device)?);
            }
        }
        Ok(ModelBase {
            head,
            device: device.clone(),
            params,
            cfg,
            zeros,
        })
    }

    pub fn family(&self) -> Family {
        self.cfg.family
    }

    pub fn head(&self) -> HeadKind {
        self.head
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    /// All trainable parameters, sorted by name.
    pub fn params(&self) -> &[Param] {
        &self.params
    }

    pub fn vocab_size(&self) -> usize {
        self.cfg.vocab_size
    }

    pub fn num_attention_heads(&self) -> usize {
        self.cfg.num_attention_heads
    }

    pub fn supports_packed(&self) -> bool {
        self.cfg.packed
    }

    /// Parameter `i`, or its override.
    pub(crate) fn weight<'a>(
        &'a self,
        i: usize,
        ov: Option<&'a WeightOverrides>,
    ) -> Result<&'a Tensor, ModelError> {
        weight_or_override(&self.params, i, ov)
    }

    /// The bias of `wb`, or a constant zero of width `n` when the layer has none.
    fn bias<'a>(
        &'a self,
        wb: Wb,
        n: usize,
        ov: Option<&'a WeightOverrides>,
    ) -> Result<&'a Tensor, ModelError> {
        match wb.b {
            Some(i) => self.weight(i, ov),
            None => Ok(&self.zeros[&n]),
        }
    }

    /// `x · wᵀ + b`.
    pub(crate) fn lin(
        &self,
        x: &Tensor,
        wb: Wb,
        ov: Option<&WeightOverrides>,
    ) -> Result<Tensor, ModelError> {
        let w = self.weight(wb.w, ov)?;
        let b = self.bias(wb, w.dims()[0], ov)?;
        Ok(ops::linear(x, w, b)?)
    }

    /// The weight of `wb` and its bias (a constant zero when the layer has none), or their
    /// overrides.
    pub(crate) fn pair<'a>(
        &'a self,
        wb: Wb,
        ov: Option<&'a WeightOverrides>,
    ) -> Result<[&'a Tensor; 2], ModelError> {
        let w = self.weight(wb.w, ov)?;
        Ok([w, self.bias(wb, w.dims()[0], ov)?])
    }

    /// LayerNorm over the last dimension.
    pub(crate) fn norm(
        &self,
        x: &Tensor,
        wb: Wb,
        ov: Option<&WeightOverrides>,
    ) -> Result<Tensor, ModelError> {
        let w = self.weight(wb.w, ov)?;
        let b = self.bias(wb, w.dims()[0], ov)?;
        Ok(ops::layer_norm(x, w, b, self.cfg.layer_norm_eps)?)
    }
}

/// What a family supplies to be built by [`from_tensors`] and [`random`].
pub(crate) trait Build: Sized {
    /// The checked config, with whatever the family derives from it.
    type Config;
    /// What [`ModelBase`] takes from the config.
    fn base_config(cfg: &Self::Config) -> BaseConfig;
    /// Every parameter for this config and head, sorted by name.
    fn specs(cfg: &Self::Config, head: HeadKind) -> Vec<ParamSpec>;
    /// Checkpoint tensors the model does not use and that need no warning.
    fn is_ignored(cfg: &Self::Config, name: &str) -> bool;
    /// The family whose base-model prefix checkpoint names may carry.
    fn prefix_family(cfg: &Self::Config) -> Family {
        Self::base_config(cfg).family
    }
    /// The roots of the head's parameters, which a checkpoint may lack (they are then
    /// initialised).
    fn head_roots(cfg: &Self::Config) -> Vec<&'static str> {
        Self::prefix_family(cfg).head_roots().to_vec()
    }
    /// The model, from its config and its [`ModelBase`] (whose parameters are those of
    /// [`Build::specs`]).
    fn assemble(cfg: Self::Config, base: ModelBase) -> Self;
}

/// The two public constructors of a family whose config is read from a `config.json` object
/// with `$config::from_map`: from checkpoint tensors ([`from_tensors`]) and at random
/// ([`random`]), each with the family's own doc text.
macro_rules! constructors_from_map {
    ($model:ident, $config:ty, $tensors_doc:expr, $random_doc:expr $(,)?) => {
        impl $model {
            #[doc = $tensors_doc]
            pub fn from_config_and_tensors(
                config: serde_json::Map<String, serde_json::Value>,
                head: $crate::model::HeadKind,
                tensors: std::collections::HashMap<String, candle_core::Tensor>,
                device: &candle_core::Device,
                seed: u64,
            ) -> Result<(Self, Vec<String>), $crate::model::ModelError> {
                let cfg = <$config>::from_map(config)?;
                $crate::model::base::from_tensors(cfg, head, tensors, device, seed)
            }

            #[doc = $random_doc]
            pub fn random(
                config: serde_json::Map<String, serde_json::Value>,
                head: $crate::model::HeadKind,
                device: &candle_core::Device,
                seed: u64,
            ) -> Result<Self, $crate::model::ModelError> {
                let cfg = <$config>::from_map(config)?;
                $crate::model::base::random(cfg, head, device, seed)
            }
        }
    };
}
pub(crate) use constructors_from_map;

/// A model from named checkpoint tensors (with or without the family's base-model prefix;
/// legacy `gamma`/`beta` names accepted; ignored tensors dropped). A missing head is
/// initialised (N(0, initializer_range²) weights, zero biases, from a ChaCha8 RNG seeded with
/// `seed`) and its parameter names returned; a missing encoder tensor or a tensor of the wrong
/// shape is an error naming it.
pub(crate) fn from_tensors<M: Build>(
    cfg: M::Config,
    head: HeadKind,
    tensors: HashMap<String, Tensor>,
    device: &Device,
    seed: u64,
) -> Result<(M, Vec<String>), ModelError> {
    ModelBase::check_head(head)?;
    let prefix = M::prefix_family(&cfg).base_prefix();
    let by_name = init::rename_tensors(tensors, prefix, |n| M::is_ignored(&cfg, n))?;
    let base_cfg = M::base_config(&cfg);
    let (params, initialised) = init::params_from_tensors(
        &M::specs(&cfg, head),
        by_name,
        &M::head_roots(&cfg),
        base_cfg.initializer_range,
        device,
        seed,
    )?;
    let base = ModelBase::new(head, device, params, base_cfg)?;
    Ok((M::assemble(cfg, base), initialised))
}

/// A randomly initialised model (`transformers`' scheme: Linear weights and embeddings
/// N(0, initializer_range²), the padding row zero, biases 0, norm weights 1), drawn from a
/// ChaCha8 RNG seeded with `seed`.
pub(crate) fn random<M: Build>(
    cfg: M::Config,
    head: HeadKind,
    device: &Device,
    seed: u64,
) -> Result<M, ModelError> {
    ModelBase::check_head(head)?;
    let base_cfg = M::base_config(&cfg);
    let specs = M::specs(&cfg, head);
    let params = init::random_params(&specs, base_cfg.initializer_range, device, seed)?;
    let base = ModelBase::new(head, device, params, base_cfg)?;
    Ok(M::assemble(cfg, base))
}
