//! `dps-tui sweep` on this machine: a 2×2 demo grid with --jobs 2 finishes every cell into its
//! named folder; a rerun skips them; a crashed cell (a checkpoint, no `done` event) resumes from
//! its checkpoint to the same final metrics; a never-started cell starts; `--status` reports the
//! states; a bad grid value is refused before anything runs; `--dry-run` with the SLURM
//! backend writes the array job without submitting it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const SPEC: &str = "\
preset: demo
set:
  max_steps: 8
  eval_every: 4
  checkpoint_every: 4
grid:
  method: [vanilla, dps-dense]
  seed: [1, 2]
slurm:
  cpus-per-task: 1
  time: '00:10:00'
";

const CELLS: [&str; 4] = [
    "method=vanilla,seed=1",
    "method=vanilla,seed=2",
    "method=dps-dense,seed=1",
    "method=dps-dense,seed=2",
];

fn sweep(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dps-tui"))
        .arg("sweep")
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("run dps-tui sweep")
}

fn text(o: &Output) -> String {
    format!(
        "status {}\nstdout:\n{}\nstderr:\n{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn events(dir: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(dir.join("events.jsonl"))
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn done_event(dir: &Path) -> Option<serde_json::Value> {
    events(dir).into_iter().find(|e| e["event"] == "done")
}

#[test]
fn local_sweep_runs_skips_resumes_and_reports() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = tmp.path().join("grid.yaml");
    std::fs::write(&spec, SPEC).unwrap();
    let root: PathBuf = tmp.path().join("root");

    // 1. The whole grid, two cells at a time.
    let o = sweep(
        &[
            "grid.yaml",
            "--out",
            "root",
            "--jobs",
            "2",
            "--threads",
            "2",
        ],
        tmp.path(),
    );
    assert!(o.status.success(), "{}", text(&o));
    for (i, name) in CELLS.iter().enumerate() {
        let dir = root.join(name);
        let done =
            done_event(&dir).unwrap_or_else(|| panic!("{name}: no done event\n{}", text(&o)));
        assert_eq!(done["step"], 8, "{name}");
        let cfg = std::fs::read_to_string(dir.join("config.yaml")).unwrap();
        let (method, seed) = (name.contains("dps-dense"), if i % 2 == 0 { 1 } else { 2 });
        assert!(cfg.contains(&format!("seed: {seed}\n")), "{name}: {cfg}");
        let want = if method {
            "method: dps-dense\n"
        } else {
            "method: vanilla\n"
        };
        assert!(
            cfg.contains(want) && cfg.contains("max_steps: 8\n"),
            "{name}: {cfg}"
        );
        // Two at a time out of --threads 2: each cell got one thread.
        assert!(cfg.contains("threads: 1\n"), "{name}: {cfg}");
    }
    let file: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("sweep.json")).unwrap()).unwrap();
    let names: Vec<&str> = file["cells"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, CELLS);

    // 2. A rerun skips every finished cell and leaves its log as it was.
    let before: Vec<String> = CELLS
        .iter()
        .map(|n| std::fs::read_to_string(root.join(n).join("events.jsonl")).unwrap())
        .collect();
    let o = sweep(&["grid.yaml", "--out", "root", "--jobs", "2"], tmp.path());
    assert!(o.status.success(), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.matches("done already, skipped").count(), 4, "{err}");
    for (n, b) in CELLS.iter().zip(&before) {
        let now = std::fs::read_to_string(root.join(n).join("events.jsonl")).unwrap();
        assert_eq!(&now, b, "{n}: a skipped cell's log changed");
    }

    // 3. A crash after the step-4 checkpoint: cut the log after that checkpoint and drop the
    //    later checkpoints. Another cell never started: its folder is gone.
    let crashed = root.join(CELLS[2]);
    let original_done = done_event(&crashed).unwrap();
    let kept: Vec<String> = {
        let lines: Vec<String> = before[2].lines().map(String::from).collect();
        let at = lines
            .iter()
            .position(|l| l.contains("\"event\":\"checkpoint\"") && l.contains("\"step\":4"))
            .expect("a checkpoint event at step 4");
        lines[..=at].to_vec()
    };
    std::fs::write(crashed.join("events.jsonl"), kept.join("\n") + "\n").unwrap();
    for e in std::fs::read_dir(crashed.join("checkpoints")).unwrap() {
        let p = e.unwrap().path();
        if p.file_name().unwrap() != "step-4" {
            std::fs::remove_dir_all(&p).unwrap();
        }
    }
    assert!(crashed
        .join("checkpoints/step-4/trainer_state.json")
        .exists());
    std::fs::remove_dir_all(root.join(CELLS[3])).unwrap();

    let o = sweep(&["--status", "root"], tmp.path());
    assert!(o.status.success(), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    let state_of = |out: &str, name: &str| -> String {
        let line = out.lines().find(|l| l.contains(name)).unwrap_or_default();
        line.split_whitespace()
            .nth(2)
            .unwrap_or_default()
            .to_string()
    };
    assert_eq!(state_of(&out, CELLS[0]), "done", "{out}");
    assert_eq!(state_of(&out, CELLS[3]), "pending", "{out}");
    // Written a moment ago, so it reads as running until a minute passes; either way not done.
    assert!(
        ["running", "failed"].contains(&state_of(&out, CELLS[2]).as_str()),
        "{out}"
    );
    assert!(out.contains("4 cells: 1 pending"), "{out}");

    let o = sweep(&["grid.yaml", "--out", "root", "--jobs", "2"], tmp.path());
    assert!(o.status.success(), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.matches("done already, skipped").count(), 2, "{err}");
    assert!(err.contains(&format!("{}: resuming", CELLS[2])), "{err}");
    assert!(err.contains(&format!("{}: started", CELLS[3])), "{err}");
    let ev = events(&crashed);
    let starts: Vec<&serde_json::Value> = ev.iter().filter(|e| e["event"] == "start").collect();
    assert_eq!(starts.len(), 2, "the resumed run appends to its log");
    assert_eq!(starts[1]["start_step"], 4);
    let resumed_done = done_event(&crashed).unwrap();
    assert_eq!(
        resumed_done["metrics"], original_done["metrics"],
        "resuming from step 4 reaches the uninterrupted run's final metrics"
    );
    assert!(done_event(&root.join(CELLS[3])).is_some());

    let o = sweep(&["--status", "root"], tmp.path());
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("4 cells: 4 done"), "{out}");
}

