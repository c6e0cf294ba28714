//! The board's state: every run under a root, read incrementally from the runs' event logs, with
//! sorting, filtering, the selection and a summary per group. Pure: no terminal involved.

use crate::core::events::Event;
use crate::sweep::grid::{keys_from_name, SweepFile};
use crate::sweep::status::{recently_written, CellState, LIVE_WINDOW};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use std::collections::BTreeMap;
use std::io::{Read, Seek, SeekFrom};
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
    pub status: CellState,
    pub step: usize,
    pub total: usize,
    pub last_loss: Option<f64>,
    /// The task's main dev metric and its latest value.
    pub metric_name: Option<String>,
    pub metric: Option<f64>,
    /// Smoothed seconds per step (from the logged step times).
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
            path,
            name,
            status: CellState::Pending,
            step: 0,
            total: 0,
            last_loss: None,
            metric_name: None,
            metric: None,
            step_seconds: None,
        }
    }

    /// Time left at the current pace; `None` when finished or unknown.
    pub fn eta(&self) -> Option<Duration> {
        if self.status != CellState::Running || self.total == 0 {
            return None;
        }
        let left = self.total.saturating_sub(self.step) as f64;
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

    /// Fold one event in.
    pub fn apply(&mut self, e: &Event) {
        match e {
            Event::Start {
                task,
                method,
                total_steps,
                config,
                start_step,
                ..
            } => {
                self.total = *total_steps;
                self.step = *start_step;
                self.metric_name = crate::data::glue::task(task).map(|t| t.main_metric.into());
                if self.keys.is_empty() || !self.name.contains('=') {
                    let seed = config
                        .get("seed")
                        .map(|s| s.to_string())
                        .unwrap_or_default();
                    self.keys = vec![
                        ("task".into(), task.clone()),
                        ("method".into(), method.clone()),
                        ("seed".into(), seed),
                    ];
                }
                if self.status != CellState::Done {
                    self.status = CellState::Running;
                }
            }
            Event::Step {
                step,
                loss,
                step_seconds,
                ..
            } => {
                self.step = *step;
                self.last_loss = Some(*loss);
                if let Some(s) = step_seconds {
                    self.step_seconds = Some(match self.step_seconds {
                        Some(prev) => 0.8 * prev + 0.2 * s,
                        None => *s,
                    });
                }
            }
            Event::Eval { metrics, .. } => self.take_metric(metrics),
            Event::Done { step, metrics, .. } => {
                self.step = *step;
                self.take_metric(metrics);
                self.status = CellState::Done;
            }
            _ => {}
        }
    }

    fn take_metric(&mut self, metrics: &crate::core::events::Metrics) {
        if let Some(v) = self.metric_name.as_ref().and_then(|k| metrics.get(k)) {
            self.metric = Some(*v);
        }
    }
}

/// A growing `events.jsonl`, read from where the last read stopped.
#[derive(Debug, Default, Clone)]
pub(crate) struct Tail {
    offset: u64,
    /// An incomplete last line, kept until its newline arrives.
    partial: String,
}

