//! The NLI sets of the out-of-domain protocol (SNLI, SICK, SciTail): their task specs and the
//! readers of their original distribution formats.
//!
//! Each set is read from a data folder in the layout its distribution unpacks to:
//!
//! - SNLI 1.0: `<dir>/snli_1.0/snli_1.0_{train,dev,test}.jsonl`, one JSON object per line with
//!   `sentence1`, `sentence2` and `gold_label`; rows whose `gold_label` is `-` (no annotator
//!   majority) are dropped, as the Hub dataset drops its label −1.
//! - SICK: `<dir>/SICK/SICK.txt`, one tab-separated file with a header (`pair_ID`,
//!   `sentence_A`, `sentence_B`, `entailment_label`, ..., `SemEval_set`); the columns are found
//!   by name, labels are ENTAILMENT / NEUTRAL / CONTRADICTION (any case), and `SemEval_set`
//!   selects the split: TRAIN (train), TRIAL (dev), TEST (test).
//! - SciTail 1.1: `<dir>/SciTailV1.1/tsv_format/scitail_1.0_{train,dev,test}.tsv`, no header,
//!   `premise<TAB>hypothesis<TAB>label` with labels `entails` / `neutral`.
//!
//! Label ids index sorted label lists, as `run_glue.py` builds MNLI's: SNLI and SICK
//! `contradiction, entailment, neutral` (the same ids as MNLI), SciTail `entails, neutral`.
//! Unlike GLUE's, their test splits are labelled and load ([`TaskSpec::test_file`]).

use super::task_spec::{spec, DataFormat, Example, Label, LabelKind, Split, TaskSpec, NLI3};
use super::{tsv, DataError};
use std::path::Path;

/// SciTail's classes, sorted.
pub const SCITAIL_LABELS: &[&str] = &["entails", "neutral"];

use super::task_spec::Column::Index as I;

/// SNLI, SICK and SciTail.
pub const NLI_TASKS: &[TaskSpec] = &[
    TaskSpec {
        format: DataFormat::SnliJsonl,
        train_file: "snli_1.0_train.jsonl",
        dev_file: "snli_1.0_dev.jsonl",
        test_file: Some("snli_1.0_test.jsonl"),
        // Not read by column: the JSON keys are `sentence1`, `sentence2`, `gold_label`.
        ..spec(
            "snli",
            "snli_1.0",
            LabelKind::Classes(NLI3),
            "accuracy",
            I(5),
            Some(I(6)),
            I(0),
        )
    },
    TaskSpec {
        format: DataFormat::SickTxt,
        train_file: SICK_FILE,
        dev_file: SICK_FILE,
        test_file: Some(SICK_FILE),
        // The positions in the official file; the reader finds the columns by header name.
        ..spec(
            "sick",
            "SICK",
            LabelKind::Classes(NLI3),
            "accuracy",
            I(1),
            Some(I(2)),
            I(3),
        )
    },
    TaskSpec {
        format: DataFormat::ScitailTsv,
        has_header: false,
        num_fields: 3,
        train_file: "scitail_1.0_train.tsv",
        dev_file: "scitail_1.0_dev.tsv",
        test_file: Some("scitail_1.0_test.tsv"),
        ..spec(
            "scitail",
            "SciTailV1.1/tsv_format",
            LabelKind::Classes(SCITAIL_LABELS),
            "accuracy",
            I(0),
            Some(I(1)),
            I(2),
        )
    },
];

/// The Hub dataset SNLI is read from.
pub const SNLI_DATASET: &str = "stanfordnlp/snli";
/// The Hub dataset SciTail is read from.
pub const SCITAIL_DATASET: &str = "allenai/scitail";

/// How the `label` column of a Hub dataset encodes classes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HubLabels {
    /// Integer class ids; the names in id order. Negative ids mean "no label" and are dropped.
    Ids(&'static [&'static str]),
    /// The class names themselves, as strings.
    Names,
}

