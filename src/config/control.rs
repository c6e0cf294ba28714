//! The settings that can change while a run trains, typed, with each range declared once here.
//!
//! A [`Control`] travels from the UI to the trainer inside `Command::Control`. Every check of a
//! value goes through [`Control::validate`] (the trainer before it applies a control,
//! [`super::TrainConfig::set`] for presets and `--set`, the config's cross-key validation), and
//! the UI's clamping uses [`ControlKey::range`].

use super::{ConfigError, Freeze, Method, SelectionScope, TrainConfig};
use serde::{Deserialize, Serialize};
use std::fmt;

/// An interval of numbers, each end open or closed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Range {
    pub lo: f64,
    pub hi: f64,
    pub lo_open: bool,
    pub hi_open: bool,
}

impl Range {
    /// Whether `x` is a finite number inside the interval.
    pub fn contains(&self, x: f64) -> bool {
        x.is_finite()
            && (if self.lo_open {
                x > self.lo
            } else {
                x >= self.lo
            })
            && (if self.hi_open {
                x < self.hi
            } else {
                x <= self.hi
            })
    }

    /// `x` moved into the interval; an open end is kept `margin` inside it.
    pub fn clamp(&self, x: f64, margin: f64) -> f64 {
        let lo = if self.lo_open {
            self.lo + margin
        } else {
            self.lo
        };
        let hi = if self.hi_open {
            self.hi - margin
        } else {
            self.hi
        };
        x.clamp(lo, hi)
    }
}

impl fmt::Display for Range {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (l, r) = (
            if self.lo_open { '(' } else { '[' },
            if self.hi_open { ')' } else { ']' },
        );
        write!(f, "{l}{}, {}{r}", self.lo, self.hi)
    }
}

/// The keys that can change while training. Serialised as [`ControlKey::name`] spells them
/// (`"p"`, `"learning_rate"`); `"lr"`, an older spelling in control events, still reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ControlKey {
    /// DPS: the share of each DPS matrix frozen at the next selection.
    P,
    /// The peak learning rate of the schedule (the schedule's shape is kept).
    #[serde(alias = "lr")]
    LearningRate,
    /// DPS: the stage length as a share of the total steps, from the next stage on.
    UpdateRatio,
    /// DPS: top-k per matrix or over all DPS matrices, from the next selection on.
    SelectionScope,
    /// DPS: gradient-only or strict freeze, from the next selection on.
    Freeze,
}

impl ControlKey {
    pub const ALL: [ControlKey; 5] = [
        ControlKey::P,
        ControlKey::LearningRate,
        ControlKey::UpdateRatio,
        ControlKey::SelectionScope,
        ControlKey::Freeze,
    ];

    /// The key as presets, `--set` and control events spell it.
    pub fn name(self) -> &'static str {
        match self {
            ControlKey::P => "p",
            ControlKey::LearningRate => "learning_rate",
            ControlKey::UpdateRatio => "update_ratio",
            ControlKey::SelectionScope => "selection_scope",
            ControlKey::Freeze => "freeze",
        }
    }

    pub fn parse(name: &str) -> Option<ControlKey> {
        ControlKey::ALL.into_iter().find(|k| k.name() == name)
    }

    /// The range of a numeric key (`None` for the keys that take a name).
    pub fn range(self) -> Option<Range> {
        let (lo, hi, lo_open, hi_open) = match self {
            ControlKey::P => (0.0, 1.0, false, true),
            ControlKey::LearningRate | ControlKey::UpdateRatio => (0.0, 1.0, true, false),
            ControlKey::SelectionScope | ControlKey::Freeze => return None,
        };
        Some(Range {
            lo,
            hi,
            lo_open,
            hi_open,
        })
    }

    /// The names a key that takes a name accepts (empty for numeric keys).
    pub fn choices(self) -> &'static [&'static str] {
        match self {
            ControlKey::SelectionScope => &["per-matrix", "global"],
            ControlKey::Freeze => &["gradient", "strict"],
            _ => &[],
        }
    }
}

impl fmt::Display for ControlKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One live change of a setting. Serialised as `{"key": ..., "value": ...}`, the same key and
/// value a `control` event carries.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "key", content = "value", rename_all = "snake_case")]
pub enum Control {
    P(f64),
    LearningRate(f64),
    UpdateRatio(f64),
    SelectionScope(SelectionScope),
    Freeze(Freeze),
}

