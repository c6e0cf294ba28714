//! The GLUE task registry, examples, splits, and loading splits from GLUE-layout TSV files.
//!
//! A data folder in the GLUE layout holds one folder per task, named as the official GLUE
//! download names them (`CoLA`, `SST-2`, `MRPC`, `STS-B`, `QQP`, `MNLI`, `QNLI`, `RTE`, `WNLI`),
//! each with `train.tsv` and `dev.tsv` (MNLI: `dev_matched.tsv` and `dev_mismatched.tsv`).
//! Label lists follow Hugging Face's `run_glue.py` (sorted label strings).

use super::{tsv, DataError};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::fmt;
use std::path::Path;

/// What a task's label is: one of a fixed list of class names, or a real-valued score.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LabelKind {
    /// Classification; the label id is the index in this list.
    Classes(&'static [&'static str]),
    /// Regression on a single score (STS-B).
    Regression,
}

/// Which column of a TSV row a value is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Column {
    /// The 0-based column index.
    Index(usize),
    /// The last column of the row (MNLI's `gold_label`, STS-B's `score`).
    Last,
}

impl Column {
    fn resolve(self, n_fields: usize) -> usize {
        match self {
            Column::Index(i) => i,
            Column::Last => n_fields.saturating_sub(1),
        }
    }
    fn min_fields(self) -> usize {
        match self {
            Column::Index(i) => i + 1,
            Column::Last => 1,
        }
    }
}

/// Everything needed to read, encode and score one task.
#[derive(Debug, PartialEq)]
pub struct TaskSpec {
    /// Canonical lowercase name, as in [`TASKS`] (`"rte"`).
    pub name: &'static str,
    /// Folder name in the GLUE layout (`"RTE"`).
    pub dir_name: &'static str,
    /// Class names or regression.
    pub labels: LabelKind,
    /// The metric used to keep the best checkpoint (a key of [`crate::data::compute_metrics`]).
    pub main_metric: &'static str,
    /// Whether the TSV files start with a header line.
    pub has_header: bool,
    /// Number of fields per row, for files without a header (with a header, the header's count).
    pub num_fields: usize,
    /// Column of the first text.
    pub text_a: Column,
    /// Column of the second text, for sentence-pair tasks.
    pub text_b: Option<Column>,
    /// Column of the label or score.
    pub label: Column,
    /// File name of the training split.
    pub train_file: &'static str,
    /// File name of the (matched) dev split.
    pub dev_file: &'static str,
    /// File name of the mismatched dev split (MNLI only).
    pub dev_mismatched_file: Option<&'static str>,
    /// Skip rows with the wrong number of fields instead of failing (QQP's upstream files
    /// have a few such rows, which Hugging Face's processor also skips).
    pub skip_malformed: bool,
    /// A generated task with no files (the demo task).
    pub synthetic: bool,
}

impl TaskSpec {
    /// Number of model outputs: the number of classes, or 1 for regression.
    pub fn num_labels(&self) -> usize {
        match self.labels {
            LabelKind::Classes(c) => c.len(),
            LabelKind::Regression => 1,
        }
    }

    /// Whether the task is a regression task (STS-B).
    pub fn is_regression(&self) -> bool {
        matches!(self.labels, LabelKind::Regression)
    }

    /// The class names indexed by label id (`["LABEL_0"]` for regression, as Hugging Face does).
    pub fn id2label(&self) -> Vec<String> {
        match self.labels {
            LabelKind::Classes(c) => c.iter().map(|s| s.to_string()).collect(),
            LabelKind::Regression => vec!["LABEL_0".to_string()],
        }
    }

    /// Whether examples are sentence pairs.
    pub fn is_pair(&self) -> bool {
        self.text_b.is_some()
    }

    /// The file name of `split`, or `None` when the task has no such split file.
    pub fn file_name(&self, split: Split) -> Option<&'static str> {
        match split {
            Split::Train => Some(self.train_file),
            Split::Dev => Some(self.dev_file),
            Split::DevMismatched => self.dev_mismatched_file,
            Split::Test => None,
        }
    }
}

const BINARY: &[&str] = &["0", "1"];
const NLI2: &[&str] = &["entailment", "not_entailment"];
const NLI3: &[&str] = &["contradiction", "entailment", "neutral"];

