//! Fixtures shared by the TestBackend tests of the UI (`ui_render.rs`, `ui_picker.rs`): a
//! realistic event stream, apps at given points of it, and rendering into text.
#![allow(dead_code)]

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use dps_tui::config::{ControlKey, TrainConfig};
use dps_tui::core::events::{
    ControlStatus, Event, MatrixReport, Metrics, StageKind, EVENT_SCHEMA_VERSION,
};
use dps_tui::hub::HubSource;
use dps_tui::ui::form::{Picker, PresetEntry};
use dps_tui::ui::render::draw;
use dps_tui::ui::theme::Theme;
use dps_tui::ui::App;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::Terminal;

// ---------------------------------------------------------------- fixtures

pub const TOTAL: usize = 400;
pub const STAGE_LEN: usize = 20;
pub const MODULES: [&str; 6] = ["q", "k", "v", "o", "ffn_in", "ffn_out"];

/// `layers` × 6 modules + pooler + classifier matrices (14 for 2 layers), with density maps.
pub fn matrices(stage: usize, layers: usize) -> Vec<MatrixReport> {
    let mut out = Vec::new();
    let mut slots: Vec<(Option<usize>, &str)> = Vec::new();
    for l in 0..layers {
        for m in MODULES {
            slots.push((Some(l), m));
        }
    }
    slots.push((None, "pooler"));
    slots.push((None, "classifier"));
    let n = slots.len();
    for (i, (layer, module)) in slots.into_iter().enumerate() {
        let name = match (layer, module) {
            (Some(l), m) => format!("encoder.layer.{l}.{m}.weight"),
            (None, m) => format!("{m}.weight"),
        };
        let (rows, cols) = if module == "ffn_in" {
            (64, 16)
        } else if module == "ffn_out" {
            (16, 64)
        } else {
            (16, 16)
        };
        let shape = [8usize, 16usize];
        let density: Vec<u8> = (0..shape[0] * shape[1])
            .map(|k| ((k * 37 + i * 11 + stage * 5) % 256) as u8)
            .collect();
        let attn = ["q", "k", "v", "o"].contains(&module);
        out.push(MatrixReport {
            name,
            layer,
            module: module.into(),
            shape: vec![rows, cols],
            selected_fraction: 0.7,
            importance_share: (i + 1) as f64 / (n * (n + 1) / 2) as f64,
            overlap_prev: (stage > 1).then_some(0.5 + 0.03 * i as f64),
            update_rel: 0.001 * (1 + (i + stage) % 5) as f64,
            row_density: if attn {
                Vec::new()
            } else {
                (0..16).map(|r| (150 + r * 5) as u8).collect()
            },
            head_density: if attn {
                vec![200, 120, 180, 90]
            } else {
                Vec::new()
            },
            density,
            density_shape: shape.to_vec(),
        });
    }
    out
}

pub fn metrics(acc: f64) -> Metrics {
    let mut m = Metrics::new();
    m.insert("accuracy".into(), acc);
    m.insert("loss".into(), 0.6);
    m
}

pub fn start_event() -> Event {
    start_event_on(
        "rte",
        serde_json::json!({
            "model": "sentence-transformers/all-MiniLM-L6-v2",
            "p": 0.3, "learning_rate": 2e-5, "update_ratio": 0.05, "batch_size": 16,
        }),
    )
}

/// The `start` event of an RTE-sized run of `task` with this configuration.
pub fn start_event_on(task: &str, config: serde_json::Value) -> Event {
    Event::Start {
        schema: EVENT_SCHEMA_VERSION,
        task: task.into(),
        method: "dps-dense".into(),
        total_steps: TOTAL,
        steps_per_epoch: 156,
        num_train: 2490,
        num_dev: 277,
        config,
        start_step: 0,
        device: None,
    }
}

/// `events` (a [`stream`]) as a run of `task` that also evaluates on `eval_tasks`: its `start`
/// event retargeted, the others unchanged.
pub fn retargeted(mut events: Vec<Event>, task: &str, eval_tasks: &[&str]) -> Vec<Event> {
    for e in &mut events {
        if let Event::Start {
            task: t, config, ..
        } = e
        {
            *t = task.into();
            config["eval_tasks"] = serde_json::json!(eval_tasks);
        }
    }
    events
}

