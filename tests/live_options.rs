//! Method options changed while training: pending until the next selection, then applied;
//! bad keys and values are refused with a message; a resume keeps what was applied.

mod common;

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

/// A checkpoint of the trainer `a` as it is now, as `runs::checkpoint::load` would read it.
fn checkpoint_of(a: &Trainer) -> Checkpoint {
    Checkpoint {
        dir: format!("runs/x/checkpoints/step-{}", a.step).into(),
        weights: a
            .model
            .params()
            .iter()
            .map(|p| {
                (
                    Family::Bert.checkpoint_key(&p.name),
                    p.var.as_tensor().clone(),
                )
            })
            .collect(),
        optimizer: a.optimizer.state_tensors(a.model.params()).unwrap(),
        strategy: a.strategy.save_state().unwrap(),
        state: a.trainer_state(),
    }
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
    let mut checkpoint = checkpoint_of(&a);
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

/// The `start` events of a run folder's log, each with the `control` events that follow it
/// before the next step.
fn starts_with_controls(run: &std::path::Path) -> Vec<(serde_json::Value, Vec<Event>)> {
    let log = dps_tui::runs::event_log::read(&run.join("events.jsonl")).unwrap();
    let mut out: Vec<(serde_json::Value, Vec<Event>, bool)> = Vec::new();
    for e in log.events {
        match &e {
            Event::Start { config, .. } => out.push((config.clone(), Vec::new(), true)),
            Event::Step { .. } => {
                if let Some(last) = out.last_mut() {
                    last.2 = false;
                }
            }
            Event::Control { .. } => {
                if let Some(last) = out.last_mut().filter(|l| l.2) {
                    last.1.push(e.clone());
                }
            }
            _ => {}
        }
    }
    out.into_iter().map(|(c, ev, _)| (c, ev)).collect()
}

/// Against the binary: a live change made on resume (`--set freeze=strict`, `--set p=0.5`) is
/// announced as pending after that run's `start` event, which still says the values in effect;
/// once applied, a later resume's `start` event says the new values, not config.yaml's.
#[test]
fn a_resumed_runs_start_event_carries_the_live_values_it_had_reached() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    // Stages of 3 steps (selections at steps 4 and 10), a checkpoint every 3 steps.
    let sets = [
        "max_steps=12",
        "update_ratio=0.25",
        "eval_every=0",
        "checkpoint_every=3",
        "keep_last=10",
    ];
    // Stopped at step 3 and resumed with the changes, stopped at step 6 and resumed as it is.
    common::demo_with_resumes(&run, &sets, &[(3, &["freeze=strict", "p=0.5"]), (6, &[])]);
    let yaml = std::fs::read_to_string(run.join("config.yaml")).unwrap();
    assert!(yaml.contains("freeze: gradient"), "{yaml}");
    let starts = starts_with_controls(&run);
    assert_eq!(starts.len(), 3, "{starts:?}");
    // Resumed at step 3 with the changes: the values in effect, then the changes, pending.
    let (config, controls) = &starts[1];
    assert_eq!(config["freeze"], "gradient");
    assert_eq!(config["p"], 0.3);
    let pending: Vec<(ControlKey, serde_json::Value)> = controls
        .iter()
        .filter_map(|e| match e {
            Event::Control {
                key,
                value,
                status: ControlStatus::Pending,
                ..
            } => Some((*key, value.clone())),
            _ => None,
        })
        .collect();
    assert!(
        pending.contains(&(ControlKey::Freeze, "strict".into()))
            && pending.contains(&(ControlKey::P, 0.5.into())),
        "{controls:?}"
    );
    // Resumed at step 6, after the selection at step 4 applied them.
    let (config, controls) = &starts[2];
    assert_eq!(config["freeze"], "strict", "{config}");
    assert_eq!(config["p"], 0.5, "{config}");
    assert!(controls.is_empty(), "nothing was pending: {controls:?}");
}

/// A change still pending at the checkpoint is pending again after the resumed `start` event,
/// and the learning rate changed live is the one that event says.
#[test]
fn a_change_pending_at_the_checkpoint_is_announced_again_after_the_start() {
    let (mut c, _) = config::load_preset("demo").unwrap();
    c.max_steps = Some(6);
    c.update_ratio = 0.25;
    c.eval_every = 0;
    c.threads = 1;
    let (mut a, _) = build_trainer(&c).unwrap();
    a.control(Control::LearningRate(2e-3));
    a.train_step().unwrap();
    a.control(Control::Freeze(Freeze::Strict));
    let checkpoint = checkpoint_of(&a);
    let (mut b, _) = Trainer::resume(&c, &checkpoint).unwrap();
    let (tx, rx) = unbounded::<Event>();
    b.add_sink(Box::new(tx));
    b.run().unwrap();
    let ev: Vec<Event> = rx.try_iter().collect();
    let Event::Start { config, .. } = &ev[0] else {
        panic!("{:?}", ev[0])
    };
    assert_eq!(config["learning_rate"], 2e-3);
    assert_eq!(
        config["freeze"], "gradient",
        "not applied before the checkpoint"
    );
    let freeze = controls(&ev, ControlKey::Freeze);
    assert_eq!(freeze[0].1, ControlStatus::Pending, "{freeze:?}");
    assert!(
        matches!(ev[1], Event::Control { .. }),
        "announced right after the start: {:?}",
        ev[1]
    );
    assert_eq!(freeze.last().unwrap().1, ControlStatus::Applied);
}
