//! Damaged run folders on resume, a locked run folder, and writes that fail.

use super::*;

use std::time::{Duration, Instant};

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dst = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dst);
        } else {
            std::fs::copy(e.path(), &dst).unwrap();
        }
    }
}

/// `train --resume DIR --headless --threads 1 --out OUT`.
fn resume_args(dir: &Path, out: &Path) -> Vec<OsString> {
    let mut a: Vec<OsString> = vec!["train".into(), "--resume".into(), dir.into()];
    for s in ["--headless", "--threads", "1", "--out"] {
        a.push(s.into());
    }
    a.push(out.into());
    a
}

/// The run folder copy `name` of `base`, cut back to its checkpoint at step 10 (as if killed
/// after it): resuming it trains steps 11 to 20.
fn at_step_10(base: &Path, tmp: &Path, name: &str) -> PathBuf {
    let d = tmp.join(name);
    copy_dir(base, &d);
    for s in [15, 20] {
        std::fs::remove_dir_all(d.join(format!("checkpoints/step-{s}"))).unwrap();
    }
    d
}

/// `model.safetensors` of a checkpoint with one tensor of the wrong shape.
fn reshape_one_tensor(path: &Path) -> String {
    use candle_core::{DType, Device, Tensor};
    let mut t = candle_core::safetensors::load(path, &Device::Cpu).unwrap();
    let name = t
        .keys()
        .filter(|k| k.ends_with("query.weight"))
        .min()
        .expect("a query weight")
        .clone();
    let dims = t[&name].dims().to_vec();
    let wrong = Tensor::zeros((dims[0] + 1, dims[1]), DType::F32, &Device::Cpu).unwrap();
    t.insert(name.clone(), wrong);
    candle_core::safetensors::save(&t, path).unwrap();
    name
}

