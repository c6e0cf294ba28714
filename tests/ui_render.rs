//! The terminal UI against synthetic event streams: the reducer (events → state), input
//! (keys → commands) and rendering into a `TestBackend`.

mod ui_support;

use crossterm::event::{KeyCode, KeyModifiers, MouseButton, MouseEvent, MouseEventKind};
use dps_tui::config::{Control, ControlKey, Freeze, SelectionScope};
use dps_tui::core::events::{Command, ControlStatus, Event, StageKind};
use dps_tui::ui::run_state::RunStatus;
use dps_tui::ui::theme::Theme;
use dps_tui::ui::view::{Focus, Lens, Overlay};
use dps_tui::ui::widgets::heatmap;
use dps_tui::ui::{App, Outcome};
use ratatui::buffer::Buffer;
use ratatui::layout::Position;
use ratatui::style::Color;

use ui_support::*;

#[test]
fn reducer_tracks_steps_stages_and_selections() {
    let app = app_at(120);
    let run = &app.run;
    assert_eq!(run.status, RunStatus::Running);
    assert_eq!(run.step, 120);
    assert_eq!(run.total_steps, TOTAL);
    assert_eq!(run.loss.len(), 120);
    assert_eq!(run.stages.len(), 6, "stages start at 0, 20, …, 100");
    let (stage, left) = run.current_stage().unwrap();
    assert_eq!((stage.stage, stage.kind), (5, StageKind::Subnet));
    assert_eq!(left, Some(0), "stage 5 covers steps 100..120");
    assert_eq!(run.selections.len(), 3, "subnet stages 1, 3, 5");
    assert_eq!(
        run.selections.iter().map(|c| c.stage).collect::<Vec<_>>(),
        [1, 3, 5]
    );
    assert_eq!(run.rows.len(), 14);
    assert_eq!(run.rows[0].label(), "L0 q");
    assert_eq!(run.rows[5].label(), "L0 ffn_out");
    assert_eq!(run.rows[12].label(), "pooler");
    assert_eq!(run.rows[13].label(), "classifier");
    // Churn exists from the second selection on.
    assert_eq!(Lens::Churn.value(run.cell(0, 0).unwrap()), None);
    assert!(Lens::Churn.value(run.cell(0, 1).unwrap()).is_some());
    assert_eq!(run.evals.len(), 2);
    assert!(run.eta_seconds().unwrap() > 0.0);
}

#[test]
fn reducer_control_pending_then_applied() {
    let app = app_at(120);
    let run = &app.run;
    assert_eq!(run.hyper.learning_rate, Some(4e-5), "applied at step 70");
    assert_eq!(run.markers, vec![(70, ControlKey::LearningRate)]);
    assert_eq!(run.hyper.p, Some(0.3), "p is only pending");
    assert_eq!(run.pending_value(ControlKey::P), Some(0.35));
    let mut app = app;
    app.apply(&Event::Control {
        step: 121,
        key: ControlKey::P,
        value: serde_json::json!(0.35),
        status: ControlStatus::Applied,
        message: None,
    });
    assert_eq!(app.run.hyper.p, Some(0.35));
    assert!(app.run.pending.is_empty());
    app.apply(&Event::Control {
        step: 122,
        key: ControlKey::UpdateRatio,
        value: serde_json::json!(2.0),
        status: ControlStatus::Rejected,
        message: Some("update_ratio must be <= 1".into()),
    });
    assert_eq!(app.run.hyper.update_ratio, Some(0.05));
    assert!(app.run.log.back().unwrap().text.contains("rejected"));
}

