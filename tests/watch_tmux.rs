//! `dps-tui watch ROOT` under tmux: the board lists a finished run and a running one with their
//! states, follows the running one's steps live, filters by state, opens the running run's
//! dashboard (which reads its new events as they come) and comes back, and quits with `q`,
//! restoring the terminal.
//!
//! Needs `tmux` on the PATH (CI installs it); without it the test prints a SKIPPED line and
//! returns.

mod common;
mod tmux;

use std::process::Stdio;
use tmux::{replay_events, sh_quote, tmux_available, Tmux};

/// Kills a background run when the test ends, however it ends.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn step_of(screen: &str, needle: &str) -> Option<u64> {
    let line = screen.lines().find(|l| l.contains(needle))?;
    let cell = line
        .split_whitespace()
        .find(|w| w.contains('/') && w.ends_with("/100000"))?;
    cell.split('/').next()?.parse().ok()
}

#[test]
fn watch_shows_finished_and_running_runs_live() {
    if !tmux_available() {
        common::skipped("watch_shows_finished_and_running_runs_live: tmux is not installed");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    let o = common::headless_demo(&root, &["max_steps=10", "eval_every=5", "method=vanilla"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let _running = KillOnDrop(
        common::headless_demo(&root, &["max_steps=100000", "eval_every=0", "seed=7"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );

    let cmd = format!(
        "{} watch {}; echo EXITED $?; sleep 30",
        sh_quote(env!("CARGO_BIN_EXE_dps-tui")),
        sh_quote(&root.display().to_string())
    );
    let tmux = Tmux::start(tmp.path(), 160, 30, &cmd);

    // The finished row shows its state, its steps and its dev metric. The wait holds for all
    // of it, since a capture can catch a frame half drawn; on timeout it prints the last one.
    let finished_row = |s: &str| {
        s.lines().any(|l| {
            l.contains("method=vanilla seed=42")
                && l.contains("done")
                && l.contains("10/10")
                && l.contains("accuracy ")
        })
    };
    let screen = tmux.wait_for("a finished and a running run", |s| {
        s.contains("2 runs: 1 running, 1 done")
            && step_of(s, "seed=7").is_some_and(|n| n > 0)
            && finished_row(s)
    });
    let first = step_of(&screen, "seed=7").unwrap();
    let running = screen.lines().find(|l| l.contains("seed=7")).unwrap();
    assert!(running.contains("running"), "{running}");

    // The running run's step moves on the board as its log grows.
    tmux.wait_for("the running run's step to advance", |s| {
        step_of(s, "seed=7").is_some_and(|n| n > first)
    });

    // `f` keeps only running runs.
    tmux.send("f");
    tmux.wait_for("only the running run", |s| {
        s.contains("filter: [running]") && !s.contains("method=vanilla seed=42")
    });

    // Enter opens the only row shown: the running run's dashboard, which follows its log.
    tmux.send("Enter");
    let s = tmux.wait_for("the run's dashboard", |s| replay_events(s).is_some());
    let (_, total) = replay_events(&s).unwrap();
    tmux.wait_for("the dashboard to read new events", |s| {
        replay_events(s).is_some_and(|(at, all)| all > total && at == all)
    });
    tmux.send("q");
    tmux.wait_for("the board again", |s| s.contains("filter: [running]"));

    tmux.send("q");
    let s = tmux.wait_for("watch to exit", |s| s.contains("EXITED"));
    assert!(s.contains("EXITED 0"), "{s}");
    assert_eq!(
        tmux.pane_var("alternate_on"),
        "0",
        "the terminal left the alternate screen"
    );
}
