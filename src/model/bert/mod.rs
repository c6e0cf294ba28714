//! A differentiable BERT-style (post-norm) encoder with its sequence-classification head,
//! matching `transformers`' `*ForSequenceClassification` (eager attention, float32) for BERT,
//! RoBERTa, XLM-RoBERTa, ELECTRA and DistilBERT. What differs between those families (names,
//! embeddings, head) is a [`Layout`].

use std::collections::HashMap;
use std::path::Path;

use candle_core::{DType, Device, Tensor};
use rand_chacha::ChaCha8Rng;

pub mod config;
pub mod distilbert;
pub mod electra;
pub mod layout;
pub mod roberta;

pub use config::BertConfig;
use layout::{HeadAct, Layout, TokenTypes};

use super::base::{self, BaseConfig, Build, ModelBase, ParamIndex, Wb};
pub use super::classifier::{ForwardOutput, HeadKind, WeightOverrides};
use super::classifier::{ModelDropout, SequenceClassifier};
use super::dropout::{draw_mask, maybe_dropout};
use super::family::Family;
use super::init::ParamSpec;
use super::inputs::{InputLimits, InputShape, ModelInput};
use super::ops;
use super::params::Param;
use super::weights::read_weights;
use super::ModelError;

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
    tok: Option<usize>,
    emb_ln: Wb,
    emb_proj: Option<Wb>,
    layers: Vec<LayerIdx>,
    head_dense: Wb,
    head_out: Wb,
}