/// How one NLI set is laid out in its Hub dataset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NliHub {
    /// The dataset repository.
    pub repo: &'static str,
    /// The dataset config (a folder of the repository).
    pub config: &'static str,
    /// The column of the first text.
    pub text_a: &'static str,
    /// The column of the second text.
    pub text_b: &'static str,
    /// How `label` encodes the classes.
    pub labels: HubLabels,
}

/// The Hub layout of an NLI set, or `None` for one with no Hub source (SICK) and for GLUE
/// tasks (see [`super::hub_glue::hub_task`]); [`super::hub_nli`] reads them.
pub fn hub_layout(task: &TaskSpec) -> Option<NliHub> {
    Some(match task.name {
        "snli" => NliHub {
            repo: SNLI_DATASET,
            config: "plain_text",
            text_a: "premise",
            text_b: "hypothesis",
            labels: HubLabels::Ids(&["entailment", "neutral", "contradiction"]),
        },
        "scitail" => NliHub {
            repo: SCITAIL_DATASET,
            config: "tsv_format",
            text_a: "premise",
            text_b: "hypothesis",
            labels: HubLabels::Names,
        },
        _ => return None,
    })
}

/// The one file of SICK, holding every split.
pub const SICK_FILE: &str = "SICK.txt";

/// SICK's `SemEval_set` value for `split` (`None` for a split SICK does not have).
pub fn sick_split_name(split: Split) -> Option<&'static str> {
    match split {
        Split::Train => Some("TRAIN"),
        Split::Dev => Some("TRIAL"),
        Split::Test => Some("TEST"),
        Split::DevMismatched => None,
    }
}

/// The layout a data folder holding `task`'s files has and where else the task can come from,
/// for [`DataError::MissingFile`].
pub(crate) fn layout_help(task: &TaskSpec) -> (&'static str, &'static str) {
    const HUB: &str = "or omit --data-dir to load the task from the Hugging Face Hub";
    match task.format {
        DataFormat::SickTxt => (
            "SICK's distribution layout (SICK.txt of the SICK corpus, tab-separated with its \
             header row)",
            "since SICK has no Hub source here and must be read from that file",
        ),
        DataFormat::SnliJsonl => (
            "the SNLI 1.0 layout (the snli_1.0 folder of snli_1.0.zip)",
            "or omit --data-dir to load the task from the Hugging Face Hub (stanfordnlp/snli)",
        ),
        DataFormat::ScitailTsv => (
            "the SciTail 1.1 layout (SciTailV1.1 of SciTailV1.1.zip)",
            "or omit --data-dir to load the task from the Hugging Face Hub (allenai/scitail)",
        ),
        DataFormat::GlueTsv => ("the GLUE layout", HUB),
    }
}

/// The id of `raw` in `names`, compared without regard to ASCII case.
fn class_id(names: &[&str], raw: &str) -> Option<usize> {
    names.iter().position(|n| n.eq_ignore_ascii_case(raw))
}

fn classes(task: &TaskSpec) -> &'static [&'static str] {
    match task.labels {
        LabelKind::Classes(c) => c,
        LabelKind::Regression => &[],
    }
}

