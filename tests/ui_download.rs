//! A run's setup in the TUI: while its model and data download, the picker (a start from the
//! picker) and the dashboard (a run started from the command line) show the file, bytes done
//! and total, the rate and the time left, until the run's first event.

mod ui_support;

use crossterm::event::KeyCode;
use dps_tui::hub::progress::DownloadStatus;
use dps_tui::ui::app::Screen;
use dps_tui::ui::{App, Outcome};
use std::time::Duration;

use ui_support::*;

/// 34.1 of 90.9 MB after 6.56 s: 5.2 MB/s, 11 s to go.
fn halfway() -> DownloadStatus {
    DownloadStatus {
        file: "model.safetensors".into(),
        done: 34_100_000,
        total: 90_900_000,
        resumed_from: 0,
        elapsed: Duration::from_secs_f64(34.1 / 5.2),
    }
}

const LINE: &str = "downloading model.safetensors  34.1/90.9 MB  5.2 MB/s  ETA 11s";

/// The screen's last row.
fn last_row(screen: &str) -> &str {
    screen.lines().last().unwrap_or_default()
}

#[test]
fn the_picker_shows_the_download_of_the_run_it_starts() {
    let mut app = picker_app();
    app.on_key(key(KeyCode::Enter));
    assert!(app.take_start_request().is_some());
    app.setup_began();
    let screen = text(&render(&mut app, 120, 40));
    assert!(
        last_row(&screen).contains("loading the model and data"),
        "{screen}"
    );
    app.on_download(Some(halfway()));
    let screen = text(&render(&mut app, 120, 40));
    assert!(last_row(&screen).contains(LINE), "{screen}");
    assert_eq!(app.screen, Screen::Picker);
    // A second enter does not start a second run while this one is set up.
    app.on_key(key(KeyCode::Enter));
    assert!(app.take_start_request().is_none());
    // The start fails: the picker says why, and no download is shown any more.
    app.start_failed("cannot reach the Hub. Fix: check the network".into());
    let screen = text(&render(&mut app, 120, 40));
    assert_has(&screen, &["could not start", "Fix: check the network"]);
    assert!(!screen.contains("downloading"), "{screen}");
}

#[test]
fn the_dashboard_shows_the_download_until_the_run_starts() {
    let mut app = App::new();
    app.theme = dps_tui::ui::theme::Theme::colored();
    app.setup_began();
    app.on_download(Some(halfway()));
    let screen = text(&render(&mut app, 160, 40));
    assert!(last_row_but_hints(&screen).contains(LINE), "{screen}");
    assert!(screen.lines().next().unwrap().contains(LINE), "{screen}");
    // The file is done: the next one, a small tokenizer, in kB with no rate yet.
    app.on_download(None);
    app.on_download(Some(DownloadStatus {
        file: "tokenizer.json".into(),
        done: 0,
        total: 466_000,
        resumed_from: 0,
        elapsed: Duration::ZERO,
    }));
    let screen = text(&render(&mut app, 160, 40));
    assert_has(&screen, &["downloading tokenizer.json  0.0/466.0 kB"]);
    assert!(!screen.contains("ETA"), "{screen}");
    // The trainer is up: its progress replaces the download.
    app.begin_run();
    app.apply(&start_event());
    let screen = text(&render(&mut app, 160, 40));
    assert!(!screen.contains("downloading"), "{screen}");
    assert!(last_row_but_hints(&screen).contains("running"), "{screen}");
}

#[test]
fn q_while_the_run_is_set_up_leaves_at_once() {
    let mut app = App::new();
    app.setup_began();
    app.on_download(Some(halfway()));
    app.on_key(chr('q'));
    assert_eq!(app.outcome(), Some(Outcome::Quit));
}

/// The status bar: the row above the key hints.
fn last_row_but_hints(screen: &str) -> &str {
    let lines: Vec<&str> = screen.lines().collect();
    lines[lines.len() - 2]
}