#[test]
fn reducer_error_pauses_with_banner_and_resume_clears_it() {
    let mut app = app_at(60);
    app.apply(&Event::Error {
        step: 60,
        message: "loss is NaN at step 60".into(),
    });
    assert_eq!(app.run.status, RunStatus::Paused);
    assert_eq!(app.run.error.as_deref(), Some("loss is NaN at step 60"));
    app.apply(&Event::Paused { step: 60 });
    // The user lowers the lr and resumes.
    let cmds = app.on_key(chr('['));
    assert_eq!(cmds, vec![Command::Control(Control::LearningRate(1e-5))]);
    assert_eq!(app.on_key(chr(' ')), vec![Command::Resume]);
    app.apply(&Event::Resumed { step: 60 });
    assert_eq!(app.run.status, RunStatus::Running);
    assert_eq!(app.run.error, None);
}

#[test]
fn reducer_done_finishes_and_q_closes() {
    let mut app = app_at(TOTAL);
    app.apply(&Event::Done {
        step: TOTAL,
        metrics: metrics(0.71),
        stopped_early: false,
    });
    assert_eq!(app.run.status, RunStatus::Finished);
    assert!(app.on_key(chr(' ')).is_empty(), "no commands after the end");
    assert_eq!(app.outcome(), None);
    app.on_key(chr('q'));
    assert_eq!(app.outcome(), Some(Outcome::Finished));
}

#[test]
fn ten_thousand_steps_stay_compact() {
    let mut app = App::new();
    app.apply(&start_event());
    for step in 1..=10_000 {
        app.apply(&Event::Step {
            step,
            epoch: 0.0,
            loss: 1.0,
            lr: 1e-5,
            examples_per_sec: 1.0,
            grad_norm: None,
            step_seconds: None,
            run_seconds: None,
        });
    }
    assert_eq!(app.run.loss.len(), 10_000);
    assert!(
        app.run.loss.heap_bytes() < 200_000,
        "{}",
        app.run.loss.heap_bytes()
    );
}

#[test]
fn replay_is_reapplying_a_prefix() {
    let events = stream(120);
    let full = App::from_events(&events);
    let cut = events
        .iter()
        .position(|e| matches!(e, Event::Step { step: 50, .. }))
        .unwrap();
    let mut app = App::replay_at(&events, cut + 1, Some(&full));
    assert_eq!(app.run.step, 50);
    assert_eq!(app.replay.unwrap().total, events.len());
    app.view.focus = Focus::Loss;
    app.on_key(key(KeyCode::End));
    assert_eq!(app.replay.unwrap().cursor, events.len());
    assert!(app.on_key(chr(' ')).is_empty(), "replay sends nothing");
}

/// Replay with the cursor in the middle of a run shows the state at the cursor: its step, the
/// loss up to it, its last evaluation and only the heatmap stages selected by then.
#[test]
fn render_replay_at_a_cursor_mid_run() {
    let events = stream(200);
    let mut full = App::from_events(&events);
    full.theme = Theme::colored();
    let full_buf = render(&mut full, 200, 60);
    let cut = events
        .iter()
        .position(|e| matches!(e, Event::Step { step: 110, .. }))
        .unwrap()
        + 1;
    let mut app = App::replay_at(&events, cut, Some(&full));
    let buf = render(&mut app, 200, 60);
    let screen = text(&buf);
    let loss_at =
        |step: usize| 0.7 * (-(step as f64) / 150.0).exp() + 0.05 * ((step * 7) % 11) as f64 / 11.0;
    let (l110, l200) = (
        dps_tui::ui::format::fmt_num(loss_at(110)),
        dps_tui::ui::format::fmt_num(loss_at(200)),
    );
    assert_ne!(l110, l200);
    assert_has(
        &screen,
        &[
            &format!("replay {cut}/{} events", events.len()),
            "step 110/400",
            "stage 5 subnet",
            &format!(" loss {l110}"),
            " dev @100",
            "stage 5 @100",
        ],
    );
    for later in [
        "step 200/400".to_string(),
        format!(" loss {l200}"),
        " dev @200".into(),
        "stage 9 @180".into(),
    ] {
        assert!(
            !screen.contains(&later),
            "{later:?} is after the cursor:\n{screen}"
        );
    }
    // The charts end at the cursor: the loss chart's last x label is 110.
    let x_label_row = screen
        .lines()
        .find(|l| l.contains(" 110") && !l.contains("step 110"))
        .unwrap_or_else(|| panic!("no x label 110 in:\n{screen}"));
    assert!(!x_label_row.contains(" 200 "), "{x_label_row}");
    // Heatmap columns: subnet stages 1, 3 and 5 by step 110, against 1-9 at the end.
    assert_eq!(app.run.selections.len(), 3);
    assert_eq!(full.run.selections.len(), 5);
    let ramp_cells = |b: &Buffer| {
        b.content()
            .iter()
            .filter(|c| c.symbol() == " " && matches!(c.bg, Color::Rgb(..)))
            .filter(|c| Some(c.bg) != Theme::colored().subnet_bg())
            .count()
    };
    let (at_cursor, at_end) = (ramp_cells(&buf), ramp_cells(&full_buf));
    assert!(
        at_cursor >= 14 * 3 && at_cursor < at_end,
        "{at_cursor} heatmap cells at the cursor, {at_end} at the end"
    );
    // Moving the cursor back one event (to before step 110) rebuilds the state there.
    let mut back = app.clone();
    back.view.focus = Focus::Loss;
    back.on_key(key(KeyCode::Left));
    let prev = App::replay_at(&events, back.replay.unwrap().cursor, Some(&back));
    assert_eq!(prev.run.step, 109);
}

