//! Frame time of the dashboard: one 200×60 frame with 10,000 steps of history (20 stages,
//! 10 selections of 38 matrices, 20 evaluations) drawn into a `TestBackend`, 100 times.
//!
//! `cargo run --release --example render_bench` (target: median ≤ 5 ms). With `-- --dump WxH`
//! it also prints the frame at that size as text.

use dps_tui::core::events::{Event, MatrixReport, Metrics, StageKind, EVENT_SCHEMA_VERSION};
use dps_tui::ui::render::draw;
use dps_tui::ui::theme::Theme;
use dps_tui::ui::App;
use ratatui::backend::TestBackend;
use ratatui::layout::Rect;
use ratatui::Terminal;
use std::time::Instant;

const STEPS: usize = 10_000;
const STAGE: usize = 500;
const LAYERS: usize = 6;

fn matrices(stage: usize) -> Vec<MatrixReport> {
    let mut slots: Vec<(Option<usize>, &str)> = Vec::new();
    for l in 0..LAYERS {
        for m in ["q", "k", "v", "o", "ffn_in", "ffn_out"] {
            slots.push((Some(l), m));
        }
    }
    slots.push((None, "pooler"));
    slots.push((None, "classifier"));
    let n = slots.len();
    slots
        .into_iter()
        .enumerate()
        .map(|(i, (layer, module))| MatrixReport {
            name: format!("{module}.{i}.weight"),
            layer,
            module: module.into(),
            shape: vec![384, 384],
            selected_fraction: 0.7,
            importance_share: 1.0 / n as f64 * (1.0 + 0.5 * ((i + stage) % 3) as f64),
            overlap_prev: (stage > 1).then_some(0.8),
            update_rel: 1e-3 * (1 + i % 4) as f64,
            row_density: vec![180; 64],
            head_density: vec![200, 150, 170, 190, 160, 175, 185, 165, 155, 195, 172, 181],
            density: (0..32 * 32).map(|k| ((k * 31 + i) % 256) as u8).collect(),
            density_shape: vec![32, 32],
        })
        .collect()
}

fn events() -> Vec<Event> {
    let mut ev = vec![Event::Start {
        schema: EVENT_SCHEMA_VERSION,
        task: "sst2".into(),
        method: "dps-dense".into(),
        total_steps: 12_000,
        steps_per_epoch: 4210,
        num_train: 67_349,
        num_dev: 872,
        config: serde_json::json!({"p": 0.3, "learning_rate": 2e-5, "update_ratio": 0.05,
            "batch_size": 16, "model": "sentence-transformers/all-MiniLM-L6-v2"}),
        start_step: 0,
        device: None,
    }];
    for step in 1..=STEPS {
        if (step - 1) % STAGE == 0 {
            let stage = (step - 1) / STAGE;
            let kind = if stage.is_multiple_of(2) {
                StageKind::Full
            } else {
                StageKind::Subnet
            };
            ev.push(Event::Stage {
                stage,
                kind,
                step: step - 1,
                update_steps: STAGE,
            });
            if kind == StageKind::Subnet {
                ev.push(Event::Selection {
                    stage,
                    step: step - 1,
                    p: 0.3,
                    matrices: matrices(stage),
                    seconds: Some(0.4),
                });
            }
        }
        let noise = ((step * 2_654_435_761) % 1000) as f64 / 1000.0;
        ev.push(Event::Step {
            step,
            epoch: step as f64 / 4210.0,
            loss: 0.7 * (-(step as f64) / 3000.0).exp() + 0.1 * noise,
            lr: 2e-5,
            examples_per_sec: 80.0,
            grad_norm: Some(1.0),
            step_seconds: Some(0.2),
            run_seconds: None,
        });
        if step % STAGE == 0 {
            let mut m = Metrics::new();
            m.insert("accuracy".into(), 0.8 + step as f64 / 100_000.0);
            ev.push(Event::Eval { step, metrics: m });
        }
    }
    ev
}

fn main() {
    let t = Instant::now();
    let mut app = App::from_events(&events());
    let build = t.elapsed();
    app.theme = Theme::colored();
    app.resize(Rect::new(0, 0, 200, 60));
    let mut term = Terminal::new(TestBackend::new(200, 60)).expect("test backend");
    let mut times = Vec::with_capacity(100);
    for i in 0..100 {
        // Alternate two views so every frame really redraws.
        app.view.smoothing = 1 + i % 2;
        let t = Instant::now();
        term.draw(|f| draw(f, &app)).expect("draw");
        times.push(t.elapsed().as_secs_f64() * 1e3);
    }
    times.sort_by(|a, b| a.total_cmp(b));
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--dump") {
        let (w, h) = args
            .get(i + 1)
            .and_then(|s| s.split_once('x'))
            .and_then(|(w, h)| Some((w.parse().ok()?, h.parse().ok()?)))
            .unwrap_or((200u16, 60u16));
        app.resize(Rect::new(0, 0, w, h));
        let mut t = Terminal::new(TestBackend::new(w, h)).expect("test backend");
        t.draw(|f| draw(f, &app)).expect("draw");
        let buf = t.backend().buffer();
        for y in 0..h {
            let line: String = (0..w).map(|x| buf[(x, y)].symbol()).collect();
            println!("{line}");
        }
    }
    println!(
        "history: {} steps, {} selections, {} rows; reducer built it in {:.1} ms",
        app.run.loss.len(),
        app.run.selections.len(),
        app.run.rows.len(),
        build.as_secs_f64() * 1e3
    );
    println!(
        "frame 200x60: median {:.3} ms, p90 {:.3} ms, max {:.3} ms over {} frames (target <= 5 ms)",
        times[50],
        times[90],
        times[99],
        times.len()
    );
}
