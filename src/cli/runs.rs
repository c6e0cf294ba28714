//! `runs`, `export`, `replay`, `compare` and `report`: reading run folders.

use anyhow::{bail, Context, Result};
use dps_tui::runs::event_log;
use dps_tui::runs::{self, RunRecord};
use std::io::Write;
use std::path::{Path, PathBuf};

pub(crate) fn list_runs(out: &Path) -> Result<i32> {
    if !out.is_dir() {
        bail!(
            "cannot list {}: not a folder. Fix: pass --out with the folder your runs are in",
            out.display()
        );
    }
    println!(
        "{:<48} {:<6} {:<15} {:>11} {:>10} status",
        "run", "task", "method", "steps", "best"
    );
    for dir in runs::scan(out) {
        let name = dir.strip_prefix(out).unwrap_or(&dir).display().to_string();
        let s = match RunRecord::read(&dir) {
            Ok(r) => r.summary,
            Err(e) => {
                eprintln!("warning: {e}");
                continue;
            }
        };
        println!(
            "{:<48} {:<6} {:<15} {:>5}/{:<5} {:>10} {}",
            name,
            s.task,
            s.method,
            s.step,
            s.total_steps,
            s.best
                .map(|b| format!("{:.4}", b.value))
                .unwrap_or_else(|| "-".into()),
            s.status.word()
        );
    }
    Ok(0)
}

pub(crate) fn export(run: &Path, format: &str) -> Result<i32> {
    let record = RunRecord::read(run)?;
    if record.torn_tail {
        eprintln!("warning: the last line of the log is torn and was skipped");
    }
    let (rows, eval_keys) = record.scalar_rows();
    let mut out = std::io::stdout().lock();
    match format {
        "jsonl" => {
            for r in rows {
                writeln!(out, "{}", serde_json::Value::Object(r))?;
            }
        }
        "csv" => {
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
        other => bail!("unknown export format `{other}`. Fix: use --format csv or --format jsonl"),
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
    dps_tui::ui::replay_view(log.events)?;
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
        println!("{}", serde_json::to_string_pretty(&state.to_json())?);
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
    if json {
        println!("{}", serde_json::to_string_pretty(&r)?);
    } else {
        print!("{}", dps_tui::runs::report::to_markdown(&r));
    }
    Ok(0)
}
