//! `dps-tui sweep --status ROOT`: each cell's state, from its run folder (read as a
//! [`RunSummary`], whose [`RunState`] is the one rule for finished, running and crashed) and,
//! for a submitted SLURM array, from `squeue`/`sacct`.

use super::grid::{Cell, SweepFile};
use crate::runs::summary::folder_age;
use crate::runs::{event_log, RunState, RunSummary};
use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

/// A cell's state: a run's [`RunState`] (finished is `done`, stopped early is `stopped`,
/// crashed is `failed`), or `pending` before its run exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum CellState {
    Pending,
    Running,
    Done,
    /// Stopped by a signal after a checkpoint: a rerun of the sweep resumes it.
    Stopped,
    Failed,
}

impl fmt::Display for CellState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CellState::Pending => "pending",
            CellState::Running => "running",
            CellState::Done => "done",
            CellState::Stopped => "stopped",
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

impl From<RunState> for CellState {
    fn from(s: RunState) -> CellState {
        match s {
            RunState::Finished => CellState::Done,
            RunState::Stopped => CellState::Stopped,
            RunState::Running => CellState::Running,
            RunState::Crashed => CellState::Failed,
        }
    }
}

/// The summary of the run in the folder `dir` so far (a missing or unreadable log reads as
/// no events), its state by [`RunState::of`] from the folder's age ([`folder_age`]).
pub fn folder_summary(dir: &Path) -> RunSummary {
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| dir.display().to_string());
    let events = event_log::read(&dir.join("events.jsonl"))
        .map(|l| l.events)
        .unwrap_or_default();
    RunSummary::from_events(&name, dir, &events, BTreeMap::new(), folder_age(dir))
}

/// The state of one cell from its run's state (`None`: no run folder yet) and what the
/// scheduler says, which overrides all but a finished run.
pub fn cell_state(run: Option<RunState>, scheduler: Option<&str>) -> CellState {
    if run == Some(RunState::Finished) {
        return CellState::Done;
    }
    match scheduler {
        Some("RUNNING" | "COMPLETING" | "CONFIGURING" | "SUSPENDED" | "RESIZING") => {
            CellState::Running
        }
        Some("PENDING" | "REQUEUED") => CellState::Pending,
        Some(_) => CellState::Failed,
        None => run.map_or(CellState::Pending, CellState::from),
    }
}

fn one(root: &Path, cell: &Cell, scheduler: Option<&String>) -> CellStatus {
    let dir = root.join(&cell.name);
    let run = dir.exists().then(|| folder_summary(&dir));
    CellStatus {
        index: cell.index,
        name: cell.name.clone(),
        state: cell_state(
            run.as_ref().map(|r| r.status),
            scheduler.map(|s| s.as_str()),
        ),
        step: run.as_ref().map_or(0, |r| r.step),
        total: run.as_ref().map_or(0, |r| r.total_steps),
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
        use RunState::{Crashed, Finished, Running as Live};
        assert_eq!(cell_state(None, None), Pending);
        assert_eq!(cell_state(Some(Live), None), Running);
        assert_eq!(cell_state(Some(Crashed), None), Failed);
        assert_eq!(cell_state(Some(Finished), None), Done);
        assert_eq!(cell_state(Some(RunState::Stopped), None), Stopped);
        assert_eq!(cell_state(Some(Finished), Some("RUNNING")), Done);
        assert_eq!(cell_state(None, Some("PENDING")), Pending);
        assert_eq!(cell_state(Some(Crashed), Some("RUNNING")), Running);
        assert_eq!(cell_state(Some(Live), Some("TIMEOUT")), Failed);
        assert_eq!(cell_state(Some(Crashed), Some("COMPLETED")), Failed);
    }

    #[test]
    fn a_cell_folder_is_read_by_the_run_summary() {
        use crate::core::events::{Event, Metrics};
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("seed=1");
        std::fs::create_dir_all(&dir).unwrap();
        // A folder whose run is still loading its model: config.yaml, no log yet.
        std::fs::write(dir.join("config.yaml"), "seed: 1\n").unwrap();
        let s = folder_summary(&dir);
        assert_eq!((s.status, s.step, s.total_steps), (RunState::Running, 0, 0));
        let start = Event::test_start("rte", "vanilla", 6, serde_json::json!({ "seed": 1 }));
        let done = Event::Done {
            step: 6,
            metrics: Metrics::from([("accuracy".to_string(), 0.5)]),
            stopped_early: false,
        };
        let text = format!("{}\n{}\n", start.to_json_line(), done.to_json_line());
        std::fs::write(dir.join("events.jsonl"), text).unwrap();
        let s = folder_summary(&dir);
        assert_eq!(
            (s.status, s.step, s.total_steps),
            (RunState::Finished, 6, 6)
        );
        let sweep = SweepFile {
            spec: "grid.yaml".into(),
            preset: "demo".into(),
            workdir: tmp.path().to_path_buf(),
            cells: vec![
                Cell {
                    index: 0,
                    name: "seed=1".into(),
                    keys: vec![],
                    sets: vec![],
                },
                Cell {
                    index: 1,
                    name: "seed=2".into(),
                    keys: vec![],
                    sets: vec![],
                },
            ],
            slurm_job: None,
        };
        let rows = statuses(&sweep, tmp.path(), &BTreeMap::new());
        assert_eq!(
            (rows[0].state, rows[0].step, rows[0].total),
            (CellState::Done, 6, 6)
        );
        assert_eq!(rows[1].state, CellState::Pending);
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
