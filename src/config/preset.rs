//! Presets: flat YAML files in `presets/`, one per GLUE task and one per protocol of the
//! paper beyond GLUE (`ood-*`, `lowres-*`).
//!
//! The presets shipped in the repository are also compiled into the binary, so `--preset rte`
//! works from any folder. A `presets/` folder in the working directory, or a path to a `.yaml`
//! file, takes precedence.

use super::{ConfigError, TrainConfig};
use std::path::{Path, PathBuf};

/// Presets compiled into the binary: (name, YAML text).
pub const BUILTIN: &[(&str, &str)] = &[
    ("cola", include_str!("../../presets/cola.yaml")),
    ("sst2", include_str!("../../presets/sst2.yaml")),
    ("mrpc", include_str!("../../presets/mrpc.yaml")),
    ("stsb", include_str!("../../presets/stsb.yaml")),
    ("qqp", include_str!("../../presets/qqp.yaml")),
    ("mnli", include_str!("../../presets/mnli.yaml")),
    ("qnli", include_str!("../../presets/qnli.yaml")),
    ("rte", include_str!("../../presets/rte.yaml")),
    ("wnli", include_str!("../../presets/wnli.yaml")),
    ("ood-snli", include_str!("../../presets/ood-snli.yaml")),
    ("ood-mnli", include_str!("../../presets/ood-mnli.yaml")),
    ("lowres-500", include_str!("../../presets/lowres-500.yaml")),
    (
        "lowres-1000",
        include_str!("../../presets/lowres-1000.yaml"),
    ),
    ("demo", include_str!("../../presets/demo.yaml")),
];

/// A preset as listed by the picker.
#[derive(Debug, Clone)]
pub struct PresetInfo {
    pub name: String,
    /// Where it came from: a file path, or `built-in`.
    pub origin: String,
    pub config: TrainConfig,
}

/// Parse a preset's YAML text. `origin` names the file in errors.
pub fn parse_preset(text: &str, origin: &str) -> Result<TrainConfig, ConfigError> {
    let value: serde_yaml::Value = serde_yaml::from_str(text).map_err(|e| {
        // serde_yaml names no line for a repeated top-level key, and the mapping's first line
        // for a nested one: find the repeated line itself.
        match duplicate_key(text) {
            Some(d) if e.to_string().contains("duplicate entry") => ConfigError::Invalid {
                origin: format!("{origin}:{}", d.line),
                message: d.describe(),
            },
            _ => ConfigError::Yaml {
                path: PathBuf::from(origin),
                message: e.to_string(),
            },
        }
    })?;
    let map = match value {
        serde_yaml::Value::Mapping(m) => m,
        serde_yaml::Value::Null => serde_yaml::Mapping::new(),
        _ => {
            return Err(ConfigError::Invalid {
                origin: origin.into(),
                message: "a preset must be a mapping of `key: value` lines".into(),
            })
        }
    };
    let mut config = TrainConfig::default();
    for (k, v) in &map {
        let key = k.as_str().ok_or_else(|| ConfigError::Invalid {
            origin: origin.into(),
            message: format!(
                "keys must be names, found `{}`. Fix: use the keys `dps-tui train --help` lists",
                super::yaml_text::inline(k)
            ),
        })?;
        config.set(key, v, origin)?;
    }
    config.validate(origin)?;
    Ok(config)
}

/// A key written twice in one block mapping of a YAML text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DuplicateKey {
    /// The key, with the keys of the mappings it is nested in (`grid.seed`).
    pub key: String,
    /// 1-based line of its first occurrence.
    pub first: usize,
    /// 1-based line of the repeat.
    pub line: usize,
}

impl DuplicateKey {
    /// The error message, without the file and line.
    pub fn describe(&self) -> String {
        let last = self.key.rsplit('.').next().unwrap_or(&self.key);
        format!(
            "key `{}` appears twice (first at line {}). Fix: keep one `{last}:` line",
            self.key, self.first
        )
    }
}

