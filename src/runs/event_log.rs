//! `events.jsonl`: every event of a run, one JSON object per line. Flushed at least every
//! second and at every stage, selection, eval, checkpoint, error and the end of the run, and
//! flushed and synced ([`EventSink::sync`]) before every checkpoint is committed, whose
//! `trainer_state.json` records the log's length then (see [`crate::runs::log_repair`]).

use super::lock::RunLock;
use crate::core::events::Event;
use crate::train::trainer::EventSink;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub struct EventLog {
    path: PathBuf,
    out: BufWriter<File>,
    last_flush: Instant,
    /// Set after the first write error, so it is reported once.
    failed: bool,
    /// The run folder's lock, held for as long as the log is written.
    lock: Option<RunLock>,
}

impl EventLog {
    /// Open for appending (a resumed run continues its log).
    pub fn open(path: &Path) -> std::io::Result<Self> {
        let f = OpenOptions::new().create(true).append(true).open(path)?;
        Ok(EventLog {
            path: path.to_path_buf(),
            out: BufWriter::new(f),
            last_flush: Instant::now(),
            failed: false,
            lock: None,
        })
    }

    /// The log of a run folder for its one writer, which holds `lock` (kept until the log is
    /// dropped). A run resuming from the checkpoint at `step` whose `trainer_state.json`
    /// recorded the log length `mark` first cuts the log back to it (a torn last line, the
    /// events after the checkpoint), and logs what it cut as a `repair` event.
    pub fn open_run(
        events: &Path,
        lock: RunLock,
        resume: Option<(usize, Option<u64>)>,
    ) -> std::io::Result<Self> {
        let repair = match resume {
            Some((step, mark)) => super::log_repair::prepare_for_resume(events, step, mark)?,
            None => None,
        };
        let mut log = EventLog::open(events)?;
        log.hold(lock);
        if let Some(e) = repair {
            if let Event::Repair { message, .. } = &e {
                eprintln!("{}: {message}", events.display());
            }
            log.write(&e)?;
        }
        Ok(log)
    }

    /// Keep the run folder's lock until this log is dropped (with the trainer that owns it).
    pub fn hold(&mut self, lock: RunLock) {
        self.lock = Some(lock);
    }

    /// Flush and sync everything written so far; the log's length then.
    pub fn sync_all(&mut self) -> std::io::Result<u64> {
        self.out.flush()?;
        let f = self.out.get_ref();
        f.sync_data()?;
        self.last_flush = Instant::now();
        Ok(f.metadata()?.len())
    }

    pub fn write(&mut self, e: &Event) -> std::io::Result<()> {
        writeln!(self.out, "{}", e.to_json_line())?;
        let important = !matches!(e, Event::Step { .. });
        if important || self.last_flush.elapsed() >= Duration::from_secs(1) {
            self.out.flush()?;
            if important {
                self.out.get_ref().sync_data()?;
            }
            self.last_flush = Instant::now();
        }
        Ok(())
    }
}

impl EventLog {
    /// What a failed write of the log says: the file, the cause and the fix.
    fn write_error(&self, err: &std::io::Error) -> String {
        format!(
            "cannot write {}: {err}. Fix: free disk space where the run folder is; training goes \
             on, but events are not logged until then",
            self.path.display()
        )
    }

    fn report(&mut self, err: &std::io::Error) {
        if !self.failed {
            self.failed = true;
            let message = self.write_error(err);
            tracing::error!("{message}");
            eprintln!("error: {message}");
        }
    }
}

impl EventSink for EventLog {
    fn emit(&mut self, event: &Event) {
        if let Err(err) = self.write(event) {
            self.report(&err);
        }
    }

    fn sync(&mut self) -> Option<u64> {
        match self.sync_all() {
            Ok(len) if !self.failed => Some(len),
            Ok(_) => None,
            Err(err) => {
                self.report(&err);
                None
            }
        }
    }
}

impl Drop for EventLog {
    fn drop(&mut self) {
        let _ = self.out.flush();
    }
}

/// What reading a log found.
pub struct ReadLog {
    pub events: Vec<Event>,
    /// A last line that was cut off (a crash mid-write), tolerated and reported.
    pub torn_tail: Option<String>,
    /// Lines that are not events of this schema (line number, error).
    pub bad_lines: Vec<(usize, String)>,
}

