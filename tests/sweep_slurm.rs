//! `dps-tui sweep --backend slurm` through a real single-node SLURM (`scripts/slurm/slurm-local.sh`):
//! a 2×2 demo grid submitted as an array job ends with all four cells done, and
//! `sweep --status` says so. Skips, printing a SKIPPED line, only where SLURM cannot start
//! (no root to install it, no package source).

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

const SPEC: &str = "\
preset: demo
set:
  max_steps: 6
  eval_every: 3
grid:
  method: [vanilla, dps-dense]
  seed: [1, 2]
slurm:
  cpus-per-task: 1
  time: '00:10:00'
";

fn script() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/slurm/slurm-local.sh")
}

fn slurm_up() -> bool {
    Command::new("sinfo")
        .args(["-h", "-o", "%t"])
        .output()
        .is_ok_and(|o| o.status.success() && !o.stdout.is_empty())
}

/// Stops the SLURM this test started (not one that was already running).
struct Stop(bool);

impl Drop for Stop {
    fn drop(&mut self) {
        if self.0 {
            let _ = Command::new(script()).arg("stop").status();
        }
    }
}

fn text(o: &Output) -> String {
    format!(
        "status {}\nstdout:\n{}\nstderr:\n{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn two_by_two_demo_sweep_through_local_slurm() {
    let was_up = slurm_up();
    if !was_up {
        let o = Command::new(script())
            .arg("start")
            .output()
            .expect("run scripts/slurm/slurm-local.sh");
        if !o.status.success() {
            eprintln!(
                "SKIPPED two_by_two_demo_sweep_through_local_slurm: SLURM cannot start here: {}",
                String::from_utf8_lossy(&o.stderr).trim()
            );
            return;
        }
    }
    let _stop = Stop(!was_up);

    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("grid.yaml"), SPEC).unwrap();
    let root = tmp.path().join("root");
    let o = Command::new(env!("CARGO_BIN_EXE_dps-tui"))
        .args(["sweep", "grid.yaml", "--backend", "slurm", "--out"])
        .arg(&root)
        .current_dir(tmp.path())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(out.contains("submitted SLURM job"), "{out}");
    let file = std::fs::read_to_string(root.join("sweep.json")).unwrap();
    assert!(file.contains("\"slurm_job\""), "{file}");

    let t0 = Instant::now();
    let status = loop {
        let o = Command::new(env!("CARGO_BIN_EXE_dps-tui"))
            .args(["sweep", "--status"])
            .arg(&root)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", text(&o));
        let s = String::from_utf8_lossy(&o.stdout).to_string();
        if s.contains("4 cells: 4 done") || t0.elapsed() > Duration::from_secs(300) {
            break s;
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    let logs: String = std::fs::read_dir(root.join("logs"))
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| {
                    format!(
                        "== {}\n{}",
                        e.path().display(),
                        std::fs::read_to_string(e.path()).unwrap_or_default()
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    assert!(
        status.contains("4 cells: 4 done"),
        "{status}\ntask outputs:\n{logs}"
    );
    for name in [
        "method=vanilla,seed=1",
        "method=vanilla,seed=2",
        "method=dps-dense,seed=1",
        "method=dps-dense,seed=2",
    ] {
        let ev = std::fs::read_to_string(root.join(name).join("events.jsonl")).unwrap();
        assert!(ev.contains("\"event\":\"done\""), "{name}: {ev}");
        assert!(
            logs.contains(name),
            "each array task names its cell in its output: {logs}"
        );
    }
}
