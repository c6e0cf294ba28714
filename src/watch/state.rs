//! The board's state: every run under a root, each a [`RunSummary`] folded from its event log as
//! the log grows, with sorting, filtering, the selection and a summary per group (the
//! statistics of [`crate::runs::stats`]). Pure: no terminal involved.

use crate::core::events::Event;
use crate::runs::event_log::Tail;
use crate::runs::stats::{mean, sample_std};
use crate::runs::summary::folder_age;
use crate::runs::RunSummary;
use crate::sweep::grid::{keys_from_name, SweepFile};
use crate::sweep::status::{cell_state, CellState};
use crate::ui::keys::{self, Action as KeyAction, Context, Section};
use crate::ui::screens::help;
use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use ratatui::layout::Rect;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// One run on the board.
#[derive(Debug, Clone, PartialEq)]
pub struct RunRow {
    pub path: PathBuf,
    /// The folder's name.
    pub name: String,
    /// The cell keys (from a sweep folder name), else task, method and seed.
    pub keys: Vec<(String, String)>,
    /// The sweep's word for the run's [`crate::runs::RunState`], `pending` before its folder
    /// exists.
    pub status: CellState,
    /// What the log read so far says: step, total, last loss, the main metric and its value.
    pub summary: RunSummary,
    /// Smoothed seconds per step (from the logged step times), for the time left.
    pub step_seconds: Option<f64>,
}

impl RunRow {
    fn new(path: PathBuf) -> RunRow {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| path.display().to_string());
        RunRow {
            keys: keys_from_name(&name).unwrap_or_default(),
            summary: RunSummary::new(&name, &path),
            path,
            name,
            status: CellState::Pending,
            step_seconds: None,
        }
    }

    /// Time left at the current pace; `None` when not running or unknown.
    pub fn eta(&self) -> Option<Duration> {
        let total = self.summary.total_steps;
        if self.status != CellState::Running || total == 0 {
            return None;
        }
        let left = total.saturating_sub(self.summary.step) as f64;
        self.step_seconds
            .map(|s| Duration::from_secs_f64((s * left).max(0.0)))
    }

    /// The group a run belongs to: its keys other than the seed.
    pub fn group(&self) -> String {
        let g: Vec<String> = self
            .keys
            .iter()
            .filter(|(k, _)| k != "seed")
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        if g.is_empty() {
            "all".into()
        } else {
            g.join(",")
        }
    }

    /// The keys as one line (`task=rte method=vanilla seed=42`), or the folder name.
    pub fn label(&self) -> String {
        if self.keys.is_empty() {
            self.name.clone()
        } else {
            self.keys
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(" ")
        }
    }

    /// Fold newly read events into the summary and the pace.
    fn read(&mut self, events: &[Event]) {
        for e in events {
            self.summary.apply(e);
            if let Event::Step {
                step_seconds: Some(s),
                ..
            } = e
            {
                self.step_seconds = Some(match self.step_seconds {
                    Some(prev) => 0.8 * prev + 0.2 * s,
                    None => *s,
                });
            }
        }
        let s = &self.summary;
        if !s.task.is_empty() && (self.keys.is_empty() || !self.name.contains('=')) {
            self.keys = vec![
                ("task".into(), s.task.clone()),
                ("method".into(), s.method.clone()),
                (
                    "seed".into(),
                    s.config.get("seed").cloned().unwrap_or_default(),
                ),
            ];
        }
    }

    /// Settle the summary and the state at this moment (a run without news ages into
    /// crashed by the one rule, [`crate::runs::RunState::of`]).
    fn settle(&mut self) {
        self.summary.settle(folder_age(&self.path));
        let run = self.path.exists().then_some(self.summary.status);
        self.status = cell_state(run, None);
    }
}

/// What the rows are sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    Name,
    Status,
    Progress,
    Metric,
}

