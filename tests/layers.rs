//! The modules form layers that point one way:
//! `main → cli → watch → ui, sweep → runs, diagnostics → train → dps → core → config → data →
//! hub → model → rng`.
//! A file may name (`crate::x` in the library, `dps_tui::x` in the binary) only modules of a
//! lower layer than its own, so no two modules import each other.

use std::path::{Path, PathBuf};

/// Top to bottom. A module may import only modules in a later entry.
const LAYERS: &[&[&str]] = &[
    &["main"],
    &["cli"],
    &["watch"],
    &["ui", "sweep"],
    &["runs", "diagnostics"],
    &["train"],
    &["dps"],
    &["core"],
    &["config"],
    &["data"],
    &["hub"],
    &["model"],
    &["rng"],
];

fn layer(module: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&module))
}

/// The top-level module a file under `src/` belongs to (`src/train/trainer.rs` → `train`),
/// `None` for `lib.rs`.
fn module_of(rel: &Path) -> Option<String> {
    let first = rel
        .components()
        .next()?
        .as_os_str()
        .to_string_lossy()
        .to_string();
    let name = first.strip_suffix(".rs").unwrap_or(&first).to_string();
    (name != "lib").then_some(name)
}

/// The top-level modules a source text names through `crate::` or `dps_tui::`, with their line
/// numbers, grouped imports included (`use crate::{train::X, core::Y}`, over several lines too).
/// Comment lines are skipped.
fn imports(text: &str) -> Vec<(usize, String)> {
    // The code with comments blanked, newlines kept so offsets map to lines.
    let code: String = text
        .lines()
        .map(|line| {
            if line.trim_start().starts_with("//") {
                String::new()
            } else {
                line.split(" //").next().unwrap_or(line).to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    let line_of = |at: usize| code[..at].matches('\n').count() + 1;
    let ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect()
    };
    let mut out = Vec::new();
    for prefix in ["crate::", "dps_tui::"] {
        let mut from = 0;
        while let Some(found) = code[from..].find(prefix) {
            let at = from + found;
            from = at + prefix.len();
            let before = code[..at].chars().last();
            // `$crate::` (macros) and `foo_crate::` are not paths into this crate.
            if before.is_some_and(|c| c == '$' || c.is_alphanumeric() || c == '_') {
                continue;
            }
            let after = &code[from..];
            if let Some(group) = after.strip_prefix('{') {
                // Each top-level item of the group names a module.
                let mut depth = 0usize;
                let mut item_start = 0usize;
                let base = from + 1;
                for (i, c) in group.char_indices() {
                    let end_of_item = match c {
                        '{' => {
                            depth += 1;
                            false
                        }
                        '}' if depth == 0 => true,
                        '}' => {
                            depth -= 1;
                            false
                        }
                        ',' => depth == 0,
                        _ => false,
                    };
                    if end_of_item {
                        let item = &group[item_start..i];
                        let trimmed = item.trim_start();
                        let name = ident(trimmed);
                        if !name.is_empty() && name != "self" {
                            let off = base + item_start + (item.len() - trimmed.len());
                            out.push((line_of(off), name));
                        }
                        item_start = i + 1;
                        if c == '}' {
                            break;
                        }
                    }
                }
            } else {
                let name = ident(after);
                if !name.is_empty() {
                    out.push((line_of(at), name));
                }
            }
        }
    }
    out.sort();
    out
}

/// Every import of `text` (a file of `module`) that points up or sideways, as messages.
fn violations(file: &str, module: &str, text: &str) -> Vec<String> {
    let Some(own) = layer(module) else {
        return vec![format!(
            "{file}: module `{module}` is in no layer. Fix: add it to LAYERS in tests/layers.rs and to the module map in src/lib.rs"
        )];
    };
    imports(text)
        .into_iter()
        .filter(|(_, m)| m != module)
        .filter_map(|(line, m)| match layer(&m) {
            Some(l) if l > own => None,
            Some(_) => Some(format!(
                "{file}:{line}: `{module}` imports `{m}`, which is not below it"
            )),
            None => Some(format!(
                "{file}:{line}: `{module}` imports `{m}`, which is in no layer"
            )),
        })
        .collect()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

#[test]
fn every_module_imports_only_the_layers_below_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    assert!(
        files.len() > 20,
        "found only {} files under src/",
        files.len()
    );
    let mut bad = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for f in &files {
        let rel = f.strip_prefix(&src).unwrap();
        let Some(module) = module_of(rel) else {
            continue;
        };
        seen.insert(module.clone());
        let text = std::fs::read_to_string(f).unwrap();
        bad.extend(violations(&rel.display().to_string(), &module, &text));
    }
    assert!(
        bad.is_empty(),
        "imports against the layers:\n{}",
        bad.join("\n")
    );
    for l in LAYERS.iter().flat_map(|l| l.iter()) {
        assert!(
            seen.contains(*l),
            "LAYERS names `{l}`, which is not a module under src/"
        );
    }
}

#[test]
fn the_check_catches_an_upward_import() {
    let text = "//! doc naming crate::train is fine\nuse crate::core::events::Event;\nuse crate::train::Trainer;\n";
    let v = violations("dps/x.rs", "dps", text);
    assert_eq!(v.len(), 1, "{v:?}");
    assert!(
        v[0].contains("dps/x.rs:3") && v[0].contains("`train`"),
        "{v:?}"
    );
    // Inline paths count too; `$crate::` in macros does not.
    let v = violations(
        "data/x.rs",
        "data",
        "let t = crate::config::TASKS;\n$crate::x!();\n",
    );
    assert_eq!(v.len(), 1, "{v:?}");
    // The binary names the library as `dps_tui::`.
    assert!(violations("cli/mod.rs", "cli", "use dps_tui::ui::App;\n").is_empty());
    // Grouped imports name each of their modules, over several lines too.
    let v = violations(
        "dps/x.rs",
        "dps",
        "use crate::{\n    core::StepMasks,\n    train::{Trainer, X},\n};\n",
    );
    assert_eq!(v.len(), 1, "{v:?}");
    assert!(
        v[0].contains("dps/x.rs:3") && v[0].contains("`train`"),
        "{v:?}"
    );
    assert_eq!(
        violations("ui/x.rs", "ui", "use dps_tui::cli::Cli;\n").len(),
        1
    );
    assert_eq!(
        violations("new.rs", "new", "").len(),
        1,
        "an unknown module is reported"
    );
}

/// The module path of a file under `src/` (`model/bert/layout.rs` → `["model", "bert",
/// "layout"]`, `model/bert/mod.rs` → `["model", "bert"]`, `lib.rs` and `main.rs` → `[]`).
fn file_module(rel: &Path) -> Vec<String> {
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().to_string())
        .collect();
    if let Some(last) = parts.pop() {
        let stem = last.strip_suffix(".rs").unwrap_or(&last).to_string();
        if !matches!(stem.as_str(), "mod" | "lib" | "main") {
            parts.push(stem);
        }
    }
    parts
}

/// The paths a source text names through `crate::`, `super::` and `self::` (grouped imports
/// expanded), outside comments and outside its `#[cfg(test)]` part, each as written after the
/// prefix: (`crate`|`super`|`self`, segments).
fn local_paths(text: &str) -> Vec<(String, Vec<String>)> {
    let code: String = text
        .split("#[cfg(test)]")
        .next()
        .unwrap_or("")
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    let is_ident = |c: char| c.is_alphanumeric() || c == '_';
    let segments = |s: &str| -> Vec<String> {
        let mut out = Vec::new();
        let mut rest = s;
        loop {
            let name: String = rest.chars().take_while(|c| is_ident(*c)).collect();
            if name.is_empty() {
                break;
            }
            rest = &rest[name.len()..];
            out.push(name);
            match rest.strip_prefix("::") {
                Some(r) => rest = r,
                None => break,
            }
        }
        out
    };
    let mut out = Vec::new();
    for base in ["crate", "super", "self"] {
        let prefix = format!("{base}::");
        let mut from = 0;
        while let Some(found) = code[from..].find(&prefix) {
            let at = from + found;
            from = at + prefix.len();
            // `$crate::` (macros), `foo_crate::`, and a `super::` inside a longer path.
            if code[..at]
                .chars()
                .last()
                .is_some_and(|c| is_ident(c) || c == '$')
                || code[..at].ends_with("::")
            {
                continue;
            }
            let after = &code[from..];
            let mut head = segments(after);
            // `super::super::x`
            let supers = head.iter().take_while(|s| *s == "super").count();
            let lead = vec!["super".to_string(); supers];
            head.drain(..supers);
            let rest = &after[head_len(after, supers)..];
            if let Some(group) = rest.strip_prefix('{').filter(|_| head.is_empty()) {
                let end = group.find('}').unwrap_or(group.len());
                for item in group[..end].split(',') {
                    let mut p = lead.clone();
                    p.extend(segments(item.trim()));
                    out.push((base.to_string(), p));
                }
            } else {
                let mut p = lead;
                p.extend(head);
                out.push((base.to_string(), p));
            }
        }
    }
    out
}

/// The length of `n` leading `super::` segments.
fn head_len(s: &str, n: usize) -> usize {
    let mut len = 0;
    for _ in 0..n {
        len += "super::".len();
    }
    len.min(s.len())
}

#[test]
fn no_two_files_import_each_other() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let modules: Vec<Vec<String>> = files
        .iter()
        .map(|f| file_module(f.strip_prefix(&src).unwrap()))
        .collect();
    let known: std::collections::BTreeSet<&Vec<String>> = modules.iter().collect();
    let mut edges: std::collections::BTreeMap<
        Vec<String>,
        std::collections::BTreeSet<Vec<String>>,
    > = Default::default();
    for (f, me) in files.iter().zip(&modules) {
        let text = std::fs::read_to_string(f).unwrap();
        for (base, segs) in local_paths(&text) {
            let mut path: Vec<String> = match base.as_str() {
                "crate" => Vec::new(),
                "super" => me[..me.len().saturating_sub(1)].to_vec(),
                _ => me.clone(),
            };
            for s in segs {
                if s == "super" {
                    path.pop();
                } else {
                    path.push(s);
                }
            }
            // The longest prefix that is a file's module; a file's own module and its
            // ancestors are not imports between files.
            let target = (1..=path.len())
                .rev()
                .map(|i| path[..i].to_vec())
                .find(|p| known.contains(p));
            if let Some(t) = target {
                if &t != me && !me.starts_with(&t) {
                    edges.entry(me.clone()).or_default().insert(t);
                }
            }
        }
    }
    // A pair of files, or a longer ring, that reach each other.
    let reaches = |from: &Vec<String>, to: &Vec<String>| {
        let mut seen = std::collections::BTreeSet::new();
        let mut stack = vec![from.clone()];
        while let Some(m) = stack.pop() {
            for n in edges.get(&m).into_iter().flatten() {
                if n == to {
                    return true;
                }
                if seen.insert(n.clone()) {
                    stack.push(n.clone());
                }
            }
        }
        false
    };
    let mut circles = Vec::new();
    for (a, targets) in &edges {
        for b in targets {
            if reaches(b, a) {
                circles.push(format!(
                    "{} → {} → … → {}",
                    a.join("::"),
                    b.join("::"),
                    a.join("::")
                ));
            }
        }
    }
    assert!(
        edges.len() > 20,
        "found imports in only {} files",
        edges.len()
    );
    assert!(
        circles.is_empty(),
        "files that import each other (move what both need to one of them, or below both):\n{}",
        circles.join("\n")
    );
}

#[test]
fn the_circle_check_resolves_super_and_groups() {
    let p = local_paths("use super::{a::X, b};\nuse crate::c::d::Y;\n// use crate::z;\nfn f() { super::super::e::g(); }\n#[cfg(test)]\nuse crate::t;\n");
    let names: Vec<String> = p
        .iter()
        .map(|(b, s)| format!("{b}:{}", s.join("::")))
        .collect();
    assert_eq!(
        names,
        vec![
            "crate:c::d::Y",
            "super:a::X",
            "super:b",
            "super:super::e::g"
        ],
        "{p:?}"
    );
}
