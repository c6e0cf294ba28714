//! The real binary never drops what it is told: options it would not use are refused with a
//! clear error, a resumed run applies or refuses each `--set`, `eval` refuses what is not a
//! checkpoint, every option has help, `runs` prints paths the other subcommands take, a failed
//! start leaves no run folder, and a closed pipe ends output quietly.

mod common;

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_dps-tui"))
}

fn run(args: &[&str]) -> Output {
    bin().args(args).output().expect("run dps-tui")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

fn ok(args: &[&str]) -> Output {
    let o = run(args);
    assert!(o.status.success(), "dps-tui {args:?}: {}", stderr(&o));
    o
}

/// The command fails; its stderr.
fn refused(args: &[&str]) -> String {
    let o = run(args);
    assert!(!o.status.success(), "dps-tui {args:?} should fail");
    stderr(&o)
}

fn events(stdout: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
        .collect()
}

/// The folders directly under `dir` (a missing `dir` has none).
fn folders(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(|e| Some(e.ok()?.path()))
        .filter(|p| p.is_dir())
        .collect();
    v.sort();
    v
}

/// A finished headless demo run of `steps` steps under `out`: its folder and its events.
fn demo_run(out: &Path, sets: &[&str]) -> (PathBuf, Vec<Value>) {
    let o = common::headless_demo(out, sets).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let runs = folders(out);
    assert_eq!(runs.len(), 1, "{runs:?}");
    (runs[0].clone(), events(&o.stdout))
}

#[test]
fn options_before_a_subcommand_are_refused_not_dropped() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().to_str().unwrap();
    let train = ["train", "--preset", "demo", "--headless", "--out", out];
    for before in [
        &["--threads", "1"][..],
        &["--set", "max_steps=3"],
        &["--model", "demo"],
        &["--data-dir", "glue"],
        &["--out", out],
        &["--device", "cpu"],
        &["--preset", "demo"],
    ] {
        let args: Vec<&str> = before.iter().chain(train.iter()).copied().collect();
        let e = refused(&args);
        assert!(
            e.contains(before[0])
                && e.contains("cannot be used with")
                && e.contains("Fix: put them after the subcommand's name"),
            "{args:?}: {e}"
        );
    }
    let e = refused(&["--threads", "1", "runs", "--out", out]);
    assert!(e.contains("--threads"), "{e}");
    assert!(folders(tmp.path()).is_empty(), "nothing ran");
    // After the subcommand they apply: --threads and --set reach the run.
    let (run_dir, ev) = demo_run(tmp.path(), &["max_steps=3", "eval_every=0"]);
    let start = &ev[0];
    assert_eq!(start["event"], "start");
    assert_eq!(start["total_steps"], 3);
    assert_eq!(start["config"]["threads"], 1);
    let yaml = std::fs::read_to_string(run_dir.join("config.yaml")).unwrap();
    assert!(
        yaml.contains("max_steps: 3") && yaml.contains("threads: 1"),
        "{yaml}"
    );
}

#[test]
fn the_demo_refuses_a_model_or_data_it_would_not_use() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().to_str().unwrap();
    let demo = ["train", "--preset", "demo", "--headless", "--out", out];
    let with = |extra: &[&str]| -> Vec<String> {
        demo.iter()
            .chain(extra.iter())
            .map(|s| s.to_string())
            .collect()
    };
    for extra in [
        &["--model", "sentence-transformers/all-MiniLM-L6-v2"][..],
        &["--set", "model=./my-model"],
        &["--data-dir", "./glue"],
    ] {
        let args = with(extra);
        let e = refused(&args.iter().map(String::as_str).collect::<Vec<_>>());
        assert!(
            e.contains("task `demo`") && e.contains(extra[1].trim_start_matches("model=")),
            "{e}"
        );
    }
    // The demo's model on a GLUE task would train on the demo's data under the GLUE name.
    let e = refused(&[
        "train",
        "--preset",
        "rte",
        "--headless",
        "--out",
        out,
        "--set",
        "model=demo",
    ]);
    assert!(e.contains("model `demo`") && e.contains("rte"), "{e}");
    assert!(
        folders(tmp.path()).is_empty(),
        "a refused start made a folder"
    );
    // config.yaml records what ran: the demo model, no data folder.
    let (run_dir, _) = demo_run(tmp.path(), &["max_steps=2", "eval_every=0"]);
    let yaml = std::fs::read_to_string(run_dir.join("config.yaml")).unwrap();
    assert!(
        yaml.contains("model: demo") && yaml.contains("data_dir: null"),
        "{yaml}"
    );
}

