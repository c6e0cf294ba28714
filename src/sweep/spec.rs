//! A sweep's SPEC file: a preset, fixed overrides, a grid of values and optional SLURM
//! resources. Every value is checked with the configuration's own validation
//! ([`TrainConfig::set`]) before anything runs, so a bad grid value fails at once, naming the
//! file and the key.

use super::SweepError;
use crate::config::{self, TrainConfig};
use serde_yaml::{Mapping, Value};
use std::path::{Path, PathBuf};

/// The keys a SPEC may hold at its top level.
pub const SPEC_KEYS: &[&str] = &["preset", "set", "grid", "slurm", "model", "data_dir"];

/// The keys a SPEC's `slurm:` mapping may hold (written as `#SBATCH --KEY=VALUE`).
pub const SLURM_KEYS: &[&str] = &["partition", "time", "cpus-per-task", "gpus", "mem"];

/// A parsed and validated SPEC.
#[derive(Debug, Clone, PartialEq)]
pub struct SweepSpec {
    /// Where the SPEC was read from (for errors).
    pub origin: String,
    /// Preset name, or an absolute path to a preset file.
    pub preset: String,
    /// Fixed overrides, in file order, as `key=value` (the form `train --set` takes).
    pub set: Vec<(String, Value)>,
    /// Grid axes in file order: key and its values.
    pub grid: Vec<(String, Vec<Value>)>,
    /// `#SBATCH` resources, in file order.
    pub slurm: Vec<(String, String)>,
}

fn invalid(origin: &str, message: String) -> SweepError {
    SweepError::Spec {
        origin: origin.into(),
        message,
    }
}

fn mapping<'a>(v: &'a Value, origin: &str, what: &str) -> Result<&'a Mapping, SweepError> {
    match v {
        Value::Mapping(m) => Ok(m),
        _ => Err(invalid(
            origin,
            format!("`{what}` must be a mapping of `key: value` lines"),
        )),
    }
}

fn key_str<'a>(k: &'a Value, origin: &str) -> Result<&'a str, SweepError> {
    k.as_str().ok_or_else(|| {
        invalid(
            origin,
            format!(
                "keys must be names, found `{}`. Fix: use the keys `dps-tui sweep --help` \
                     lists",
                crate::config::yaml_text::inline(k)
            ),
        )
    })
}

fn scalar_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

