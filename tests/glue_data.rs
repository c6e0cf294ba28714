//! GLUE data loading against the real files in `../shared/glue`, plus malformed-input errors,
//! subsampling, epoch orders and batching.

mod common;

use candle_core::Device;
use dps_tui::data::glue::{self, Label, Split};
use dps_tui::data::{
    dev_splits, epoch_batches, epoch_order, load_split, make_batch, subsample, task, DataError,
    Encoded,
};
use std::path::{Path, PathBuf};

fn glue_dir() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/glue");
    if dir.is_dir() {
        Some(dir)
    } else {
        common::skipped(&format!(
            "../shared not found ({} is missing); GLUE file tests did not run",
            dir.display()
        ));
        None
    }
}

/// Row and class counts of one task, from shared/glue/SOURCES.md. Class counts are indexed
/// by label id ("0", "1" or entailment, not_entailment); empty for regression.
struct Expected {
    task: &'static str,
    train: usize,
    dev: usize,
    train_classes: &'static [usize],
    dev_classes: &'static [usize],
}

const fn exp(
    task: &'static str,
    train: usize,
    dev: usize,
    train_classes: &'static [usize],
    dev_classes: &'static [usize],
) -> Expected {
    Expected {
        task,
        train,
        dev,
        train_classes,
        dev_classes,
    }
}

const EXPECTED: &[Expected] = &[
    exp("cola", 8551, 1043, &[2528, 6023], &[322, 721]),
    exp("mrpc", 3668, 408, &[1194, 2474], &[129, 279]),
    exp("stsb", 5749, 1500, &[], &[]),
    exp("rte", 2490, 277, &[1249, 1241], &[146, 131]),
    exp("wnli", 635, 71, &[323, 312], &[40, 31]),
];

#[test]
fn shared_tasks_load_with_expected_counts() {
    let Some(dir) = glue_dir() else { return };
    for x in EXPECTED {
        let (name, n_train, n_dev) = (x.task, x.train, x.dev);
        let (c_train, c_dev) = (x.train_classes, x.dev_classes);
        let t = task(name).unwrap();
        let train = load_split(&dir, t, Split::Train).unwrap();
        let dev = load_split(&dir, t, Split::Dev).unwrap();
        assert_eq!(train.len(), n_train, "{name} train rows");
        assert_eq!(dev.len(), n_dev, "{name} dev rows");
        assert_eq!(train.class_counts(), c_train, "{name} train labels");
        assert_eq!(dev.class_counts(), c_dev, "{name} dev labels");
        assert!(train.source.ends_with("train.tsv"));
        for e in train.examples.iter().chain(&dev.examples) {
            assert!(!e.text_a.is_empty(), "{name}: empty text_a");
            assert_eq!(e.text_b.is_some(), t.is_pair(), "{name}: pair-ness");
        }
    }
}

#[test]
fn stsb_scores_are_in_range() {
    let Some(dir) = glue_dir() else { return };
    let t = task("STS-B").unwrap();
    let train = load_split(&dir, t, Split::Train).unwrap();
    let first = &train.examples[0];
    assert_eq!(first.text_a, "A plane is taking off.");
    assert_eq!(first.text_b.as_deref(), Some("An air plane is taking off."));
    assert_eq!(first.label, Label::Score(5.0));
    for e in &train.examples {
        match e.label {
            Label::Score(s) => assert!((0.0..=5.0).contains(&s), "score {s}"),
            Label::Class(_) => panic!("STS-B labels are scores"),
        }
    }
}

#[test]
fn mrpc_bom_and_quotes_are_read_verbatim() {
    let Some(dir) = glue_dir() else { return };
    let train = load_split(&dir, task("mrpc").unwrap(), Split::Train).unwrap();
    let first = &train.examples[0];
    assert_eq!(first.label, Label::Class(1));
    assert_eq!(
        first.text_a,
        "Amrozi accused his brother, whom he called \"the witness\", of deliberately \
         distorting his evidence."
    );
    assert!(first
        .text_b
        .as_deref()
        .unwrap()
        .starts_with("Referring to him as only \"the witness\", Amrozi"));
    assert!(train
        .examples
        .iter()
        .all(|e| !e.text_a.contains('\u{feff}') && !e.text_a.contains('\t')));
}