#[test]
fn corrupt_run_folders_are_refused_on_resume_naming_the_file_and_the_fix() {
    let start = Instant::now();
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    // One 20-step demo run with a checkpoint every 5 steps; every row works on a copy.
    let base = tmp.path().join("base");
    let o = common::headless_demo(
        &out,
        &[
            "max_steps=20",
            "checkpoint_every=5",
            "keep_last=0",
            "eval_every=0",
        ],
    )
    .args(["--run-dir".as_ref(), base.as_os_str()])
    .output()
    .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let mut rows = Vec::new();
    let t = tmp.path();

    let d = at_step_10(&base, t, "truncated-state");
    let state = d.join("checkpoints/step-10/trainer_state.json");
    let text = std::fs::read_to_string(&state).unwrap();
    std::fs::write(&state, &text[..text.len() / 2]).unwrap();
    rows.push(
        row_args(
            "resume",
            "a truncated trainer_state.json",
            resume_args(&d, &out),
        )
        .says(&["not valid JSON", "Fix", "restore the file"])
        .says_path(&state),
    );

    let d = at_step_10(&base, t, "edited-state");
    let state = d.join("checkpoints/step-10/trainer_state.json");
    let text = std::fs::read_to_string(&state).unwrap();
    assert!(text.contains("\"step\": 10"), "{text}");
    std::fs::write(&state, text.replace("\"step\": 10", "\"step\": 7")).unwrap();
    rows.push(
        row_args(
            "resume",
            "trainer_state.json with its step changed",
            resume_args(&d, &out),
        )
        .says(&["says step 7", "step 10", "Fix"])
        .says_path(&state),
    );

    for file in [
        "model.safetensors",
        "optimizer.safetensors",
        "strategy.json",
    ] {
        let d = at_step_10(&base, t, &format!("no-{file}"));
        let p = d.join("checkpoints/step-10").join(file);
        std::fs::remove_file(&p).unwrap();
        rows.push(
            row_args("resume", format!("a deleted {file}"), resume_args(&d, &out))
                .says(&["Fix", "restore the file", "earlier checkpoint"])
                .says_path(&p),
        );
    }

    let d = at_step_10(&base, t, "wrong-shape");
    let tensor = reshape_one_tensor(&d.join("checkpoints/step-10/model.safetensors"));
    rows.push(
        row_args(
            "resume",
            "a weight of the wrong shape",
            resume_args(&d, &out),
        )
        .says(&[&tensor, "shape", "Fix"])
        .says_path(&d.join("checkpoints/step-10/model.safetensors")),
    );

    let d = at_step_10(&base, t, "garbage-config");
    std::fs::write(d.join("config.yaml"), "task: [demo\n: : :\n").unwrap();
    rows.push(
        row_args("resume", "a garbage config.yaml", resume_args(&d, &out))
            .says(&[
                "the run's saved configuration is not valid YAML",
                "Fix: restore the run's config.yaml",
                "start a new run",
            ])
            .says_path(&d.join("config.yaml"))
            .never(&["preset"]),
    );
    let d = at_step_10(&base, t, "list-config");
    std::fs::write(d.join("config.yaml"), "- task\n- demo\n").unwrap();
    rows.push(
        row_args(
            "resume",
            "a config.yaml that is a list",
            resume_args(&d, &out),
        )
        .says(&["the run's saved configuration is not a mapping", "Fix"])
        .says_path(&d.join("config.yaml"))
        .never(&["preset"]),
    );

    let d = at_step_10(&base, t, "no-config");
    std::fs::remove_file(d.join("config.yaml")).unwrap();
    rows.push(
        row_args("resume", "a deleted config.yaml", resume_args(&d, &out))
            .says(&["cannot read the run's configuration", "Fix"])
            .says_path(&d.join("config.yaml"))
            .never(&["preset"]),
    );

    let d = at_step_10(&base, t, "no-checkpoint");
    std::fs::remove_dir_all(d.join("checkpoints")).unwrap();
    rows.push(
        row_args("resume", "no checkpoint", resume_args(&d, &out))
            .says(&["no complete checkpoint", "Fix"])
            .says_path(&d),
    );

    let d = at_step_10(&base, t, "fixed-key");
    let mut a = resume_args(&d, &out);
    a.extend(["--set".into(), "batch_size=8".into()]);
    rows.push(
        row_args("resume", "--set of a key fixed by the run", a).says(&["batch_size", "threads"]),
    );

    // A torn last line in events.jsonl: the resume repairs the log and finishes.
    let torn = at_step_10(&base, t, "torn-log");
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(torn.join("events.jsonl"))
        .unwrap();
    std::io::Write::write_all(&mut f, b"{\"event\":\"step\",\"st").unwrap();
    drop(f);
    rows.push(
        row_args(
            "resume",
            "a torn last line in events.jsonl",
            resume_args(&torn, &out),
        )
        .code(0),
    );

    run_all(&rows);
    let log = std::fs::read_to_string(torn.join("events.jsonl")).unwrap();
    let events: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
        .collect();
    assert!(
        events.iter().any(|e| e["event"] == "repair"),
        "no repair event"
    );
    assert_eq!(events.last().unwrap()["event"], "done");
    let steps: Vec<u64> = events
        .iter()
        .filter(|e| e["event"] == "step")
        .filter_map(|e| e["step"].as_u64())
        .collect();
    assert_eq!(
        steps,
        (1..=20).collect::<Vec<u64>>(),
        "every step exactly once"
    );
    eprintln!("resume rows: {:.1} s", start.elapsed().as_secs_f64());
}

#[test]
fn a_second_resume_of_a_running_run_is_refused_naming_its_pid() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let base = tmp.path().join("run");
    let o = common::headless_demo(
        &out,
        &["max_steps=10", "checkpoint_every=5", "eval_every=0"],
    )
    .args(["--run-dir".as_ref(), base.as_os_str()])
    .output()
    .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // Lengthen the run so that its resume runs long enough to be met.
    let cfg = std::fs::read_to_string(base.join("config.yaml")).unwrap();
    assert!(cfg.contains("max_steps: 10"), "{cfg}");
    std::fs::write(
        base.join("config.yaml"),
        cfg.replace("max_steps: 10", "max_steps: 1000000"),
    )
    .unwrap();
    let mut first = bin()
        .args(resume_args(&base, &out))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = first.id().to_string();
    // Wait until the first holds the lock (its pid is in the lock file).
    let t0 = Instant::now();
    while std::fs::read_to_string(base.join(".lock"))
        .unwrap_or_default()
        .trim()
        != pid
    {
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "the first resume never took the lock"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let row = row_args(
        "resume",
        "a second resume of a running run",
        resume_args(&base, &out),
    )
    .says(&["in use by another trainer", &format!("pid {pid}"), "Fix"])
    .says_path(&base);
    let result = check(&row);
    let _ = first.kill();
    let _ = first.wait();
    result.unwrap();
}