/// The first key repeated within one block mapping of `text` (`key: value` lines, nested by
/// indentation), or `None`. Flow mappings (`{a: 1}`) and quoted keys with `: ` inside are not
/// looked into.
pub fn duplicate_key(text: &str) -> Option<DuplicateKey> {
    /// An open mapping: its indentation, the path of the key holding it, its keys and lines.
    type Scope = (usize, String, Vec<(String, usize)>);
    // Innermost last.
    let mut scopes: Vec<Scope> = vec![(0, String::new(), vec![])];
    let mut last_key: Option<(usize, String)> = None;
    for (i, raw) in text.lines().enumerate() {
        let line_no = i + 1;
        let trimmed = raw.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with("---") {
            continue;
        }
        let indent = raw.len() - trimmed.len();
        if trimmed.starts_with('-') {
            // A sequence item: the keys below it belong to this item alone.
            while scopes.len() > 1 && scopes.last().map_or(0, |s| s.0) > indent {
                scopes.pop();
            }
            last_key = None;
            continue;
        }
        let key = match trimmed.split_once(':') {
            Some((k, rest)) if rest.is_empty() || rest.starts_with([' ', '\t']) => {
                k.trim().trim_matches(|c| c == '"' || c == '\'').to_string()
            }
            _ => continue,
        };
        while scopes.len() > 1 && indent < scopes.last().map_or(0, |s| s.0) {
            scopes.pop();
        }
        let top = scopes.last().map_or(0, |s| s.0);
        if indent > top {
            let parent = match &last_key {
                Some((ind, path)) if *ind < indent => path.clone(),
                _ => String::new(),
            };
            scopes.push((indent, parent, vec![]));
        }
        let scope = scopes.last_mut()?;
        let path = if scope.1.is_empty() {
            key.clone()
        } else {
            format!("{}.{key}", scope.1)
        };
        if let Some((_, first)) = scope.2.iter().find(|(k, _)| *k == key) {
            return Some(DuplicateKey {
                key: path,
                first: *first,
                line: line_no,
            });
        }
        scope.2.push((key, line_no));
        last_key = Some((indent, path));
    }
    None
}

/// Load a preset by name (`rte`) or by path (`presets/rte.yaml`, `my.yaml`).
pub fn load_preset(name_or_path: &str) -> Result<(TrainConfig, String), ConfigError> {
    let path = Path::new(name_or_path);
    let looks_like_path = name_or_path.ends_with(".yaml")
        || name_or_path.ends_with(".yml")
        || name_or_path.contains('/');
    if looks_like_path {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let origin = path.display().to_string();
        return Ok((parse_preset(&text, &origin)?, origin));
    }
    match find_preset(name_or_path) {
        Some(info) => Ok((info.config, info.origin)),
        None => {
            // Re-parse to surface an error in a broken local preset file rather than "not found".
            let local = Path::new("presets").join(format!("{name_or_path}.yaml"));
            if local.exists() {
                let text = std::fs::read_to_string(&local).map_err(|source| ConfigError::Io {
                    path: local.clone(),
                    source,
                })?;
                let origin = local.display().to_string();
                return Ok((parse_preset(&text, &origin)?, origin));
            }
            Err(ConfigError::NoSuchPreset {
                name: name_or_path.into(),
                available: BUILTIN
                    .iter()
                    .map(|(n, _)| *n)
                    .collect::<Vec<_>>()
                    .join(", "),
            })
        }
    }
}

/// Find a preset by name among the local `presets/` folder and the built-in ones.
pub fn find_preset(name: &str) -> Option<PresetInfo> {
    list_presets()
        .into_iter()
        .filter_map(|r| r.ok())
        .find(|p| p.name == name)
}

