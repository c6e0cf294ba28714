//! Named trainable parameters of a model, and what their names say: layer, module, weight
//! decay, DPS.

use candle_core::{Tensor, Var};

use super::ModelError;

/// One trainable tensor of the model.
#[derive(Debug, Clone)]
pub struct Param {
    /// Hugging Face name without the `bert.` prefix, e.g.
    /// `encoder.layer.0.attention.self.query.weight`, `pooler.dense.weight`, `classifier.weight`.
    pub name: String,
    /// The trainable tensor.
    pub var: Var,
    /// Whether weight decay applies: false for biases and norms (the Hugging Face Trainer's
    /// parameter groups, [`decays`]).
    pub decay: bool,
    /// Whether DPS may select elements of this tensor: true for the weight matrices of every
    /// Linear layer of the encoder and the head ([`is_dps`]).
    pub dps: bool,
}

impl Param {
    /// Wrap a variable, deriving `decay` and `dps` from its name.
    pub fn new(name: impl Into<String>, var: Var) -> Self {
        let name = name.into();
        Param {
            decay: decays(&name),
            dps: is_dps(&name),
            name,
            var,
        }
    }

    /// The encoder layer this parameter belongs to, if any.
    pub fn layer(&self) -> Option<usize> {
        layer_of(&self.name)
    }

    /// A short name of the part of the model this parameter belongs to: for Linear weights the
    /// module names of [`LINEAR_MODULES`] (BERT's `"q"`, `"k"`, `"v"`, `"o"`, `"ffn_in"`,
    /// `"ffn_out"`, `"pooler"`, `"classifier"`, and each family's own where they differ, see
    /// [`module_of`]); `"embeddings"` for embedding tables; `"layer_norm"` for every norm weight
    /// and bias; `"bias"` for the biases of Linear layers; `"other"` for anything else.
    pub fn module(&self) -> &'static str {
        module_of(&self.name)
    }

    /// Number of elements.
    pub fn numel(&self) -> usize {
        self.var.as_tensor().elem_count()
    }
}

/// Whether a parameter of this name gets weight decay: the Hugging Face Trainer's rule
/// (`Trainer.get_decay_parameter_names`): not biases and not norms (`LayerNorm`, `*_layer_norm`,
/// `*_norm`, `norm`).
pub fn decays(name: &str) -> bool {
    !(name.to_ascii_lowercase().contains("bias") || is_norm(name))
}

/// Whether a parameter of this name belongs to a normalisation layer.
fn is_norm(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower.contains("layernorm")
        || lower.contains("rmsnorm")
        || lower
            .split('.')
            .any(|part| part == "norm" || part.ends_with("_norm"))
}

/// Whether a parameter of this name is a Linear weight that DPS may select from: every linear
/// layer of the encoder and of the head.
pub fn is_dps(name: &str) -> bool {
    name.ends_with(".weight") && LINEAR_MODULES.contains(&module_of(name))
}

/// The module names [`module_of`] gives Linear weights, in heatmap order within a layer.
pub const LINEAR_MODULES: [&str; 24] = [
    "q",
    "k",
    "v",
    "q_lin",
    "k_lin",
    "v_lin",
    "q_proj",
    "k_proj",
    "v_proj",
    "pos_q_proj",
    "pos_k_proj",
    "Wqkv",
    "o",
    "out_lin",
    "attn.Wo",
    "ffn_in",
    "lin1",
    "mlp.Wi",
    "ffn_out",
    "lin2",
    "mlp.Wo",
    "emb_proj",
    "pooler",
    "classifier",
];

