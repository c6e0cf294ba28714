//! Saving a fine-tuned model as a Hugging Face checkpoint folder that
//! `transformers` `*ForSequenceClassification.from_pretrained(dir)` loads, and reading it back.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{Device, Tensor};

use super::classifier::{HeadKind, Model, SequenceClassifier};
use super::loader::{self, ConfigMap};
use super::weights::read_weights;
use super::ModelError;

/// The tokenizer files copied next to a saved checkpoint (those that exist in the source).
pub const TOKENIZER_FILES: [&str; 5] = [
    "tokenizer.json",
    "vocab.txt",
    "spm.model",
    "tokenizer_config.json",
    "special_tokens_map.json",
];

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> ModelError + '_ {
    move |source| ModelError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// A temporary path in the same folder as `target`, for write-then-rename.
fn temp_path(target: &Path) -> PathBuf {
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    target.with_file_name(format!(".{name}.tmp-{}", std::process::id()))
}

/// A failed write of a checkpoint's weights: the file and the cause (a full disk: `No space
/// left on device`), never words about reading.
fn weights_write_error(path: &Path, e: safetensors::SafeTensorError) -> ModelError {
    let message = match e {
        safetensors::SafeTensorError::IoError(io) => io.to_string(),
        other => other.to_string(),
    };
    ModelError::Write {
        path: path.to_path_buf(),
        message,
    }
}

/// Write `bytes` to `target` atomically (temporary file in the same folder, then rename).
fn write_atomic(target: &Path, bytes: &[u8]) -> Result<(), ModelError> {
    let tmp = temp_path(target);
    std::fs::write(&tmp, bytes).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        ModelError::Write {
            path: target.to_path_buf(),
            message: e.to_string(),
        }
    })?;
    std::fs::rename(&tmp, target).map_err(io_err(target))
}

/// The label names to write: the given ones, or `LABEL_<i>` when none are given.
fn label_names(head: HeadKind, id2label: &[String]) -> Result<Vec<String>, ModelError> {
    let n = head.num_outputs();
    if id2label.is_empty() {
        return Ok((0..n).map(|i| format!("LABEL_{i}")).collect());
    }
    if id2label.len() != n {
        return Err(ModelError::Input(format!(
            "{} label names given for a head with {n} outputs",
            id2label.len()
        )));
    }
    Ok(id2label.to_vec())
}

/// The `config.json` contents for a saved checkpoint.
fn checkpoint_config(
    model: &dyn SequenceClassifier,
    labels: &[String],
) -> Result<serde_json::Value, ModelError> {
    let head = model.head();
    let family = model.family();
    let mut obj = model.hf_config()?;
    let id2label: serde_json::Map<String, serde_json::Value> = labels
        .iter()
        .enumerate()
        .map(|(i, l)| (i.to_string(), l.clone().into()))
        .collect();
    let label2id: serde_json::Map<String, serde_json::Value> = labels
        .iter()
        .enumerate()
        .map(|(i, l)| (l.clone(), i.into()))
        .collect();
    let problem_type = match head {
        HeadKind::Classification { .. } => "single_label_classification",
        HeadKind::Regression => "regression",
    };
    obj.insert(
        "architectures".into(),
        serde_json::json!([family.sequence_classification_class()]),
    );
    obj.insert("model_type".into(), family.model_type().into());
    obj.insert("num_labels".into(), head.num_outputs().into());
    obj.insert("id2label".into(), id2label.into());
    obj.insert("label2id".into(), label2id.into());
    obj.insert("problem_type".into(), problem_type.into());
    Ok(serde_json::Value::Object(obj))
}

