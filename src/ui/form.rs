//! The preset picker's state: a list of presets and a form of editable fields.
//!
//! Every field is validated by [`TrainConfig::set`] on every keystroke, so the error shown under
//! a field is the same one `--set` would give, and a run cannot start while any field is invalid.

use crate::config::{list_presets, Method, TrainConfig};
use crate::hub::HubSource;
use crate::ui::readiness::Readiness;
use std::time::Duration;

/// The fields the form edits, in display order.
pub const FORM_KEYS: [&str; 10] = [
    "method",
    "p",
    "update_ratio",
    "learning_rate",
    "batch_size",
    "max_steps",
    "seed",
    "model",
    "data_dir",
    "device",
];

/// Origin named in form errors.
pub const FORM_ORIGIN: &str = "picker form";

/// One preset in the list.
#[derive(Debug, Clone)]
pub struct PresetEntry {
    pub name: String,
    /// A file path or `built-in preset <name>`.
    pub origin: String,
    /// The parsed preset, or why it could not be read.
    pub config: Result<TrainConfig, String>,
}

/// One editable field.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    pub key: &'static str,
    /// The text as typed; read as a YAML scalar (empty or `null` = null).
    pub text: String,
    /// Why the text is refused, if it is.
    pub error: Option<String>,
}

/// Which half of the picker has the keyboard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PickerFocus {
    List,
    Form,
}

/// The picker's state.
#[derive(Debug, Clone)]
pub struct Picker {
    pub presets: Vec<PresetEntry>,
    /// Index of the highlighted preset.
    pub selected: usize,
    pub focus: PickerFocus,
    pub fields: Vec<Field>,
    /// Index of the highlighted field.
    pub field: usize,
    /// An error across fields (from `TrainConfig::validate`).
    pub form_error: Option<String>,
    /// The last error from starting a run, shown in a box until a key closes it.
    pub start_error: Option<String>,
    /// Lines the error box is scrolled down.
    pub error_scroll: u16,
    /// Whether the form's model and data can be had (`None` while the form is invalid).
    pub readiness: Option<Readiness>,
    /// The Hub cache and offline flag the readiness is checked against.
    pub hub: HubSource,
    /// Whether to ask the Hub's endpoint if it can be reached before calling a download ready
    /// (the real picker; tests leave it off).
    pub probe_hub: bool,
    /// The answer, once asked: `Err` says why the Hub cannot be reached.
    pub hub_reach: Option<Result<(), String>>,
}

/// Text for a config value in the form.
pub fn value_text(v: &serde_yaml::Value) -> String {
    match v {
        serde_yaml::Value::Null => "null".into(),
        serde_yaml::Value::String(s) => s.clone(),
        other => serde_yaml::to_string(other)
            .unwrap_or_default()
            .trim()
            .to_string(),
    }
}

/// Read form text as a YAML scalar, the way `--set key=value` does.
pub fn parse_text(text: &str) -> serde_yaml::Value {
    let t = text.trim();
    if t.is_empty() {
        return serde_yaml::Value::Null;
    }
    match serde_yaml::from_str::<serde_yaml::Value>(t) {
        // A flow mapping or sequence stays the user's text; `set` explains what it expects.
        Ok(serde_yaml::Value::Mapping(_) | serde_yaml::Value::Sequence(_)) => {
            serde_yaml::Value::String(t.to_string())
        }
        Ok(v) => v,
        Err(_) => serde_yaml::Value::String(t.to_string()),
    }
}

impl Picker {
    /// A picker over the presets found by [`list_presets`] (local `presets/` and built-in),
    /// each with the command line's settings (`--model`, `--data-dir`, `--set`, ...) applied by
    /// `overrides`, so the form starts from them.
    pub fn from_presets(overrides: impl Fn(&mut TrainConfig) -> Result<(), String>) -> Picker {
        let presets = list_presets()
            .into_iter()
            .map(|r| match r {
                Ok(mut p) => {
                    let config = overrides(&mut p.config).map(|()| p.config);
                    PresetEntry {
                        name: p.name,
                        origin: p.origin,
                        config,
                    }
                }
                Err(e) => PresetEntry {
                    name: "(broken preset)".into(),
                    origin: String::new(),
                    config: Err(e.to_string()),
                },
            })
            .collect();
        let mut picker = Picker::new(presets);
        picker.probe_hub = true;
        picker.revalidate();
        picker
    }