/// The rank of a module in the heatmap's order (q, k, v, o, ffn in, ffn out, head).
pub fn module_rank(module: &str) -> usize {
    match module {
        "emb_proj" => 0,
        "q" | "q_lin" | "q_proj" | "Wqkv" => 1,
        "k" | "k_lin" | "k_proj" => 2,
        "v" | "v_lin" | "v_proj" | "pos_q_proj" | "pos_k_proj" => 3,
        "o" | "out_lin" | "attn.Wo" => 4,
        "ffn_in" | "lin1" | "mlp.Wi" => 5,
        "ffn_out" | "lin2" | "mlp.Wo" => 6,
        "pooler" => 7,
        "classifier" => 8,
        _ => 9,
    }
}

/// The encoder layer of a parameter name: `encoder.layer.<l>.…` (BERT, RoBERTa, ELECTRA,
/// DeBERTa), `transformer.layer.<l>.…` (DistilBERT) or `layers.<l>.…` (ModernBERT).
fn layer_of(name: &str) -> Option<usize> {
    let rest = name
        .strip_prefix("encoder.layer.")
        .or_else(|| name.strip_prefix("transformer.layer."))
        .or_else(|| name.strip_prefix("layers."))?;
    rest.split('.').next()?.parse().ok()
}

/// The module a parameter belongs to, in its family's own words where they differ from BERT's:
/// BERT, RoBERTa and ELECTRA `q k v o ffn_in ffn_out`; DistilBERT `q_lin k_lin v_lin out_lin
/// lin1 lin2`; DeBERTa `q_proj k_proj v_proj o ffn_in ffn_out`; ModernBERT `Wqkv attn.Wo mlp.Wi
/// mlp.Wo`; ELECTRA's `emb_proj`; the head's first linear layer `pooler` (BERT's and DeBERTa's
/// pooler, RoBERTa's and ELECTRA's `classifier.dense`, DistilBERT's `pre_classifier`,
/// ModernBERT's `head.dense`) and its last `classifier`.
fn module_of(name: &str) -> &'static str {
    if is_norm(name) {
        return "layer_norm";
    }
    if name.ends_with(".bias") {
        return "bias";
    }
    if name.starts_with("embeddings_project.") || name.starts_with("embeddings.embed_proj.") {
        return "emb_proj";
    }
    if name.starts_with("embeddings.") || name.starts_with("encoder.rel_embeddings") {
        return "embeddings";
    }
    if name.starts_with("pooler.")
        || name.starts_with("classifier.dense.")
        || name.starts_with("pre_classifier.")
        || name.starts_with("head.dense.")
    {
        return "pooler";
    }
    if name.starts_with("classifier.") {
        return "classifier";
    }
    if layer_of(name).is_some() {
        const TABLE: [(&str, &str); 22] = [
            (".attention.self.query.", "q"),
            (".attention.self.key.", "k"),
            (".attention.self.value.", "v"),
            (".attention.self.query_proj.", "q_proj"),
            (".attention.self.key_proj.", "k_proj"),
            (".attention.self.value_proj.", "v_proj"),
            (".attention.self.pos_query_proj.", "pos_q_proj"),
            (".attention.self.pos_key_proj.", "pos_k_proj"),
            (".attention.q_lin.", "q_lin"),
            (".attention.k_lin.", "k_lin"),
            (".attention.v_lin.", "v_lin"),
            (".attention.out_lin.", "out_lin"),
            (".attention.output.dense.", "o"),
            (".intermediate.dense.", "ffn_in"),
            (".output.dense.", "ffn_out"),
            (".ffn.lin1.", "lin1"),
            (".ffn.lin2.", "lin2"),
            (".attn.Wqkv.", "Wqkv"),
            (".attn.Wo.", "attn.Wo"),
            (".mlp.Wi.", "mlp.Wi"),
            (".mlp.Wo.", "mlp.Wo"),
            (".attention.self.in_proj.", "Wqkv"),
        ];
        for (pattern, module) in TABLE {
            if name.contains(pattern) {
                return module;
            }
        }
    }
    "other"
}

/// Parameter name → tensor used in the forward pass instead of that parameter's `Var` (for
/// example DPS-Mix effective weights). Gradients then flow into the override, not the var.
pub type WeightOverrides = std::collections::HashMap<String, Tensor>;

