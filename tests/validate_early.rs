//! Inputs that cannot work are refused before step 1, each error naming the file, the key or
//! tensor, and the fix: a `max_seq_length` longer than the model's positions, a resume
//! checkpoint whose tensor has another shape, a hand-edited `trainer_state.json`, a sweep
//! grid that makes the same cell twice; and a run killed before its first checkpoint gets one
//! consistent answer from `--resume` and `--run-dir`.

use candle_core::{Device, Tensor};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_dps-tui"))
}

fn demo(out: &Path, dir: &Path, sets: &[&str]) -> Output {
    let mut c = bin();
    c.args(["train", "--preset", "demo", "--headless", "--threads", "1"])
        .arg("--out")
        .arg(out)
        .arg("--run-dir")
        .arg(dir);
    for s in sets {
        c.args(["--set", s]);
    }
    c.output().unwrap()
}

fn resume(out: &Path, dir: &Path) -> Output {
    bin()
        .args(["train", "--headless", "--threads", "1", "--resume"])
        .arg(dir)
        .arg("--out")
        .arg(out)
        .output()
        .unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The steps logged in every `events.jsonl` under `root`.
fn steps_logged(root: &Path) -> usize {
    dps_tui::runs::scan(root)
        .iter()
        .map(|d| {
            std::fs::read_to_string(d.join("events.jsonl"))
                .unwrap_or_default()
                .lines()
                .filter(|l| l.contains(r#""event":"step""#))
                .count()
        })
        .sum()
}

#[test]
fn a_max_seq_length_beyond_the_models_positions_is_refused_before_step_1() {
    let minilm = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/models/all-MiniLM-L6-v2");
    if !minilm.exists() {
        eprintln!("SKIPPED: ../shared not found; the MiniLM check did not run");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let o = bin()
        .args(["train", "--preset", "rte", "--headless", "--threads", "1"])
        .arg("--out")
        .arg(tmp.path())
        .arg("--model")
        .arg(&minilm)
        .arg("--data-dir")
        .arg(minilm.join("../../glue"))
        .args(["--set", "max_seq_length=1024", "--set", "max_steps=2"])
        .output()
        .unwrap();
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{e}");
    assert!(
        e.contains("max_seq_length 1024")
            && e.contains("config.json has 512 positions")
            && e.contains("Fix: --set max_seq_length=512"),
        "{e}"
    );
    assert_eq!(steps_logged(tmp.path()), 0);
}

/// A finished demo run of `steps` steps with a checkpoint every `every`.
fn finished_run(tmp: &Path, steps: usize, every: usize) -> PathBuf {
    let dir = tmp.join("run");
    let o = demo(
        tmp,
        &dir,
        &[
            &format!("max_steps={steps}"),
            &format!("checkpoint_every={every}"),
            "keep_last=0",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    dir
}

#[test]
fn a_checkpoint_tensor_of_another_shape_is_named_with_its_file() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = finished_run(tmp.path(), 4, 2);
    let file = dir.join("checkpoints/step-4/model.safetensors");
    let mut w: HashMap<String, Tensor> =
        candle_core::safetensors::load(&file, &Device::Cpu).unwrap();
    let (key, dims) = w
        .iter()
        .filter(|(_, t)| t.dims().len() == 2 && t.dims()[0] != t.dims()[1])
        .map(|(k, t)| (k.clone(), t.dims().to_vec()))
        .min()
        .expect("a non-square matrix");
    let wrong = Tensor::zeros((dims[1], dims[0]), candle_core::DType::F32, &Device::Cpu).unwrap();
    w.insert(key.clone(), wrong);
    candle_core::safetensors::save(&w, &file).unwrap();
    let o = resume(tmp.path(), &dir);
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{e}");
    let want = format!(
        "{}: tensor `{key}` has shape [{}, {}], but the model needs [{}, {}]",
        file.display(),
        dims[1],
        dims[0],
        dims[0],
        dims[1]
    );
    assert!(e.contains(&want), "{want}\n{e}");
    assert!(e.contains("Fix:"), "{e}");
    assert_eq!(e.matches("has shape").count(), 1, "said once: {e}");
}

#[test]
fn a_hand_edited_trainer_state_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = finished_run(tmp.path(), 4, 2);
    let state = dir.join("checkpoints/step-4/trainer_state.json");
    let text = std::fs::read_to_string(&state).unwrap();
    assert!(text.contains(r#""step": 4"#), "{text}");
    std::fs::write(&state, text.replace(r#""step": 4"#, r#""step": 250"#)).unwrap();
    let o = resume(tmp.path(), &dir);
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{e}");
    assert!(
        e.contains(&format!(
            "{}: says step 250, but it belongs to the checkpoint of step 4",
            state.display()
        )) && e.contains("Fix:"),
        "{e}"
    );
}

#[test]
fn a_grid_that_makes_one_cell_twice_is_refused_before_anything_runs() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(
        tmp.path().join("grid.yaml"),
        "preset: demo\nset:\n  max_steps: 2\ngrid:\n  seed: [1, 1]\n",
    )
    .unwrap();
    let o = bin()
        .args(["sweep", "grid.yaml", "--out", "root"])
        .current_dir(tmp.path())
        .output()
        .unwrap();
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{e}");
    assert!(
        e.contains("grid.yaml") && e.contains("`seed=1` twice") && e.contains("Fix:"),
        "{e}"
    );
    assert!(!tmp.path().join("root/seed=1").exists());
}

#[test]
fn a_run_killed_before_its_first_checkpoint_is_started_again_not_resumed() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    // A run folder as a kill before the first checkpoint leaves it: config, log, no checkpoint.
    let o = demo(tmp.path(), &dir, &["max_steps=3", "checkpoint_every=0"]);
    assert!(o.status.success(), "{}", stderr(&o));
    std::fs::remove_dir_all(dir.join("checkpoints")).unwrap();
    std::fs::create_dir_all(dir.join("checkpoints")).unwrap();
    let e = stderr(&resume(tmp.path(), &dir));
    let rm = format!("rm -r {}", dir.display());
    assert!(
        e.contains("no complete checkpoint") && e.contains(&rm) && e.contains("--run-dir"),
        "{e}"
    );
    let o = demo(tmp.path(), &dir, &["max_steps=3"]);
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{e}");
    assert!(
        e.contains("stopped before its first checkpoint")
            && e.contains(&rm)
            && !e.contains("--resume"),
        "{e}"
    );
    // Deleted as told, the folder takes the run again.
    std::fs::remove_dir_all(&dir).unwrap();
    let o = demo(tmp.path(), &dir, &["max_steps=3"]);
    assert!(o.status.success(), "{}", stderr(&o));
}
