//! The view state: what the user looks at (focus, heatmap lens and cursor, chart zoom, log
//! scroll, overlays). Nothing here is sent to the trainer, and no trainer event changes it.

use crate::core::events::MatrixReport;
use crate::ui::run_state::Run;

/// A modal window drawn over the dashboard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overlay {
    None,
    Help,
    /// The quit dialog; `choice` indexes [`QUIT_CHOICES`].
    Quit {
        choice: usize,
    },
    /// The whole text of a banner too long for the dashboard.
    Details,
}

/// The quit dialog's buttons: (key, label).
pub const QUIT_CHOICES: [(&str, &str); 3] = [
    ("c", "checkpoint and quit"),
    ("q", "quit without checkpoint"),
    ("esc", "cancel"),
];

/// The dashboard panel that receives arrow keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Focus {
    Loss,
    Heatmap,
    Log,
}

impl Focus {
    /// The next panel in tab order.
    pub fn next(self) -> Focus {
        match self {
            Focus::Loss => Focus::Heatmap,
            Focus::Heatmap => Focus::Log,
            Focus::Log => Focus::Loss,
        }
    }
}

/// What a heatmap cell shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lens {
    /// The matrix's share of the summed importance.
    Importance,
    /// 1 − Jaccard overlap with the previous mask.
    Churn,
    /// Mean |ΔW| over the previous stage relative to mean |W|.
    Update,
    /// Share of the matrix's elements that train in the stage.
    Selected,
}

impl Lens {
    /// Every lens, in the order of the number keys 1–4.
    pub const ALL: [Lens; 4] = [Lens::Importance, Lens::Churn, Lens::Update, Lens::Selected];

    /// The lens's name as shown in the legend.
    pub fn name(self) -> &'static str {
        match self {
            Lens::Importance => "importance share",
            Lens::Churn => "churn (1 - overlap)",
            Lens::Update => "update |dW|/|W|",
            Lens::Selected => "selected fraction",
        }
    }

    /// A short name for narrow screens.
    pub fn short(self) -> &'static str {
        match self {
            Lens::Importance => "imp",
            Lens::Churn => "churn",
            Lens::Update => "upd",
            Lens::Selected => "sel",
        }
    }

    /// The value of this lens for one matrix (`None` where it does not exist, such as churn at
    /// the first selection).
    pub fn value(self, m: &MatrixReport) -> Option<f64> {
        let v = match self {
            Lens::Importance => Some(m.importance_share),
            Lens::Churn => m.overlap_prev.map(|o| 1.0 - o),
            Lens::Update => Some(m.update_rel),
            Lens::Selected => Some(m.selected_fraction),
        };
        v.filter(|x| x.is_finite())
    }

    /// A scale fixed by definition (selected fraction is always in 0..1); others scale to the
    /// values seen (see [`crate::ui::widgets::heat_scale`]).
    pub fn fixed_max(self) -> Option<f64> {
        match self {
            Lens::Selected => Some(1.0),
            _ => None,
        }
    }

    /// The next lens (the `v` key).
    pub fn next(self) -> Lens {
        let i = Lens::ALL.iter().position(|l| *l == self).unwrap_or(0);
        Lens::ALL[(i + 1) % Lens::ALL.len()]
    }
}

/// Local view settings: nothing here is sent to the trainer.
#[derive(Debug, Clone, PartialEq)]
pub struct View {
    pub focus: Focus,
    pub lens: Lens,
    /// Index into [`SMOOTHING`].
    pub smoothing: usize,
    pub log_y: bool,
    /// How many recent steps the charts show (`None` = all).
    pub x_window: Option<usize>,
    pub heat_row: usize,
    /// Selected heatmap column; `None` follows the newest selection.
    pub heat_col: Option<usize>,
    /// Whether the zoomed matrix view is open.
    pub zoom: bool,
    pub overlay: Overlay,
    /// Event-log lines scrolled up from the newest.
    pub log_scroll: usize,
    /// The task whose curve the dev panel draws large, for a run with eval tasks; `None`:
    /// every task's curve alike.
    pub dev_focus: Option<String>,
    /// Rows the help overlay is scrolled down.
    pub help_scroll: usize,
    /// A one-line answer to the last key (a training key in a replay), shown in the footer
    /// until the next key.
    pub notice: Option<&'static str>,
}

/// The EMA smoothing factors `s` cycles through.
pub const SMOOTHING: [f64; 4] = [0.0, 0.6, 0.9, 0.97];

