//! The grid's cells: the product of the SPEC's `grid:` lists, each with a folder name made of
//! its keys (`task=rte,method=dps-dense,seed=42`), and `ROOT/sweep.json`, the expanded cells that
//! `--cell`, `--status` and `watch` read.

use super::spec::SweepSpec;
use super::SweepError;
use serde::{Deserialize, Serialize};
use serde_yaml::Value;
use std::path::{Path, PathBuf};

/// The file under ROOT that lists the expanded cells.
pub const SWEEP_FILE: &str = "sweep.json";

/// One cell of the grid.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cell {
    /// Position in the product (the SLURM array index).
    pub index: usize,
    /// Its run folder's name under ROOT.
    pub name: String,
    /// The grid keys and values of this cell, in SPEC order, as written on the command line.
    pub keys: Vec<(String, String)>,
    /// Every `train --set` this cell's run gets: the SPEC's `set` then the grid values.
    pub sets: Vec<String>,
}

/// `ROOT/sweep.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepFile {
    /// The SPEC the cells came from.
    pub spec: String,
    /// Preset name or absolute path.
    pub preset: String,
    /// The folder commands run from (relative paths in the cells are taken from it).
    pub workdir: PathBuf,
    pub cells: Vec<Cell>,
    /// The SLURM job id once submitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slurm_job: Option<String>,
}

/// A value as `--set` and folder names write it.
pub fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "null".into(),
        other => serde_yaml::to_string(other)
            .unwrap_or_default()
            .trim()
            .to_string(),
    }
}

/// A folder-safe form of a cell value: path separators and spaces become `_`.
fn folder_text(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c == '/' || c == '\\' || c.is_whitespace() || c == ',' {
                '_'
            } else {
                c
            }
        })
        .collect()
}

pub use super::spec::expand;

/// The named cells of a SPEC.
pub fn cells(spec: &SweepSpec) -> Vec<Cell> {
    expand(spec)
        .into_iter()
        .enumerate()
        .map(|(index, kv)| {
            let keys: Vec<(String, String)> =
                kv.iter().map(|(k, v)| (k.clone(), value_text(v))).collect();
            let name = if keys.is_empty() {
                "cell".to_string()
            } else {
                keys.iter()
                    .map(|(k, v)| format!("{k}={}", folder_text(v)))
                    .collect::<Vec<_>>()
                    .join(",")
            };
            let sets = spec
                .set
                .iter()
                .map(|(k, v)| format!("{k}={}", value_text(v)))
                .chain(keys.iter().map(|(k, v)| format!("{k}={v}")))
                .collect();
            Cell {
                index,
                name,
                keys,
                sets,
            }
        })
        .collect()
}

/// Parse a cell folder's name back into its keys (`a=1,b=x` → `[(a,1),(b,x)]`); `None` when the
/// name is not of that form.
pub fn keys_from_name(name: &str) -> Option<Vec<(String, String)>> {
    name.split(',')
        .map(|part| {
            let (k, v) = part.split_once('=')?;
            (!k.is_empty()).then(|| (k.to_string(), v.to_string()))
        })
        .collect()
}

impl SweepFile {
    pub fn path(root: &Path) -> PathBuf {
        root.join(SWEEP_FILE)
    }

    pub fn write(&self, root: &Path) -> Result<(), SweepError> {
        std::fs::create_dir_all(root).map_err(|error| SweepError::Io {
            path: root.to_path_buf(),
            error,
        })?;
        let path = SweepFile::path(root);
        let tmp = root.join(format!("{SWEEP_FILE}.tmp"));
        let text = serde_json::to_string_pretty(self).expect("a sweep file serialises");
        std::fs::write(&tmp, text)
            .and_then(|_| std::fs::rename(&tmp, &path))
            .map_err(|error| SweepError::Io { path, error })
    }

    pub fn read(root: &Path) -> Result<SweepFile, SweepError> {
        let path = SweepFile::path(root);
        let text = std::fs::read_to_string(&path).map_err(|error| SweepError::NotASweep {
            root: root.to_path_buf(),
            error,
        })?;
        serde_json::from_str(&text).map_err(|e| SweepError::Spec {
            origin: path.display().to_string(),
            message: format!("not a sweep file: {e}. Fix: run `dps-tui sweep SPEC --out ROOT` again to rewrite it"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn product_names_and_sets() {
        let spec = SweepSpec::parse(
            "preset: demo\nset: {max_steps: 5}\ngrid:\n  method: [vanilla, dps-dense]\n  seed: [1, 2, 3]\n",
            "s.yaml",
            Path::new("."),
        )
        .unwrap();
        let cs = cells(&spec);
        assert_eq!(cs.len(), 6);
        assert_eq!(cs[0].name, "method=vanilla,seed=1");
        assert_eq!(cs[4].name, "method=dps-dense,seed=2");
        assert_eq!(cs[4].index, 4);
        assert_eq!(
            cs[5].sets,
            vec!["max_steps=5", "method=dps-dense", "seed=3"]
        );
        let names: std::collections::BTreeSet<_> = cs.iter().map(|c| &c.name).collect();
        assert_eq!(names.len(), 6, "names are unique");
        assert_eq!(
            keys_from_name(&cs[4].name).unwrap(),
            vec![
                ("method".to_string(), "dps-dense".to_string()),
                ("seed".to_string(), "2".to_string())
            ]
        );
        assert_eq!(keys_from_name("20261201T000000Z-rte-vanilla"), None);
    }

    #[test]
    fn values_round_trip_through_set() {
        let spec = SweepSpec::parse(
            "preset: demo\ngrid:\n  learning_rate: [1.0e-4, 0.002]\n  dropout: [null, 0.1]\n",
            "s.yaml",
            Path::new("."),
        )
        .unwrap();
        for (cell, kv) in cells(&spec).iter().zip(expand(&spec)) {
            let want = spec.config_for(&kv).unwrap();
            let mut got = crate::config::load_preset("demo").unwrap().0;
            for s in &cell.sets {
                got.set_override(s).unwrap();
            }
            assert_eq!(got, want, "{}", cell.name);
        }
        assert!(cells(&spec)[0].name.starts_with("learning_rate=0.0001"));
    }

    #[test]
    fn no_grid_is_one_cell_and_paths_are_folder_safe() {
        let spec = SweepSpec::parse("preset: demo\n", "s.yaml", Path::new(".")).unwrap();
        assert_eq!(cells(&spec).len(), 1);
        assert_eq!(folder_text("a/b c,d"), "a_b_c_d");
    }
}
