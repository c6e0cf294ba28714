//! Reading the weights of a model folder: `model.safetensors`, or the shards listed in
//! `model.safetensors.index.json`, else `pytorch_model.bin` (read without running its pickle,
//! see [`super::pytorch_bin`]), with clear errors for other formats and missing files.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use candle_core::{Device, Tensor};

use super::pytorch_bin::PYTORCH_WEIGHTS;
use super::ModelError;

/// Read the weights of a model folder: `model.safetensors`, or the shards of
/// `model.safetensors.index.json`, else `pytorch_model.bin`. Returns the tensors and the files
/// read.
pub(crate) fn read_weights(
    dir: &Path,
) -> Result<(HashMap<String, Tensor>, Vec<PathBuf>), ModelError> {
    let single = dir.join("model.safetensors");
    let index = dir.join("model.safetensors.index.json");
    let files: Vec<PathBuf> = if single.is_file() {
        vec![single]
    } else if index.is_file() {
        let text = std::fs::read_to_string(&index).map_err(|e| ModelError::Io {
            path: index.clone(),
            source: e,
        })?;
        let v: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| ModelError::ConfigParse {
                path: index.clone(),
                line: e.line(),
                column: e.column(),
                message: e.to_string(),
            })?;
        let map = v
            .get("weight_map")
            .and_then(|m| m.as_object())
            .ok_or_else(|| ModelError::Checkpoint {
                path: index.clone(),
                message: "has no \"weight_map\" object; re-save the model as one model.safetensors"
                    .into(),
            })?;
        let shards: BTreeMap<&str, ()> = map
            .values()
            .filter_map(|f| f.as_str())
            .map(|f| (f, ()))
            .collect();
        shards.keys().map(|f| dir.join(f)).collect()
    } else if dir.join(PYTORCH_WEIGHTS).is_file() {
        let bin = dir.join(PYTORCH_WEIGHTS);
        let tensors = super::pytorch_bin::read(&bin)?;
        return Ok((tensors, vec![bin]));
    } else {
        for bin in [
            "pytorch_model.bin.index.json",
            "tf_model.h5",
            "flax_model.msgpack",
        ] {
            let p = dir.join(bin);
            if p.exists() {
                return Err(ModelError::UnsupportedFormat {
                    path: p,
                    message: format!(
                        "only model.safetensors (single or sharded) and a single \
                         pytorch_model.bin are read; convert the model to \
                         model.safetensors (e.g. in Python: \
                         AutoModel.from_pretrained(dir).save_pretrained(dir, safe_serialization=True)) \
                         and put it in {}",
                        dir.display()
                    ),
                });
            }
        }
        return Err(ModelError::MissingFile {
            path: single,
            hint: "the model folder must hold config.json and model.safetensors (or \
                   pytorch_model.bin), as a model downloaded from the Hugging Face Hub does"
                .into(),
        });
    };
    let mut all = HashMap::new();
    for f in &files {
        if !f.is_file() {
            return Err(ModelError::MissingFile {
                path: f.clone(),
                hint: "a shard listed in model.safetensors.index.json is missing; re-download the model".into(),
            });
        }
        let t = candle_core::safetensors::load(f, &Device::Cpu).map_err(|e| {
            ModelError::Safetensors {
                path: f.clone(),
                message: e.to_string(),
            }
        })?;
        all.extend(t);
    }
    Ok((all, files))
}
