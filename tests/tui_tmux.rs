//! The real binary's terminal UI, driven under tmux: start the demo preset, wait for the second
//! stage, pause (the step counter stops), raise p (pending, then applied at the next selection),
//! checkpoint (a folder appears on disk), quit with confirmation (exit status 0, terminal
//! restored).
//!
//! Needs `tmux` on the PATH (CI installs it); without it the test prints a SKIP line to stderr
//! and returns.

mod common;
mod tmux;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tmux::{replay_events, sh_quote, tmux_available, Tmux, POLL, WAIT};

/// The status bar: `▶ running  step 53/20000 (0%)  │ epoch 0.42  │ stage 3 full · 8 left  │ …`.
fn status_line(screen: &str) -> &str {
    screen
        .lines()
        .rev()
        .find(|l| l.contains(" step ") && l.contains("│ epoch"))
        .unwrap_or("")
}

/// The number after `label` in the status bar, e.g. the step counter for `" step "`.
fn status_number(screen: &str, label: &str) -> Option<u64> {
    let line = status_line(screen);
    let rest = &line[line.find(label)? + label.len()..];
    let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
    digits.parse().ok()
}

fn status_step(screen: &str) -> Option<u64> {
    status_number(screen, " step ")
}

/// The hyperparameter panel's row for p.
fn p_row(screen: &str) -> &str {
    screen
        .lines()
        .find(|l| l.contains("p (frozen)"))
        .unwrap_or("")
}

/// The step of the first event-log line that contains `text`.
fn log_step(screen: &str, text: &str) -> Option<u64> {
    screen.lines().find_map(|l| {
        let at = l.find(text)?;
        // The log is the right-hand panel: `│ 141 set   p = 0.35 applied │`.
        let before = &l[..at];
        let start = before.rfind('│')? + '│'.len_utf8();
        before[start..].split_whitespace().next()?.parse().ok()
    })
}

fn complete_checkpoints(run: &Path) -> Vec<PathBuf> {
    let dir = run.join("checkpoints");
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with("step-"))
                        && p.join("trainer_state.json").is_file()
                        && p.join("model.safetensors").is_file()
                })
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

fn only_run(out: &Path) -> PathBuf {
    let runs: Vec<PathBuf> = std::fs::read_dir(out)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    assert_eq!(
        runs.len(),
        1,
        "expected one run folder in {out:?}: {runs:?}"
    );
    runs.into_iter().next().unwrap()
}

