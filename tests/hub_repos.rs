//! Checkpoints as the Hugging Face Hub ships them: one fixture folder per published encoder
//! (`tests/fixtures/hub-repos`, made by `scripts/fixtures/hub-repo-fixtures.py`) with that repository's
//! file set and config, scaled down, and tiny random weights in its format (model.safetensors,
//! a zip or legacy pytorch_model.bin; tokenizer.json or spm.model). For each: the files chosen
//! from the published listing, the folder taken from a Hub cache, the tokenizer's ids and the
//! last hidden state of a sentence pair against `transformers`.

use candle_core::{Device, Tensor};
use dps_tui::data::tokenize::tokenizer_file;
use dps_tui::data::TextEncoder;
use dps_tui::hub::{HubSource, RepoKind};
use dps_tui::model::inputs::ModelInput;
use dps_tui::model::{files, loader, HeadKind};
use serde_json::Value;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/hub-repos")
}

fn records() -> Vec<Value> {
    let text = std::fs::read_to_string(root().join("repos.json")).unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    v.as_array().unwrap().clone()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap().to_string())
        .collect()
}

fn u32s(v: &Value) -> Vec<u32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as u32)
        .collect()
}

const REPOS: [&str; 6] = [
    "bert-large-cased",
    "roberta-large",
    "google/electra-large-discriminator",
    "microsoft/deberta-v3-large",
    "distilbert-base-uncased",
    "answerdotai/ModernBERT-large",
];

#[test]
fn every_published_file_set_is_present() {
    let repos: Vec<String> = records()
        .iter()
        .map(|r| r["repo"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(repos, REPOS);
}

#[test]
fn the_files_chosen_from_each_listing_are_in_the_folder() {
    for r in records() {
        let repo = r["repo"].as_str().unwrap();
        let dir = root().join(r["folder"].as_str().unwrap());
        let chosen = files::choose(&strings(&r["listing"])).unwrap();
        assert_eq!(chosen, strings(&r["chosen"]), "{repo}");
        for f in &chosen {
            assert!(dir.join(f).is_file(), "{repo}: {f}");
        }
        assert!(files::missing_in(&dir).is_empty(), "{repo}");
    }
}

#[test]
fn a_hub_cache_holding_the_chosen_files_is_used_offline() {
    let tmp = tempfile::tempdir().unwrap();
    let hub = HubSource::offline(tmp.path());
    for r in records() {
        let repo = r["repo"].as_str().unwrap();
        let dir = root().join(r["folder"].as_str().unwrap());
        let cache = hub.repo_dir(RepoKind::Model, repo);
        let snap = cache.join("snapshots/0123abcd");
        std::fs::create_dir_all(&snap).unwrap();
        std::fs::create_dir_all(cache.join("refs")).unwrap();
        std::fs::write(cache.join("refs/main"), "0123abcd").unwrap();
        for f in strings(&r["chosen"]) {
            std::fs::copy(dir.join(&f), snap.join(&f)).unwrap();
        }
        assert_eq!(hub.model_dir(repo).unwrap(), snap, "{repo}");
    }
}

#[test]
fn each_published_file_set_tokenizes_and_runs_like_transformers() {
    for r in records() {
        let repo = r["repo"].as_str().unwrap();
        let dir = root().join(r["folder"].as_str().unwrap());
        let tok = tokenizer_file(&dir).unwrap();
        let encoder = TextEncoder::from_file(&tok, 128).unwrap();
        let enc = encoder
            .encode_pair(
                r["text_a"].as_str().unwrap(),
                Some(r["text_b"].as_str().unwrap()),
            )
            .unwrap();
        assert_eq!(enc.ids, u32s(&r["input_ids"]), "{repo}: ids");
        // Families without token types: transformers' tokenizer returns none.
        if !r["token_type_ids"].is_null() {
            assert_eq!(enc.type_ids, u32s(&r["token_type_ids"]), "{repo}: type ids");
        }

        let (model, _head) = loader::load_dir(
            &dir,
            HeadKind::Classification { num_labels: 2 },
            &Device::Cpu,
            0,
        )
        .unwrap_or_else(|e| panic!("{repo}: {e}"));
        assert!(encoder.vocab_size() <= model.vocab_size(), "{repo}");
        let n = enc.ids.len();
        let ids = Tensor::from_vec(enc.ids.clone(), (1, n), &Device::Cpu).unwrap();
        let types = Tensor::from_vec(enc.type_ids.clone(), (1, n), &Device::Cpu).unwrap();
        let mask = Tensor::ones((1, n), candle_core::DType::U32, &Device::Cpu).unwrap();
        let input = ModelInput::Padded {
            input_ids: &ids,
            token_type_ids: &types,
            attention_mask: &mask,
        };
        let out = model.forward_input(&input, None, None).unwrap();
        let last = out.hidden_states.last().unwrap();
        let shape: Vec<usize> = u32s(&r["hidden_shape"])
            .into_iter()
            .map(|x| x as usize)
            .collect();
        assert_eq!(last.dims()[1..], shape[..], "{repo}: hidden shape");
        let got: Vec<f32> = last.flatten_all().unwrap().to_vec1().unwrap();
        let want: Vec<f32> = r["last_hidden"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap() as f32)
            .collect();
        let worst = got
            .iter()
            .zip(&want)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        assert!(
            worst < 1e-4,
            "{repo}: max |hidden - transformers| = {worst}"
        );
        let logits = out.logits.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        assert!(
            logits.len() == 2 && logits.iter().all(|x| x.is_finite()),
            "{repo}"
        );
    }
}
