//! A run folder written before the `padding` key existed (its `config.yaml` says
//! `pad_to_max_length: false`) still resumes, and exactly: the alias reads as
//! `padding: longest`, the mode that run trained with.

mod common;

use serde_json::Value;
use std::path::{Path, PathBuf};

fn losses(stdout: &[u8]) -> Vec<(u64, u64)> {
    String::from_utf8_lossy(stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|e| e["event"] == "step")
        .map(|e| {
            (
                e["step"].as_u64().unwrap(),
                e["loss"].as_f64().unwrap().to_bits(),
            )
        })
        .collect()
}

fn only_run(out: &Path) -> PathBuf {
    let runs: Vec<PathBuf> = std::fs::read_dir(out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    assert_eq!(runs.len(), 1, "{runs:?}");
    runs[0].clone()
}

#[test]
fn old_config_with_pad_to_max_length_resumes_exactly() {
    let tmp = tempfile::tempdir().unwrap();
    let a_dir = tmp.path().join("a");
    let a = common::headless_demo(
        &a_dir,
        &[
            "max_steps=16",
            "eval_every=0",
            "keep_last=0",
            "checkpoint_every=8",
            "padding=longest",
        ],
    )
    .output()
    .unwrap();
    assert!(a.status.success(), "{}", String::from_utf8_lossy(&a.stderr));
    let a_run = only_run(&a_dir);

    // The same run as an older version wrote it: `pad_to_max_length` instead of `padding`.
    let b_run = tmp.path().join("b-run");
    std::fs::create_dir_all(b_run.join("checkpoints/step-8")).unwrap();
    let config = std::fs::read_to_string(a_run.join("config.yaml")).unwrap();
    assert!(config.contains("padding: longest"), "{config}");
    let old = config.replace("padding: longest", "pad_to_max_length: false");
    std::fs::write(b_run.join("config.yaml"), old).unwrap();
    for e in std::fs::read_dir(a_run.join("checkpoints/step-8")).unwrap() {
        let e = e.unwrap();
        std::fs::copy(
            e.path(),
            b_run.join("checkpoints/step-8").join(e.file_name()),
        )
        .unwrap();
    }
    let log_dir = tmp.path().join("b-out");
    let b = std::process::Command::new(env!("CARGO_BIN_EXE_dps-tui"))
        .args(["train", "--headless", "--threads", "1", "--out"])
        .arg(&log_dir)
        .arg("--resume")
        .arg(&b_run)
        .output()
        .unwrap();
    assert!(b.status.success(), "{}", String::from_utf8_lossy(&b.stderr));
    let log = std::fs::read_to_string(log_dir.join("dps-tui.log")).unwrap_or_default();
    assert!(
        log.contains("pad_to_max_length") && log.contains("deprecated"),
        "no deprecation warning in the log: {log}"
    );
    let a_tail: Vec<_> = losses(&a.stdout)
        .into_iter()
        .filter(|(s, _)| *s > 8)
        .collect();
    assert_eq!(a_tail.len(), 8);
    assert_eq!(losses(&b.stdout), a_tail, "losses after resume differ");
    let w = |run: &Path| std::fs::read(run.join("checkpoints/step-16/model.safetensors")).unwrap();
    assert_eq!(w(&a_run), w(&b_run), "final weights differ");
}
