//! The training dashboard: title, error banner, loss and eval charts, settings, selection
//! heatmap, event log, status bar and key hints. Panels are dropped on small terminals.

use crate::core::task_metrics;
use crate::ui::app::App;
use crate::ui::form::short_model;
use crate::ui::run_state::RunStatus;
use crate::ui::view::Focus;
use crate::ui::widgets::{
    eval_chart, event_log, heatmap, hyperparams, loss_chart, popup, status_bar,
};
use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::Frame;

/// Where each dashboard panel goes (`None` = hidden at this size).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DashLayout {
    pub title: Rect,
    pub banner: Option<Rect>,
    /// Compact one-line settings (narrow screens).
    pub settings_line: Option<Rect>,
    pub loss: Option<Rect>,
    pub eval: Option<Rect>,
    pub settings: Option<Rect>,
    pub heatmap: Option<Rect>,
    pub log: Option<Rect>,
    /// The area the zoomed matrix view replaces (everything between title and status).
    pub body: Rect,
    pub status: Rect,
    pub hints: Rect,
}

/// Whether the screen is big enough for the full layout.
pub fn is_wide(area: Rect) -> bool {
    area.width >= 110 && area.height >= 30
}

/// Lay the dashboard out in `area`, with a one-line error banner when `banner`.
pub fn layout(area: Rect, banner: bool) -> DashLayout {
    layout_with(area, banner, false)
}

/// The dashboard's layout for `app`'s screen and run.
pub fn layout_of(app: &App) -> DashLayout {
    let rows = banner_lines(app, app.area).0.len() as u16;
    layout_rows(app.area, rows, !app.run.eval_tasks.is_empty())
}

/// What ends a banner too long for its rows; enter then shows the whole text.
pub const BANNER_MORE: &str = "… (enter: details)";

/// The banner's whole text: the error and, while paused, how to go on (`None` without an
/// error).
pub fn banner_text(app: &App) -> Option<String> {
    let msg = app.run.error.as_deref()?;
    let fix = if app.run.status == RunStatus::Paused {
        "  — paused: lower the lr with [ and resume with space"
    } else {
        ""
    };
    Some(format!("✖ error: {msg}{fix}"))
}

/// The banner's lines on a screen `area`: its text wrapped to the width in at most a third of
/// the height, and whether it was cut there (its last line then ends in [`BANNER_MORE`]).
pub fn banner_lines(app: &App, area: Rect) -> (Vec<String>, bool) {
    let Some(text) = banner_text(app) else {
        return (Vec::new(), false);
    };
    let width = usize::from(area.width.saturating_sub(2));
    let rows = usize::from(area.height / 3);
    crate::ui::format::wrap_capped(&text, width, rows, BANNER_MORE)
}

/// Rows below which the dev panel of a run with eval tasks goes beside the loss chart instead
/// of below the settings.
const DEV_TASKS_MIN_H: u16 = 9;

/// [`layout`], giving the dev panel room on every screen that has a loss chart when
/// `dev_tasks` (the run reports eval tasks, see [`crate::core::task_metrics`]).
pub fn layout_with(area: Rect, banner: bool, dev_tasks: bool) -> DashLayout {
    layout_rows(area, u16::from(banner), dev_tasks)
}

/// [`layout_with`] with a banner of `banner_h` rows.
pub fn layout_rows(area: Rect, banner_h: u16, dev_tasks: bool) -> DashLayout {
    let wide = is_wide(area);
    let settings_h = u16::from(!wide);
    let [title, banner, settings_line, body, status, hints] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(banner_h),
        Constraint::Length(settings_h),
        Constraint::Fill(1),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(area);
    let mut out = DashLayout {
        title,
        banner: (banner_h > 0).then_some(banner),
        settings_line: (settings_h > 0).then_some(settings_line),
        loss: None,
        eval: None,
        settings: None,
        heatmap: None,
        log: None,
        body,
        status,
        hints,
    };
    if wide {
        let [top, bottom] =
            Layout::vertical([Constraint::Percentage(42), Constraint::Fill(1)]).areas(body);
        let [loss, right] =
            Layout::horizontal([Constraint::Percentage(62), Constraint::Fill(1)]).areas(top);
        let [settings, eval] =
            Layout::vertical([Constraint::Length(9), Constraint::Fill(1)]).areas(right);
        let [heat, log] =
            Layout::horizontal([Constraint::Percentage(62), Constraint::Fill(1)]).areas(bottom);
        out.loss = Some(loss);
        out.settings = Some(settings);
        out.eval = Some(eval);
        out.heatmap = Some(heat);
        out.log = Some(log);
        if dev_tasks && eval.height < DEV_TASKS_MIN_H {
            let [loss, eval, settings] = Layout::horizontal([
                Constraint::Percentage(38),
                Constraint::Percentage(30),
                Constraint::Fill(1),
            ])
            .areas(top);
            out.loss = Some(loss);
            out.eval = Some(eval);
            out.settings = Some(settings);
        }
    } else if body.height >= 30 {
        let eval_pct = if dev_tasks { 25 } else { 15 };
        let [loss, eval, heat, log] = Layout::vertical([
            Constraint::Percentage(30),
            Constraint::Percentage(eval_pct),
            Constraint::Fill(1),
            Constraint::Percentage(20),
        ])
        .areas(body);
        out.loss = Some(loss);
        out.eval = Some(eval);
        out.heatmap = Some(heat);
        out.log = Some(log);
    } else if body.height >= 8 {
        let [top, heat] =
            Layout::vertical([Constraint::Percentage(42), Constraint::Fill(1)]).areas(body);
        out.loss = Some(top);
        out.heatmap = Some(heat);
        if dev_tasks && body.width >= 60 {
            let [loss, eval] =
                Layout::horizontal([Constraint::Percentage(55), Constraint::Fill(1)]).areas(top);
            out.loss = Some(loss);
            out.eval = Some(eval);
        }
    } else {
        out.loss = Some(body);
    }
    out
}

