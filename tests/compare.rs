//! `dps-tui compare`: the state built from runs, the screen rendered into a `TestBackend` at
//! fixed states, and `compare --json` on real demo runs.

mod common;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use dps_tui::core::events::{Event, Metrics, EVENT_SCHEMA_VERSION};
use dps_tui::runs::summary::RunState;
use dps_tui::ui::compare::{CompareRun, CompareState};
use dps_tui::ui::screens::compare::{draw, DIFF_MARK};
use dps_tui::ui::theme::Theme;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::style::{Color, Modifier};
use ratatui::Terminal;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

// ---------------------------------------------------------------- fixtures

fn metrics(acc: f64, f1: f64) -> Metrics {
    let mut m = Metrics::new();
    m.insert("accuracy".into(), acc);
    m.insert("f1".into(), f1);
    m.insert("loss".into(), 1.0 - acc);
    m
}

/// A run of `total` steps with loss `scale · exp(-step/50)`, evaluated every 20 steps with
/// accuracy `acc(step)`; it stops at `upto` and ends with a `done` event when `upto == total`.
fn events(
    method: &str,
    total: usize,
    upto: usize,
    scale: f64,
    acc: impl Fn(usize) -> f64,
) -> Vec<Event> {
    let mut ev = vec![Event::Start {
        schema: EVENT_SCHEMA_VERSION,
        task: "rte".into(),
        method: method.into(),
        total_steps: total,
        steps_per_epoch: 50,
        num_train: 800,
        num_dev: 100,
        config: serde_json::json!({"method": method}),
        start_step: 0,
        device: None,
    }];
    for step in 1..=upto {
        ev.push(Event::Step {
            step,
            epoch: step as f64 / 50.0,
            loss: scale * (-(step as f64) / 50.0).exp(),
            lr: 1e-3,
            examples_per_sec: 100.0,
            grad_norm: None,
            step_seconds: Some(0.5),
            run_seconds: None,
        });
        if step % 20 == 0 {
            ev.push(Event::Eval {
                step,
                metrics: metrics(acc(step), acc(step) - 0.125),
            });
        }
    }
    if upto == total {
        ev.push(Event::Done {
            step: total,
            metrics: metrics(acc(total), acc(total) - 0.125),
            stopped_early: false,
        });
    }
    ev
}

fn config(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Vanilla finished at step 100 (accuracy peaks at 0.75 at step 80, ends at 0.6875); dps-dense
/// crashed at step 60 (best 0.625 at step 60). Values are exact in binary.
fn state() -> CompareState {
    let a = CompareRun::from_events(
        "20260101T000000Z-rte-vanilla",
        Path::new("runs/a"),
        &events("vanilla", 100, 100, 1.0, |s| match s {
            20 => 0.5,
            40 => 0.5625,
            60 => 0.625,
            80 => 0.75,
            _ => 0.6875,
        }),
        config(&[
            ("method", "vanilla"),
            ("seed", "42"),
            ("learning_rate", "2e-5"),
            ("p", "0.3"),
        ]),
        None,
    );
    let b = CompareRun::from_events(
        "20260101T000100Z-rte-dps-dense",
        Path::new("runs/b"),
        &events("dps-dense", 100, 60, 0.8, |s| 0.5 + s as f64 / 480.0),
        config(&[
            ("method", "dps-dense"),
            ("seed", "42"),
            ("learning_rate", "2e-5"),
            ("p", "0.1"),
        ]),
        None,
    );
    let mut st = CompareState::new(vec![a, b]);
    st.theme = Theme::colored();
    st
}

fn render(st: &CompareState, w: u16, h: u16) -> Buffer {
    let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
    term.draw(|f| draw(f, st)).unwrap();
    term.backend().buffer().clone()
}

fn text(buf: &Buffer) -> String {
    let a = buf.area;
    let mut s = String::new();
    for y in 0..a.height {
        for x in 0..a.width {
            s.push_str(buf[(x, y)].symbol());
        }
        s.push('\n');
    }
    s
}

fn assert_has(screen: &str, needles: &[&str]) {
    for n in needles {
        assert!(screen.contains(n), "missing {n:?} in:\n{screen}");
    }
}

/// The (x, y) of the first occurrence of `needle` in the buffer's text.
fn find(buf: &Buffer, needle: &str) -> Option<(u16, u16)> {
    for y in 0..buf.area.height {
        let line: Vec<String> = (0..buf.area.width)
            .map(|x| buf[(x, y)].symbol().to_string())
            .collect();
        let joined: String = line.concat();
        if let Some(byte) = joined.find(needle) {
            // Map the byte offset back to a column.
            let mut acc = 0;
            for (x, sym) in line.iter().enumerate() {
                if acc == byte {
                    return Some((x as u16, y));
                }
                acc += sym.len();
            }
        }
    }
    None
}

/// The column where `needle` starts in row `y`.
fn find_in_row(buf: &Buffer, y: u16, needle: &str) -> Option<u16> {
    let line: Vec<String> = (0..buf.area.width)
        .map(|x| buf[(x, y)].symbol().to_string())
        .collect();
    let byte = line.concat().find(needle)?;
    let mut acc = 0;
    for (x, sym) in line.iter().enumerate() {
        if acc == byte {
            return Some(x as u16);
        }
        acc += sym.len();
    }
    None
}

fn chr(c: char) -> KeyEvent {
    KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)
}

