//! Running cells on this machine: a cell's state on disk decides what its run does (a finished
//! cell is skipped, a crashed one resumes from its last checkpoint, any other starts afresh),
//! and `--jobs N` runs N cells at a time, each a headless `dps-tui train` child with its share
//! of the threads.

use super::grid::{Cell, SweepFile};
use super::SweepError;
use crate::core::events::Event;
use crate::runs::event_log;
use crate::runs::RunDir;
use crate::train::stop::StopSignal;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// What a cell's run folder holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DiskState {
    /// No run folder yet.
    Missing,
    /// The log holds a `done` event, not stopped early.
    Done,
    /// No `done` event, but a complete checkpoint at this step to resume from.
    Resumable(usize),
    /// A folder with neither (started and stopped before its first checkpoint).
    Partial,
}

/// Whether a run's log ends its run: a `done` event not stopped early (a run stopped by a
/// signal checkpointed first, and a rerun resumes it).
pub fn log_is_done(events: &Path) -> bool {
    event_log::read(events)
        .map(|l| {
            l.events.iter().rev().find_map(|e| match e {
                Event::Done { stopped_early, .. } => Some(!stopped_early),
                _ => None,
            }) == Some(true)
        })
        .unwrap_or(false)
}

/// The state of the run folder `dir`.
pub fn disk_state(dir: &Path) -> DiskState {
    if !dir.exists() {
        return DiskState::Missing;
    }
    if log_is_done(&dir.join("events.jsonl")) {
        return DiskState::Done;
    }
    let rd = RunDir {
        path: dir.to_path_buf(),
    };
    match rd.checkpoints().pop() {
        Some((step, _)) => DiskState::Resumable(step),
        None => DiskState::Partial,
    }
}

/// The `dps-tui train` command for a cell given its state, or `None` when it is done. A
/// partial folder is cleared first (it holds nothing to resume from).
pub fn cell_command(
    exe: &Path,
    sweep: &SweepFile,
    root: &Path,
    cell: &Cell,
    threads: Option<usize>,
) -> Result<Option<Command>, SweepError> {
    let dir = root.join(&cell.name);
    if let Some(pid) = crate::runs::lock::holder(&dir) {
        return Err(SweepError::Busy {
            cell: cell.name.clone(),
            dir,
            pid,
        });
    }
    let mut c = Command::new(exe);
    c.current_dir(&sweep.workdir);
    die_with_parent(&mut c);
    match disk_state(&dir) {
        DiskState::Done => return Ok(None),
        DiskState::Resumable(_) => {
            c.args(["train", "--headless", "--resume"]).arg(&dir);
        }
        state => {
            if state == DiskState::Partial {
                std::fs::remove_dir_all(&dir).map_err(|error| SweepError::Io {
                    path: dir.clone(),
                    error,
                })?;
            }
            c.args([
                "train",
                "--headless",
                "--preset",
                &sweep.preset,
                "--run-dir",
            ])
            .arg(&dir);
            for s in &cell.sets {
                c.args(["--set", s]);
            }
        }
    }
    c.arg("--out").arg(root);
    if let Some(t) = threads {
        c.args(["--threads", &t.to_string()]);
    }
    Ok(Some(c))
}

/// Make the cell's trainer receive SIGTERM (and so checkpoint and stop) when the sweep
/// process that started it dies, even by kill -9 (Linux; elsewhere signals are forwarded only).
fn die_with_parent(c: &mut Command) {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::process::CommandExt;
        let parent = std::process::id() as libc::pid_t;
        // SAFETY: only async-signal-safe calls between fork and exec.
        unsafe {
            c.pre_exec(move || {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
                if libc::getppid() != parent {
                    // The parent died before the line above.
                    libc::raise(libc::SIGTERM);
                }
                Ok(())
            });
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = c;
}

/// Where a cell's stderr goes: `ROOT/logs/<cell>.log` (appended to across restarts).
pub fn cell_log(root: &Path, cell: &Cell) -> PathBuf {
    root.join("logs").join(format!("{}.log", cell.name))
}

/// What a local sweep did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// Cells already finished before this sweep (skipped).
    pub skipped: Vec<String>,
    /// Cells run to the end by this sweep.
    pub finished: Vec<String>,
    /// Cells whose run exited with an error (see their log).
    pub failed: Vec<String>,
    /// Cells another live process trains (it holds the run folder's lock): left alone.
    pub busy: Vec<String>,
    /// Cells stopped by a signal forwarded to them (they checkpointed; a rerun resumes them).
    pub stopped: Vec<String>,
    /// The signal that stopped this sweep, if one did.
    pub signal: Option<i32>,
}