/// A realistic run up to step `upto`: steps, alternating full/subnet stages of 20 steps with a
/// selection at every subnet stage, evals every 50 steps, a learning-rate change at step 70 and
/// a pending change of p at step 90.
pub fn stream(upto: usize) -> Vec<Event> {
    stream_with(upto, 2)
}

/// [`stream`] with `layers` encoder layers in each selection.
pub fn stream_with(upto: usize, layers: usize) -> Vec<Event> {
    let mut ev = vec![start_event()];
    for step in 1..=upto {
        if (step - 1) % STAGE_LEN == 0 {
            let stage = (step - 1) / STAGE_LEN;
            let kind = if stage.is_multiple_of(2) {
                StageKind::Full
            } else {
                StageKind::Subnet
            };
            ev.push(Event::Stage {
                stage,
                kind,
                step: step - 1,
                update_steps: STAGE_LEN,
            });
            if kind == StageKind::Subnet {
                ev.push(Event::Selection {
                    stage,
                    step: step - 1,
                    p: 0.3,
                    matrices: matrices(stage, layers),
                    seconds: Some(0.25),
                });
            }
        }
        let loss = 0.7 * (-(step as f64) / 150.0).exp() + 0.05 * ((step * 7) % 11) as f64 / 11.0;
        ev.push(Event::Step {
            step,
            epoch: step as f64 / 156.0,
            loss,
            lr: 2e-5 * (1.0 - step as f64 / TOTAL as f64),
            examples_per_sec: 85.0,
            grad_norm: Some(1.2),
            step_seconds: Some(0.19),
            run_seconds: None,
        });
        if step % 50 == 0 {
            ev.push(Event::Eval {
                step,
                metrics: metrics(0.55 + step as f64 / 2000.0),
            });
        }
        if step == 70 {
            for status in [ControlStatus::Pending, ControlStatus::Applied] {
                ev.push(Event::Control {
                    step,
                    key: ControlKey::LearningRate,
                    value: serde_json::json!(4e-5),
                    status,
                    message: None,
                });
            }
        }
        if step == 90 {
            ev.push(Event::Control {
                step,
                key: ControlKey::P,
                value: serde_json::json!(0.35),
                status: ControlStatus::Pending,
                message: Some("applies at the next selection".into()),
            });
        }
    }
    ev
}

pub fn app_at(upto: usize) -> App {
    let mut app = App::from_events(&stream(upto));
    app.theme = Theme::colored();
    app
}

pub fn key(c: KeyCode) -> KeyEvent {
    KeyEvent::new(c, KeyModifiers::NONE)
}

pub fn chr(c: char) -> KeyEvent {
    key(KeyCode::Char(c))
}

pub fn render(app: &mut App, w: u16, h: u16) -> Buffer {
    app.resize(Rect::new(0, 0, w, h));
    let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
    term.draw(|f| draw(f, app)).unwrap();
    term.backend().buffer().clone()
}

pub fn text(buf: &Buffer) -> String {
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

pub fn assert_has(screen: &str, needles: &[&str]) {
    for n in needles {
        assert!(screen.contains(n), "missing {n:?} in:\n{screen}");
    }
}

pub fn picker_app() -> App {
    let mk = |name: &str, steps| PresetEntry {
        name: name.into(),
        origin: format!("presets/{name}.yaml"),
        config: Ok(TrainConfig {
            task: name.into(),
            max_steps: steps,
            ..TrainConfig::default()
        }),
    };
    let mut app = App::with_picker(Picker::new(vec![
        mk("rte", Some(468)),
        mk("mrpc", Some(690)),
        mk("sst2", None),
        PresetEntry {
            name: "broken".into(),
            origin: "presets/broken.yaml".into(),
            config: Err("presets/broken.yaml: unknown key `lr`".into()),
        },
    ]));
    // Online with an empty cache, whatever this machine's environment holds: the presets'
    // Hub model and data will download.
    let p = app.picker.as_mut().unwrap();
    p.hub = online_empty_hub();
    p.revalidate();
    app.theme = Theme::colored();
    app
}

pub fn online_empty_hub() -> HubSource {
    let mut hub = HubSource::offline("/nonexistent/hub-cache");
    hub.offline = false;
    hub
}

// ---------------------------------------------------------------- reducer
