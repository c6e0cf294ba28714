//! `runs`, `export`, `replay`, `compare` and `report`: reading run folders.

use anyhow::{bail, Context, Result};
use clap::ValueEnum;
use dps_tui::runs::event_log;
use dps_tui::runs::{self, RunRecord};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The formats `export` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    /// Comma-separated, a header line then one row per step.
    Csv,
    /// One JSON object per step.
    Jsonl,
}

/// `runs`: one line per run folder under `out`, starting with the folder's path as the other
/// subcommands take it.
pub(crate) fn list_runs(out: &Path) -> Result<i32> {
    if !out.is_dir() {
        bail!(
            "cannot list {}: not a folder. Fix: pass --out with the folder your runs are in",
            out.display()
        );
    }
    let rows: Vec<(String, runs::RunSummary)> = runs::scan(out)
        .into_iter()
        .filter_map(|dir| match RunRecord::read(&dir) {
            Ok(r) => Some((dir.display().to_string(), r.summary)),
            Err(e) => {
                eprintln!("warning: {e}");
                None
            }
        })
        .collect();
    let width = rows.iter().map(|(p, _)| p.len()).max().unwrap_or(0).max(3);
    let mut w = super::stdout();
    writeln!(
        w,
        "{:<width$} {:<6} {:<15} {:>11} {:>10} status",
        "run", "task", "method", "steps", "best"
    )?;
    for (path, s) in rows {
        writeln!(
            w,
            "{:<width$} {:<6} {:<15} {:>5}/{:<5} {:>10} {}",
            path,
            s.task,
            s.method,
            s.step,
            s.total_steps,
            s.best
                .map(|b| format!("{:.4}", b.value))
                .unwrap_or_else(|| "-".into()),
            s.status.word()
        )?;
    }
    Ok(0)
}

pub(crate) fn export(run: &Path, format: ExportFormat) -> Result<i32> {
    let record = RunRecord::read(run)?;
    if record.torn_tail {
        eprintln!("warning: the last line of the log is torn and was skipped");
    }
    let (rows, eval_keys) = record.scalar_rows();
    let mut out = super::stdout();
    match format {
        ExportFormat::Jsonl => {
            for r in rows {
                writeln!(out, "{}", serde_json::Value::Object(r))?;
            }
        }
        ExportFormat::Csv => {
            let mut cols = vec!["step", "epoch", "loss", "lr", "examples_per_sec"]
                .into_iter()
                .map(String::from)
                .collect::<Vec<_>>();
            cols.extend(eval_keys);
            writeln!(out, "{}", cols.join(","))?;
            for r in &rows {
                let line: Vec<String> = cols
                    .iter()
                    .map(|c| r.get(c).map(|v| v.to_string()).unwrap_or_default())
                    .collect();
                writeln!(out, "{}", line.join(","))?;
            }
        }
    }
    Ok(0)
}

pub(crate) fn replay(run: &Path) -> Result<i32> {
    let log = event_log::read(&run.join("events.jsonl")).with_context(|| {
        format!(
            "cannot read {}/events.jsonl. Fix: pass a run folder (`dps-tui runs`)",
            run.display()
        )
    })?;
    if let Some(t) = &log.torn_tail {
        tracing::warn!("torn last line skipped: {} bytes", t.len());
    }
    // The one rule of `runs`: a log without `done` whose trainer is gone is a crashed run's.
    let crashed = runs::summary::log_state(run, &log.events) == runs::RunState::Crashed;
    dps_tui::ui::replay_view(log.events, crashed)?;
    Ok(0)
}

pub(crate) fn compare(runs: &[PathBuf], headless: bool) -> Result<i32> {
    let state = dps_tui::ui::compare::CompareState::load(runs)?;
    for r in &state.runs {
        if r.torn_tail {
            eprintln!(
                "warning: {}: the last line of events.jsonl is torn and was skipped",
                r.summary.path.display()
            );
        }
    }
    if headless {
        let json = serde_json::to_string_pretty(&state.to_json())?;
        writeln!(super::stdout(), "{json}")?;
        return Ok(0);
    }
    dps_tui::ui::compare_view(state)?;
    Ok(0)
}

pub(crate) fn report(
    root: &Path,
    json: bool,
    baseline: &str,
    imports: &[PathBuf],
    include_stopped: bool,
) -> Result<i32> {
    if !root.is_dir() {
        bail!(
            "{}: no such folder. Fix: pass the folder that holds the run folders (default runs/)",
            root.display()
        );
    }
    let (mut runs, skipped) = dps_tui::runs::report::collect_with(root, include_stopped);
    for (dir, why) in &skipped {
        eprintln!("left out {}: {why}", dir.display());
    }
    for file in imports {
        runs.extend(dps_tui::runs::imported::read(file)?);
    }
    if runs.is_empty() {
        bail!(
            "{}: no finished runs found (a run is finished when its events.jsonl ends with a `done` event)",
            root.display()
        );
    }
    let r = dps_tui::runs::report::build(&runs, baseline);
    let text = if json {
        serde_json::to_string_pretty(&r)? + "\n"
    } else {
        dps_tui::runs::report::to_markdown(&r)
    };
    super::stdout().write_all(text.as_bytes())?;
    Ok(0)
}