impl Outcome {
    /// One line: how many cells finished, were skipped, failed, are busy elsewhere, stopped.
    pub fn summary(&self) -> String {
        let mut s = format!(
            "sweep: {} finished, {} skipped (done already), {} failed",
            self.finished.len(),
            self.skipped.len(),
            self.failed.len()
        );
        if !self.busy.is_empty() {
            s += &format!(
                ", {} left to the live trainer that holds them ({})",
                self.busy.len(),
                self.busy.join(", ")
            );
        }
        if let Some(sig) = self.signal {
            s += &format!(
                ", {} stopped by {} (a rerun resumes them)",
                self.stopped.len(),
                crate::train::stop::name(sig)
            );
        }
        s
    }

    /// The sweep's exit code: 128 + the signal that stopped it, else 1 when a cell failed or
    /// is held by another process, else 0.
    pub fn exit_code(&self) -> i32 {
        match self.signal {
            Some(sig) => crate::train::stop::exit_code(sig),
            None if self.failed.is_empty() && self.busy.is_empty() => 0,
            None => 1,
        }
    }
}

/// Threads for each of `jobs` cells running at once, out of `total` (default: all cores).
pub fn threads_per_cell(total: Option<usize>, jobs: usize) -> usize {
    let total = total
        .filter(|&t| t > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    (total / jobs.max(1)).max(1)
}

fn open_log(path: &Path) -> Result<std::fs::File, SweepError> {
    if let Some(d) = path.parent() {
        let _ = std::fs::create_dir_all(d);
    }
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|error| SweepError::Io {
            path: path.to_path_buf(),
            error,
        })
}

