//! Hugging Face Hub sources, offline, from fixture caches the tests build: GLUE parquet files of
//! `nyu-mll/glue` (written with the parquet crate, `common::hub_fixture`) and a tiny model
//! snapshot; the real
//! loaders read them, and the binary trains from them with no --data-dir and HF_HUB_OFFLINE=1.

mod common;

use common::hub_fixture::{nli_columns, snapshot_dir, write_parquet, Col};
use dps_tui::data::glue::{self, Label, Split};
use dps_tui::data::{DataError, DataSource, Dataset};
use dps_tui::hub::{HubSource, RepoKind, GLUE_DATASET};
use dps_tui::model::bert::{BertForSequenceClassification, HeadKind};
use dps_tui::model::checkpoint_io::save_hf;
use dps_tui::model::BertConfig;
use dps_tui::train::setup::resolve_model_dir_with;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;

const RTE_TRAIN: [(&str, &str, i64); 4] = [
    ("the cat sat on the mat.", "a cat sat.", 0),
    ("dogs bark at night.", "cats bark.", 1),
    ("it rains in spring.", "it rains.", 0),
    ("the sun is hot.", "the sun is cold.", 1),
];
const RTE_DEV: [(&str, &str, i64); 2] = [
    ("birds can fly.", "birds fly.", 0),
    ("fish swim fast.", "fish walk.", 1),
];

/// A fixture `nyu-mll/glue` snapshot: RTE (train, validation, test), MNLI (two train shards,
/// validation matched and mismatched, test matched), STS-B (train, validation).
fn glue_cache(cache: &Path) -> PathBuf {
    let snap = snapshot_dir(cache, RepoKind::Dataset, GLUE_DATASET);
    let pairs = |rows: &[(&'static str, &'static str, i64)]| {
        vec![
            Col::Text("sentence1", rows.iter().map(|r| r.0).collect()),
            Col::Text("sentence2", rows.iter().map(|r| r.1).collect()),
            Col::Long("label", rows.iter().map(|r| r.2).collect()),
        ]
    };
    write_parquet(
        &snap.join("rte/train-00000-of-00001.parquet"),
        &pairs(&RTE_TRAIN),
    );
    write_parquet(
        &snap.join("rte/validation-00000-of-00001.parquet"),
        &pairs(&RTE_DEV),
    );
    write_parquet(
        &snap.join("rte/test-00000-of-00001.parquet"),
        &pairs(&[("a b.", "c d.", -1)]),
    );
    let nli = nli_columns;
    write_parquet(
        &snap.join("mnli/train-00000-of-00002.parquet"),
        &nli(vec!["p0.", "p1."], vec!["h0.", "h1."], vec![0, 1]),
    );
    write_parquet(
        &snap.join("mnli/train-00001-of-00002.parquet"),
        &nli(vec!["p2."], vec!["h2."], vec![2]),
    );
    write_parquet(
        &snap.join("mnli/validation_matched-00000-of-00001.parquet"),
        &nli(vec!["m0.", "m1."], vec!["mh0.", "mh1."], vec![2, 0]),
    );
    write_parquet(
        &snap.join("mnli/validation_mismatched-00000-of-00001.parquet"),
        &nli(
            vec!["x0.", "x1.", "x2."],
            vec!["xh0.", "xh1.", "xh2."],
            vec![1, 1, 0],
        ),
    );
    write_parquet(
        &snap.join("mnli/test_matched-00000-of-00001.parquet"),
        &nli(vec!["t."], vec!["th."], vec![-1]),
    );
    let sts = |l: Vec<f32>| {
        vec![
            Col::Text("sentence1", vec!["a man plays."; l.len()]),
            Col::Text("sentence2", vec!["a man sings."; l.len()]),
            Col::Float("label", l),
        ]
    };
    write_parquet(
        &snap.join("stsb/train-00000-of-00001.parquet"),
        &sts(vec![0.5, 4.75]),
    );
    write_parquet(
        &snap.join("stsb/validation-00000-of-00001.parquet"),
        &sts(vec![3.0]),
    );
    snap
}

