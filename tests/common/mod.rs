//! Helpers shared by the integration tests that run the real binary.

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
