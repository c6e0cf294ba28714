//! Drawing the board: a pure function of [`WatchState`].

use super::state::{GroupSummary, RunRow, WatchState};
use crate::sweep::status::CellState;
use crate::ui::keys::{self, Context, Section};
use crate::ui::screens::help;
use crate::ui::theme::Theme;
use ratatui::layout::{Constraint, Layout};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Row, Table, TableState};
use ratatui::Frame;
use std::time::Duration;

fn status_style(s: CellState) -> Style {
    Style::default().fg(match s {
        CellState::Pending => Color::DarkGray,
        CellState::Running => Color::Yellow,
        CellState::Done => Color::Green,
        CellState::Stopped => Color::Cyan,
        CellState::Failed => Color::Red,
    })
}

/// `1h02m`, `3m05s`, `42s`.
pub fn fmt_duration(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 3600 {
        format!("{}h{:02}m", s / 3600, (s / 60) % 60)
    } else if s >= 60 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{s}s")
    }
}

/// `accuracy 0.6123 ± 0.0100 (n=3)`; `-` when no run of the group has a metric yet.
pub fn group_line(g: &GroupSummary) -> String {
    let stat = if g.n == 0 {
        "-".to_string()
    } else {
        match g.std {
            Some(s) => format!("{:.4} ± {s:.4}", g.mean),
            None => format!("{:.4}", g.mean),
        }
    };
    format!(
        "{}: {} {stat} (n={}; {}/{} done)",
        g.group, g.metric_name, g.n, g.done, g.runs
    )
}

/// What a cell without a value shows (a pending run has no steps yet, not `0/0`).
pub const NO_VALUE: &str = "–";

fn row_cells(r: &RunRow, folder: bool) -> Row<'static> {
    let opt = |v: Option<f64>| {
        v.map(|x| format!("{x:.4}"))
            .unwrap_or_else(|| NO_VALUE.into())
    };
    let metric = match (&r.summary.main_metric, r.summary.final_metric) {
        (Some(n), Some(v)) => format!("{n} {v:.4}"),
        _ => NO_VALUE.into(),
    };
    let steps = if r.summary.total_steps == 0 {
        NO_VALUE.to_string()
    } else {
        format!("{}/{}", r.summary.step, r.summary.total_steps)
    };
    let mut cells = vec![Span::raw(r.label())];
    if folder {
        cells.push(Span::raw(r.name.clone()));
    }
    cells.extend([
        Span::styled(r.status.to_string(), status_style(r.status)),
        Span::raw(steps),
        Span::raw(opt(r.summary.final_loss)),
        Span::raw(metric),
        Span::raw(r.eta().map(fmt_duration).unwrap_or_else(|| NO_VALUE.into())),
    ]);
    Row::new(cells)
}

/// Whether two of `rows` have the same keys, so that only their folders tell them apart.
pub fn labels_collide(rows: &[&RunRow]) -> bool {
    let mut seen = std::collections::BTreeSet::new();
    rows.iter().any(|r| !seen.insert(r.label()))
}

