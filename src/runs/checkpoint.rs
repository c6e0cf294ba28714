//! Atomic checkpoints: everything is written into a temporary folder, synced, then renamed into
//! place, so a crash never leaves a half-written checkpoint where a complete one is expected.
//!
//! `checkpoints/step-<N>/` holds `model.safetensors` + `config.json` + tokenizer files (loadable
//! by Hugging Face `transformers`), `optimizer.safetensors`, `strategy.safetensors`,
//! `strategy.json` and `trainer_state.json`.

use super::RunDir;
use crate::dps::strategy::StrategyState;
use crate::model::checkpoint_io::save_hf;
use crate::train::trainer::{Checkpointer, TrainerSnapshot};
use crate::train::Checkpoint;
use candle_core::Tensor;
use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};

pub struct RunCheckpointer {
    pub dir: PathBuf,
    pub tokenizer_dir: Option<PathBuf>,
    pub id2label: Vec<String>,
    pub keep_last: usize,
    pub keep_best: bool,
    best: Option<(f64, usize)>,
}

impl RunCheckpointer {
    pub fn new(
        run: &RunDir,
        tokenizer_dir: Option<PathBuf>,
        id2label: Vec<String>,
        keep_last: usize,
        keep_best: bool,
    ) -> Self {
        RunCheckpointer {
            dir: run.checkpoints_dir(),
            tokenizer_dir,
            id2label,
            keep_last,
            keep_best,
            best: None,
        }
    }

    fn write(&self, snap: &TrainerSnapshot, tmp: &Path) -> Result<(), String> {
        let e = |what: &str, err: &dyn std::fmt::Display| format!("{what}: {err}");
        std::fs::create_dir_all(tmp).map_err(|err| e(&tmp.display().to_string(), &err))?;
        save_hf(
            snap.model,
            tmp,
            &self.id2label,
            self.tokenizer_dir.as_deref(),
        )
        .map_err(|err| e("model", &err))?;
        let opt = snap
            .optimizer
            .state_tensors(snap.model.params())
            .map_err(|err| e("optimizer", &err))?;
        save_tensors(&opt, &tmp.join("optimizer.safetensors"))?;
        save_tensors(&snap.strategy.tensors, &tmp.join("strategy.safetensors"))?;
        write_json(&tmp.join("strategy.json"), &snap.strategy.json)?;
        write_json(&tmp.join("trainer_state.json"), &snap.state)?;
        sync_dir(tmp)?;
        Ok(())
    }

    /// The message for a checkpoint that could not be written: what failed, what is still
    /// there, and the fix.
    fn failure(&self, what: &str) -> String {
        let run = RunDir {
            path: self.dir.parent().map(Path::to_path_buf).unwrap_or_default(),
        };
        let kept = match run.checkpoints().pop() {
            Some((_, p)) => format!("the last complete checkpoint, {}, is intact", p.display()),
            None => "no earlier checkpoint exists".to_string(),
        };
        format!(
            "{what}; {kept}. Fix: free disk space, or make sure {} is a writable folder (nothing else in its place), then checkpoint again",
            self.dir.display()
        )
    }

    /// Remove checkpoints beyond keep-last-N, sparing the best.
    fn prune(&self) {
        if self.keep_last == 0 {
            return;
        }
        let run = RunDir {
            path: self.dir.parent().map(Path::to_path_buf).unwrap_or_default(),
        };
        let all = run.checkpoints();
        let n = all.len();
        for (i, (step, path)) in all.into_iter().enumerate() {
            let recent = i + self.keep_last >= n;
            let best = self.keep_best && self.best.is_some_and(|b| b.1 == step);
            if !recent && !best {
                let _ = std::fs::remove_dir_all(path);
            }
        }
    }
}

fn save_tensors(t: &HashMap<String, Tensor>, path: &Path) -> Result<(), String> {
    let cpu: HashMap<String, Tensor> = t
        .iter()
        .map(|(k, v)| Ok((k.clone(), v.to_device(&candle_core::Device::Cpu)?)))
        .collect::<candle_core::Result<_>>()
        .map_err(|e| format!("{}: {e}", path.display()))?;
    candle_core::safetensors::save(&cpu, path).map_err(|e| format!("{}: {e}", path.display()))?;
    File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(|e| format!("{}: {e}", path.display()))
}