/// The tensor used for parameter `i` of `params`: its override if there is one, otherwise its
/// var. A wrong-shaped override is an error naming the parameter.
pub fn weight_or_override<'a>(
    params: &'a [Param],
    i: usize,
    overrides: Option<&'a WeightOverrides>,
) -> Result<&'a Tensor, ModelError> {
    let p = &params[i];
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

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{DType, Device};

    fn p(name: &str) -> Param {
        Param::new(name, Var::zeros(1, DType::F32, &Device::Cpu).unwrap())
    }

    #[test]
    fn flags_and_modules() {
        let q = p("encoder.layer.3.attention.self.query.weight");
        assert_eq!(
            (q.layer(), q.module(), q.decay, q.dps),
            (Some(3), "q", true, true)
        );
        let qb = p("encoder.layer.3.attention.self.query.bias");
        assert_eq!(
            (qb.layer(), qb.module(), qb.decay, qb.dps),
            (Some(3), "bias", false, false)
        );
        let o = p("encoder.layer.11.attention.output.dense.weight");
        assert_eq!((o.layer(), o.module(), o.dps), (Some(11), "o", true));
        let ln = p("encoder.layer.0.attention.output.LayerNorm.weight");
        assert_eq!(
            (ln.module(), ln.decay, ln.dps),
            ("layer_norm", false, false)
        );
        let fi = p("encoder.layer.1.intermediate.dense.weight");
        assert_eq!((fi.module(), fi.dps), ("ffn_in", true));
        let fo = p("encoder.layer.1.output.dense.weight");
        assert_eq!((fo.module(), fo.dps), ("ffn_out", true));
        let we = p("embeddings.word_embeddings.weight");
        assert_eq!(
            (we.layer(), we.module(), we.decay, we.dps),
            (None, "embeddings", true, false)
        );
        let eln = p("embeddings.LayerNorm.bias");
        assert_eq!((eln.module(), eln.decay), ("layer_norm", false));
        let pw = p("pooler.dense.weight");
        assert_eq!((pw.module(), pw.decay, pw.dps), ("pooler", true, true));
        let cw = p("classifier.weight");
        assert_eq!((cw.module(), cw.dps), ("classifier", true));
        for (name, layer, module) in [
            (
                "transformer.layer.2.attention.q_lin.weight",
                Some(2),
                "q_lin",
            ),
            ("transformer.layer.0.ffn.lin2.weight", Some(0), "lin2"),
            ("pre_classifier.weight", None, "pooler"),
            ("classifier.dense.weight", None, "pooler"),
            ("classifier.out_proj.weight", None, "classifier"),
            ("embeddings_project.weight", None, "emb_proj"),
            (
                "encoder.layer.1.attention.self.query_proj.weight",
                Some(1),
                "q_proj",
            ),
            ("layers.4.attn.Wqkv.weight", Some(4), "Wqkv"),
            ("layers.4.mlp.Wo.weight", Some(4), "mlp.Wo"),
            ("head.dense.weight", None, "pooler"),
        ] {
            let x = p(name);
            assert_eq!(
                (x.layer(), x.module(), x.dps, x.decay),
                (layer, module, true, true)
            );
        }
        for name in [
            "transformer.layer.0.sa_layer_norm.weight",
            "layers.1.attn_norm.weight",
            "final_norm.weight",
            "head.norm.weight",
            "encoder.LayerNorm.weight",
        ] {
            let x = p(name);
            assert_eq!(
                (x.module(), x.dps, x.decay),
                ("layer_norm", false, false),
                "{name}"
            );
        }
        let rel = p("encoder.rel_embeddings.weight");
        assert_eq!((rel.module(), rel.dps), ("embeddings", false));
        let cb = p("classifier.bias");
        assert_eq!((cb.module(), cb.decay, cb.dps), ("bias", false, false));
    }
}
