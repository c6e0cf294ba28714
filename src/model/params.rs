//! Named trainable parameters of the BERT model.

use candle_core::Var;

/// One trainable tensor of the model.
#[derive(Debug, Clone)]
pub struct Param {
    /// Hugging Face name without the `bert.` prefix, e.g.
    /// `encoder.layer.0.attention.self.query.weight`, `pooler.dense.weight`, `classifier.weight`.
    pub name: String,
    /// The trainable tensor.
    pub var: Var,
    /// Whether weight decay applies: false for names containing `bias` or `LayerNorm` (the
    /// Hugging Face Trainer's parameter groups).
    pub decay: bool,
    /// Whether DPS may select elements of this tensor: true for the weight matrices of every
    /// Linear layer (query, key, value, attention output, intermediate, output, pooler,
    /// classifier).
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

    /// The encoder layer this parameter belongs to (`encoder.layer.<l>.…`), if any.
    pub fn layer(&self) -> Option<usize> {
        layer_of(&self.name)
    }

    /// A short name of the part of the model this parameter belongs to:
    /// `"q"`, `"k"`, `"v"`, `"o"` (attention output), `"ffn_in"` (intermediate), `"ffn_out"`
    /// (output), `"pooler"`, `"classifier"` for Linear weights; `"embeddings"` for the three
    /// embedding tables; `"layer_norm"` for every LayerNorm weight and bias; `"bias"` for the
    /// biases of Linear layers; `"other"` for anything else.
    pub fn module(&self) -> &'static str {
        module_of(&self.name)
    }

    /// Number of elements.
    pub fn numel(&self) -> usize {
        self.var.as_tensor().elem_count()
    }
}

/// Whether a parameter of this name gets weight decay: the HF Trainer's grouping, which
/// exempts names (lower-cased) containing `bias`, `layernorm` or `rmsnorm`, or with a
/// component `norm` or ending in `_norm` (ModernBERT's `embeddings.norm`, `layers.1.attn_norm`).
pub fn decays(name: &str) -> bool {
    let lower = name.to_lowercase();
    let norm_component = lower
        .split('.')
        .any(|c| c == "norm" || c.ends_with("_norm"));
    !(lower.contains("bias")
        || lower.contains("layernorm")
        || lower.contains("rmsnorm")
        || norm_component)
}

/// Whether a parameter of this name is a Linear weight that DPS may select from.
pub fn is_dps(name: &str) -> bool {
    name.ends_with(".weight")
        && matches!(
            module_of(name),
            "q" | "k" | "v" | "o" | "ffn_in" | "ffn_out" | "pooler" | "classifier"
        )
}

fn layer_of(name: &str) -> Option<usize> {
    let rest = name.strip_prefix("encoder.layer.")?;
    rest.split('.').next()?.parse().ok()
}

fn module_of(name: &str) -> &'static str {
    if name.contains("LayerNorm") {
        return "layer_norm";
    }
    if name.starts_with("embeddings.") {
        return "embeddings";
    }
    if name.ends_with(".bias") {
        return "bias";
    }
    if name.starts_with("pooler.") {
        return "pooler";
    }
    if name.starts_with("classifier.") {
        return "classifier";
    }
    if layer_of(name).is_some() {
        if name.contains(".attention.self.query.") {
            return "q";
        }
        if name.contains(".attention.self.key.") {
            return "k";
        }
        if name.contains(".attention.self.value.") {
            return "v";
        }
        if name.contains(".attention.output.dense.") {
            return "o";
        }
        if name.contains(".intermediate.dense.") {
            return "ffn_in";
        }
        if name.contains(".output.dense.") {
            return "ffn_out";
        }
    }
    "other"
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
        let cb = p("classifier.bias");
        assert_eq!((cb.module(), cb.decay, cb.dps), ("bias", false, false));
    }

    #[test]
    fn norms_without_layernorm_in_the_name_get_no_decay() {
        for name in [
            "embeddings.norm.weight",
            "layers.1.attn_norm.weight",
            "layers.0.mlp_norm.weight",
            "final_norm.weight",
            "head.norm.weight",
        ] {
            assert!(!decays(name), "{name}");
        }
        for name in [
            "layers.0.attn.Wqkv.weight",
            "layers.0.mlp.Wi.weight",
            "embeddings.tok_embeddings.weight",
            "head.dense.weight",
        ] {
            assert!(decays(name), "{name}");
        }
    }
}