/// Draw the dashboard (without overlays).
pub fn draw(frame: &mut Frame, app: &App) {
    let area = frame.area();
    let (banner, _) = banner_lines(app, area);
    let l = layout_rows(area, banner.len() as u16, !app.run.eval_tasks.is_empty());
    let buf = frame.buffer_mut();
    title_line(app, l.title, buf);
    if let Some(r) = l.banner.filter(|r| !r.is_empty()) {
        let style = app.theme.banner();
        buf.set_style(r, style);
        for (i, text) in banner.iter().enumerate().take(usize::from(r.height)) {
            buf.set_stringn(
                r.x + 1,
                r.y + i as u16,
                text,
                usize::from(r.width - 1),
                style,
            );
        }
    }
    if let Some(r) = l.settings_line.filter(|r| !r.is_empty()) {
        hyperparams::render_line(&app.run, &app.requested, &app.theme, r, buf);
    }
    if app.view.zoom {
        crate::ui::screens::zoom::render(&app.run, &app.view, &app.theme, l.body, buf);
    } else {
        let (run, view, theme) = (&app.run, &app.view, &app.theme);
        let f = view.focus;
        if let Some(r) = l.loss {
            let replay = app.replay.is_some();
            loss_chart::render(run, view, theme, r, buf, f == Focus::Loss, replay);
        }
        if let Some(r) = l.settings {
            hyperparams::render(run, &app.requested, theme, r, buf);
        }
        if let Some(r) = l.eval {
            eval_chart::render(run, view, theme, r, buf, false);
        }
        if let Some(r) = l.heatmap {
            heatmap::render(run, view, theme, r, buf, f == Focus::Heatmap);
        }
        if let Some(r) = l.log {
            event_log::render(run, view, theme, r, buf, f == Focus::Log);
        }
    }
    let setup = app.setup_text();
    status_bar::render(
        &app.run,
        app.replay.is_some(),
        &app.clock,
        &app.theme,
        setup.as_deref(),
        l.status,
        buf,
    );
    hints_line(app, l.hints, buf);
}

/// The banner's whole text in a popup (enter on a cut banner).
pub fn draw_details(frame: &mut Frame, app: &App) {
    let Some(text) = banner_text(app) else {
        return;
    };
    let area = frame.area();
    let width = area.width.saturating_sub(4).clamp(20, 100);
    let mut lines: Vec<Line> = crate::ui::format::wrap_text(&text, usize::from(width - 4))
        .into_iter()
        .map(|l| Line::styled(format!(" {l}"), app.theme.text()))
        .collect();
    lines.push(Line::raw(""));
    lines.push(Line::styled(" esc or enter closes this", app.theme.dim()));
    popup::draw(frame, &app.theme, "error", app.theme.error(), width, lines);
}

