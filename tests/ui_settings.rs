//! The settings panel: every live control with its value in effect and at most one waiting
//! change, repeated presses folded into the latest, and asking for the value in effect back
//! cancelling the change.

mod ui_support;

use dps_tui::config::{Control, ControlKey, Freeze};
use dps_tui::core::events::{Command, ControlStatus, Event};
use dps_tui::ui::App;

use ui_support::*;

const LABELS: [&str; 5] = ["p (frozen)", "lr (peak)", "update ratio", "scope", "freeze"];

fn start(p: f64) -> Event {
    start_event_on(
        "rte",
        serde_json::json!({
            "p": p, "learning_rate": 2e-5, "update_ratio": 0.05, "batch_size": 16,
            "freeze": "gradient", "selection_scope": "per-matrix",
        }),
    )
}

fn app(p: f64) -> App {
    let mut app = App::from_events(&[start(p)]);
    app.theme = dps_tui::ui::theme::Theme::colored();
    app
}

/// The settings panel's row of each label on a 120×40 screen (the panel's part of the line).
fn rows(app: &mut App) -> Vec<String> {
    let screen = text(&render(app, 120, 40));
    LABELS
        .iter()
        .map(|label| {
            let line = screen
                .lines()
                .find(|l| l.contains(label))
                .unwrap_or_else(|| panic!("no {label:?} row in:\n{screen}"));
            line[line.find(label).unwrap()..].to_string()
        })
        .collect()
}

/// The rows that show a waiting change.
fn pending_rows(app: &mut App) -> Vec<String> {
    rows(app).into_iter().filter(|r| r.contains('→')).collect()
}

fn press(app: &mut App, c: char) -> Vec<Command> {
    app.on_key(chr(c))
}

fn answer(app: &mut App, step: usize, control: Control) {
    app.apply(&Event::Control {
        step,
        key: control.key(),
        value: control.value_json(),
        status: ControlStatus::Pending,
        message: None,
    });
}

#[test]
fn repeated_presses_show_one_pending_line_with_the_latest_value() {
    let mut app = app(0.3);
    assert!(pending_rows(&mut app).is_empty());
    let mut sent = Vec::new();
    for _ in 0..3 {
        sent.extend(press(&mut app, '+'));
    }
    assert_eq!(
        sent,
        [0.35, 0.4, 0.45].map(|p| Command::Control(Control::P(p)))
    );
    let pending = pending_rows(&mut app);
    assert_eq!(pending.len(), 1, "{pending:?}");
    assert!(pending[0].starts_with("p (frozen)"), "{pending:?}");
    assert!(pending[0].contains("→ 0.45"), "{pending:?}");
    // The trainer answers each press in turn: the line keeps the latest request.
    for (i, p) in [0.35, 0.4, 0.45].into_iter().enumerate() {
        answer(&mut app, 10 + i, Control::P(p));
        let pending = pending_rows(&mut app);
        assert_eq!(pending.len(), 1, "{pending:?}");
        assert!(pending[0].contains("→ 0.45"), "after {p}: {pending:?}");
    }
    assert!(!pending_rows(&mut app)[0].contains("sent"), "answered");
    assert!(app.requested.is_empty());
}

#[test]
fn going_back_to_the_value_in_effect_cancels_the_change() {
    let mut app = app(0.3);
    for _ in 0..2 {
        press(&mut app, '+');
    }
    answer(&mut app, 5, Control::P(0.35));
    let mut sent = Vec::new();
    for _ in 0..2 {
        sent.extend(press(&mut app, '-'));
    }
    assert_eq!(sent, [0.35, 0.3].map(|p| Command::Control(Control::P(p))));
    assert!(pending_rows(&mut app).is_empty(), "{:?}", rows(&mut app));
    // The trainer still answers the requests it had; once it holds 0.3 again nothing waits.
    answer(&mut app, 6, Control::P(0.4));
    answer(&mut app, 7, Control::P(0.35));
    answer(&mut app, 8, Control::P(0.3));
    assert!(pending_rows(&mut app).is_empty(), "{:?}", rows(&mut app));
    assert!(app.run.pending.is_empty());
    assert!(app.requested.is_empty());
    assert_eq!(app.run.hyper.p, Some(0.3));
}

#[test]
fn a_press_that_changes_nothing_sends_nothing() {
    let mut app = app(0.0);
    assert!(press(&mut app, '-').is_empty(), "p is already 0");
    assert!(pending_rows(&mut app).is_empty());
    assert!(app.requested.is_empty());
}

#[test]
fn freeze_and_scope_rows_show_the_value_in_effect_and_the_change() {
    let mut app = app(0.3);
    let r = rows(&mut app);
    assert!(r[3].contains("per-matrix"), "{r:?}");
    assert!(r[4].contains("gradient"), "{r:?}");
    assert_eq!(
        press(&mut app, 'f'),
        [Command::Control(Control::Freeze(Freeze::Strict))]
    );
    press(&mut app, 'g');
    let pending = pending_rows(&mut app);
    assert_eq!(pending.len(), 2, "{pending:?}");
    assert!(pending[0].contains("per-matrix → global"), "{pending:?}");
    assert!(pending[1].contains("gradient → strict"), "{pending:?}");
    // Toggling back asks for the value in effect: no change waits.
    press(&mut app, 'f');
    answer(&mut app, 3, Control::Freeze(Freeze::Strict));
    answer(&mut app, 3, Control::Freeze(Freeze::Gradient));
    let pending = pending_rows(&mut app);
    assert_eq!(pending.len(), 1, "{pending:?}");
    assert!(pending[0].starts_with("scope"), "{pending:?}");
    // Applied, the new value is the one in effect.
    app.apply(&Event::Control {
        step: 20,
        key: ControlKey::SelectionScope,
        value: serde_json::json!("global"),
        status: ControlStatus::Applied,
        message: None,
    });
    let r = rows(&mut app);
    assert!(r[3].contains("global") && !r[3].contains('→'), "{r:?}");
}

#[test]
fn the_narrow_settings_line_shows_every_control() {
    let mut app = app(0.3);
    press(&mut app, 'f');
    let screen = text(&render(&mut app, 80, 24));
    assert_has(
        &screen,
        &[
            " p 0.3",
            " lr 2e-5",
            " ur 0.05",
            "scope per-matrix",
            "freeze gradient→strict",
        ],
    );
}
