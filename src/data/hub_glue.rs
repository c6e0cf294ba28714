//! GLUE from the Hugging Face Hub dataset `nyu-mll/glue` (parquet), cache first.
//!
//! Each task is one dataset config (`cola`, `sst2`, `mrpc`, `stsb`, `qqp`, `mnli`, `qnli`,
//! `rte`, `wnli`). Its split files are found in the repository's file listing: the cached
//! snapshot folder first, else (online) the Hub's listing. A split is every
//! `<config>/<split>-*.parquet` file (shards in name order), or every `<config>/<split>/*.parquet`
//! file (the older `refs/convert/parquet` layout). Split names are `train`, `validation` and
//! `test` (MNLI: `validation_matched`, `validation_mismatched`, `test_matched`,
//! `test_mismatched`).
//!
//! Columns map onto the same [`Example`]s the TSV reader gives: the text column(s) of the task,
//! and `label`, a class id in the dataset's own class order (mapped onto the task's
//! `run_glue.py` label list) or STS-B's score. Test splits carry label −1 and are refused.

use super::glue::{Dataset, Example, Label, LabelKind, Split, TaskSpec};
use super::DataError;
use crate::hub::{self, HubSource, RepoKind};
use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::record::{Field, Row};
use std::path::{Path, PathBuf};

/// How one task is laid out in `nyu-mll/glue`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HubTask {
    /// The dataset config (a folder of the repository).
    pub config: &'static str,
    /// The column of the first text.
    pub text_a: &'static str,
    /// The column of the second text, for pair tasks.
    pub text_b: Option<&'static str>,
    /// The dataset's class names in class-id order (`None` for STS-B's score).
    pub classes: Option<&'static [&'static str]>,
}

/// The label strings of the TSV files in the dataset's class-id order, so that class id `k`
/// maps onto the task's label list exactly as the TSV label does.
const BIN: &[&str] = &["0", "1"];

/// The Hub layout of a GLUE task, or `None` for a task that is not in `nyu-mll/glue`.
pub fn hub_task(task: &TaskSpec) -> Option<HubTask> {
    let t = |config, text_a, text_b, classes| HubTask {
        config,
        text_a,
        text_b,
        classes,
    };
    Some(match task.name {
        // unacceptable=0, acceptable=1 (TSV 0/1)
        "cola" => t("cola", "sentence", None, Some(BIN)),
        // negative=0, positive=1
        "sst2" => t("sst2", "sentence", None, Some(BIN)),
        // not_equivalent=0, equivalent=1
        "mrpc" => t("mrpc", "sentence1", Some("sentence2"), Some(BIN)),
        "stsb" => t("stsb", "sentence1", Some("sentence2"), None),
        // not_duplicate=0, duplicate=1
        "qqp" => t("qqp", "question1", Some("question2"), Some(BIN)),
        "mnli" => t(
            "mnli",
            "premise",
            Some("hypothesis"),
            Some(&["entailment", "neutral", "contradiction"]),
        ),
        "qnli" => t(
            "qnli",
            "question",
            Some("sentence"),
            Some(&["entailment", "not_entailment"]),
        ),
        "rte" => t(
            "rte",
            "sentence1",
            Some("sentence2"),
            Some(&["entailment", "not_entailment"]),
        ),
        // not_entailment=0, entailment=1 (TSV 0/1)
        "wnli" => t("wnli", "sentence1", Some("sentence2"), Some(BIN)),
        _ => return None,
    })
}

/// The dataset's split name for `split` of `task` (`validation_matched` for MNLI's dev).
pub fn hub_split_name(task: &TaskSpec, split: Split) -> &'static str {
    let mnli = task.name == "mnli";
    match split {
        Split::Train => "train",
        Split::Dev if mnli => "validation_matched",
        Split::Dev => "validation",
        Split::DevMismatched => "validation_mismatched",
        Split::Test if mnli => "test_matched",
        Split::Test => "test",
    }
}