fn load(src: &DataSource, task: &str, split: Split) -> Result<Dataset, DataError> {
    src.load(glue::task(task).unwrap(), split)
}

fn class(ds: &Dataset) -> Vec<usize> {
    ds.class_ids().expect("a classification task")
}

#[test]
fn glue_splits_load_from_the_cached_parquet_files() {
    let tmp = tempfile::tempdir().unwrap();
    glue_cache(tmp.path());
    let hub = DataSource::Hub(HubSource::offline(tmp.path()));

    let train = load(&hub, "rte", Split::Train).unwrap();
    assert_eq!(train.len(), 4);
    assert_eq!(train.examples[1].text_a, "dogs bark at night.");
    assert_eq!(train.examples[1].text_b.as_deref(), Some("cats bark."));
    // entailment = 0, not_entailment = 1 in both the dataset and run_glue's list.
    assert_eq!(class(&train), vec![0, 1, 0, 1]);
    assert!(train.source.ends_with("rte/train-00000-of-00001.parquet"));

    // The same examples as from a GLUE-layout TSV folder holding the same rows.
    let tsv_dir = tmp.path().join("glue");
    std::fs::create_dir_all(tsv_dir.join("RTE")).unwrap();
    for (file, rows) in [("train.tsv", &RTE_TRAIN[..]), ("dev.tsv", &RTE_DEV[..])] {
        let mut text = "index\tsentence1\tsentence2\tlabel\n".to_string();
        for (i, (a, b, l)) in rows.iter().enumerate() {
            let l = ["entailment", "not_entailment"][*l as usize];
            text.push_str(&format!("{i}\t{a}\t{b}\t{l}\n"));
        }
        std::fs::write(tsv_dir.join("RTE").join(file), text).unwrap();
    }
    let tsv = DataSource::Dir(tsv_dir);
    for split in [Split::Train, Split::Dev] {
        let a = load(&hub, "rte", split).unwrap();
        let b = load(&tsv, "rte", split).unwrap();
        assert_eq!(a.len(), b.len());
        for (x, y) in a.examples.iter().zip(&b.examples) {
            assert_eq!(
                (&x.text_a, &x.text_b, &x.label),
                (&y.text_a, &y.text_b, &y.label)
            );
        }
    }

    // MNLI: shards in order; dataset ids (entailment, neutral, contradiction) mapped onto
    // run_glue's sorted list (contradiction, entailment, neutral).
    let mnli = load(&hub, "mnli", Split::Train).unwrap();
    let texts: Vec<&str> = mnli.examples.iter().map(|e| e.text_a.as_str()).collect();
    assert_eq!(texts, vec!["p0.", "p1.", "p2."]);
    assert_eq!(class(&mnli), vec![1, 2, 0]);
    let devs = glue::dev_splits(glue::task("mnli").unwrap());
    assert_eq!(devs, vec![Split::Dev, Split::DevMismatched]);
    let m = load(&hub, "mnli", Split::Dev).unwrap();
    assert_eq!(m.examples[0].text_a, "m0.");
    assert_eq!(class(&m), vec![0, 1]);
    let mm = load(&hub, "mnli", Split::DevMismatched).unwrap();
    assert_eq!(mm.len(), 3);
    assert_eq!(mm.examples[2].text_b.as_deref(), Some("xh2."));
    assert_eq!(class(&mm), vec![2, 2, 1]);

    // STS-B: float scores.
    let sts = load(&hub, "stsb", Split::Train).unwrap();
    assert_eq!(sts.labels(), vec![Label::Score(0.5), Label::Score(4.75)]);

    // Test splits are refused.
    for t in ["rte", "mnli"] {
        let e = load(&hub, t, Split::Test).unwrap_err();
        assert!(matches!(e, DataError::TestSplit { .. }), "{e}");
        assert!(e.to_string().contains("test split has no labels"), "{e}");
    }
    // RTE has no mismatched dev split.
    assert!(load(&hub, "rte", Split::DevMismatched).is_err());

    // A task that is not cached, offline: the error names the files, the cache and the fix.
    let e = load(&hub, "cola", Split::Train).unwrap_err().to_string();
    assert!(e.contains("cola/train-*.parquet"), "{e}");
    assert!(e.contains(&tmp.path().display().to_string()), "{e}");
    assert!(
        e.contains("HF_HUB_OFFLINE") && e.contains("--data-dir"),
        "{e}"
    );
}

