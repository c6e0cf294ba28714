//! Method options changed while training: pending until the next selection, then applied;
//! bad keys and values are refused with a message; a resume keeps what was applied.

use crossbeam_channel::unbounded;
use dps_tui::config::{self, Control, ControlKey, Freeze, SelectionScope};
use dps_tui::core::events::{Command as TrainCommand, ControlStatus, Event};
use dps_tui::model::Family;
use dps_tui::train::setup::build_trainer;
use dps_tui::train::{Checkpoint, Trainer};

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
    TrainCommand::Control(Control::parse(key, value).unwrap())
}

fn controls(ev: &[Event], key: ControlKey) -> Vec<(usize, ControlStatus, &Event)> {
    ev.iter()
        .filter_map(|e| match e {
            Event::Control {
                step,
                key: k,
                status,
                ..
            } if *k == key => Some((*step, *status, e)),
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
            TrainCommand::Control(Control::P(1.5)),
        ],
    );
    let scope = controls(&ev, ControlKey::SelectionScope);
    assert_eq!(scope.len(), 2, "{scope:?}");
    assert_eq!(scope[0].1, ControlStatus::Pending);
    assert_eq!((scope[1].0, scope[1].1), (4, ControlStatus::Applied));
    let freeze = controls(&ev, ControlKey::Freeze);
    assert_eq!(freeze.len(), 2, "{freeze:?}");
    assert_eq!(freeze[0].1, ControlStatus::Pending);
    assert_eq!((freeze[1].0, freeze[1].1), (4, ControlStatus::Applied));
    // A value out of its range is rejected by the trainer, with the range.
    let p = controls(&ev, ControlKey::P);
    assert_eq!(p.len(), 1, "{p:?}");
    assert_eq!(p[0].1, ControlStatus::Rejected);
    let Event::Control { message, .. } = p[0].2 else {
        unreachable!()
    };
    let msg = message.clone().unwrap_or_default();
    assert!(msg.contains("p must be in [0, 1)"), "{msg}");
    // A bad value names the key and what is allowed.
    let msg = Control::parse("freeze", "sideways")
        .unwrap_err()
        .to_string();
    assert!(msg.contains("freeze") && msg.contains("strict"), "{msg}");
    // A key that is not a live option is refused.
    let msg = Control::parse("max_steps", "100").unwrap_err().to_string();
    assert!(
        msg.contains("max_steps") && msg.contains("cannot change"),
        "{msg}"
    );

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
    let freeze = controls(&ev, ControlKey::Freeze);
    assert_eq!(freeze.len(), 1);
    assert_eq!(freeze[0].1, ControlStatus::Rejected);
}

/// A run resumed from a checkpoint taken after `freeze` and `selection_scope` were applied goes
/// on exactly as the uninterrupted run: same selections, same weights, bit for bit.
#[test]
fn a_resume_keeps_the_applied_freeze_and_scope() {
    let (mut c, _) = config::load_preset("demo").unwrap();
    c.max_steps = Some(12);
    c.update_ratio = 0.25; // subnetwork stages start at steps 4 and 10
    c.eval_every = 0;
    let (mut a, _) = build_trainer(&c).unwrap();
    a.strategy.control(Control::Freeze(Freeze::Strict));
    a.strategy
        .control(Control::SelectionScope(SelectionScope::Global));
    for _ in 0..5 {
        a.train_step().unwrap(); // the options apply at step 4's selection
    }
    let weights = a
        .model
        .params()
        .iter()
        .map(|p| {
            (
                Family::Bert.checkpoint_key(&p.name),
                p.var.as_tensor().clone(),
            )
        })
        .collect();
    let mut checkpoint = Checkpoint {
        dir: "runs/x/checkpoints/step-5".into(),
        weights,
        optimizer: a.optimizer.state_tensors(a.model.params()).unwrap(),
        strategy: a.strategy.save_state().unwrap(),
        state: a.trainer_state(),
    };
    let (mut b, _) = Trainer::resume(&c, &checkpoint).unwrap();
    assert_eq!(b.step, 5);
    let (atx, arx) = unbounded::<Event>();
    let (btx, brx) = unbounded::<Event>();
    a.add_sink(Box::new(atx));
    b.add_sink(Box::new(btx));
    for _ in 5..12 {
        a.train_step().unwrap();
        b.train_step().unwrap();
    }
    let selections = |rx: &crossbeam_channel::Receiver<Event>| -> Vec<Event> {
        rx.try_iter()
            .filter(|e| matches!(e, Event::Selection { .. }))
            .map(|e| match e {
                Event::Selection {
                    stage,
                    step,
                    p,
                    matrices,
                    ..
                } => Event::Selection {
                    stage,
                    step,
                    p,
                    matrices,
                    seconds: None,
                },
                e => e,
            })
            .collect()
    };
    let (sa, sb) = (selections(&arx), selections(&brx));
    assert_eq!(sa.len(), 1, "one selection at step 10");
    assert!(sa == sb, "the resumed run selects differently");
    for (pa, pb) in a.model.params().iter().zip(b.model.params()) {
        let (x, y) = (
            pa.var
                .as_tensor()
                .flatten_all()
                .unwrap()
                .to_vec1::<f32>()
                .unwrap(),
            pb.var
                .as_tensor()
                .flatten_all()
                .unwrap()
                .to_vec1::<f32>()
                .unwrap(),
        );
        assert!(x == y, "{} differs after the resume", pa.name);
    }
    // A checkpoint without one of the model's weights is refused, naming the file and key.
    let key = Family::Bert.checkpoint_key(&a.model.params()[0].name);
    checkpoint.weights.remove(&key);
    let e = Trainer::resume(&c, &checkpoint).err().unwrap().to_string();
    assert!(e.contains("model.safetensors") && e.contains(&key), "{e}");
}