/// The files of one split in a repository listing, in name order.
pub fn split_files(files: &[String], config: &str, split: &str) -> Vec<String> {
    let shard_prefix = format!("{config}/{split}-");
    let folder_prefix = format!("{config}/{split}/");
    let mut out: Vec<String> = files
        .iter()
        .filter(|f| f.ends_with(".parquet"))
        .filter(|f| {
            f.strip_prefix(&shard_prefix).is_some()
                || f.strip_prefix(&folder_prefix)
                    .is_some_and(|rest| !rest.contains('/'))
        })
        .cloned()
        .collect();
    out.sort();
    out
}

fn hub_error(e: hub::HubError) -> DataError {
    DataError::Hub(e.to_string())
}

/// Load `split` of `task` from `nyu-mll/glue`: from the cached snapshot when it holds the
/// split's files, else (online) from the Hub's listing, downloading the files into the cache.
/// The NLI sets ([`super::nli`]) are read by [`super::hub_nli::load_hub_split`] instead
/// ([`super::DataSource::load`] picks the reader).
pub fn load_hub_split(
    hub: &HubSource,
    task: &'static TaskSpec,
    split: Split,
) -> Result<Dataset, DataError> {
    super::glue::check_loadable(task, split)?;
    let ht = hub_task(task).ok_or_else(|| {
        DataError::Hub(format!(
            "task `{}` is not in the Hub dataset {}. Fix: load it through \
             data::DataSource::load, which reads each task from its own Hub dataset, or pass \
             --data-dir",
            task.name,
            hub::GLUE_DATASET
        ))
    })?;
    let split_name = hub_split_name(task, split);
    let paths = split_paths(
        hub,
        hub::GLUE_DATASET,
        ht.config,
        split_name,
        "pass --data-dir with a folder in the GLUE layout (<dir>/<TASK>/train.tsv and dev.tsv)",
    )?;
    let mut examples = Vec::new();
    for p in &paths {
        read_parquet(p, task, &ht, &mut examples)?;
    }
    dataset_from(task, split, examples, &paths)
}

/// The parquet files of `<config>/<split_name>` in the Hub dataset `repo`: from the cached
/// snapshot when it holds them, else (online) from the Hub's listing, downloaded into the
/// cache. `local_fix` is the fix that names a data folder instead (`pass --data-dir ...`).
pub(crate) fn split_paths(
    hub: &HubSource,
    repo: &str,
    config: &str,
    split_name: &str,
    local_fix: &str,
) -> Result<Vec<PathBuf>, DataError> {
    let snapshot = hub.snapshot(RepoKind::Dataset, repo);
    let mut paths: Vec<PathBuf> = Vec::new();
    if let Some(snap) = &snapshot {
        let listing = hub::snapshot_files(snap);
        for f in split_files(&listing, config, split_name) {
            paths.push(snap.join(f));
        }
        if !paths.is_empty() {
            tracing::info!(
                "{repo} {config} {split_name}: {} cached file(s) in {}",
                paths.len(),
                snap.display()
            );
            return Ok(paths);
        }
    }
    if hub.offline {
        return Err(DataError::Hub(format!(
            "dataset `{repo}`: no {config}/{split_name}-*.parquet file is in the Hugging Face \
             cache ({cache}) and HF_HUB_OFFLINE is set, so nothing is downloaded. Fix: run \
             once with network access and without HF_HUB_OFFLINE to fill the cache, point \
             HF_HUB_CACHE (or HF_HOME) at a cache that holds it, or {local_fix}",
            cache = hub.cache_dir.display(),
        )));
    }
    let remote = hub
        .remote_listing(RepoKind::Dataset, repo)
        .map_err(hub_error)?;
    let listing = &remote.files;
    let wanted = split_files(listing, config, split_name);
    if wanted.is_empty() {
        let in_config: Vec<String> = listing
            .iter()
            .filter(|f| f.starts_with(&format!("{config}/")))
            .cloned()
            .collect();
        return Err(DataError::Hub(format!(
            "dataset `{repo}` lists no parquet file for {config}/{split_name} (files under \
             {config}/: {}). Fix: {local_fix}",
            hub::short_listing(&in_config)
        )));
    }
    hub.download_files(RepoKind::Dataset, repo, &remote, &wanted)
        .map_err(hub_error)
}