/// All presets: the local `presets/*.yaml` files (if that folder exists) and the built-in ones
/// not shadowed by a local file. A broken local file is returned as an error, not skipped.
pub fn list_presets() -> Vec<Result<PresetInfo, ConfigError>> {
    let mut out: Vec<Result<PresetInfo, ConfigError>> = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    if let Ok(rd) = std::fs::read_dir("presets") {
        let mut paths: Vec<PathBuf> = rd
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
            .collect();
        paths.sort();
        for p in paths {
            let name = p
                .file_stem()
                .map(|s| s.to_string_lossy().to_string())
                .unwrap_or_default();
            seen.insert(name.clone());
            let origin = p.display().to_string();
            out.push(
                std::fs::read_to_string(&p)
                    .map_err(|source| ConfigError::Io {
                        path: p.clone(),
                        source,
                    })
                    .and_then(|t| parse_preset(&t, &origin))
                    .map(|config| PresetInfo {
                        name,
                        origin,
                        config,
                    }),
            );
        }
    }
    for (name, text) in BUILTIN {
        if seen.contains(*name) {
            continue;
        }
        let origin = format!("built-in preset {name}");
        out.push(parse_preset(text, &origin).map(|config| PresetInfo {
            name: name.to_string(),
            origin,
            config,
        }));
    }
    out.sort_by_key(|r| match r {
        Ok(p) => (p.name == "demo", p.name.clone()),
        Err(_) => (true, String::new()),
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_presets_parse_with_the_authors_settings() {
        for (name, text) in BUILTIN {
            let c = parse_preset(text, name).unwrap_or_else(|e| panic!("{name}: {e}"));
            if *name == "demo" {
                continue;
            }
            assert_eq!(c.learning_rate, 2e-5, "{name}");
            assert_eq!(c.batch_size, 16, "{name}");
            assert_eq!(c.max_seq_length, 128, "{name}");
            assert_eq!(c.warmup_ratio, 0.1, "{name}");
            assert_eq!(c.weight_decay, 0.01, "{name}");
            assert_eq!(c.model, "sentence-transformers/all-MiniLM-L6-v2", "{name}");
            let expected_steps = match *name {
                "cola" => Some(1605),
                "rte" => Some(468),
                "mrpc" => Some(690),
                "stsb" => Some(1080),
                "ood-snli" | "ood-mnli" => Some(1500),
                _ => None,
            };
            assert_eq!(c.max_steps, expected_steps, "{name}");
            let task = match *name {
                "ood-snli" => "snli",
                "ood-mnli" => "mnli",
                "lowres-500" | "lowres-1000" => "rte",
                n => n,
            };
            assert_eq!(c.task, task);
        }
    }

    #[test]
    fn a_wrong_key_in_a_file_names_the_file_and_key() {
        let e = parse_preset("task: rte\nlearnin_rate: 1e-3\n", "presets/bad.yaml")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("presets/bad.yaml") && e.contains("learnin_rate"),
            "{e}"
        );
        let e = parse_preset("task: rte\nbatch_size: -3\n", "presets/bad.yaml")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("presets/bad.yaml") && e.contains("batch_size"),
            "{e}"
        );
        let e = parse_preset("task: [rte\n", "presets/bad.yaml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("presets/bad.yaml"), "{e}");
    }

    #[test]
    fn a_repeated_key_is_reported_at_its_own_line() {
        let e = parse_preset(
            "task: demo\nmodel: demo\n# seeds\nseed: 1\nbatch_size: 8\nseed: 2\n",
            "presets/dup.yaml",
        )
        .unwrap_err()
        .to_string();
        assert!(e.starts_with("presets/dup.yaml:6:"), "{e}");
        assert!(
            e.contains("`seed`") && e.contains("line 4") && e.contains("Fix"),
            "{e}"
        );
        let nested =
            "preset: demo\ngrid:\n  seed: [1, 2]\n  p: [0.1]\n  seed: [3]\nset:\n  seed: 4\n";
        assert_eq!(
            duplicate_key(nested),
            Some(DuplicateKey {
                key: "grid.seed".into(),
                first: 3,
                line: 5
            })
        );
        // The same key in two mappings, or in two items of a list, is no repeat.
        assert_eq!(duplicate_key("a:\n  x: 1\nb:\n  x: 2\n"), None);
        assert_eq!(
            duplicate_key("l:\n  - x: 1\n    y: 2\n  - x: 3\n    y: 4\n"),
            None
        );
    }

    #[test]
    fn unknown_preset_lists_the_available_ones() {
        let e = load_preset("nosuch").unwrap_err().to_string();
        assert!(e.contains("rte") && e.contains("nosuch"), "{e}");
    }
}
