//! A differentiable BERT encoder with pooler and sequence-classification head, matching
//! `transformers.BertForSequenceClassification` (eager attention, float32).

use std::collections::HashMap;
use std::path::Path;

use candle_core::{DType, Device, Tensor, Var};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::config::BertConfig;
use super::dropout::{draw_mask, dropout};
use super::inputs::{InputLimits, InputShape, ModelInput};
use super::ops;
use super::params::Param;
use super::weights::read_weights;
use super::ModelError;

/// What sits on top of the pooled output.
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

/// Outputs of [`BertForSequenceClassification::forward`].
#[derive(Debug, Clone)]
pub struct ForwardOutput {
    /// `[B, L, H]` each (`[T, H]` for packed inputs): the embedding output, then the output of
    /// each layer (the last one is `last_hidden_state`). Padded positions are included.
    pub hidden_states: Vec<Tensor>,
    /// `[B, H]`: `tanh(pooler.dense(last_hidden_state[:, 0]))`.
    pub pooler_output: Tensor,
    /// `[B, num_outputs]`: the classifier applied to the (dropped-out) pooled output.
    pub logits: Tensor,
}

/// Parameter name → tensor used in the forward pass instead of that parameter's `Var` (for
/// example DPS-Mix effective weights). Gradients then flow into the override, not the var.
pub type WeightOverrides = HashMap<String, Tensor>;

/// How a new parameter is initialised.
#[derive(Debug, Clone, Copy)]
enum Init {
    /// N(0, initializer_range²).
    Normal,
    /// N(0, initializer_range²) with the `[PAD]` row zeroed (as `transformers` does).
    Embedding {
        pad_row: Option<usize>,
    },
    Zeros,
    Ones,
}

struct ParamSpec {
    name: String,
    shape: Vec<usize>,
    init: Init,
}

/// Every parameter the model has for this configuration and head, sorted by name.
fn param_specs(cfg: &BertConfig, head: HeadKind) -> Vec<ParamSpec> {
    let h = cfg.hidden_size;
    let mut specs = Vec::new();
    let mut add =
        |name: String, shape: Vec<usize>, init: Init| specs.push(ParamSpec { name, shape, init });
    let pad_row = (cfg.pad_token_id < cfg.vocab_size).then_some(cfg.pad_token_id);
    add(
        "embeddings.word_embeddings.weight".into(),
        vec![cfg.vocab_size, h],
        Init::Embedding { pad_row },
    );
    add(
        "embeddings.position_embeddings.weight".into(),
        vec![cfg.max_position_embeddings, h],
        Init::Normal,
    );
    add(
        "embeddings.token_type_embeddings.weight".into(),
        vec![cfg.type_vocab_size, h],
        Init::Normal,
    );
    let add_linear =
        |add: &mut dyn FnMut(String, Vec<usize>, Init), prefix: &str, out_f: usize, in_f: usize| {
            add(format!("{prefix}.weight"), vec![out_f, in_f], Init::Normal);
            add(format!("{prefix}.bias"), vec![out_f], Init::Zeros);
        };
    let add_norm = |add: &mut dyn FnMut(String, Vec<usize>, Init), prefix: &str| {
        add(format!("{prefix}.weight"), vec![h], Init::Ones);
        add(format!("{prefix}.bias"), vec![h], Init::Zeros);
    };
    add_norm(&mut add, "embeddings.LayerNorm");
    for l in 0..cfg.num_hidden_layers {
        let p = format!("encoder.layer.{l}");
        for m in ["query", "key", "value"] {
            add_linear(&mut add, &format!("{p}.attention.self.{m}"), h, h);
        }
        add_linear(&mut add, &format!("{p}.attention.output.dense"), h, h);
        add_norm(&mut add, &format!("{p}.attention.output.LayerNorm"));
        add_linear(
            &mut add,
            &format!("{p}.intermediate.dense"),
            cfg.intermediate_size,
            h,
        );
        add_linear(
            &mut add,
            &format!("{p}.output.dense"),
            h,
            cfg.intermediate_size,
        );
        add_norm(&mut add, &format!("{p}.output.LayerNorm"));
    }
    add_linear(&mut add, "pooler.dense", h, h);
    add_linear(&mut add, "classifier", head.num_outputs(), h);
    specs.sort_by(|a, b| a.name.cmp(&b.name));
    specs
}