#[test]
fn cola_without_header_and_final_newline() {
    let Some(dir) = glue_dir() else { return };
    let t = task("CoLA").unwrap();
    let train = load_split(&dir, t, Split::Train).unwrap();
    assert_eq!(
        train.examples[0].text_a,
        "Our friends won't buy this analysis, let alone the next one we propose."
    );
    assert!(train.examples[0].text_b.is_none());
    // The last line of dev.tsv has no newline; it must still be read.
    let raw = std::fs::read_to_string(dir.join("CoLA/dev.tsv")).unwrap();
    assert!(!raw.ends_with('\n'));
    let last_sentence = raw
        .rsplit('\n')
        .next()
        .unwrap()
        .rsplit('\t')
        .next()
        .unwrap();
    let dev = load_split(&dir, t, Split::Dev).unwrap();
    assert_eq!(dev.examples.last().unwrap().text_a, last_sentence);
}

fn write(dir: &Path, task_dir: &str, file: &str, text: &str) -> PathBuf {
    let d = dir.join(task_dir);
    std::fs::create_dir_all(&d).unwrap();
    let p = d.join(file);
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn missing_field_names_file_and_line() {
    let tmp = tempfile::tempdir().unwrap();
    write(
        tmp.path(),
        "RTE",
        "train.tsv",
        "index\tsentence1\tsentence2\tlabel\n0\ta\tb\tentailment\n1\tc\tnot_entailment\n",
    );
    let err = load_split(tmp.path(), task("rte").unwrap(), Split::Train).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, DataError::Parse { line: 3, .. }), "{msg}");
    assert!(msg.contains("RTE/train.tsv:3:"), "{msg}");
    assert!(msg.contains("expected 4 fields, found 3"), "{msg}");
}

#[test]
fn bad_label_names_file_line_and_choices() {
    let tmp = tempfile::tempdir().unwrap();
    write(
        tmp.path(),
        "RTE",
        "dev.tsv",
        "index\tsentence1\tsentence2\tlabel\r\n0\ta\tb\tentailment\r\n\r\n2\tc\td\tmaybe\r\n",
    );
    let msg = load_split(tmp.path(), task("rte").unwrap(), Split::Dev)
        .unwrap_err()
        .to_string();
    assert!(msg.contains("RTE/dev.tsv:4:"), "{msg}");
    assert!(
        msg.contains("label `maybe` is not one of entailment, not_entailment"),
        "{msg}"
    );
}

#[test]
fn quotes_are_not_interpreted() {
    let tmp = tempfile::tempdir().unwrap();
    let wnli = task("wnli").unwrap();
    let head = "index\tsentence1\tsentence2\tlabel\r\n";
    write(
        tmp.path(),
        "WNLI",
        "train.tsv",
        &format!("{head}0\t\"He said, \"hi\"\tit \"x\t1\r\n"),
    );
    let ds = load_split(tmp.path(), wnli, Split::Train).unwrap();
    assert_eq!(ds.examples[0].text_a, "\"He said, \"hi\"");
    assert_eq!(ds.examples[0].text_b.as_deref(), Some("it \"x"));
    assert_eq!(ds.examples[0].label, Label::Class(1));
    // A quote does not join fields across a tab.
    write(
        tmp.path(),
        "WNLI",
        "train.tsv",
        &format!("{head}0\t\"a\tb\"\tc\t1\r\n"),
    );
    let msg = load_split(tmp.path(), wnli, Split::Train)
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("train.tsv:2: expected 4 fields, found 5"),
        "{msg}"
    );
    // A quoted label is not unquoted.
    write(
        tmp.path(),
        "WNLI",
        "train.tsv",
        &format!("{head}0\ta\tb\t\"1\"\r\n"),
    );
    let msg = load_split(tmp.path(), wnli, Split::Train)
        .unwrap_err()
        .to_string();
    assert!(msg.contains("label `\"1\"` is not one of 0, 1"), "{msg}");
}

#[test]
fn missing_file_names_the_path_and_the_fix() {
    let tmp = tempfile::tempdir().unwrap();
    let err = load_split(tmp.path(), task("sst2").unwrap(), Split::Train).unwrap_err();
    let msg = err.to_string();
    let expected = tmp.path().join("SST-2").join("train.tsv");
    assert!(msg.contains(&expected.display().to_string()), "{msg}");
    assert!(msg.contains("--data-dir"), "{msg}");
}

#[test]
fn test_split_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    write(
        tmp.path(),
        "RTE",
        "test.tsv",
        "index\tsentence1\tsentence2\n0\ta\tb\n",
    );
    let msg = load_split(tmp.path(), task("rte").unwrap(), Split::Test)
        .unwrap_err()
        .to_string();
    assert!(msg.contains("no labels"), "{msg}");
    assert!(
        msg.contains("cannot be used for training or evaluation"),
        "{msg}"
    );
    let msg = load_split(tmp.path(), task("rte").unwrap(), Split::DevMismatched)
        .unwrap_err()
        .to_string();
    assert!(msg.contains("no dev_mismatched split"), "{msg}");
    assert!(load_split(tmp.path(), task("demo").unwrap(), Split::Train).is_err());
}