#[test]
fn resume_applies_the_keys_that_can_change_and_refuses_the_rest() {
    let tmp = tempfile::tempdir().unwrap();
    let (run_dir, _) = demo_run(
        tmp.path(),
        &[
            "max_steps=20",
            "checkpoint_every=10",
            "eval_every=0",
            "keep_last=0",
            "update_ratio=0.25",
        ],
    );
    // Back to the step-10 checkpoint, as after a crash.
    std::fs::remove_dir_all(run_dir.join("checkpoints/step-20")).unwrap();
    let config_before = std::fs::read_to_string(run_dir.join("config.yaml")).unwrap();
    let log_before = std::fs::read_to_string(run_dir.join("events.jsonl")).unwrap();
    let dir = run_dir.to_str().unwrap();
    let resume = |extra: &[&str]| -> Vec<String> {
        ["train", "--resume", dir, "--headless", "--threads", "1"]
            .iter()
            .chain(extra.iter())
            .map(|s| s.to_string())
            .collect()
    };
    let strs = |v: &[String]| v.iter().map(String::as_str).collect::<Vec<_>>().join(" ");
    for (extra, names) in [
        (&["--set", "max_steps=150"][..], &["`max_steps`"][..]),
        (
            &[
                "--set",
                "seed=1",
                "--set",
                "method=vanilla",
                "--set",
                "keep_last=3",
            ],
            &["`seed`", "`method`"],
        ),
        (&["--preset", "demo"], &["--preset"]),
        (&["--model", "demo"], &["--model"]),
        (&["--data-dir", "glue"], &["--data-dir"]),
        (&["--device", "cpu"], &["--device"]),
    ] {
        let args = resume(extra);
        let o = run(&args.iter().map(String::as_str).collect::<Vec<_>>());
        let e = stderr(&o);
        assert!(!o.status.success(), "{} should fail", strs(&args));
        for n in names {
            assert!(e.contains(n), "{}: {e}", strs(&args));
        }
        if extra[0] == "--set" {
            assert!(e.contains("Keys that can: threads"), "{e}");
        }
    }
    let log_after = std::fs::read_to_string(run_dir.join("events.jsonl")).unwrap();
    assert_eq!(log_before, log_after, "a refused resume wrote to the log");
    // Keys that can change: a resume key takes effect and is logged as a warning; a live key
    // is applied as a control, logged with its outcome; a key set to its value is accepted.
    let args = resume(&[
        "--set",
        "checkpoint_every=5",
        "--set",
        "p=0.5",
        "--set",
        "max_steps=20",
    ]);
    let o = ok(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let ev = events(&o.stdout);
    let warning = ev
        .iter()
        .find(|e| e["event"] == "warning")
        .expect("a warning event for checkpoint_every");
    let msg = warning["message"].as_str().unwrap();
    assert!(
        msg.contains("checkpoint_every: 5") && msg.contains("10"),
        "{msg}"
    );
    let control = ev
        .iter()
        .find(|e| e["event"] == "control")
        .expect("a control event for p");
    assert_eq!(control["key"], "p");
    assert_eq!(control["value"], 0.5);
    assert_ne!(control["status"], "rejected", "{control}");
    assert!(
        run_dir.join("checkpoints/step-15").is_dir(),
        "checkpoint_every=5 not applied"
    );
    let logged = std::fs::read_to_string(run_dir.join("events.jsonl")).unwrap();
    assert!(logged.contains("checkpoint_every: 5") && logged.contains(r#""event":"control""#));
    assert_eq!(
        std::fs::read_to_string(run_dir.join("config.yaml")).unwrap(),
        config_before,
        "config.yaml keeps what the run started with"
    );
}

#[test]
fn eval_refuses_what_is_not_a_checkpoint_and_reads_the_one_it_is_given() {
    let tmp = tempfile::tempdir().unwrap();
    let empty = tmp.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    for task in ["demo", "rte", "mrpc"] {
        let e = refused(&["eval", "--checkpoint", "/nonexistent", "--task", task]);
        assert!(
            e.contains("/nonexistent") && e.contains("does not exist"),
            "{task}: {e}"
        );
        let e = refused(&[
            "eval",
            "--checkpoint",
            empty.to_str().unwrap(),
            "--task",
            task,
        ]);
        assert!(e.contains("neither a checkpoint"), "{task}: {e}");
    }
    // A demo run's checkpoint gives the run's own final metrics (a fresh model would not).
    let (run_dir, ev) = demo_run(&tmp.path().join("runs"), &["max_steps=30", "eval_every=0"]);
    let done = ev.last().unwrap();
    assert_eq!(done["event"], "done");
    let ck = run_dir.join("checkpoints/step-30");
    for arg in [&run_dir, &ck] {
        let o = ok(&["eval", "--checkpoint", arg.to_str().unwrap()]);
        let got: Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(got["task"], "demo");
        assert_eq!(got["checkpoint"], ck.to_str().unwrap());
        assert_eq!(got["metrics"], done["metrics"], "eval of {}", arg.display());
    }
    // A checkpoint outside a run needs --task.
    let loose = tmp.path().join("loose");
    std::fs::create_dir_all(&loose).unwrap();
    for f in ["config.json", "model.safetensors"] {
        std::fs::copy(ck.join(f), loose.join(f)).unwrap();
    }
    let e = refused(&["eval", "--checkpoint", loose.to_str().unwrap()]);
    assert!(e.contains("--task"), "{e}");
}

/// The subcommands `dps-tui --help` lists, and the hidden `parity`.
const SUBCOMMANDS: &[&str] = &[
    "train", "eval", "bench", "download", "presets", "runs", "export", "report", "replay",
    "parity", "compare", "sweep", "watch",
];

/// Text without clap's `[default: ..]`, `[possible values: ..]` and `[aliases: ..]` notes.
fn without_notes(text: &str) -> String {
    let mut out = text.to_string();
    for note in ["[default:", "[possible values:", "[aliases:"] {
        while let Some(i) = out.find(note) {
            let end = out[i..].find(']').map_or(out.len(), |j| i + j + 1);
            out.replace_range(i..end, "");
        }
    }
    out
}

/// The options and arguments of a help text (short or long form) that have no description.
fn undocumented(help: &str) -> Vec<String> {
    let lines: Vec<&str> = help.lines().collect();
    let indent = |l: &str| l.len() - l.trim_start().len();
    let mut bare = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        let t = l.trim_start();
        let is_entry = (2..=6).contains(&indent(l))
            && (t.starts_with('-') || t.starts_with('<') || t.starts_with('['));
        if !is_entry {
            continue;
        }
        // `--flag <V>  text` on one line, then any deeper-indented lines below it.
        let mut text: Vec<&str> = t.splitn(2, "  ").skip(1).collect();
        text.extend(
            lines[i + 1..]
                .iter()
                .take_while(|n| n.trim().is_empty() || indent(n) > indent(l))
                .copied(),
        );
        if without_notes(&text.join(" ")).trim().is_empty() {
            bare.push(t.split("  ").next().unwrap_or(t).to_string());
        }
    }
    bare
}

#[test]
fn the_help_check_finds_options_without_help() {
    // `eval -h` as it was: options with nothing but a default.
    let short = "Options:
      --checkpoint <CHECKPOINT>          
      --task <TASK>                      
      --max-seq-length <MAX_SEQ_LENGTH>  [default: 128]
  -h, --help                             Print help
";
    assert_eq!(
        undocumented(short),
        [
            "--checkpoint <CHECKPOINT>",
            "--task <TASK>",
            "--max-seq-length <MAX_SEQ_LENGTH>"
        ]
    );
    let long = "Arguments:
  <RUN>

Options:
      --format <FORMAT>
          [default: csv]

      --jobs <JOBS>
          Cells run at once

          [default: 1]

  -h, --help
          Print help
";
    assert_eq!(undocumented(long), ["<RUN>", "--format <FORMAT>"]);
}

#[test]
fn every_option_has_help_and_every_subcommand_examples() {
    let top = String::from_utf8(ok(&["--help"]).stdout).unwrap();
    assert!(undocumented(&top).is_empty(), "{:?}", undocumented(&top));
    assert!(!top.contains("parity"), "parity is hidden: {top}");
    for sub in SUBCOMMANDS {
        let help = String::from_utf8(ok(&[sub, "--help"]).stdout).unwrap();
        let bare = undocumented(&help);
        assert!(bare.is_empty(), "{sub}: no help for {bare:?}\n{help}");
        if *sub != "presets" {
            assert!(help.contains("Example"), "{sub}: no examples\n{help}");
        }
        if *sub != "presets" && *sub != "parity" {
            assert!(top.contains(sub), "{sub} not listed in --help");
        }
    }
    // --set lists every key of the configuration's own table, with what it accepts.
    let train = String::from_utf8(ok(&["train", "--help"]).stdout).unwrap();
    for (key, accepts) in dps_tui::config::KEYS {
        let first_words: String = accepts
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ");
        assert!(
            train.contains(&format!("{key}: ")) && train.contains(&first_words),
            "--set help lacks `{key}`"
        );
    }
    // --resume names the keys that may change on resume.
    for key in dps_tui::config::resume::resume_keys() {
        assert!(train.contains(key), "--resume help lacks `{key}`");
    }
    let resume_help = train.split("--resume <RESUME>").nth(1).unwrap();
    assert!(
        resume_help.contains("checkpoint_every, keep_last"),
        "{train}"
    );
    // export --format is a closed set.
    let export = String::from_utf8(ok(&["export", "--help"]).stdout).unwrap();
    assert!(
        export.contains("csv") && export.contains("jsonl"),
        "{export}"
    );
    let e = refused(&["export", "somewhere", "--format", "xml"]);
    assert!(
        e.contains("invalid value 'xml'") && e.contains("csv, jsonl"),
        "{e}"
    );
    // parity says what it needs.
    let parity = String::from_utf8(ok(&["parity", "--help"]).stdout).unwrap();
    assert!(
        parity.contains("reference/tiny-bert") && parity.contains("not shipped"),
        "{parity}"
    );
}

#[test]
fn runs_prints_paths_that_export_compare_and_eval_take() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("runs");
    let (run_dir, _) = demo_run(&out, &["max_steps=4", "eval_every=0"]);
    let o = ok(&["runs", "--out", out.to_str().unwrap()]);
    let text = String::from_utf8(o.stdout).unwrap();
    let row = text
        .lines()
        .nth(1)
        .unwrap_or_else(|| panic!("no run listed: {text}"));
    let path = row.split_whitespace().next().unwrap();
    assert_eq!(Path::new(path), run_dir, "{text}");
    let csv = ok(&["export", path]);
    assert_eq!(
        String::from_utf8(csv.stdout).unwrap().lines().count(),
        1 + 4
    );
    let cmp = ok(&["compare", path, "--headless"]);
    serde_json::from_slice::<Value>(&cmp.stdout).unwrap();
    ok(&["eval", "--checkpoint", path]);
    // A relative --out gives paths relative to the same working directory.
    let o = bin()
        .args(["runs", "--out", "runs"])
        .current_dir(tmp.path())
        .output()
        .unwrap();
    let text = String::from_utf8(o.stdout).unwrap();
    let rel = text
        .lines()
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap();
    let o = bin()
        .args(["export", rel])
        .current_dir(tmp.path())
        .output()
        .unwrap();
    assert!(o.status.success(), "export {rel}: {}", stderr(&o));
}

#[test]
fn a_start_that_fails_before_step_1_leaves_no_run_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("runs");
    let o = out.to_str().unwrap();
    // A model folder that does not exist: the error points at what users have.
    let e = refused(&[
        "train",
        "--preset",
        "rte",
        "--headless",
        "--out",
        o,
        "--model",
        "./no/such/model",
    ]);
    assert!(e.contains("no/such/model"), "{e}");
    assert!(!e.contains("../shared"), "{e}");
    assert!(e.contains("sentence-transformers/all-MiniLM-L6-v2"), "{e}");
    // A device this build cannot use.
    let e = refused(&[
        "train",
        "--preset",
        "demo",
        "--headless",
        "--out",
        o,
        "--device",
        "metal",
    ]);
    assert!(e.contains("Metal is not supported by this build"), "{e}");
    if !cfg!(feature = "cuda") {
        let e = refused(&[
            "train",
            "--preset",
            "demo",
            "--headless",
            "--out",
            o,
            "--device",
            "cuda",
        ]);
        assert!(
            e.contains("scripts/gpu/build-cuda.sh") && !e.contains("--features"),
            "{e}"
        );
    }
    // --run-dir: the folder is not created either.
    let at = tmp.path().join("exact");
    refused(&[
        "train",
        "--preset",
        "rte",
        "--headless",
        "--run-dir",
        at.to_str().unwrap(),
        "--model",
        "./no/such/model",
    ]);
    assert!(!at.exists(), "{} was left behind", at.display());
    assert!(folders(&out).is_empty(), "{:?}", folders(&out));
}

