//! The demo's pace in the TUI. The demo model trains 400 steps in a few seconds, too fast to
//! watch or steer, so the TUI asks the trainer for a minimum step interval that spreads the run
//! over a few minutes (a new stage every few seconds). Headless runs are never paced.

use crate::config::TrainConfig;
use std::time::Duration;

/// How long a paced demo run lasts, in seconds.
pub const DEMO_RUN_SECONDS: f64 = 180.0;

/// The shortest step interval the TUI asks for: `Some` for the demo, `None` (full speed) for
/// every real run.
pub fn step_interval(config: &TrainConfig, total_steps: usize) -> Option<Duration> {
    let demo = config.task == "demo" || config.model == "demo";
    (demo && total_steps > 0)
        .then(|| Duration::from_secs_f64(DEMO_RUN_SECONDS / total_steps as f64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_lasts_minutes_with_a_stage_every_few_seconds() {
        let (demo, _) = crate::config::load_preset("demo").unwrap();
        let total = demo.max_steps.unwrap();
        let every = step_interval(&demo, total).expect("the demo is paced");
        let run = every.as_secs_f64() * total as f64;
        assert!(run >= 120.0, "the demo lasts {run} s");
        let stage_steps = (total as f64 * demo.update_ratio).round();
        let stage = every.as_secs_f64() * stage_steps;
        assert!((2.0..=15.0).contains(&stage), "a stage lasts {stage} s");
        let (rte, _) = crate::config::load_preset("rte").unwrap();
        assert_eq!(step_interval(&rte, 468), None, "real runs go at full speed");
    }
}