impl Control {
    pub fn key(&self) -> ControlKey {
        match self {
            Control::P(_) => ControlKey::P,
            Control::LearningRate(_) => ControlKey::LearningRate,
            Control::UpdateRatio(_) => ControlKey::UpdateRatio,
            Control::SelectionScope(_) => ControlKey::SelectionScope,
            Control::Freeze(_) => ControlKey::Freeze,
        }
    }

    /// The number of a numeric control.
    pub fn number(&self) -> Option<f64> {
        match *self {
            Control::P(x) | Control::LearningRate(x) | Control::UpdateRatio(x) => Some(x),
            Control::SelectionScope(_) | Control::Freeze(_) => None,
        }
    }

    /// The value as a control event carries it: a number, or the name as in a preset.
    pub fn value_json(&self) -> serde_json::Value {
        match self {
            Control::SelectionScope(s) => serde_json::to_value(s).unwrap_or_default(),
            Control::Freeze(f) => serde_json::to_value(f).unwrap_or_default(),
            _ => serde_json::json!(self.number()),
        }
    }

    /// Whether the value is allowed for a run of `method`; the message says why not.
    pub fn validate(&self, method: Method) -> Result<(), String> {
        let key = self.key();
        if let (Some(x), Some(range)) = (self.number(), key.range()) {
            if !range.contains(x) {
                return Err(format!("{key} must be in {range}, got {x}"));
            }
        }
        if method == Method::DpsMix && matches!(self, Control::P(p) if *p <= 0.0) {
            return Err(
                "dps-mix needs p > 0 (it divides by 1-p and mixes with probability p)".into(),
            );
        }
        Ok(())
    }

    /// The current value of `key` in a configuration.
    pub fn read(key: ControlKey, config: &TrainConfig) -> Control {
        match key {
            ControlKey::P => Control::P(config.p),
            ControlKey::LearningRate => Control::LearningRate(config.learning_rate),
            ControlKey::UpdateRatio => Control::UpdateRatio(config.update_ratio),
            ControlKey::SelectionScope => Control::SelectionScope(config.selection_scope),
            ControlKey::Freeze => Control::Freeze(config.freeze),
        }
    }

    /// Write the value into a configuration.
    pub fn apply_to(&self, config: &mut TrainConfig) {
        match *self {
            Control::P(x) => config.p = x,
            Control::LearningRate(x) => config.learning_rate = x,
            Control::UpdateRatio(x) => config.update_ratio = x,
            Control::SelectionScope(s) => config.selection_scope = s,
            Control::Freeze(f) => config.freeze = f,
        }
    }

    /// A control from a YAML value as a preset writes it; `None` when the value is of the wrong
    /// kind or out of its range.
    pub fn from_yaml(key: ControlKey, value: &serde_yaml::Value) -> Option<Control> {
        let number = || {
            value
                .as_f64()
                .or_else(|| value.as_i64().map(|i| i as f64))
                .filter(|x| key.range().is_some_and(|r| r.contains(*x)))
        };
        let name = value.as_str();
        Some(match key {
            ControlKey::P => Control::P(number()?),
            ControlKey::LearningRate => Control::LearningRate(number()?),
            ControlKey::UpdateRatio => Control::UpdateRatio(number()?),
            ControlKey::SelectionScope => Control::SelectionScope(match name? {
                "per-matrix" => SelectionScope::PerMatrix,
                "global" => SelectionScope::Global,
                _ => return None,
            }),
            ControlKey::Freeze => Control::Freeze(match name? {
                "gradient" => Freeze::Gradient,
                "strict" => Freeze::Strict,
                _ => return None,
            }),
        })
    }

    /// A control from text, as typed (`freeze`, `strict`). The error names the key and what it
    /// accepts, or the keys that can change while training.
    pub fn parse(key: &str, value: &str) -> Result<Control, ConfigError> {
        let Some(k) = ControlKey::parse(key) else {
            return Err(ConfigError::NotLive {
                key: key.into(),
                live: ControlKey::ALL.map(ControlKey::name).join(", "),
            });
        };
        let mut probe = TrainConfig::default();
        probe.set_override(&format!("{key}={value}"))?;
        Ok(Control::read(k, &probe))
    }
}