fn key(c: KeyCode) -> KeyEvent {
    KeyEvent::new(c, KeyModifiers::NONE)
}

// ---------------------------------------------------------------- state

#[test]
fn state_marks_differing_keys_and_metrics() {
    let st = state();
    assert_eq!(st.differing_keys(), vec!["method", "p"]);
    assert_eq!(st.metrics, vec!["accuracy", "f1", "loss"]);
    let a = &st.runs[0];
    let b = &st.runs[1];
    assert_eq!(a.summary.status, RunState::Finished);
    assert_eq!(b.summary.status, RunState::Crashed);
    assert_eq!(a.summary.best("accuracy"), Some((0.75, 80)));
    assert_eq!(a.summary.final_metrics["accuracy"], 0.6875);
    assert_eq!(b.summary.best("accuracy"), Some((0.625, 60)));
    // Loss is lower-is-better.
    assert_eq!(a.summary.best("loss").unwrap().1, 80);
    let json = st.to_json();
    assert_eq!(json["differing_keys"], serde_json::json!(["method", "p"]));
    let ra = &json["runs"][0];
    assert_eq!(ra["status"], "finished");
    assert_eq!(ra["step"], 100);
    assert_eq!(ra["best"]["metric"], "accuracy");
    assert_eq!(ra["best"]["value"], 0.75);
    assert_eq!(ra["best"]["step"], 80);
    assert_eq!(ra["train_seconds"], 50.0);
    assert_eq!(json["runs"][1]["status"], "crashed");
    assert_eq!(json["runs"][1]["step"], 60);
    assert_eq!(json["runs"][1]["config"]["p"], "0.1");
    // A run with no `done` event whose log was just written is running.
    let live = CompareRun::from_events(
        "live",
        Path::new("runs/live"),
        &events("vanilla", 100, 10, 1.0, |_| 0.5),
        BTreeMap::new(),
        Some(Duration::ZERO),
    );
    assert_eq!(live.summary.status, RunState::Running);
    assert_eq!(
        live.summary.config.get("method").map(String::as_str),
        Some("vanilla"),
        "without config.yaml the start event's configuration is used"
    );
}

/// The live controls show the values each run ended with, not those it started with: a value
/// changed while training reads `start→end`, in the table and in `--json`; a change still
/// pending at the end, or refused, leaves the value as it was.
#[test]
fn live_controls_show_the_values_runs_ended_with() {
    use dps_tui::config::{Control, Freeze};
    use dps_tui::core::events::ControlOutcome;
    let with_config = |method: &str, config: serde_json::Value| {
        let mut ev = events(method, 100, 100, 1.0, |_| 0.5);
        if let Event::Start { config: c, .. } = &mut ev[0] {
            *c = config;
        }
        ev
    };
    let cfg = serde_json::json!({"method": "dps-dense", "p": 0.3, "learning_rate": 2e-5, "freeze": "gradient"});
    let mut changed = with_config("dps-dense", cfg.clone());
    changed.insert(
        5,
        Event::control(4, &Control::P(0.5), ControlOutcome::applied(None)),
    );
    changed.insert(
        6,
        Event::control(
            5,
            &Control::Freeze(Freeze::Strict),
            ControlOutcome::applied(None),
        ),
    );
    changed.insert(
        7,
        Event::control(
            5,
            &Control::LearningRate(1e-4),
            ControlOutcome::rejected("out of range"),
        ),
    );
    let same = with_config("dps-dense", cfg.clone());
    let yaml = config(&[
        ("method", "dps-dense"),
        ("p", "0.3"),
        ("learning_rate", "2e-5"),
        ("freeze", "gradient"),
    ]);
    let runs = vec![
        CompareRun::from_events("changed", Path::new("runs/c"), &changed, yaml.clone(), None),
        CompareRun::from_events("same", Path::new("runs/s"), &same, yaml, None),
    ];
    let st = CompareState::new(runs);
    assert_eq!(st.differing_keys(), vec!["freeze", "p"]);
    let row = |k: &str| st.rows.iter().find(|r| r.key == k).unwrap().values.clone();
    assert_eq!(row("p"), [Some("0.3→0.5".into()), Some("0.3".into())]);
    assert_eq!(
        row("freeze"),
        [Some("gradient→strict".into()), Some("gradient".into())]
    );
    assert_eq!(
        row("learning_rate"),
        [Some("2e-5".into()), Some("2e-5".into())]
    );
    let screen = text(&render(&st, 160, 48));
    assert_has(&screen, &["≠ p", "0.3→0.5", "gradient→strict"]);
    let json = st.to_json();
    assert_eq!(json["runs"][0]["live"]["p"]["start"], 0.3);
    assert_eq!(json["runs"][0]["live"]["p"]["end"], 0.5);
    assert_eq!(json["runs"][1]["live"]["freeze"]["end"], "gradient");
}

