//! The TUI says how a run ended in the words of the one status rule that `runs`, `watch`,
//! `report` and `sweep --status` use ([`RunState`]): a `done` event with `stopped_early: true`
//! is `stopped early`, a trainer gone without `done` is `crashed`, live and in replay.

mod ui_support;

use dps_tui::core::events::Event;
use dps_tui::runs::RunState;
use dps_tui::ui::widgets::status_bar;
use dps_tui::ui::App;

use ui_support::*;

fn done(step: usize, stopped_early: bool) -> Event {
    Event::Done {
        step,
        metrics: metrics(0.6),
        stopped_early,
    }
}

/// The status bar: the row above the key hints.
fn status_row(app: &mut App) -> String {
    let screen = text(&render(app, 160, 40));
    let lines: Vec<&str> = screen.lines().collect();
    lines[lines.len() - 2].to_string()
}

#[test]
fn a_run_stopped_early_shows_as_stopped_early_not_finished() {
    let mut app = app_at(120);
    app.apply(&done(120, true));
    assert_eq!(app.run.state(), Some(RunState::Stopped));
    assert_eq!(
        status_bar::state_word(&app.run, false),
        RunState::Stopped.word()
    );
    let screen = text(&render(&mut app, 160, 40));
    assert_has(&screen, &["stopped early at step 120", "stopped early: "]);
    assert!(!screen.contains("finished"), "{screen}");
    assert!(status_row(&mut app).contains("stopped early"));
}

#[test]
fn a_finished_run_shows_as_finished() {
    let mut app = app_at(TOTAL);
    app.apply(&done(TOTAL, false));
    assert_eq!(app.run.state(), Some(RunState::Finished));
    let screen = text(&render(&mut app, 160, 40));
    assert_has(&screen, &["finished at step", "finished: "]);
    assert!(!screen.contains("stopped early"), "{screen}");
    assert!(status_row(&mut app).contains(RunState::Finished.word()));
}

#[test]
fn a_trainer_gone_without_done_is_crashed() {
    let mut app = app_at(30);
    assert_eq!(app.run.state(), Some(RunState::Running));
    app.on_disconnect();
    assert_eq!(app.run.state(), Some(RunState::Crashed));
    let row = status_row(&mut app);
    assert!(row.contains(RunState::Crashed.word()), "{row}");
    assert!(!row.contains("error"), "{row}");
}

#[test]
fn replay_ends_in_the_rules_word() {
    // A log ending in a `done` that says stopped early.
    let mut events = stream(120);
    events.push(done(120, true));
    let mut app = App::replay_of(&events, false);
    assert!(status_row(&mut app).contains("stopped early"));
    // Earlier in that log the run was running.
    let mut mid = App::replay_at(&events, 60, Some(&app));
    assert_eq!(mid.run.state(), Some(RunState::Running));
    assert!(status_row(&mut mid).contains("running"));

    // A crashed run's log: no `done`, its trainer gone. Its end reads crashed, its middle
    // running.
    let events = stream(80);
    let mut app = App::replay_of(&events, true);
    assert_eq!(app.run.state(), Some(RunState::Crashed));
    assert!(status_row(&mut app).contains("crashed"));
    let mid = App::replay_at(&events, 40, Some(&app));
    assert_eq!(mid.run.state(), Some(RunState::Running));
    let mut back = App::replay_at(&events, events.len(), Some(&mid));
    assert!(status_row(&mut back).contains("crashed"));
    // A live run's log (not crashed) ends running.
    let app = App::replay_of(&events, false);
    assert_eq!(app.run.state(), Some(RunState::Running));
}