/// The examples of `split` in the text of SICK's `SICK.txt` (`path` is used in messages): the
/// rows whose `SemEval_set` is TRAIN (train), TRIAL (dev) or TEST (test), in file order.
pub fn parse_sick(
    path: &Path,
    text: &str,
    task: &TaskSpec,
    split: Split,
) -> Result<Vec<Example>, DataError> {
    let want = sick_split_name(split).ok_or_else(|| DataError::NoSuchSplit {
        task: task.name.into(),
        split: split.as_str().into(),
        available: task.available_splits().into(),
    })?;
    let mut rows = tsv::rows(text);
    let header = rows.next().ok_or_else(|| {
        tsv::parse_error(path, 1, "the file is empty; expected SICK's header row")
    })?;
    let col = |name: &str| {
        header
            .fields
            .iter()
            .position(|f| f.trim() == name)
            .ok_or_else(|| {
                tsv::parse_error(
                    path,
                    header.line,
                    format!(
                        "the header has no column `{name}` (it has {}). Fix: use the original \
                         SICK.txt, whose header names sentence_A, sentence_B, entailment_label \
                         and SemEval_set",
                        header.fields.join(", ")
                    ),
                )
            })
    };
    let (a, b, label, set) = (
        col("sentence_A")?,
        col("sentence_B")?,
        col("entailment_label")?,
        col("SemEval_set")?,
    );
    let expected = header.fields.len();
    let names = classes(task);
    let mut examples = Vec::new();
    for row in rows {
        let n = row.fields.len();
        if n != expected {
            return Err(tsv::parse_error(
                path,
                row.line,
                format!("expected {expected} fields (as in the header), found {n}"),
            ));
        }
        let this_set = row.fields[set].trim();
        if !["TRAIN", "TRIAL", "TEST"]
            .iter()
            .any(|s| s.eq_ignore_ascii_case(this_set))
        {
            return Err(tsv::parse_error(
                path,
                row.line,
                format!("SemEval_set `{this_set}` is not one of TRAIN, TRIAL, TEST"),
            ));
        }
        let raw = row.fields[label].trim();
        let id = class_id(names, raw).ok_or_else(|| {
            tsv::parse_error(
                path,
                row.line,
                format!(
                    "entailment_label `{raw}` is not one of {} (any case)",
                    names.join(", ")
                ),
            )
        })?;
        if !this_set.eq_ignore_ascii_case(want) {
            continue;
        }
        examples.push(Example {
            text_a: row.fields[a].to_string(),
            text_b: Some(row.fields[b].to_string()),
            label: Label::Class(id),
        });
    }
    if examples.is_empty() {
        return Err(tsv::parse_error(
            path,
            0,
            format!(
                "no row has SemEval_set {want} (the {split} split). Fix: use the original \
                 SICK.txt"
            ),
        ));
    }
    Ok(examples)
}