/// Draw one standard-normal sample (Box–Muller) from the RNG.
fn standard_normal(rng: &mut ChaCha8Rng) -> f64 {
    loop {
        let u1: f64 = rng.random();
        let u2: f64 = rng.random();
        if u1 > f64::MIN_POSITIVE {
            return (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
        }
    }
}

/// Create a freshly initialised tensor for `spec`.
fn init_tensor(
    spec: &ParamSpec,
    std: f64,
    rng: &mut ChaCha8Rng,
    device: &Device,
) -> Result<Tensor, ModelError> {
    let n: usize = spec.shape.iter().product();
    let data: Vec<f32> = match spec.init {
        Init::Zeros => vec![0.0; n],
        Init::Ones => vec![1.0; n],
        Init::Normal | Init::Embedding { .. } => {
            let mut v: Vec<f32> = (0..n)
                .map(|_| (standard_normal(rng) * std) as f32)
                .collect();
            if let Init::Embedding { pad_row: Some(r) } = spec.init {
                let cols = spec.shape[1];
                v[r * cols..(r + 1) * cols].fill(0.0);
            }
            v
        }
    };
    Ok(Tensor::from_vec(data, spec.shape.as_slice(), device)?)
}

/// Indices into the sorted parameter list of a Linear or LayerNorm's weight and bias.
#[derive(Debug, Clone, Copy)]
struct Wb {
    w: usize,
    b: usize,
}

#[derive(Debug, Clone)]
struct LayerIdx {
    q: Wb,
    k: Wb,
    v: Wb,
    o: Wb,
    attn_ln: Wb,
    ffn_in: Wb,
    ffn_out: Wb,
    out_ln: Wb,
}

#[derive(Debug, Clone)]
struct ModelIdx {
    word: usize,
    pos: usize,
    tok: usize,
    emb_ln: Wb,
    layers: Vec<LayerIdx>,
    pooler: Wb,
    classifier: Wb,
}

impl ModelIdx {
    fn build(params: &[Param], num_layers: usize) -> Self {
        let pos: HashMap<&str, usize> = params
            .iter()
            .enumerate()
            .map(|(i, p)| (p.name.as_str(), i))
            .collect();
        // The names come from `param_specs`, so every lookup succeeds.
        let i = |n: &str| pos[n];
        let wb = |p: &str| Wb {
            w: i(&format!("{p}.weight")),
            b: i(&format!("{p}.bias")),
        };
        ModelIdx {
            word: i("embeddings.word_embeddings.weight"),
            pos: i("embeddings.position_embeddings.weight"),
            tok: i("embeddings.token_type_embeddings.weight"),
            emb_ln: wb("embeddings.LayerNorm"),
            layers: (0..num_layers)
                .map(|l| {
                    let p = format!("encoder.layer.{l}");
                    LayerIdx {
                        q: wb(&format!("{p}.attention.self.query")),
                        k: wb(&format!("{p}.attention.self.key")),
                        v: wb(&format!("{p}.attention.self.value")),
                        o: wb(&format!("{p}.attention.output.dense")),
                        attn_ln: wb(&format!("{p}.attention.output.LayerNorm")),
                        ffn_in: wb(&format!("{p}.intermediate.dense")),
                        ffn_out: wb(&format!("{p}.output.dense")),
                        out_ln: wb(&format!("{p}.output.LayerNorm")),
                    }
                })
                .collect(),
            pooler: wb("pooler.dense"),
            classifier: wb("classifier"),
        }
    }
}

/// The feed-forward activation named by `hidden_act`.
fn activation(x: &Tensor, act: &str) -> candle_core::Result<Tensor> {
    match act {
        "gelu_new" => x.gelu(),
        "relu" => x.relu(),
        // Exact GELU, `0.5 · x · (1 + erf(x / √2))` (Hugging Face `"gelu"`), fused.
        _ => ops::gelu_erf(x),
    }
}

/// Apply dropout when training (`rng` is `Some`) and `p > 0`.
fn maybe_dropout(
    x: Tensor,
    p: f64,
    rng: &mut Option<&mut ChaCha8Rng>,
) -> candle_core::Result<Tensor> {
    match rng {
        Some(r) if p > 0.0 => dropout(&x, p, r),
        _ => Ok(x),
    }
}

/// BERT encoder + pooler + classification (or regression) head; every weight is a trainable
/// [`Var`].
pub struct BertForSequenceClassification {
    cfg: BertConfig,
    head: HeadKind,
    device: Device,
    params: Vec<Param>,
    idx: ModelIdx,
}

/// Parameter names of tensors that a checkpoint may hold but the model does not use.
fn is_ignored_name(name: &str) -> bool {
    name.starts_with("cls.")
        || name.ends_with("position_ids")
        || name == "embeddings.token_type_ids"
}

/// Map a checkpoint tensor name to the parameter name: strip `bert.`, rename legacy
/// `gamma`/`beta` to `weight`/`bias`.
fn normalise_name(name: &str) -> String {
    let n = name.strip_prefix("bert.").unwrap_or(name);
    if let Some(stem) = n.strip_suffix(".gamma") {
        format!("{stem}.weight")
    } else if let Some(stem) = n.strip_suffix(".beta") {
        format!("{stem}.bias")
    } else {
        n.to_string()
    }
}

impl BertForSequenceClassification {
    fn check(cfg: &BertConfig, head: HeadKind) -> Result<(), ModelError> {
        cfg.validate()
            .map_err(|message| ModelError::UnsupportedConfig {
                path: None,
                message,
            })?;
        if head.num_outputs() == 0 {
            return Err(ModelError::UnsupportedConfig {
                path: None,
                message: "a classification head needs at least 1 label".into(),
            });
        }
        Ok(())
    }

    fn assemble(cfg: BertConfig, head: HeadKind, device: &Device, params: Vec<Param>) -> Self {
        let idx = ModelIdx::build(&params, cfg.num_hidden_layers);
        BertForSequenceClassification {
            cfg,
            head,
            device: device.clone(),
            params,
            idx,
        }
    }

    /// Build from named tensors (Hugging Face names, with or without the `bert.` prefix; legacy
    /// `gamma`/`beta` LayerNorm names accepted; `embeddings.position_ids`, other buffers and the
    /// `cls.*` pretraining heads ignored). A missing pooler or classifier is initialised with
    /// N(0, initializer_range²) weights and zero biases from a ChaCha8 RNG seeded with `seed`,
    /// and its parameter names are returned. A missing encoder tensor or a tensor of the wrong
    /// shape is an error naming it.
    pub fn from_tensors(
        cfg: BertConfig,
        head: HeadKind,
        tensors: HashMap<String, Tensor>,
        device: &Device,
        seed: u64,
    ) -> Result<(Self, Vec<String>), ModelError> {
        Self::check(&cfg, head)?;
        let mut by_name: HashMap<String, Tensor> = HashMap::with_capacity(tensors.len());
        for (raw, t) in tensors {
            let name = normalise_name(&raw);
            if is_ignored_name(&name) {
                continue;
            }
            if by_name.insert(name.clone(), t).is_some() {
                return Err(ModelError::DuplicateTensor { name });
            }
        }
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut initialised = Vec::new();
        let mut params = Vec::new();
        for spec in param_specs(&cfg, head) {
            let tensor = match by_name.remove(&spec.name) {
                Some(t) => {
                    if t.dims() != spec.shape.as_slice() {
                        return Err(ModelError::ShapeMismatch {
                            name: spec.name,
                            expected: spec.shape,
                            found: t.dims().to_vec(),
                        });
                    }
                    t.to_dtype(DType::F32)?.to_device(device)?
                }
                None if spec.name.starts_with("pooler.")
                    || spec.name.starts_with("classifier.") =>
                {
                    initialised.push(spec.name.clone());
                    init_tensor(&spec, cfg.initializer_range, &mut rng, device)?
                }
                None => {
                    return Err(ModelError::MissingTensor {
                        name: spec.name,
                        source_file: None,
                    })
                }
            };
            params.push(Param::new(spec.name, Var::from_tensor(&tensor)?));
        }
        if !by_name.is_empty() {
            let mut unused: Vec<&String> = by_name.keys().collect();
            unused.sort();
            tracing::warn!(
                "ignoring {} tensors the model does not use: {:?}",
                unused.len(),
                unused
            );
        }
        Ok((Self::assemble(cfg, head, device, params), initialised))
    }

    /// Load `<dir>/config.json` and `<dir>/model.safetensors` (or the shards listed in
    /// `model.safetensors.index.json`). See [`Self::from_tensors`] for the head initialisation.
    pub fn load_dir(
        dir: &Path,
        head: HeadKind,
        device: &Device,
        seed: u64,
    ) -> Result<(Self, Vec<String>), ModelError> {
        let hint = "the model folder must hold config.json and model.safetensors \
                    (e.g. ../shared/models/all-MiniLM-L6-v2)";
        if !dir.is_dir() {
            return Err(ModelError::MissingFile {
                path: dir.to_path_buf(),
                hint: format!("no such folder; {hint}"),
            });
        }
        let cfg = BertConfig::from_file(&dir.join("config.json"))?;
        let (tensors, files) = read_weights(dir)?;
        let source = files.first().cloned();
        Self::from_tensors(cfg, head, tensors, device, seed).map_err(|e| match e {
            ModelError::MissingTensor { name, .. } => ModelError::MissingTensor {
                name,
                source_file: source,
            },
            other => other,
        })
    }

    /// A randomly initialised model: Linear weights and embeddings N(0, initializer_range²)
    /// (the `[PAD]` embedding row zero), biases 0, LayerNorm weights 1 and biases 0, drawn from
    /// a ChaCha8 RNG seeded with `seed`.
    pub fn random(
        cfg: BertConfig,
        head: HeadKind,
        device: &Device,
        seed: u64,
    ) -> Result<Self, ModelError> {
        Self::check(&cfg, head)?;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut params = Vec::new();
        for spec in param_specs(&cfg, head) {
            let t = init_tensor(&spec, cfg.initializer_range, &mut rng, device)?;
            params.push(Param::new(spec.name, Var::from_tensor(&t)?));
        }
        Ok(Self::assemble(cfg, head, device, params))
    }

    /// The configuration (including the current dropout probabilities).
    pub fn config(&self) -> &BertConfig {
        &self.cfg
    }

    /// The head on top of the pooled output.
    pub fn head(&self) -> HeadKind {
        self.head
    }

    /// The device every parameter lives on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// All trainable parameters (encoder, pooler and classifier), sorted by name.
    pub fn params(&self) -> &[Param] {
        &self.params
    }

    /// The parameter with this name (without the `bert.` prefix).
    pub fn param(&self, name: &str) -> Option<&Param> {
        self.params
            .binary_search_by(|p| p.name.as_str().cmp(name))
            .ok()
            .map(|i| &self.params[i])
    }

    /// Total number of trainable scalars.
    pub fn num_parameters(&self) -> usize {
        self.params.iter().map(Param::numel).sum()
    }

    /// Set the hidden and attention dropout probabilities (and `classifier_dropout`, when the
    /// config sets one).
    pub fn set_dropout(&mut self, p: f64) {
        self.cfg.hidden_dropout_prob = p;
        self.cfg.attention_probs_dropout_prob = p;
        if let Some(v) = self.cfg.extra.get_mut("classifier_dropout") {
            if v.is_number() {
                *v = serde_json::json!(p);
            }
        }
    }

    /// The tensor used for parameter `i`: its override if there is one, otherwise its var.
    fn weight<'a>(
        &'a self,
        i: usize,
        overrides: Option<&'a WeightOverrides>,
    ) -> Result<&'a Tensor, ModelError> {
        let p = &self.params[i];
        match overrides.and_then(|o| o.get(&p.name)) {
            Some(t) => {
                if t.dims() != p.var.as_tensor().dims() {
                    return Err(ModelError::ShapeMismatch {
                        name: format!("override for {}", p.name),
                        expected: p.var.as_tensor().dims().to_vec(),
                        found: t.dims().to_vec(),
                    });
                }
                Ok(t)
            }
            None => Ok(p.var.as_tensor()),
        }
    }

    fn lin(&self, x: &Tensor, wb: Wb, ov: Option<&WeightOverrides>) -> Result<Tensor, ModelError> {
        Ok(ops::linear(
            x,
            self.weight(wb.w, ov)?,
            self.weight(wb.b, ov)?,
        )?)
    }

    fn norm(&self, x: &Tensor, wb: Wb, ov: Option<&WeightOverrides>) -> Result<Tensor, ModelError> {
        Ok(ops::layer_norm(
            x,
            self.weight(wb.w, ov)?,
            self.weight(wb.b, ov)?,
            self.cfg.layer_norm_eps,
        )?)
    }

    /// Run the model on a padded batch. `input_ids`, `token_type_ids` and `attention_mask` are
    /// `[B, L]` u32 (mask 1 = real token). See [`Self::forward_input`].
    pub fn forward(
        &self,
        input_ids: &Tensor,
        token_type_ids: &Tensor,
        attention_mask: &Tensor,
        dropout: Option<&mut ChaCha8Rng>,
        overrides: Option<&WeightOverrides>,
    ) -> Result<ForwardOutput, ModelError> {
        let input = ModelInput::Padded {
            input_ids,
            token_type_ids,
            attention_mask,
        };
        self.forward_input(&input, dropout, overrides)
    }

    /// Run the model on a padded or a packed batch. `dropout`: `None` = evaluation (no
    /// dropout); `Some(rng)` = training with the config's dropout probabilities, masks drawn
    /// from `rng` on the host (nothing is drawn where the probability is 0). `overrides`
    /// replaces named parameters.
    ///
    /// Packed inputs run every row-wise layer (embeddings, linear layers, LayerNorm, GELU,
    /// dropout) on the `T` real tokens only, attention per sequence over its own length, and
    /// the pooler on each sequence's first token; the hidden states are then `[T, H]`.
    pub fn forward_input(
        &self,
        input: &ModelInput,
        dropout: Option<&mut ChaCha8Rng>,
        overrides: Option<&WeightOverrides>,
    ) -> Result<ForwardOutput, ModelError> {
        let mut rng = dropout;
        let ov = overrides;
        let shape = input.check(&InputLimits {
            vocab_size: self.cfg.vocab_size,
            max_len: Some(self.cfg.max_position_embeddings),
            type_vocab_size: Some(self.cfg.type_vocab_size),
        })?;
        let cfg = &self.cfg;
        let h = cfg.hidden_size;
        let nh = cfg.num_attention_heads;
        let hd = cfg.head_dim();
        let p_hidden = cfg.hidden_dropout_prob;
        let p_attn = cfg.attention_probs_dropout_prob;
        let ix = &self.idx;
        let dev = &self.device;

        // Embeddings.
        let word = self
            .weight(ix.word, ov)?
            .index_select(&input.input_ids().flatten_all()?, 0)?;
        let tok = self
            .weight(ix.tok, ov)?
            .index_select(&input.token_type_ids().flatten_all()?, 0)?;
        let x = match (input, shape) {
            (ModelInput::Padded { .. }, InputShape::Padded { b, l }) => {
                let pos = self.weight(ix.pos, ov)?.narrow(0, 0, l)?;
                (word.reshape((b, l, h))? + tok.reshape((b, l, h))?)?.broadcast_add(&pos)?
            }
            (ModelInput::Packed { offsets, .. }, _) => {
                let ids = ModelInput::packed_positions(offsets);
                let n = ids.len();
                let pos_ids = Tensor::from_vec(ids, n, dev)?;
                let pos = self.weight(ix.pos, ov)?.index_select(&pos_ids, 0)?;
                ((word + tok)? + pos)?
            }
            _ => unreachable!("the checked shape follows the input kind"),
        };
        let x = self.norm(&x, ix.emb_ln, ov)?;
        let mut hidden = maybe_dropout(x, p_hidden, &mut rng)?;

        // How attention sees the rows, and how many probabilities one layer has.
        let (key_mask, num_probs) = match (input, shape) {
            (ModelInput::Padded { attention_mask, .. }, InputShape::Padded { b, l }) => {
                // Additive key mask: 0 for real tokens, f32::MIN for padding; [B, L].
                let m = attention_mask
                    .to_dtype(DType::F32)?
                    .affine(-(f32::MIN as f64), f32::MIN as f64)?;
                (Some(m), b * nh * l * l)
            }
            (ModelInput::Packed { offsets, .. }, _) => {
                let n = offsets.windows(2).map(|w| nh * (w[1] - w[0]).pow(2)).sum();
                (None, n)
            }
            _ => unreachable!("the checked shape follows the input kind"),
        };
        let attn_dropout = rng.is_some() && p_attn > 0.0;
        let scale = (hd as f64).powf(-0.5);

        let mut hidden_states = Vec::with_capacity(cfg.num_hidden_layers + 1);
        hidden_states.push(hidden.clone());
        for layer in &ix.layers {
            let q = self.lin(&hidden, layer.q, ov)?;
            let k = self.lin(&hidden, layer.k, ov)?;
            let v = self.lin(&hidden, layer.v, ov)?;
            let drop = match rng.as_deref_mut() {
                Some(r) if attn_dropout => Some(draw_mask(num_probs, p_attn, r)),
                _ => None,
            };
            let ctx = match (input, &key_mask) {
                (ModelInput::Packed { offsets, .. }, _) => {
                    ops::packed_attention(&q, &k, &v, offsets, nh, scale, drop)?
                }
                (_, Some(m)) => ops::attention_with_dropout(&q, &k, &v, m, nh, scale, drop)?,
                _ => unreachable!("padded inputs have a key mask"),
            };
            let attn = self.lin(&ctx, layer.o, ov)?;
            let attn = maybe_dropout(attn, p_hidden, &mut rng)?;
            let a = self.norm(&(attn + &hidden)?, layer.attn_ln, ov)?;
            let f = activation(&self.lin(&a, layer.ffn_in, ov)?, &cfg.hidden_act)?;
            let f = self.lin(&f, layer.ffn_out, ov)?;
            let f = maybe_dropout(f, p_hidden, &mut rng)?;
            hidden = self.norm(&(f + &a)?, layer.out_ln, ov)?;
            hidden_states.push(hidden.clone());
        }

        let first = match input {
            ModelInput::Padded { .. } => hidden.narrow(1, 0, 1)?.squeeze(1)?,
            ModelInput::Packed { offsets, .. } => {
                let rows: Vec<u32> = offsets[..shape.batch()].iter().map(|&o| o as u32).collect();
                let n = rows.len();
                hidden.index_select(&Tensor::from_vec(rows, n, dev)?, 0)?
            }
        };
        let pooler_output = self.lin(&first, ix.pooler, ov)?.tanh()?;
        let pooled = maybe_dropout(pooler_output.clone(), cfg.classifier_dropout(), &mut rng)?;
        let logits = self.lin(&pooled, ix.classifier, ov)?;
        Ok(ForwardOutput {
            hidden_states,
            pooler_output,
            logits,
        })
    }

    /// The training loss of `BertForSequenceClassification`: mean cross-entropy over the batch
    /// (classification; `labels` u32 `[B]`) or mean squared error (regression; `labels` f32
    /// `[B]`, `logits` `[B, 1]`). Returns a scalar tensor.
    pub fn loss(&self, logits: &Tensor, labels: &Tensor) -> Result<Tensor, ModelError> {
        let bsz = labels.dims1().map_err(|_| {
            ModelError::Input(format!("labels must be [batch], got {:?}", labels.dims()))
        })?;
        let n_out = self.head.num_outputs();
        if logits.dims() != [bsz, n_out] {
            return Err(ModelError::Input(format!(
                "logits have shape {:?}, expected [{bsz}, {n_out}] for {bsz} labels",
                logits.dims()
            )));
        }
        match self.head {
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
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny() -> BertForSequenceClassification {
        let mut cfg = BertConfig::tiny_demo(50);
        cfg.hidden_size = 16;
        cfg.intermediate_size = 32;
        BertForSequenceClassification::random(
            cfg,
            HeadKind::Classification { num_labels: 2 },
            &Device::Cpu,
            3,
        )
        .unwrap()
    }

    fn inputs() -> (Tensor, Tensor, Tensor) {
        let d = &Device::Cpu;
        let ids = Tensor::new(&[[2u32, 7, 9, 0], [3, 4, 0, 0]], d).unwrap();
        let tt = Tensor::new(&[[0u32, 0, 1, 0], [0, 0, 0, 0]], d).unwrap();
        let m = Tensor::new(&[[1u32, 1, 1, 0], [1, 1, 0, 0]], d).unwrap();
        (ids, tt, m)
    }

    #[test]
    fn random_is_deterministic_and_names_sorted() {
        let a = tiny();
        let b = tiny();
        assert_eq!(a.params().len(), 5 + 16 * 2 + 4);
        for (x, y) in a.params().iter().zip(b.params()) {
            assert_eq!(x.name, y.name);
            let d = (x.var.as_tensor() - y.var.as_tensor())
                .unwrap()
                .abs()
                .unwrap()
                .max_all()
                .unwrap()
                .to_scalar::<f32>()
                .unwrap();
            assert_eq!(d, 0.0);
        }
        let names: Vec<&str> = a.params().iter().map(|p| p.name.as_str()).collect();
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(names, sorted);
        let pad = a
            .param("embeddings.word_embeddings.weight")
            .unwrap()
            .var
            .as_tensor()
            .get(0)
            .unwrap()
            .abs()
            .unwrap()
            .sum_all()
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        assert_eq!(pad, 0.0);
    }

    #[test]
    fn dropout_is_seeded_and_eval_is_deterministic() {
        let m = tiny();
        let (ids, tt, mask) = inputs();
        let e1 = m.forward(&ids, &tt, &mask, None, None).unwrap().logits;
        let e2 = m.forward(&ids, &tt, &mask, None, None).unwrap().logits;
        assert_eq!(e1.to_vec2::<f32>().unwrap(), e2.to_vec2::<f32>().unwrap());
        let mut r1 = ChaCha8Rng::seed_from_u64(5);
        let mut r2 = ChaCha8Rng::seed_from_u64(5);
        let t1 = m
            .forward(&ids, &tt, &mask, Some(&mut r1), None)
            .unwrap()
            .logits;
        let t2 = m
            .forward(&ids, &tt, &mask, Some(&mut r2), None)
            .unwrap()
            .logits;
        assert_eq!(t1.to_vec2::<f32>().unwrap(), t2.to_vec2::<f32>().unwrap());
        assert_ne!(t1.to_vec2::<f32>().unwrap(), e1.to_vec2::<f32>().unwrap());
        // With dropout 0 no mask is drawn and training equals evaluation.
        let mut m0 = tiny();
        m0.set_dropout(0.0);
        let mut r3 = ChaCha8Rng::seed_from_u64(5);
        let before = r3.clone();
        let t3 = m0
            .forward(&ids, &tt, &mask, Some(&mut r3), None)
            .unwrap()
            .logits;
        assert_eq!(r3, before);
        assert_eq!(t3.to_vec2::<f32>().unwrap(), e1.to_vec2::<f32>().unwrap());
    }

    #[test]
    fn overrides_replace_weights_and_receive_gradients() {
        let m = tiny();
        let (ids, tt, mask) = inputs();
        let name = "encoder.layer.1.attention.self.query.weight";
        let w = m.param(name).unwrap().var.as_tensor();
        let ov_t = Var::from_tensor(&(w * 2.0).unwrap()).unwrap();
        let mut ov = WeightOverrides::new();
        ov.insert(name.to_string(), ov_t.as_tensor().clone());
        let out = m.forward(&ids, &tt, &mask, None, Some(&ov)).unwrap();
        let base = m.forward(&ids, &tt, &mask, None, None).unwrap();
        assert_ne!(
            out.logits.to_vec2::<f32>().unwrap(),
            base.logits.to_vec2::<f32>().unwrap()
        );
        let labels = Tensor::new(&[0u32, 1], &Device::Cpu).unwrap();
        let grads = m.loss(&out.logits, &labels).unwrap().backward().unwrap();
        assert!(grads.get(ov_t.as_tensor()).is_some());
        assert!(grads.get(m.param(name).unwrap().var.as_tensor()).is_none());
        // A wrong-shaped override is an error naming the parameter.
        ov.insert(
            name.to_string(),
            Tensor::zeros((2, 2), DType::F32, &Device::Cpu).unwrap(),
        );
        let e = m.forward(&ids, &tt, &mask, None, Some(&ov)).unwrap_err();
        assert!(e.to_string().contains(name), "{e}");
    }

    #[test]
    fn input_errors() {
        let m = tiny();
        let (ids, tt, mask) = inputs();
        let bad = Tensor::new(&[[2u32, 700, 9, 0], [3, 4, 0, 0]], &Device::Cpu).unwrap();
        let e = m.forward(&bad, &tt, &mask, None, None).unwrap_err();
        assert!(e.to_string().contains("700"), "{e}");
        let e = m
            .forward(&ids, &tt.narrow(1, 0, 3).unwrap(), &mask, None, None)
            .unwrap_err();
        assert!(e.to_string().contains("token_type_ids"), "{e}");
        let labels = Tensor::new(&[0u32, 5], &Device::Cpu).unwrap();
        let logits = m.forward(&ids, &tt, &mask, None, None).unwrap().logits;
        assert!(m.loss(&logits, &labels).is_err());
    }

    #[test]
    fn regression_loss_is_mse() {
        let cfg = BertConfig::tiny_demo(50);
        let m = BertForSequenceClassification::random(cfg, HeadKind::Regression, &Device::Cpu, 1)
            .unwrap();
        let logits = Tensor::new(&[[1.0f32], [3.0]], &Device::Cpu).unwrap();
        let labels = Tensor::new(&[0.0f32, 1.0], &Device::Cpu).unwrap();
        let l = m
            .loss(&logits, &labels)
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        assert!((l - 2.5).abs() < 1e-6);
        assert_eq!(
            m.param("classifier.weight").unwrap().var.as_tensor().dims(),
            [1, 64]
        );
    }
}
