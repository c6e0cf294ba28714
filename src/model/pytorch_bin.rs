//! Reading `pytorch_model.bin` (a `torch.save`d state dict) without running any of its code:
//! the pickle is interpreted by `candle_core::pickle`, which only builds values (classes are
//! names, calls are recorded, never made) and takes tensors from `torch._utils._rebuild_tensor_v2`
//! calls whose storages it reads itself.
//!
//! Two layouts are read: the zip archive `torch.save` writes since PyTorch 1.6, and the legacy
//! stream of earlier versions (magic number, protocol, system info, the state dict, the storage
//! keys, then each storage's size and bytes), in which many older Hub checkpoints were saved.
//! Anything else is refused with an error that names the file.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use candle_core::pickle::{Object, Stack, TensorInfo};
use candle_core::{DType, Device, Tensor};

use super::ModelError;

/// The PyTorch weights file of a model folder.
pub const PYTORCH_WEIGHTS: &str = "pytorch_model.bin";

/// The first bytes of a legacy `torch.save` stream: protocol 2, the long
/// `0x1950a86a20f9469cfc6c` (PyTorch's magic number), stop.
const LEGACY_MAGIC: [u8; 15] = [
    0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e,
];

/// The fix suggested when a file cannot be read.
const FIX: &str = "re-download it, or convert it to model.safetensors in Python \
    (AutoModel.from_pretrained(dir).save_pretrained(dir, safe_serialization=True))";

fn bad(path: &Path, message: impl Into<String>) -> ModelError {
    ModelError::UnsupportedFormat {
        path: path.to_path_buf(),
        message: format!("{}; {FIX}", message.into()),
    }
}

/// Every tensor of a `pytorch_model.bin` state dict, by name, on the CPU.
pub fn read(path: &Path) -> Result<HashMap<String, Tensor>, ModelError> {
    let file = std::fs::File::open(path).map_err(|e| ModelError::Io {
        path: path.to_path_buf(),
        source: e,
    })?;
    let mut head = Vec::with_capacity(LEGACY_MAGIC.len());
    file.take(LEGACY_MAGIC.len() as u64)
        .read_to_end(&mut head)
        .map_err(|e| ModelError::Io {
            path: path.to_path_buf(),
            source: e,
        })?;
    let tensors: Vec<(String, Tensor)> = if head.starts_with(b"PK\x03\x04") {
        read_zip(path)?
    } else if head == LEGACY_MAGIC {
        read_legacy(path)?
    } else {
        return Err(bad(
            path,
            "not a PyTorch checkpoint that can be read safely (neither the zip archive of \
             torch.save nor its legacy stream)",
        ));
    };
    if tensors.is_empty() {
        return Err(bad(
            path,
            "holds no tensors at its top level; it must be a state dict (name → tensor)",
        ));
    }
    Ok(tensors.into_iter().collect())
}

/// The size of `path` in bytes, the bound on any tensor it can hold.
fn file_len(path: &Path) -> Result<usize, ModelError> {
    let len = std::fs::metadata(path)
        .map_err(|e| ModelError::Io {
            path: path.to_path_buf(),
            source: e,
        })?
        .len();
    Ok(usize::try_from(len).unwrap_or(usize::MAX))
}

/// The zip archive: `*/data.pkl` and one entry per storage, read through candle's reader;
/// a tensor larger than the file is refused before anything is allocated for it.
fn read_zip(path: &Path) -> Result<Vec<(String, Tensor)>, ModelError> {
    let pth = candle_core::pickle::PthTensors::new(path, None)
        .map_err(|e| bad(path, format!("cannot read this PyTorch zip archive ({e})")))?;
    let limit = file_len(path)?;
    let mut names: Vec<&String> = pth.tensor_infos().keys().collect();
    names.sort();
    let mut out = Vec::with_capacity(names.len());
    for name in names {
        let info = &pth.tensor_infos()[name];
        let bytes = info.layout.shape().elem_count() * info.dtype.size_in_bytes();
        if bytes > limit {
            return Err(bad(
                path,
                format!("tensor {name} claims {bytes} bytes, more than the file holds"),
            ));
        }
        let t = pth
            .get(name)
            .and_then(|t| t.ok_or_else(|| candle_core::Error::Msg("not found".into())))
            .map_err(|e| bad(path, format!("cannot read tensor {name} ({e})")))?;
        out.push((name.clone(), t));
    }
    Ok(out)
}

/// Read one pickle from `r` (without running it).
fn pickle<R: BufRead>(r: &mut R, path: &Path, what: &str) -> Result<Object, ModelError> {
    let mut stack = Stack::empty();
    stack
        .read_loop(r)
        .and_then(|_| stack.finalize())
        .map_err(|e| bad(path, format!("cannot read the {what} pickle ({e})")))
}