/// `dps-tui train --preset rte` with an empty Hugging Face cache and the Hub out of reach
/// (offline, or nothing listening): the error says what to do instead, and no folder is left.
#[test]
fn a_glue_preset_without_the_hub_says_what_to_do() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("runs");
    let hf_home = tmp.path().join("hf");
    for offline in [true, false] {
        let mut c = bin();
        c.args([
            "train",
            "--preset",
            "rte",
            "--headless",
            "--threads",
            "1",
            "--out",
        ])
        .arg(&out)
        .env("HF_HOME", &hf_home)
        .env_remove("HF_HUB_CACHE")
        .env_remove("HUGGINGFACE_HUB_CACHE")
        .env_remove("HF_TOKEN");
        if offline {
            c.env("HF_HUB_OFFLINE", "1");
        } else {
            // Port 9 (discard): nothing listens, the connection is refused at once.
            c.env_remove("HF_HUB_OFFLINE")
                .env("HF_ENDPOINT", "http://127.0.0.1:9");
        }
        let o = c.output().unwrap();
        let e = stderr(&o);
        assert!(!o.status.success(), "offline={offline}: {e}");
        for hint in [
            "--preset demo",
            "--model DIR --data-dir DIR",
            "HF_HUB_OFFLINE=1",
            "dps-tui download",
        ] {
            assert!(e.contains(hint), "offline={offline}: no `{hint}` in {e}");
        }
        assert!(folders(&out).is_empty(), "{:?}", folders(&out));
    }
}

/// Run `args` with stdout a pipe whose reading end is already closed.
fn into_closed_pipe(args: &[&str]) -> Output {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    bin()
        .args(args)
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .unwrap()
}

#[test]
fn a_closed_pipe_ends_output_quietly() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("runs");
    let (run_dir, _) = demo_run(&out, &["max_steps=4", "eval_every=2"]);
    let r = run_dir.to_str().unwrap();
    let o = out.to_str().unwrap();
    for args in [
        &["export", r][..],
        &["export", r, "--format", "jsonl"],
        &["runs", "--out", o],
        &["report", o],
        &["report", o, "--json"],
        &["presets"],
        &["compare", r, "--headless"],
        &["eval", "--checkpoint", r],
    ] {
        let res = into_closed_pipe(args);
        let e = stderr(&res);
        assert!(
            res.status.success() && e.is_empty(),
            "{args:?}: {:?} {e}",
            res.status
        );
    }
}