// ---------------------------------------------------------------- input

#[test]
fn keys_send_commands() {
    let mut app = app_at(120);
    assert_eq!(app.on_key(chr(' ')), vec![Command::Pause]);
    app.apply(&Event::Paused { step: 120 });
    assert_eq!(app.on_key(chr(' ')), vec![Command::Resume]);
    // p is pending at 0.35: + builds on it, and on the value just sent.
    assert_eq!(
        app.on_key(chr('+')),
        vec![Command::Control(Control::P(0.4))]
    );
    assert_eq!(
        app.on_key(chr('+')),
        vec![Command::Control(Control::P(0.45))]
    );
    assert_eq!(
        app.on_key(chr('-')),
        vec![Command::Control(Control::P(0.4))]
    );
    // f and g toggle the DPS options, building on the value last sent.
    let opt = |c: Control| vec![Command::Control(c)];
    assert_eq!(app.on_key(chr('f')), opt(Control::Freeze(Freeze::Strict)));
    assert_eq!(app.on_key(chr('f')), opt(Control::Freeze(Freeze::Gradient)));
    assert_eq!(
        app.on_key(chr('g')),
        opt(Control::SelectionScope(SelectionScope::Global))
    );
    assert_eq!(
        app.on_key(chr(']')),
        vec![Command::Control(Control::LearningRate(8e-5))]
    );
    assert_eq!(
        app.on_key(chr('u')),
        vec![Command::Control(Control::UpdateRatio(0.1))]
    );
    assert_eq!(
        app.on_key(chr('u')),
        vec![Command::Control(Control::UpdateRatio(0.025))]
    );
    assert_eq!(app.on_key(chr('e')), vec![Command::Evaluate]);
    assert_eq!(app.on_key(chr('c')), vec![Command::Checkpoint]);
    // View keys send nothing.
    for c in ['l', 's', 'v', '2', '?'] {
        assert!(app.on_key(chr(c)).is_empty());
    }
    assert!(app.view.log_y);
    assert_eq!(app.view.lens, Lens::Churn);
    assert_eq!(app.view.overlay, Overlay::Help);
}

#[test]
fn quit_dialog_checkpoint_and_quit() {
    let mut app = app_at(120);
    assert!(app.on_key(chr('q')).is_empty());
    assert_eq!(app.view.overlay, Overlay::Quit { choice: 0 });
    assert_eq!(app.on_key(key(KeyCode::Esc)), vec![]);
    assert_eq!(app.view.overlay, Overlay::None);
    app.on_key(chr('q'));
    assert_eq!(
        app.on_key(chr('c')),
        vec![Command::Quit { checkpoint: true }]
    );
    assert_eq!(app.outcome(), None, "waits for the trainer");
    app.apply(&Event::Checkpoint {
        step: 120,
        path: "runs/x/checkpoint-120".into(),
    });
    app.apply(&Event::Done {
        step: 120,
        metrics: metrics(0.6),
        stopped_early: true,
    });
    assert_eq!(app.outcome(), Some(Outcome::QuitWithCheckpoint));
}