impl SweepSpec {
    /// Read and validate a SPEC file.
    pub fn load(path: &Path) -> Result<SweepSpec, SweepError> {
        let text = std::fs::read_to_string(path).map_err(|error| SweepError::Io {
            path: path.to_path_buf(),
            error,
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        SweepSpec::parse(&text, &path.display().to_string(), base)
    }

    /// Parse a SPEC's text. `origin` names it in errors; relative preset paths are taken from
    /// `base` (the SPEC's folder).
    pub fn parse(text: &str, origin: &str, base: &Path) -> Result<SweepSpec, SweepError> {
        let root: Value = serde_yaml::from_str(text).map_err(|e| {
            // serde_yaml places a repeated key at its mapping's first line: name its own.
            match config::preset::duplicate_key(text) {
                Some(d) if e.to_string().contains("duplicate entry") => {
                    invalid(&format!("{origin}:{}", d.line), d.describe())
                }
                _ => invalid(
                    origin,
                    format!("not valid YAML: {e}. Fix: a SPEC is a mapping with preset, set, grid"),
                ),
            }
        })?;
        let root = mapping(&root, origin, "the SPEC")?;
        let mut spec = SweepSpec {
            origin: origin.into(),
            preset: String::new(),
            set: Vec::new(),
            grid: Vec::new(),
            slurm: Vec::new(),
        };
        for (k, v) in root {
            let key = key_str(k, origin)?;
            match key {
                "preset" => {
                    let p = scalar_string(v).ok_or_else(|| {
                        invalid(origin, "`preset` must be a preset name or a path".into())
                    })?;
                    let looks_like_path =
                        p.ends_with(".yaml") || p.ends_with(".yml") || p.contains('/');
                    spec.preset = if looks_like_path && Path::new(&p).is_relative() {
                        absolute(&base.join(&p)).display().to_string()
                    } else {
                        p
                    };
                }
                "set" => {
                    for (k, v) in mapping(v, origin, "set")? {
                        spec.set.push((key_str(k, origin)?.to_string(), v.clone()));
                    }
                }
                "grid" => {
                    for (k, v) in mapping(v, origin, "grid")? {
                        let key = key_str(k, origin)?.to_string();
                        let values = match v {
                            Value::Sequence(s) if !s.is_empty() => s.clone(),
                            _ => {
                                return Err(invalid(
                                    origin,
                                    format!("grid key `{key}` must be a non-empty list, e.g. `{key}: [a, b]`"),
                                ))
                            }
                        };
                        spec.grid.push((key, values));
                    }
                }
                "slurm" => {
                    for (k, v) in mapping(v, origin, "slurm")? {
                        let key = key_str(k, origin)?;
                        if !SLURM_KEYS.contains(&key) {
                            return Err(invalid(
                                origin,
                                format!(
                                    "unknown key `slurm.{key}`. Allowed keys: {}",
                                    SLURM_KEYS.join(", ")
                                ),
                            ));
                        }
                        let value = scalar_string(v)
                            .filter(|s| !s.is_empty() && !s.contains(char::is_whitespace))
                            .ok_or_else(|| {
                                invalid(
                                    origin,
                                    format!(
                                        "`slurm.{key}` must be one word, e.g. `time: 01:00:00`"
                                    ),
                                )
                            })?;
                        spec.slurm.push((key.to_string(), value));
                    }
                }
                "model" | "data_dir" => {
                    let mut val = v.clone();
                    // A relative local folder is taken from the SPEC's folder.
                    if let Some(s) = v.as_str() {
                        let p = base.join(s);
                        if Path::new(s).is_relative() && p.exists() {
                            val = Value::String(absolute(&p).display().to_string());
                        }
                    }
                    spec.set.push((key.to_string(), val));
                }
                other => {
                    return Err(invalid(
                        origin,
                        format!(
                            "unknown key `{other}`. Allowed keys: {}",
                            SPEC_KEYS.join(", ")
                        ),
                    ))
                }
            }
        }
        if spec.preset.is_empty() {
            return Err(invalid(
                origin,
                "no `preset`. Fix: add `preset: rte` (a name from `dps-tui presets`, or a path)"
                    .into(),
            ));
        }
        for (k, _) in &spec.grid {
            if spec.set.iter().any(|(s, _)| s == k) {
                return Err(invalid(
                    origin,
                    format!("`{k}` is both under `set` and under `grid`. Fix: keep one"),
                ));
            }
        }
        // Every cell's configuration must be valid before anything runs.
        for cell in expand(&spec) {
            spec.config_for(&cell)?;
        }
        Ok(spec)
    }

    /// The configuration of one cell: the preset, then `set`, then the cell's grid values.
    pub fn config_for(&self, cell: &[(String, Value)]) -> Result<TrainConfig, SweepError> {
        let (mut c, _) = config::load_preset(&self.preset).map_err(|e| SweepError::Spec {
            origin: self.origin.clone(),
            message: format!("preset: {e}"),
        })?;
        let wrap = SweepError::Config;
        for (k, v) in &self.set {
            c.set(k, v, &format!("{}: set.{k}", self.origin))
                .map_err(wrap)?;
        }
        for (k, v) in cell {
            c.set(k, v, &format!("{}: grid.{k}", self.origin))
                .map_err(wrap)?;
        }
        c.validate(&format!("{}: a grid cell", self.origin))
            .map_err(wrap)?;
        Ok(c)
    }
}
/// The product of the grid's lists, in SPEC order (the last key varies fastest). A SPEC
/// without a grid has one cell.
pub fn expand(spec: &SweepSpec) -> Vec<Vec<(String, Value)>> {
    let mut cells: Vec<Vec<(String, Value)>> = vec![Vec::new()];
    for (key, values) in &spec.grid {
        let mut next = Vec::with_capacity(cells.len() * values.len());
        for c in &cells {
            for v in values {
                let mut c = c.clone();
                c.push((key.clone(), v.clone()));
                next.push(c);
            }
        }
        cells = next;
    }
    cells
}

/// An absolute form of a path (the current folder joined in front of a relative one).
pub fn absolute(p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir()
            .map(|d| d.join(p))
            .unwrap_or_else(|_| p.to_path_buf())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<SweepSpec, SweepError> {
        SweepSpec::parse(text, "sweep.yaml", Path::new("."))
    }

    #[test]
    fn reads_preset_set_grid_slurm() {
        let s = parse(
            "preset: demo\nset: {max_steps: 10}\ngrid:\n  method: [vanilla, dps-dense]\n  seed: [1, 2, 3]\nslurm: {partition: debug, time: '00:10:00', cpus-per-task: 2}\n",
        )
        .unwrap();
        assert_eq!(s.preset, "demo");
        assert_eq!(s.set.len(), 1);
        assert_eq!(s.grid[0].0, "method");
        assert_eq!(s.grid[1].1.len(), 3);
        assert_eq!(
            s.slurm,
            vec![
                ("partition".into(), "debug".into()),
                ("time".into(), "00:10:00".into()),
                ("cpus-per-task".into(), "2".into())
            ]
        );
    }

    #[test]
    fn bad_grid_value_names_file_and_key() {
        let e = parse("preset: demo\ngrid:\n  p: [0.1, 1.5]\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("sweep.yaml") && e.contains("grid.p") && e.contains("1.5"),
            "{e}"
        );
        let e = parse("preset: demo\ngrid:\n  learning_rat: [0.1]\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("learning_rat") && e.contains("learning_rate"),
            "{e}"
        );
        let e = parse("preset: demo\nset: {method: sgd}\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("set.method"), "{e}");
    }

    #[test]
    fn unknown_and_missing_keys_are_refused() {
        let e = parse("preset: demo\ngird: {seed: [1]}\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("gird") && e.contains("grid"), "{e}");
        let e = parse("grid: {seed: [1]}\n").unwrap_err().to_string();
        assert!(e.contains("preset"), "{e}");
        let e = parse("preset: demo\nslurm: {nodes: 2}\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("slurm.nodes") && e.contains("partition"), "{e}");
        let e = parse("preset: demo\ngrid: {seed: 3}\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("seed") && e.contains("list"), "{e}");
        let e = parse("preset: demo\nset: {seed: 1}\ngrid: {seed: [2]}\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("both"), "{e}");
        let e = parse("preset: nosuch\n").unwrap_err().to_string();
        assert!(e.contains("nosuch"), "{e}");
    }
}
