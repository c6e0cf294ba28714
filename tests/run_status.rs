//! One status rule for every view: a finished run, a run stopped early by a signal, a run
//! killed outright and a live run read as `finished`, `stopped early`, `crashed` and `running`
//! in `runs`; `report` leaves the stopped run out unless `--include-stopped`, warns about
//! groups of fewer than 3 runs, and prints no interval from fewer than 3 pairs.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_dps-tui"))
}

fn train(out: &Path, name: &str, sets: &[&str]) -> Command {
    let mut c = bin();
    c.args(["train", "--preset", "demo", "--headless", "--threads", "1"])
        .arg("--out")
        .arg(out)
        .arg("--run-dir")
        .arg(out.join(name))
        .args(["--set", "eval_every=4"]);
    for s in sets {
        c.args(["--set", s]);
    }
    c.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    c
}

fn steps(dir: &Path) -> usize {
    std::fs::read_to_string(dir.join("events.jsonl"))
        .unwrap_or_default()
        .matches(r#""event":"step""#)
        .count()
}

fn wait_steps(c: &mut Child, dir: &Path, n: usize) {
    let t = Instant::now();
    while steps(dir) < n {
        assert!(
            c.try_wait().unwrap().is_none(),
            "{} ended early",
            dir.display()
        );
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "no steps in {}",
            dir.display()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The row of run folder `name` in `runs`' table (which starts each row with the run's path)
/// or in `report`'s.
fn row<'a>(table: &'a str, name: &str) -> &'a str {
    table
        .lines()
        .find(|l| {
            let first = l.split_whitespace().next().unwrap_or("");
            first == name || first.ends_with(&format!("/{name}"))
        })
        .unwrap_or_else(|| panic!("no {name}: {table}"))
}

#[test]
fn runs_and_report_share_one_status_rule() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path();
    let long = ["max_steps=100000"];
    for seed in ["1", "2"] {
        let s = format!("seed={seed}");
        let o = train(out, &format!("finished-{seed}"), &["max_steps=8", &s])
            .status()
            .unwrap();
        assert!(o.success());
    }
    let mut stopped = train(out, "stopped", &long).spawn().unwrap();
    wait_steps(&mut stopped, &out.join("stopped"), 10);
    // SAFETY: kill(2) on a pid this test started.
    unsafe { libc::kill(stopped.id() as libc::pid_t, libc::SIGTERM) };
    assert_eq!(stopped.wait().unwrap().code(), Some(143));
    let mut crashed = train(out, "crashed", &long).spawn().unwrap();
    wait_steps(&mut crashed, &out.join("crashed"), 3);
    crashed.kill().unwrap();
    crashed.wait().unwrap();
    let mut live = train(out, "live", &long).spawn().unwrap();
    wait_steps(&mut live, &out.join("live"), 3);

    let o = bin().args(["runs", "--out"]).arg(out).output().unwrap();
    let table = String::from_utf8_lossy(&o.stdout).into_owned();
    live.kill().unwrap();
    live.wait().unwrap();
    assert!(row(&table, "finished-1").ends_with("finished"), "{table}");
    assert!(row(&table, "stopped").ends_with("stopped early"), "{table}");
    assert!(row(&table, "crashed").ends_with("crashed"), "{table}");
    assert!(row(&table, "live").ends_with("running"), "{table}");

    let report = |extra: &[&str]| {
        let o = bin().arg("report").arg(out).args(extra).output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        (
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    let (md, err) = report(&[]);
    assert!(
        err.contains("stopped: stopped early") && err.contains("crashed: crashed"),
        "{err}"
    );
    // The two finished runs: n = 2, with a warning; the stopped run is in no group.
    assert!(
        md.contains("| demo | dps-dense |  | accuracy | 2 |"),
        "{md}"
    );
    assert!(
        md.contains("warning: demo dps-dense: n = 2; statistics over fewer than 3 runs"),
        "{md}"
    );
    assert!(!md.contains("max_steps=100000"), "{md}");
    let (md, err) = report(&["--include-stopped"]);
    assert!(!err.contains("stopped: stopped early"), "{err}");
    // The stopped run counts now (at its last evaluation, step 12), the crashed one does not.
    let cells: Vec<&str> = md
        .lines()
        .find(|l| l.contains("| max_steps=100000 |"))
        .unwrap_or_else(|| panic!("{md}"))
        .split('|')
        .map(str::trim)
        .collect();
    // | task | method | keys | metric | n | mean | std | ...: one run, no spread.
    assert_eq!((cells[5], cells[7]), ("1", "–"), "{md}");
    assert!(err.contains("crashed: crashed"), "{err}");
}