#[test]
fn keys_change_the_view_and_quit() {
    let mut st = state();
    st.on_key(chr('l'));
    assert!(st.log_y);
    st.on_key(chr('s'));
    assert_eq!(st.smoothing(), 0.9);
    st.on_key(key(KeyCode::Tab));
    assert_eq!(st.metric_name(), Some("f1"));
    st.on_key(key(KeyCode::BackTab));
    st.on_key(key(KeyCode::BackTab));
    assert_eq!(st.metric_name(), Some("loss"));
    st.on_key(chr('?'));
    assert!(st.help);
    st.on_key(chr('q'));
    assert!(!st.help && !st.should_quit(), "q closes the help first");
    st.on_key(chr('d'));
    assert_eq!(st.visible_rows().len(), 2);
    st.on_key(key(KeyCode::Esc));
    assert!(st.should_quit());
}

// ---------------------------------------------------------------- render

#[test]
fn render_legend_table_and_highlighted_differences() {
    let st = state();
    let buf = render(&st, 160, 48);
    let screen = text(&buf);
    assert_has(
        &screen,
        &[
            "compare",
            "2 runs",
            "2 config keys differ",
            // Legends in both charts.
            "1 ● 20260101T000000Z-rte-vanilla",
            "2 ● 20260101T000100Z-rte-dps-dense",
            "dev accuracy",
            "best 0.7500 @80",
            "best 0.6250 @60",
            "ema 0.6",
            // The table.
            "finished",
            "crashed",
            "100/100",
            "60/100",
            "50s",
            "30s",
            "final accuracy",
            "0.6875",
            "0.6250",
            "best accuracy",
            "0.7500 @80",
            "config: 4 keys, 2 differ",
            "≠ method",
            "≠ p",
            "  seed",
            "dps-dense",
        ],
    );
    // Differing keys are highlighted (warning colour, bold) in the key and value cells;
    // equal ones are not.
    let warn = Theme::colored().warn().fg;
    for needle in [format!("{DIFF_MARK}method"), format!("{DIFF_MARK}p ")] {
        let (x, y) = find(&buf, &needle).unwrap();
        let c = &buf[(x + 2, y)];
        assert_eq!(c.fg, warn.unwrap(), "{needle}");
        assert!(c.modifier.contains(Modifier::BOLD), "{needle}");
    }
    let (_, y) = find(&buf, "≠ p ").unwrap();
    let x = find_in_row(&buf, y, "0.1").unwrap();
    assert_eq!(
        buf[(x, y)].fg,
        warn.unwrap(),
        "the differing value is highlighted"
    );
    let (x, y) = find(&buf, "  seed").unwrap();
    assert_ne!(buf[(x + 2, y)].fg, warn.unwrap());
    // The best best-metric is marked.
    let (_, y) = find(&buf, "best accuracy").unwrap();
    let x = find_in_row(&buf, y, "0.7500 @80").unwrap();
    assert_eq!(buf[(x, y)].fg, Theme::colored().ok().fg.unwrap());
    // One colour per run: both series colours are drawn as braille curves.
    for i in 0..2 {
        let color = Theme::colored().series(i).fg.unwrap();
        let n = buf
            .content()
            .iter()
            .filter(|c| c.fg == color && c.symbol().chars().all(|ch| ('⠀'..='⣿').contains(&ch)))
            .count();
        assert!(n >= 10, "run {i}: only {n} curve cells in {color:?}");
    }
}

