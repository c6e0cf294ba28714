//! A YAML value on one line, for messages: scalars as written, lists and mappings in flow
//! style (`[1, 2]`, `{a: 1}`), never block YAML spread over lines.

use serde_yaml::Value;

/// `v` on one line: a string as is, a list as `[1, 2]`, a mapping as `{a: 1, b: [x]}`.
pub fn inline(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => nested(other),
    }
}

/// `v` inside a list or mapping: strings that would read as something else are quoted.
fn nested(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => {
            let plain = !s.is_empty()
                && !s.contains([',', '[', ']', '{', '}', ':', '#', '"', '\'', '\n'])
                && s.trim() == s
                && matches!(serde_yaml::from_str::<Value>(s), Ok(Value::String(_)));
            if plain {
                s.clone()
            } else {
                serde_json::to_string(s).unwrap_or_else(|_| s.clone())
            }
        }
        Value::Sequence(items) => {
            let items: Vec<String> = items.iter().map(nested).collect();
            format!("[{}]", items.join(", "))
        }
        Value::Mapping(m) => {
            let items: Vec<String> = m
                .iter()
                .map(|(k, v)| format!("{}: {}", nested(k), nested(v)))
                .collect();
            format!("{{{}}}", items.join(", "))
        }
        Value::Tagged(t) => format!("{} {}", t.tag, nested(&t.value)),
    }
}

#[cfg(test)]
mod tests {
    use super::inline;

    fn yaml(text: &str) -> serde_yaml::Value {
        serde_yaml::from_str(text).unwrap()
    }

    #[test]
    fn lists_and_mappings_stay_on_one_line() {
        assert_eq!(inline(&yaml("- 1\n- 2\n")), "[1, 2]");
        assert_eq!(
            inline(&yaml("a: 1\nb: [x, 'y z']\n")),
            "{a: 1, b: [x, y z]}"
        );
        assert_eq!(inline(&yaml("[[1, 2], {}]")), "[[1, 2], {}]");
        assert_eq!(inline(&yaml("['1', 'a, b', '']")), r#"["1", "a, b", ""]"#);
        assert_eq!(inline(&yaml("abc")), "abc");
        assert_eq!(inline(&yaml("~")), "null");
        assert_eq!(inline(&yaml("2.5")), "2.5");
    }
}
