//! The live controls of a run as its log tells them: the value each started with (the first
//! `start` event's configuration) and the value it ended with (the last `applied` control
//! event, else the value it started with). `compare` shows the end values, marking those
//! changed while training (`0.3→0.5`).
//!
//! A resumed run's log holds every `applied` event up to its checkpoint (the resume cuts only
//! what came after), and its own `start` event carries the values in effect then, so the fold
//! over the whole log gives the values the run trained with to its end.

use crate::config::ControlKey;
use crate::core::events::{ControlStatus, Event};
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;

/// One live control: the value a run started with and the one it ended with.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LiveValue {
    pub start: Option<Value>,
    pub end: Option<Value>,
}

impl LiveValue {
    /// Whether the value changed while training.
    pub fn changed(&self) -> bool {
        self.start != self.end
    }

    /// The end value as the configuration table writes values, `start→end` when it changed.
    pub fn text(&self) -> String {
        let text = |v: &Option<Value>| match v {
            Some(Value::String(s)) => s.clone(),
            Some(v) => v.to_string(),
            None => "?".into(),
        };
        if self.changed() {
            format!("{}→{}", text(&self.start), text(&self.end))
        } else {
            text(&self.end)
        }
    }
}

/// Every live control of a run, by its configuration key (`p`, `learning_rate`, ...).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(transparent)]
pub struct LiveValues(pub BTreeMap<String, LiveValue>);

impl LiveValues {
    /// The values after `events`, in order.
    pub fn from_events<'a>(events: impl IntoIterator<Item = &'a Event>) -> LiveValues {
        let mut v = LiveValues::default();
        for e in events {
            v.apply(e);
        }
        v
    }

    /// Fold one event in: the first `start` event gives each control its starting value, an
    /// `applied` control event its new value. Later `start` events (resumes) change nothing:
    /// the events before them already say what was applied.
    pub fn apply(&mut self, e: &Event) {
        match e {
            Event::Start { config, .. } => {
                for key in ControlKey::ALL {
                    self.0
                        .entry(key.name().to_string())
                        .or_insert_with(|| LiveValue {
                            start: config.get(key.name()).cloned(),
                            end: config.get(key.name()).cloned(),
                        });
                }
            }
            Event::Control {
                key,
                value,
                status: ControlStatus::Applied,
                ..
            } => {
                self.0
                    .entry(key.name().to_string())
                    .or_insert(LiveValue {
                        start: None,
                        end: None,
                    })
                    .end = Some(value.clone());
            }
            _ => {}
        }
    }

    /// The control named `key`, if the log says anything of it.
    pub fn get(&self, key: &str) -> Option<&LiveValue> {
        self.0.get(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Control, Freeze};
    use crate::core::events::{ControlOutcome, EVENT_SCHEMA_VERSION};

    fn start(config: Value, start_step: usize) -> Event {
        Event::Start {
            schema: EVENT_SCHEMA_VERSION,
            task: "demo".into(),
            method: "dps-dense".into(),
            total_steps: 12,
            steps_per_epoch: 4,
            num_train: 64,
            num_dev: 16,
            config,
            start_step,
            device: None,
        }
    }

    #[test]
    fn the_end_values_are_the_last_applied_ones() {
        let config = serde_json::json!({"p": 0.3, "learning_rate": 0.001, "freeze": "gradient"});
        let ev = [
            start(config.clone(), 0),
            Event::control(
                2,
                &Control::P(0.5),
                ControlOutcome::pending("next selection"),
            ),
            Event::control(4, &Control::P(0.5), ControlOutcome::applied(None)),
            Event::control(
                5,
                &Control::Freeze(Freeze::Strict),
                ControlOutcome::pending("next selection"),
            ),
            Event::control(
                6,
                &Control::LearningRate(0.002),
                ControlOutcome::rejected("no"),
            ),
            // A resume from an older version, whose start event says config.yaml's values.
            start(config, 5),
        ];
        let v = LiveValues::from_events(&ev);
        assert_eq!(v.get("p").unwrap().text(), "0.3→0.5");
        assert!(v.get("p").unwrap().changed());
        // Pending at the end, or rejected: the run ended with the value it started with.
        assert_eq!(v.get("freeze").unwrap().text(), "gradient");
        assert_eq!(v.get("learning_rate").unwrap().text(), "0.001");
        assert!(!v.get("learning_rate").unwrap().changed());
        // A key the configuration lacks reads as unknown, not as a value.
        assert_eq!(v.get("update_ratio").unwrap().text(), "?");
    }
}