/// Smallest chart x window reachable with the scroll wheel.
pub const MIN_X_WINDOW: usize = 20;

impl Default for View {
    fn default() -> Self {
        View {
            focus: Focus::Heatmap,
            lens: Lens::Importance,
            smoothing: 1,
            log_y: false,
            x_window: None,
            heat_row: 0,
            heat_col: None,
            zoom: false,
            overlay: Overlay::None,
            log_scroll: 0,
            dev_focus: None,
            help_scroll: 0,
            notice: None,
        }
    }
}

/// Position in a replayed event list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplayInfo {
    /// Events applied.
    pub cursor: usize,
    /// Events in the log.
    pub total: usize,
    /// Whether the log is a crashed run's (it ends without a `done` event and its trainer is
    /// gone): its end then shows the run as crashed.
    pub crashed: bool,
}

/// A direction for the heatmap cursor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dir {
    Up,
    Down,
    Left,
    Right,
}

impl View {
    /// The smoothing factor in use.
    pub fn smoothing(&self) -> f64 {
        SMOOTHING[self.smoothing % SMOOTHING.len()]
    }

    /// The selected heatmap column (the newest when following).
    pub fn heat_col(&self, run: &Run) -> Option<usize> {
        let n = run.selections.len();
        if n == 0 {
            return None;
        }
        Some(self.heat_col.unwrap_or(n - 1).min(n - 1))
    }

    /// The selected heatmap row, clamped to the rows that exist.
    pub fn heat_row(&self, run: &Run) -> Option<usize> {
        let n = run.rows.len();
        (n > 0).then(|| self.heat_row.min(n - 1))
    }

    /// The matrix under the heatmap cursor.
    pub fn cursor_report<'a>(&self, run: &'a Run) -> Option<&'a MatrixReport> {
        run.cell(self.heat_row(run)?, self.heat_col(run)?)
    }

    /// Halve (`closer`) or double the charts' x window over a history of `steps` steps.
    pub fn zoom_x(&mut self, steps: usize, closer: bool) {
        let total = steps.max(MIN_X_WINDOW);
        let cur = self.x_window.unwrap_or(total).min(total);
        self.x_window = if closer {
            Some((cur / 2).max(MIN_X_WINDOW))
        } else {
            let w = cur.saturating_mul(2);
            (w < total).then_some(w)
        };
    }

    /// Move the heatmap cursor one cell.
    pub fn move_heat_cursor(&mut self, run: &Run, dir: Dir) {
        let rows = run.rows.len();
        let cols = run.selections.len();
        if rows == 0 || cols == 0 {
            return;
        }
        let row = self.heat_row.min(rows - 1);
        let col = self.heat_col(run).unwrap_or(cols - 1);
        match dir {
            Dir::Up => self.heat_row = row.saturating_sub(1),
            Dir::Down => self.heat_row = (row + 1).min(rows - 1),
            Dir::Left => self.heat_col = Some(col.saturating_sub(1)),
            // Moving onto the newest column follows new selections again.
            Dir::Right => self.heat_col = (col + 1 < cols - 1).then_some(col + 1),
        }
    }

    /// Select heatmap cell (`row`, `col`) of a run with `cols` selections and give the heatmap
    /// focus.
    pub fn select_cell(&mut self, row: usize, col: usize, cols: usize) {
        self.heat_row = row;
        self.heat_col = (col + 1 < cols).then_some(col);
        self.focus = Focus::Heatmap;
    }

    /// The dev panel's next task to draw large among `tasks` (the previous one when `back`),
    /// through every task and then all of them alike.
    pub fn cycle_dev_focus(&mut self, tasks: &[&str], back: bool) {
        let n = tasks.len();
        if n == 0 {
            self.dev_focus = None;
            return;
        }
        // Positions 0..n are the tasks, n is "all alike".
        let cur = self
            .dev_focus
            .as_deref()
            .and_then(|f| tasks.iter().position(|t| *t == f))
            .unwrap_or(n);
        let next = if back {
            (cur + n) % (n + 1)
        } else {
            (cur + 1) % (n + 1)
        };
        self.dev_focus = tasks.get(next).map(|t| t.to_string());
    }

    /// Scroll the event log `lines` up (positive, towards older lines) or down, within a log
    /// of `len` lines.
    pub fn scroll_log(&mut self, lines: isize, len: usize) {
        self.log_scroll = if lines >= 0 {
            (self.log_scroll + lines as usize).min(len.saturating_sub(1))
        } else {
            self.log_scroll.saturating_sub(lines.unsigned_abs())
        };
    }
}