#[test]
fn write_failures_say_write_and_name_what_could_not_be_written() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let file = tmp.path().join("a-file");
    std::fs::write(&file, "not a folder").unwrap();
    let mut rows = vec![
        row_args(
            "write",
            "--out under a regular file",
            train("demo", &file.join("runs"), &[]),
        )
        .says(&["cannot create a run folder under"])
        .says_path(&file.join("runs")),
        row_args("write", "--run-dir under a regular file", {
            let mut a = train("demo", &out, &["--run-dir"]);
            a.push(file.join("run").into());
            a
        })
        .says(&["cannot create the run folder"])
        .says_path(&file.join("run")),
    ];
    if Path::new("/dev/full").exists() {
        // A finished demo run to export and report.
        let run = tmp.path().join("run");
        let o = common::headless_demo(&out, &["max_steps=4", "eval_every=0"])
            .args(["--run-dir".as_ref(), run.as_os_str()])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let spec = tmp.path().join("spec.yaml");
        write(&spec, "preset: demo\ngrid:\n  seed: [1, 2]\n");
        let root = tmp.path().to_path_buf();
        let sweep_root = tmp.path().join("sw");
        let full: &[(&str, Vec<&dyn AsRef<std::ffi::OsStr>>)] = &[
            ("export to a full disk", vec![&"export", &run]),
            ("runs to a full disk", vec![&"runs", &"--out", &out]),
            ("report to a full disk", vec![&"report", &root]),
            ("presets to a full disk", vec![&"presets"]),
            (
                "sweep --dry-run to a full disk",
                vec![&"sweep", &spec, &"--out", &sweep_root, &"--dry-run"],
            ),
        ];
        for (what, args) in full {
            rows.push(
                Row::new("write", *what, args)
                    .stdout_to("/dev/full")
                    .says(&["cannot write to standard output", "No space left"]),
            );
        }
        // `download` of a model the cache holds, offline: it prints where the files are.
        let cache = tmp.path().join("hub");
        let snap = common::hub_fixture::snapshot_dir(
            &cache,
            dps_tui::hub::RepoKind::Model,
            "fixture-org/tiny-bert",
        );
        copy_dir(&tiny_model(), &snap);
        rows.push(
            Row::new(
                "write",
                "download to a full disk",
                &[&"download", &"fixture-org/tiny-bert"],
            )
            .env("HF_HUB_CACHE", &cache)
            .stdout_to("/dev/full")
            .says(&["cannot write to standard output", "No space left"]),
        );
        // `bench` on the demo model, one timed step of a tiny shape.
        rows.push(
            Row::new(
                "write",
                "bench to a full disk",
                &[
                    &"bench",
                    &"--model",
                    &"demo",
                    &"--steps",
                    &"1",
                    &"--batch",
                    &"2",
                    &"--seq",
                    &"16",
                    &"--threads",
                    &"1",
                ],
            )
            .stdout_to("/dev/full")
            .says(&["cannot write to standard output", "No space left"]),
        );
        // A headless run whose stdout is full goes on (events.jsonl has every event) and says
        // so once.
        rows.push(
            row_args(
                "write",
                "headless events to a full disk",
                train("demo", &out, &["--set", "max_steps=3"]),
            )
            .stdout_to("/dev/full")
            .code(0)
            .says(&[
                "cannot write events to standard output",
                "events.jsonl",
                "Fix",
            ]),
        );
    }
    run_all(&rows);
}