#[test]
fn bad_grid_value_is_refused_before_anything_runs() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(
        tmp.path().join("bad.yaml"),
        "preset: demo\ngrid:\n  p: [0.2, 1.5]\n",
    )
    .unwrap();
    let o = sweep(&["bad.yaml", "--out", "root"], tmp.path());
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("bad.yaml") && err.contains("grid.p") && err.contains("1.5"),
        "{err}"
    );
    assert!(!tmp.path().join("root").exists(), "nothing was written");
}

#[test]
fn slurm_dry_run_writes_the_array_job_only() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("grid.yaml"), SPEC).unwrap();
    let o = sweep(
        &[
            "grid.yaml",
            "--backend",
            "slurm",
            "--dry-run",
            "--out",
            "root",
        ],
        tmp.path(),
    );
    assert!(o.status.success(), "{}", text(&o));
    let script = std::fs::read_to_string(tmp.path().join("root/sweep.sbatch")).unwrap();
    assert!(script.contains("#SBATCH --array=0-3\n"), "{script}");
    assert!(script.contains("#SBATCH --cpus-per-task=1\n"), "{script}");
    assert!(script.contains("#SBATCH --time=00:10:00\n"), "{script}");
    assert!(script.contains(" sweep --out "), "{script}");
    assert!(
        script.contains("--cell \"$SLURM_ARRAY_TASK_ID\""),
        "{script}"
    );
    let file = std::fs::read_to_string(tmp.path().join("root/sweep.json")).unwrap();
    assert!(!file.contains("slurm_job"), "not submitted: {file}");
    assert!(!tmp.path().join("root").join(CELLS[0]).exists());
}