#[test]
fn render_follows_the_keys() {
    let mut st = state();
    st.on_key(chr('l'));
    st.on_key(chr('s'));
    st.on_key(chr('s'));
    st.on_key(chr('s'));
    st.on_key(key(KeyCode::Tab));
    st.on_key(chr('d'));
    let screen = text(&render(&st, 160, 48));
    assert_has(
        &screen,
        &[
            "log-y",
            "raw",
            "dev f1",
            "2/3 (tab)",
            "final f1",
            "0.5625",
            "best f1",
            "0.6250 @80",
            "(showing those; d: all)",
            "≠ method",
        ],
    );
    assert!(!screen.contains("  seed"), "d shows only differing keys");
    st.on_key(chr('?'));
    let screen = text(&render(&st, 160, 48));
    assert_has(
        &screen,
        &["keys", "log-y on / off", "only the keys that differ"],
    );
}

#[test]
fn render_without_colour_and_at_small_sizes() {
    let mut st = state();
    st.theme = Theme::plain();
    let buf = render(&st, 100, 30);
    assert!(buf
        .content()
        .iter()
        .all(|c| c.fg == Color::Reset && c.bg == Color::Reset));
    let screen = text(&buf);
    assert_has(&screen, &["≠ method", "finished", "crashed"]);
    for (w, h) in [(80, 24), (40, 12), (20, 8), (10, 3), (1, 1)] {
        let screen = text(&render(&st, w, h));
        for line in screen.lines() {
            assert_eq!(line.chars().count(), w as usize);
        }
    }
}

// ---------------------------------------------------------------- the binary

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_dps-tui"))
}

fn demo_run(out: &Path, method: &str) -> (std::path::PathBuf, Value) {
    let o = common::headless_demo(
        out,
        &[
            "max_steps=20",
            "eval_every=10",
            "update_ratio=0.1",
            &format!("method={method}"),
        ],
    )
    .output()
    .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let done: Value = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|e| e["event"] == "done")
        .unwrap();
    let run = std::fs::read_dir(out)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.is_dir())
        .unwrap();
    (run, done)
}

#[test]
fn compare_json_on_demo_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, a_done) = demo_run(&tmp.path().join("a"), "vanilla");
    let (b, b_done) = demo_run(&tmp.path().join("b"), "dps-dense");
    let o = bin()
        .args([
            "compare",
            a.to_str().unwrap(),
            b.to_str().unwrap(),
            "--json",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let j: Value = serde_json::from_slice(&o.stdout).unwrap();
    let diff: Vec<&str> = j["differing_keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(diff.contains(&"method"), "{diff:?}");
    assert!(
        !diff.contains(&"seed") && !diff.contains(&"max_steps"),
        "{diff:?}"
    );
    for (r, method, done, dir) in [
        (&j["runs"][0], "vanilla", &a_done, &a),
        (&j["runs"][1], "dps-dense", &b_done, &b),
    ] {
        assert_eq!(r["method"], method);
        assert_eq!(r["config"]["method"], method);
        assert_eq!(r["task"], "demo");
        assert_eq!(r["status"], "finished");
        assert_eq!(r["step"], 20);
        assert_eq!(r["total_steps"], 20);
        assert_eq!(r["path"], dir.to_str().unwrap());
        assert_eq!(
            r["final_metrics"]["accuracy"], done["metrics"]["accuracy"],
            "final metrics are those of the done event"
        );
        let best = &r["best"];
        assert_eq!(best["metric"], "accuracy");
        assert!(best["value"].as_f64().unwrap() >= done["metrics"]["accuracy"].as_f64().unwrap());
        assert!(r["final_loss"].as_f64().unwrap().is_finite());
        assert!(r["train_seconds"].as_f64().unwrap() > 0.0);
    }
    // `--headless` is the same as `--json`.
    let o2 = bin()
        .args([
            "compare",
            "--headless",
            a.to_str().unwrap(),
            b.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let j2: Value = serde_json::from_slice(&o2.stdout).unwrap();
    assert_eq!(j2["runs"], j["runs"]);
    // A folder that is not a run: the error names it and the fix.
    let o = bin()
        .args([
            "compare",
            a.to_str().unwrap(),
            tmp.path().to_str().unwrap(),
            "--json",
        ])
        .output()
        .unwrap();
    assert!(!o.status.success());
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(
        e.contains(&tmp.path().join("events.jsonl").display().to_string()) && e.contains("Fix"),
        "{e}"
    );
}
