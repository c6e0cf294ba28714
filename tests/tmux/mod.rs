//! A tmux server on a private socket, for the tests that drive the real binary's terminal UI
//! (`tui_tmux.rs`, `watch_tmux.rs`).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// How long any one wait may take (generous: CI machines are small and busy).
pub const WAIT: Duration = Duration::from_secs(60);
/// How often the pane is captured while waiting.
pub const POLL: Duration = Duration::from_millis(100);

pub fn tmux_available() -> bool {
    Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// A tmux server on a private socket (a file in `dir`, unique to this test), killed on drop.
pub struct Tmux {
    pub socket: PathBuf,
}

impl Tmux {
    pub fn start(dir: &Path, width: u16, height: u16, shell_command: &str) -> Tmux {
        let t = Tmux {
            socket: dir.join("tmux.sock"),
        };
        let out = t.run(&[
            "-f",
            "/dev/null",
            "new-session",
            "-d",
            "-x",
            &width.to_string(),
            "-y",
            &height.to_string(),
            shell_command,
        ]);
        assert!(
            out.status.success(),
            "tmux new-session failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        t
    }

    pub fn run(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .arg("-S")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("run tmux")
    }

    pub fn capture(&self) -> String {
        let out = self.run(&["capture-pane", "-p", "-t", "0"]);
        assert!(
            out.status.success(),
            "tmux capture-pane failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn send(&self, key: &str) {
        let out = self.run(&["send-keys", "-t", "0", key]);
        assert!(out.status.success(), "tmux send-keys {key} failed");
    }

    /// A pane format variable, e.g. `alternate_on`.
    pub fn pane_var(&self, name: &str) -> String {
        let fmt = format!("#{{{name}}}");
        let out = self.run(&["display-message", "-p", "-t", "0", &fmt]);
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Capture the pane until `ok` holds; panic with the last capture after [`WAIT`].
    pub fn wait_for(&self, what: &str, ok: impl Fn(&str) -> bool) -> String {
        let t0 = Instant::now();
        loop {
            let screen = self.capture();
            if ok(&screen) {
                return screen;
            }
            if t0.elapsed() > WAIT {
                panic!("timed out after {WAIT:?} waiting for {what}; the pane shows:\n{screen}");
            }
            std::thread::sleep(POLL);
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.run(&["kill-server"]);
        let _ = std::fs::remove_file(&self.socket);
    }
}

/// The dashboard header's `replay <cursor>/<total> events`: the events before the replay cursor
/// and all of them. `None` until the header is whole: a header caught half drawn has no word
/// `events` after its numbers yet.
pub fn replay_events(screen: &str) -> Option<(u64, u64)> {
    let line = screen.lines().find(|l| l.contains(" replay "))?;
    let rest = &line[line.find(" replay ")? + " replay ".len()..];
    let mut words = rest.split_whitespace();
    let (a, b) = words.next()?.split_once('/')?;
    (words.next()? == "events").then_some(())?;
    Some((a.parse().ok()?, b.parse().ok()?))
}

/// `s` quoted for the shell tmux runs the command in.
pub fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}