/// Write a checkpoint folder that the family's `transformers` `*ForSequenceClassification`
/// class loads with `from_pretrained`: `model.safetensors` (the encoder under the base-model
/// prefix such as `bert.`, the head as is, metadata `{"format": "pt"}`), `config.json` (the config with its extra fields plus architectures,
/// model_type, num_labels, id2label/label2id and problem_type), and — when `tokenizer_dir` is
/// given (a folder, or a `tokenizer.json` inside one) — copies of the tokenizer files found
/// there. `id2label` may be empty (`LABEL_<i>` names are written). Every file is written to a
/// temporary name first and then renamed.
pub fn save_hf(
    model: &dyn SequenceClassifier,
    dir: &Path,
    id2label: &[String],
    tokenizer_dir: Option<&Path>,
) -> Result<(), ModelError> {
    let labels = label_names(model.head(), id2label)?;
    std::fs::create_dir_all(dir).map_err(io_err(dir))?;

    let tensors: Vec<(String, Tensor)> = model
        .params()
        .iter()
        .map(|p| {
            (
                model.family().checkpoint_key(&p.name),
                p.var.as_tensor().clone(),
            )
        })
        .collect();
    let metadata: HashMap<String, String> = [("format".to_string(), "pt".to_string())].into();
    let weights = dir.join("model.safetensors");
    let tmp = temp_path(&weights);
    safetensors::tensor::serialize_to_file(tensors, Some(metadata), &tmp).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        weights_write_error(&weights, e)
    })?;
    std::fs::rename(&tmp, &weights).map_err(io_err(&weights))?;

    let config = checkpoint_config(model, &labels)?;
    let text = serde_json::to_string_pretty(&config)
        .map_err(|e| ModelError::Input(format!("cannot serialise the config: {e}")))?;
    write_atomic(&dir.join("config.json"), format!("{text}\n").as_bytes())?;

    if let Some(src) = tokenizer_dir {
        copy_tokenizer(src, dir)?;
    }
    Ok(())
}

/// Copy the tokenizer files of `src` (a folder, or a file inside one) into `dir`.
fn copy_tokenizer(src: &Path, dir: &Path) -> Result<(), ModelError> {
    let src_dir = if src.is_file() {
        src.parent().unwrap_or(Path::new(".")).to_path_buf()
    } else {
        src.to_path_buf()
    };
    let same = match (src_dir.canonicalize(), dir.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    if same {
        return Ok(());
    }
    let mut copied = 0;
    for name in TOKENIZER_FILES {
        let from = src_dir.join(name);
        if from.is_file() {
            let bytes = std::fs::read(&from).map_err(io_err(&from))?;
            write_atomic(&dir.join(name), &bytes)?;
            copied += 1;
        }
    }
    if copied == 0 {
        return Err(ModelError::MissingFile {
            path: src_dir.join("tokenizer.json"),
            hint: "the tokenizer folder must hold tokenizer.json (or spm.model, or vocab.txt)"
                .into(),
        });
    }
    Ok(())
}

/// The head and label names a saved checkpoint's `config.json` describes.
fn head_from_config(cfg: &ConfigMap, path: &Path) -> Result<(HeadKind, Vec<String>), ModelError> {
    let bad = |message: String| ModelError::Checkpoint {
        path: path.to_path_buf(),
        message,
    };
    let mut labels: Vec<(usize, String)> = Vec::new();
    if let Some(map) = cfg.get("id2label").and_then(|v| v.as_object()) {
        for (k, v) in map {
            let i: usize = k
                .parse()
                .map_err(|_| bad(format!("id2label key {k:?} is not an integer")))?;
            let name = v
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| v.to_string());
            labels.push((i, name));
        }
    }
    labels.sort();
    if labels.iter().enumerate().any(|(j, (i, _))| *i != j) {
        return Err(bad("id2label keys must be 0, 1, …, n-1".into()));
    }
    let num_labels = match cfg.get("num_labels").and_then(|v| v.as_u64()) {
        Some(n) => n as usize,
        None if !labels.is_empty() => labels.len(),
        None => {
            return Err(bad(
                "has no num_labels or id2label, so it is not a sequence-classification \
                 checkpoint; to fine-tune a pretrained encoder, load it as a model folder instead"
                    .into(),
            ))
        }
    };
    if !labels.is_empty() && labels.len() != num_labels {
        return Err(bad(format!(
            "num_labels is {num_labels} but id2label has {} entries",
            labels.len()
        )));
    }
    let problem = cfg.get("problem_type").and_then(|v| v.as_str());
    let head = match problem {
        Some("regression") => HeadKind::Regression,
        None if num_labels == 1 => HeadKind::Regression,
        _ => HeadKind::Classification { num_labels },
    };
    if head == HeadKind::Regression && num_labels != 1 {
        return Err(bad(format!(
            "problem_type is regression but num_labels is {num_labels}"
        )));
    }
    let names = if labels.is_empty() {
        (0..num_labels).map(|i| format!("LABEL_{i}")).collect()
    } else {
        labels.into_iter().map(|(_, n)| n).collect()
    };
    Ok((head, names))
}