fn title_line(app: &App, area: Rect, buf: &mut Buffer) {
    if area.is_empty() {
        return;
    }
    let theme = &app.theme;
    let run = &app.run;
    let model = run
        .config
        .get("model")
        .and_then(|m| m.as_str())
        .map(short_model)
        .unwrap_or("");
    let mut spans = vec![
        Span::styled(" dps-tui ", theme.title().reversed()),
        Span::raw(" "),
    ];
    if !run.task.is_empty() {
        spans.push(Span::styled(run.task.clone(), theme.text().bold()));
        spans.push(Span::styled(" · ", theme.dim()));
        spans.push(Span::styled(run.hyper.method.clone(), theme.text()));
        if !model.is_empty() {
            spans.push(Span::styled(" · ", theme.dim()));
            spans.push(Span::styled(model.to_string(), theme.dim()));
        }
    } else if let Some(text) = app.setup_text() {
        spans.push(Span::styled(
            format!("setting up the run: {text}"),
            theme.warn(),
        ));
    } else if app.replay.is_some() {
        spans.push(Span::styled(
            "replay: at the start · . or → steps",
            theme.dim(),
        ));
    } else {
        spans.push(Span::styled("waiting for the trainer…", theme.dim()));
    }
    if let Some(r) = app.replay {
        spans.push(Span::styled(
            format!("   replay {}/{} events", r.cursor, r.total),
            theme.warn(),
        ));
    }
    if let Some(d) = &run.done {
        let best = d
            .metrics
            .iter()
            .find(|(k, _)| k.as_str() != "loss" && !task_metrics::is_task_metric(k))
            .map(|(k, v)| format!(" · {k} {v:.4}"))
            .unwrap_or_default();
        spans.push(Span::styled(
            format!(
                "   {} at step {}{best}",
                run.state().map_or("finished", |s| s.word()),
                d.step
            ),
            theme.ok(),
        ));
    }
    buf.set_line(area.x, area.y, &Line::from(spans), area.width);
    let help = Line::from(vec![
        Span::styled("?", theme.key()),
        Span::styled(" help  ", theme.dim()),
        Span::styled("q", theme.key()),
        Span::styled(" quit ", theme.dim()),
    ]);
    let w = help.width() as u16;
    if area.width > w + 40 {
        buf.set_line(area.x + area.width - w, area.y, &help, w);
    }
}

fn hints_line(app: &App, area: Rect, buf: &mut Buffer) {
    if area.is_empty() {
        return;
    }
    let theme = &app.theme;
    let wide = area.width >= 140;
    // The space key resumes a paused run.
    let space = if app.run.status == RunStatus::Paused {
        "resume"
    } else {
        "pause"
    };
    if let Some(notice) = app.view.notice {
        buf.set_line(
            area.x,
            area.y,
            &Line::from(Span::styled(format!(" {notice}"), theme.warn())),
            area.width,
        );
        return;
    }
    let keys: Vec<(&str, &str)> = if app.replay.is_some() {
        vec![
            (",/. ←/→", "event"),
            ("shift ←/→ pgup/pgdn", "jump"),
            ("home/end", "start/end"),
            ("tab", "focus"),
            ("l", "log-y"),
            ("s", "smooth"),
            ("v", "lens"),
            ("?", "help"),
            ("q", "quit"),
        ]
    } else if app.view.zoom {
        vec![
            ("↑↓", "matrix"),
            ("←→", "stage"),
            ("esc", "back"),
            ("space", space),
            ("?", "help"),
        ]
    } else if app.run.status == RunStatus::Finished {
        vec![
            ("q", "close"),
            ("tab", "focus"),
            ("arrows", "move"),
            ("enter", "zoom"),
            ("l", "log-y"),
            ("s", "smooth"),
            ("v", "lens"),
            ("?", "help"),
        ]
    } else if wide {
        vec![
            ("space", space),
            ("+/-", "p"),
            ("[/]", "lr ÷×2"),
            ("u", "update ratio"),
            ("e", "eval"),
            ("c", "checkpoint"),
            ("l", "log-y"),
            ("s", "smoothing"),
            ("v", "lens"),
            ("tab", "focus"),
            ("enter", "zoom"),
            ("?", "help"),
            ("q", "quit"),
        ]
    } else {
        vec![
            ("spc", space),
            ("+-", "p"),
            ("[]", "lr"),
            ("u", "ur"),
            ("e", "eval"),
            ("c", "ckpt"),
            ("v", "lens"),
            ("tab", "focus"),
            ("?", "help"),
            ("q", "quit"),
        ]
    };
    let mut keys = keys;
    // Narrow footers are full; the dev panel's title names the key there.
    if !app.run.eval_tasks.is_empty() && !app.view.zoom && area.width >= 100 {
        // Before the help key, which stays last but one (or last).
        let at = keys.iter().position(|k| k.0 == "?").unwrap_or(keys.len());
        keys.insert(at, ("t", "dev task"));
    }
    let mut spans = vec![Span::raw(" ")];
    for (k, what) in keys {
        spans.push(Span::styled(k, theme.key()));
        spans.push(Span::styled(format!(" {what}  "), theme.dim()));
    }
    buf.set_line(area.x, area.y, &Line::from(spans), area.width);
}
