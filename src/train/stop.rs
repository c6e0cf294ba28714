//! Clean stops on signals. [`StopSignal::install`] catches SIGINT, SIGTERM and SIGHUP: the
//! first one is recorded, and the trainer, between steps, checkpoints, logs a `stopped` event
//! and ends the run; the process then exits with 128 + the signal's number (130, 143, 129). A
//! second signal ends the process at once with that code.
//!
//! The handler is installed whatever the signal's disposition was before, so a headless run
//! started with `&` from a script (where SIGINT starts out ignored) stops on SIGINT too.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

/// The signals that stop a run cleanly.
pub const SIGNALS: [i32; 3] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP];

/// The first stop signal received (shared with the handler), or none yet.
#[derive(Debug, Clone, Default)]
pub struct StopSignal {
    received: Arc<AtomicUsize>,
}

impl StopSignal {
    /// Catch [`SIGNALS`] in this process from now on.
    pub fn install() -> std::io::Result<StopSignal> {
        let stop = StopSignal::default();
        let seen = Arc::new(AtomicBool::new(false));
        for sig in SIGNALS {
            // Registered in this order, they run in this order: a signal after the first
            // exits at once; the first only sets the flags.
            signal_hook::flag::register_conditional_shutdown(sig, 128 + sig, Arc::clone(&seen))?;
            signal_hook::flag::register(sig, Arc::clone(&seen))?;
            signal_hook::flag::register_usize(sig, Arc::clone(&stop.received), sig as usize)?;
        }
        Ok(stop)
    }

    /// The signal received, if any.
    pub fn received(&self) -> Option<i32> {
        match self.received.load(Ordering::SeqCst) {
            0 => None,
            s => Some(s as i32),
        }
    }

    /// Record `sig` as if it had been received (what a parent that forwards signals, or a
    /// test, does).
    pub fn raise(&self, sig: i32) {
        self.received.store(sig as usize, Ordering::SeqCst);
    }
}

/// The exit code of a process stopped by `sig`: 128 + its number, as a shell reports it.
pub fn exit_code(sig: i32) -> i32 {
    128 + sig
}

/// `SIGINT`, `SIGTERM`, `SIGHUP` (or `signal N`).
pub fn name(sig: i32) -> String {
    match sig {
        libc::SIGINT => "SIGINT".into(),
        libc::SIGTERM => "SIGTERM".into(),
        libc::SIGHUP => "SIGHUP".into(),
        n => format!("signal {n}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_codes_follow_the_shell() {
        assert_eq!(
            SIGNALS.map(exit_code),
            [130, 143, 129],
            "SIGINT, SIGTERM, SIGHUP"
        );
        assert_eq!(name(libc::SIGTERM), "SIGTERM");
        let s = StopSignal::default();
        assert_eq!(s.received(), None);
        s.raise(libc::SIGHUP);
        assert_eq!(s.received(), Some(libc::SIGHUP));
    }
}
