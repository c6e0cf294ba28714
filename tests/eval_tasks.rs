//! Out-of-domain evaluation end to end on the real MiniLM: a run trained on SICK is scored on
//! RTE through the default label map, each eval task's metrics named `<task>/<metric>`; `eval
//! --task rte` on its checkpoint gives the same figure; an eval task whose files are missing is
//! named in a warning and left out; `stage_steps_from: epoch` shortens the DPS stages.

mod common;

use common::skipped;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

fn shared() -> Option<(PathBuf, PathBuf, PathBuf)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared");
    let model = root.join("models/all-MiniLM-L6-v2");
    let glue = root.join("glue");
    let nli = root.join("nli");
    (model.is_dir() && glue.join("RTE").is_dir() && nli.join("SICK/SICK.txt").is_file())
        .then_some((model, glue, nli))
}

fn events(run: &Path) -> Vec<Value> {
    std::fs::read_to_string(run.join("events.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn only_run(out: &Path) -> PathBuf {
    let dirs: Vec<PathBuf> = std::fs::read_dir(out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    dirs[0].clone()
}

fn train(out: &Path, model: &Path, glue: &Path, nli: &Path, sets: &[&str]) -> PathBuf {
    let mut c = Command::new(env!("CARGO_BIN_EXE_dps-tui"));
    c.args(["train", "--headless", "--threads", "1", "--out"])
        .arg(out)
        .arg("--model")
        .arg(model)
        .arg("--data-dir")
        .arg(glue)
        .args(["--set", &format!("nli_dir={}", nli.display())]);
    for s in [
        "task=sick",
        "method=vanilla",
        "train_size=32",
        "max_steps=2",
        "max_seq_length=64",
    ]
    .iter()
    .chain(sets)
    {
        c.args(["--set", s]);
    }
    let o = c.output().unwrap();
    assert!(
        o.status.success(),
        "train failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    only_run(out)
}

#[test]
fn a_sick_run_is_scored_on_rte_through_the_label_map() {
    let Some((model, glue, nli)) = shared() else {
        return skipped("../shared (MiniLM, GLUE RTE, SICK) is missing");
    };
    let tmp = std::env::temp_dir().join(format!("dps-eval-tasks-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    let run = train(
        &tmp.join("a"),
        &model,
        &glue,
        &nli,
        &["eval_tasks=[sick, rte, scitail]"],
    );
    let ev = events(&run);
    let last_eval = ev
        .iter()
        .rev()
        .find(|e| e["event"] == "eval")
        .expect("an eval event");
    let m = &last_eval["metrics"];
    // SICK is the training task: its own dev metrics, copied under its name.
    assert_eq!(m["sick/accuracy"], m["accuracy"], "{m}");
    let rte = m["rte/accuracy"].as_f64().expect("rte/accuracy");
    assert!((0.0..=1.0).contains(&rte), "{m}");
    // RTE's dev set has 277 pairs: the accuracy is a multiple of 1/277.
    assert!(
        ((rte * 277.0) - (rte * 277.0).round()).abs() < 1e-6,
        "{rte}"
    );
    assert!(
        m.get("rte/loss").is_none(),
        "no loss across label sets: {m}"
    );
    // SciTail is not in ../shared/nli: named in a warning, absent from the metrics.
    assert!(m.get("scitail/accuracy").is_none(), "{m}");
    let warned = ev.iter().any(|e| {
        e["event"] == "warning"
            && e["message"]
                .as_str()
                .is_some_and(|s| s.contains("scitail") && s.contains("left out"))
    });
    assert!(warned, "a warning names scitail");

    // `eval --task rte` on the run's checkpoint: the same map, the same figure.
    let o = Command::new(env!("CARGO_BIN_EXE_dps-tui"))
        .args(["eval", "--task", "rte", "--checkpoint"])
        .arg(&run)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let line: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        line["metrics"]["rte/accuracy"].as_f64(),
        Some(rte),
        "{line}"
    );
    assert!(
        line["metrics"].get("accuracy").is_none(),
        "only RTE: {line}"
    );
    std::fs::remove_dir_all(&tmp).unwrap();
}

#[test]
fn epoch_based_stages_are_a_share_of_one_epoch() {
    let Some((model, glue, nli)) = shared() else {
        return skipped("../shared (MiniLM, GLUE RTE, SICK) is missing");
    };
    let tmp = std::env::temp_dir().join(format!("dps-stage-epoch-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    // 320 examples = 20 steps an epoch. With update_ratio 0.25 the stages are
    // floor(20 × 0.25) = 5 steps from one epoch, not floor(2 × 0.25) → 1 from the 2 steps run.
    let run = train(
        &tmp.join("b"),
        &model,
        &glue,
        &nli,
        &[
            "method=dps-dense",
            "train_size=320",
            "update_ratio=0.25",
            "stage_steps_from=epoch",
        ],
    );
    let stage = events(&run)
        .into_iter()
        .find(|e| e["event"] == "stage")
        .expect("a stage event");
    assert_eq!(stage["update_steps"], 5, "{stage}");
    std::fs::remove_dir_all(&tmp).unwrap();
}
