//! kill -9 at random points, then `--resume`, again and again, for every method: the event log
//! stays valid JSON lines, holds every step exactly once, and ends up with the steps and
//! metrics of an uninterrupted run.
//!
//! Each method's test runs the demo preset for `STEPS` steps with a checkpoint at every step,
//! kills its trainer (SIGKILL) after a random delay, resumes it (or starts it afresh when no
//! checkpoint was complete yet), and checks the log after every kill; a run that reaches its
//! end is compared with an uninterrupted one and the next round starts, until `KILLS` kills.
//! The delays put kills at random points: while the model loads, mid-step, mid-line, inside a
//! checkpoint's write (counted by the temporary folder it leaves), while old checkpoints are
//! pruned.
//!
//! `DPS_TUI_BIN=path` runs another build of the binary (an earlier one shows the lost steps);
//! `KILL_SEED=n` changes the random delays.

use dps_tui::core::events::{Event, Metrics};
use dps_tui::runs::event_log;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const STEPS: usize = 12;
/// Kills per method: 5 methods give 210.
const KILLS: usize = 42;

fn bin() -> PathBuf {
    std::env::var_os("DPS_TUI_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| env!("CARGO_BIN_EXE_dps-tui").into())
}

/// A small deterministic generator for the delays (xorshift64*).
struct Rng(u64);
impl Rng {
    fn unit(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn sets(method: &str) -> Vec<String> {
    vec![
        format!("method={method}"),
        format!("max_steps={STEPS}"),
        "checkpoint_every=1".into(),
        "eval_every=4".into(),
        // A small training set: ChildTuning-D's Fisher pass before step 1 stays short.
        "train_size=256".into(),
        // Older checkpoints are pruned, so kills also land inside a prune.
        "keep_last=2".into(),
    ]
}

fn start(method: &str, out: &Path, dir: &Path, resume: bool, stderr: &Path) -> Child {
    let mut c = Command::new(bin());
    c.args(["train", "--headless", "--threads", "1", "--out"])
        .arg(out);
    if resume {
        c.arg("--resume").arg(dir);
    } else {
        c.args(["--preset", "demo", "--run-dir"]).arg(dir);
        for s in sets(method) {
            c.args(["--set", &s]);
        }
    }
    c.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(stderr).unwrap())
        .spawn()
        .unwrap()
}

/// The steps, losses and learning rates of the `step` events, and the `eval` events, of a log.
#[derive(Debug, PartialEq)]
struct Trace {
    steps: Vec<(usize, f64, f64)>,
    evals: Vec<(usize, Metrics)>,
}

/// Read and check a log: every line but a torn last one is an event, and the steps run 1, 2, 3,
/// ... with none missing and none twice. `complete`: no torn line either, and one `done`.
fn check(path: &Path, complete: bool, what: &str) -> Trace {
    let log = event_log::read(path).unwrap_or_else(|e| panic!("{what}: {}: {e}", path.display()));
    assert!(
        log.bad_lines.is_empty(),
        "{what}: lines that are not events: {:?}",
        log.bad_lines
    );
    let mut t = Trace {
        steps: Vec::new(),
        evals: Vec::new(),
    };
    let mut done = 0;
    for e in &log.events {
        match e {
            Event::Step { step, loss, lr, .. } => t.steps.push((*step, *loss, *lr)),
            Event::Eval { step, metrics } => t.evals.push((*step, metrics.clone())),
            Event::Done { stopped_early, .. } => {
                assert!(!stopped_early, "{what}");
                done += 1
            }
            _ => {}
        }
    }
    let numbers: Vec<usize> = t.steps.iter().map(|s| s.0).collect();
    let expected: Vec<usize> = (1..=numbers.len()).collect();
    assert_eq!(numbers, expected, "{what}: steps missing or twice");
    let mut eval_steps: Vec<usize> = t.evals.iter().map(|e| e.0).collect();
    eval_steps.dedup();
    assert_eq!(eval_steps.len(), t.evals.len(), "{what}: an eval twice");
    if complete {
        assert!(log.torn_tail.is_none(), "{what}: torn last line");
        assert_eq!(done, 1, "{what}: one done event");
    }
    t
}

fn has_checkpoint(dir: &Path) -> bool {
    std::fs::read_dir(dir.join("checkpoints"))
        .map(|rd| {
            rd.flatten().any(|e| {
                e.file_name().to_string_lossy().starts_with("step-")
                    && e.path().join("trainer_state.json").exists()
            })
        })
        .unwrap_or(false)
}

fn tmp_checkpoint_left(dir: &Path) -> bool {
    std::fs::read_dir(dir.join("checkpoints"))
        .map(|rd| {
            rd.flatten()
                .any(|e| e.file_name().to_string_lossy().starts_with(".tmp-"))
        })
        .unwrap_or(false)
}

fn kill_and_resume(method: &str, index: u64) {
    let began = Instant::now();
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path();
    let err = out.join("stderr.txt");
    // The uninterrupted run.
    let reference_dir = out.join("reference");
    let t0 = Instant::now();
    let st = start(method, out, &reference_dir, false, &err)
        .wait()
        .unwrap();
    let t_run = t0.elapsed();
    assert!(
        st.success(),
        "{method}: {}",
        std::fs::read_to_string(&err).unwrap_or_default()
    );
    let reference = check(
        &reference_dir.join("events.jsonl"),
        true,
        &format!("{method} uninterrupted"),
    );
    assert_eq!(reference.steps.len(), STEPS);

    let seed: u64 = std::env::var("KILL_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(7);
    let mut rng = Rng((seed << 8 | index).wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let (mut kills, mut in_checkpoint, mut afresh, mut rounds) = (0, 0, 0, 0);
    while kills < KILLS {
        rounds += 1;
        let dir = out.join(format!("round-{rounds}"));
        let mut lives = 0;
        loop {
            lives += 1;
            assert!(lives < 400, "{method}: round {rounds} makes no progress");
            let resume = has_checkpoint(&dir);
            if !resume && dir.exists() {
                // Killed before its first checkpoint: nothing to resume, start afresh.
                std::fs::remove_dir_all(&dir).unwrap();
                afresh += 1;
            }
            let mut child = start(method, out, &dir, resume, &err);
            // Up to half a run: most lives end in a kill, each one a little further on.
            let delay = t_run.mul_f64(0.5 * rng.unit());
            let deadline = Instant::now() + delay;
            let exited = loop {
                if let Some(st) = child.try_wait().unwrap() {
                    break Some(st);
                }
                let now = Instant::now();
                if now >= deadline {
                    break None;
                }
                std::thread::sleep((deadline - now).min(Duration::from_millis(5)));
            };
            let what = format!("{method}, round {rounds}, life {lives}");
            match exited {
                Some(st) => {
                    assert!(
                        st.success(),
                        "{what}: {st}: {}",
                        std::fs::read_to_string(&err).unwrap_or_default()
                    );
                    let t = check(&dir.join("events.jsonl"), true, &what);
                    assert_eq!(t, reference, "{what}: differs from the uninterrupted run");
                    break;
                }
                None => {
                    child.kill().unwrap();
                    child.wait().unwrap();
                    kills += 1;
                    in_checkpoint += tmp_checkpoint_left(&dir) as usize;
                    if dir.join("events.jsonl").exists() {
                        check(&dir.join("events.jsonl"), false, &what);
                    }
                }
            }
        }
    }
    eprintln!(
        "{method}: {kills} kills ({in_checkpoint} inside a checkpoint's write, {afresh} before the first checkpoint) over {rounds} runs of {STEPS} steps, all equal to the uninterrupted run; {:.1} s",
        began.elapsed().as_secs_f64()
    );
}

#[test]
fn kill_resume_vanilla() {
    kill_and_resume("vanilla", 0);
}

#[test]
fn kill_resume_dps_dense() {
    kill_and_resume("dps-dense", 1);
}

#[test]
fn kill_resume_dps_mix() {
    kill_and_resume("dps-mix", 2);
}

#[test]
fn kill_resume_child_tuning_f() {
    kill_and_resume("child-tuning-f", 3);
}

#[test]
fn kill_resume_child_tuning_d() {
    kill_and_resume("child-tuning-d", 4);
}