/// Draw the whole board.
pub fn draw(f: &mut Frame, s: &WatchState) {
    let area = f.area();
    let groups = s.groups();
    let group_h = (groups.len() as u16 + 2).min(area.height / 3).max(3);
    let [head, body, summary, footer] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(3),
        Constraint::Length(group_h),
        Constraint::Length(1),
    ])
    .areas(area);

    let visible = s.visible();
    let mut counts = [0usize; 5];
    for r in s.all() {
        counts[r.status as usize] += 1;
    }
    let filter = match (&s.status_filter, s.filter.is_empty(), s.editing_filter) {
        (None, true, false) => String::new(),
        (st, _, editing) => format!(
            "  filter: {}{}{}",
            st.map(|x| format!("[{x}] ")).unwrap_or_default(),
            s.filter,
            if editing { "▏" } else { "" }
        ),
    };
    let title = Line::from(vec![
        Span::styled(
            format!(" watch {} ", s.root.display()),
            Style::default().add_modifier(Modifier::BOLD),
        ),
        Span::raw(format!(
            " {} runs: {} running, {} done, {} stopped, {} failed, {} pending  sort: {}{}{}",
            counts.iter().sum::<usize>(),
            counts[CellState::Running as usize],
            counts[CellState::Done as usize],
            counts[CellState::Stopped as usize],
            counts[CellState::Failed as usize],
            counts[CellState::Pending as usize],
            s.sort.label(),
            if s.reverse { " ↓" } else { "" },
            filter
        )),
    ]);
    f.render_widget(Paragraph::new(title), head);

    // Runs with the same keys (two runs of one configuration outside a sweep) get a column
    // with their folders' names.
    let folder = labels_collide(&visible);
    let mut widths = vec![Constraint::Fill(3)];
    let mut header = vec!["run"];
    if folder {
        widths.push(Constraint::Fill(2));
        header.push("folder");
    }
    widths.extend([
        Constraint::Length(8),
        Constraint::Length(13),
        Constraint::Length(8),
        Constraint::Length(18),
        Constraint::Length(8),
    ]);
    header.extend(["status", "step", "loss", "dev metric", "ETA"]);
    let table = Table::new(visible.iter().map(|r| row_cells(r, folder)), widths)
        .header(Row::new(header).style(Style::default().add_modifier(Modifier::BOLD)))
        .row_highlight_style(Style::default().add_modifier(Modifier::REVERSED))
        .block(Block::default().borders(Borders::ALL).title(" runs "));
    let mut ts = TableState::default().with_selected((!visible.is_empty()).then_some(s.selected));
    f.render_stateful_widget(table, body, &mut ts);

    let lines: Vec<Line> = groups.iter().map(|g| Line::raw(group_line(g))).collect();
    f.render_widget(
        Paragraph::new(lines).block(
            Block::default()
                .borders(Borders::ALL)
                .title(" groups: mean ± std of the dev metric so far "),
        ),
        summary,
    );
    let keys = keys::hints(if s.editing_filter {
        Section::WatchFilter
    } else {
        Section::Watch
    });
    f.render_widget(
        Paragraph::new(format!(" {keys}")).style(Style::default().fg(Color::DarkGray)),
        footer,
    );
    if s.help {
        help::draw(f, &Theme::from_env(), Context::Watch, s.help_scroll);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::events::Event;

    /// The board as text on a `w`×`h` test terminal.
    fn render_text(s: &WatchState, w: u16, h: u16) -> String {
        let mut t = ratatui::Terminal::new(ratatui::backend::TestBackend::new(w, h))
            .expect("a test terminal");
        t.draw(|f| draw(f, s)).expect("draw");
        let buf = t.backend().buffer();
        let area: ratatui::layout::Rect = *buf.area();
        (0..area.height)
            .map(|y| {
                (0..area.width)
                    .map(|x| buf[(x, y)].symbol())
                    .collect::<String>()
                    .trim_end()
                    .to_string()
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn board_shows_runs_status_metric_and_groups() {
        let tmp = tempfile::tempdir().unwrap();
        let mk = |name: &str, events: &[Event]| {
            let d = tmp.path().join(name);
            std::fs::create_dir_all(&d).unwrap();
            let text: String = events.iter().map(|e| e.to_json_line() + "\n").collect();
            std::fs::write(d.join("events.jsonl"), text).unwrap();
        };
        let start = Event::test_start("rte", "dps-dense", 20, serde_json::json!({}));
        let step = |s: usize| Event::Step {
            step: s,
            epoch: 0.0,
            loss: 0.25,
            lr: 0.0,
            examples_per_sec: 1.0,
            grad_norm: None,
            step_seconds: Some(2.0),
            run_seconds: None,
        };
        let acc = |v: f64| [("accuracy".to_string(), v)].into_iter().collect();
        mk(
            "method=dps-dense,seed=1",
            &[
                start.clone(),
                step(20),
                Event::Done {
                    step: 20,
                    metrics: acc(0.8),
                    stopped_early: false,
                },
            ],
        );
        mk(
            "method=dps-dense,seed=2",
            &[
                start,
                step(5),
                Event::Eval {
                    step: 5,
                    metrics: acc(0.6),
                },
            ],
        );
        let mut s = WatchState::new(tmp.path());
        s.refresh();
        let text = render_text(&s, 120, 16);
        let line = |needle: &str| {
            text.lines()
                .find(|l| l.contains(needle))
                .unwrap_or_else(|| panic!("no line with {needle}:\n{text}"))
                .to_string()
        };
        let l = line("method=dps-dense seed=1");
        assert!(
            l.contains("done") && l.contains("20/20") && l.contains("accuracy 0.8000"),
            "{l}"
        );
        let l = line("method=dps-dense seed=2");
        assert!(
            l.contains("running") && l.contains("5/20") && l.contains("0.2500"),
            "{l}"
        );
        assert!(l.contains("30s"), "15 steps left at 2 s: {l}");
        let g = line("method=dps-dense: accuracy");
        assert!(
            g.contains("0.7000 ± 0.1414") && g.contains("n=2; 1/2 done"),
            "{g}"
        );
        assert!(line("2 runs").contains("1 running, 1 done"), "{text}");
        assert!(text.contains("q quit"), "{text}");
    }

    /// Two runs of one configuration outside a sweep (same task, method and seed) are told
    /// apart by their folders; a sweep's pending cell shows no `0/0`.
    #[test]
    fn equal_keys_show_their_folders_and_pending_cells_no_steps() {
        let tmp = tempfile::tempdir().unwrap();
        let start = Event::test_start("rte", "vanilla", 20, serde_json::json!({"seed": 42}));
        for name in [
            "20261201T000000Z-rte-vanilla",
            "20261202T000000Z-rte-vanilla",
        ] {
            let d = tmp.path().join(name);
            std::fs::create_dir_all(&d).unwrap();
            std::fs::write(d.join("events.jsonl"), start.to_json_line() + "\n").unwrap();
        }
        let mut s = WatchState::new(tmp.path());
        s.refresh();
        let text = render_text(&s, 140, 16);
        let rows: Vec<&str> = text
            .lines()
            .filter(|l| l.contains("task=rte method=vanilla seed=42"))
            .collect();
        assert_eq!(rows.len(), 2, "{text}");
        assert!(rows[0].contains("20261201T000000Z"), "{text}");
        assert!(rows[1].contains("20261202T000000Z"), "{text}");
        assert!(text.contains("folder"), "{text}");

        // One run alone needs no folder column.
        std::fs::remove_dir_all(tmp.path().join("20261202T000000Z-rte-vanilla")).unwrap();
        let mut s = WatchState::new(tmp.path());
        s.refresh();
        let text = render_text(&s, 140, 16);
        assert!(!text.contains("folder"), "{text}");

        // A sweep cell not started yet.
        let sweep = tempfile::tempdir().unwrap();
        crate::sweep::grid::SweepFile {
            spec: "/s/sweep.yaml".into(),
            preset: "demo".into(),
            workdir: "/w".into(),
            cells: vec![crate::sweep::grid::Cell {
                index: 0,
                name: "seed=1".into(),
                keys: vec![("seed".into(), "1".into())],
                sets: vec!["seed=1".into()],
            }],
            slurm_job: None,
        }
        .write(sweep.path())
        .unwrap();
        let mut s = WatchState::new(sweep.path());
        s.refresh();
        let text = render_text(&s, 140, 16);
        let row = text
            .lines()
            .find(|l| l.contains("pending") && l.contains("seed"))
            .unwrap_or_else(|| panic!("no pending row:\n{text}"));
        assert!(!row.contains("0/0"), "{row}");
        assert!(row.contains(NO_VALUE), "{row}");
    }

    #[test]
    fn durations() {
        assert_eq!(fmt_duration(Duration::from_secs(42)), "42s");
        assert_eq!(fmt_duration(Duration::from_secs(185)), "3m05s");
        assert_eq!(fmt_duration(Duration::from_secs(3720)), "1h02m");
    }
}
