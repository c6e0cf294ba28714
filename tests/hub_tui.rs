//! Download progress in the real binary's terminal UI, against the local Hub server
//! (`tests/common/hub_server.rs`), from an empty `HF_HOME`. The server stalls partway through
//! `model.safetensors`, so the screen can be read while the download is under way:
//!
//! - a GLUE preset started from the picker shows `downloading model.safetensors  N/90.9 MB
//!   R MB/s  ETA T` in the picker until the run starts;
//! - one started from the command line (`train --preset rte`) shows it in the dashboard's
//!   status bar;
//! - `q` leaves at once, with the terminal restored.
//!
//! Needs tmux and what `tests/hub_server.rs` needs; says SKIPPED without them (fails under CI).

mod common;
mod tmux;

use common::hub_server::{Fixture, Server};
use std::path::Path;
use tmux::{sh_quote, tmux_available, Tmux};

/// Bytes of `model.safetensors` the server sends before it stalls.
const STALL_AT: &str = "model.safetensors:30000000";

/// A shell command running the binary in `cwd` with an `HF_HOME` of its own and the server as
/// the Hub, then printing its exit status.
fn command(cwd: &Path, home: &Path, url: &str, args: &[&str]) -> String {
    let bin = env!("CARGO_BIN_EXE_dps-tui");
    let args: Vec<String> = args.iter().map(|a| sh_quote(a)).collect();
    format!(
        "cd {} && env -u HF_HUB_OFFLINE -u HF_HUB_CACHE -u HUGGINGFACE_HUB_CACHE -u HF_TOKEN \
         HF_HOME={} HF_ENDPOINT={} {} {}; echo EXIT=$?; sleep 60",
        sh_quote(&cwd.display().to_string()),
        sh_quote(&home.display().to_string()),
        sh_quote(url),
        sh_quote(bin),
        args.join(" ")
    )
}

/// The download line once it has a rate: `downloading model.safetensors  12.3/90.9 MB  …`.
fn download_line(screen: &str) -> Option<&str> {
    screen
        .lines()
        .find(|l| l.contains("downloading model.safetensors") && l.contains("/90.9 MB"))
        .filter(|l| l.contains(" MB/s") && l.contains("ETA "))
}

/// Wait for the download line, then leave with `q` and check the exit and the terminal.
fn see_download_then_quit(t: &Tmux, where_: &str) -> String {
    let screen = t.wait_for(&format!("the download in the {where_}"), |s| {
        download_line(s).is_some()
    });
    let line = download_line(&screen).unwrap().to_string();
    t.send("q");
    t.wait_for("the exit status", |s| s.contains("EXIT="));
    let end = t.capture();
    assert!(end.contains("EXIT=0"), "{end}");
    assert_eq!(t.pane_var("alternate_on"), "0", "terminal not restored");
    line
}

#[test]
fn glue_preset_downloads_show_bytes_rate_and_eta_in_the_picker_and_the_dashboard() {
    if !tmux_available() {
        common::skipped("hub_tui: tmux is not installed");
        return;
    }
    let Some(fx) = Fixture::get() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(
        &fx,
        &tmp.path().join("root"),
        &["--stall-after", STALL_AT, "--stall-seconds", "120"],
    );
    // A folder without presets/: the picker lists the built-in presets.
    let cwd = tmp.path().join("cwd");
    std::fs::create_dir_all(&cwd).unwrap();
    let out = tmp.path().join("runs");
    let out = out.to_str().unwrap();

    // The picker: enter starts the first preset (cola), whose setup downloads the model first;
    // the picker shows that download.
    let home = tmp.path().join("home-picker");
    let t = Tmux::start(
        tmp.path(),
        140,
        40,
        &command(&cwd, &home, &server.url(), &["--out", out]),
    );
    t.wait_for("the picker", |s| {
        s.contains("pick a preset") && s.contains("╭ cola ")
    });
    t.send("Enter");
    let line = see_download_then_quit(&t, "picker");
    assert!(line.contains("starting"), "{line}");
    drop(t);

    // The command line's preset: the dashboard's status bar shows it.
    let home = tmp.path().join("home-dashboard");
    let dir = tmp.path().join("t2");
    std::fs::create_dir_all(&dir).unwrap();
    let t = Tmux::start(
        &dir,
        140,
        40,
        &command(
            &cwd,
            &home,
            &server.url(),
            &["train", "--preset", "rte", "--out", out],
        ),
    );
    let line = see_download_then_quit(&t, "dashboard");
    assert!(line.contains("setting up"), "{line}");
}
