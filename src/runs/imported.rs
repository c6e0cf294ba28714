//! Results of runs made by another tool (a PyTorch script, say), read from a JSON-lines file so
//! that `dps-tui report --import FILE` shows them beside dps-tui's own runs. One line per
//! finished run:
//!
//! ```json
//! {"source": "pytorch", "task": "mrpc", "method": "vanilla", "seed": 42,
//!  "metrics": {"accuracy": 0.7745, "f1": 0.8497, "combined_score": 0.8121},
//!  "config": {"dropout": "0.1", "max_steps": "690"}}
//! ```
//!
//! `metrics` must hold the task's main metric (the one `report` reads from dps-tui's runs:
//! `combined_score` on MRPC and STS-B, `mcc` on CoLA, `accuracy` elsewhere). `config` is
//! optional and holds only what the other tool records; a key it leaves out is unknown, not
//! different. `source` becomes the configuration key `source` (dps-tui's own runs have
//! `source: dps-tui`), so imported runs form groups of their own and are compared with the
//! baseline of their own source only. Eval tasks' metrics in `metrics` (`"sick/accuracy"`, see
//! [`crate::core::task_metrics`]) become the run's eval-task results, as for dps-tui's runs.
//! Empty lines and lines starting with `#` are skipped.

use super::report::{RunResult, OWN_SOURCE};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Why a results file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("cannot read {path}: {source}. Fix: pass a JSON-lines results file")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}, line {line}: {message}. Fix: write one JSON object per line with `source`, `task`, `method`, `seed` and `metrics` (see `dps-tui report --help`)")]
    Line {
        path: PathBuf,
        line: usize,
        message: String,
    },
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Line {
    source: String,
    task: String,
    method: String,
    seed: u64,
    metrics: BTreeMap<String, f64>,
    #[serde(default)]
    config: serde_json::Map<String, serde_json::Value>,
}

/// Every run recorded in `path`.
pub fn read(path: &Path) -> Result<Vec<RunResult>, ImportError> {
    let text = std::fs::read_to_string(path).map_err(|source| ImportError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let raw = raw.trim();
        if raw.is_empty() || raw.starts_with('#') {
            continue;
        }
        let err = |message: String| ImportError::Line {
            path: path.to_path_buf(),
            line: i + 1,
            message,
        };
        let l: Line = serde_json::from_str(raw).map_err(|e| err(e.to_string()))?;
        if l.source == OWN_SOURCE {
            return Err(err(format!(
                "source `{OWN_SOURCE}` is reserved for dps-tui's own run folders"
            )));
        }
        let spec = crate::data::glue::task(&l.task)
            .ok_or_else(|| err(format!("unknown task `{}`", l.task)))?;
        let metric = spec.main_metric.to_string();
        let value = *l.metrics.get(&metric).ok_or_else(|| {
            err(format!(
                "no `{metric}` (the main metric of {}) in `metrics`",
                spec.name
            ))
        })?;
        // The same key / value text as a run folder's configuration.
        let mut config = super::summary::flatten_config(&serde_json::Value::Object(l.config));
        config.insert("source".into(), l.source);
        config.insert("task".into(), spec.name.to_string());
        config.insert("method".into(), l.method.clone());
        config.insert("seed".into(), l.seed.to_string());
        out.push(RunResult {
            path: PathBuf::from(format!("{}:{}", path.display(), i + 1)),
            task: spec.name.to_string(),
            method: l.method,
            seed: l.seed,
            metric,
            value,
            config,
            imported: true,
            evals: super::report::eval_results(&l.metrics, &[]),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("torch.jsonl");
        std::fs::write(&path, text).unwrap();
        (dir, path)
    }

    #[test]
    fn lines_become_runs_with_their_source_and_main_metric() {
        let (_d, path) = write(
            "# PyTorch MRPC\n\
             {\"source\":\"pytorch\",\"task\":\"MRPC\",\"method\":\"vanilla\",\"seed\":42,\
              \"metrics\":{\"accuracy\":0.77,\"combined_score\":0.81},\"config\":{\"dropout\":0.1}}\n\
             \n\
             {\"source\":\"pytorch\",\"task\":\"rte\",\"method\":\"dps-dense\",\"seed\":7,\
              \"metrics\":{\"accuracy\":0.6}}\n",
        );
        let runs = read(&path).unwrap();
        assert_eq!(runs.len(), 2);
        let a = &runs[0];
        assert_eq!(
            (a.task.as_str(), a.metric.as_str()),
            ("mrpc", "combined_score")
        );
        assert_eq!((a.seed, a.value), (42, 0.81));
        assert_eq!(a.config["source"], "pytorch");
        assert_eq!(a.config["dropout"], "0.1");
        assert!(a.imported);
        assert!(a.path.display().to_string().ends_with("torch.jsonl:2"));
        assert_eq!((runs[1].metric.as_str(), runs[1].value), ("accuracy", 0.6));
        assert!(runs[1].path.display().to_string().ends_with(":4"));
    }

    #[test]
    fn bad_lines_name_the_file_the_line_and_what_is_wrong() {
        let cases = [
            ("{\"source\":\"pytorch\",\"task\":\"mrpc\",\"method\":\"vanilla\",\"seed\":1,\"metrics\":{\"accuracy\":0.7}}", "no `combined_score`"),
            ("{\"source\":\"pytorch\",\"task\":\"nope\",\"method\":\"vanilla\",\"seed\":1,\"metrics\":{}}", "unknown task `nope`"),
            ("{\"source\":\"dps-tui\",\"task\":\"rte\",\"method\":\"vanilla\",\"seed\":1,\"metrics\":{\"accuracy\":0.5}}", "reserved"),
            ("{\"task\":\"rte\",\"method\":\"vanilla\",\"seed\":1,\"metrics\":{\"accuracy\":0.5}}", "missing field `source`"),
            ("{\"source\":\"x\",\"task\":\"rte\",\"method\":\"v\",\"seed\":1,\"metrics\":{\"accuracy\":0.5},\"sed\":2}", "unknown field `sed`"),
            ("not json", "expected"),
        ];
        for (line, want) in cases {
            let (_d, path) = write(&format!("\n{line}\n"));
            let e = read(&path).unwrap_err().to_string();
            assert!(e.contains("torch.jsonl, line 2: "), "{e}");
            assert!(e.contains(want), "{want}: {e}");
            assert!(e.contains("Fix: "), "{e}");
        }
        let e = read(Path::new("/nonexistent/torch.jsonl")).unwrap_err();
        assert!(e.to_string().contains("/nonexistent/torch.jsonl"), "{e}");
    }
}
