//! Method options changed while training: pending until the next selection, then applied;
//! bad keys and values are rejected with a message.

use crossbeam_channel::unbounded;
use dps_tui::config;
use dps_tui::train::events::{Command as TrainCommand, ControlStatus, Event};
use dps_tui::train::setup::build_trainer;

fn run_with(method: &str, commands: Vec<TrainCommand>) -> Vec<Event> {
    let (mut c, _) = config::load_preset("demo").unwrap();
    c.set("method", &serde_yaml::Value::String(method.into()), "test")
        .unwrap();
    c.max_steps = Some(12);
    c.update_ratio = 0.25; // stages of 3 steps: subnetwork stages start at steps 4 and 10
    c.eval_every = 0;
    c.threads = 1;
    let (mut trainer, _) = build_trainer(&c).unwrap();
    let (etx, erx) = unbounded::<Event>();
    let (ctx, crx) = unbounded::<TrainCommand>();
    trainer.add_sink(Box::new(etx));
    trainer.set_commands(crx);
    for cmd in commands {
        ctx.send(cmd).unwrap();
    }
    trainer.run().unwrap();
    erx.try_iter().collect()
}

fn set(key: &str, value: &str) -> TrainCommand {
    TrainCommand::SetOption {
        key: key.into(),
        value: value.into(),
    }
}

fn controls<'a>(ev: &'a [Event], key: &str) -> Vec<(usize, ControlStatus, &'a Event)> {
    ev.iter()
        .filter_map(|e| match e {
            Event::Control {
                step,
                key: k,
                status,
                ..
            } if k == key => Some((*step, *status, e)),
            _ => None,
        })
        .collect()
}

#[test]
fn scope_and_freeze_are_pending_then_applied_at_the_next_selection() {
    let ev = run_with(
        "dps-dense",
        vec![
            set("selection_scope", "global"),
            set("freeze", "strict"),
            set("freeze", "sideways"),
            set("max_steps", "100"),
        ],
    );
    let scope = controls(&ev, "selection_scope");
    assert_eq!(scope.len(), 2, "{scope:?}");
    assert_eq!(scope[0].1, ControlStatus::Pending);
    assert_eq!((scope[1].0, scope[1].1), (4, ControlStatus::Applied));
    let freeze = controls(&ev, "freeze");
    assert_eq!(freeze.len(), 3, "{freeze:?}");
    assert_eq!(freeze[0].1, ControlStatus::Pending);
    // A bad value names the key and what is allowed.
    assert_eq!(freeze[1].1, ControlStatus::Rejected);
    let Event::Control { message, .. } = freeze[1].2 else {
        unreachable!()
    };
    let msg = message.clone().unwrap_or_default();
    assert!(msg.contains("freeze") && msg.contains("strict"), "{msg}");
    assert_eq!((freeze[2].0, freeze[2].1), (4, ControlStatus::Applied));
    // A key that is not a live method option is rejected.
    let other = controls(&ev, "max_steps");
    assert_eq!(other.len(), 1);
    assert_eq!(other[0].1, ControlStatus::Rejected);

    // The first selection (step 4) is already global: kept shares differ between matrices,
    // while per-matrix top-k would keep ceil(0.7·N)/N of every matrix.
    let sel: Vec<&Event> = ev
        .iter()
        .filter(|e| matches!(e, Event::Selection { .. }))
        .collect();
    assert_eq!(sel.len(), 2);
    let Event::Selection { step, matrices, .. } = sel[0] else {
        unreachable!()
    };
    assert_eq!(*step, 4);
    let fractions: Vec<f64> = matrices.iter().map(|m| m.selected_fraction).collect();
    let spread = fractions.iter().cloned().fold(f64::MIN, f64::max)
        - fractions.iter().cloned().fold(f64::MAX, f64::min);
    assert!(
        spread > 0.05,
        "global scope should give uneven shares: {fractions:?}"
    );
}

#[test]
fn methods_without_options_reject_them() {
    let ev = run_with("vanilla", vec![set("freeze", "strict")]);
    let freeze = controls(&ev, "freeze");
    assert_eq!(freeze.len(), 1);
    assert_eq!(freeze[0].1, ControlStatus::Rejected);
}