/// Read `events.jsonl`, tolerating a torn last line.
pub fn read(path: &Path) -> std::io::Result<ReadLog> {
    let f = File::open(path)?;
    let lines: Vec<String> = BufReader::new(f).lines().collect::<Result<_, _>>()?;
    let mut out = ReadLog {
        events: Vec::new(),
        torn_tail: None,
        bad_lines: Vec::new(),
    };
    let n = lines.len();
    for (i, line) in lines.into_iter().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Event>(&line) {
            Ok(e) => out.events.push(e),
            Err(err) if i + 1 == n => {
                let _ = err;
                out.torn_tail = Some(line);
            }
            Err(err) => out.bad_lines.push((i + 1, err.to_string())),
        }
    }
    Ok(out)
}

/// A growing `events.jsonl`, read from where the last read stopped (what a live view of a
/// running run reads twice a second). Lines that are not events are skipped.
#[derive(Debug, Default, Clone)]
pub struct Tail {
    offset: u64,
    /// An incomplete last line, kept until its newline arrives.
    partial: Vec<u8>,
    /// The log shrank since the last read, so what was read before no longer holds.
    rewound: bool,
}

impl Tail {
    /// The complete lines appended since the last call, as events. A log that shrank (was
    /// rewritten) is read again from its start, and [`Tail::rewound`] says so.
    pub fn read_new(&mut self, path: &Path) -> Vec<Event> {
        let Ok(mut f) = File::open(path) else {
            return Vec::new();
        };
        if f.metadata().map(|m| m.len() < self.offset).unwrap_or(false) {
            *self = Tail {
                rewound: true,
                ..Tail::default()
            };
        }
        let before = self.partial.len();
        if f.seek(SeekFrom::Start(self.offset)).is_err()
            || f.read_to_end(&mut self.partial).is_err()
        {
            self.partial.truncate(before);
            return Vec::new();
        }
        self.offset += (self.partial.len() - before) as u64;
        let mut out = Vec::new();
        while let Some(nl) = self.partial.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.partial.drain(..=nl).collect();
            if let Ok(e) = serde_json::from_slice::<Event>(&line) {
                out.push(e);
            }
        }
        out
    }

    /// Whether the log was rewritten since this was last asked: the events read before the
    /// last [`Tail::read_new`] are to be dropped.
    pub fn rewound(&mut self) -> bool {
        std::mem::take(&mut self.rewound)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::events::Metrics;

    #[test]
    fn a_full_disk_says_it_cannot_write_the_log_and_the_fix() {
        if !Path::new("/dev/full").exists() {
            return;
        }
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("events.jsonl");
        std::os::unix::fs::symlink("/dev/full", &path).unwrap();
        let mut log = EventLog::open(&path).unwrap();
        let err = log
            .write(&Event::Paused { step: 3 })
            .expect_err("a full disk refuses the write");
        let text = log.write_error(&err);
        assert!(
            text.starts_with(&format!(
                "cannot write {}: No space left on device",
                path.display()
            )),
            "{text}"
        );
        assert!(text.contains("Fix: free disk space"), "{text}");
        assert!(
            !text.contains("safetensors") && !text.contains("read"),
            "{text}"
        );
        // Reported once; a checkpoint then records no log length it cannot trust.
        log.emit(&Event::Paused { step: 4 });
        assert!(log.failed);
        assert_eq!(EventSink::sync(&mut log), None);
    }

    fn eval(step: usize) -> String {
        let metrics = Metrics::from([("accuracy".to_string(), 0.5)]);
        Event::Eval { step, metrics }.to_json_line() + "\n"
    }

    #[test]
    fn a_tail_reads_whole_lines_once_and_starts_over_on_a_rewritten_log() {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("events.jsonl");
        let mut t = Tail::default();
        assert!(t.read_new(&p).is_empty(), "no log yet");
        let (a, b) = (eval(1), eval(2));
        std::fs::write(&p, format!("{a}{}", &b[..7])).unwrap();
        let steps = |v: Vec<Event>| -> Vec<usize> {
            v.iter()
                .map(|e| match e {
                    Event::Eval { step, .. } => *step,
                    other => panic!("{other:?}"),
                })
                .collect()
        };
        assert_eq!(steps(t.read_new(&p)), vec![1]);
        assert!(!t.rewound());
        std::fs::write(&p, format!("{a}{b}")).unwrap();
        assert_eq!(steps(t.read_new(&p)), vec![2], "the torn line once whole");
        assert!(t.read_new(&p).is_empty());
        std::fs::write(&p, eval(3)).unwrap();
        assert_eq!(steps(t.read_new(&p)), vec![3]);
        assert!(t.rewound(), "a shorter log was rewritten");
        assert!(!t.rewound(), "said once");
    }
}
