//! The fault campaign: bad inputs fed to the real binary, one table row each. Every row states
//! the exit code (2 for an error before training, 1 for a run that fails, 0 for a fault the
//! program repairs) and the words its error must hold: the file, key or tensor it concerns and
//! the fix. No row may panic or touch the terminal.
//!
//! The rows use the demo preset, tiny fixture files written into a temporary folder, and the
//! tiny BERT folder of `tests/fixtures/hub-repos/bert-large-cased` where a task needs a real
//! model and tokenizer (its data is read after the model is loaded).

mod common;
#[path = "fault_campaign/config.rs"]
mod config;
#[path = "fault_campaign/data.rs"]
mod data;
#[path = "fault_campaign/runs.rs"]
mod runs;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// One bad input and what the program must answer.
struct Row {
    /// The kind of fault (the campaign's table in docs/guide.md counts rows by kind).
    kind: &'static str,
    /// What is wrong, for failure messages.
    what: String,
    args: Vec<OsString>,
    /// Where stdout goes: `None` for a pipe the test reads.
    stdout_to: Option<PathBuf>,
    code: i32,
    /// Words stderr must hold: the file, key or tensor, and the fix.
    needles: Vec<String>,
    /// Words stderr must not hold (a wrong line, say).
    absent: Vec<String>,
    /// Environment variables set for this row.
    env: Vec<(String, OsString)>,
}

impl Row {
    fn new(
        kind: &'static str,
        what: impl Into<String>,
        args: &[&dyn AsRef<std::ffi::OsStr>],
    ) -> Row {
        Row {
            kind,
            what: what.into(),
            args: args.iter().map(|a| a.as_ref().to_os_string()).collect(),
            stdout_to: None,
            code: 2,
            needles: Vec::new(),
            absent: Vec::new(),
            env: Vec::new(),
        }
    }
    fn env(mut self, key: &str, value: impl Into<OsString>) -> Row {
        self.env.push((key.into(), value.into()));
        self
    }
    fn code(mut self, code: i32) -> Row {
        self.code = code;
        self
    }
    fn says(mut self, needles: &[&str]) -> Row {
        self.needles.extend(needles.iter().map(|s| s.to_string()));
        self
    }
    fn says_path(mut self, p: &Path) -> Row {
        self.needles.push(p.display().to_string());
        self
    }
    fn never(mut self, words: &[&str]) -> Row {
        self.absent.extend(words.iter().map(|s| s.to_string()));
        self
    }
    fn stdout_to(mut self, p: &str) -> Row {
        self.stdout_to = Some(PathBuf::from(p));
        self
    }
}

/// Words that give the fix: an explicit `Fix:`, or what is accepted instead.
const FIX_WORDS: &[&str] = &[
    "Fix",
    "expected",
    "is not one of",
    "Allowed keys",
    "must be",
];

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_dps-tui"));
    c.env_remove("RUST_BACKTRACE")
        .env_remove("RUST_LIB_BACKTRACE")
        .env("HF_HUB_OFFLINE", "1")
        .stdin(Stdio::null());
    c
}

/// Run one row; `Err` says what it got wrong.
fn check(row: &Row) -> Result<(), String> {
    let mut cmd = bin();
    cmd.args(&row.args);
    for (k, v) in &row.env {
        cmd.env(k, v);
    }
    if let Some(p) = &row.stdout_to {
        let f = std::fs::OpenOptions::new().write(true).open(p).unwrap();
        cmd.stdout(f);
    }
    let o = cmd.output().map_err(|e| format!("cannot start: {e}"))?;
    let stderr = String::from_utf8_lossy(&o.stderr).to_string();
    let stdout = String::from_utf8_lossy(&o.stdout).to_string();
    let mut wrong = Vec::new();
    if o.status.code() != Some(row.code) {
        wrong.push(format!("exit {:?}, expected {}", o.status.code(), row.code));
    }
    for n in &row.needles {
        if !stderr.contains(n.as_str()) {
            wrong.push(format!("no {n:?}"));
        }
    }
    for n in &row.absent {
        if stderr.contains(n.as_str()) {
            wrong.push(format!("says {n:?}"));
        }
    }
    if row.code != 0 && !FIX_WORDS.iter().any(|w| stderr.contains(w)) {
        wrong.push("no fix".into());
    }
    for bad in ["panicked", "RUST_BACKTRACE", "stack backtrace"] {
        if stderr.contains(bad) {
            wrong.push(format!("a panic ({bad})"));
        }
    }
    // Headless and usage paths never touch the terminal: no escape sequences at all.
    if stderr.contains('\u{1b}') || stdout.contains('\u{1b}') {
        wrong.push("terminal escape sequences".into());
    }
    if wrong.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "[{}] {}: {}\n  args: {:?}\n  stderr: {}",
            row.kind,
            row.what,
            wrong.join("; "),
            row.args,
            stderr.trim_end()
        ))
    }
}

/// Run every row and fail with all the rows that went wrong at once.
fn run_all(rows: &[Row]) {
    let failures: Vec<String> = rows.iter().filter_map(|r| check(r).err()).collect();
    assert!(
        failures.is_empty(),
        "{} of {} rows failed:\n{}",
        failures.len(),
        rows.len(),
        failures.join("\n")
    );
}

fn write(p: &Path, bytes: impl AsRef<[u8]>) {
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, bytes).unwrap();
}

/// A tiny BERT folder with config.json, model.safetensors and tokenizer.json.
fn tiny_model() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/hub-repos/bert-large-cased")
}

/// `train --preset P --headless --threads 1 --out OUT` and `extra`.
fn train(preset: impl AsRef<std::ffi::OsStr>, out: &Path, extra: &[&str]) -> Vec<OsString> {
    let mut a: Vec<OsString> = vec!["train".into(), "--preset".into(), preset.as_ref().into()];
    for s in ["--headless", "--threads", "1", "--out"] {
        a.push(s.into());
    }
    a.push(out.into());
    a.extend(extra.iter().map(OsString::from));
    a
}

/// [`train`] with the tiny model folder (`--model TINY`).
fn train_tiny(preset: &str, out: &Path, extra: &[&str]) -> Vec<OsString> {
    let mut a = train(preset, out, &["--model"]);
    a.push(tiny_model().into());
    a.extend(extra.iter().map(OsString::from));
    a
}

fn row_args(kind: &'static str, what: impl Into<String>, args: Vec<OsString>) -> Row {
    let mut r = Row::new(kind, what, &[]);
    r.args = args;
    r
}
