//! The modules form layers that point one way:
//! `main → cli → watch → ui, sweep → runs, diagnostics → train → dps → core → config → data →
//! hub → model`.
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