    /// A picker over the given presets; the first is highlighted.
    pub fn new(presets: Vec<PresetEntry>) -> Picker {
        let mut p = Picker {
            presets,
            selected: 0,
            focus: PickerFocus::List,
            fields: Vec::new(),
            field: 0,
            form_error: None,
            start_error: None,
            error_scroll: 0,
            readiness: None,
            hub: HubSource::from_env(),
            probe_hub: false,
            hub_reach: None,
        };
        p.load_fields();
        p
    }

    /// The highlighted preset's configuration, if it parsed.
    pub fn base(&self) -> Option<&TrainConfig> {
        self.presets.get(self.selected)?.config.as_ref().ok()
    }

    /// Fill the form from the highlighted preset.
    pub fn load_fields(&mut self) {
        let base = self.base().cloned().unwrap_or_default();
        self.fields = FORM_KEYS
            .iter()
            .map(|&key| Field {
                key,
                text: base.get(key).map(|v| value_text(&v)).unwrap_or_default(),
                error: None,
            })
            .collect();
        self.field = self.field.min(self.fields.len().saturating_sub(1));
        self.revalidate();
    }

    /// Highlight another preset and reload the form from it, with the first field highlighted
    /// (what is typed next goes into the field shown, not the one of the last preset).
    pub fn select(&mut self, index: usize) {
        if self.presets.is_empty() {
            return;
        }
        let index = index.min(self.presets.len() - 1);
        if index != self.selected {
            self.selected = index;
            self.field = 0;
            self.edited();
            self.load_fields();
        }
    }

    /// The form changed: the message of a failed start was about the settings before, so it
    /// goes (a new start that fails shows its own).
    fn edited(&mut self) {
        self.start_error = None;
        self.error_scroll = 0;
    }

    /// Re-check every field against the highlighted preset, and whether the model and data
    /// it names can be had.
    pub fn revalidate(&mut self) {
        let readiness = self
            .resolve()
            .map(|config| Readiness::check(&config, &self.hub));
        self.readiness = match readiness {
            // Asked also when the other input is missing: neither line may promise a download
            // that cannot happen.
            Some(r) if r.needs_hub() && self.probe_hub && !self.hub.offline => {
                let hub = &self.hub;
                let reach = self
                    .hub_reach
                    .get_or_insert_with(|| hub.probe_endpoint(Duration::from_millis(1500)));
                Some(match reach {
                    Ok(()) => r,
                    Err(why) => r.without_hub(why),
                })
            }
            other => other,
        };
    }

    /// Show why a run could not start, from the top of the message.
    pub fn show_start_error(&mut self, message: String) {
        self.start_error = Some(message);
        self.error_scroll = 0;
    }

    /// The message in the error box: a failed start, else invalid settings.
    pub fn shown_error(&self) -> Option<&String> {
        self.start_error.as_ref().or(self.form_error.as_ref())
    }

    /// Scroll the error box by `lines` (negative: up), at most to `max`.
    pub fn scroll_error(&mut self, lines: i32, max: u16) {
        self.error_scroll = (self.error_scroll as i32 + lines).clamp(0, max as i32) as u16;
    }

    /// The configuration the form describes, or `None` when a field (or the preset) is invalid.
    /// Updates each field's `error` and `form_error`.
    pub fn resolve(&mut self) -> Option<TrainConfig> {
        let Some(mut config) = self.base().cloned() else {
            self.form_error = self
                .presets
                .get(self.selected)
                .and_then(|p| p.config.as_ref().err().cloned())
                .or_else(|| Some("no preset selected".into()));
            return None;
        };
        let mut ok = true;
        for f in &mut self.fields {
            match config.set(f.key, &parse_text(&f.text), FORM_ORIGIN) {
                Ok(()) => f.error = None,
                Err(e) => {
                    f.error = Some(e.to_string());
                    ok = false;
                }
            }
        }
        self.form_error = None;
        if !ok {
            return None;
        }
        match config.validate(FORM_ORIGIN) {
            Ok(()) => Some(config),
            Err(e) => {
                self.form_error = Some(e.to_string());
                None
            }
        }
    }

    /// Whether every field is valid.
    pub fn is_valid(&self) -> bool {
        self.base().is_some()
            && self.form_error.is_none()
            && self.fields.iter().all(|f| f.error.is_none())
    }