#[test]
fn quit_ends_when_the_trainer_disconnects() {
    let mut app = app_at(30);
    app.on_key(chr('q'));
    assert_eq!(
        app.on_key(key(KeyCode::Enter)),
        vec![Command::Quit { checkpoint: true }]
    );
    app.on_disconnect();
    assert_eq!(app.outcome(), Some(Outcome::QuitWithCheckpoint));
    // Without a quit request a lost trainer is an error.
    let mut app = app_at(30);
    app.on_disconnect();
    assert_eq!(app.run.status, RunStatus::Error);
    assert!(app.run.error.is_some());
}

#[test]
fn heatmap_cursor_and_mouse_click() {
    let mut app = app_at(120);
    assert_eq!(app.view.focus, Focus::Heatmap);
    assert_eq!((app.heat_row(), app.heat_col()), (Some(0), Some(2)));
    app.on_key(key(KeyCode::Down));
    app.on_key(key(KeyCode::Left));
    assert_eq!((app.heat_row(), app.heat_col()), (Some(1), Some(1)));
    let _ = render(&mut app, 200, 60);
    let layout = dps_tui::ui::screens::dashboard::layout(app.area, app.run.error.is_some());
    let panel = layout.heatmap.unwrap();
    let g = heatmap::geometry(panel, &app.run, &app.view, &app.theme);
    // Click the first column, third line.
    let at = Position::new(g.grid.x, g.grid.y + 2);
    app.view.focus = Focus::Loss;
    app.on_mouse(MouseEvent {
        kind: MouseEventKind::Down(MouseButton::Left),
        column: at.x,
        row: at.y,
        modifiers: KeyModifiers::NONE,
    });
    assert_eq!(app.view.focus, Focus::Heatmap);
    assert_eq!(app.heat_col(), Some(0));
    assert_eq!(app.heat_row(), Some(2 * g.rows_per_line));
    // Scrolling over the loss chart zooms the x range.
    let loss = layout.loss.unwrap();
    app.on_mouse(MouseEvent {
        kind: MouseEventKind::ScrollUp,
        column: loss.x + 5,
        row: loss.y + 3,
        modifiers: KeyModifiers::NONE,
    });
    assert_eq!(app.view.x_window, Some(60));
    app.on_mouse(MouseEvent {
        kind: MouseEventKind::ScrollDown,
        column: loss.x + 5,
        row: loss.y + 3,
        modifiers: KeyModifiers::NONE,
    });
    assert_eq!(app.view.x_window, None);
}

#[test]
fn render_dashboard_mid_run_200x60() {
    let mut app = app_at(120);
    let buf = render(&mut app, 200, 60);
    let screen = text(&buf);
    assert_has(
        &screen,
        &[
            "running",
            "step 120/400",
            "stage 5 subnet",
            "epoch 0.77",
            "85.0 ex/s",
            "ETA",
            "mem n/a",
            "loss",
            "ema 0.6",
            "selection",
            "importance share",
            "L0 q",
            "L1 ffn_out",
            "pooler",
            "classifier",
            "stage 5 @100 · imp",
            // Encoder shares are 1/105 … 12/105 (see `matrices`), on a log scale; the pooler
            // and classifier (13/105, 14/105) on their own.
            "0.0095 ████████████████ 0.1143  bright = more important (log scale)",
            "pool/cls own scale 0.1238–0.1333",
            "accuracy",
            "events",
            "selection stage 5",
            "learning_rate = 4e-5 applied",
            "settings",
            "dps-dense",
            "→ 0.35 (next selection)",
            "▾lr",
            "━",
        ],
    );
    // 14 matrices fit one per line: every cell has a ramp background.
    let cells = buf
        .content()
        .iter()
        .filter(|c| c.symbol() == " " && matches!(c.bg, Color::Rgb(..)))
        .count();
    assert!(cells >= 14 * 3, "{cells}");
    // Subnet stages shade the chart background.
    assert!(buf
        .content()
        .iter()
        .any(|c| c.bg == Theme::colored().subnet_bg().unwrap()));
}