#[test]
fn mnli_reads_matched_and_mismatched_dev_files() {
    let tmp = tempfile::tempdir().unwrap();
    let t = task("MNLI").unwrap();
    assert_eq!(dev_splits(t), vec![Split::Dev, Split::DevMismatched]);
    // MNLI dev files have 16 columns; the gold label is the last one.
    let header: Vec<String> = (0..16).map(|i| format!("c{i}")).collect();
    let mut row: Vec<String> = (0..16).map(|i| format!("v{i}")).collect();
    row[15] = "entailment".into();
    let text = format!("{}\n{}\n", header.join("\t"), row.join("\t"));
    write(tmp.path(), "MNLI", "dev_matched.tsv", &text);
    row[15] = "contradiction".into();
    let text = format!("{}\n{}\n", header.join("\t"), row.join("\t"));
    write(tmp.path(), "MNLI", "dev_mismatched.tsv", &text);
    let m = load_split(tmp.path(), t, Split::Dev).unwrap();
    let mm = load_split(tmp.path(), t, Split::DevMismatched).unwrap();
    assert_eq!(m.examples[0].label, Label::Class(1));
    assert_eq!(m.examples[0].text_a, "v8");
    assert_eq!(mm.examples[0].label, Label::Class(0));
    assert!(mm.source.ends_with("dev_mismatched.tsv"));
}