impl SortKey {
    pub fn label(&self) -> &'static str {
        match self {
            SortKey::Name => "name",
            SortKey::Status => "status",
            SortKey::Progress => "progress",
            SortKey::Metric => "metric",
        }
    }
    fn next(self) -> SortKey {
        match self {
            SortKey::Name => SortKey::Status,
            SortKey::Status => SortKey::Progress,
            SortKey::Progress => SortKey::Metric,
            SortKey::Metric => SortKey::Name,
        }
    }
}

/// The mean ± sample standard deviation of a group's metric so far.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupSummary {
    pub group: String,
    pub metric_name: String,
    /// Runs with a metric so far.
    pub n: usize,
    pub runs: usize,
    pub done: usize,
    pub mean: f64,
    /// Sample standard deviation (n-1); `None` for fewer than two runs.
    pub std: Option<f64>,
}

/// What a key asks of the loop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    None,
    Quit,
    /// Open this run's dashboard.
    Open(PathBuf),
}

/// The whole board.
#[derive(Debug, Clone)]
pub struct WatchState {
    pub root: PathBuf,
    rows: BTreeMap<PathBuf, RunRow>,
    tails: BTreeMap<PathBuf, Tail>,
    pub sort: SortKey,
    pub reverse: bool,
    /// Space-separated words a run's label or name must all contain.
    pub filter: String,
    /// Typing into the filter.
    pub editing_filter: bool,
    /// Only runs in this state.
    pub status_filter: Option<CellState>,
    /// Index into [`WatchState::visible`].
    pub selected: usize,
    /// Whether the help is open, and how far it is scrolled.
    pub help: bool,
    pub help_scroll: usize,
    /// The screen at the last frame (how far the help scrolls).
    pub area: Rect,
}

impl WatchState {
    pub fn new(root: &Path) -> WatchState {
        WatchState {
            root: root.to_path_buf(),
            rows: BTreeMap::new(),
            tails: BTreeMap::new(),
            sort: SortKey::Name,
            reverse: false,
            filter: String::new(),
            editing_filter: false,
            status_filter: None,
            selected: 0,
            help: false,
            help_scroll: 0,
            area: Rect::new(0, 0, 120, 40),
        }
    }