#[test]
fn render_dashboard_paused_with_error_banner() {
    let mut app = app_at(120);
    app.apply(&Event::Error {
        step: 120,
        message: "non-finite loss (NaN) at step 120".into(),
    });
    app.apply(&Event::Paused { step: 120 });
    let screen = text(&render(&mut app, 200, 60));
    assert_has(
        &screen,
        &[
            "paused",
            "step 120/400",
            "error: non-finite loss (NaN) at step 120",
            "lower the lr with [",
            "ERROR",
        ],
    );
}

#[test]
fn render_dashboard_80x24() {
    let mut app = app_at(120);
    let screen = text(&render(&mut app, 80, 24));
    assert_has(
        &screen,
        &[
            "running",
            "step 120/400",
            "loss",
            "selection",
            "imp",
            "p 0.3→0.35",
        ],
    );
    for line in screen.lines() {
        assert_eq!(line.chars().count(), 80);
    }
    // The lens shows in the legend; switching lens changes it.
    app.on_key(chr('4'));
    let screen = text(&render(&mut app, 80, 24));
    assert_has(&screen, &["selected fraction"]);
}

#[test]
fn render_heatmap_zoom() {
    let mut app = app_at(120);
    app.on_key(key(KeyCode::Down));
    app.on_key(key(KeyCode::Down)); // L0 v
    app.on_key(key(KeyCode::Enter));
    assert!(app.view.zoom);
    let buf = render(&mut app, 200, 60);
    let screen = text(&buf);
    assert_has(
        &screen,
        &[
            "L0 v",
            "encoder.layer.0.v.weight",
            "[16×16]",
            "selected 70.0%",
            "mask density",
            "8×16",
            "selected per head",
            "h0",
            "h3",
            "stage 5",
        ],
    );
    // Rows of FFN matrices show per-row bars instead.
    app.on_key(key(KeyCode::Down));
    app.on_key(key(KeyCode::Down)); // L0 ffn_in
    let screen = text(&render(&mut app, 200, 60));
    assert_has(
        &screen,
        &["encoder.layer.0.ffn_in.weight", "selected per row"],
    );
    app.on_key(key(KeyCode::Esc));
    assert!(!app.view.zoom);
}

#[test]
fn render_help_overlay() {
    let mut app = app_at(120);
    app.on_key(chr('?'));
    let screen = text(&render(&mut app, 200, 60));
    assert_has(
        &screen,
        &[
            "keys",
            "pause / resume",
            "peak learning rate",
            "update ratio",
            "log-y",
            "smoothing",
            "heatmap lens",
            "zoom into the matrix",
            "wheel over charts",
        ],
    );
    app.on_key(key(KeyCode::Esc));
    assert_eq!(app.view.overlay, Overlay::None);
}

#[test]
fn render_quit_dialog() {
    let mut app = app_at(120);
    app.on_key(chr('q'));
    let screen = text(&render(&mut app, 100, 30));
    assert_has(
        &screen,
        &[
            "Stop training at step 120/400?",
            "checkpoint and quit",
            "quit without checkpoint",
            "cancel",
        ],
    );
}

