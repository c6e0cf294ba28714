//! Build a model of any family from `config.json` and its weights: the one place that maps a
//! [`Family`] to its implementation.

use std::collections::HashMap;
use std::path::Path;

use candle_core::{Device, Tensor};

use super::bert::BertConfig;
use super::bert::BertForSequenceClassification;
use super::classifier::{HeadKind, Model};
use super::deberta::DebertaV2ForSequenceClassification;
use super::family::Family;
use super::modernbert::ModernBertForSequenceClassification;
use super::weights::read_weights;
use super::ModelError;

/// A `config.json` as a JSON object.
pub type ConfigMap = serde_json::Map<String, serde_json::Value>;

/// Read `<dir>/config.json` as a JSON object; errors name the file and the fix.
pub fn read_config(path: &Path) -> Result<ConfigMap, ModelError> {
    let text = super::read_config_text(path)?;
    let value: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| ModelError::ConfigParse {
            path: path.to_path_buf(),
            line: e.line(),
            column: e.column(),
            message: e.to_string(),
        })?;
    match value {
        serde_json::Value::Object(m) => Ok(m),
        _ => Err(ModelError::ConfigParse {
            path: path.to_path_buf(),
            line: 1,
            column: 1,
            message: "config.json must hold a JSON object".into(),
        }),
    }
}

/// The family a config describes; an unknown `model_type` is an error naming the supported
/// ones and the file.
pub fn family_of(config: &ConfigMap, path: Option<&Path>) -> Result<Family, ModelError> {
    Family::of_config(config).map_err(|message| ModelError::UnsupportedConfig {
        path: path.map(Path::to_path_buf),
        message,
    })
}

/// A post-norm family's config from the JSON object (errors name `path`).
fn bert_config(config: &ConfigMap, path: Option<&Path>) -> Result<BertConfig, ModelError> {
    let text = serde_json::Value::Object(config.clone()).to_string();
    BertConfig::from_json_str(&text, path)
}

/// Name the config file in an error about the config.
fn with_path(e: ModelError, path: Option<&Path>) -> ModelError {
    match e {
        ModelError::UnsupportedConfig {
            path: None,
            message,
        } => ModelError::UnsupportedConfig {
            path: path.map(Path::to_path_buf),
            message,
        },
        other => other,
    }
}

/// Build a model of `config`'s family from checkpoint tensors (names with or without the
/// base-model prefix); a missing classification head is initialised from `seed` and its
/// parameter names returned.
pub fn from_tensors(
    config: ConfigMap,
    path: Option<&Path>,
    head: HeadKind,
    tensors: HashMap<String, Tensor>,
    device: &Device,
    seed: u64,
) -> Result<(Model, Vec<String>), ModelError> {
    let family = family_of(&config, path)?;
    let built: Result<(Model, Vec<String>), ModelError> = match family {
        Family::DebertaV2 => DebertaV2ForSequenceClassification::from_config_and_tensors(
            config, head, tensors, device, seed,
        )
        .map(|(m, init)| (Box::new(m) as Model, init)),
        Family::ModernBert => ModernBertForSequenceClassification::from_config_and_tensors(
            config, head, tensors, device, seed,
        )
        .map(|(m, init)| (Box::new(m) as Model, init)),
        _ => {
            let cfg = bert_config(&config, path)?;
            BertForSequenceClassification::from_tensors(cfg, head, tensors, device, seed)
                .map(|(m, init)| (Box::new(m) as Model, init))
        }
    };
    built.map_err(|e| with_path(e, path))
}

/// A randomly initialised model of `config`'s family.
pub fn random(
    config: ConfigMap,
    head: HeadKind,
    device: &Device,
    seed: u64,
) -> Result<Model, ModelError> {
    Ok(match family_of(&config, None)? {
        Family::DebertaV2 => Box::new(DebertaV2ForSequenceClassification::random(
            config, head, device, seed,
        )?),
        Family::ModernBert => Box::new(ModernBertForSequenceClassification::random(
            config, head, device, seed,
        )?),
        _ => Box::new(BertForSequenceClassification::random(
            bert_config(&config, None)?,
            head,
            device,
            seed,
        )?),
    })
}

/// Load `<dir>/config.json` and `<dir>/model.safetensors` (or the shards listed in
/// `model.safetensors.index.json`, or `pytorch_model.bin`) as a model of the family
/// `model_type` names.
pub fn load_dir(
    dir: &Path,
    head: HeadKind,
    device: &Device,
    seed: u64,
) -> Result<(Model, Vec<String>), ModelError> {
    if !dir.is_dir() {
        return Err(ModelError::MissingFile {
            path: dir.to_path_buf(),
            hint: "no such folder. Fix: pass a folder with config.json and model.safetensors \
                   (or pytorch_model.bin), or a Hugging Face model id such as \
                   sentence-transformers/all-MiniLM-L6-v2"
                .into(),
        });
    }
    let config_path = dir.join("config.json");
    let config = read_config(&config_path)?;
    family_of(&config, Some(&config_path))?;
    let (tensors, files) = read_weights(dir)?;
    let source = files.first().cloned();
    from_tensors(config, Some(&config_path), head, tensors, device, seed).map_err(|e| match e {
        ModelError::MissingTensor { name, .. } => ModelError::MissingTensor {
            name,
            source_file: source,
        },
        other => other,
    })
}