#[test]
fn subsample_is_deterministic_and_of_size_n() {
    let ds = glue::Dataset {
        task: task("sst2").unwrap(),
        split: Split::Train,
        examples: (0..500)
            .map(|i| glue::Example {
                text_a: format!("sentence {i}"),
                text_b: None,
                label: Label::Class(i % 2),
            })
            .collect(),
        source: "memory".into(),
    };
    let a = subsample(&ds, 100, 3);
    let b = subsample(&ds, 100, 3);
    let c = subsample(&ds, 100, 4);
    assert_eq!(a.len(), 100);
    let texts = |d: &glue::Dataset| {
        d.examples
            .iter()
            .map(|e| e.text_a.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(texts(&a), texts(&b));
    assert_ne!(texts(&a), texts(&c));
    let mut uniq = texts(&a);
    uniq.sort();
    uniq.dedup();
    assert_eq!(uniq.len(), 100, "no duplicates");
    assert_eq!(subsample(&ds, 10_000, 3).len(), 500);
}

fn is_permutation(order: &[usize], n: usize) -> bool {
    let mut s = order.to_vec();
    s.sort_unstable();
    s == (0..n).collect::<Vec<_>>()
}

#[test]
fn epoch_order_is_a_deterministic_permutation() {
    let n = 1000;
    let e0 = epoch_order(n, 42, 0, None);
    assert!(is_permutation(&e0, n));
    assert_eq!(e0, epoch_order(n, 42, 0, None));
    let e1 = epoch_order(n, 42, 1, None);
    assert!(is_permutation(&e1, n));
    assert_ne!(e0, e1, "epochs differ");
    assert_ne!(e0, epoch_order(n, 43, 0, None), "seeds differ");
    assert_ne!(e0, (0..n).collect::<Vec<_>>(), "shuffled");

    let batches = epoch_batches(&e0, 64);
    assert_eq!(batches.len(), 16);
    assert_eq!(batches[15].len(), 1000 - 15 * 64);
    assert_eq!(batches.concat(), e0);
}

#[test]
fn group_by_length_batches_have_similar_lengths() {
    let n = 4000;
    let bs = 16;
    // Lengths 5..=132 spread over the examples.
    let lengths: Vec<usize> = (0..n).map(|i| 5 + (i * 7919) % 128).collect();
    let order = epoch_order(n, 9, 0, Some((&lengths, bs)));
    assert!(is_permutation(&order, n));
    assert_eq!(order, epoch_order(n, 9, 0, Some((&lengths, bs))));
    assert_ne!(order, epoch_order(n, 9, 1, Some((&lengths, bs))));
    let spread = |o: &[usize]| -> f64 {
        let b = epoch_batches(o, bs);
        b.iter()
            .map(|b| {
                let l: Vec<usize> = b.iter().map(|&i| lengths[i]).collect();
                (l.iter().max().unwrap() - l.iter().min().unwrap()) as f64
            })
            .sum::<f64>()
            / b.len() as f64
    };
    let grouped = spread(&order);
    let random = spread(&epoch_order(n, 9, 0, None));
    assert!(grouped < 10.0, "mean in-batch length spread {grouped}");
    assert!(random > 80.0, "mean in-batch length spread {random}");
    // Within each mega-batch (50 * 16 here) lengths descend.
    for mega in order.chunks(50 * bs) {
        assert!(mega.windows(2).all(|w| lengths[w[0]] >= lengths[w[1]]));
    }
}

fn enc(ids: &[u32], types: &[u32], label: Label) -> Encoded {
    Encoded {
        ids: ids.to_vec(),
        type_ids: types.to_vec(),
        label,
    }
}

#[test]
fn make_batch_pads_and_masks() {
    let a = enc(&[101, 7, 8, 102], &[0, 0, 0, 0], Label::Class(1));
    let b = enc(
        &[101, 9, 102, 10, 102, 11, 102],
        &[0, 0, 0, 1, 1, 1, 1],
        Label::Class(0),
    );
    let c = enc(&[101, 102], &[0, 0], Label::Class(1));
    let dev = Device::Cpu;
    let batch = make_batch(&[&a, &b, &c], None, false, &dev).unwrap();
    assert_eq!(batch.size, 3);
    assert_eq!(batch.seq_len, 7, "dynamic padding pads to the longest");
    assert_eq!(batch.real_tokens, 13);
    assert_eq!(batch.input_ids.dims(), &[3, 7]);
    let ids = batch.input_ids.to_vec2::<u32>().unwrap();
    let types = batch.token_type_ids.to_vec2::<u32>().unwrap();
    let mask = batch.attention_mask.to_vec2::<u32>().unwrap();
    assert_eq!(ids[0], vec![101, 7, 8, 102, 0, 0, 0]);
    assert_eq!(ids[1], vec![101, 9, 102, 10, 102, 11, 102]);
    assert_eq!(ids[2], vec![101, 102, 0, 0, 0, 0, 0]);
    assert_eq!(types[1], vec![0, 0, 0, 1, 1, 1, 1]);
    assert_eq!(types[0], vec![0; 7]);
    assert_eq!(mask[0], vec![1, 1, 1, 1, 0, 0, 0]);
    assert_eq!(mask[1], vec![1; 7]);
    assert_eq!(mask[2], vec![1, 1, 0, 0, 0, 0, 0]);
    assert_eq!(batch.labels.to_vec1::<u32>().unwrap(), vec![1, 0, 1]);

    // Fixed padding.
    let fixed = make_batch(&[&a, &c], Some(10), false, &dev).unwrap();
    assert_eq!(fixed.seq_len, 10);
    assert_eq!(fixed.input_ids.dims(), &[2, 10]);
    assert_eq!(
        fixed.attention_mask.to_vec2::<u32>().unwrap()[0],
        vec![1, 1, 1, 1, 0, 0, 0, 0, 0, 0]
    );
    // Too short a pad_to is an error, as is an empty batch or a label kind mismatch.
    assert!(make_batch(&[&b], Some(5), false, &dev).is_err());
    assert!(make_batch(&[], None, false, &dev).is_err());
    assert!(make_batch(&[&a], None, true, &dev).is_err());

    // Regression labels are f32.
    let r = enc(&[101, 5, 102], &[0, 0, 0], Label::Score(3.8));
    let rb = make_batch(&[&r], None, true, &dev).unwrap();
    assert_eq!(rb.labels.dtype(), candle_core::DType::F32);
    assert_eq!(rb.labels.to_vec1::<f32>().unwrap(), vec![3.8]);
}

#[test]
fn dynamic_padding_on_real_batches_pads_to_longest() {
    let (train, _) = dps_tui::data::demo_task(5, 64, 8, 40, 24);
    let order = epoch_order(train.len(), 1, 0, None);
    for idx in epoch_batches(&order, 16) {
        let items = train.select(&idx);
        let longest = items.iter().map(|e| e.len()).max().unwrap();
        let total: usize = items.iter().map(|e| e.len()).sum();
        let b = make_batch(&items, None, false, &Device::Cpu).unwrap();
        assert_eq!(b.seq_len, longest);
        assert_eq!(b.real_tokens, total);
        let mask_sum: u32 = b
            .attention_mask
            .to_vec2::<u32>()
            .unwrap()
            .iter()
            .flatten()
            .sum();
        assert_eq!(mask_sum as usize, total);
    }
}
