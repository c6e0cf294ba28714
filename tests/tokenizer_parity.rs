//! `TextEncoder` against Hugging Face's tokenizer output stored in
//! `../shared/reference/minilm/expected.json` (truncation=True, max_length=128, no padding).

mod common;

use dps_tui::data::glue::{Dataset, Example, Label, Split};
use dps_tui::data::{task, TextEncoder};
use serde_json::Value;
use std::path::{Path, PathBuf};

fn shared() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared");
    if dir.join("reference/minilm/expected.json").is_file()
        && dir.join("models/all-MiniLM-L6-v2/tokenizer.json").is_file()
    {
        Some(dir)
    } else {
        common::skipped(&format!(
            "../shared not found ({}); tokenizer parity did not run",
            dir.display()
        ));
        None
    }
}

fn u32s(v: &Value) -> Vec<u32> {
    v.as_array()
        .expect("a JSON list")
        .iter()
        .map(|x| x.as_u64().expect("an integer") as u32)
        .collect()
}

struct Item {
    a: String,
    b: Option<String>,
    ids: Vec<u32>,
    types: Vec<u32>,
    mask: Vec<u32>,
}

fn items(dir: &Path) -> Vec<Item> {
    let text = std::fs::read_to_string(dir.join("reference/minilm/expected.json")).unwrap();
    let json: Value = serde_json::from_str(&text).unwrap();
    json["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|it| {
            let (a, b) = match it["kind"].as_str().unwrap() {
                "sentence" => (it["text"].as_str().unwrap().to_string(), None),
                "pair" => (
                    it["text_a"].as_str().unwrap().to_string(),
                    Some(it["text_b"].as_str().unwrap().to_string()),
                ),
                k => panic!("unknown kind {k}"),
            };
            Item {
                a,
                b,
                ids: u32s(&it["input_ids"]),
                types: u32s(&it["token_type_ids"]),
                mask: u32s(&it["attention_mask"]),
            }
        })
        .collect()
}

fn encoder(dir: &Path) -> TextEncoder {
    TextEncoder::from_file(&dir.join("models/all-MiniLM-L6-v2/tokenizer.json"), 128).unwrap()
}

#[test]
fn encode_pair_matches_hugging_face() {
    let Some(dir) = shared() else { return };
    let enc = encoder(&dir);
    assert_eq!(enc.vocab_size(), 30522);
    let items = items(&dir);
    assert_eq!(items.len(), 9);
    assert!(items.iter().any(|i| i.b.is_some()), "pairs are covered");
    let long = items.iter().filter(|i| i.ids.len() == 128).count();
    assert_eq!(long, 1, "the truncated long sentence is covered");
    for it in &items {
        let got = enc.encode_pair(&it.a, it.b.as_deref()).unwrap();
        assert_eq!(got.ids, it.ids, "ids of {:?} / {:?}", it.a, it.b);
        assert_eq!(
            got.type_ids, it.types,
            "type ids of {:?} / {:?}",
            it.a, it.b
        );
        // No padding: every reference token is real.
        assert!(it.mask.iter().all(|&m| m == 1));
        assert_eq!(got.ids.len(), it.mask.len());
    }
}

#[test]
fn encode_dataset_matches_hugging_face() {
    let Some(dir) = shared() else { return };
    let enc = encoder(&dir);
    let items = items(&dir);
    for pairs in [false, true] {
        let selected: Vec<&Item> = items.iter().filter(|i| i.b.is_some() == pairs).collect();
        let ds = Dataset {
            task: task(if pairs { "rte" } else { "sst2" }).unwrap(),
            split: Split::Dev,
            examples: selected
                .iter()
                .enumerate()
                .map(|(k, i)| Example {
                    text_a: i.a.clone(),
                    text_b: i.b.clone(),
                    label: Label::Class(k % 2),
                })
                .collect(),
            source: "expected.json".into(),
        };
        let out = enc.encode_dataset(&ds).unwrap();
        assert_eq!(out.items.len(), selected.len());
        for (k, (got, want)) in out.items.iter().zip(&selected).enumerate() {
            assert_eq!(got.ids, want.ids, "ids of {:?}", want.a);
            assert_eq!(got.type_ids, want.types, "type ids of {:?}", want.a);
            assert_eq!(got.label, Label::Class(k % 2), "labels keep their order");
        }
    }
}

#[test]
fn truncation_counts_special_tokens_for_pairs() {
    let Some(dir) = shared() else { return };
    let enc =
        TextEncoder::from_file(&dir.join("models/all-MiniLM-L6-v2/tokenizer.json"), 16).unwrap();
    let long = "word ".repeat(50);
    let e = enc.encode_pair(&long, Some("a short one")).unwrap();
    assert_eq!(e.ids.len(), 16);
    assert_eq!(e.ids[0], 101);
    assert_eq!(*e.ids.last().unwrap(), 102);
    // Longest-first keeps the short second text whole: "a short one" [SEP] = 4 tokens of type 1.
    assert_eq!(e.type_ids.iter().filter(|&&t| t == 1).count(), 4);
}

#[test]
fn missing_tokenizer_names_the_path() {
    let msg = TextEncoder::from_file(Path::new("/nonexistent/tokenizer.json"), 128)
        .err()
        .unwrap()
        .to_string();
    assert!(msg.contains("/nonexistent/tokenizer.json"), "{msg}");
}
