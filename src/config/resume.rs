//! `--set` on a resumed run: which keys may change when a run continues from a checkpoint.
//!
//! A resumed run continues exactly where its checkpoint was written, so most keys are fixed by
//! the run's `config.yaml`. Two kinds may change:
//! - [`RESUME_KEYS`]: how the run is looked after (threads, evaluation and checkpoint cadence),
//!   which do not change the weights a step computes;
//! - the live keys ([`ControlKey`]), which the dashboard can change while training: they are
//!   applied as live controls after the checkpoint is restored, with the trainer's own checks.
//!
//! Anything else is refused, naming the keys.

use super::{ConfigError, Control, ControlKey, TrainConfig};

/// Keys that may change on resume and take effect as set.
pub const RESUME_KEYS: &[&str] = &[
    "threads",
    "eval_every",
    "checkpoint_every",
    "keep_last",
    "keep_best",
];

/// What `--set` asks of a resumed run.
#[derive(Debug, Default)]
pub struct ResumeOverrides {
    /// Keys of [`RESUME_KEYS`] that change: (key, value before, value now), already applied.
    pub changed: Vec<(String, String, String)>,
    /// Live keys, to apply as controls once the checkpoint is restored.
    pub controls: Vec<Control>,
}

/// The keys that may change on resume, for messages.
pub fn resume_keys() -> Vec<&'static str> {
    RESUME_KEYS
        .iter()
        .copied()
        .chain(ControlKey::ALL.iter().map(|k| k.name()))
        .collect()
}

fn show(v: Option<serde_yaml::Value>) -> String {
    v.map_or_else(|| "null".into(), |v| super::yaml_text::inline(&v))
}

/// Apply `sets` (`key=value`) to a resumed run's `config`: keys of [`RESUME_KEYS`] change the
/// configuration, live keys become controls, a key set to the value the run already has is
/// accepted as is, and any other key is refused with the list of those that may change.
pub fn apply_on_resume(
    config: &mut TrainConfig,
    sets: &[String],
) -> Result<ResumeOverrides, ConfigError> {
    let mut out = ResumeOverrides::default();
    let mut fixed = Vec::new();
    // Applied to `config` only when no key is refused.
    let mut next = config.clone();
    for kv in sets {
        // Parse and check the value on a copy first: the same errors as for a new run.
        let mut scratch = next.clone();
        scratch.set_override(kv)?;
        let key = kv.split_once('=').map(|(k, _)| k.trim()).unwrap_or(kv);
        // Whole configurations compare, so an alias (`pad_to_max_length`) counts too.
        if scratch == next {
            continue;
        }
        let (before, after) = (next.get(key), scratch.get(key));
        if let Some(k) = ControlKey::parse(key) {
            out.controls.push(Control::read(k, &scratch));
        } else if RESUME_KEYS.contains(&key) {
            out.changed
                .push((key.to_string(), show(before), show(after)));
            next = scratch;
        } else {
            fixed.push(key.to_string());
        }
    }
    if !fixed.is_empty() {
        return Err(ConfigError::Invalid {
            origin: "--resume".into(),
            message: format!(
                "{} cannot change on resume: the run continues exactly as its config.yaml and \
                 checkpoint say. Keys that can: {}. Fix: drop those --set options, or start a \
                 new run with them",
                fixed
                    .iter()
                    .map(|k| format!("`{k}`"))
                    .collect::<Vec<_>>()
                    .join(", "),
                resume_keys().join(", ")
            ),
        });
    }
    *config = next;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sets(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn resume_keys_apply_live_keys_become_controls_others_are_refused() {
        let base = TrainConfig::default();
        let mut c = base.clone();
        let o = apply_on_resume(&mut c, &sets(&["threads=3", "p=0.5", "seed=42"])).unwrap();
        assert_eq!(c.threads, 3);
        assert_eq!(c.p, base.p, "a live key waits for the trainer");
        assert_eq!(o.changed, vec![("threads".into(), "0".into(), "3".into())]);
        assert_eq!(o.controls.len(), 1);
        assert_eq!(o.controls[0].key(), ControlKey::P);
        assert_eq!(o.controls[0].number(), Some(0.5));
        let mut c = base.clone();
        let e = apply_on_resume(&mut c, &sets(&["max_steps=150", "threads=2", "seed=7"]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("`max_steps`, `seed` cannot change"), "{e}");
        assert!(
            e.contains("checkpoint_every") && e.contains("learning_rate"),
            "{e}"
        );
        assert_eq!(c, base, "nothing applied when a key is refused");
        let mut c = base.clone();
        let e = apply_on_resume(&mut c, &sets(&["pad_to_max_length=true"])).unwrap_err();
        assert!(e.to_string().contains("`pad_to_max_length`"), "{e}");
        let e = apply_on_resume(&mut c, &sets(&["threads=many"])).unwrap_err();
        assert!(e.to_string().contains("threads"), "{e}");
    }
}