impl ModelIdx {
    fn build(params: &[Param], layout: &Layout, num_layers: usize) -> Self {
        // The names come from the layout's specs, so every lookup succeeds.
        let names = ParamIndex::new(params);
        let i = |n: &str| names.get(n);
        let wb = |p: &str| names.wb(p);
        let n = &layout.layer;
        ModelIdx {
            word: i("embeddings.word_embeddings.weight"),
            pos: i("embeddings.position_embeddings.weight"),
            tok: (layout.token_types != TokenTypes::Absent)
                .then(|| i("embeddings.token_type_embeddings.weight")),
            emb_ln: wb("embeddings.LayerNorm"),
            emb_proj: layout.emb_proj.map(wb),
            layers: (0..num_layers)
                .map(|l| {
                    let p = format!("{}.{l}", layout.layer_prefix);
                    let m = |name: &str| wb(&format!("{p}.{name}"));
                    LayerIdx {
                        q: m(n.q),
                        k: m(n.k),
                        v: m(n.v),
                        o: m(n.o),
                        attn_ln: m(n.attn_norm),
                        ffn_in: m(n.ffn_in),
                        ffn_out: m(n.ffn_out),
                        out_ln: m(n.out_norm),
                    }
                })
                .collect(),
            head_dense: wb(layout.head.dense),
            head_out: wb(layout.head.out),
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

/// Whether `hidden_act` names the exact-erf GELU (every name [`activation`] does not special-case).
fn is_erf_gelu(act: &str) -> bool {
    !matches!(act, "gelu_new" | "relu")
}

/// A BERT-style encoder + classification (or regression) head; every weight is a trainable
/// `Var`.
pub struct BertForSequenceClassification {
    cfg: BertConfig,
    layout: Layout,
    base: ModelBase,
    idx: ModelIdx,
}

/// A config that [`BertForSequenceClassification::check`] accepted, with its family (as
/// `config.json` names it) and layout.
pub(crate) struct Checked {
    cfg: BertConfig,
    family: Family,
    layout: Layout,
}

impl Build for BertForSequenceClassification {
    type Config = Checked;

    fn base_config(c: &Checked) -> BaseConfig {
        BaseConfig {
            family: c.layout.family,
            initializer_range: c.cfg.initializer_range,
            vocab_size: c.cfg.vocab_size,
            num_attention_heads: c.cfg.num_attention_heads,
            layer_norm_eps: c.layout.layer_norm_eps,
            packed: true,
        }
    }

    fn specs(c: &Checked, head: HeadKind) -> Vec<ParamSpec> {
        c.layout.param_specs(&c.cfg, head)
    }

    fn is_ignored(c: &Checked, name: &str) -> bool {
        c.layout.is_ignored(name)
    }

    /// The family as `config.json` names it (the layout's family for the families BERT's
    /// layout serves).
    fn prefix_family(c: &Checked) -> Family {
        c.family
    }

    /// The family's head roots and the root of the layout's head dense layer.
    fn head_roots(c: &Checked) -> Vec<&'static str> {
        let mut roots = c.family.head_roots().to_vec();
        roots.push(c.layout.head.dense.split('.').next().unwrap_or_default());
        roots
    }

    fn assemble(c: Checked, base: ModelBase) -> Self {
        let Checked { cfg, layout, .. } = c;
        let idx = ModelIdx::build(base.params(), &layout, cfg.num_hidden_layers);
        BertForSequenceClassification {
            cfg,
            layout,
            base,
            idx,
        }
    }
}

impl BertForSequenceClassification {
    fn check(cfg: BertConfig) -> Result<Checked, ModelError> {
        let unsupported = |message: String| ModelError::UnsupportedConfig {
            path: None,
            message,
        };
        cfg.validate().map_err(unsupported)?;
        let family = Family::of_config(&cfg.extra).map_err(unsupported)?;
        if family == Family::DistilBert {
            distilbert::validate(&cfg).map_err(unsupported)?;
        }
        let layout = layout_of(family, &cfg);
        Ok(Checked {
            cfg,
            family,
            layout,
        })
    }

    /// Build from named tensors (checkpoint names, with or without the base-model prefix such as
    /// `bert.`; legacy `gamma`/`beta` LayerNorm names accepted; buffers such as
    /// `embeddings.position_ids` and pretraining heads ignored). A missing head (BERT's pooler
    /// and classifier; the other families' classification head) is initialised with
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
        base::from_tensors(Self::check(cfg)?, head, tensors, device, seed)
    }

    /// Load `<dir>/config.json` and `<dir>/model.safetensors` (or the shards listed in
    /// `model.safetensors.index.json`). See [`Self::from_tensors`] for the head initialisation.
    pub fn load_dir(
        dir: &Path,
        head: HeadKind,
        device: &Device,
        seed: u64,
    ) -> Result<(Self, Vec<String>), ModelError> {
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
    /// (the padding embedding rows zero), biases 0, LayerNorm weights 1 and biases 0, drawn from
    /// a ChaCha8 RNG seeded with `seed`.
    pub fn random(
        cfg: BertConfig,
        head: HeadKind,
        device: &Device,
        seed: u64,
    ) -> Result<Self, ModelError> {
        base::random(Self::check(cfg)?, head, device, seed)
    }

    /// The configuration (including the current dropout probabilities).
    pub fn config(&self) -> &BertConfig {
        &self.cfg
    }

    /// What this family names and computes differently from BERT.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// Run the model on a padded batch. `input_ids`, `token_type_ids` and `attention_mask` are
    /// `[B, L]` u32 (mask 1 = real token). See [`SequenceClassifier::forward_input`].
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

    /// The summed word, position and token-type embeddings, `[B, L, E]` or `[T, E]`.
    fn embed(
        &self,
        input: &ModelInput,
        shape: InputShape,
        ov: Option<&WeightOverrides>,
    ) -> Result<Tensor, ModelError> {
        let ix = &self.idx;
        let dev = self.base.device();
        let e = self.layout.emb_width;
        let ids = input.input_ids().flatten_all()?;
        let word = self.base.weight(ix.word, ov)?.index_select(&ids, 0)?;
        let word = match (self.idx.tok, self.layout.token_types) {
            (Some(t), TokenTypes::Input) => {
                let types = input.token_type_ids().flatten_all()?;
                (word + self.base.weight(t, ov)?.index_select(&types, 0)?)?
            }
            (Some(t), _) => word.broadcast_add(&self.base.weight(t, ov)?.narrow(0, 0, 1)?)?,
            (None, _) => word,
        };
        let pos_table = self.base.weight(ix.pos, ov)?;
        let x = match (input, shape, self.layout.roberta_positions) {
            (ModelInput::Padded { .. }, InputShape::Padded { b, l }, None) => word
                .reshape((b, l, e))?
                .broadcast_add(&pos_table.narrow(0, 0, l)?)?,
            (ModelInput::Packed { offsets, .. }, _, None) => {
                let ids = ModelInput::packed_positions(offsets);
                let n = ids.len();
                (word + pos_table.index_select(&Tensor::from_vec(ids, n, dev)?, 0)?)?
            }
            (_, shape, Some(pad)) => {
                // RoBERTa counts real tokens from `pad + 1` and puts padding at `pad`; the
                // attention mask says which tokens are real (padding may use any id).
                let real: Vec<u32> = match input {
                    ModelInput::Padded { attention_mask, .. } => {
                        attention_mask.flatten_all()?.to_vec1::<u32>()?
                    }
                    ModelInput::Packed { .. } => vec![1; ids.dim(0)?],
                };
                let runs: Vec<&[u32]> = match (input, shape) {
                    (ModelInput::Packed { offsets, .. }, _) => {
                        offsets.windows(2).map(|w| &real[w[0]..w[1]]).collect()
                    }
                    (_, InputShape::Padded { l, .. }) => real.chunks(l).collect(),
                    _ => unreachable!("the checked shape follows the input kind"),
                };
                let pos: Vec<u32> = runs
                    .into_iter()
                    .flat_map(|r| roberta::position_ids(r, pad))
                    .collect();
                let n = pos.len();
                let added = (word + pos_table.index_select(&Tensor::from_vec(pos, n, dev)?, 0)?)?;
                match shape {
                    InputShape::Padded { b, l } => added.reshape((b, l, e))?,
                    InputShape::Packed { .. } => added,
                }
            }
            _ => unreachable!("the checked shape follows the input kind"),
        };
        Ok(x)
    }
}

impl SequenceClassifier for BertForSequenceClassification {
    fn base(&self) -> &ModelBase {
        &self.base
    }

    fn config_dropout(&self) -> ModelDropout {
        ModelDropout {
            hidden: self.cfg.hidden_dropout_prob,
            attention: self.cfg.attention_probs_dropout_prob,
        }
    }

    /// Set the hidden, attention and head dropout (`classifier_dropout` when the config sets
    /// one; DistilBERT's `seq_classif_dropout`).
    fn set_dropout(&mut self, p: f64) {
        self.cfg.hidden_dropout_prob = p;
        self.cfg.attention_probs_dropout_prob = p;
        for key in ["classifier_dropout", "seq_classif_dropout"] {
            if let Some(v) = self.cfg.extra.get_mut(key) {
                if v.is_number() {
                    *v = serde_json::json!(p);
                }
            }
        }
        self.layout.head_dropout = p;
    }

    fn hf_config(&self) -> Result<serde_json::Map<String, serde_json::Value>, ModelError> {
        if self.layout.family == Family::DistilBert {
            return Ok(config::to_distilbert_keys(&self.cfg));
        }
        match serde_json::to_value(&self.cfg) {
            Ok(serde_json::Value::Object(m)) => Ok(m),
            _ => Err(ModelError::Input("cannot serialise the config".into())),
        }
    }

    /// Packed inputs run every row-wise layer (embeddings, linear layers, LayerNorm, GELU,
    /// dropout) on the `T` real tokens only, attention per sequence over its own length, and
    /// the head on each sequence's first token; the hidden states are then `[T, H]`.
    fn forward_input(
        &self,
        input: &ModelInput,
        dropout: Option<&mut ChaCha8Rng>,
        overrides: Option<&WeightOverrides>,
    ) -> Result<ForwardOutput, ModelError> {
        let mut rng = dropout;
        let ov = overrides;
        let layout = &self.layout;
        let shape = input.check(&InputLimits {
            vocab_size: self.cfg.vocab_size,
            max_len: Some(layout.max_len(&self.cfg)),
            type_vocab_size: (layout.token_types == TokenTypes::Input)
                .then_some(self.cfg.type_vocab_size),
        })?;
        let cfg = &self.cfg;
        let nh = cfg.num_attention_heads;
        let hd = cfg.head_dim();
        let p_hidden = cfg.hidden_dropout_prob;
        let p_attn = cfg.attention_probs_dropout_prob;
        let ix = &self.idx;
        let dev = self.base.device();

        let x = self.embed(input, shape, ov)?;
        let x = self.base.norm(&x, ix.emb_ln, ov)?;
        let mut hidden = maybe_dropout(x, p_hidden, &mut rng)?;
        if let Some(proj) = ix.emb_proj {
            hidden = self.base.lin(&hidden, proj, ov)?;
        }

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
        let one_node = ops::encoder_layer_applies(&hidden) && is_erf_gelu(&cfg.hidden_act);
        for layer in &ix.layers {
            if one_node {
                let mut drop = ops::LayerDropout::default();
                if let Some(r) = rng.as_deref_mut() {
                    // The per-op path's order: probabilities, attention output, FFN output.
                    if attn_dropout {
                        drop.attention = Some(draw_mask(num_probs, p_attn, r));
                    }
                    if p_hidden > 0.0 {
                        let n = hidden.elem_count();
                        if layout.attn_output_dropout {
                            drop.attention_output = Some(draw_mask(n, p_hidden, r));
                        }
                        drop.output = Some(draw_mask(n, p_hidden, r));
                    }
                }
                let rows = match (input, &key_mask) {
                    (ModelInput::Packed { offsets, .. }, _) => ops::LayerRows::Packed(offsets),
                    (_, Some(m)) => ops::LayerRows::Padded(m),
                    _ => unreachable!("padded inputs have a key mask"),
                };
                let mut params = Vec::with_capacity(16);
                for wb in [
                    layer.q,
                    layer.k,
                    layer.v,
                    layer.o,
                    layer.attn_ln,
                    layer.ffn_in,
                    layer.ffn_out,
                    layer.out_ln,
                ] {
                    let [w, b] = self.base.pair(wb, ov)?;
                    params.push(w);
                    params.push(b);
                }
                let eps = cfg.layer_norm_eps;
                hidden = ops::encoder_layer(&hidden, &params, rows, nh, scale, eps, drop)?;
                hidden_states.push(hidden.clone());
                continue;
            }
            let q = self.base.lin(&hidden, layer.q, ov)?;
            let k = self.base.lin(&hidden, layer.k, ov)?;
            let v = self.base.lin(&hidden, layer.v, ov)?;
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
            let attn = self.base.lin(&ctx, layer.o, ov)?;
            let attn = if layout.attn_output_dropout {
                maybe_dropout(attn, p_hidden, &mut rng)?
            } else {
                attn
            };
            let a = self.base.norm(&(attn + &hidden)?, layer.attn_ln, ov)?;
            let f = activation(&self.base.lin(&a, layer.ffn_in, ov)?, &cfg.hidden_act)?;
            let f = self.base.lin(&f, layer.ffn_out, ov)?;
            let f = maybe_dropout(f, p_hidden, &mut rng)?;
            hidden = self.base.norm(&(f + &a)?, layer.out_ln, ov)?;
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
        let p_head = layout.head_dropout;
        let first = if layout.head.dropout_before_dense {
            maybe_dropout(first, p_head, &mut rng)?
        } else {
            first
        };
        let dense = self.base.lin(&first, ix.head_dense, ov)?;
        let pooler_output = match layout.head.act {
            HeadAct::Tanh => dense.tanh()?,
            HeadAct::Gelu => ops::gelu_erf(&dense)?,
            HeadAct::Relu => dense.relu()?,
        };
        let pooled = maybe_dropout(pooler_output.clone(), p_head, &mut rng)?;
        let logits = self.base.lin(&pooled, ix.head_out, ov)?;
        Ok(ForwardOutput {
            hidden_states,
            pooler_output,
            logits,
        })
    }
}

/// The layout of `cfg`'s family: what its tensors are called and where it differs from BERT.
pub fn layout_of(family: Family, cfg: &BertConfig) -> Layout {
    match family {
        Family::Roberta | Family::XlmRoberta => roberta::layout(family, cfg),
        Family::Electra => electra::layout(cfg),
        Family::DistilBert => distilbert::layout(cfg),
        _ => Layout::bert(cfg),
    }
}

#[cfg(test)]
mod layer_node_tests;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::testing::{assert_same_params, row_abs_sum};
    use candle_core::Var;
    use rand::SeedableRng;

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
        assert_eq!(a.params().len(), 5 + 16 * 2 + 4);
        assert_same_params(&a, &tiny());
        assert_eq!(row_abs_sum(&a, "embeddings.word_embeddings.weight", 0), 0.0);
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
