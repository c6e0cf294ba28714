//! The run folder: where a run's configuration, event log and checkpoints live.

use crate::config::TrainConfig;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

pub struct RunDir {
    pub path: PathBuf,
}

/// `YYYYMMDDTHHMMSSZ` for a Unix time in seconds (UTC, no time-zone data needed).
pub fn utc_stamp(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Howard Hinnant's civil-from-days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60
    )
}

impl RunDir {
    /// Create `<root>/<UTC time>-<task>-<method>/` and write `config.yaml`.
    pub fn create(root: &Path, config: &TrainConfig) -> std::io::Result<Self> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let base = format!("{}-{}-{}", utc_stamp(now), config.task, config.method);
        let mut path = root.join(&base);
        let mut n = 1;
        while path.exists() {
            n += 1;
            path = root.join(format!("{base}-{n}"));
        }
        std::fs::create_dir_all(path.join("checkpoints"))?;
        let dir = RunDir { path };
        dir.write_config(config)?;
        Ok(dir)
    }

    /// Create the run folder exactly at `path` and write `config.yaml`. Refuses a folder that
    /// already holds a run (an `events.jsonl` or a `config.yaml`).
    pub fn create_at(path: &Path, config: &TrainConfig) -> std::io::Result<Self> {
        if path.join("events.jsonl").exists() || path.join("config.yaml").exists() {
            let existing = RunDir {
                path: path.to_path_buf(),
            };
            let message = if existing.checkpoints().is_empty() {
                format!(
                    "{} holds a run that stopped before its first checkpoint, so there is nothing to resume. Fix: delete the folder (`rm -r {}`) to start the run again there, or choose another folder",
                    path.display(),
                    path.display()
                )
            } else {
                format!(
                    "{} already holds a run. Fix: resume it with `train --resume {}`, or choose another folder",
                    path.display(),
                    path.display()
                )
            };
            return Err(std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                message,
            ));
        }
        std::fs::create_dir_all(path.join("checkpoints"))?;
        let dir = RunDir {
            path: path.to_path_buf(),
        };
        dir.write_config(config)?;
        Ok(dir)
    }

    /// Open an existing run folder (for resume, replay, export).
    pub fn open(path: &Path) -> std::io::Result<Self> {
        if !path.join("events.jsonl").exists() && !path.join("config.yaml").exists() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!(
                    "{} is not a run folder (no events.jsonl or config.yaml). Fix: pass a folder under runs/ (`dps-tui runs` lists them)",
                    path.display()
                ),
            ));
        }
        Ok(RunDir {
            path: path.to_path_buf(),
        })
    }

    pub fn write_config(&self, config: &TrainConfig) -> std::io::Result<()> {
        let yaml = serde_yaml::to_string(config).map_err(std::io::Error::other)?;
        let header = "# The resolved configuration of this run (preset + overrides).\n";
        std::fs::write(self.path.join("config.yaml"), format!("{header}{yaml}"))
    }

    pub fn read_config(&self) -> Result<TrainConfig, crate::config::ConfigError> {
        let p = self.path.join("config.yaml");
        let text =
            std::fs::read_to_string(&p).map_err(|e| crate::config::ConfigError::Invalid {
                origin: p.display().to_string(),
                message: format!(
                    "cannot read the run's configuration ({e}). Fix: restore config.yaml in the \
                 run folder (it records every key the run started with), or start a new run"
                ),
            })?;
        // A run's config.yaml is not a preset: its errors say so, and how to get it back. It
        // is checked as written, before the keys of older runs are added.
        let saved = |message: String| crate::config::ConfigError::RunConfig {
            path: p.clone(),
            message,
        };
        match serde_yaml::from_str::<serde_yaml::Value>(&text) {
            Err(e) => return Err(saved(format!("not valid YAML ({e})"))),
            Ok(serde_yaml::Value::Mapping(_)) => {}
            Ok(_) => return Err(saved("not a mapping of `key: value` lines".into())),
        }
        crate::config::preset::parse_preset(&legacy_keys(&text), &p.display().to_string())
    }

    pub fn events_path(&self) -> PathBuf {
        self.path.join("events.jsonl")
    }

    pub fn checkpoints_dir(&self) -> PathBuf {
        self.path.join("checkpoints")
    }

    /// Complete checkpoints (`step-<N>` folders holding `trainer_state.json`), oldest first.
    pub fn checkpoints(&self) -> Vec<(usize, PathBuf)> {
        let mut v: Vec<(usize, PathBuf)> = std::fs::read_dir(self.checkpoints_dir())
            .into_iter()
            .flatten()
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().to_string();
                let n = name.strip_prefix("step-")?.parse().ok()?;
                e.path()
                    .join("trainer_state.json")
                    .exists()
                    .then(|| (n, e.path()))
            })
            .collect();
        v.sort();
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_stamps() {
        assert_eq!(utc_stamp(0), "19700101T000000Z");
        assert_eq!(utc_stamp(1_795_638_896), "20261125T203456Z");
        assert_eq!(utc_stamp(951_782_400), "20000229T000000Z");
    }
}

/// A run folder's `config.yaml` written before a key existed holds what the run used then:
/// `train_sampling: random` (the only draw there was), whatever today's default.
fn legacy_keys(text: &str) -> String {
    if text.lines().any(|l| l.starts_with("train_sampling:")) {
        return text.to_string();
    }
    let mut t = text.to_string();
    if !t.ends_with('\n') && !t.is_empty() {
        t.push('\n');
    }
    t.push_str("train_sampling: random\n");
    t
}

#[cfg(test)]
mod legacy_tests {
    use super::*;

    #[test]
    fn an_old_config_keeps_its_random_draw_and_a_new_one_its_own() {
        let dir = std::env::temp_dir().join(format!("dps-legacy-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("config.yaml"), "task: rte\ntrain_size: 100\n").unwrap();
        let run = RunDir { path: dir.clone() };
        let c = run.read_config().unwrap();
        assert_eq!(c.train_sampling, crate::config::TrainSampling::Random);
        let new = crate::config::TrainConfig {
            train_size: Some(100),
            ..Default::default()
        };
        run.write_config(&new).unwrap();
        let c = run.read_config().unwrap();
        assert_eq!(c.train_sampling, crate::config::TrainSampling::Stratified);
        assert_eq!(c, new);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
