//! Short text for numbers, durations, sizes and JSON values, shared by every screen.

/// A JSON value as short text (numbers in compact form).
pub fn value_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Number(n) => match n.as_f64() {
            Some(x) => fmt_num(x),
            None => n.to_string(),
        },
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A number in at most ~7 characters: `0.3`, `0.025`, `2e-5`, `1234`.
pub fn fmt_num(x: f64) -> String {
    if !x.is_finite() {
        return format!("{x}");
    }
    let a = x.abs();
    if a != 0.0 && !(1e-3..1e5).contains(&a) {
        let s = format!("{x:.1e}");
        // 2.0e-5 → 2e-5
        return s.replace(".0e", "e");
    }
    if x.fract() == 0.0 {
        return format!("{x:.0}");
    }
    let s = format!("{x:.4}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// A duration as `42s`, `3m05s` or `1h02m`.
pub fn fmt_duration(secs: f64) -> String {
    if !secs.is_finite() || secs < 0.0 {
        return "n/a".into();
    }
    let s = secs.round() as u64;
    if s < 60 {
        format!("{s}s")
    } else if s < 3600 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{}h{:02}m", s / 3600, (s % 3600) / 60)
    }
}

/// Bytes as `512 MiB` / `1.2 GiB`.
pub fn fmt_bytes(b: u64) -> String {
    let mib = b as f64 / (1024.0 * 1024.0);
    if mib >= 1024.0 {
        format!("{:.1} GiB", mib / 1024.0)
    } else {
        format!("{mib:.0} MiB")
    }
}

/// A download as the picker and the status bar show it:
/// `downloading model.safetensors  34.1/90.9 MB  5.2 MB/s  ETA 11s` (the rate and the time
/// left once bytes have arrived). Sizes are in decimal units, as the Hub lists them.
pub fn download_text(s: &crate::hub::progress::DownloadStatus) -> String {
    let mb = |b: f64| b / 1e6;
    // Small files in kB, so that a tokenizer's progress shows at all.
    let (unit, scale) = if s.total >= 1_000_000 {
        ("MB", 1e6)
    } else {
        ("kB", 1e3)
    };
    let mut t = format!(
        "downloading {}  {:.1}/{:.1} {unit}",
        s.file,
        s.done as f64 / scale,
        s.total as f64 / scale
    );
    if let Some(rate) = s.rate() {
        t += &format!("  {:.1} MB/s", mb(rate));
    }
    if let Some(eta) = s.eta() {
        t += &format!("  ETA {}", fmt_duration(eta.as_secs_f64()));
    }
    t
}

/// `text` broken into lines of at most `width` characters, at spaces where possible (a word
/// longer than a line is cut). Line breaks in `text` are kept.
pub fn wrap_text(text: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut out = Vec::new();
    for para in text.split('\n') {
        let mut line = String::new();
        for word in para.split(' ').filter(|w| !w.is_empty()) {
            let mut word: Vec<char> = word.chars().collect();
            let used = line.chars().count();
            if used > 0 && used + 1 + word.len() <= width {
                line.push(' ');
                line.extend(word.iter());
                continue;
            }
            if used > 0 {
                out.push(std::mem::take(&mut line));
            }
            while word.len() > width {
                out.push(word.drain(..width).collect());
            }
            line.extend(word.iter());
        }
        out.push(line);
    }
    out
}

/// Cut `s` to `w` characters, ending in `…` when cut.
pub fn fit(s: &str, w: usize) -> String {
    if s.chars().count() <= w {
        return s.to_string();
    }
    if w == 0 {
        return String::new();
    }
    let mut out: String = s.chars().take(w - 1).collect();
    out.push('…');
    out
}

/// [`wrap_text`] in at most `rows` lines (at least one); when the text needs more, the last
/// line kept is cut to end in `tail` (`"…"`, `"… (enter: details)"`). Returns the lines and
/// whether the text was cut.
pub fn wrap_capped(text: &str, width: usize, rows: usize, tail: &str) -> (Vec<String>, bool) {
    let mut lines = wrap_text(text, width);
    let rows = rows.max(1);
    if lines.len() <= rows {
        return (lines, false);
    }
    lines.truncate(rows);
    let last = &mut lines[rows - 1];
    let keep = width.saturating_sub(tail.chars().count());
    *last = last
        .chars()
        .take(keep)
        .collect::<String>()
        .trim_end()
        .to_string();
    last.push_str(tail);
    *last = last.chars().take(width.max(1)).collect();
    (lines, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn number_formatting() {
        assert_eq!(fmt_num(2e-5), "2e-5");
        assert_eq!(fmt_num(0.3), "0.3");
        assert_eq!(fmt_num(0.025), "0.025");
        assert_eq!(fmt_num(1234.0), "1234");
        assert_eq!(fmt_duration(65.0), "1m05s");
        assert_eq!(fmt_duration(3725.0), "1h02m");
        assert_eq!(fmt_bytes(512 * 1024 * 1024), "512 MiB");
        assert_eq!(value_text(&serde_json::json!("strict")), "strict");
        assert_eq!(value_text(&serde_json::json!(0.05)), "0.05");
    }

    #[test]
    fn wrapping_keeps_every_word_within_the_width() {
        let text =
            "listing the files failed: request error: https://huggingface.co/api/models/x: Dns";
        let lines = wrap_text(text, 20);
        assert!(lines.iter().all(|l| l.chars().count() <= 20), "{lines:?}");
        let squeeze = |s: &str| s.split_whitespace().collect::<String>();
        assert_eq!(squeeze(&lines.concat()), squeeze(text), "nothing is lost");
        assert_eq!(lines[0], "listing the files");
        assert_eq!(wrap_text("a\nb", 10), ["a", "b"]);
        assert_eq!(wrap_text("abcdef", 4), ["abcd", "ef"]);
    }

    #[test]
    fn capped_wrapping_ends_in_the_tail_when_cut() {
        assert_eq!(fit("abcdef", 4), "abc…");
        assert_eq!(fit("abc", 4), "abc");
        let (lines, cut) = wrap_capped("one two three four five six", 9, 2, "…");
        assert!(cut);
        assert_eq!(lines, ["one two", "three…"]);
        let (lines, cut) = wrap_capped("one two", 9, 2, "…");
        assert_eq!((lines, cut), (vec!["one two".to_string()], false));
        let (lines, _) = wrap_capped("aaaa bbbb cccc dddd", 10, 1, "… (more)");
        assert_eq!(lines, ["aa… (more)"]);
    }
}