/// Read a checkpoint written by [`save_hf`] (or any `*ForSequenceClassification` checkpoint of
/// a supported family in safetensors form): returns the model and its label names (`id2label`
/// in id order).
pub fn load_checkpoint(dir: &Path, device: &Device) -> Result<(Model, Vec<String>), ModelError> {
    if !dir.is_dir() {
        return Err(ModelError::MissingFile {
            path: dir.to_path_buf(),
            hint: "no such checkpoint folder; it must hold config.json and model.safetensors"
                .into(),
        });
    }
    let config_path = dir.join("config.json");
    let cfg = loader::read_config(&config_path)?;
    loader::family_of(&cfg, Some(&config_path))?;
    let (head, labels) = head_from_config(&cfg, &config_path)?;
    let (tensors, files) = read_weights(dir)?;
    let (model, initialised) =
        loader::from_tensors(cfg, Some(&config_path), head, tensors, device, 0).map_err(
            |e| match e {
                ModelError::MissingTensor { name, .. } => ModelError::MissingTensor {
                    name,
                    source_file: files.first().cloned(),
                },
                other => other,
            },
        )?;
    if !initialised.is_empty() {
        return Err(ModelError::Checkpoint {
            path: files.first().cloned().unwrap_or_else(|| dir.to_path_buf()),
            message: format!(
                "the checkpoint lacks {initialised:?}; it is not a fine-tuned \
                 sequence-classification checkpoint"
            ),
        });
    }
    Ok((model, labels))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::bert::BertForSequenceClassification;
    use crate::model::inputs::ModelInput;
    use crate::model::BertConfig;

    fn small(head: HeadKind) -> BertForSequenceClassification {
        let mut cfg = BertConfig::tiny_demo(40);
        cfg.hidden_size = 16;
        cfg.intermediate_size = 24;
        cfg.extra.insert("_name_or_path".into(), "test/tiny".into());
        BertForSequenceClassification::random(cfg, head, &Device::Cpu, 11).unwrap()
    }

    fn logits(m: &dyn SequenceClassifier) -> Vec<Vec<f32>> {
        let d = &Device::Cpu;
        let ids = Tensor::new(&[[1u32, 5, 9, 3], [2, 6, 0, 0]], d).unwrap();
        let tt = Tensor::new(&[[0u32, 0, 1, 1], [0, 0, 0, 0]], d).unwrap();
        let mask = Tensor::new(&[[1u32, 1, 1, 1], [1, 1, 0, 0]], d).unwrap();
        let input = ModelInput::Padded {
            input_ids: &ids,
            token_type_ids: &tt,
            attention_mask: &mask,
        };
        m.forward_input(&input, None, None)
            .unwrap()
            .logits
            .to_vec2()
            .unwrap()
    }

    fn same_params(a: &dyn SequenceClassifier, b: &dyn SequenceClassifier) {
        assert_eq!(a.params().len(), b.params().len());
        for (p, q) in a.params().iter().zip(b.params()) {
            assert_eq!(p.name, q.name);
            let x: Vec<f32> = p.var.as_tensor().flatten_all().unwrap().to_vec1().unwrap();
            let y: Vec<f32> = q.var.as_tensor().flatten_all().unwrap().to_vec1().unwrap();
            assert_eq!(x, y, "{}", p.name);
        }
    }

    #[test]
    fn save_then_load_round_trip_classification() {
        let m = small(HeadKind::Classification { num_labels: 3 });
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("ckpt");
        let labels: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
        // A fake tokenizer folder.
        let tok = tmp.path().join("tok");
        std::fs::create_dir_all(&tok).unwrap();
        std::fs::write(tok.join("tokenizer.json"), "{}").unwrap();
        std::fs::write(tok.join("vocab.txt"), "[PAD]\n").unwrap();
        save_hf(&m, &dir, &labels, Some(&tok)).unwrap();
        assert!(dir.join("tokenizer.json").is_file() && dir.join("vocab.txt").is_file());
        assert!(!dir.join("tokenizer_config.json").exists());
        let leftovers: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().contains(".tmp"))
            .collect();
        assert!(leftovers.is_empty(), "temporary files left behind");

        let (back, names) = load_checkpoint(&dir, &Device::Cpu).unwrap();
        assert_eq!(names, labels);
        assert_eq!(back.head(), HeadKind::Classification { num_labels: 3 });
        same_params(&m, back.as_ref());
        assert_eq!(logits(&m), logits(back.as_ref()));
        let saved = loader::read_config(&dir.join("config.json")).unwrap();
        assert_eq!(saved["_name_or_path"], "test/tiny");
    }

    #[test]
    fn saved_keys_metadata_and_config_follow_hf() {
        let m = small(HeadKind::Regression);
        let tmp = tempfile::tempdir().unwrap();
        save_hf(&m, tmp.path(), &[], None).unwrap();
        let bytes = std::fs::read(tmp.path().join("model.safetensors")).unwrap();
        let (_, meta) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
        let info = meta.metadata().as_ref().expect("metadata");
        assert_eq!(info.get("format").map(String::as_str), Some("pt"));
        let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
        let mut keys: Vec<String> = st.names().into_iter().map(str::to_string).collect();
        keys.sort();
        assert_eq!(keys.len(), m.params().len());
        for k in &keys {
            assert!(
                k.starts_with("bert.") || k.starts_with("classifier."),
                "{k}"
            );
        }
        for k in [
            "bert.embeddings.word_embeddings.weight",
            "bert.embeddings.LayerNorm.weight",
            "bert.encoder.layer.1.attention.self.query.weight",
            "bert.encoder.layer.0.attention.output.LayerNorm.bias",
            "bert.encoder.layer.0.intermediate.dense.weight",
            "bert.encoder.layer.0.output.dense.bias",
            "bert.pooler.dense.weight",
            "classifier.weight",
            "classifier.bias",
        ] {
            assert!(keys.iter().any(|x| x == k), "missing {k}");
        }
        assert_eq!(st.tensor("classifier.weight").unwrap().shape(), &[1, 16]);
        assert_eq!(
            st.tensor("classifier.weight").unwrap().dtype(),
            safetensors::Dtype::F32
        );

        let cfg: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(tmp.path().join("config.json")).unwrap())
                .unwrap();
        assert_eq!(
            cfg["architectures"],
            serde_json::json!(["BertForSequenceClassification"])
        );
        assert_eq!(cfg["model_type"], "bert");
        assert_eq!(cfg["num_labels"], 1);
        assert_eq!(cfg["problem_type"], "regression");
        assert_eq!(cfg["id2label"], serde_json::json!({"0": "LABEL_0"}));
        assert_eq!(cfg["label2id"], serde_json::json!({"LABEL_0": 0}));
        assert_eq!(cfg["hidden_size"], 16);
        assert_eq!(cfg["layer_norm_eps"], 1e-12);

        let (back, names) = load_checkpoint(tmp.path(), &Device::Cpu).unwrap();
        assert_eq!(back.head(), HeadKind::Regression);
        assert_eq!(names, vec!["LABEL_0".to_string()]);
        same_params(&m, back.as_ref());
    }

    #[test]
    fn wrong_label_count_is_rejected() {
        let m = small(HeadKind::Classification { num_labels: 3 });
        let tmp = tempfile::tempdir().unwrap();
        assert!(save_hf(&m, tmp.path(), &["x".to_string()], None).is_err());
    }

    #[test]
    fn missing_files_are_named() {
        let tmp = tempfile::tempdir().unwrap();
        let head = HeadKind::Classification { num_labels: 2 };
        // No folder at all.
        let nowhere = tmp.path().join("nope");
        let e = BertForSequenceClassification::load_dir(&nowhere, head, &Device::Cpu, 0)
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("nope") && e.contains("config.json"), "{e}");
        // Config but no weights.
        let cfg = serde_json::to_string(&BertConfig::tiny_demo(40)).unwrap();
        std::fs::write(tmp.path().join("config.json"), cfg).unwrap();
        let e = BertForSequenceClassification::load_dir(tmp.path(), head, &Device::Cpu, 0)
            .err()
            .unwrap();
        let s = e.to_string();
        assert!(matches!(e, ModelError::MissingFile { .. }), "{s}");
        assert!(
            s.contains("model.safetensors") && s.contains("pytorch_model.bin"),
            "{s}"
        );
        // A pytorch_model.bin that is not a PyTorch checkpoint.
        std::fs::write(tmp.path().join("pytorch_model.bin"), b"PK").unwrap();
        let e = BertForSequenceClassification::load_dir(tmp.path(), head, &Device::Cpu, 0)
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.contains("pytorch_model.bin") && e.contains("safetensors"),
            "{e}"
        );
        std::fs::remove_file(tmp.path().join("pytorch_model.bin")).unwrap();
        // A TensorFlow-only folder.
        std::fs::write(tmp.path().join("tf_model.h5"), b"HDF").unwrap();
        let e = BertForSequenceClassification::load_dir(tmp.path(), head, &Device::Cpu, 0)
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.contains("tf_model.h5") && e.contains("save_pretrained"),
            "{e}"
        );
        // Missing config.json.
        let empty = tmp.path().join("empty");
        std::fs::create_dir_all(&empty).unwrap();
        let e = BertForSequenceClassification::load_dir(&empty, head, &Device::Cpu, 0)
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("config.json") && e.contains("empty"), "{e}");
        let e = load_checkpoint(&empty, &Device::Cpu)
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("config.json"), "{e}");
    }

    #[test]
    fn a_full_disk_while_saving_says_write_and_names_the_file() {
        if !Path::new("/dev/full").exists() {
            return;
        }
        let tmp = tempfile::tempdir().unwrap();
        let model = BertForSequenceClassification::random(
            BertConfig::tiny_demo(40),
            HeadKind::Classification { num_labels: 2 },
            &Device::Cpu,
            0,
        )
        .unwrap();
        // config.json's temporary file is the full device.
        let config = tmp.path().join("config.json");
        std::os::unix::fs::symlink("/dev/full", temp_path(&config)).unwrap();
        let e = save_hf(&model, tmp.path(), &[], None).unwrap_err();
        let s = e.to_string();
        assert!(matches!(e, ModelError::Write { .. }), "{s}");
        let want = format!("cannot write {}: No space left on device", config.display());
        assert!(s.starts_with(&want), "{s}");
        assert!(s.contains("Fix: free disk space"), "{s}");
        // The weights (safetensors writes them through a temporary file of its own): the same
        // words for the same failure.
        let weights = tmp.path().join("model.safetensors");
        let full = std::io::Error::from_raw_os_error(28);
        let s = weights_write_error(&weights, full.into()).to_string();
        let want = format!(
            "cannot write {}: No space left on device",
            weights.display()
        );
        assert!(s.starts_with(&want), "{s}");
        assert!(
            !s.contains("cannot read") && !s.contains("I/O error"),
            "{s}"
        );
    }

    #[test]
    fn corrupt_safetensors_names_the_file() {
        let tmp = tempfile::tempdir().unwrap();
        let cfg = serde_json::to_string(&BertConfig::tiny_demo(40)).unwrap();
        std::fs::write(tmp.path().join("config.json"), cfg).unwrap();
        let weights = tmp.path().join("model.safetensors");
        std::fs::write(
            &weights,
            b"\x13\x00\x00\x00\x00\x00\x00\x00garbage garbage garbage",
        )
        .unwrap();
        let e = BertForSequenceClassification::load_dir(
            tmp.path(),
            HeadKind::Classification { num_labels: 2 },
            &Device::Cpu,
            0,
        )
        .err()
        .unwrap();
        let s = e.to_string();
        assert!(matches!(e, ModelError::Safetensors { .. }), "{s}");
        assert!(s.contains(&weights.display().to_string()), "{s}");
    }

    #[test]
    fn checkpoint_without_classifier_is_rejected() {
        let m = small(HeadKind::Classification { num_labels: 2 });
        let tmp = tempfile::tempdir().unwrap();
        save_hf(&m, tmp.path(), &[], None).unwrap();
        // Rewrite the weights without the classifier.
        let path = tmp.path().join("model.safetensors");
        let mut t = candle_core::safetensors::load(&path, &Device::Cpu).unwrap();
        t.retain(|k, _| !k.starts_with("classifier."));
        candle_core::safetensors::save(&t, &path).unwrap();
        let e = load_checkpoint(tmp.path(), &Device::Cpu)
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("classifier"), "{e}");
    }
}