/// The [`Dataset`] read from `paths` (an error when they hold no rows).
pub(crate) fn dataset_from(
    task: &'static TaskSpec,
    split: Split,
    examples: Vec<Example>,
    paths: &[PathBuf],
) -> Result<Dataset, DataError> {
    if examples.is_empty() {
        return Err(parquet_error(
            &paths[0],
            "the split has no rows. Fix: delete the file from the cache so it is downloaded again",
        ));
    }
    let source = if paths.len() == 1 {
        paths[0].display().to_string()
    } else {
        format!("{} (+{} more shards)", paths[0].display(), paths.len() - 1)
    };
    Ok(Dataset {
        task,
        split,
        examples,
        source,
    })
}

pub(crate) fn parquet_error(path: &Path, message: impl Into<String>) -> DataError {
    DataError::Parquet {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

pub(crate) fn text_of(f: &Field) -> Option<String> {
    match f {
        Field::Str(s) => Some(s.clone()),
        Field::Bytes(b) => std::str::from_utf8(b.data()).ok().map(str::to_string),
        Field::Null => Some(String::new()),
        _ => None,
    }
}

pub(crate) fn number_of(f: &Field) -> Option<f64> {
    Some(match f {
        Field::Byte(x) => *x as f64,
        Field::Short(x) => *x as f64,
        Field::Int(x) => *x as f64,
        Field::Long(x) => *x as f64,
        Field::UByte(x) => *x as f64,
        Field::UShort(x) => *x as f64,
        Field::UInt(x) => *x as f64,
        Field::ULong(x) => *x as f64,
        Field::Float(x) => *x as f64,
        Field::Double(x) => *x,
        _ => return None,
    })
}

/// Call `f` with the 1-based row number and each row of the parquet file `path`, after checking
/// that the file has the `needed` columns of `task` (a missing one is an error naming the
/// dataset `repo` and its `config`).
pub(crate) fn for_each_row(
    path: &Path,
    needed: &[&str],
    (task, repo, config): (&str, &str, &str),
    mut f: impl FnMut(usize, &Row) -> Result<(), DataError>,
) -> Result<(), DataError> {
    let missing = |n: &str, names: &[String]| {
        format!(
            "task `{task}` needs column `{n}`, but the file has {}. Fix: use the {repo} parquet \
             files of config `{config}`",
            names.join(", "),
        )
    };
    let file = std::fs::File::open(path).map_err(|source| DataError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let corrupt = |e: parquet::errors::ParquetError| {
        parquet_error(
            path,
            format!("{e}. Fix: delete the file from the cache so it is downloaded again"),
        )
    };
    let reader = SerializedFileReader::new(file).map_err(corrupt)?;
    let schema = reader.metadata().file_metadata().schema_descr_ptr();
    let names: Vec<String> = schema
        .columns()
        .iter()
        .map(|c| c.name().to_string())
        .collect();
    for n in needed {
        if !names.iter().any(|c| c == n) {
            return Err(parquet_error(path, missing(n, &names)));
        }
    }
    let rows = reader.get_row_iter(None).map_err(corrupt)?;
    for (i, row) in rows.enumerate() {
        let row = row.map_err(corrupt)?;
        f(i + 1, &row)?;
    }
    Ok(())
}

/// Read the rows of one parquet file of `task` into `out`.
fn read_parquet(
    path: &Path,
    task: &TaskSpec,
    ht: &HubTask,
    out: &mut Vec<Example>,
) -> Result<(), DataError> {
    let mut needed = vec![ht.text_a, "label"];
    needed.extend(ht.text_b);
    let dataset = (task.name, hub::GLUE_DATASET, ht.config);
    for_each_row(path, &needed, dataset, |row_no, row| {
        let mut text_a = None;
        let mut text_b = None;
        let mut label = None;
        for (name, field) in row.get_column_iter() {
            if name == ht.text_a {
                text_a = text_of(field);
            } else if Some(name.as_str()) == ht.text_b {
                text_b = text_of(field);
            } else if name == "label" {
                label = Some(number_of(field));
            }
        }
        let bad = |what: String| parquet_error(path, format!("row {row_no}: {what}"));
        let text_a = text_a.ok_or_else(|| bad(format!("column `{}` is not text", ht.text_a)))?;
        let text_b = match ht.text_b {
            Some(c) => Some(text_b.ok_or_else(|| bad(format!("column `{c}` is not text")))?),
            None => None,
        };
        let raw = label
            .flatten()
            .ok_or_else(|| bad("column `label` is not a number".into()))?;
        let label = match (task.labels, ht.classes) {
            (LabelKind::Classes(names), Some(classes)) => {
                if raw < 0.0 {
                    return Err(bad(format!(
                        "label {raw} means the example has no label (a test split). Test splits \
                         cannot be used for training or evaluation. Fix: train on the train \
                         split and evaluate on the validation split(s)"
                    )));
                }
                let k = raw as usize;
                let mapped = (raw.fract() == 0.0)
                    .then(|| classes.get(k))
                    .flatten()
                    .and_then(|s| names.iter().position(|n| n == s));
                Label::Class(mapped.ok_or_else(|| {
                    bad(format!(
                        "label {raw} is not a class id of `{}` (0..{})",
                        ht.config,
                        classes.len()
                    ))
                })?)
            }
            (LabelKind::Regression, _) => {
                if !raw.is_finite() || raw < 0.0 {
                    return Err(bad(format!(
                        "score {raw} is not a valid STS-B score (test splits carry -1). Fix: \
                         train on the train split and evaluate on the validation split"
                    )));
                }
                Label::Score(raw as f32)
            }
            (LabelKind::Classes(_), None) => {
                return Err(bad(format!("task `{}` has no class list", task.name)))
            }
        };
        out.push(Example {
            text_a,
            text_b,
            label,
        });
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::glue::{task, GLUE_TASKS};

    #[test]
    fn every_glue_task_has_a_hub_layout_whose_classes_map_onto_its_labels() {
        for t in GLUE_TASKS {
            let ht = hub_task(t).unwrap();
            assert_eq!(ht.config, t.name);
            assert_eq!(ht.text_b.is_some(), t.is_pair(), "{}", t.name);
            match (t.labels, ht.classes) {
                (LabelKind::Classes(names), Some(c)) => {
                    assert_eq!(c.len(), names.len(), "{}", t.name);
                    for s in c {
                        assert!(names.contains(s), "{}: {s}", t.name);
                    }
                }
                (LabelKind::Regression, None) => {}
                _ => panic!("{}: label kinds differ", t.name),
            }
        }
    }

    #[test]
    fn split_files_come_from_the_listing() {
        let files: Vec<String> = [
            "README.md",
            "mnli/train-00000-of-00002.parquet",
            "mnli/train-00001-of-00002.parquet",
            "mnli/validation_matched-00000-of-00001.parquet",
            "mnli/validation_mismatched-00000-of-00001.parquet",
            "mnli_matched/validation-00000-of-00001.parquet",
            "rte/validation/0000.parquet",
            "rte/validation/x/0000.parquet",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(split_files(&files, "mnli", "train").len(), 2);
        assert_eq!(
            split_files(&files, "mnli", "validation_matched"),
            vec!["mnli/validation_matched-00000-of-00001.parquet".to_string()]
        );
        assert!(split_files(&files, "mnli", "validation").is_empty());
        assert_eq!(
            split_files(&files, "rte", "validation"),
            vec!["rte/validation/0000.parquet".to_string()]
        );
        let mnli = task("mnli").unwrap();
        assert_eq!(
            hub_split_name(mnli, Split::DevMismatched),
            "validation_mismatched"
        );
        assert_eq!(
            hub_split_name(task("rte").unwrap(), Split::Dev),
            "validation"
        );
    }
}
