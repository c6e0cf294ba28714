//! The real binary in headless mode: the event stream, the run folder, exact resume, a crash
//! with `kill -9`, and clear errors for bad input.

mod common;

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_dps-tui"))
}

fn run_ok(args: &[&str]) -> Output {
    let out = bin().args(args).output().expect("run dps-tui");
    assert!(
        out.status.success(),
        "dps-tui {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn events(stdout: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
        .collect()
}

fn only_run(out: &Path) -> PathBuf {
    let mut runs: Vec<PathBuf> = std::fs::read_dir(out)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    runs.sort();
    assert_eq!(runs.len(), 1, "{runs:?}");
    runs.pop().unwrap()
}

#[test]
fn demo_run_streams_every_event_kind_and_logs_the_same() {
    let tmp = tempfile::tempdir().unwrap();
    let out_dir = tmp.path().to_str().unwrap();
    let out = run_ok(&[
        "train",
        "--preset",
        "demo",
        "--headless",
        "--out",
        out_dir,
        "--set",
        "max_steps=40",
        "--set",
        "eval_every=20",
        "--set",
        "update_ratio=0.1",
    ]);
    let ev = events(&out.stdout);
    let kinds: Vec<&str> = ev.iter().map(|e| e["event"].as_str().unwrap()).collect();
    for k in [
        "start",
        "step",
        "stage",
        "selection",
        "eval",
        "checkpoint",
        "done",
    ] {
        assert!(kinds.contains(&k), "no `{k}` event in {kinds:?}");
    }
    let steps: Vec<&Value> = ev.iter().filter(|e| e["event"] == "step").collect();
    assert_eq!(steps.len(), 40);
    for (i, s) in steps.iter().enumerate() {
        assert_eq!(s["step"].as_u64(), Some(i as u64 + 1));
        assert!(s["loss"].as_f64().unwrap().is_finite());
        assert!(s["lr"].as_f64().is_some() && s["examples_per_sec"].as_f64().unwrap() > 0.0);
    }
    // Stages of floor(40 · 0.1) = 4 steps, alternating full and subnet.
    let stages: Vec<(u64, String, u64)> = ev
        .iter()
        .filter(|e| e["event"] == "stage")
        .map(|e| {
            (
                e["stage"].as_u64().unwrap(),
                e["kind"].as_str().unwrap().to_string(),
                e["step"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(stages.len(), 10);
    for (i, (k, kind, step)) in stages.iter().enumerate() {
        assert_eq!(*k, i as u64 + 1);
        assert_eq!(*step, 4 * i as u64 + 1);
        assert_eq!(kind, if k % 2 == 1 { "full" } else { "subnet" });
    }
    // Every matrix keeps ceil(N·0.7) elements (ties may add a few).
    let sel: Vec<&Value> = ev.iter().filter(|e| e["event"] == "selection").collect();
    assert_eq!(sel.len(), 5);
    for s in &sel {
        let ms = s["matrices"].as_array().unwrap();
        assert!(ms.len() >= 14, "{}", ms.len());
        for m in ms {
            let shape: Vec<u64> = m["shape"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_u64().unwrap())
                .collect();
            let n = (shape[0] * shape[1]) as f64;
            let want = (n * 0.7).ceil() / n;
            let got = m["selected_fraction"].as_f64().unwrap();
            assert!(
                got >= want - 1e-9 && got <= want + 0.01,
                "{}: {got} vs {want}",
                m["name"]
            );
        }
    }
    let done = ev.last().unwrap();
    assert_eq!(done["event"], "done");
    assert!(done["metrics"]["accuracy"].as_f64().is_some());
    // The run folder: config, the same events in events.jsonl, a complete checkpoint.
    let run = only_run(tmp.path());
    assert!(run.join("config.yaml").exists());
    let logged = std::fs::read_to_string(run.join("events.jsonl")).unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(logged, stdout, "events.jsonl and stdout differ");
    let ck = run.join("checkpoints/step-40");
    for f in [
        "model.safetensors",
        "config.json",
        "optimizer.safetensors",
        "strategy.safetensors",
        "trainer_state.json",
    ] {
        assert!(ck.join(f).exists(), "{f} missing in {}", ck.display());
    }
}

fn losses(ev: &[Value]) -> Vec<(u64, u64)> {
    ev.iter()
        .filter(|e| e["event"] == "step")
        .map(|e| {
            (
                e["step"].as_u64().unwrap(),
                e["loss"].as_f64().unwrap().to_bits(),
            )
        })
        .collect()
}

fn final_weights(run: &Path, step: usize) -> Vec<u8> {
    std::fs::read(run.join(format!("checkpoints/step-{step}/model.safetensors"))).unwrap()
}

/// Resume from a checkpoint taken in the middle of a subnetwork stage gives bit-identical
/// losses and final weights, for every method.
#[test]
fn resume_is_exact_for_every_method() {
    for method in [
        "vanilla",
        "dps-dense",
        "dps-mix",
        "child-tuning-f",
        "child-tuning-d",
    ] {
        let tmp = tempfile::tempdir().unwrap();
        let common = |out: &str| -> Vec<String> {
            [
                "train",
                "--preset",
                "demo",
                "--headless",
                "--out",
                out,
                "--threads",
                "1",
                "--set",
                "max_steps=24",
                "--set",
                "update_ratio=0.125",
                "--set",
                "eval_every=0",
                "--set",
                "keep_last=0",
                "--set",
            ]
            .iter()
            .map(|s| s.to_string())
            .chain([format!("method={method}")])
            .collect()
        };
        // Uninterrupted, with a checkpoint at step 11: stages of 3 steps, so step 11 is the
        // second step of subnetwork stage 4 (steps 10-12).
        let a_dir = tmp.path().join("a");
        let mut args = common(a_dir.to_str().unwrap());
        args.extend(["--set".into(), "checkpoint_every=11".into()]);
        let a = run_ok(&args.iter().map(|s| s.as_str()).collect::<Vec<_>>());
        let a_ev = events(&a.stdout);
        let a_run = only_run(&a_dir);
        // Interrupted: the same run, cut after the step-11 checkpoint, then resumed.
        let b_run = tmp.path().join("b-run");
        std::fs::create_dir_all(b_run.join("checkpoints")).unwrap();
        std::fs::copy(a_run.join("config.yaml"), b_run.join("config.yaml")).unwrap();
        copy_dir(
            &a_run.join("checkpoints/step-11"),
            &b_run.join("checkpoints/step-11"),
        );
        let b = run_ok(&[
            "train",
            "--resume",
            b_run.to_str().unwrap(),
            "--headless",
            "--threads",
            "1",
        ]);
        let b_ev = events(&b.stdout);
        let a_tail: Vec<_> = losses(&a_ev).into_iter().filter(|(s, _)| *s > 11).collect();
        assert_eq!(
            losses(&b_ev),
            a_tail,
            "{method}: losses after resume differ"
        );
        assert_eq!(
            final_weights(&a_run, 24),
            final_weights(&b_run, 24),
            "{method}: final weights differ"
        );
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

/// The highest step of a complete checkpoint in the only run folder under `out`, if any.
fn latest_checkpoint(out: &Path) -> Option<usize> {
    let run = std::fs::read_dir(out)
        .ok()?
        .filter_map(|e| Some(e.ok()?.path()))
        .find(|p| p.is_dir())?;
    std::fs::read_dir(run.join("checkpoints"))
        .ok()?
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("trainer_state.json").exists())
        .filter_map(|e| e.file_name().to_str()?.strip_prefix("step-")?.parse().ok())
        .max()
}

#[test]
fn kill_9_then_resume_reaches_the_same_weights() {
    const STEPS: usize = 400;
    let tmp = tempfile::tempdir().unwrap();
    let max_steps = format!("max_steps={STEPS}");
    let run = |out: &Path| {
        common::headless_demo(out, &[&max_steps, "checkpoint_every=10", "eval_every=0"])
    };
    let full_dir = tmp.path().join("full");
    let o = run(&full_dir).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let full = only_run(&full_dir);

    let crash_dir = tmp.path().join("crash");
    let mut child = run(&crash_dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Kill -9 as soon as a checkpoint at step 20 or later is complete: far from the end of
    // the run, so the kill really interrupts it (asserted below from the log).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(300);
    while latest_checkpoint(&crash_dir).is_none_or(|s| s < 20) {
        assert!(
            std::time::Instant::now() < deadline,
            "no checkpoint at step 20 within 300 s"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let crashed = only_run(&crash_dir);
    // The log is valid JSONL up to a possibly torn last line.
    let text = std::fs::read_to_string(crashed.join("events.jsonl")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    for l in &lines[..lines.len() - 1] {
        serde_json::from_str::<Value>(l).unwrap();
    }
    let events: Vec<Value> = lines
        .iter()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .collect();
    assert!(
        !events.iter().any(|e| e["event"] == "done"),
        "the run finished before the kill: nothing was interrupted"
    );
    let logged_steps = events.iter().filter(|e| e["event"] == "step").count();
    assert!(
        (20..STEPS).contains(&logged_steps),
        "{logged_steps} steps logged before the kill"
    );
    run_ok(&[
        "train",
        "--resume",
        crashed.to_str().unwrap(),
        "--headless",
        "--threads",
        "1",
    ]);
    assert_eq!(final_weights(&full, STEPS), final_weights(&crashed, STEPS));
}

fn run_err(args: &[&str]) -> String {
    let out = bin().args(args).output().unwrap();
    assert!(!out.status.success(), "dps-tui {args:?} should fail");
    String::from_utf8_lossy(&out.stderr).to_string()
}

#[test]
fn bad_input_gives_clear_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().to_str().unwrap();
    // An unknown key.
    let e = run_err(&[
        "train",
        "--preset",
        "demo",
        "--headless",
        "--out",
        out,
        "--set",
        "learning_rat=1",
    ]);
    assert!(
        e.contains("learning_rat") && e.contains("learning_rate"),
        "{e}"
    );
    // A wrong key in a preset file names the file.
    let bad = tmp.path().join("bad.yaml");
    std::fs::write(&bad, "task: rte\nbatch_sise: 16\n").unwrap();
    let e = run_err(&[
        "train",
        "--preset",
        bad.to_str().unwrap(),
        "--headless",
        "--out",
        out,
    ]);
    assert!(e.contains("bad.yaml") && e.contains("batch_sise"), "{e}");
    // A missing model folder.
    let e = run_err(&[
        "train",
        "--preset",
        "rte",
        "--headless",
        "--out",
        out,
        "--model",
        "./no/such/model",
    ]);
    assert!(e.contains("no/such/model"), "{e}");
    // A corrupt safetensors file names the file.
    let m = tmp.path().join("broken-model");
    std::fs::create_dir_all(&m).unwrap();
    std::fs::write(
        m.join("config.json"),
        r#"{"model_type":"bert","vocab_size":100,"hidden_size":8,"num_hidden_layers":1,"num_attention_heads":2,"intermediate_size":16,"hidden_act":"gelu","max_position_embeddings":16,"type_vocab_size":2,"layer_norm_eps":1e-12}"#,
    )
    .unwrap();
    std::fs::write(
        m.join("model.safetensors"),
        b"this is not a safetensors file",
    )
    .unwrap();
    let e = run_err(&[
        "train",
        "--preset",
        "rte",
        "--headless",
        "--out",
        out,
        "--model",
        m.to_str().unwrap(),
    ]);
    assert!(e.contains("model.safetensors"), "{e}");
}

#[test]
fn real_glue_errors_name_file_and_line() {
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/models/all-MiniLM-L6-v2");
    if !shared.exists() {
        common::skipped("../shared not found; real-model error tests did not run");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().to_str().unwrap();
    // A malformed TSV row: the error names the file and line.
    let data = tmp.path().join("glue/RTE");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(
        data.join("train.tsv"),
        "index\tsentence1\tsentence2\tlabel\n0\ta\tb\tentailment\n1\tonly two fields\n",
    )
    .unwrap();
    std::fs::write(
        data.join("dev.tsv"),
        "index\tsentence1\tsentence2\tlabel\n0\ta\tb\tentailment\n",
    )
    .unwrap();
    let e = run_err(&[
        "train",
        "--preset",
        "rte",
        "--headless",
        "--out",
        out,
        "--model",
        shared.to_str().unwrap(),
        "--data-dir",
        tmp.path().join("glue").to_str().unwrap(),
    ]);
    assert!(e.contains("train.tsv") && e.contains(":3"), "{e}");
    // A tokenizer that does not match the model's vocabulary: the tiny reference BERT
    // (vocab 1000) with MiniLM's tokenizer (30522 tokens).
    let tiny = shared.join("../../reference/tiny-bert");
    let m = tmp.path().join("mismatched-model");
    std::fs::create_dir_all(&m).unwrap();
    std::os::unix::fs::symlink(tiny.join("config.json"), m.join("config.json")).unwrap();
    std::os::unix::fs::symlink(tiny.join("model.safetensors"), m.join("model.safetensors"))
        .unwrap();
    std::os::unix::fs::symlink(shared.join("tokenizer.json"), m.join("tokenizer.json")).unwrap();
    let e = run_err(&[
        "train",
        "--preset",
        "rte",
        "--headless",
        "--out",
        out,
        "--model",
        m.to_str().unwrap(),
        "--data-dir",
        "../shared/glue",
    ]);
    assert!(
        e.contains("tokenizer") && e.contains("vocab_size 1000"),
        "{e}"
    );
}