/// Run every cell not yet done, `jobs` at a time, each with `threads` threads. Progress goes to
/// stderr. Each cell runs in its own process group, so a terminal's Ctrl-C reaches the sweep
/// alone; a SIGINT, SIGTERM or SIGHUP to the sweep is forwarded to every running cell (which
/// checkpoints and stops), no new cell starts, and the sweep returns once they have exited. A
/// second signal ends the sweep at once, and its cells get SIGTERM as it dies.
pub fn run_all(
    exe: &Path,
    sweep: &SweepFile,
    root: &Path,
    jobs: usize,
    threads: usize,
) -> Result<Outcome, SweepError> {
    let mut out = Outcome::default();
    let mut queue: std::collections::VecDeque<&Cell> = sweep.cells.iter().collect();
    let mut running: Vec<(&Cell, Child)> = Vec::new();
    let n = sweep.cells.len();
    let stop = StopSignal::install().map_err(|error| SweepError::Io {
        path: root.to_path_buf(),
        error,
    })?;
    loop {
        if let (Some(sig), None) = (stop.received(), out.signal) {
            out.signal = Some(sig);
            queue.clear();
            for (cell, child) in &running {
                eprintln!(
                    "[{}/{n}] {}: passing on {}",
                    cell.index + 1,
                    cell.name,
                    crate::train::stop::name(sig)
                );
                // SAFETY: kill(2) on the pid of a child not yet reaped.
                unsafe { libc::kill(child.id() as libc::pid_t, sig) };
            }
        }
        while running.len() < jobs.max(1) {
            let Some(cell) = queue.pop_front() else { break };
            let cmd = match cell_command(exe, sweep, root, cell, Some(threads)) {
                Err(SweepError::Busy { pid, .. }) => {
                    eprintln!(
                        "[{}/{n}] {}: trained by another live process (pid {pid}), left alone",
                        cell.index + 1,
                        cell.name
                    );
                    out.busy.push(cell.name.clone());
                    continue;
                }
                other => other?,
            };
            let Some(mut cmd) = cmd else {
                eprintln!(
                    "[{}/{n}] {}: done already, skipped",
                    cell.index + 1,
                    cell.name
                );
                out.skipped.push(cell.name.clone());
                continue;
            };
            let log = cell_log(root, cell);
            let err = open_log(&log)?;
            let resuming = cmd.get_args().any(|a| a == "--resume");
            let child = cmd
                .process_group(0)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(err)
                .spawn()
                .map_err(|error| SweepError::Spawn {
                    exe: exe.to_path_buf(),
                    error,
                })?;
            eprintln!(
                "[{}/{n}] {}: {} ({threads} threads, log {})",
                cell.index + 1,
                cell.name,
                if resuming { "resuming" } else { "started" },
                log.display()
            );
            running.push((cell, child));
        }
        if running.is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
        let mut i = 0;
        while i < running.len() {
            let status = running[i].1.try_wait().map_err(|error| SweepError::Io {
                path: cell_log(root, running[i].0),
                error,
            })?;
            match status {
                None => i += 1,
                Some(st) => {
                    let (cell, _) = running.swap_remove(i);
                    let done = log_is_done(&root.join(&cell.name).join("events.jsonl"));
                    if st.success() && done {
                        eprintln!("[{}/{n}] {}: finished", cell.index + 1, cell.name);
                        out.finished.push(cell.name.clone());
                    } else if out.signal.is_some() {
                        eprintln!("[{}/{n}] {}: stopped ({st})", cell.index + 1, cell.name);
                        out.stopped.push(cell.name.clone());
                    } else {
                        eprintln!(
                            "[{}/{n}] {}: FAILED ({st}); see {}",
                            cell.index + 1,
                            cell.name,
                            cell_log(root, cell).display()
                        );
                        out.failed.push(cell.name.clone());
                    }
                }
            }
        }
    }
    Ok(out)
}

/// Run one cell in the foreground (a SLURM array task), its output on this process's.
/// Returns the run's exit code (0 when the cell was already done).
pub fn run_one(
    exe: &Path,
    sweep: &SweepFile,
    root: &Path,
    index: usize,
    threads: Option<usize>,
) -> Result<i32, SweepError> {
    let cell = sweep
        .cells
        .iter()
        .find(|c| c.index == index)
        .ok_or(SweepError::NoSuchCell {
            index,
            count: sweep.cells.len(),
        })?;
    let Some(mut cmd) = cell_command(exe, sweep, root, cell, threads)? else {
        eprintln!("{}: done already, skipped", cell.name);
        return Ok(0);
    };
    eprintln!("{}: {:?}", cell.name, cmd);
    let st = cmd
        .stdout(Stdio::null())
        .status()
        .map_err(|error| SweepError::Spawn {
            exe: exe.to_path_buf(),
            error,
        })?;
    Ok(st.code().unwrap_or(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thread_split() {
        assert_eq!(threads_per_cell(Some(8), 2), 4);
        assert_eq!(threads_per_cell(Some(2), 4), 1);
        assert_eq!(threads_per_cell(Some(7), 3), 2);
        assert!(threads_per_cell(None, 1) >= 1);
    }

    #[test]
    fn disk_states() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path().join("c");
        assert_eq!(disk_state(&d), DiskState::Missing);
        std::fs::create_dir_all(d.join("checkpoints/step-4")).unwrap();
        std::fs::write(d.join("events.jsonl"), "").unwrap();
        assert_eq!(
            disk_state(&d),
            DiskState::Partial,
            "no trainer_state.json: incomplete"
        );
        std::fs::write(d.join("checkpoints/step-4/trainer_state.json"), "{}").unwrap();
        assert_eq!(disk_state(&d), DiskState::Resumable(4));
        let done = Event::Done {
            step: 9,
            metrics: Default::default(),
            stopped_early: false,
        };
        std::fs::write(d.join("events.jsonl"), done.to_json_line() + "\n").unwrap();
        assert_eq!(disk_state(&d), DiskState::Done);
    }
}
