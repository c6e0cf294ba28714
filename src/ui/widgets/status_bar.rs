//! The one-line status bar: state, progress, stage, speed, ETA, elapsed time and memory.

use crate::core::events::StageKind;
use crate::ui::format::{fmt_bytes, fmt_duration};
use crate::ui::run_state::{Activity, Clock, Run, RunStatus};
use crate::ui::theme::Theme;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};

/// The state word shown first: `running`, `paused`, `evaluating`, `checkpointing`, `stopping`,
/// `waiting` (`at start` in a replay before its first event), or, once the run has ended, the word of its [`crate::runs::RunState`] that
/// `runs`, `watch` and `report` show too: `finished`, `stopped early` or `crashed`.
pub fn state_word(run: &Run, replay: bool) -> &'static str {
    match (run.status, run.activity) {
        (RunStatus::Waiting, _) if replay => "at start",
        (RunStatus::Finished | RunStatus::Error, _) => run.state().map_or("waiting", |s| s.word()),
        (_, Some(Activity::Stopping)) => "stopping",
        (_, Some(Activity::Checkpointing)) => "checkpointing",
        (_, Some(Activity::Evaluating)) => "evaluating",
        (RunStatus::Paused, _) => "paused",
        (RunStatus::Running, _) => "running",
        (RunStatus::Waiting, _) => "waiting",
    }
}

fn state_symbol(word: &str) -> &'static str {
    match word {
        "running" => "▶",
        "paused" => "⏸",
        "finished" => "✔",
        "crashed" => "✖",
        "stopped early" => "■",
        "waiting" => "…",
        "at start" => "⏮",
        _ => "●",
    }
}

/// Draw the status bar into one row. `setup`: what the run's setup is doing before its first
/// event (a download's bytes, rate and time left), shown instead of the progress. `replay`:
/// the run is a recording, not a trainer to wait for.
pub fn render(
    run: &Run,
    replay: bool,
    clock: &Clock,
    theme: &Theme,
    setup: Option<&str>,
    area: Rect,
    buf: &mut Buffer,
) {
    if area.is_empty() {
        return;
    }
    let word = state_word(run, replay);
    if let (RunStatus::Waiting, Some(text)) = (run.status, setup) {
        let line = Line::from(vec![
            Span::styled(" … setting up ", theme.warn().reversed()),
            Span::styled(format!(" {text}"), theme.text()),
        ]);
        buf.set_style(area, Style::default());
        buf.set_line(area.x, area.y, &line, area.width);
        return;
    }
    let state_style = match word {
        "running" | "finished" => theme.ok(),
        "crashed" => theme.error(),
        _ => theme.warn(),
    };
    let state_style = if run.error.is_some() && word == "paused" {
        theme.error()
    } else {
        state_style
    };
    let narrow = area.width < 110;
    let sep = Span::styled(if narrow { " " } else { "  │ " }, theme.dim());
    let mut spans: Vec<Span> = vec![
        Span::styled(
            format!(" {} {word} ", state_symbol(word)),
            state_style.reversed(),
        ),
        Span::raw(" "),
    ];
    let pct = if run.total_steps > 0 {
        100.0 * run.step as f64 / run.total_steps as f64
    } else {
        0.0
    };
    spans.push(Span::styled(
        format!("step {}/{}", run.step, run.total_steps),
        theme.text().bold(),
    ));
    if !narrow {
        spans.push(Span::styled(format!(" ({pct:.0}%)"), theme.dim()));
    }
    spans.push(sep.clone());
    spans.push(Span::styled(
        if narrow {
            format!("ep {:.2}", run.epoch)
        } else {
            format!("epoch {:.2}", run.epoch)
        },
        theme.text(),
    ));
    if let Some((stage, left)) = run.current_stage() {
        spans.push(sep.clone());
        let kind = match stage.kind {
            StageKind::Full => "full",
            StageKind::Subnet => "subnet",
        };
        let style = match stage.kind {
            StageKind::Full => theme.text(),
            StageKind::Subnet => theme.warn(),
        };
        let left = left
            .map(|l| {
                if narrow {
                    format!(" ·{l}")
                } else {
                    format!(" · {l} left")
                }
            })
            .unwrap_or_default();
        let text = if narrow {
            let kind = if kind == "subnet" { "sub" } else { kind };
            format!("S{} {kind}{left}", stage.stage)
        } else {
            format!("stage {} {kind}{left}", stage.stage)
        };
        spans.push(Span::styled(text, style));
    }
    spans.push(sep.clone());
    spans.push(Span::styled(
        if narrow {
            format!("{:.0}/s", run.examples_per_sec)
        } else {
            format!("{:.1} ex/s", run.examples_per_sec)
        },
        theme.text(),
    ));
    spans.push(sep.clone());
    let eta = run
        .eta_seconds_with_wall(clock.wall_elapsed)
        .map(fmt_duration)
        .unwrap_or_else(|| "–".into());
    spans.push(Span::styled(format!("ETA {eta}"), theme.text()));
    let elapsed = clock
        .wall_elapsed
        .map(|d| d.as_secs_f64())
        .unwrap_or(run.train_seconds);
    spans.push(sep.clone());
    spans.push(Span::styled(
        if narrow {
            format!("⏱ {}", fmt_duration(elapsed))
        } else {
            format!("elapsed {}", fmt_duration(elapsed))
        },
        theme.text(),
    ));
    spans.push(sep);
    let mem = clock
        .memory_bytes
        .map(fmt_bytes)
        .unwrap_or_else(|| "n/a".into());
    spans.push(Span::styled(
        if narrow {
            mem.replace(" MiB", "M").replace(" GiB", "G")
        } else {
            format!("mem {mem}")
        },
        theme.text(),
    ));
    if let Some(device) = run.device.as_ref().filter(|_| !narrow) {
        spans.push(Span::styled(format!("  │ {device}"), theme.dim()));
    }
    buf.set_style(area, Style::default());
    buf.set_line(area.x, area.y, &Line::from(spans), area.width);
}
