//! The published recipes: which dropout each method trains with, and ChildTuning's order of
//! gradient clipping and masking.

use crossbeam_channel::unbounded;
use dps_tui::config::{self, Dropout, TrainConfig};
use dps_tui::core::events::Event;
use dps_tui::train::setup::build_trainer;

fn demo(method: &str, max_steps: usize) -> TrainConfig {
    let (mut c, _) = config::load_preset("demo").unwrap();
    c.set("method", &serde_yaml::Value::String(method.into()), "test")
        .unwrap();
    c.max_steps = Some(max_steps);
    c.eval_every = 0;
    c.threads = 1;
    c
}

/// The (step, grad_norm, loss) of every step of a run.
fn steps(c: &TrainConfig) -> Vec<(usize, f64, f64)> {
    let (mut trainer, _) = build_trainer(c).unwrap();
    let (tx, rx) = unbounded::<Event>();
    trainer.add_sink(Box::new(tx));
    trainer.run().unwrap();
    rx.try_iter()
        .filter_map(|e| match e {
            Event::Step {
                step,
                grad_norm,
                loss,
                ..
            } => Some((step, grad_norm.unwrap(), loss)),
            _ => None,
        })
        .collect()
}

#[test]
fn childtuning_clips_with_the_whole_gradient_norm() {
    // Step 1 starts from the same weights and batch for every method, so the clipping norm of
    // ChildTuning (taken before its mask, as the original optimizer masks after the Trainer
    // clipped) equals vanilla's. A mask applied before the norm would change it.
    let mut base = demo("vanilla", 1);
    base.dropout = Dropout::Fixed(0.0);
    let want = steps(&base)[0];
    for method in ["child-tuning-f", "child-tuning-d"] {
        let c = TrainConfig {
            method: config::Method::parse(method).unwrap(),
            ..base.clone()
        };
        let got = steps(&c)[0];
        assert_eq!(got.2, want.2, "{method}: same first loss");
        assert!(
            (got.1 - want.1).abs() <= 1e-9 * want.1,
            "{method}: grad norm {} vs vanilla {}",
            got.1,
            want.1
        );
    }
}

#[test]
fn dropout_auto_resolves_per_method_and_is_recorded() {
    let mut seen = Vec::new();
    for (method, steps) in [("vanilla", 3), ("dps-dense", 3), ("dps-dense", 2000)] {
        let mut c = demo(method, steps);
        c.dropout = Dropout::Auto;
        let (trainer, _) = build_trainer(&c).unwrap();
        let own = dps_tui::model::BertConfig::tiny_demo(64).hidden_dropout_prob;
        let want = if method == "dps-dense" && steps < 2000 {
            0.0
        } else {
            own
        };
        assert_eq!(
            trainer.config.dropout,
            Dropout::Fixed(want),
            "{method} {steps}"
        );
        assert_eq!(trainer.model.config_dropout().hidden, want);
        assert_eq!(trainer.model.config_dropout().attention, want);
        seen.push(want);
    }
    assert!(seen[0] > 0.0, "the demo model has dropout of its own");
}