const fn spec(
    name: &'static str,
    dir_name: &'static str,
    labels: LabelKind,
    main_metric: &'static str,
    text_a: Column,
    text_b: Option<Column>,
    label: Column,
) -> TaskSpec {
    TaskSpec {
        name,
        dir_name,
        labels,
        main_metric,
        has_header: true,
        num_fields: 0,
        text_a,
        text_b,
        label,
        train_file: "train.tsv",
        dev_file: "dev.tsv",
        dev_mismatched_file: None,
        skip_malformed: false,
        synthetic: false,
    }
}

use Column::{Index as I, Last};

/// The nine GLUE tasks, in GLUE's order.
pub const GLUE_TASKS: &[TaskSpec] = &[
    TaskSpec {
        has_header: false,
        num_fields: 4,
        ..spec(
            "cola",
            "CoLA",
            LabelKind::Classes(BINARY),
            "mcc",
            I(3),
            None,
            I(1),
        )
    },
    spec(
        "sst2",
        "SST-2",
        LabelKind::Classes(BINARY),
        "accuracy",
        I(0),
        None,
        I(1),
    ),
    spec(
        "mrpc",
        "MRPC",
        LabelKind::Classes(BINARY),
        "combined_score",
        I(3),
        Some(I(4)),
        I(0),
    ),
    spec(
        "stsb",
        "STS-B",
        LabelKind::Regression,
        "combined_score",
        I(7),
        Some(I(8)),
        Last,
    ),
    TaskSpec {
        skip_malformed: true,
        ..spec(
            "qqp",
            "QQP",
            LabelKind::Classes(BINARY),
            "combined_score",
            I(3),
            Some(I(4)),
            I(5),
        )
    },
    TaskSpec {
        dev_file: "dev_matched.tsv",
        dev_mismatched_file: Some("dev_mismatched.tsv"),
        ..spec(
            "mnli",
            "MNLI",
            LabelKind::Classes(NLI3),
            "accuracy",
            I(8),
            Some(I(9)),
            Last,
        )
    },
    spec(
        "qnli",
        "QNLI",
        LabelKind::Classes(NLI2),
        "accuracy",
        I(1),
        Some(I(2)),
        I(3),
    ),
    spec(
        "rte",
        "RTE",
        LabelKind::Classes(NLI2),
        "accuracy",
        I(1),
        Some(I(2)),
        I(3),
    ),
    spec(
        "wnli",
        "WNLI",
        LabelKind::Classes(BINARY),
        "accuracy",
        I(1),
        Some(I(2)),
        I(3),
    ),
];

/// The `demo` task spec (its data are generated by `data::synthetic`): binary classes `"0"`,
/// `"1"`, kept by accuracy; no files.
pub static DEMO_TASK: TaskSpec = TaskSpec {
    name: "demo",
    dir_name: "demo",
    labels: LabelKind::Classes(&["0", "1"]),
    main_metric: "accuracy",
    has_header: false,
    num_fields: 0,
    text_a: Column::Index(0),
    text_b: None,
    label: Column::Index(0),
    train_file: "",
    dev_file: "",
    dev_mismatched_file: None,
    skip_malformed: false,
    synthetic: true,
};

/// Every task name a configuration's `task` accepts: the GLUE tasks and the synthetic `demo`.
pub const TASKS: &[&str] = &[
    "cola", "sst2", "mrpc", "stsb", "qqp", "mnli", "qnli", "rte", "wnli", "demo",
];

/// Map a user-typed task name (`RTE`, `sst-2`, `STS-B`, `mnli`, `demo`) to the canonical
/// lowercase name in [`TASKS`].
pub fn normalise_task_name(s: &str) -> Option<&'static str> {
    let s = s.trim().to_ascii_lowercase().replace(['-', '_'], "");
    TASKS.iter().copied().find(|t| *t == s)
}

/// The task registered under `name` (any spelling [`normalise_task_name`] accepts), including
/// the synthetic `demo` task.
pub fn task(name: &str) -> Option<&'static TaskSpec> {
    let name = normalise_task_name(name)?;
    if name == DEMO_TASK.name {
        return Some(&DEMO_TASK);
    }
    GLUE_TASKS.iter().find(|t| t.name == name)
}

/// A label: a class id (index into the task's class list) or a regression score.
#[derive(Debug, Clone, PartialEq)]
pub enum Label {
    Class(usize),
    Score(f32),
}

/// One example: one text or a pair of texts, and its label.
#[derive(Debug, Clone)]
pub struct Example {
    pub text_a: String,
    pub text_b: Option<String>,
    pub label: Label,
}

/// A data split.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Split {
    Train,
    /// The dev split (MNLI: dev matched).
    Dev,
    /// MNLI's dev mismatched split.
    DevMismatched,
    /// Test splits: no labels, always refused by [`load_split`].
    Test,
}