#[test]
fn demo_dashboard_pause_edit_checkpoint_quit_under_tmux() {
    if !tmux_available() {
        // Written to the process's stderr directly, so it shows even when the harness
        // captures test output.
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED: tmux not found; the end-to-end TUI test did not run. Fix: install tmux"
        );
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("runs");
    std::fs::create_dir_all(&out).unwrap();
    // A long run with short stages: it cannot finish while the test steers it, and a new
    // selection comes every 20 steps.
    let args = [
        "--preset",
        "demo",
        "--out",
        out.to_str().unwrap(),
        "--set",
        "max_steps=20000",
        "--set",
        "update_ratio=0.001",
        "--set",
        "p=0.3",
        "--set",
        "eval_every=100",
    ];
    let mut cmd = sh_quote(env!("CARGO_BIN_EXE_dps-tui"));
    for a in args {
        cmd.push(' ');
        cmd.push_str(&sh_quote(a));
    }
    // After the binary: its exit status, and whether the tty is back in cooked mode.
    cmd.push_str(
        "; echo EXIT=$?; if stty -a | grep -q -- -icanon; then echo TTY=raw; else echo TTY=cooked; fi; sleep 600",
    );
    let tmux = Tmux::start(tmp.path(), 160, 48, &cmd);

    // 1. The dashboard reaches the second stage (a subnetwork stage, after the first selection).
    let screen = tmux.wait_for("the second stage and the heatmap panel", |s| {
        status_number(s, "│ stage ").is_some_and(|k| k >= 2) && s.contains("selection")
    });
    assert_eq!(
        tmux.pane_var("alternate_on"),
        "1",
        "dashboard not on the alternate screen"
    );
    let running_at = status_step(&screen).expect("a step counter in the status bar");
    // The counter moves while running (so the pause check below can fail).
    tmux.wait_for("the step counter to move", |s| {
        status_step(s).is_some_and(|n| n > running_at)
    });

    // 2. space pauses: "paused" shows and the step counter stops.
    tmux.send("space");
    let paused = tmux.wait_for("`paused` in the status bar", |s| {
        status_line(s).contains("paused")
    });
    let paused_at = status_step(&paused).unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let still = tmux.capture();
    assert!(status_line(&still).contains("paused"), "{still}");
    assert_eq!(
        status_step(&still),
        Some(paused_at),
        "the step counter moved while paused:\n{still}"
    );

    // 3. `+` raises p by 0.05: pending in the hyperparameter panel while paused ...
    tmux.send("+");
    let pending = tmux.wait_for("p pending in the hyperparameter panel", |s| {
        p_row(s).contains("→ 0.35")
    });
    assert!(
        p_row(&pending).contains("0.3 "),
        "current p not shown beside the pending one: {}",
        p_row(&pending)
    );
    assert_eq!(status_step(&pending), Some(paused_at), "{pending}");
    // ... then, once resumed, applied at the next selection.
    tmux.send("space");
    let applied = tmux.wait_for("p = 0.35 applied in the event log and the panel", |s| {
        s.contains("p = 0.35 applied")
            && s.contains("p=0.35")
            && p_row(s).contains("0.35")
            && !p_row(s).contains('→')
            && status_line(s).contains("running")
    });
    let applied_at = log_step(&applied, "p = 0.35 applied").expect("step of the applied line");
    let selected_at = log_step(&applied, "p=0.35").expect("step of the selection with p=0.35");
    assert!(
        applied_at > paused_at,
        "applied at {applied_at}, paused at {paused_at}"
    );
    assert_eq!(
        applied_at, selected_at,
        "p applied away from a selection:\n{applied}"
    );

    // 4. `c` writes a checkpoint folder under the run's checkpoints/.
    let run = only_run(&out);
    let before = complete_checkpoints(&run);
    tmux.send("c");
    let t0 = Instant::now();
    let new_ckpt = loop {
        let now = complete_checkpoints(&run);
        if let Some(p) = now.iter().find(|p| !before.contains(p)) {
            break p.clone();
        }
        assert!(
            t0.elapsed() < WAIT,
            "no new checkpoint under {:?} after {WAIT:?}; the pane shows:\n{}",
            run.join("checkpoints"),
            tmux.capture()
        );
        std::thread::sleep(POLL);
    };
    let name = new_ckpt.file_name().unwrap().to_str().unwrap().to_string();
    tmux.wait_for("the checkpoint in the event log", |s| {
        s.lines()
            .any(|l| l.contains("ckpt") && l.contains("checkpoint"))
    });

    // 5. `q` asks; `q` again confirms quitting without a checkpoint.
    tmux.send("q");
    tmux.wait_for("the quit dialog", |s| s.contains("quit without checkpoint"));
    tmux.send("q");
    let done = tmux.wait_for("the process to exit", |s| s.contains("EXIT="));
    assert!(done.contains("EXIT=0"), "non-zero exit status:\n{done}");
    // The terminal is restored: the normal screen, cooked mode, a visible cursor, no mouse
    // capture, and nothing of the dashboard left on screen.
    let done = tmux.wait_for("the tty mode line", |s| s.contains("TTY="));
    assert!(done.contains("TTY=cooked"), "tty left in raw mode:\n{done}");
    assert_eq!(
        tmux.pane_var("alternate_on"),
        "0",
        "alternate screen not left"
    );
    assert_eq!(tmux.pane_var("cursor_flag"), "1", "cursor left hidden");
    assert_eq!(
        tmux.pane_var("mouse_any_flag"),
        "0",
        "mouse capture left on"
    );
    assert_eq!(
        tmux.pane_var("mouse_standard_flag"),
        "0",
        "mouse capture left on"
    );
    for dashboard_text in ["space pause", "selection ·", "events", "p (frozen)"] {
        assert!(
            !done.contains(dashboard_text),
            "dashboard text {dashboard_text:?} still on screen after exit:\n{done}"
        );
    }
    // The manual checkpoint is still complete on disk after the quit.
    assert!(
        complete_checkpoints(&run)
            .iter()
            .any(|p| p.ends_with(&name)),
        "{name} gone after quitting"
    );
}