#[test]
fn no_color_renders_without_colours() {
    let mut app = app_at(120);
    app.theme = Theme::plain();
    for (w, h) in [(200, 60), (80, 24)] {
        let buf = render(&mut app, w, h);
        for c in buf.content() {
            assert_eq!(c.fg, Color::Reset, "{:?}", c);
            assert_eq!(c.bg, Color::Reset, "{:?}", c);
        }
        let screen = text(&buf);
        assert_has(&screen, &["step 120/400", "importance share"]);
        assert!(screen.contains('█') || screen.contains('▓') || screen.contains('▒'));
    }
    app.on_key(key(KeyCode::Enter));
    let buf = render(&mut app, 120, 40);
    assert!(buf.content().iter().all(|c| c.fg == Color::Reset));
    assert_has(&text(&buf), &["mask density"]);
}

#[test]
fn tiny_and_empty_terminals_do_not_panic() {
    let mut apps = vec![App::new(), app_at(120), picker_app()];
    let mut zoomed = app_at(120);
    zoomed.on_key(key(KeyCode::Enter));
    apps.push(zoomed);
    let mut help = app_at(5);
    help.on_key(chr('?'));
    apps.push(help);
    for app in &mut apps {
        app.theme = Theme::colored();
        for (w, h) in [
            (1, 1),
            (2, 2),
            (10, 5),
            (20, 8),
            (40, 12),
            (79, 23),
            (300, 90),
        ] {
            render(app, w, h);
        }
    }
    let screen = text(&render(&mut App::new(), 100, 30));
    assert_has(&screen, &["waiting for the trainer"]);
}

#[test]
fn render_heatmap_half_blocks_for_a_six_layer_model() {
    let mut app = App::from_events(&stream_with(120, 6));
    app.theme = Theme::colored();
    assert_eq!(app.run.rows.len(), 38);
    let buf = render(&mut app, 200, 60);
    let screen = text(&buf);
    assert_has(&screen, &["L0 q/k", "L0 v/o", "L5 f1/f2", "pool/cls", "▲"]);
    let half_blocks = buf
        .content()
        .iter()
        .filter(|c| c.symbol() == "▀" && matches!(c.fg, Color::Rgb(..)))
        .count();
    assert!(half_blocks >= 19 * 3, "{half_blocks}");
    // The cursor on the second row of a pair points down.
    app.on_key(key(KeyCode::Down));
    assert_has(&text(&render(&mut app, 200, 60)), &["▼", "L0 k · stage 5"]);
    // At 80x24 the rows scroll with the cursor.
    for _ in 0..37 {
        app.on_key(key(KeyCode::Down));
    }
    let small = text(&render(&mut app, 80, 24));
    assert_has(&small, &["classifier · stage 5", "pool/cls", "↑"]);
}

#[test]
fn render_dashboard_shows_the_device_of_the_start_event() {
    let mut app = App::new();
    let mut start = start_event();
    if let Event::Start { device, .. } = &mut start {
        *device = Some(dps_tui::model::device::DeviceInfo {
            name: "cuda:0".into(),
            gpu: Some("NVIDIA H200".into()),
            memory_total_mib: Some(143_360),
            memory_used_mib: Some(1_536),
        });
    }
    app.apply(&start);
    let screen = text(&render(&mut app, 200, 60));
    assert_has(&screen, &["cuda:0 · NVIDIA H200 · 1.5 / 140.0 GiB"]);
    // A CPU run from an older log (no device in its start event) shows none.
    let mut app = App::new();
    app.apply(&start_event());
    assert!(!text(&render(&mut app, 200, 60)).contains("cuda"));
}

#[test]
fn footer_says_space_resume_while_paused() {
    for (w, h, running, paused) in [
        (200, 60, "space pause", "space resume"),
        (80, 24, "spc pause", "spc resume"),
    ] {
        let mut app = app_at(120);
        let screen = text(&render(&mut app, w, h));
        assert!(screen.contains(running), "{w}x{h}:\n{screen}");
        app.apply(&Event::Paused { step: 120 });
        let screen = text(&render(&mut app, w, h));
        assert!(screen.contains(paused), "{w}x{h}:\n{screen}");
        assert!(!screen.contains(running), "{w}x{h}:\n{screen}");
    }
}
