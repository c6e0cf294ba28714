//! Long messages on the dashboard wrap instead of being cut at the terminal's edge: the error
//! banner (with a details popup when even a third of the screen is too little), the bottom line
//! of the event log, and eval lines that lead with the training task's main metric.

mod ui_support;

use crossterm::event::KeyCode;
use dps_tui::core::events::{Event, Metrics};
use dps_tui::ui::screens::dashboard::layout_of;
use dps_tui::ui::theme::Theme;
use dps_tui::ui::view::Overlay;
use dps_tui::ui::App;
use ratatui::buffer::Buffer;
use ratatui::layout::{Margin, Rect};

use ui_support::*;

/// A message of `len` characters: a realistic failure, filler words, then `Fix: do X`.
fn long_message(len: usize) -> String {
    const FIX: &str = " Fix: do X";
    let body = len - FIX.len();
    let mut s = String::from(
        "checkpoint failed: /runs/rte-dps/checkpoints/step-120/model.safetensors: \
         Not a directory (os error 20); no earlier checkpoint exists",
    );
    let words = [
        "while",
        "writing",
        "the",
        "optimizer",
        "state",
        "to",
        "disk",
    ];
    for w in words.iter().cycle() {
        if s.chars().count() + 1 + w.len() > body {
            break;
        }
        s.push(' ');
        s.push_str(w);
    }
    while s.chars().count() < body {
        s.push('.');
    }
    s.push_str(FIX);
    s
}

/// The text of `area` on `buf`, its rows trimmed and joined by single spaces: wrapped text
/// reads as one line.
fn region(buf: &Buffer, area: Rect) -> String {
    (area.top()..area.bottom())
        .map(|y| {
            (area.left()..area.right())
                .map(|x| buf[(x, y)].symbol())
                .collect::<String>()
                .trim()
                .to_string()
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The text inside the popup's double border, as [`region`] reads it.
fn popup_text(screen: &str) -> String {
    screen
        .lines()
        .filter_map(|l| {
            let a = l.find('║')?;
            let b = l.rfind('║')?;
            (b > a).then(|| l[a + '║'.len_utf8()..b].trim().to_string())
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn squeeze(s: &str) -> String {
    s.split_whitespace().collect()
}

fn with_error(message: &str) -> App {
    let mut app = app_at(120);
    app.apply(&Event::Error {
        step: 120,
        message: message.into(),
    });
    app.apply(&Event::Paused { step: 120 });
    app
}

#[test]
fn a_long_error_banner_wraps_whole_at_80x24() {
    let msg = long_message(300);
    assert_eq!(msg.chars().count(), 300);
    let mut app = with_error(&msg);
    let buf = render(&mut app, 80, 24);
    let screen = text(&buf);
    let banner = layout_of(&app).banner.expect("a banner");
    assert!(banner.height > 1, "{banner:?}");
    let all = region(&buf, banner);
    assert!(all.contains("Fix: do X"), "the fix is cut:\n{screen}");
    assert!(
        squeeze(&all).contains(&squeeze(&msg)),
        "part of the message is lost:\n{screen}"
    );
    assert!(!all.contains("enter: details"), "{screen}");
    for line in screen.lines() {
        assert_eq!(line.chars().count(), 80);
    }
    // The dashboard still draws below the banner.
    assert_has(&screen, &["step 120/400"]);
    assert!(all.contains("lower the lr with ["), "{screen}");
}

#[test]
fn a_banner_longer_than_a_third_of_the_screen_opens_in_a_popup() {
    let msg = long_message(1000);
    let mut app = with_error(&msg);
    let buf = render(&mut app, 80, 24);
    let screen = text(&buf);
    // At most a third of the height, ending in the way to the rest; the status line stays.
    let banner = layout_of(&app).banner.expect("a banner");
    assert_eq!(banner.height, 8);
    let all = region(&buf, banner);
    assert!(all.ends_with("… (enter: details)"), "{screen}");
    assert!(!all.contains("Fix: do X"), "{screen}");
    assert_has(&screen, &["step 120/400"]);
    app.on_key(key(KeyCode::Enter));
    assert_eq!(app.view.overlay, Overlay::Details);
    let screen = text(&render(&mut app, 80, 24));
    let all = popup_text(&screen);
    assert!(
        all.contains("Fix: do X"),
        "the popup cuts the fix:\n{screen}"
    );
    assert!(squeeze(&all).contains(&squeeze(&msg)), "{screen}");
    app.on_key(key(KeyCode::Esc));
    assert_eq!(app.view.overlay, Overlay::None);
    // A banner that fits leaves enter to the heatmap.
    let mut app = with_error("short");
    render(&mut app, 80, 24);
    app.on_key(key(KeyCode::Enter));
    assert_eq!(app.view.overlay, Overlay::None);
}

#[test]
fn the_newest_log_line_wraps_whole() {
    let msg = long_message(300);
    let mut app = app_at(120);
    app.apply(&Event::Warning {
        step: 120,
        message: msg.clone(),
    });
    // 80×24 has no event log; 120×40 has a narrow one.
    let buf = render(&mut app, 120, 40);
    let screen = text(&buf);
    let log = layout_of(&app).log.expect("an event log at 120×40");
    let all = region(&buf, log.inner(Margin::new(1, 1)));
    assert!(all.contains("warn"), "{screen}");
    assert!(all.contains("Fix: do X"), "{screen}");
    assert!(squeeze(&all).contains(&squeeze(&msg)), "{screen}");
    // Once older, it takes one row, cut with `…`.
    app.apply(&Event::Checkpoint {
        step: 120,
        path: "/runs/rte/ckpt-120".into(),
    });
    let buf = render(&mut app, 120, 40);
    let screen = text(&buf);
    let all = region(&buf, log.inner(Margin::new(1, 1)));
    assert!(!all.contains("Fix: do X"), "{screen}");
    assert!(screen.contains("checkpoint failed: /runs"), "{screen}");
    assert!(screen.contains('…'), "{screen}");
}

/// A CoLA run (main metric `mcc`, which sorts after `accuracy` and `hans/…`) evaluating on
/// eval tasks too: an eval event with 7 metrics, followed by a checkpoint line.
fn cola_with_eval_tasks() -> App {
    let mut events = retargeted(stream(120), "cola", &["hans", "sick"]);
    let metrics: Metrics = [
        ("accuracy", 0.8),
        ("hans/accuracy", 0.5),
        ("hans/loss", 0.7),
        ("loss", 0.4),
        ("mcc", 0.5123),
        ("sick/accuracy", 0.61),
        ("sick/loss", 0.9),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), *v))
    .collect();
    events.push(Event::Eval { step: 120, metrics });
    events.push(Event::Checkpoint {
        step: 120,
        path: "/runs/cola/ckpt-120".into(),
    });
    let mut app = App::from_events(&events);
    app.theme = Theme::colored();
    app
}

#[test]
fn an_eval_line_with_seven_metrics_leads_with_the_main_metric() {
    let mut app = cola_with_eval_tasks();
    assert_eq!(app.run.task, "cola");
    let line = &app.run.log.iter().rev().nth(1).unwrap().text;
    assert!(line.starts_with("eval: mcc 0.5123 · "), "{line}");
    for size in [(120, 40), (80, 40)] {
        let screen = text(&render(&mut app, size.0, size.1));
        let row = screen
            .lines()
            .find(|l| l.contains("eval: mcc"))
            .unwrap_or_else(|| panic!("no eval line at {size:?}:\n{screen}"));
        assert!(row.contains("mcc 0.5123"), "{row}");
        assert!(screen.contains("ckpt"), "{screen}");
    }
}