#[test]
fn unlabelled_rows_and_wrong_columns_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let snap = snapshot_dir(tmp.path(), RepoKind::Dataset, GLUE_DATASET);
    // A train file holding test rows (label -1).
    write_parquet(
        &snap.join("rte/train-00000-of-00001.parquet"),
        &[
            Col::Text("sentence1", vec!["a."]),
            Col::Text("sentence2", vec!["b."]),
            Col::Long("label", vec![-1]),
        ],
    );
    // A file whose columns belong to another task.
    write_parquet(
        &snap.join("qnli/train-00000-of-00001.parquet"),
        &[
            Col::Text("sentence", vec!["a."]),
            Col::Long("label", vec![0]),
        ],
    );
    let hub = DataSource::Hub(HubSource::offline(tmp.path()));
    let e = load(&hub, "rte", Split::Train).unwrap_err().to_string();
    assert!(
        e.contains("rte/train-00000-of-00001.parquet")
            && e.contains("row 1")
            && e.contains("test split"),
        "{e}"
    );
    let e = load(&hub, "qnli", Split::Train).unwrap_err().to_string();
    assert!(e.contains("needs column `question`"), "{e}");
}

/// A WordPiece `tokenizer.json` with the BERT pipeline and a tiny vocabulary: the special
/// tokens, the letters and their `##` continuations, and `.`.
fn tiny_tokenizer_json() -> Value {
    let mut vocab = serde_json::Map::new();
    let mut words: Vec<String> = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "."]
        .iter()
        .map(|s| s.to_string())
        .collect();
    for c in 'a'..='z' {
        words.push(c.to_string());
        words.push(format!("##{c}"));
    }
    for (i, w) in words.iter().enumerate() {
        vocab.insert(w.clone(), json!(i));
    }
    let special = |id: usize, content: &str| {
        json!({"id": id, "content": content, "single_word": false, "lstrip": false,
               "rstrip": false, "normalized": false, "special": true})
    };
    json!({
        "version": "1.0",
        "truncation": null,
        "padding": null,
        "added_tokens": [special(0, "[PAD]"), special(1, "[UNK]"), special(2, "[CLS]"), special(3, "[SEP]")],
        "normalizer": {"type": "BertNormalizer", "clean_text": true, "handle_chinese_chars": true,
                       "strip_accents": null, "lowercase": true},
        "pre_tokenizer": {"type": "BertPreTokenizer"},
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}},
                       {"Sequence": {"id": "A", "type_id": 0}},
                       {"SpecialToken": {"id": "[SEP]", "type_id": 0}}],
            "pair": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}},
                     {"Sequence": {"id": "A", "type_id": 0}},
                     {"SpecialToken": {"id": "[SEP]", "type_id": 0}},
                     {"Sequence": {"id": "B", "type_id": 1}},
                     {"SpecialToken": {"id": "[SEP]", "type_id": 1}}],
            "special_tokens": {
                "[CLS]": {"id": "[CLS]", "ids": [2], "tokens": ["[CLS]"]},
                "[SEP]": {"id": "[SEP]", "ids": [3], "tokens": ["[SEP]"]}
            }
        },
        "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": true},
        "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
                  "max_input_chars_per_word": 100, "vocab": vocab}
    })
}