/// The steps of the event-log lines that contain `text`.
fn log_steps(screen: &str, text: &str) -> Vec<u64> {
    screen
        .lines()
        .filter(|l| l.contains(text))
        .filter_map(|l| log_step(l, text))
        .collect()
}

/// `train --resume` in the TUI opens on the run as its log holds it up to the checkpoint:
/// its selections in the heatmap and the event log, its evaluations, and the live values it
/// had reached (a `freeze` changed on an earlier resume), not config.yaml's.
#[test]
fn resume_opens_on_the_runs_history_under_tmux() {
    if !tmux_available() {
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED: tmux not found; the TUI resume test did not run. Fix: install tmux"
        );
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    // 60 steps in stages of 3, an evaluation every 10 steps, a checkpoint every 15.
    let sets = [
        "max_steps=60",
        "update_ratio=0.05",
        "eval_every=10",
        "checkpoint_every=15",
        "keep_last=10",
    ];
    // Stopped at step 15, resumed with freeze=strict (applied at the next selection), then
    // stopped at step 30.
    common::demo_with_resumes(&run, &sets, &[(15, &["freeze=strict"])]);
    common::drop_checkpoints_after(&run, 30);
    let cmd = format!(
        "{} train --resume {} --threads 1; sleep 600",
        sh_quote(env!("CARGO_BIN_EXE_dps-tui")),
        sh_quote(run.to_str().unwrap())
    );
    let tmux = Tmux::start(tmp.path(), 160, 48, &cmd);
    // Step 31 is the resumed trainer's first: its `start` event has been shown by then.
    let screen = tmux.wait_for("the resumed run's first step", |s| {
        status_step(s).is_some_and(|k| k >= 31)
    });
    assert!(
        !screen.contains("No selection yet"),
        "the heatmap lost the run's selections:\n{screen}"
    );
    let before = |text: &str| log_steps(&screen, text).into_iter().any(|k| k <= 30);
    assert!(
        before("selection stage") && before("eval:"),
        "no selection or evaluation from before the checkpoint in the log:\n{screen}"
    );
    assert!(
        screen.contains("freeze       strict"),
        "the settings do not show the freeze the run trains with:\n{screen}"
    );
}

