//! The help overlays against a `TestBackend`: generated from the key table, listing only the
//! keys of their screen, scrolling, and fitting on an 80×24 terminal; and the replay viewer's
//! keys (stepping with the heatmap focused, training keys answered, its first frame, its
//! elapsed time).

mod ui_support;

use crossterm::event::{KeyCode, KeyModifiers};
use dps_tui::core::events::Event;
use dps_tui::ui::compare::{CompareRun, CompareState};
use dps_tui::ui::keys::{Context, Section, BINDINGS};
use dps_tui::ui::view::{Focus, Overlay};
use dps_tui::ui::App;
use ratatui::backend::TestBackend;
use ratatui::Terminal;
use std::collections::BTreeMap;

use ui_support::*;

/// Words of `s` joined by single spaces (a description wrapped over rows reads the same).
fn words(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The inside of the help popup: each row between its `║` borders (the columns of its `╔` and
/// `╗` corners), trimmed.
fn popup_rows(screen: &str) -> Vec<String> {
    let lines: Vec<Vec<char>> = screen.lines().map(|l| l.chars().collect()).collect();
    let Some((top, a)) = lines
        .iter()
        .enumerate()
        .find_map(|(i, l)| Some((i, l.iter().position(|c| *c == '╔')?)))
    else {
        return Vec::new();
    };
    let b = lines[top].iter().position(|c| *c == '╗').unwrap();
    lines[top + 1..]
        .iter()
        .take_while(|l| l.get(a) == Some(&'║'))
        .map(|l| l[a + 1..b].iter().collect::<String>().trim().to_string())
        .collect()
}

/// Scroll the help from the top to the bottom with ↓, one frame a press, and return every
/// row seen in order (each new row once) and the frames drawn.
fn read_whole_help(mut frame: impl FnMut(Option<KeyCode>) -> String) -> (String, Vec<String>) {
    let mut frames = vec![frame(None)];
    for _ in 0..200 {
        let next = frame(Some(KeyCode::Down));
        if next == *frames.last().unwrap() {
            break;
        }
        frames.push(next);
    }
    let mut rows: Vec<String> = Vec::new();
    for f in &frames {
        let r = popup_rows(f);
        // The frame scrolled one row: its last row is new.
        if rows.is_empty() {
            rows.extend(r);
        } else if let Some(last) = r.last() {
            rows.push(last.clone());
        }
    }
    (words(&rows.join(" ")), frames)
}

/// Every row the help of `ctx` must show, as words.
fn expected(ctx: Context) -> Vec<String> {
    let mut out = Vec::new();
    for (section, rows) in ctx.rows() {
        out.push(section.title().to_string());
        for (label, what) in rows {
            out.push(words(&format!("{label} {what}")));
        }
    }
    out
}

fn live_help(w: u16, h: u16) -> (String, Vec<String>) {
    let mut app = app_at(120);
    app.on_key(chr('?'));
    read_whole_help(|k| {
        if let Some(k) = k {
            app.on_key(key(k));
        }
        text(&render(&mut app, w, h))
    })
}

#[test]
fn the_live_help_fits_80x24_and_scrolls_to_every_key() {
    let (all, frames) = live_help(80, 24);
    assert!(
        frames.len() > 1,
        "the help is taller than 24 rows and scrolls"
    );
    for want in expected(Context::Live) {
        assert!(all.contains(&want), "{want:?} never shows:\n{all}");
    }
    for needle in ["mouse", "this help", "This help", "? this help"] {
        assert!(all.contains(needle), "{needle:?} never shows:\n{all}");
    }
    for f in &frames {
        assert_eq!(f.lines().count(), 24);
        assert!(
            f.contains(" of ") || f.contains("keys"),
            "a frame without the popup:\n{f}"
        );
    }
    // The position: at the top it says there is more below, at the bottom more above.
    let first = &frames[0];
    assert!(first.contains("↓ 1–"), "{first}");
    let last = frames.last().unwrap();
    assert!(last.contains("↑ ") && !last.contains("↓ 1–"), "{last}");
    // End and home jump; esc closes.
    let mut app = app_at(120);
    app.on_key(chr('?'));
    render(&mut app, 80, 24);
    app.on_key(key(KeyCode::End));
    assert_eq!(&text(&render(&mut app, 80, 24)), last);
    app.on_key(key(KeyCode::Home));
    assert_eq!(&text(&render(&mut app, 80, 24)), first);
    app.on_key(key(KeyCode::PageDown));
    assert_ne!(&text(&render(&mut app, 80, 24)), first);
    app.on_key(key(KeyCode::Esc));
    assert_eq!(app.view.overlay, Overlay::None);
}

#[test]
fn a_help_that_fits_does_not_scroll() {
    let (_, frames) = live_help(200, 60);
    assert_eq!(frames.len(), 1, "{}", frames[0]);
    assert!(!frames[0].contains(" of "), "{}", frames[0]);
}

#[test]
fn live_and_replay_help_list_only_their_own_keys() {
    let (live, _) = live_help(100, 30);
    let replay_only = |help: &str| {
        BINDINGS
            .iter()
            .filter(|b| b.section == Section::Replay)
            .any(|b| help.contains(&words(b.help)))
    };
    assert!(!replay_only(&live), "replay keys in the live help:\n{live}");

    let events = stream(120);
    let mut app = App::replay_at(&events, 60, None);
    app.on_key(chr('?'));
    let (replay, _) = read_whole_help(|k| {
        if let Some(k) = k {
            app.on_key(key(k));
        }
        text(&render(&mut app, 100, 30))
    });
    assert!(replay_only(&replay), "{replay}");
    for want in expected(Context::Replay) {
        assert!(replay.contains(&want), "{want:?} never shows:\n{replay}");
    }
    for b in BINDINGS.iter().filter(|b| b.section == Section::Training) {
        assert!(
            !replay.contains(&words(b.help)),
            "training key {} in the replay's help:\n{replay}",
            b.label
        );
    }
    assert!(
        !replay.contains("log: scroll a page"),
        "pgup/pgdn jump in a replay:\n{replay}"
    );
}

#[test]
fn the_compare_help_comes_from_the_key_table() {
    let run = |name: &str| {
        let mut events = stream(60);
        events.push(Event::Done {
            step: 60,
            metrics: metrics(0.6),
            stopped_early: false,
        });
        CompareRun::from_events(
            name,
            std::path::Path::new(name),
            &events,
            BTreeMap::new(),
            None,
        )
    };
    let mut st = CompareState::new(vec![run("a"), run("b")]);
    st.on_key(chr('?'));
    assert!(st.help);
    let mut term = Terminal::new(TestBackend::new(80, 24)).unwrap();
    let (all, _) = read_whole_help(|k| {
        if let Some(k) = k {
            st.on_key(key(k));
        }
        term.draw(|f| {
            st.area = f.area();
            dps_tui::ui::screens::compare::draw(f, &st)
        })
        .unwrap();
        text(term.backend().buffer())
    });
    for want in expected(Context::Compare) {
        assert!(all.contains(&want), "{want:?} never shows:\n{all}");
    }
    st.on_key(chr('q'));
    assert!(!st.help && !st.should_quit(), "q closes the help first");
}

// ---------------------------------------------------------------- the replay's keys

#[test]
fn replay_steps_with_comma_and_period_whatever_has_the_focus() {
    let events = stream(120);
    let mut app = App::replay_at(&events, 60, None);
    app.view.focus = Focus::Heatmap;
    app.on_key(chr('.'));
    assert_eq!(app.replay.unwrap().cursor, 61, ". steps forward");
    app.on_key(chr(','));
    app.on_key(chr(','));
    assert_eq!(app.replay.unwrap().cursor, 59, ", steps back");
    // ← / → belong to the heatmap cursor while it has the focus, as the help says.
    let app = App::replay_at(&events, 100, Some(&app));
    let mut app = app;
    let col = app.heat_col();
    app.on_key(key(KeyCode::Left));
    assert_eq!(app.replay.unwrap().cursor, 100);
    assert_ne!(app.heat_col(), col, "← moved the heatmap cursor");
    app.view.focus = Focus::Loss;
    app.on_key(key(KeyCode::Right));
    assert_eq!(app.replay.unwrap().cursor, 101, "→ steps elsewhere");
    let shift = crossterm::event::KeyEvent::new(KeyCode::Right, KeyModifiers::SHIFT);
    app.view.focus = Focus::Heatmap;
    app.on_key(shift);
    assert!(app.replay.unwrap().cursor > 101, "shift → jumps even there");
}

#[test]
fn training_keys_in_a_replay_say_they_are_off() {
    let events = stream(120);
    let mut app = App::replay_at(&events, 100, None);
    let before = text(&render(&mut app, 120, 40));
    assert!(!before.contains("training controls are off"), "{before}");
    for c in [' ', '+', '-', '[', ']', 'u', 'f', 'g', 'e', 'c'] {
        assert!(app.on_key(chr(c)).is_empty());
        let screen = text(&render(&mut app, 120, 40));
        assert_has(&screen, &["replay: training controls are off"]);
    }
    // The next key clears it; view keys work as ever.
    app.on_key(chr('l'));
    assert!(app.view.log_y);
    let screen = text(&render(&mut app, 120, 40));
    assert!(!screen.contains("training controls are off"), "{screen}");
    app.on_key(chr('q'));
    assert!(app.outcome().is_some(), "q leaves the replay");
}

#[test]
fn a_replay_at_its_start_does_not_wait_for_a_trainer() {
    let events = stream(40);
    let mut app = App::replay_at(&events, 0, None);
    let screen = text(&render(&mut app, 80, 24));
    // Nothing waits in a replay: not the title, the loss chart or the status bar.
    assert!(!screen.contains("waiting"), "{screen}");
    assert_has(
        &screen,
        &[
            "replay: at the start · . or → steps",
            "replay 0/",
            "no steps yet at this point",
        ],
    );
}

/// A recording whose steps carry their running time: 100 steps over 180 s, then a resumed
/// part of 60 s more.
fn timed_stream() -> Vec<Event> {
    let mut events = stream(100);
    let mut n = 0;
    for e in &mut events {
        if let Event::Step {
            step, run_seconds, ..
        } = e
        {
            *run_seconds = Some(*step as f64 * 1.8);
            n += 1;
        }
    }
    assert_eq!(n, 100);
    events.push(start_event());
    for step in 1..=20 {
        let mut s = events
            .iter()
            .find(|e| matches!(e, Event::Step { .. }))
            .unwrap()
            .clone();
        if let Event::Step {
            step: at,
            run_seconds,
            ..
        } = &mut s
        {
            *at = 100 + step;
            *run_seconds = Some(step as f64 * 3.0);
        }
        events.push(s);
    }
    events
}

#[test]
fn replay_shows_the_runs_own_running_time() {
    let events = timed_stream();
    let at_step = |n: usize| {
        events
            .iter()
            .position(|e| matches!(e, Event::Step { step, .. } if *step == n))
            .unwrap()
            + 1
    };
    let mut app = App::replay_at(&events, at_step(100), None);
    let screen = text(&render(&mut app, 160, 40));
    assert_has(&screen, &["elapsed 3m00s"]);
    let mut app = App::replay_at(&events, at_step(50), None);
    assert_has(&text(&render(&mut app, 160, 40)), &["elapsed 1m30s"]);
    // The resumed part adds its own running time to the first part's.
    let mut app = App::replay_at(&events, events.len(), None);
    assert_has(&text(&render(&mut app, 160, 40)), &["elapsed 4m00s"]);
    assert_eq!(
        dps_tui::ui::app::running_time(&events).map(|d| d.as_secs()),
        Some(240)
    );
    assert_eq!(dps_tui::ui::app::running_time(&stream(50)), None);
}

// ---------------------------------------------------------------- the guide

/// The guide's key tables are the key table's: each screen's between `<!-- keys:NAME -->` and
/// `<!-- /keys -->`. `BLESS=1 cargo test --test ui_help` writes them anew.
#[test]
fn the_guides_key_tables_are_the_key_table() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/guide.md");
    let mut guide = std::fs::read_to_string(&path).unwrap();
    let mut stale = Vec::new();
    for ctx in Context::ALL {
        let open = format!("<!-- keys:{} -->\n", ctx.name());
        let at = guide
            .find(&open)
            .unwrap_or_else(|| panic!("docs/guide.md has no {open:?} marker"))
            + open.len();
        let end = at
            + guide[at..]
                .find("<!-- /keys -->")
                .expect("a closing marker");
        let want = ctx.markdown();
        if guide[at..end] != want {
            stale.push(ctx.name());
            guide.replace_range(at..end, &want);
        }
    }
    if std::env::var_os("BLESS").is_some() {
        std::fs::write(&path, guide).unwrap();
        return;
    }
    assert!(
        stale.is_empty(),
        "docs/guide.md's key tables {stale:?} differ from src/ui/keys. Fix: BLESS=1 cargo test --test ui_help"
    );
}