const MODEL_ID: &str = "fixture-org/tiny-bert";

/// A fixture model snapshot: a tiny random BERT saved with Hugging Face names, its
/// config.json, and a matching tokenizer.json.
fn model_cache(cache: &Path) -> PathBuf {
    let snap = snapshot_dir(cache, RepoKind::Model, MODEL_ID);
    let model = BertForSequenceClassification::random(
        BertConfig::tiny_demo(64),
        HeadKind::Classification { num_labels: 2 },
        &candle_core::Device::Cpu,
        7,
    )
    .unwrap();
    save_hf(&model, &snap, &[], None).unwrap();
    std::fs::write(
        snap.join("tokenizer.json"),
        serde_json::to_string(&tiny_tokenizer_json()).unwrap(),
    )
    .unwrap();
    snap
}

#[test]
fn a_cached_hub_model_resolves_offline_and_loads() {
    let tmp = tempfile::tempdir().unwrap();
    let snap = model_cache(tmp.path());
    let hub = HubSource::offline(tmp.path());
    let dir = resolve_model_dir_with(MODEL_ID, &hub).unwrap();
    assert_eq!(dir, snap);
    let (model, initialised) = BertForSequenceClassification::load_dir(
        &dir,
        HeadKind::Classification { num_labels: 2 },
        &candle_core::Device::Cpu,
        0,
    )
    .unwrap();
    assert!(initialised.is_empty(), "{initialised:?}");
    assert_eq!(model.config().hidden_size, 64);

    // Not cached, offline: a clear error naming the cache and HF_HUB_OFFLINE.
    let e = resolve_model_dir_with("fixture-org/absent", &hub)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("fixture-org/absent") && e.contains("HF_HUB_OFFLINE"),
        "{e}"
    );
    assert!(e.contains(&tmp.path().display().to_string()), "{e}");

    // A snapshot lacking the tokenizer is incomplete: offline, the error names what is missing.
    std::fs::remove_file(snap.join("tokenizer.json")).unwrap();
    let e = resolve_model_dir_with(MODEL_ID, &hub)
        .unwrap_err()
        .to_string();
    assert!(e.contains("tokenizer.json"), "{e}");
}

#[test]
fn headless_training_runs_offline_from_the_hub_cache() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("hub");
    glue_cache(&cache);
    model_cache(&cache);
    let out_dir = tmp.path().join("runs");
    let run = |model: &str| {
        Command::new(env!("CARGO_BIN_EXE_dps-tui"))
            .args([
                "train",
                "--preset",
                "rte",
                "--model",
                model,
                "--headless",
                "--out",
                out_dir.to_str().unwrap(),
                "--set",
                "max_steps=3",
                "--set",
                "batch_size=2",
                "--set",
                "max_seq_length=32",
                "--set",
                "eval_every=3",
            ])
            .env("HF_HUB_CACHE", &cache)
            .env("HF_HUB_OFFLINE", "1")
            .env_remove("HF_HOME")
            .output()
            .expect("run dps-tui")
    };
    let out = run(MODEL_ID);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "dps-tui failed: {stderr}");
    let events: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
        .collect();
    let steps = events.iter().filter(|e| e["event"] == "step").count();
    assert_eq!(steps, 3, "{events:?}");
    let done = events.last().unwrap();
    assert_eq!(done["event"], "done", "{done}");
    let acc = done["metrics"]["accuracy"].as_f64().unwrap();
    // Two dev examples: accuracy is 0, 0.5 or 1.
    assert!([0.0, 0.5, 1.0].contains(&acc), "{acc}");

    // A model that is not cached fails offline, naming the cache folder.
    let out = run("fixture-org/absent");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("HF_HUB_OFFLINE") && stderr.contains(&cache.display().to_string()),
        "{stderr}"
    );
}
