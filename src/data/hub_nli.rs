//! The NLI sets from Hugging Face Hub datasets (parquet), cache first, as GLUE is read
//! ([`super::hub_glue`]).
//!
//! - SNLI: `stanfordnlp/snli`, config `plain_text`: `premise`, `hypothesis`, `label` (an
//!   integer: 0 entailment, 1 neutral, 2 contradiction; −1, no gold label, is dropped as the
//!   `-` rows of the original files are).
//! - SciTail: `allenai/scitail`, config `tsv_format`: `premise`, `hypothesis`, `label` (the
//!   strings `entails`, `neutral`).
//! - SICK has no Hub source: its Hub dataset (`RobZamp/sick`) holds only a loading script on its
//!   main branch, whose parquet export lives on another revision (`refs/convert/parquet`)
//!   that the Hub client does not read; the other copies are translations or re-splits. SICK is
//!   read from `SICK.txt` ([`super::nli`]).
//!
//! Split names are `train`, `validation` and `test`; files are `<config>/<split>-*.parquet`
//! (or `<config>/<split>/*.parquet`). Labels are mapped by name onto the task's sorted label
//! list, so the examples are the same as from the original files.

use super::glue::{self, Dataset, Example, Label, LabelKind, Split, TaskSpec};
use super::hub_glue::{dataset_from, for_each_row, number_of, parquet_error, split_paths, text_of};
pub use super::nli::{hub_layout, HubLabels, NliHub, SCITAIL_DATASET, SNLI_DATASET};
use super::DataError;
use crate::hub::HubSource;
use parquet::record::Field;
use std::path::Path;

/// The dataset's split name for `split` (`None` for a split the sets do not have).
pub fn hub_split_name(split: Split) -> Option<&'static str> {
    match split {
        Split::Train => Some("train"),
        Split::Dev => Some("validation"),
        Split::Test => Some("test"),
        Split::DevMismatched => None,
    }
}

/// Load `split` of the NLI set `task` from its Hub dataset: from the cached snapshot when it
/// holds the split's files, else (online) from the Hub's listing, downloading the files into
/// the cache. Test splits load (they are labelled); rows without a label (−1) are dropped.
pub fn load_hub_split(
    hub: &HubSource,
    task: &'static TaskSpec,
    split: Split,
) -> Result<Dataset, DataError> {
    glue::check_loadable(task, split)?;
    let local = format!(
        "pass --data-dir with a folder that holds {}/{}",
        task.dir_name,
        task.file_name(split).unwrap_or_default()
    );
    let Some(nh) = hub_layout(task) else {
        let (layout, _) = super::nli::layout_help(task);
        return Err(DataError::Hub(format!(
            "task `{}` has no Hugging Face Hub source: its Hub dataset RobZamp/sick holds only \
             a loading script, not parquet files. Fix: {local} ({layout})",
            task.name
        )));
    };
    let split_name = hub_split_name(split).unwrap_or_default();
    let paths = split_paths(hub, nh.repo, nh.config, split_name, &local)?;
    let mut examples = Vec::new();
    let mut dropped = 0usize;
    for p in &paths {
        dropped += read_parquet(p, task, &nh, &mut examples)?;
    }
    if dropped > 0 {
        tracing::info!(
            "{} {split_name}: dropped {dropped} rows without a gold label (-1)",
            nh.repo
        );
    }
    dataset_from(task, split, examples, &paths)
}

/// Read the rows of one parquet file of `task` into `out`; returns how many rows had no label
/// (−1) and were dropped.
fn read_parquet(
    path: &Path,
    task: &TaskSpec,
    nh: &NliHub,
    out: &mut Vec<Example>,
) -> Result<usize, DataError> {
    let names = match task.labels {
        LabelKind::Classes(c) => c,
        LabelKind::Regression => &[],
    };
    let mut dropped = 0usize;
    for_each_row(
        path,
        &[nh.text_a, nh.text_b, "label"],
        (task.name, nh.repo, nh.config),
        |row_no, row| {
            let bad = |what: String| parquet_error(path, format!("row {row_no}: {what}"));
            let mut text_a = None;
            let mut text_b = None;
            let mut label: Option<&Field> = None;
            for (name, field) in row.get_column_iter() {
                if name == nh.text_a {
                    text_a = text_of(field);
                } else if name == nh.text_b {
                    text_b = text_of(field);
                } else if name == "label" {
                    label = Some(field);
                }
            }
            let text_a =
                text_a.ok_or_else(|| bad(format!("column `{}` is not text", nh.text_a)))?;
            let text_b =
                text_b.ok_or_else(|| bad(format!("column `{}` is not text", nh.text_b)))?;
            let label = label.ok_or_else(|| bad("no column `label`".into()))?;
            let name: String = match nh.labels {
                HubLabels::Ids(ids) => {
                    let raw = number_of(label)
                        .ok_or_else(|| bad("column `label` is not a number".into()))?;
                    if raw < 0.0 {
                        dropped += 1;
                        return Ok(());
                    }
                    (raw.fract() == 0.0)
                        .then(|| ids.get(raw as usize))
                        .flatten()
                        .map(|s| s.to_string())
                        .ok_or_else(|| {
                            bad(format!(
                                "label {raw} is not a class id of `{}` (0..{})",
                                nh.repo,
                                ids.len()
                            ))
                        })?
                }
                HubLabels::Names => {
                    text_of(label).ok_or_else(|| bad("column `label` is not text".into()))?
                }
            };
            let id = names
                .iter()
                .position(|n| *n == name.trim())
                .ok_or_else(|| bad(format!("label `{name}` is not one of {}", names.join(", "))))?;
            out.push(Example {
                text_a,
                text_b: Some(text_b),
                label: Label::Class(id),
            });
            Ok(())
        },
    )?;
    Ok(dropped)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::nli::NLI_TASKS;

    #[test]
    fn hub_classes_map_onto_the_task_labels() {
        for t in NLI_TASKS {
            let Some(h) = hub_layout(t) else {
                assert_eq!(t.name, "sick");
                continue;
            };
            if let (HubLabels::Ids(ids), LabelKind::Classes(names)) = (h.labels, t.labels) {
                assert_eq!(ids.len(), names.len());
                assert!(ids.iter().all(|s| names.contains(s)), "{}", t.name);
            }
        }
        assert_eq!(hub_split_name(Split::Dev), Some("validation"));
        assert_eq!(hub_split_name(Split::DevMismatched), None);
    }
}
