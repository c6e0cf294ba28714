//! `events.jsonl`: every event of a run, one JSON object per line. Flushed at least every
//! second and at every stage, selection, eval, checkpoint, error and the end of the run.

use crate::core::events::Event;
use crate::train::trainer::EventSink;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub struct EventLog {
    path: PathBuf,
    out: BufWriter<File>,
    last_flush: Instant,
    /// Set after the first write error, so it is reported once.
    failed: bool,
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
        })
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

impl EventSink for EventLog {
    fn emit(&mut self, event: &Event) {
        if let Err(err) = self.write(event) {
            if !self.failed {
                self.failed = true;
                tracing::error!("cannot write {}: {err}", self.path.display());
                eprintln!(
                    "error: cannot write {}: {err}. Fix: free disk space; training goes on, but events are not logged",
                    self.path.display()
                );
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
