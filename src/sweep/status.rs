//! `dps-tui sweep --status ROOT`: each cell's state, from its run folder and, for a submitted
//! SLURM array, from `squeue`/`sacct`.

use super::grid::{Cell, SweepFile};
use crate::core::events::Event;
use crate::runs::event_log;
use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::time::Duration;

/// A log written to this recently, with no `done` event, belongs to a run still going.
pub const LIVE_WINDOW: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum CellState {
    Pending,
    Running,
    Done,
    Failed,
}

impl fmt::Display for CellState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CellState::Pending => "pending",
            CellState::Running => "running",
            CellState::Done => "done",
            CellState::Failed => "failed",
        })
    }
}

/// One row of the status table.
#[derive(Debug, Clone, PartialEq)]
pub struct CellStatus {
    pub index: usize,
    pub name: String,
    pub state: CellState,
    /// Last step logged and the run's total.
    pub step: usize,
    pub total: usize,
    /// The scheduler's word for the task, when it gave one.
    pub scheduler: Option<String>,
}

/// Whether a file was modified within `window`.
pub fn recently_written(path: &Path, window: Duration) -> bool {
    std::fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.elapsed().ok())
        .is_some_and(|e| e < window)
}

/// The state of one cell from what its folder holds and what the scheduler says.
pub fn cell_state(has_folder: bool, done: bool, live: bool, scheduler: Option<&str>) -> CellState {
    if done {
        return CellState::Done;
    }
    match scheduler {
        Some("RUNNING" | "COMPLETING" | "CONFIGURING" | "SUSPENDED" | "RESIZING") => {
            CellState::Running
        }
        Some("PENDING" | "REQUEUED") => CellState::Pending,
        Some(_) => CellState::Failed,
        None if !has_folder => CellState::Pending,
        None if live => CellState::Running,
        None => CellState::Failed,
    }
}

fn one(root: &Path, cell: &Cell, scheduler: Option<&String>) -> CellStatus {
    let dir = root.join(&cell.name);
    let events = dir.join("events.jsonl");
    let (mut step, mut total, mut done) = (0, 0, false);
    if let Ok(log) = event_log::read(&events) {
        for e in &log.events {
            match e {
                Event::Start { total_steps, .. } => total = *total_steps,
                Event::Step { step: s, .. } => step = *s,
                Event::Done { step: s, .. } => {
                    step = *s;
                    done = true;
                }
                _ => {}
            }
        }
    }
    let live = recently_written(&events, LIVE_WINDOW);
    CellStatus {
        index: cell.index,
        name: cell.name.clone(),
        state: cell_state(dir.exists(), done, live, scheduler.map(|s| s.as_str())),
        step,
        total,
        scheduler: scheduler.cloned(),
    }
}

/// Every cell's status. `scheduler` maps array indices to SLURM states (empty for a local
/// sweep).
pub fn statuses(
    sweep: &SweepFile,
    root: &Path,
    scheduler: &BTreeMap<usize, String>,
) -> Vec<CellStatus> {
    sweep
        .cells
        .iter()
        .map(|c| one(root, c, scheduler.get(&c.index)))
        .collect()
}

/// The status table as text, with a count per state at the end.
pub fn table(rows: &[CellStatus]) -> String {
    let w = rows.iter().map(|r| r.name.len()).max().unwrap_or(4).max(4);
    let mut s = format!(
        "{:>5}  {:<w$}  {:<8} {:>11}  scheduler\n",
        "cell", "name", "state", "steps"
    );
    for r in rows {
        s += &format!(
            "{:>5}  {:<w$}  {:<8} {:>5}/{:<5}  {}\n",
            r.index,
            r.name,
            r.state.to_string(),
            r.step,
            r.total,
            r.scheduler.as_deref().unwrap_or("-")
        );
    }
    let mut counts: BTreeMap<CellState, usize> = BTreeMap::new();
    for r in rows {
        *counts.entry(r.state).or_default() += 1;
    }
    let parts: Vec<String> = counts.iter().map(|(k, n)| format!("{n} {k}")).collect();
    s += &format!("{} cells: {}\n", rows.len(), parts.join(", "));
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_from_folder_and_scheduler() {
        use CellState::*;
        assert_eq!(cell_state(false, false, false, None), Pending);
        assert_eq!(cell_state(true, false, true, None), Running);
        assert_eq!(cell_state(true, false, false, None), Failed);
        assert_eq!(cell_state(true, true, false, Some("RUNNING")), Done);
        assert_eq!(cell_state(false, false, false, Some("PENDING")), Pending);
        assert_eq!(cell_state(true, false, false, Some("RUNNING")), Running);
        assert_eq!(cell_state(true, false, true, Some("TIMEOUT")), Failed);
        assert_eq!(cell_state(true, false, false, Some("COMPLETED")), Failed);
    }

    #[test]
    fn table_counts() {
        let rows = vec![
            CellStatus {
                index: 0,
                name: "seed=1".into(),
                state: CellState::Done,
                step: 5,
                total: 5,
                scheduler: None,
            },
            CellStatus {
                index: 1,
                name: "seed=2".into(),
                state: CellState::Pending,
                step: 0,
                total: 0,
                scheduler: Some("PENDING".into()),
            },
        ];
        let t = table(&rows);
        assert!(t.contains("seed=1") && t.contains("done"), "{t}");
        assert!(t.ends_with("2 cells: 1 pending, 1 done\n"), "{t}");
    }
}