impl fmt::Display for Control {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}", self.key(), self.value_json())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_decide_validation_and_clamping() {
        let p = ControlKey::P.range().unwrap();
        assert!(p.contains(0.0) && p.contains(0.95) && !p.contains(1.0) && !p.contains(-0.1));
        assert_eq!(p.clamp(1.3, 0.05), 0.95);
        assert_eq!(p.clamp(-0.2, 0.05), 0.0);
        let lr = ControlKey::LearningRate.range().unwrap();
        assert!(!lr.contains(0.0) && lr.contains(1.0) && !lr.contains(f64::NAN));
        assert_eq!(lr.clamp(0.0, 1e-9), 1e-9);
        assert_eq!(lr.clamp(4.0, 1e-9), 1.0);
        assert_eq!(p.to_string(), "[0, 1)");
        assert_eq!(lr.to_string(), "(0, 1]");
        let e = Control::P(1.0).validate(Method::DpsDense).unwrap_err();
        assert_eq!(e, "p must be in [0, 1), got 1");
        assert!(Control::UpdateRatio(0.0)
            .validate(Method::DpsDense)
            .is_err());
        assert!(Control::P(0.0).validate(Method::DpsDense).is_ok());
        assert!(Control::P(0.0).validate(Method::DpsMix).is_err());
        assert!(Control::Freeze(Freeze::Strict)
            .validate(Method::Vanilla)
            .is_ok());
    }

    #[test]
    fn the_config_refuses_exactly_what_validate_refuses() {
        for key in ControlKey::ALL {
            let Some(range) = key.range() else { continue };
            for x in [-0.5, 0.0, 1e-9, 0.3, 0.999, 1.0, 1.5] {
                let mut c = TrainConfig::default();
                let set = c.set_override(&format!("{key}={x}")).is_ok();
                let valid = Control::from_yaml(key, &serde_yaml::Value::from(x))
                    .is_some_and(|c| c.validate(Method::DpsDense).is_ok());
                assert_eq!(set, range.contains(x), "{key}={x}");
                assert_eq!(set, valid, "{key}={x}");
                if set {
                    assert_eq!(Control::read(key, &c).number(), Some(x));
                }
            }
        }
    }

    #[test]
    fn parse_names_the_key_and_the_choices() {
        assert_eq!(
            Control::parse("freeze", "strict").unwrap(),
            Control::Freeze(Freeze::Strict)
        );
        assert_eq!(
            Control::parse("selection_scope", "global").unwrap(),
            Control::SelectionScope(SelectionScope::Global)
        );
        assert_eq!(Control::parse("p", "0.4").unwrap(), Control::P(0.4));
        let e = Control::parse("freeze", "sideways")
            .unwrap_err()
            .to_string();
        assert!(e.contains("freeze") && e.contains("strict"), "{e}");
        let e = Control::parse("max_steps", "100").unwrap_err().to_string();
        assert!(
            e.contains("max_steps") && e.contains("selection_scope"),
            "{e}"
        );
        assert!(Control::parse("p", "1.5").is_err());
    }

    #[test]
    fn serialises_as_key_and_value() {
        let c = Control::Freeze(Freeze::Strict);
        let j = serde_json::to_value(c).unwrap();
        assert_eq!(j, serde_json::json!({"key": "freeze", "value": "strict"}));
        assert_eq!(c.value_json(), serde_json::json!("strict"));
        assert_eq!(Control::P(0.25).value_json(), serde_json::json!(0.25));
        for c in [
            Control::P(0.25),
            Control::LearningRate(2e-5),
            Control::UpdateRatio(0.1),
            Control::SelectionScope(SelectionScope::Global),
            Control::Freeze(Freeze::Gradient),
        ] {
            let back: Control = serde_json::from_value(serde_json::to_value(c).unwrap()).unwrap();
            assert_eq!(back, c);
            assert_eq!(c.key().name(), serde_json::to_value(c).unwrap()["key"]);
        }
        for key in ControlKey::ALL {
            let j = serde_json::to_value(key).unwrap();
            assert_eq!(j, serde_json::json!(key.name()));
            assert_eq!(serde_json::from_value::<ControlKey>(j).unwrap(), key);
        }
        let lr: ControlKey = serde_json::from_str("\"lr\"").unwrap();
        assert_eq!(lr, ControlKey::LearningRate);
        assert!(serde_json::from_str::<ControlKey>("\"max_steps\"").is_err());
        for key in ControlKey::ALL {
            for choice in key.choices() {
                assert_eq!(Control::parse(key.name(), choice).unwrap().key(), key);
            }
        }
    }
}
