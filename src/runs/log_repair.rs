//! Putting `events.jsonl` back in step with the checkpoint a run resumes from.
//!
//! Before a checkpoint is committed the trainer syncs the log and records its length in the
//! checkpoint's `trainer_state.json` (`event_log_bytes`): everything the run logged up to the
//! checkpoint's state, and nothing after it. A run killed later left events behind that its
//! resumed run writes again (the steps after the checkpoint, a selection, an evaluation), and
//! perhaps a torn last line. Resume cuts the log back to the recorded length (keeping the
//! checkpoint's own `checkpoint` event), or, for a checkpoint without a recorded length, cuts
//! only a torn last line, and says so in a `repair` event before appending. So the log holds
//! every step exactly once and is valid JSON lines throughout.

use crate::core::events::Event;
use std::fs::OpenOptions;
use std::path::Path;

/// What a resume cut from the log, as the `repair` event that reports it.
fn repair_event(step: usize, torn: usize, dropped: &[Event], note: Option<String>) -> Event {
    let mut parts = Vec::new();
    if torn > 0 {
        parts.push(format!("cut a torn last line ({torn} bytes)"));
    }
    if !dropped.is_empty() {
        let first = dropped.iter().find_map(Event::step).unwrap_or(step);
        let last = dropped.iter().filter_map(Event::step).max().unwrap_or(step);
        parts.push(format!(
            "cut {} event(s) logged after the checkpoint (steps {first}..={last}), which the resumed run writes again",
            dropped.len()
        ));
    }
    if let Some(n) = note {
        parts.push(n);
    }
    Event::Repair {
        step,
        torn_bytes: torn,
        dropped_events: dropped.len(),
        message: format!(
            "resuming from the checkpoint at step {step}: {}",
            parts.join("; ")
        ),
    }
}

/// The end of the `checkpoint` event for `step` when it is the line starting at `at`.
fn checkpoint_line_end(bytes: &[u8], at: usize, step: usize) -> Option<usize> {
    let nl = bytes[at..].iter().position(|b| *b == b'\n')?;
    match serde_json::from_slice::<Event>(&bytes[at..at + nl]) {
        Ok(Event::Checkpoint { step: s, .. }) if s == step => Some(at + nl + 1),
        _ => None,
    }
}

/// Cut `events.jsonl` at `path` for a run resuming from the checkpoint at `step`, which
/// recorded the log's length `mark` (`None` for checkpoints written before lengths were
/// recorded). Returns the `repair` event to log, or `None` when nothing was cut. A missing
/// log is left missing.
pub fn prepare_for_resume(
    path: &Path,
    step: usize,
    mark: Option<u64>,
) -> std::io::Result<Option<Event>> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let len = bytes.len();
    // The end of the last complete line.
    let whole = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    let torn = len - whole;
    let mut note = None;
    let cut = match mark.map(|m| m as usize) {
        Some(m) if m <= whole && (m == 0 || bytes[m - 1] == b'\n') => {
            checkpoint_line_end(&bytes, m, step).unwrap_or(m)
        }
        Some(m) => {
            note = Some(format!(
                "the checkpoint recorded a log of {m} bytes, which this log ({len} bytes) does not match; kept all its complete lines"
            ));
            whole
        }
        None => whole,
    };
    if cut == len {
        return Ok(None);
    }
    let dropped: Vec<Event> = bytes[cut..whole]
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .filter_map(|l| serde_json::from_slice::<Event>(l).ok())
        .collect();
    let f = OpenOptions::new().write(true).open(path)?;
    f.set_len(cut as u64)?;
    f.sync_all()?;
    Ok(Some(repair_event(step, torn, &dropped, note)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::events::Metrics;

    fn line(e: &Event) -> String {
        e.to_json_line() + "\n"
    }
    fn step(n: usize) -> Event {
        Event::Step {
            step: n,
            epoch: 0.0,
            loss: 1.0,
            lr: 1e-3,
            examples_per_sec: 1.0,
            grad_norm: None,
            step_seconds: None,
            run_seconds: None,
        }
    }
    fn ck(n: usize) -> Event {
        Event::Checkpoint {
            step: n,
            path: format!("checkpoints/step-{n}"),
        }
    }
    fn steps_in(path: &Path) -> Vec<usize> {
        let r = super::super::event_log::read(path).unwrap();
        assert!(r.torn_tail.is_none() && r.bad_lines.is_empty());
        r.events
            .iter()
            .filter_map(|e| match e {
                Event::Step { step, .. } => Some(*step),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_resume_cuts_back_to_the_checkpoint_keeping_its_event() {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("events.jsonl");
        let head = line(&step(1)) + &line(&step(2));
        let tail = line(&ck(2))
            + &line(&step(3))
            + &line(&Event::Eval {
                step: 3,
                metrics: Metrics::new(),
            });
        let torn = &line(&step(4))[..10];
        std::fs::write(&p, format!("{head}{tail}{torn}")).unwrap();
        let r = prepare_for_resume(&p, 2, Some(head.len() as u64))
            .unwrap()
            .expect("a repair");
        match &r {
            Event::Repair {
                step: 2,
                torn_bytes: 10,
                dropped_events: 2,
                message,
            } => assert!(message.contains("steps 3..=3"), "{message}"),
            other => panic!("{other:?}"),
        }
        assert_eq!(steps_in(&p), vec![1, 2]);
        assert!(std::fs::read_to_string(&p)
            .unwrap()
            .ends_with(&line(&ck(2))));
        assert_eq!(
            prepare_for_resume(&p, 2, Some(head.len() as u64)).unwrap(),
            None,
            "nothing more to cut"
        );
    }

    #[test]
    fn without_a_recorded_length_only_a_torn_line_is_cut() {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("events.jsonl");
        let torn = "{\"event\":\"step\",\"step\":3";
        let text = line(&step(1)) + &line(&step(2)) + torn;
        std::fs::write(&p, &text).unwrap();
        let r = prepare_for_resume(&p, 1, None).unwrap().expect("a repair");
        match r {
            Event::Repair {
                torn_bytes,
                dropped_events: 0,
                ..
            } => assert_eq!(torn_bytes, torn.len()),
            other => panic!("{other:?}"),
        }
        assert_eq!(steps_in(&p), vec![1, 2]);
        // A recorded length the log does not reach (it was replaced): nothing is cut.
        assert_eq!(prepare_for_resume(&p, 1, Some(10_000)).unwrap(), None);
        assert_eq!(
            prepare_for_resume(&tmp.path().join("none"), 1, Some(5)).unwrap(),
            None
        );
    }
}