/// The examples in the text of one SNLI 1.0 `.jsonl` file (`path` is used in messages), and
/// how many rows were dropped because their `gold_label` is `-` (no annotator majority; the
/// Hub dataset gives them label −1 and they are dropped there too). Any other label that is not
/// one of the task's classes, a line that is not a JSON object or a missing field is an error
/// naming the line.
pub fn parse_snli(
    path: &Path,
    text: &str,
    task: &TaskSpec,
) -> Result<(Vec<Example>, usize), DataError> {
    let names = classes(task);
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut examples = Vec::new();
    let mut dropped = 0usize;
    for (i, line) in text.split('\n').enumerate() {
        let line_no = i + 1;
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.trim().is_empty() {
            continue;
        }
        let err = |m: String| tsv::parse_error(path, line_no, m);
        let value: serde_json::Value = serde_json::from_str(line).map_err(|e| {
            // serde_json counts lines within this one line: keep only its column.
            let what = e.to_string();
            let what = what.split(" at line ").next().unwrap_or(&what).to_string();
            err(format!(
                "not a JSON object ({what} at column {}). Fix: use the original SNLI 1.0 \
                 .jsonl files, one object per line",
                e.column()
            ))
        })?;
        let field = |key: &str| -> Result<&str, DataError> {
            value.get(key).and_then(|v| v.as_str()).ok_or_else(|| {
                err(format!(
                    "no text field `{key}`. Fix: use the original SNLI 1.0 .jsonl files \
                     (sentence1, sentence2, gold_label)"
                ))
            })
        };
        let gold = field("gold_label")?.trim();
        if gold == "-" {
            dropped += 1;
            continue;
        }
        let id = names.iter().position(|n| *n == gold).ok_or_else(|| {
            err(format!(
                "gold_label `{gold}` is not one of {} (or `-`, dropped)",
                names.join(", ")
            ))
        })?;
        examples.push(Example {
            text_a: field("sentence1")?.to_string(),
            text_b: Some(field("sentence2")?.to_string()),
            label: Label::Class(id),
        });
    }
    if dropped > 0 {
        tracing::info!(
            "{}: dropped {dropped} rows without a gold label (`-`)",
            path.display()
        );
    }
    if examples.is_empty() {
        return Err(tsv::parse_error(
            path,
            0,
            "the file has no labelled examples. Fix: use the original SNLI 1.0 .jsonl files",
        ));
    }
    Ok((examples, dropped))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::glue::{task, GLUE_TASKS, TASKS};

    #[test]
    fn nli_tasks_are_registered_with_sorted_labels() {
        for (name, labels) in [
            ("snli", NLI3),
            ("SNLI", NLI3),
            ("sick", NLI3),
            ("SICK", NLI3),
            ("scitail", SCITAIL_LABELS),
            ("SciTail", SCITAIL_LABELS),
        ] {
            let t = task(name).unwrap();
            assert_eq!(t.labels, LabelKind::Classes(labels), "{name}");
            assert_eq!(t.main_metric, "accuracy");
            assert!(t.is_pair());
            assert!(t.test_file.is_some());
            assert!(TASKS.contains(&t.name), "{name}: accepted by a config");
            let mut sorted = labels.to_vec();
            sorted.sort_unstable();
            assert_eq!(sorted, labels);
        }
        assert!(GLUE_TASKS.iter().all(|t| t.format == DataFormat::GlueTsv));
        assert!(GLUE_TASKS.iter().all(|t| t.test_file.is_none()));
        assert!(NLI_TASKS
            .iter()
            .all(|t| !GLUE_TASKS.iter().any(|g| g.name == t.name)));
    }

    #[test]
    fn missing_file_help_names_each_hub_source() {
        for t in NLI_TASKS {
            let (_, alternative) = layout_help(t);
            match hub_layout(t) {
                Some(h) => assert!(alternative.contains(h.repo), "{}", t.name),
                None => assert!(alternative.contains("no Hub source"), "{}", t.name),
            }
        }
    }

    #[test]
    fn sick_selects_rows_by_semeval_set() {
        let t = task("sick").unwrap();
        let text = "pair_ID\tsentence_A\tsentence_B\tentailment_label\tSemEval_set\r\n\
                    1\ta\tb\tNEUTRAL\tTRAIN\r\n\
                    2\tc\td\tentailment\tTRIAL\r\n\
                    3\te\tf\tContradiction\tTEST\r\n\
                    4\tg\th\tENTAILMENT\tTRAIN";
        let p = Path::new("SICK.txt");
        let train = parse_sick(p, text, t, Split::Train).unwrap();
        assert_eq!(train.len(), 2);
        assert_eq!(train[0].text_a, "a");
        assert_eq!(train[1].text_b.as_deref(), Some("h"));
        assert_eq!(train[0].label, Label::Class(2));
        assert_eq!(train[1].label, Label::Class(1));
        let dev = parse_sick(p, text, t, Split::Dev).unwrap();
        assert_eq!((dev.len(), &dev[0].label), (1, &Label::Class(1)));
        let test = parse_sick(p, text, t, Split::Test).unwrap();
        assert_eq!((test.len(), &test[0].label), (1, &Label::Class(0)));
        let e = parse_sick(p, text, t, Split::DevMismatched).unwrap_err();
        assert!(matches!(e, DataError::NoSuchSplit { .. }), "{e}");
    }

    #[test]
    fn snli_drops_unlabelled_rows_and_counts_them() {
        let t = task("snli").unwrap();
        let text = "{\"gold_label\": \"neutral\", \"sentence1\": \"a\", \"sentence2\": \"b\"}\n\
                    {\"gold_label\": \"-\", \"sentence1\": \"c\", \"sentence2\": \"d\"}\n\
                    \n\
                    {\"gold_label\": \"contradiction\", \"sentence1\": \"e\", \"sentence2\": \"f\"}\n";
        let (ex, dropped) = parse_snli(Path::new("s.jsonl"), text, t).unwrap();
        assert_eq!(dropped, 1);
        assert_eq!(ex.len(), 2);
        assert_eq!(ex[0].label, Label::Class(2));
        assert_eq!(ex[1].label, Label::Class(0));
        assert_eq!(ex[1].text_b.as_deref(), Some("f"));
    }
}
