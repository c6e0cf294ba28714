//! The training dashboard: title, error banner, loss and eval charts, settings, selection
//! heatmap, event log, status bar and key hints. Panels are dropped on small terminals.

use crate::ui::app::App;
use crate::ui::form::short_model;
use crate::ui::run_state::RunStatus;
use crate::ui::view::Focus;
use crate::ui::widgets::{eval_chart, event_log, heatmap, hyperparams, loss_chart, status_bar};
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

/// Lay the dashboard out in `area`, with an error banner line when `banner`.
pub fn layout(area: Rect, banner: bool) -> DashLayout {
    let wide = is_wide(area);
    let banner_h = u16::from(banner);
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
            Layout::vertical([Constraint::Length(8), Constraint::Fill(1)]).areas(right);
        let [heat, log] =
            Layout::horizontal([Constraint::Percentage(62), Constraint::Fill(1)]).areas(bottom);
        out.loss = Some(loss);
        out.settings = Some(settings);
        out.eval = Some(eval);
        out.heatmap = Some(heat);
        out.log = Some(log);
    } else if body.height >= 30 {
        let [loss, eval, heat, log] = Layout::vertical([
            Constraint::Percentage(30),
            Constraint::Percentage(15),
            Constraint::Fill(1),
            Constraint::Percentage(20),
        ])
        .areas(body);
        out.loss = Some(loss);
        out.eval = Some(eval);
        out.heatmap = Some(heat);
        out.log = Some(log);
    } else if body.height >= 8 {
        let [loss, heat] =
            Layout::vertical([Constraint::Percentage(42), Constraint::Fill(1)]).areas(body);
        out.loss = Some(loss);
        out.heatmap = Some(heat);
    } else {
        out.loss = Some(body);
    }
    out
}

/// Draw the dashboard (without overlays).
pub fn draw(frame: &mut Frame, app: &App) {
    let area = frame.area();
    let l = layout(area, app.run.error.is_some());
    let buf = frame.buffer_mut();
    title_line(app, l.title, buf);
    if let (Some(r), Some(msg)) = (l.banner.filter(|r| !r.is_empty()), &app.run.error) {
        let theme = &app.theme;
        buf.set_style(r, theme.banner());
        let fix = if app.run.status == RunStatus::Paused {
            "  — paused: lower the lr with [ and resume with space"
        } else {
            ""
        };
        let line = Line::from(vec![
            Span::styled(" ✖ error: ", theme.banner()),
            Span::styled(msg.as_str(), theme.banner()),
            Span::styled(fix, theme.banner()),
        ]);
        buf.set_line(r.x, r.y, &line, r.width);
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
            loss_chart::render(run, view, theme, r, buf, f == Focus::Loss);
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
    status_bar::render(&app.run, &app.clock, &app.theme, l.status, buf);
    hints_line(app, l.hints, buf);
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
            .find(|(k, _)| k.as_str() != "loss")
            .map(|(k, v)| format!(" · {k} {v:.4}"))
            .unwrap_or_default();
        spans.push(Span::styled(
            format!(
                "   {} at step {}{best}",
                if d.stopped_early {
                    "stopped"
                } else {
                    "finished"
                },
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
    let keys: Vec<(&str, &str)> = if app.replay.is_some() {
        vec![
            ("←/→", "event"),
            ("shift ←/→ pgup/pgdn", "jump"),
            ("home/end", "start/end"),
            ("tab", "focus"),
            ("l", "log-y"),
            ("s", "smooth"),
            ("v", "lens"),
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
    let mut spans = vec![Span::raw(" ")];
    for (k, what) in keys {
        spans.push(Span::styled(k, theme.key()));
        spans.push(Span::styled(format!(" {what}  "), theme.dim()));
    }
    buf.set_line(area.x, area.y, &Line::from(spans), area.width);
}
