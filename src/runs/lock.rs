//! One writer per run folder: an advisory `flock` on `<run>/.lock`, held for as long as a
//! trainer writes the folder. The file also records the holder's pid, so a second trainer is
//! refused naming it. The kernel drops the lock when its holder dies (kill -9 included), so a
//! lock left by a dead process is simply taken over.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// The lock file inside a run folder.
pub const LOCK_FILE: &str = ".lock";

#[derive(Debug, Error)]
pub enum LockError {
    #[error("{dir} is in use by another trainer (pid {pid}). Fix: wait for it to finish, or stop it (`kill -INT {pid}`: it checkpoints and exits), then try again")]
    Held { dir: PathBuf, pid: String },
    #[error("cannot lock {path}: {error}. Fix: make sure the run folder is writable")]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
}

/// The held lock of a run folder; dropping it (or the process ending) releases it.
#[derive(Debug)]
pub struct RunLock {
    file: File,
    path: PathBuf,
}

fn open(path: &Path) -> std::io::Result<File> {
    // std opens with O_CLOEXEC: children of the trainer never inherit the lock.
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
}

fn try_flock(f: &File, op: libc::c_int) -> std::io::Result<bool> {
    loop {
        // SAFETY: flock on a file descriptor this process owns.
        let r = unsafe { libc::flock(f.as_raw_fd(), op | libc::LOCK_NB) };
        if r == 0 {
            return Ok(true);
        }
        let e = std::io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::EWOULDBLOCK) => return Ok(false),
            Some(libc::EINTR) => continue,
            _ => return Err(e),
        }
    }
}

fn read_pid(f: &mut File) -> String {
    let mut s = String::new();
    let _ = f
        .seek(SeekFrom::Start(0))
        .and_then(|_| f.read_to_string(&mut s));
    let pid = s.trim();
    if pid.is_empty() {
        "unknown".into()
    } else {
        pid.into()
    }
}

impl RunLock {
    /// Take the lock of the run folder `dir` (which must exist), at once or not at all.
    pub fn acquire(dir: &Path) -> Result<RunLock, LockError> {
        let path = dir.join(LOCK_FILE);
        let io = |error| LockError::Io {
            path: path.clone(),
            error,
        };
        let mut file = open(&path).map_err(io)?;
        // An observer ([`holder`]) holds a shared lock for a moment: a few short tries tell it
        // from a trainer, which holds the lock for as long as it runs.
        let mut tries = 0;
        while !try_flock(&file, libc::LOCK_EX).map_err(io)? {
            tries += 1;
            if tries < 6 {
                std::thread::sleep(std::time::Duration::from_millis(40));
                continue;
            }
            return Err(LockError::Held {
                dir: dir.to_path_buf(),
                pid: read_pid(&mut file),
            });
        }
        file.set_len(0).map_err(io)?;
        file.seek(SeekFrom::Start(0)).map_err(io)?;
        writeln!(file, "{}", std::process::id()).map_err(io)?;
        file.flush().map_err(io)?;
        Ok(RunLock { file, path })
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The pid written in the lock file (this process's).
    pub fn pid(&mut self) -> String {
        read_pid(&mut self.file)
    }
}

/// Whether a live process holds the lock of `dir`, and its pid as written in the lock file.
/// `None`: nobody writes the folder (no lock file, or its holder is gone).
pub fn holder(dir: &Path) -> Option<String> {
    let mut f = File::open(dir.join(LOCK_FILE)).ok()?;
    match try_flock(&f, libc::LOCK_SH) {
        // Free: taken for a moment, released when `f` closes.
        Ok(true) => None,
        Ok(false) => Some(read_pid(&mut f)),
        Err(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_is_refused_naming_the_holder_and_a_released_one_is_taken_over() {
        let tmp = tempfile::tempdir().unwrap();
        assert_eq!(holder(tmp.path()), None, "no lock file");
        let a = RunLock::acquire(tmp.path()).unwrap();
        let me = std::process::id().to_string();
        assert_eq!(holder(tmp.path()), Some(me.clone()));
        // flock locks belong to the open file: a second open in this process conflicts too.
        match RunLock::acquire(tmp.path()) {
            Err(LockError::Held { pid, .. }) => assert_eq!(pid, me),
            other => panic!("{other:?}"),
        }
        drop(a);
        assert_eq!(holder(tmp.path()), None, "released with its holder");
        // A stale pid in a free lock file (its process is gone) is no obstacle.
        std::fs::write(tmp.path().join(LOCK_FILE), "999999999\n").unwrap();
        let mut b = RunLock::acquire(tmp.path()).unwrap();
        assert_eq!(b.pid(), me);
    }
}