fn write_json(path: &Path, v: &serde_json::Value) -> Result<(), String> {
    let text = serde_json::to_string_pretty(v).unwrap_or_default();
    std::fs::write(path, text)
        .and_then(|_| File::open(path)?.sync_all())
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// Put the written folder `tmp` in the place of `dst` in one step. A checkpoint written again
/// at the same step (a resume from the final one) is swapped in atomically, so a crash leaves
/// the old or the new one, never neither.
fn commit(tmp: &Path, dst: &Path) -> std::io::Result<()> {
    if !dst.exists() {
        return std::fs::rename(tmp, dst);
    }
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        use std::ffi::CString;
        use std::os::unix::ffi::OsStrExt;
        let c = |p: &Path| CString::new(p.as_os_str().as_bytes()).map_err(std::io::Error::other);
        let (a, b) = (c(tmp)?, c(dst)?);
        // SAFETY: two NUL-terminated paths; renameat2 only reads them.
        let r = unsafe {
            libc::renameat2(
                libc::AT_FDCWD,
                a.as_ptr(),
                libc::AT_FDCWD,
                b.as_ptr(),
                libc::RENAME_EXCHANGE,
            )
        };
        if r == 0 {
            // `tmp` now holds the old checkpoint.
            let _ = std::fs::remove_dir_all(tmp);
            return Ok(());
        }
    }
    std::fs::remove_dir_all(dst)?;
    std::fs::rename(tmp, dst)
}

fn sync_dir(p: &Path) -> Result<(), String> {
    File::open(p)
        .and_then(|f| f.sync_all())
        .map_err(|e| format!("{}: {e}", p.display()))
}

impl Checkpointer for RunCheckpointer {
    fn save(&mut self, snap: &TrainerSnapshot) -> Result<String, String> {
        let final_dir = self.dir.join(format!("step-{}", snap.step));
        let tmp = self.dir.join(format!(".tmp-step-{}", snap.step));
        let _ = std::fs::remove_dir_all(&tmp);
        if let Err(e) = self.write(snap, &tmp) {
            let _ = std::fs::remove_dir_all(&tmp);
            return Err(self.failure(&e));
        }
        commit(&tmp, &final_dir).map_err(|e| {
            let _ = std::fs::remove_dir_all(&tmp);
            self.failure(&format!("{}: {e}", final_dir.display()))
        })?;
        let _ = sync_dir(&self.dir);
        if let Some(m) = snap.metric {
            if self.best.is_none_or(|b| m > b.0) {
                self.best = Some((m, snap.step));
            }
        }
        self.prune();
        Ok(final_dir.display().to_string())
    }
}

/// Read a checkpoint folder for resume: the weights and the optimizer, strategy and trainer
/// state.
pub fn load(dir: &Path) -> Result<Checkpoint, String> {
    let dev = candle_core::Device::Cpu;
    // A file of the checkpoint that is missing or damaged: what is wrong, and the way out.
    let damaged = |name: &str, e: &dyn std::fmt::Display| {
        format!(
            "{}: {e}. Fix: restore the file, or delete the checkpoint folder {} to resume \
             from an earlier checkpoint",
            dir.join(name).display(),
            dir.display()
        )
    };
    let rd = |name: &str| -> Result<HashMap<String, Tensor>, String> {
        candle_core::safetensors::load(dir.join(name), &dev).map_err(|e| damaged(name, &e))
    };
    let json = |name: &str| -> Result<serde_json::Value, String> {
        let t = std::fs::read_to_string(dir.join(name)).map_err(|e| damaged(name, &e))?;
        serde_json::from_str(&t).map_err(|e| damaged(name, &format!("not valid JSON ({e})")))
    };
    let state_path = dir.join("trainer_state.json");
    let state: crate::train::trainer::TrainerState =
        serde_json::from_value(json("trainer_state.json")?)
            .map_err(|e| damaged("trainer_state.json", &e))?;
    // The step is recorded twice: in the folder's name, beside the weights, and in the state.
    let folder_step = dir
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.strip_prefix("step-"))
        .and_then(|n| n.parse::<usize>().ok());
    if let Some(n) = folder_step.filter(|n| *n != state.step) {
        return Err(format!(
            "{}: says step {}, but it belongs to the checkpoint of step {n} (its folder). Fix: restore the file (its `step` must be {n}), or delete this checkpoint folder to resume from an earlier one",
            state_path.display(),
            state.step
        ));
    }
    Ok(Checkpoint {
        dir: dir.to_path_buf(),
        weights: rd("model.safetensors")?,
        optimizer: rd("optimizer.safetensors")?,
        strategy: StrategyState {
            tensors: rd("strategy.safetensors")?,
            json: json("strategy.json")?,
        },
        state,
    })
}