/// The legacy stream: state dict pickle, storage keys pickle, then the storages.
fn read_legacy(path: &Path) -> Result<Vec<(String, Tensor)>, ModelError> {
    let file = std::fs::File::open(path).map_err(|e| ModelError::Io {
        path: path.to_path_buf(),
        source: e,
    })?;
    let limit = file_len(path)?;
    let mut r = BufReader::new(file);
    let mut skip = [0u8; LEGACY_MAGIC.len()];
    r.read_exact(&mut skip)
        .map_err(|e| bad(path, e.to_string()))?;
    let _protocol = pickle(&mut r, path, "protocol version")?;
    let _sys_info = pickle(&mut r, path, "system information")?;
    let state = pickle(&mut r, path, "state dict")?;
    let Object::List(keys) = pickle(&mut r, path, "storage keys")? else {
        return Err(bad(path, "the storage keys are not a list"));
    };
    let Object::Dict(entries) = state else {
        return Err(bad(path, "the top-level object is not a dict of tensors"));
    };
    let prefix = Path::new("s");
    let mut infos: Vec<TensorInfo> = Vec::new();
    for (name, value) in entries {
        match value.into_tensor_info(name, prefix) {
            Ok(Some(info)) => infos.push(info),
            Ok(None) => {}
            Err(e) => return Err(bad(path, format!("cannot read a tensor entry ({e})"))),
        }
    }
    let key_of = |info: &TensorInfo| info.path.trim_start_matches("s/").to_string();
    let mut dtype_of: HashMap<String, DType> = HashMap::new();
    for info in &infos {
        dtype_of.insert(key_of(info), info.dtype);
    }
    let mut storages: HashMap<String, Vec<u8>> = HashMap::new();
    for key in keys {
        let Object::Unicode(key) = key else {
            return Err(bad(path, "a storage key is not a string"));
        };
        let mut n = [0u8; 8];
        r.read_exact(&mut n)
            .map_err(|e| bad(path, format!("storage {key}: {e} (the file is truncated)")))?;
        let numel = u64::from_le_bytes(n);
        let Some(dtype) = dtype_of.get(&key) else {
            return Err(bad(path, format!("storage {key} is used by no tensor")));
        };
        let len = usize::try_from(numel)
            .ok()
            .and_then(|n| n.checked_mul(dtype.size_in_bytes()))
            .ok_or_else(|| bad(path, format!("storage {key} is too large")))?;
        if len > limit {
            return Err(bad(
                path,
                format!("storage {key} claims {len} bytes, more than the file holds (truncated?)"),
            ));
        }
        let mut bytes = vec![0u8; len];
        r.read_exact(&mut bytes)
            .map_err(|e| bad(path, format!("storage {key}: {e} (the file is truncated)")))?;
        storages.insert(key, bytes);
    }
    infos
        .into_iter()
        .map(|info| {
            let key = key_of(&info);
            let storage = storages
                .get(&key)
                .ok_or_else(|| bad(path, format!("tensor {}: no storage {key}", info.name)))?;
            let t = strided(storage, &info)
                .map_err(|e| bad(path, format!("tensor {}: {e}", info.name)))?;
            Ok((info.name, t))
        })
        .collect()
}

/// The tensor `info` describes, gathered from its storage's bytes by its shape, strides and
/// offset.
fn strided(storage: &[u8], info: &TensorInfo) -> Result<Tensor, String> {
    let size = info.dtype.size_in_bytes();
    let dims = info.layout.dims();
    let strides = info.layout.stride();
    let start = info.layout.start_offset();
    let numel: usize = dims.iter().product();
    let mut out = Vec::with_capacity(numel * size);
    let mut index = vec![0usize; dims.len()];
    for _ in 0..numel {
        let elem: usize = index.iter().zip(strides).map(|(i, s)| i * s).sum();
        let at = start + elem * size;
        let bytes = storage
            .get(at..at + size)
            .ok_or("its shape and strides reach past its storage")?;
        out.extend_from_slice(bytes);
        for d in (0..dims.len()).rev() {
            index[d] += 1;
            if index[d] < dims[d] {
                break;
            }
            index[d] = 0;
        }
    }
    Tensor::from_raw_buffer(&out, info.dtype, dims, &Device::Cpu).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/pytorch-bin")
            .join(name)
    }

    /// Both `torch.save` layouts give the tensors `expected.safetensors` holds: dtypes,
    /// shapes and bytes, for a transposed tensor, views at an offset into a shared storage
    /// and a scalar.
    #[test]
    fn zip_and_legacy_files_read_like_torch() {
        let want =
            candle_core::safetensors::load(fixture("expected.safetensors"), &Device::Cpu).unwrap();
        assert_eq!(want.len(), 7);
        for file in ["zip.bin", "legacy.bin"] {
            let got = read(&fixture(file)).unwrap();
            let mut names: Vec<_> = got.keys().cloned().collect();
            names.sort();
            let mut expected: Vec<_> = want.keys().cloned().collect();
            expected.sort();
            assert_eq!(names, expected, "{file}");
            for (name, w) in &want {
                let g = &got[name];
                assert_eq!(g.dtype(), w.dtype(), "{file} {name}");
                assert_eq!(g.dims(), w.dims(), "{file} {name}");
                let as_f64 = |t: &Tensor| -> Vec<f64> {
                    t.to_dtype(DType::F64)
                        .unwrap()
                        .flatten_all()
                        .unwrap()
                        .to_vec1()
                        .unwrap()
                };
                assert_eq!(as_f64(g), as_f64(w), "{file} {name}");
            }
        }
    }

    #[test]
    fn other_files_are_refused_with_the_file_and_the_fix() {
        let tmp = tempfile::tempdir().unwrap();
        let cases: [(&str, &[u8]); 3] = [
            ("text.bin", b"version https://git-lfs.github.com/spec/v1\n"),
            ("broken-zip.bin", b"PK\x03\x04 truncated"),
            ("empty.bin", b""),
        ];
        for (name, bytes) in cases {
            let p = tmp.path().join(name);
            std::fs::write(&p, bytes).unwrap();
            let e = read(&p).unwrap_err().to_string();
            assert!(e.contains(name) && e.contains("model.safetensors"), "{e}");
        }
        // A legacy stream cut short names the file too.
        let whole = std::fs::read(fixture("legacy.bin")).unwrap();
        let p = tmp.path().join("cut.bin");
        std::fs::write(&p, &whole[..whole.len() - 9]).unwrap();
        let e = read(&p).unwrap_err().to_string();
        assert!(e.contains("cut.bin") && e.contains("truncated"), "{e}");
    }
}