impl Split {
    /// The split's name: `train`, `dev`, `dev_mismatched`, `test`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Dev => "dev",
            Split::DevMismatched => "dev_mismatched",
            Split::Test => "test",
        }
    }

    /// The suffix added to metric names computed on this split (`_mm` for dev mismatched).
    pub fn metric_suffix(&self) -> &'static str {
        match self {
            Split::DevMismatched => "_mm",
            _ => "",
        }
    }
}

impl fmt::Display for Split {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The examples of one split of one task.
#[derive(Debug, Clone)]
pub struct Dataset {
    pub task: &'static TaskSpec,
    pub split: Split,
    pub examples: Vec<Example>,
    /// Where the examples came from (a file path).
    pub source: String,
}

impl Dataset {
    /// Number of examples.
    pub fn len(&self) -> usize {
        self.examples.len()
    }

    /// Whether there are no examples.
    pub fn is_empty(&self) -> bool {
        self.examples.is_empty()
    }

    /// The labels, in example order.
    pub fn labels(&self) -> Vec<Label> {
        self.examples.iter().map(|e| e.label.clone()).collect()
    }

    /// How many examples each class has (empty for regression tasks).
    pub fn class_counts(&self) -> Vec<usize> {
        let mut counts = match self.task.labels {
            LabelKind::Classes(c) => vec![0; c.len()],
            LabelKind::Regression => return Vec::new(),
        };
        for e in &self.examples {
            if let Label::Class(c) = e.label {
                if let Some(n) = counts.get_mut(c) {
                    *n += 1;
                }
            }
        }
        counts
    }
}

/// The dev splits to evaluate for this task: `[Dev]`, or `[Dev, DevMismatched]` for MNLI.
pub fn dev_splits(task: &TaskSpec) -> Vec<Split> {
    if task.dev_mismatched_file.is_some() {
        vec![Split::Dev, Split::DevMismatched]
    } else {
        vec![Split::Dev]
    }
}

/// Refuse what no source can load: the synthetic demo task (generated in code) and test
/// splits (no labels).
pub(crate) fn check_loadable(task: &TaskSpec, split: Split) -> Result<(), DataError> {
    if task.synthetic {
        return Err(DataError::Synthetic {
            task: task.name.into(),
        });
    }
    if split == Split::Test {
        return Err(DataError::TestSplit {
            task: task.name.into(),
        });
    }
    Ok(())
}

/// Read `<data_dir>/<DIR_NAME>/<file>.tsv` for `split`.
///
/// `Split::Test` is refused: test splits have no labels and cannot be used for training or
/// evaluation.
pub fn load_split(
    data_dir: &Path,
    task: &'static TaskSpec,
    split: Split,
) -> Result<Dataset, DataError> {
    check_loadable(task, split)?;
    let file = task
        .file_name(split)
        .ok_or_else(|| DataError::NoSuchSplit {
            task: task.name.into(),
            split: split.as_str().into(),
            available: "train or dev".into(),
        })?;
    let path = data_dir.join(task.dir_name).join(file);
    if !path.is_file() {
        return Err(DataError::MissingFile {
            path,
            dir_name: task.dir_name.into(),
            file: file.into(),
        });
    }
    let text = tsv::read_text(&path)?;
    let examples = parse_examples(&path, &text, task)?;
    Ok(Dataset {
        task,
        split,
        examples,
        source: path.display().to_string(),
    })
}

/// Parse the text of one GLUE TSV file of `task`; `path` is only used in error messages.
pub fn parse_examples(path: &Path, text: &str, task: &TaskSpec) -> Result<Vec<Example>, DataError> {
    let needed = [Some(task.text_a), task.text_b, Some(task.label)]
        .into_iter()
        .flatten()
        .map(Column::min_fields)
        .max()
        .unwrap_or(1);
    let mut rows = tsv::rows(text);
    let expected = if task.has_header {
        let header = rows.next().ok_or_else(|| {
            tsv::parse_error(path, 1, "the file is empty; expected a header line")
        })?;
        header.fields.len()
    } else {
        task.num_fields
    };
    if expected < needed {
        return Err(tsv::parse_error(
            path,
            1,
            format!(
                "task `{}` needs at least {needed} fields per row, but the {} has {expected}. \
                 Fix: use the original GLUE TSV files",
                task.name,
                if task.has_header { "header" } else { "layout" }
            ),
        ));
    }
    let mut examples = Vec::new();
    let mut skipped = 0usize;
    for row in rows {
        let n = row.fields.len();
        if n != expected {
            if task.skip_malformed {
                skipped += 1;
                continue;
            }
            return Err(tsv::parse_error(
                path,
                row.line,
                format!("expected {expected} fields, found {n}"),
            ));
        }
        let field = |c: Column| row.fields[c.resolve(n)];
        let raw_label = field(task.label).trim();
        let label = match task.labels {
            LabelKind::Classes(names) => match names.iter().position(|l| *l == raw_label) {
                Some(i) => Label::Class(i),
                None => {
                    return Err(tsv::parse_error(
                        path,
                        row.line,
                        format!("label `{raw_label}` is not one of {}", names.join(", ")),
                    ))
                }
            },
            LabelKind::Regression => match raw_label.parse::<f32>() {
                Ok(x) if x.is_finite() => Label::Score(x),
                _ => {
                    return Err(tsv::parse_error(
                        path,
                        row.line,
                        format!("score `{raw_label}` is not a number"),
                    ))
                }
            },
        };
        examples.push(Example {
            text_a: field(task.text_a).to_string(),
            text_b: task.text_b.map(|c| field(c).to_string()),
            label,
        });
    }
    if skipped > 0 {
        tracing::warn!(
            "{}: skipped {skipped} rows without exactly {expected} fields",
            path.display()
        );
    }
    if examples.is_empty() {
        return Err(tsv::parse_error(
            path,
            0,
            "the file has no examples. Fix: use the original GLUE TSV files",
        ));
    }
    Ok(examples)
}

/// A seeded random subset of `n` examples (the low-resource setting), kept in file order.
/// `n >= len` returns all examples. The same `(dataset, n, seed)` always gives the same subset.
pub fn subsample(ds: &Dataset, n: usize, seed: u64) -> Dataset {
    if n >= ds.examples.len() {
        return ds.clone();
    }
    let mut idx: Vec<usize> = (0..ds.examples.len()).collect();
    idx.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
    idx.truncate(n);
    idx.sort_unstable();
    Dataset {
        task: ds.task,
        split: ds.split,
        examples: idx.iter().map(|&i| ds.examples[i].clone()).collect(),
        source: ds.source.clone(),
    }
}

/// PLACEHOLDER-STRATIFIED: replaced by the stratified draw.
pub fn stratified_subsample(ds: &Dataset, n: usize, seed: u64) -> Dataset {
    subsample(ds, n, seed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_lookup_accepts_spellings() {
        assert_eq!(task("RTE").unwrap().name, "rte");
        assert_eq!(task("sst-2").unwrap().dir_name, "SST-2");
        assert_eq!(task("STS-B").unwrap().name, "stsb");
        assert!(task("STS-B").unwrap().is_regression());
        assert_eq!(task("mnli").unwrap().num_labels(), 3);
        assert_eq!(task("demo").unwrap().name, "demo");
        assert!(task("squad").is_none());
        for t in TASKS {
            assert_eq!(task(t).unwrap().name, *t, "every config task is registered");
        }
    }

    #[test]
    fn dev_splits_for_mnli() {
        assert_eq!(
            dev_splits(task("mnli").unwrap()),
            vec![Split::Dev, Split::DevMismatched]
        );
        assert_eq!(dev_splits(task("rte").unwrap()), vec![Split::Dev]);
    }

    #[test]
    fn parses_mnli_style_last_column_label() {
        let t = task("mnli").unwrap();
        let head: Vec<String> = (0..12).map(|i| format!("h{i}")).collect();
        let mut row: Vec<String> = (0..12).map(|i| format!("f{i}")).collect();
        row[11] = "neutral".into();
        let text = format!("{}\n{}\n", head.join("\t"), row.join("\t"));
        let ex = parse_examples(Path::new("x.tsv"), &text, t).unwrap();
        assert_eq!(ex.len(), 1);
        assert_eq!(ex[0].text_a, "f8");
        assert_eq!(ex[0].text_b.as_deref(), Some("f9"));
        assert_eq!(ex[0].label, Label::Class(2));
    }

    #[test]
    fn bad_score_is_reported() {
        let t = task("stsb").unwrap();
        let text = "a\tb\tc\td\te\tf\tg\th\ti\tscore\n0\t\t\t\t\t\t\tx\ty\tnope\n";
        let e = parse_examples(Path::new("sts.tsv"), text, t)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("sts.tsv:2:") && e.contains("score `nope` is not a number"),
            "{e}"
        );
    }
}