    /// Type a character into the highlighted field (the method field cycles instead).
    pub fn type_char(&mut self, c: char) {
        if let Some(f) = self.fields.get_mut(self.field) {
            if f.key == "method" {
                return;
            }
            f.text.push(c);
        }
        self.edited();
        self.revalidate();
    }

    /// Delete the last character of the highlighted field.
    pub fn backspace(&mut self) {
        if let Some(f) = self.fields.get_mut(self.field) {
            f.text.pop();
        }
        self.edited();
        self.revalidate();
    }

    /// Clear the highlighted field.
    pub fn clear_field(&mut self) {
        if let Some(f) = self.fields.get_mut(self.field) {
            if f.key != "method" {
                f.text.clear();
            }
        }
        self.edited();
        self.revalidate();
    }

    /// Cycle the method field forward (`+1`) or back (`-1`).
    pub fn cycle_method(&mut self, dir: isize) {
        if let Some(f) = self.fields.iter_mut().find(|f| f.key == "method") {
            let n = Method::ALL.len() as isize;
            let cur = Method::parse(&f.text)
                .and_then(|m| Method::ALL.iter().position(|x| *x == m))
                .unwrap_or(0) as isize;
            let next = (cur + dir).rem_euclid(n) as usize;
            f.text = Method::ALL[next].as_str().to_string();
        }
        self.edited();
        self.revalidate();
    }
}

/// Short form of a model id for narrow columns (`sentence-transformers/all-MiniLM-L6-v2` →
/// `all-MiniLM-L6-v2`).
pub fn short_model(model: &str) -> &str {
    model
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or(model)
}

/// The length of a preset's run, e.g. `468 steps` or `3 epochs`.
pub fn steps_text(c: &TrainConfig) -> String {
    match c.max_steps {
        Some(n) => format!("{n} steps"),
        None => format!("{} epochs", c.num_epochs),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn picker() -> Picker {
        Picker::new(vec![PresetEntry {
            name: "rte".into(),
            origin: "test".into(),
            config: Ok(TrainConfig {
                max_steps: Some(468),
                ..TrainConfig::default()
            }),
        }])
    }

    #[test]
    fn fields_come_from_the_preset() {
        let p = picker();
        let text = |k: &str| p.fields.iter().find(|f| f.key == k).unwrap().text.clone();
        assert_eq!(text("method"), "dps-dense");
        assert_eq!(text("p"), "0.3");
        assert_eq!(text("max_steps"), "468");
        assert_eq!(text("data_dir"), "null");
        assert!(p.is_valid());
    }

    #[test]
    fn a_bad_value_is_reported_under_its_field_and_blocks_start() {
        let mut p = picker();
        p.field = FORM_KEYS.iter().position(|k| *k == "p").unwrap();
        p.clear_field();
        for c in "1.5".chars() {
            p.type_char(c);
        }
        let err = p.fields[p.field].error.clone().expect("p=1.5 is refused");
        assert!(err.contains("`p`") && err.contains("expected"), "{err}");
        assert!(p.resolve().is_none());
        assert!(!p.is_valid());
        p.backspace();
        p.backspace();
        assert_eq!(p.fields[p.field].text, "1");
        p.clear_field();
        for c in "0.5".chars() {
            p.type_char(c);
        }
        assert_eq!(p.resolve().expect("valid").p, 0.5);
    }

    #[test]
    fn method_cycles_and_cross_field_checks_apply() {
        let mut p = picker();
        p.cycle_method(1);
        assert_eq!(p.fields[0].text, "dps-mix");
        p.field = 1;
        p.clear_field();
        p.type_char('0');
        assert!(
            p.resolve().is_none(),
            "dps-mix with p=0 is refused by validate"
        );
        assert!(p.form_error.as_deref().unwrap().contains("dps-mix"));
        p.cycle_method(-1);
        assert!(p.resolve().is_some());
    }

    #[test]
    fn text_parsing() {
        assert_eq!(parse_text(""), serde_yaml::Value::Null);
        assert_eq!(parse_text("null"), serde_yaml::Value::Null);
        assert_eq!(
            parse_text("cuda:1"),
            serde_yaml::Value::String("cuda:1".into())
        );
        assert_eq!(parse_text("[1"), serde_yaml::Value::String("[1".into()));
        assert_eq!(short_model("a/b/c"), "c");
    }
}
