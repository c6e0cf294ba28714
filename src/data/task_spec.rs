//! The task model shared by every reader: task specs ([`TaskSpec`], [`DataFormat`], label kinds,
//! columns), examples, labels, splits and datasets. The registries are [`super::glue`] (GLUE,
//! `demo`, and the lookup [`super::glue::task`]) and [`super::nli`] (SNLI, SICK, SciTail).

use std::fmt;

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
    pub(crate) fn resolve(self, n_fields: usize) -> usize {
        match self {
            Column::Index(i) => i,
            Column::Last => n_fields.saturating_sub(1),
        }
    }
    pub(crate) fn min_fields(self) -> usize {
        match self {
            Column::Index(i) => i + 1,
            Column::Last => 1,
        }
    }
}

/// How a task's files are laid out and read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataFormat {
    /// GLUE's TSV files, one per split, read through the columns of [`TaskSpec`].
    GlueTsv,
    /// SICK's `SICK.txt`: every split in one tab-separated file with a header; the columns are
    /// found by name and `SemEval_set` names each row's split ([`super::nli`]).
    SickTxt,
    /// SNLI's JSON lines (`sentence1`, `sentence2`, `gold_label`), one file per split; rows
    /// without a gold label (`-`) are dropped ([`super::nli`]).
    SnliJsonl,
    /// SciTail's `tsv_format` files: no header, `premise<TAB>hypothesis<TAB>label`, read
    /// through the columns of [`TaskSpec`] like GLUE's files.
    ScitailTsv,
}

/// Everything needed to read, encode and score one task.
#[derive(Debug, PartialEq)]
pub struct TaskSpec {
    /// Canonical lowercase name, as in [`super::glue::TASKS`] (`"rte"`).
    pub name: &'static str,
    /// Folder below the data folder that holds the task's files (`"RTE"`; for the NLI sets the
    /// folder of their original distribution, such as `"SciTailV1.1/tsv_format"`).
    pub dir_name: &'static str,
    /// How the files are laid out and read.
    pub format: DataFormat,
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
    /// File name of a labelled test split. `None` for GLUE, whose test files carry no labels,
    /// so that [`Split::Test`] is refused; the NLI sets' test splits are labelled and load.
    pub test_file: Option<&'static str>,
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
            Split::Test => self.test_file,
        }
    }

    /// The splits that [`super::glue::load_split`] can load, for messages (`"train or dev"`).
    pub fn available_splits(&self) -> &'static str {
        match (self.dev_mismatched_file.is_some(), self.test_file.is_some()) {
            (false, false) => "train or dev",
            (true, false) => "train, dev or dev_mismatched",
            (false, true) => "train, dev or test",
            (true, true) => "train, dev, dev_mismatched or test",
        }
    }
}

/// The three NLI classes, sorted as `run_glue.py` sorts MNLI's (also SNLI's and SICK's list).
pub(crate) const NLI3: &[&str] = &["contradiction", "entailment", "neutral"];

/// A GLUE-layout spec with a header, `train.tsv` and `dev.tsv`; the NLI sets override fields.
pub(crate) const fn spec(
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
        format: DataFormat::GlueTsv,
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
        test_file: None,
        skip_malformed: false,
        synthetic: false,
    }
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
    /// Test splits: GLUE's have no labels and are refused by [`super::glue::load_split`]; the NLI sets'
    /// are labelled and load ([`TaskSpec::test_file`]).
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

    /// The examples at `idx` (in that order), from the same task, split and source.
    pub fn select(&self, idx: &[usize]) -> Dataset {
        Dataset {
            task: self.task,
            split: self.split,
            examples: idx.iter().map(|&i| self.examples[i].clone()).collect(),
            source: self.source.clone(),
        }
    }

    /// The class ids, in example order; `None` for a regression task's scores.
    pub fn class_ids(&self) -> Option<Vec<usize>> {
        self.examples
            .iter()
            .map(|e| match e.label {
                Label::Class(c) => Some(c),
                Label::Score(_) => None,
            })
            .collect()
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
