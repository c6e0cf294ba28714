//! A SentencePiece `spm.model` (DeBERTa-v2/v3's tokenizer file) converted in Rust against
//! `transformers`' `DebertaV2TokenizerFast` converted from the same file: the ids and type ids
//! of every example of the GLUE dev sets of CoLA, MRPC, STS-B, RTE and WNLI (pairs where the
//! task has two sentences, truncation to 128 tokens), for DeBERTa-v3's `tokenizer_config.json`
//! and with `do_lower_case` and `split_by_punct` on. The expectations
//! (`tests/fixtures/spm/glue-dev-ids.json`) and the model come from
//! `scripts/fixtures/hub-repo-fixtures.py`; the dev sets are read from `../shared/glue`.

mod common;

use dps_tui::data::glue::Split;
use dps_tui::data::{load_split, task, TextEncoder};
use serde_json::Value;
use std::path::{Path, PathBuf};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// `../shared/glue`, or `None` (with a SKIPPED line on the terminal) outside CI when it is
/// missing; under CI (`CI` set) its absence is a failure.
fn glue_dir() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/glue");
    if dir.is_dir() {
        return Some(dir);
    }
    common::skipped(&format!(
        "{} not found; spm.model parity on the GLUE dev sets did not run",
        dir.display()
    ));
    None
}

/// 64-bit FNV-1a of the ids and type ids as little-endian u32s, separated by 0xffffffff (as
/// the fixture script computes it).
fn fnv(ids: &[u32], types: &[u32]) -> String {
    let mut h: u64 = 0xcbf29ce484222325;
    for v in ids.iter().chain(&[u32::MAX]).chain(types) {
        for b in v.to_le_bytes() {
            h = (h ^ u64::from(b)).wrapping_mul(0x100000001b3);
        }
    }
    format!("{h:016x}")
}

fn u32s(v: &Value) -> Vec<u32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as u32)
        .collect()
}

#[test]
fn spm_model_gives_transformers_ids_on_glue_dev() {
    let Some(glue) = glue_dir() else { return };
    let fx = fixtures();
    let json: Value =
        serde_json::from_str(&std::fs::read_to_string(fx.join("spm/glue-dev-ids.json")).unwrap())
            .unwrap();
    let spm = fx.join(json["spm_model"].as_str().unwrap());
    let max_len = json["max_length"].as_u64().unwrap() as usize;
    let mut report = Vec::new();
    let mut checked = 0usize;
    for cfg in json["configs"].as_array().unwrap() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::copy(&spm, tmp.path().join("spm.model")).unwrap();
        std::fs::write(
            tmp.path().join("tokenizer_config.json"),
            cfg["tokenizer_config"].to_string(),
        )
        .unwrap();
        let enc = TextEncoder::from_file(&tmp.path().join("spm.model"), max_len).unwrap();
        for (name, want) in cfg["tasks"].as_object().unwrap() {
            let ds = load_split(&glue, task(name).unwrap(), Split::Dev).unwrap();
            assert_eq!(
                ds.examples.len() as u64,
                want["count"].as_u64().unwrap(),
                "{name}: example count"
            );
            let got = enc.encode_dataset(&ds).unwrap();
            let hashes: Vec<&str> = want["hashes"].as_str().unwrap().split(' ').collect();
            let full = want["full"].as_array().unwrap();
            for (i, (item, ex)) in got.items.iter().zip(&ds.examples).enumerate() {
                if i < full.len() {
                    let (ids, types) = (u32s(&full[i]["ids"]), u32s(&full[i]["type_ids"]));
                    assert_eq!(fnv(&ids, &types), hashes[i], "{name} #{i}: the hash itself");
                    assert_eq!(item.ids, ids, "{name} #{i}: ids");
                    assert_eq!(item.type_ids, types, "{name} #{i}: types");
                }
                if fnv(&item.ids, &item.type_ids) != hashes[i] {
                    report.push(format!(
                        "{} {name} #{i}: {:?} / {:?} -> {:?}",
                        cfg["tokenizer_config"], ex.text_a, ex.text_b, item.ids
                    ));
                }
                checked += 1;
            }
        }
    }
    assert!(checked > 6000, "{checked} examples checked");
    assert!(
        report.is_empty(),
        "{} of {checked} examples differ from transformers:\n{}",
        report.len(),
        report[..report.len().min(20)].join("\n")
    );
}
