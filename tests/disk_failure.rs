//! A checkpoint that cannot be written. The obstacle is a file sitting where the checkpoint's
//! temporary folder must be created: unlike a read-only folder, this fails even for root.
//! Headless training stops cleanly; the trainer in the TUI's mode pauses and goes on once the
//! obstacle is gone. Either way the previous checkpoint stays intact.

mod common;

use crossbeam_channel::unbounded;
use dps_tui::config;
use dps_tui::core::events::{Command as TrainCommand, Event};
use dps_tui::runs::checkpoint::RunCheckpointer;
use dps_tui::runs::RunDir;
use dps_tui::train::setup::build_trainer;
use dps_tui::train::trainer::OnFailure;
use serde_json::Value;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_dps-tui"))
}

fn read(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn headless_run_stops_cleanly_when_a_checkpoint_cannot_be_written() {
    let tmp = tempfile::tempdir().unwrap();
    // A finished 10-step run with its checkpoint at step 10.
    let a_dir = tmp.path().join("a");
    let o = common::headless_demo(
        &a_dir,
        &["max_steps=10", "checkpoint_every=10", "eval_every=0"],
    )
    .output()
    .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // The run folder (the output folder also holds the log file).
    let a = std::fs::read_dir(&a_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.is_dir())
        .expect("a run folder");
    // The same run lengthened to 30 steps, to be resumed from step 10; a file blocks the
    // checkpoint at step 20.
    let b = tmp.path().join("b-run");
    let ck10 = b.join("checkpoints/step-10");
    std::fs::create_dir_all(&ck10).unwrap();
    let cfg = std::fs::read_to_string(a.join("config.yaml")).unwrap();
    assert!(cfg.contains("max_steps: 10"), "{cfg}");
    std::fs::write(
        b.join("config.yaml"),
        cfg.replace("max_steps: 10", "max_steps: 30"),
    )
    .unwrap();
    for e in std::fs::read_dir(a.join("checkpoints/step-10")).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), ck10.join(e.file_name())).unwrap();
    }
    let obstacle = b.join("checkpoints/.tmp-step-20");
    std::fs::write(&obstacle, "in the way").unwrap();
    let before: Vec<(String, Vec<u8>)> = std::fs::read_dir(&ck10)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (e.file_name().to_string_lossy().to_string(), read(&e.path()))
        })
        .collect();

    let o = bin()
        .args([
            "train",
            "--resume",
            b.to_str().unwrap(),
            "--headless",
            "--threads",
            "1",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(
        o.status.code(),
        Some(1),
        "a clean stop with exit code 1: {stderr}"
    );
    assert!(stderr.contains("error"), "{stderr}");
    let stdout = String::from_utf8_lossy(&o.stdout).to_string();
    let ev: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
        .collect();
    // The error event names the path, what is intact and the fix; training stopped there.
    let last = ev.last().unwrap();
    assert_eq!(last["event"], "error", "{stdout}");
    assert_eq!(last["step"], 20);
    let msg = last["message"].as_str().unwrap();
    for needle in [
        "checkpoint failed",
        &obstacle.display().to_string(),
        &ck10.display().to_string(),
        "intact",
        "Fix",
        "writable folder",
    ] {
        assert!(msg.contains(needle), "{needle:?} not in {msg}");
    }
    let steps: Vec<u64> = ev
        .iter()
        .filter(|e| e["event"] == "step")
        .map(|e| e["step"].as_u64().unwrap())
        .collect();
    assert_eq!(steps, (11..=20).collect::<Vec<u64>>());
    assert!(!ev.iter().any(|e| e["event"] == "done"));
    // The previous checkpoint is intact, no partial one is left, the obstacle is untouched.
    for (name, bytes) in &before {
        assert_eq!(&read(&ck10.join(name)), bytes, "{name} changed");
    }
    assert_eq!(
        RunDir::open(&b).unwrap().checkpoints(),
        vec![(10, ck10.clone())]
    );
    assert!(!b.join("checkpoints/step-20").exists());
    assert_eq!(read(&obstacle), b"in the way");
    // events.jsonl is valid JSONL and carries the same events as stdout.
    let logged = std::fs::read_to_string(b.join("events.jsonl")).unwrap();
    for l in logged.lines() {
        serde_json::from_str::<Value>(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}"));
    }
    assert_eq!(logged, stdout);
}

#[test]
fn trainer_pauses_on_a_failed_checkpoint_and_goes_on_after_resume() {
    let (mut c, _) = config::load_preset("demo").unwrap();
    c.max_steps = Some(30);
    c.checkpoint_every = 10;
    c.eval_every = 0;
    c.keep_last = 0;
    c.threads = 1;
    let tmp = tempfile::tempdir().unwrap();
    let rd = RunDir::create(tmp.path(), &c).unwrap();
    let obstacle = rd.checkpoints_dir().join(".tmp-step-20");
    std::fs::write(&obstacle, "in the way").unwrap();
    let (mut trainer, assets) = build_trainer(&c).unwrap();
    trainer.set_checkpointer(Box::new(RunCheckpointer::new(
        &rd,
        assets.tokenizer_dir.clone(),
        assets.id2label.clone(),
        c.keep_last,
        c.keep_best,
    )));
    let (etx, erx) = unbounded::<Event>();
    let (ctx, crx) = unbounded::<TrainCommand>();
    trainer.add_sink(Box::new(etx));
    trainer.set_commands(crx);
    trainer.on_failure = OnFailure::Pause;
    let handle = std::thread::spawn(move || trainer.run());

    let timeout = Duration::from_secs(300);
    let mut seen = Vec::new();
    loop {
        let e = erx.recv_timeout(timeout).expect("the trainer went quiet");
        let paused = matches!(e, Event::Paused { .. });
        seen.push(e);
        if paused {
            break;
        }
        assert!(
            !matches!(seen.last(), Some(Event::Done { .. })),
            "the run ended without pausing: {seen:?}"
        );
    }
    let n = seen.len();
    assert_eq!(seen[n - 1], Event::Paused { step: 20 });
    match &seen[n - 2] {
        Event::Error { step, message } => {
            assert_eq!(*step, 20);
            assert!(
                message.contains(&obstacle.display().to_string()) && message.contains("Fix"),
                "{message}"
            );
            assert!(message.contains("step-10"), "{message}");
        }
        other => panic!("expected an error event before the pause, got {other:?}"),
    }
    let ck10 = rd.checkpoints_dir().join("step-10");
    let weights10 = read(&ck10.join("model.safetensors"));
    // While paused, nothing happens.
    assert!(
        erx.recv_timeout(Duration::from_millis(300)).is_err(),
        "the trainer went on while paused"
    );
    // Clear the obstacle and resume: training goes on to the end.
    std::fs::remove_file(&obstacle).unwrap();
    ctx.send(TrainCommand::Resume).unwrap();
    let summary = handle.join().unwrap().unwrap();
    assert_eq!(summary.step, 30);
    assert!(!summary.stopped_early);
    let rest: Vec<Event> = erx.try_iter().collect();
    assert_eq!(rest.first(), Some(&Event::Resumed { step: 20 }));
    assert!(matches!(rest.last(), Some(Event::Done { step: 30, .. })));
    assert_eq!(read(&ck10.join("model.safetensors")), weights10);
    let steps: Vec<usize> = rd.checkpoints().into_iter().map(|c| c.0).collect();
    assert_eq!(steps, vec![10, 30]);
}
