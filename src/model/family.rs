//! The encoder families dps-tui can fine-tune, told apart by `config.json`'s `model_type`.

/// One encoder family: how its checkpoints name their tensors and which classification head
/// `transformers` builds for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    /// `bert` (also MiniLM, which is a BERT).
    Bert,
    /// `roberta`.
    Roberta,
    /// `xlm-roberta`: RoBERTa's architecture with a larger vocabulary.
    XlmRoberta,
    /// `electra`: the discriminator.
    Electra,
    /// `distilbert`.
    DistilBert,
    /// `deberta-v2` (DeBERTa-v2 and -v3 checkpoints).
    DebertaV2,
    /// `modernbert`.
    ModernBert,
}

impl Family {
    /// Every supported family, in the order docs/models.md lists them.
    pub const ALL: [Family; 7] = [
        Family::Bert,
        Family::Roberta,
        Family::XlmRoberta,
        Family::Electra,
        Family::DistilBert,
        Family::DebertaV2,
        Family::ModernBert,
    ];

    /// The `model_type` of `config.json`.
    pub fn model_type(self) -> &'static str {
        match self {
            Family::Bert => "bert",
            Family::Roberta => "roberta",
            Family::XlmRoberta => "xlm-roberta",
            Family::Electra => "electra",
            Family::DistilBert => "distilbert",
            Family::DebertaV2 => "deberta-v2",
            Family::ModernBert => "modernbert",
        }
    }

    /// The family of a `model_type`; the error names the supported ones.
    pub fn from_model_type(model_type: &str) -> Result<Family, String> {
        Family::ALL
            .into_iter()
            .find(|f| f.model_type() == model_type)
            .ok_or_else(|| {
                format!(
                    "model_type is {model_type:?}, which dps-tui does not support; the supported \
                     model types are {}",
                    Family::supported_list()
                )
            })
    }

    /// The family a `config.json` object describes: its `model_type`, or BERT when it has none
    /// (old BERT checkpoints).
    pub fn of_config(
        config: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<Family, String> {
        match config.get("model_type") {
            None | Some(serde_json::Value::Null) => Ok(Family::Bert),
            Some(serde_json::Value::String(s)) => Family::from_model_type(s),
            Some(other) => Err(format!(
                "model_type is {other}, but it must be a string; the supported model types are {}",
                Family::supported_list()
            )),
        }
    }

    /// `"bert", "roberta", …` for error messages.
    pub fn supported_list() -> String {
        Family::ALL
            .iter()
            .map(|f| format!("{:?}", f.model_type()))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The attribute under which `*ForSequenceClassification` keeps the base model, which is
    /// the prefix of the encoder's checkpoint keys (`bert.encoder…`, `model.layers…`).
    pub fn base_prefix(self) -> &'static str {
        match self {
            Family::Bert => "bert",
            Family::Roberta | Family::XlmRoberta => "roberta",
            Family::Electra => "electra",
            Family::DistilBert => "distilbert",
            Family::DebertaV2 => "deberta",
            Family::ModernBert => "model",
        }
    }

    /// The `transformers` class a saved checkpoint loads into.
    pub fn sequence_classification_class(self) -> &'static str {
        match self {
            Family::Bert => "BertForSequenceClassification",
            Family::Roberta => "RobertaForSequenceClassification",
            Family::XlmRoberta => "XLMRobertaForSequenceClassification",
            Family::Electra => "ElectraForSequenceClassification",
            Family::DistilBert => "DistilBertForSequenceClassification",
            Family::DebertaV2 => "DebertaV2ForSequenceClassification",
            Family::ModernBert => "ModernBertForSequenceClassification",
        }
    }

    /// Top-level names of the classification head, which live outside the base prefix.
    pub fn head_roots(self) -> &'static [&'static str] {
        match self {
            Family::Bert => &["classifier"],
            Family::Roberta | Family::XlmRoberta | Family::Electra => &["classifier"],
            Family::DistilBert => &["pre_classifier", "classifier"],
            Family::DebertaV2 => &["pooler", "classifier"],
            Family::ModernBert => &["head", "classifier"],
        }
    }

    /// The checkpoint key of a parameter: head parameters as they are, everything else under
    /// the base prefix.
    pub fn checkpoint_key(self, name: &str) -> String {
        let root = name.split('.').next().unwrap_or(name);
        if self.head_roots().contains(&root) {
            name.to_string()
        } else {
            format!("{}.{name}", self.base_prefix())
        }
    }
}

impl std::fmt::Display for Family {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.model_type())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_types_round_trip_and_unknown_names_the_supported() {
        for f in Family::ALL {
            assert_eq!(Family::from_model_type(f.model_type()), Ok(f));
        }
        let e = Family::from_model_type("gpt2").unwrap_err();
        for f in Family::ALL {
            assert!(e.contains(f.model_type()), "{e}");
        }
    }

    #[test]
    fn checkpoint_keys_follow_transformers() {
        assert_eq!(
            Family::Bert.checkpoint_key("pooler.dense.weight"),
            "bert.pooler.dense.weight"
        );
        assert_eq!(
            Family::DebertaV2.checkpoint_key("pooler.dense.weight"),
            "pooler.dense.weight"
        );
        assert_eq!(
            Family::Roberta.checkpoint_key("classifier.out_proj.bias"),
            "classifier.out_proj.bias"
        );
        assert_eq!(
            Family::ModernBert.checkpoint_key("layers.0.attn.Wqkv.weight"),
            "model.layers.0.attn.Wqkv.weight"
        );
        assert_eq!(
            Family::DistilBert.checkpoint_key("pre_classifier.weight"),
            "pre_classifier.weight"
        );
    }
}