#[test]
fn replay_and_compare_of_finished_runs_under_tmux() {
    if !tmux_available() {
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED: tmux not found; the replay/compare TUI test did not run. Fix: install tmux"
        );
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("runs");
    let bin = env!("CARGO_BIN_EXE_dps-tui");
    for method in ["vanilla", "dps-dense"] {
        let o = common::headless_demo(
            &out,
            &["max_steps=40", "eval_every=20", &format!("method={method}")],
        )
        .output()
        .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let mut runs: Vec<PathBuf> = std::fs::read_dir(&out)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    runs.sort();
    assert_eq!(runs.len(), 2, "{runs:?}");

    // Replay opens at the end of the recording; Home, End and ← move the time cursor.
    let dir = tmp.path().join("replay");
    std::fs::create_dir_all(&dir).unwrap();
    let cmd = format!(
        "{} replay {}; echo EXIT=$?; sleep 60",
        sh_quote(bin),
        sh_quote(runs[1].to_str().unwrap())
    );
    let tmux = Tmux::start(&dir, 140, 40, &cmd);
    let s = tmux.wait_for("the replay header and the finished run", |s| {
        replay_events(s).is_some() && s.contains("finished")
    });
    let (cursor, total) = replay_events(&s).unwrap();
    assert_eq!(cursor, total, "replay should open at the end:\n{s}");
    tmux.send("Home");
    let s = tmux.wait_for("the cursor at the start", |s| {
        replay_events(s) == Some((0, total)) && s.contains("replay: at the start")
    });
    assert!(!s.contains("waiting for the trainer"), "{s}");
    // `.` steps whatever has the focus, the heatmap too.
    tmux.send("Tab");
    tmux.send(".");
    tmux.wait_for("one event forward", |s| {
        replay_events(s) == Some((1, total))
    });
    tmux.send("BTab");
    // A training key says it is off.
    tmux.send("Space");
    tmux.wait_for("the training keys are off", |s| {
        s.contains("replay: training controls are off")
    });
    tmux.send("End");
    tmux.wait_for("the cursor at the end", |s| {
        replay_events(s) == Some((total, total))
    });
    tmux.send("Left");
    tmux.wait_for("one event back", |s| {
        replay_events(s) == Some((total - 1, total))
    });
    tmux.send("q");
    let done = tmux.wait_for("the exit status", |s| s.contains("EXIT="));
    assert!(done.contains("EXIT=0"), "{done}");
    drop(tmux);

    // Compare overlays both runs and marks the config key that differs (the method).
    let dir = tmp.path().join("compare");
    std::fs::create_dir_all(&dir).unwrap();
    let cmd = format!(
        "{} compare {} {}; echo EXIT=$?; sleep 60",
        sh_quote(bin),
        sh_quote(runs[0].to_str().unwrap()),
        sh_quote(runs[1].to_str().unwrap())
    );
    let tmux = Tmux::start(&dir, 160, 48, &cmd);
    tmux.wait_for(
        "both runs and their differing keys on the compare screen",
        |s| {
            s.contains("2 runs")
                && s.contains("vanilla")
                && s.contains("dps-dense")
                && s.contains("differ")
        },
    );
    tmux.send("q");
    let done = tmux.wait_for("the exit status", |s| s.contains("EXIT="));
    assert!(done.contains("EXIT=0"), "{done}");
}

#[test]
fn picker_starts_from_the_command_lines_model_and_data_under_tmux() {
    if !tmux_available() {
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED: tmux not found; the picker test did not run. Fix: install tmux"
        );
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let model = tmp.path().join("my-model");
    let data = tmp.path().join("my-glue");
    let out = tmp.path().join("runs");
    let mut cmd = sh_quote(env!("CARGO_BIN_EXE_dps-tui"));
    for a in [
        "--model",
        model.to_str().unwrap(),
        "--data-dir",
        data.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ] {
        cmd.push(' ');
        cmd.push_str(&sh_quote(a));
    }
    cmd.push_str("; echo EXIT=$?; sleep 600");
    let tmux = Tmux::start(tmp.path(), 160, 48, &cmd);

    // The form starts from the command line's folders, and says they are not there.
    // A capture can catch a frame half drawn, so the wait holds for everything the form must
    // show; on timeout it prints the last capture.
    let (m, d) = (model.to_str().unwrap(), data.to_str().unwrap());
    let screen = tmux.wait_for("the form with both folders, not found", |s| {
        s.contains("run settings") && s.contains(m) && s.contains(d) && s.contains("not found")
    });
    assert!(!screen.contains("✓ ready"), "{screen}");

    // enter tries the local folder, not the Hub, and says why it failed.
    tmux.send("Enter");
    let failed = tmux.wait_for("the start error naming the model", |s| {
        s.contains("could not start") && s.contains("my-model")
    });
    assert!(!failed.contains("huggingface.co"), "{failed}");

    tmux.send("q");
    let end = tmux.wait_for("the exit status", |s| s.contains("EXIT="));
    assert!(end.contains("EXIT=0"), "{end}");
}
