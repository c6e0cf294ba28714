//! One writer per run and clean stops, against the real binary: a second trainer on a live run
//! folder is refused naming the holder's pid, and a dead holder's lock is taken over;
//! SIGINT, SIGTERM and SIGHUP stop a headless run after its step with a checkpoint, a `stopped`
//! event and the shell's exit code, also for a run started with `&` from a script; a sweep
//! passes signals on to its cells, leaves cells that a live process trains alone, tells live
//! from crashed cells by their lock, and its cells stop when it is killed.

use dps_tui::core::events::Event;
use dps_tui::runs::event_log;
use dps_tui::runs::lock::holder;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

/// The binary under test (`DPS_TUI_BIN=path` runs another build, e.g. an earlier one).
fn exe() -> PathBuf {
    std::env::var_os("DPS_TUI_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| env!("CARGO_BIN_EXE_dps-tui").into())
}

fn bin() -> Command {
    Command::new(exe())
}

/// A headless demo run into `dir` that would take long: stopped by the tests.
fn long_run(out: &Path, dir: &Path, checkpoint_every: usize) -> Child {
    bin()
        .args(["train", "--preset", "demo", "--headless", "--threads", "1"])
        .arg("--out")
        .arg(out)
        .arg("--run-dir")
        .arg(dir)
        .args(["--set", "max_steps=100000", "--set", "eval_every=0"])
        .args(["--set", &format!("checkpoint_every={checkpoint_every}")])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Kills (SIGKILL) the processes it was given when dropped, so a failing test leaves no
/// trainer behind; those already gone are not there to kill.
#[derive(Default)]
struct Reaper(Vec<u32>);

impl Reaper {
    fn add(&mut self, pid: u32) -> u32 {
        self.0.push(pid);
        pid
    }
}

impl Drop for Reaper {
    fn drop(&mut self) {
        for pid in &self.0 {
            // SAFETY: kill(2) on a pid this test started.
            unsafe { libc::kill(*pid as libc::pid_t, libc::SIGKILL) };
        }
    }
}

fn events(dir: &Path) -> Vec<Event> {
    event_log::read(&dir.join("events.jsonl"))
        .map(|l| l.events)
        .unwrap_or_default()
}

fn steps(dir: &Path) -> Vec<usize> {
    events(dir)
        .iter()
        .filter_map(|e| match e {
            Event::Step { step, .. } => Some(*step),
            _ => None,
        })
        .collect()
}

/// Whether the run's last `start` is followed by a step (a run started or resumed has trained).
fn stepped_since_start(dir: &Path) -> bool {
    let ev = events(dir);
    let start = ev.iter().rposition(|e| matches!(e, Event::Start { .. }));
    let step = ev.iter().rposition(|e| matches!(e, Event::Step { .. }));
    matches!((start, step), (Some(a), Some(b)) if b > a)
}

fn wait_for(what: &str, timeout: Duration, mut ok: impl FnMut() -> bool) {
    let t = Instant::now();
    while !ok() {
        assert!(t.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn wait_exit(c: &mut Child, timeout: Duration) -> ExitStatus {
    let t = Instant::now();
    loop {
        if let Some(st) = c.try_wait().unwrap() {
            return st;
        }
        if t.elapsed() > timeout {
            let _ = c.kill();
            panic!("pid {} did not exit within {timeout:?}", c.id());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn signal(pid: u32, sig: i32) {
    // SAFETY: kill(2) on a pid this test started.
    assert_eq!(unsafe { libc::kill(pid as libc::pid_t, sig) }, 0);
}

fn stderr_of(c: &mut Child) -> String {
    let mut s = String::new();
    use std::io::Read;
    let _ = c.stderr.take().map(|mut e| e.read_to_string(&mut s));
    s
}

/// The log ends with a `stopped` event for `sig` after the last step, then a `done` event
/// stopped early, and a checkpoint of that step exists.
fn assert_stopped(dir: &Path, sig: &str, code: i32) -> usize {
    let ev = events(dir);
    let last_step = *steps(dir).last().expect("steps");
    let n = ev.len();
    assert!(n >= 3, "{ev:?}");
    match (&ev[n - 3], &ev[n - 2], &ev[n - 1]) {
        (
            Event::Checkpoint { step: c, .. },
            Event::Stopped {
                step,
                signal,
                exit_code,
            },
            Event::Done {
                step: d,
                stopped_early: true,
                ..
            },
        ) => {
            assert_eq!((*c, *step, *d), (last_step, last_step, last_step));
            assert_eq!((signal.as_str(), *exit_code), (sig, code));
        }
        other => panic!("{}: the log ends with {other:?}", dir.display()),
    }
    let ck = dir.join(format!("checkpoints/step-{last_step}/trainer_state.json"));
    assert!(ck.exists(), "{}", ck.display());
    last_step
}

#[test]
fn a_second_trainer_is_refused_naming_the_holder_and_a_dead_holders_lock_is_taken_over() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    let mut reaper = Reaper::default();
    let mut a = long_run(tmp.path(), &dir, 10);
    reaper.add(a.id());
    wait_for("a checkpoint", Duration::from_secs(60), || {
        dir.join("checkpoints/step-10").exists()
    });
    let t = Instant::now();
    let o: Output = bin()
        .args(["train", "--headless", "--threads", "1", "--resume"])
        .arg(&dir)
        .arg("--out")
        .arg(tmp.path())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "{err}");
    assert!(
        err.contains(&format!("in use by another trainer (pid {})", a.id())),
        "{err}"
    );
    assert!(t.elapsed() < Duration::from_secs(10), "refused at once");
    let before = events(&dir)
        .iter()
        .filter(|e| matches!(e, Event::Start { .. }))
        .count();
    assert_eq!(before, 1, "the refused trainer wrote nothing");

    // The holder dies without a word; its lock is taken over.
    a.kill().unwrap();
    a.wait().unwrap();
    assert_eq!(holder(&dir), None);
    let mut c = bin()
        .args(["train", "--headless", "--threads", "1", "--resume"])
        .arg(&dir)
        .arg("--out")
        .arg(tmp.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    reaper.add(c.id());
    wait_for("the resumed run", Duration::from_secs(60), || {
        holder(&dir) == Some(c.id().to_string()) && steps(&dir).len() > 12
    });
    signal(c.id(), libc::SIGTERM);
    let st = wait_exit(&mut c, Duration::from_secs(30));
    assert_eq!(st.code(), Some(143), "{}", stderr_of(&mut c));
    assert_stopped(&dir, "SIGTERM", 143);
}

#[test]
fn sigint_sigterm_and_sighup_stop_after_the_step_with_a_checkpoint() {
    let tmp = tempfile::tempdir().unwrap();
    let mut reaper = Reaper::default();
    for (sig, name, code) in [
        (libc::SIGINT, "SIGINT", 130),
        (libc::SIGTERM, "SIGTERM", 143),
        (libc::SIGHUP, "SIGHUP", 129),
    ] {
        let dir = tmp.path().join(name);
        let mut c = long_run(tmp.path(), &dir, 0);
        reaper.add(c.id());
        wait_for("steps", Duration::from_secs(60), || steps(&dir).len() >= 3);
        signal(c.id(), sig);
        let st = wait_exit(&mut c, Duration::from_secs(30));
        assert_eq!(st.code(), Some(code), "{name}: {}", stderr_of(&mut c));
        let at = assert_stopped(&dir, name, code);
        let s = steps(&dir);
        assert_eq!(s, (1..=at).collect::<Vec<_>>(), "{name}");
    }
    // The stopped run resumes from where it stopped; a second signal ends it at once.
    let dir = tmp.path().join("SIGINT");
    let at = steps(&dir).len();
    let mut c = bin()
        .args(["train", "--headless", "--threads", "1", "--resume"])
        .arg(&dir)
        .arg("--out")
        .arg(tmp.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    reaper.add(c.id());
    wait_for("the resumed steps", Duration::from_secs(60), || {
        steps(&dir).len() >= at + 3
    });
    let s = steps(&dir);
    assert_eq!(s, (1..=s.len()).collect::<Vec<_>>(), "resumed at {at}");
    signal(c.id(), libc::SIGTERM);
    signal(c.id(), libc::SIGTERM);
    let st = wait_exit(&mut c, Duration::from_secs(10));
    assert_eq!(st.code(), Some(143), "{}", stderr_of(&mut c));
}

#[test]
fn a_run_started_in_the_background_by_a_script_stops_on_sigint() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("bg");
    // A non-interactive shell starts `&` jobs with SIGINT ignored.
    let mut sh = Command::new("sh")
        .arg("-c")
        .arg(r#""$0" "$@" >/dev/null 2>&1 & echo $!; wait $!; echo "rc=$?""#)
        .arg(exe())
        .args(["train", "--preset", "demo", "--headless", "--threads", "1"])
        .arg("--out")
        .arg(tmp.path())
        .arg("--run-dir")
        .arg(&dir)
        .args(["--set", "max_steps=100000", "--set", "eval_every=0"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(sh.stdout.take().unwrap()).lines();
    let mut reaper = Reaper::default();
    reaper.add(sh.id());
    let pid = reaper.add(lines.next().unwrap().unwrap().trim().parse().unwrap());
    wait_for("steps", Duration::from_secs(60), || steps(&dir).len() >= 3);
    signal(pid, libc::SIGINT);
    wait_for("the run to stop", Duration::from_secs(30), || {
        holder(&dir).is_none()
    });
    wait_exit(&mut sh, Duration::from_secs(30));
    let rc = lines.next().unwrap().unwrap();
    assert_eq!(rc, "rc=130");
    assert_stopped(&dir, "SIGINT", 130);
}

const SPEC: &str = "\
preset: demo
set:
  max_steps: 100000
  eval_every: 0
  checkpoint_every: 50
grid:
  seed: [1, 2]
";

fn sweep(tmp: &Path) -> Command {
    let mut c = bin();
    c.args(["sweep", "grid.yaml", "--out", "root", "--jobs", "2"])
        .args(["--threads", "2"])
        .current_dir(tmp)
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    c
}

fn status(tmp: &Path) -> String {
    let o = bin()
        .args(["sweep", "--status", "root"])
        .current_dir(tmp)
        .output()
        .unwrap();
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn state_of(table: &str, cell: &str) -> String {
    table
        .lines()
        .find(|l| l.split_whitespace().nth(1) == Some(cell))
        .and_then(|l| l.split_whitespace().nth(2))
        .unwrap_or_else(|| panic!("no row for {cell}: {table}"))
        .to_string()
}

#[test]
fn a_sweep_passes_signals_on_leaves_live_cells_alone_and_its_cells_die_with_it() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("grid.yaml"), SPEC).unwrap();
    let cells: Vec<PathBuf> = ["seed=1", "seed=2"]
        .iter()
        .map(|c| tmp.path().join("root").join(c))
        .collect();
    let live = |c: &PathBuf| holder(c).is_some() && steps(c).len() >= 3;

    let mut reaper = Reaper::default();
    let mut a = sweep(tmp.path()).stderr(Stdio::piped()).spawn().unwrap();
    reaper.add(a.id());
    wait_for("two live cells", Duration::from_secs(90), || {
        cells.iter().all(live)
    });
    let pids: Vec<String> = cells.iter().map(|c| holder(c).unwrap()).collect();
    for p in &pids {
        reaper.add(p.parse().unwrap());
    }
    let t = status(tmp.path());
    assert_eq!(state_of(&t, "seed=1"), "running", "{t}");

    // A rerun while the cells are live starts no second trainer on them.
    let o = sweep(tmp.path()).output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    for pid in &pids {
        assert!(err.contains(&format!("pid {pid}")), "{err}");
    }
    let now: Vec<String> = cells.iter().map(|c| holder(c).unwrap()).collect();
    assert_eq!(now, pids, "the same trainers");

    // A cell's trainer killed outright is crashed at once, not running for another minute.
    signal(pids[0].parse().unwrap(), libc::SIGKILL);
    wait_for("the lock to go", Duration::from_secs(10), || {
        holder(&cells[0]).is_none()
    });
    let t = status(tmp.path());
    assert_eq!(state_of(&t, "seed=1"), "failed", "{t}");
    assert_eq!(state_of(&t, "seed=2"), "running", "{t}");

    // SIGTERM to the sweep reaches its live cell, which checkpoints and stops.
    signal(a.id(), libc::SIGTERM);
    let st = wait_exit(&mut a, Duration::from_secs(60));
    let err = stderr_of(&mut a);
    assert_eq!(st.code(), Some(143), "{err}");
    assert!(err.contains("stopped by SIGTERM"), "{err}");
    assert_stopped(&cells[1], "SIGTERM", 143);

    // Killed outright, the sweep takes its cells with it: they get SIGTERM and stop cleanly.
    let mut b = sweep(tmp.path()).stderr(Stdio::null()).spawn().unwrap();
    reaper.add(b.id());
    wait_for("two live cells again", Duration::from_secs(90), || {
        cells
            .iter()
            .all(|c| holder(c).is_some_and(|p| !pids.contains(&p)) && stepped_since_start(c))
    });
    for c in &cells {
        reaper.add(holder(c).unwrap().parse().unwrap());
    }
    b.kill().unwrap();
    b.wait().unwrap();
    wait_for("the cells to stop", Duration::from_secs(60), || {
        cells.iter().all(|c| holder(c).is_none())
    });
    for c in &cells {
        assert_stopped(c, "SIGTERM", 143);
    }
}