    /// Read what is new: run folders that appeared (the root itself, its sub-folders with an
    /// `events.jsonl`, and a sweep's cells not yet started) and new lines of every log.
    pub fn refresh(&mut self) {
        let mut dirs: Vec<PathBuf> = Vec::new();
        if self.root.join("events.jsonl").exists() {
            dirs.push(self.root.clone());
        }
        if let Ok(rd) = std::fs::read_dir(&self.root) {
            dirs.extend(
                rd.filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.join("events.jsonl").exists()),
            );
        }
        if let Ok(sweep) = SweepFile::read(&self.root) {
            for c in sweep.cells {
                let p = self.root.join(&c.name);
                self.rows.entry(p.clone()).or_insert_with(|| RunRow::new(p));
            }
        }
        for d in dirs {
            self.rows.entry(d.clone()).or_insert_with(|| RunRow::new(d));
        }
        for (path, row) in self.rows.iter_mut() {
            let tail = self.tails.entry(path.clone()).or_default();
            let events = tail.read_new(&path.join("events.jsonl"));
            if tail.rewound() {
                *row = RunRow::new(path.clone());
            }
            row.read(&events);
            row.settle();
        }
        self.clamp();
    }

    /// Every run, before filtering.
    pub fn all(&self) -> impl Iterator<Item = &RunRow> {
        self.rows.values()
    }

    fn matches(&self, r: &RunRow) -> bool {
        if self.status_filter.is_some_and(|s| s != r.status) {
            return false;
        }
        let label = r.label();
        self.filter
            .split_whitespace()
            .all(|w| label.contains(w) || r.name.contains(w))
    }

    /// The runs shown, filtered and sorted.
    pub fn visible(&self) -> Vec<&RunRow> {
        let mut v: Vec<&RunRow> = self.rows.values().filter(|r| self.matches(r)).collect();
        let progress = |r: &RunRow| {
            let s = &r.summary;
            if s.total_steps == 0 {
                0.0
            } else {
                s.step as f64 / s.total_steps as f64
            }
        };
        match self.sort {
            SortKey::Name => v.sort_by_key(|r| r.label()),
            SortKey::Status => v.sort_by_key(|r| (r.status, r.label())),
            SortKey::Progress => v.sort_by(|a, b| progress(a).total_cmp(&progress(b))),
            SortKey::Metric => v.sort_by(|a, b| {
                let m = |r: &RunRow| r.summary.final_metric.unwrap_or(f64::NEG_INFINITY);
                m(a).total_cmp(&m(b))
            }),
        }
        if self.reverse {
            v.reverse();
        }
        v
    }

    /// Mean ± std of the main metric so far per group of the shown runs (keys but the seed).
    pub fn groups(&self) -> Vec<GroupSummary> {
        let mut by: BTreeMap<String, Vec<&RunRow>> = BTreeMap::new();
        for r in self.visible() {
            by.entry(r.group()).or_default().push(r);
        }
        by.into_iter()
            .map(|(group, rows)| {
                let vals: Vec<f64> = rows.iter().filter_map(|r| r.summary.final_metric).collect();
                let n = vals.len();
                GroupSummary {
                    group,
                    metric_name: rows
                        .iter()
                        .find_map(|r| r.summary.main_metric.clone())
                        .unwrap_or_else(|| "metric".into()),
                    n,
                    runs: rows.len(),
                    done: rows.iter().filter(|r| r.status == CellState::Done).count(),
                    mean: if n == 0 { f64::NAN } else { mean(&vals) },
                    std: (n >= 2).then(|| sample_std(&vals)),
                }
            })
            .collect()
    }

    fn clamp(&mut self) {
        let n = self.visible().len();
        self.selected = self.selected.min(n.saturating_sub(1));
    }

    /// Apply a key press (the keys of [`Section::Watch`], [`Section::WatchFilter`] while
    /// typing a filter, and [`Section::Help`] while the help is open).
    pub fn on_key(&mut self, k: KeyEvent) -> Action {
        if k.kind == KeyEventKind::Release {
            return Action::None;
        }
        if self.help {
            match help::on_key(Context::Watch, self.area, self.help_scroll, &k) {
                Some(s) => self.help_scroll = s,
                None => self.help = false,
            }
            return Action::None;
        }
        if self.editing_filter {
            match keys::lookup(&[Section::WatchFilter], &k).map(|p| p.action) {
                Some(KeyAction::Back) => self.editing_filter = false,
                Some(KeyAction::Erase) => {
                    self.filter.pop();
                }
                _ => {
                    if let KeyCode::Char(c) = k.code {
                        if !k.modifiers.contains(KeyModifiers::CONTROL) {
                            self.filter.push(c);
                        }
                    }
                }
            }
            self.clamp();
            return Action::None;
        }
        let Some(p) = keys::lookup(&[Section::Watch], &k) else {
            return Action::None;
        };
        match p.action {
            KeyAction::Quit => return Action::Quit,
            KeyAction::Back if !self.filter.is_empty() || self.status_filter.is_some() => {
                self.filter.clear();
                self.status_filter = None;
            }
            KeyAction::Back => return Action::Quit,
            KeyAction::Help => {
                self.help = true;
                self.help_scroll = 0;
            }
            KeyAction::Scroll if p.back => self.selected = self.selected.saturating_sub(1),
            KeyAction::Scroll => self.selected += 1,
            KeyAction::Ends => self.selected = if p.back { 0 } else { usize::MAX },
            KeyAction::Sort => self.sort = self.sort.next(),
            KeyAction::Reverse => self.reverse = !self.reverse,
            KeyAction::Filter => self.editing_filter = true,
            KeyAction::StatusFilter => {
                self.status_filter = match self.status_filter {
                    None => Some(CellState::Running),
                    Some(CellState::Running) => Some(CellState::Done),
                    Some(CellState::Done) => Some(CellState::Stopped),
                    Some(CellState::Stopped) => Some(CellState::Failed),
                    Some(CellState::Failed) => Some(CellState::Pending),
                    Some(CellState::Pending) => None,
                }
            }
            KeyAction::Open => {
                if let Some(r) = self.visible().get(self.selected) {
                    if r.path.join("events.jsonl").exists() {
                        return Action::Open(r.path.clone());
                    }
                }
            }
            _ => {}
        }
        self.clamp();
        Action::None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::events::Metrics;

    fn start(task: &str, method: &str, total: usize, seed: u64) -> Event {
        Event::test_start(task, method, total, serde_json::json!({ "seed": seed }))
    }

    fn step(step: usize, loss: f64) -> Event {
        Event::Step {
            step,
            epoch: 0.0,
            loss,
            lr: 1e-3,
            examples_per_sec: 10.0,
            grad_norm: None,
            step_seconds: Some(0.5),
            run_seconds: None,
        }
    }

    fn metrics(acc: f64) -> Metrics {
        [("accuracy".to_string(), acc)].into_iter().collect()
    }

    fn write(dir: &Path, events: &[Event]) {
        std::fs::create_dir_all(dir).unwrap();
        let text: String = events.iter().map(|e| e.to_json_line() + "\n").collect();
        std::fs::write(dir.join("events.jsonl"), text).unwrap();
    }

    fn append(dir: &Path, text: &str) {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(dir.join("events.jsonl"))
            .unwrap();
        f.write_all(text.as_bytes()).unwrap();
    }

    /// Three rte runs: two finished dps-dense seeds and a running vanilla one.
    fn board() -> (tempfile::TempDir, WatchState) {
        let tmp = tempfile::tempdir().unwrap();
        let r = tmp.path();
        let done = |acc: f64| Event::Done {
            step: 10,
            metrics: metrics(acc),
            stopped_early: false,
        };
        write(
            &r.join("task=rte,method=dps-dense,seed=1"),
            &[start("rte", "dps-dense", 10, 1), step(10, 0.4), done(0.6)],
        );
        write(
            &r.join("task=rte,method=dps-dense,seed=2"),
            &[start("rte", "dps-dense", 10, 2), step(10, 0.3), done(0.7)],
        );
        write(
            &r.join("task=rte,method=vanilla,seed=1"),
            &[start("rte", "vanilla", 10, 1), step(4, 0.9)],
        );
        std::fs::create_dir_all(r.join("not-a-run")).unwrap();
        let mut s = WatchState::new(r);
        s.refresh();
        (tmp, s)
    }

    #[test]
    fn rows_from_logs() {
        let (_t, s) = board();
        let v = s.visible();
        assert_eq!(v.len(), 3);
        let run = v.iter().find(|r| r.name.contains("vanilla")).unwrap();
        assert_eq!(run.status, CellState::Running);
        assert_eq!((run.summary.step, run.summary.total_steps), (4, 10));
        assert_eq!(run.summary.final_loss, Some(0.9));
        assert_eq!(
            run.eta(),
            Some(Duration::from_secs(3)),
            "6 steps left at 0.5 s"
        );
        assert_eq!(run.label(), "task=rte method=vanilla seed=1");
        let d = v.iter().find(|r| r.name.ends_with("seed=2")).unwrap();
        assert_eq!(d.status, CellState::Done);
        assert_eq!(d.summary.final_metric, Some(0.7));
        assert_eq!(d.summary.main_metric.as_deref(), Some("accuracy"));
        assert_eq!(d.eta(), None);
    }

    #[test]
    fn groups_mean_and_sample_std() {
        let (_t, s) = board();
        let g = s.groups();
        assert_eq!(g.len(), 2);
        let dense = g
            .iter()
            .find(|g| g.group == "task=rte,method=dps-dense")
            .unwrap();
        assert_eq!((dense.n, dense.runs, dense.done), (2, 2, 2));
        assert!((dense.mean - 0.65).abs() < 1e-12);
        // Sample std of {0.6, 0.7}: sqrt(2 * 0.05^2 / 1).
        assert!((dense.std.unwrap() - 0.070_710_678).abs() < 1e-6);
        let van = g.iter().find(|g| g.group.contains("vanilla")).unwrap();
        assert_eq!((van.n, van.std), (0, None));
    }

    #[test]
    fn sort_filter_and_keys() {
        let (_t, mut s) = board();
        let key = |c| KeyEvent::new(c, KeyModifiers::NONE);
        s.on_key(key(KeyCode::Char('s'))); // status
        assert_eq!(s.sort, SortKey::Status);
        assert_eq!(s.visible()[0].status, CellState::Running);
        s.on_key(key(KeyCode::Char('s'))); // progress
        s.on_key(key(KeyCode::Char('s'))); // metric
        assert_eq!(s.sort, SortKey::Metric);
        assert_eq!(s.visible()[2].summary.final_metric, Some(0.7));
        s.on_key(key(KeyCode::Char('r')));
        assert_eq!(s.visible()[0].summary.final_metric, Some(0.7));
        s.on_key(key(KeyCode::Char('f')));
        assert_eq!(s.status_filter, Some(CellState::Running));
        assert_eq!(s.visible().len(), 1);
        s.on_key(key(KeyCode::Esc));
        assert_eq!(s.visible().len(), 3, "esc clears the filters");
        s.on_key(key(KeyCode::Char('/')));
        for c in "seed=1 dps".chars() {
            s.on_key(key(KeyCode::Char(c)));
        }
        s.on_key(key(KeyCode::Enter));
        assert!(!s.editing_filter);
        let v = s.visible();
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].name, "task=rte,method=dps-dense,seed=1");
        let want = v[0].path.clone();
        assert_eq!(s.on_key(key(KeyCode::Enter)), Action::Open(want));
        assert_eq!(s.on_key(key(KeyCode::Char('q'))), Action::Quit);
    }

    #[test]
    fn live_lines_are_read_incrementally_and_torn_lines_wait() {
        let (t, mut s) = board();
        let dir = t.path().join("task=rte,method=vanilla,seed=1");
        let line = step(7, 0.5).to_json_line();
        let (a, b) = line.split_at(10);
        append(&dir, a);
        s.refresh();
        let row = |s: &WatchState| s.all().find(|r| r.path == dir).unwrap().clone();
        assert_eq!(row(&s).summary.step, 4, "half a line is not read yet");
        append(&dir, &format!("{b}\n"));
        s.refresh();
        assert_eq!(row(&s).summary.step, 7);
        assert_eq!(row(&s).summary.final_loss, Some(0.5));
        let done = Event::Done {
            step: 10,
            metrics: metrics(0.5),
            stopped_early: false,
        };
        append(&dir, &(done.to_json_line() + "\n"));
        s.refresh();
        assert_eq!(row(&s).status, CellState::Done);
        assert_eq!(row(&s).summary.final_metric, Some(0.5));
        assert_eq!(
            row(&s).summary,
            crate::sweep::status::folder_summary(&dir),
            "the log read piece by piece sums up as the whole log does"
        );
    }

    #[test]
    fn runs_outside_a_sweep_get_keys_from_their_start_event() {
        let tmp = tempfile::tempdir().unwrap();
        write(
            &tmp.path().join("20261201T000000Z-rte-vanilla"),
            &[start("rte", "vanilla", 10, 7)],
        );
        let mut s = WatchState::new(tmp.path());
        s.refresh();
        let v = s.visible();
        assert_eq!(v[0].label(), "task=rte method=vanilla seed=7");
        assert_eq!(v[0].group(), "task=rte,method=vanilla");
    }
}
