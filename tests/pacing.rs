//! The trainer's minimum step interval (the TUI paces the demo with it): steps are spread out,
//! and commands are still answered while the trainer waits.

use crossbeam_channel::{unbounded, Receiver, Sender};
use dps_tui::config;
use dps_tui::core::events::{Command, Event};
use dps_tui::train::setup::build_trainer;
use dps_tui::train::trainer::{EventSink, Trainer};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn demo_trainer(steps: usize) -> Trainer {
    let (mut c, _) = config::load_preset("demo").unwrap();
    c.max_steps = Some(steps);
    c.eval_every = 0;
    c.threads = 1;
    build_trainer(&c).unwrap().0
}

/// Records when each step event arrives; optionally sends a command after the first step.
struct Recorder {
    steps: Arc<Mutex<Vec<(usize, Instant)>>>,
    after_first: Option<(Sender<Command>, Command)>,
}

impl EventSink for Recorder {
    fn emit(&mut self, e: &Event) {
        if let Event::Step { step, .. } = e {
            self.steps.lock().unwrap().push((*step, Instant::now()));
            if let Some((tx, cmd)) = self.after_first.take() {
                tx.send(cmd).unwrap();
            }
        }
    }
}

/// Give `t` a command channel and an event channel; `after_first` goes out after step 1.
/// Returns the command sender (the UI's) and the events.
fn listen(t: &mut Trainer, after_first: Command) -> (Sender<Command>, Receiver<Event>) {
    let (tx, rx) = unbounded();
    t.set_commands(rx);
    let (etx, erx) = unbounded::<Event>();
    t.add_sink(Box::new(etx));
    t.add_sink(Box::new(Recorder {
        steps: Arc::default(),
        after_first: Some((tx.clone(), after_first)),
    }));
    (tx, erx)
}

#[test]
fn a_paced_trainer_waits_out_each_step_interval() {
    let every = Duration::from_millis(150);
    let mut t = demo_trainer(4);
    t.min_step_interval = Some(every);
    let began = Instant::now();
    let summary = t.run().unwrap();
    assert_eq!(summary.step, 4);
    // Each of the 4 steps lasts at least the interval, the wait included.
    let took = began.elapsed();
    assert!(took >= 4 * every, "4 paced steps took {took:?}");
}

#[test]
fn a_paced_trainer_answers_commands_while_it_waits() {
    // An hour between steps: the quit sent after step 1 must end the run during the wait.
    let mut t = demo_trainer(50);
    t.min_step_interval = Some(Duration::from_secs(3600));
    let (_ui, erx) = listen(&mut t, Command::Quit { checkpoint: false });
    let summary = t.run().unwrap();
    assert!(summary.stopped_early);
    assert_eq!(summary.step, 1);
    let done = erx
        .try_iter()
        .filter(|e| matches!(e, Event::Done { .. }))
        .count();
    assert_eq!(done, 1);
}

#[test]
fn an_unpaced_trainer_does_not_wait() {
    assert_eq!(demo_trainer(1).min_step_interval, None);
}

/// Each step's `run_seconds` is the run's running time: the paced waits count, the time spent
/// paused does not.
#[test]
fn run_seconds_count_running_time_and_leave_out_pauses() {
    let every = Duration::from_millis(100);
    let pause = Duration::from_millis(1500);
    let mut t = demo_trainer(4);
    t.min_step_interval = Some(every);
    // The UI keeps its sender for as long as the run (a closed channel ends the pacing).
    let (ui, erx) = listen(&mut t, Command::Pause);
    let tx = ui.clone();
    let resume = std::thread::spawn(move || {
        std::thread::sleep(pause);
        tx.send(Command::Resume).unwrap();
    });
    let began = Instant::now();
    t.run().unwrap();
    let wall = began.elapsed().as_secs_f64();
    resume.join().unwrap();
    drop(ui);
    let run: Vec<f64> = erx
        .try_iter()
        .filter_map(|e| match e {
            Event::Step { run_seconds, .. } => run_seconds,
            _ => None,
        })
        .collect();
    assert_eq!(run.len(), 4, "every step carries run_seconds");
    assert!(run.windows(2).all(|w| w[1] > w[0]), "{run:?}");
    let last = run[3];
    assert!(last >= 0.3, "3 paced waits count: {run:?} in {wall} s");
    assert!(
        // Paused from the end of step 1's wait (at most 100 ms in) until the resume.
        last <= wall - 1.0,
        "the pause does not count: {last} s of {wall} s"
    );
}
