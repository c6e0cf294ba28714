//! Helpers shared by the integration tests: running the real binary, comparing tensors.
//! Each test crate uses some of them.
#![allow(dead_code)]

pub mod hub_fixture;
pub mod hub_server;

use candle_core::{DType, Tensor};
use std::io::Write;
use std::path::Path;
use std::process::Command;

/// `dps-tui train --preset demo --headless --threads 1 --out OUT --set S ...`: a short
/// headless run of the tiny demo model on its synthetic task, on one thread.
pub fn headless_demo(out: &Path, sets: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_dps-tui"));
    c.args([
        "train",
        "--preset",
        "demo",
        "--headless",
        "--threads",
        "1",
        "--out",
    ])
    .arg(out);
    for s in sets {
        c.args(["--set", s]);
    }
    c
}

/// `dps-tui train --resume RUN --headless --threads 1 --set S ...`.
pub fn headless_resume(run: &Path, sets: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_dps-tui"));
    c.args(["train", "--headless", "--threads", "1", "--resume"])
        .arg(run);
    for s in sets {
        c.args(["--set", s]);
    }
    c
}

/// A headless demo run in the folder `run` with `sets`, then for each `(step, sets)` of
/// `resumes`: stopped at its checkpoint at `step` (the later ones removed) and resumed with
/// those `--set`s. Each run must succeed.
pub fn demo_with_resumes(run: &Path, sets: &[&str], resumes: &[(usize, &[&str])]) {
    let ok = |mut c: Command| {
        let o = c.output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    };
    let mut first = headless_demo(&run.with_extension("out"), sets);
    first.arg("--run-dir").arg(run);
    ok(first);
    for (step, sets) in resumes {
        drop_checkpoints_after(run, *step);
        ok(headless_resume(run, sets));
    }
}

/// Remove the checkpoints of `run` after `step`, so that a resume continues from the one at
/// `step`, as if the run had stopped there.
pub fn drop_checkpoints_after(run: &Path, step: usize) {
    for e in std::fs::read_dir(run.join("checkpoints"))
        .unwrap()
        .flatten()
    {
        let name = e.file_name().to_string_lossy().to_string();
        let n = name
            .strip_prefix("step-")
            .and_then(|s| s.parse::<usize>().ok());
        if n.is_some_and(|n| n > step) {
            std::fs::remove_dir_all(e.path()).unwrap();
        }
    }
}

/// The largest absolute element-wise difference of two tensors of the same shape (any float
/// dtype, compared in f32).
pub fn max_abs_diff(a: &Tensor, b: &Tensor) -> f32 {
    assert_eq!(a.dims(), b.dims(), "shapes differ");
    let a = a.to_dtype(DType::F32).unwrap().flatten_all().unwrap();
    let b = b.to_dtype(DType::F32).unwrap().flatten_all().unwrap();
    if a.elem_count() == 0 {
        return 0.0;
    }
    (a - b)
        .unwrap()
        .abs()
        .unwrap()
        .max(0)
        .unwrap()
        .to_scalar::<f32>()
        .unwrap()
}

/// Say that a test did not run because something it needs is missing, where `cargo test` shows
/// it: libtest captures `eprintln!`, not writes to the process's standard error. Under CI (`CI`
/// set) that is a failure instead, since CI has everything these tests need.
pub fn skipped(why: &str) {
    if std::env::var_os("CI").is_some() {
        panic!("{why}: CI must run this test, so its prerequisites must be there");
    }
    let _ = writeln!(std::io::stderr(), "SKIPPED: {why}");
}
