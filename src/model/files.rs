//! The files of a model: `config.json`, one weights file and the tokenizer files, in the forms
//! the Hugging Face Hub ships them. The same choice serves a local folder (what it lacks) and a
//! Hub repository's file listing (what to download).
//!
//! - weights: `model.safetensors`, else `pytorch_model.bin`;
//! - tokenizer: `tokenizer.json`, else a SentencePiece `spm.model` with its
//!   `tokenizer_config.json` when the repository has one (DeBERTa-v2/v3).

use std::path::Path;

/// The model's configuration.
pub const CONFIG: &str = "config.json";
/// The weights files, in order of preference.
pub const WEIGHTS: [&str; 2] = ["model.safetensors", super::pytorch_bin::PYTORCH_WEIGHTS];
/// The tokenizer files that stand alone, in order of preference.
pub const TOKENIZERS: [&str; 2] = ["tokenizer.json", "spm.model"];
/// Read beside `spm.model` when present.
pub const SPM_CONFIG: &str = "tokenizer_config.json";

/// A required file that a folder or a listing lacks: what is missing and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lack {
    /// The file, or the alternatives (`model.safetensors or pytorch_model.bin`).
    pub file: String,
    /// What to do.
    pub fix: String,
}

fn lacks(has: impl Fn(&str) -> bool, weights_fix: &str) -> Vec<Lack> {
    let mut out = Vec::new();
    if !has(CONFIG) {
        out.push(Lack {
            file: CONFIG.into(),
            fix: "a model needs its config.json".into(),
        });
    }
    if !WEIGHTS.iter().any(|f| has(f)) {
        out.push(Lack {
            file: WEIGHTS.join(" or "),
            fix: weights_fix.into(),
        });
    }
    if !TOKENIZERS.iter().any(|f| has(f)) {
        out.push(Lack {
            file: TOKENIZERS.join(" or "),
            fix: "a model needs its tokenizer.json (or, for DeBERTa-v2/v3, spm.model); copy \
                  the tokenizer files of the model it was fine-tuned from beside config.json"
                .into(),
        });
    }
    out
}

/// What the model folder `dir` lacks (empty when it is complete).
pub fn missing_in(dir: &Path) -> Vec<Lack> {
    lacks(
        |f| dir.join(f).is_file(),
        "save the weights as model.safetensors (or pytorch_model.bin)",
    )
}

/// The files to download from a repository whose listing is `files`: config, weights and
/// tokenizer files; or what the repository lacks.
pub fn choose(files: &[String]) -> Result<Vec<&'static str>, Vec<Lack>> {
    let has = |f: &str| files.iter().any(|x| x == f);
    let sharded = has("model.safetensors.index.json") || has("pytorch_model.bin.index.json");
    let weights_fix = if sharded {
        "its weights are sharded, which are not downloaded; download the repository's \
         files (e.g. `huggingface-cli download REPO --local-dir DIR`) and pass DIR"
    } else {
        "use a repository that ships model.safetensors or pytorch_model.bin (TensorFlow and \
         Flax weights are not read), or pass a local folder"
    };
    let missing = lacks(has, weights_fix);
    if !missing.is_empty() {
        return Err(missing);
    }
    let mut out = vec![CONFIG];
    out.extend(WEIGHTS.iter().copied().find(|f| has(f)));
    let tokenizer = TOKENIZERS.iter().copied().find(|f| has(f));
    out.extend(tokenizer);
    if tokenizer == Some("spm.model") && has(SPM_CONFIG) {
        out.push(SPM_CONFIG);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn listing_prefers_safetensors_and_tokenizer_json() {
        let all = names(&[
            ".gitattributes",
            "config.json",
            "pytorch_model.bin",
            "model.safetensors",
            "tf_model.h5",
            "tokenizer.json",
            "vocab.txt",
        ]);
        assert_eq!(
            choose(&all).unwrap(),
            ["config.json", "model.safetensors", "tokenizer.json"]
        );
        let deberta = names(&[
            "config.json",
            "pytorch_model.bin",
            "spm.model",
            "tf_model.h5",
            "tokenizer_config.json",
        ]);
        assert_eq!(
            choose(&deberta).unwrap(),
            [
                "config.json",
                "pytorch_model.bin",
                "spm.model",
                "tokenizer_config.json"
            ]
        );
    }

    #[test]
    fn listing_without_usable_weights_or_tokenizer_says_which() {
        let tf = names(&["config.json", "tf_model.h5", "tokenizer.json"]);
        let e = choose(&tf).unwrap_err();
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].file, "model.safetensors or pytorch_model.bin");
        let sharded = names(&[
            "config.json",
            "model.safetensors.index.json",
            "model-00001-of-00002.safetensors",
            "vocab.txt",
        ]);
        let e = choose(&sharded).unwrap_err();
        assert_eq!(e.len(), 2);
        assert!(e[0].fix.contains("sharded"), "{e:?}");
        assert_eq!(e[1].file, "tokenizer.json or spm.model");
    }

    #[test]
    fn folder_lacks_are_listed() {
        let tmp = tempfile::tempdir().unwrap();
        assert_eq!(missing_in(tmp.path()).len(), 3);
        for f in ["config.json", "pytorch_model.bin", "spm.model"] {
            std::fs::write(tmp.path().join(f), "x").unwrap();
        }
        assert!(missing_in(tmp.path()).is_empty());
    }
}