impl Tail {
    /// The complete lines appended since the last call, as events.
    pub(crate) fn read_new(&mut self, path: &Path) -> Vec<Event> {
        let Ok(mut f) = std::fs::File::open(path) else {
            return Vec::new();
        };
        if f.metadata().map(|m| m.len() < self.offset).unwrap_or(false) {
            *self = Tail::default(); // rewritten from scratch
        }
        let mut buf = Vec::new();
        if f.seek(SeekFrom::Start(self.offset)).is_err() || f.read_to_end(&mut buf).is_err() {
            return Vec::new();
        }
        self.offset += buf.len() as u64;
        self.partial.push_str(&String::from_utf8_lossy(&buf));
        let mut out = Vec::new();
        while let Some(nl) = self.partial.find('\n') {
            let line: String = self.partial.drain(..=nl).collect();
            if let Ok(e) = serde_json::from_str::<Event>(line.trim()) {
                out.push(e);
            }
        }
        out
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
            let log = path.join("events.jsonl");
            let tail = self.tails.entry(path.clone()).or_default();
            for e in tail.read_new(&log) {
                row.apply(&e);
            }
            if row.status != CellState::Done && log.exists() {
                row.status = if recently_written(&log, LIVE_WINDOW) {
                    CellState::Running
                } else {
                    CellState::Failed
                };
            }
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
            if r.total == 0 {
                0.0
            } else {
                r.step as f64 / r.total as f64
            }
        };
        match self.sort {
            SortKey::Name => v.sort_by_key(|r| r.label()),
            SortKey::Status => v.sort_by_key(|r| (r.status, r.label())),
            SortKey::Progress => v.sort_by(|a, b| progress(a).total_cmp(&progress(b))),
            SortKey::Metric => v.sort_by(|a, b| {
                a.metric
                    .unwrap_or(f64::NEG_INFINITY)
                    .total_cmp(&b.metric.unwrap_or(f64::NEG_INFINITY))
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
                let vals: Vec<f64> = rows.iter().filter_map(|r| r.metric).collect();
                let n = vals.len();
                let mean = if n == 0 {
                    f64::NAN
                } else {
                    vals.iter().sum::<f64>() / n as f64
                };
                let std = (n >= 2).then(|| {
                    (vals.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt()
                });
                GroupSummary {
                    group,
                    metric_name: rows
                        .iter()
                        .find_map(|r| r.metric_name.clone())
                        .unwrap_or_else(|| "metric".into()),
                    n,
                    runs: rows.len(),
                    done: rows.iter().filter(|r| r.status == CellState::Done).count(),
                    mean,
                    std,
                }
            })
            .collect()
    }

    fn clamp(&mut self) {
        let n = self.visible().len();
        self.selected = self.selected.min(n.saturating_sub(1));
    }

    /// Apply a key press.
    pub fn on_key(&mut self, k: KeyEvent) -> Action {
        if self.editing_filter {
            match k.code {
                KeyCode::Enter | KeyCode::Esc => self.editing_filter = false,
                KeyCode::Backspace => {
                    self.filter.pop();
                }
                KeyCode::Char(c) => self.filter.push(c),
                _ => {}
            }
            self.clamp();
            return Action::None;
        }
        match k.code {
            KeyCode::Char('q') => return Action::Quit,
            KeyCode::Char('c') if k.modifiers.contains(KeyModifiers::CONTROL) => {
                return Action::Quit
            }
            KeyCode::Esc if !self.filter.is_empty() || self.status_filter.is_some() => {
                self.filter.clear();
                self.status_filter = None;
            }
            KeyCode::Esc => return Action::Quit,
            KeyCode::Down | KeyCode::Char('j') => self.selected += 1,
            KeyCode::Up | KeyCode::Char('k') => self.selected = self.selected.saturating_sub(1),
            KeyCode::Home => self.selected = 0,
            KeyCode::End => self.selected = usize::MAX,
            KeyCode::Char('s') => self.sort = self.sort.next(),
            KeyCode::Char('r') => self.reverse = !self.reverse,
            KeyCode::Char('/') => self.editing_filter = true,
            KeyCode::Char('f') => {
                self.status_filter = match self.status_filter {
                    None => Some(CellState::Running),
                    Some(CellState::Running) => Some(CellState::Done),
                    Some(CellState::Done) => Some(CellState::Failed),
                    Some(CellState::Failed) => Some(CellState::Pending),
                    Some(CellState::Pending) => None,
                }
            }
            KeyCode::Enter => {
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
        Event::Start {
            schema: 1,
            task: task.into(),
            method: method.into(),
            total_steps: total,
            steps_per_epoch: total,
            num_train: 100,
            num_dev: 10,
            config: serde_json::json!({ "seed": seed }),
            start_step: 0,
        }
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
        assert_eq!((run.step, run.total), (4, 10));
        assert_eq!(run.last_loss, Some(0.9));
        assert_eq!(
            run.eta(),
            Some(Duration::from_secs(3)),
            "6 steps left at 0.5 s"
        );
        assert_eq!(run.label(), "task=rte method=vanilla seed=1");
        let d = v.iter().find(|r| r.name.ends_with("seed=2")).unwrap();
        assert_eq!(d.status, CellState::Done);
        assert_eq!(d.metric, Some(0.7));
        assert_eq!(d.metric_name.as_deref(), Some("accuracy"));
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
        assert_eq!(s.visible()[2].metric, Some(0.7));
        s.on_key(key(KeyCode::Char('r')));
        assert_eq!(s.visible()[0].metric, Some(0.7));
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
        assert_eq!(row(&s).step, 4, "half a line is not read yet");
        append(&dir, &format!("{b}\n"));
        s.refresh();
        assert_eq!(row(&s).step, 7);
        assert_eq!(row(&s).last_loss, Some(0.5));
        let done = Event::Done {
            step: 10,
            metrics: metrics(0.5),
            stopped_early: false,
        };
        append(&dir, &(done.to_json_line() + "\n"));
        s.refresh();
        assert_eq!(row(&s).status, CellState::Done);
        assert_eq!(row(&s).metric, Some(0.5));
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
