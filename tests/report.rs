//! `dps-tui report`: results over seeds from real run folders.

mod common;

use serde_json::Value;
use std::process::Command;

#[test]
fn report_groups_finished_runs_and_pairs_seeds() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("runs");
    for method in ["vanilla", "dps-dense"] {
        for seed in ["1", "2"] {
            let out = root.join(format!("{method}-{seed}"));
            let m = format!("method={method}");
            let s = format!("seed={seed}");
            let o = common::headless_demo(&out, &["max_steps=12", "eval_every=0", &m, &s])
                .output()
                .unwrap();
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        }
    }
    // A run folder that never finished is left out, with the reason on stderr.
    let broken = root.join("broken/run");
    std::fs::create_dir_all(&broken).unwrap();
    let finished = std::fs::read_dir(root.join("vanilla-1"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.join("config.yaml").is_file())
        .unwrap();
    std::fs::copy(finished.join("config.yaml"), broken.join("config.yaml")).unwrap();
    std::fs::write(broken.join("events.jsonl"), "").unwrap();

    let bin = env!("CARGO_BIN_EXE_dps-tui");
    let o = Command::new(bin)
        .args(["report", "--json"])
        .arg(&root)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("left out") && err.contains("broken"), "{err}");
    let r: Value = serde_json::from_slice(&o.stdout).unwrap();
    let groups = r["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 2, "{r}");
    for g in groups {
        assert_eq!(g["task"], "demo");
        assert_eq!(g["n"], 2);
        assert_eq!(g["seeds"], serde_json::json!([1, 2]));
        let (min, max, mean) = (
            g["min"].as_f64().unwrap(),
            g["max"].as_f64().unwrap(),
            g["mean"].as_f64().unwrap(),
        );
        assert!(min <= mean && mean <= max);
    }
    let comps = r["comparisons"].as_array().unwrap();
    assert_eq!(comps.len(), 1, "{r}");
    let c = &comps[0];
    assert_eq!(
        (c["method"].as_str(), c["baseline"].as_str()),
        (Some("dps-dense"), Some("vanilla"))
    );
    assert_eq!(c["n_pairs"], 2);
    let w =
        c["wins"].as_u64().unwrap() + c["losses"].as_u64().unwrap() + c["ties"].as_u64().unwrap();
    assert_eq!(w, 2);
    let mean_of = |m: &str| {
        groups.iter().find(|g| g["method"] == m).unwrap()["mean"]
            .as_f64()
            .unwrap()
    };
    let diff = c["mean_diff"].as_f64().unwrap();
    assert!((diff - (mean_of("dps-dense") - mean_of("vanilla"))).abs() < 1e-12);

    let md = Command::new(bin).arg("report").arg(&root).output().unwrap();
    let text = String::from_utf8_lossy(&md.stdout);
    assert!(text.contains("| demo | dps-dense |"), "{text}");
    assert!(text.contains("dps-dense − vanilla"), "{text}");

    // Another tool's results, imported: groups of their own, paired within their source.
    let torch = tmp.path().join("torch.jsonl");
    std::fs::write(
        &torch,
        "{\"source\":\"pytorch\",\"task\":\"demo\",\"method\":\"vanilla\",\"seed\":1,\"metrics\":{\"accuracy\":0.5}}\n\
         {\"source\":\"pytorch\",\"task\":\"demo\",\"method\":\"dps-dense\",\"seed\":1,\"metrics\":{\"accuracy\":0.75}}\n",
    )
    .unwrap();
    let o = Command::new(bin)
        .args(["report", "--json", "--import"])
        .arg(&torch)
        .arg(&root)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let r: Value = serde_json::from_slice(&o.stdout).unwrap();
    let groups = r["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 4, "{r}");
    let torch_groups: Vec<&Value> = groups
        .iter()
        .filter(|g| g["keys"]["source"] == "pytorch")
        .collect();
    assert_eq!(torch_groups.len(), 2, "{r}");
    let comps = r["comparisons"].as_array().unwrap();
    assert_eq!(comps.len(), 2, "{r}");
    let torch_comp = comps
        .iter()
        .find(|c| c["keys"]["source"] == "pytorch")
        .unwrap();
    assert_eq!(torch_comp["n_pairs"], 1);
    assert!((torch_comp["mean_diff"].as_f64().unwrap() - 0.25).abs() < 1e-12);
    let own_comp = comps
        .iter()
        .find(|c| c["keys"]["source"] == "dps-tui")
        .unwrap();
    assert!((own_comp["mean_diff"].as_f64().unwrap() - diff).abs() < 1e-12);

    std::fs::write(&torch, "{\"source\":\"pytorch\"}\n").unwrap();
    let bad = Command::new(bin)
        .args(["report", "--import"])
        .arg(&torch)
        .arg(&root)
        .output()
        .unwrap();
    assert!(!bad.status.success());
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        err.contains("torch.jsonl, line 1") && err.contains("Fix:"),
        "{err}"
    );

    let none = Command::new(bin)
        .arg("report")
        .arg(tmp.path().join("nothing"))
        .output()
        .unwrap();
    assert!(!none.status.success());
    assert!(String::from_utf8_lossy(&none.stderr).contains("no such folder"));
}

/// `scripts/experiments/torch-seeds.sh --collect` turns the logs of `torch_finetune.py` into the lines
/// `report --import` reads: metric names mapped to dps-tui's, a dropout left to the model
/// filled from its config, unfinished logs left out.
#[test]
fn torch_logs_become_an_importable_results_file() {
    let shared = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared");
    if !shared.join("baseline/torch_finetune.py").is_file() {
        assert!(
            std::env::var_os("CI").is_none(),
            "../shared is required in CI"
        );
        common::skipped("../shared not found");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("torch");
    std::fs::create_dir_all(&out).unwrap();
    let summary = |method: &str, dropout: &str, score: f64| {
        format!(
            "step 690 loss 0.5\nSUMMARY {{\"mode\": \"train\", \"task\": \"mrpc\", \"method\": \"{method}\", \
             \"seed\": 42, \"max_steps\": 690, \"batch_size\": 16, \"lr\": 2e-05, \"p\": 0.3, \
             \"update_ratio\": 0.05, \"dropout\": {dropout}, \"final\": {{\"accuracy\": 0.75, \
             \"f1\": 0.85, \"acc_and_f1\": {score}}}}}\n"
        )
    };
    std::fs::write(
        out.join("mrpc-vanilla-s42.log"),
        summary("vanilla", "null", 0.8),
    )
    .unwrap();
    std::fs::write(
        out.join("mrpc-dps-dense-s42.log"),
        summary("dps-dense", "0.0", 0.9),
    )
    .unwrap();
    std::fs::write(out.join("mrpc-vanilla-s43.log.part"), "step 1 loss 0.7\n").unwrap();
    std::fs::write(out.join("mrpc-vanilla-s44.log"), "step 1 loss 0.7\n").unwrap();
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/experiments/torch-seeds.sh");
    let o = Command::new("bash")
        .arg(&script)
        .args(["--collect", "--out"])
        .arg(&out)
        .arg("--shared")
        .arg(&shared)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let lines: Vec<Value> = std::fs::read_to_string(out.join("results.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    let vanilla = lines.iter().find(|l| l["method"] == "vanilla").unwrap();
    assert_eq!(vanilla["metrics"]["combined_score"], 0.8);
    assert_eq!(vanilla["config"]["dropout"], "0.1", "the model's dropout");
    let dps = lines.iter().find(|l| l["method"] == "dps-dense").unwrap();
    assert_eq!(dps["config"]["dropout"], "0.0");

    let empty = tmp.path().join("no-runs");
    std::fs::create_dir_all(&empty).unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_dps-tui"))
        .args(["report", "--json", "--import"])
        .arg(out.join("results.jsonl"))
        .arg(&empty)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let r: Value = serde_json::from_slice(&o.stdout).unwrap();
    let c = &r["comparisons"][0];
    assert_eq!(
        (c["method"].as_str(), c["n_pairs"].as_u64()),
        (Some("dps-dense"), Some(1))
    );
    assert!(
        (c["mean_diff"].as_f64().unwrap() - 0.1).abs() < 1e-12,
        "{r}"
    );
}

/// Write a finished run folder on MNLI evaluated on sick and rte: `own`, `sick`, `rte` are the
/// final accuracies.
fn eval_tasks_run(root: &std::path::Path, method: &str, seed: u64, [own, sick, rte]: [f64; 3]) {
    use dps_tui::core::events::{Event, Metrics, EVENT_SCHEMA_VERSION};
    let dir = root.join(format!("{method}-{seed}"));
    std::fs::create_dir_all(&dir).unwrap();
    let config = serde_json::json!({
        "task": "mnli", "method": method, "seed": seed, "eval_tasks": ["mnli", "sick", "rte"],
    });
    let metrics: Metrics = [
        ("accuracy", own),
        ("mnli/accuracy", own),
        ("sick/accuracy", sick),
        ("rte/accuracy", rte),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), *v))
    .collect();
    let events = [
        Event::Start {
            schema: EVENT_SCHEMA_VERSION,
            task: "mnli".into(),
            method: method.into(),
            total_steps: 4,
            steps_per_epoch: 4,
            num_train: 64,
            num_dev: 8,
            config: config.clone(),
            start_step: 0,
            device: None,
        },
        Event::Done {
            step: 4,
            metrics,
            stopped_early: false,
        },
    ];
    let text: String = events.iter().map(|e| e.to_json_line() + "\n").collect();
    std::fs::write(dir.join("events.jsonl"), text).unwrap();
    std::fs::write(
        dir.join("config.yaml"),
        serde_yaml::to_string(&config).unwrap(),
    )
    .unwrap();
}

#[test]
fn report_has_a_row_group_and_comparisons_per_eval_task() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    for seed in 1..=3u64 {
        let s = seed as f64 / 100.0;
        eval_tasks_run(root, "vanilla", seed, [0.80 + s, 0.50 + s, 0.60 + s]);
        eval_tasks_run(root, "dps-dense", seed, [0.81 + s, 0.55 + s, 0.58 + s]);
    }
    let bin = env!("CARGO_BIN_EXE_dps-tui");
    let o = Command::new(bin)
        .args(["report", "--json"])
        .arg(root)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let r: Value = serde_json::from_slice(&o.stdout).unwrap();
    let groups = r["groups"].as_array().unwrap();
    // Own, mnli, rte and sick for each method.
    assert_eq!(groups.len(), 8, "{r}");
    assert!(groups.iter().all(|g| g["task"] == "mnli" && g["n"] == 3));
    assert!(groups.iter().all(|g| g.get("keys").is_none()), "{r}");
    let comps = r["comparisons"].as_array().unwrap();
    assert_eq!(comps.len(), 4, "{r}");
    let diff = |eval: &str| {
        comps.iter().find(|c| c["eval_task"] == eval).unwrap()["mean_diff"]
            .as_f64()
            .unwrap()
    };
    assert!((diff("sick") - 0.05).abs() < 1e-9);
    assert!((diff("rte") + 0.02).abs() < 1e-9);
    let md = Command::new(bin).arg("report").arg(root).output().unwrap();
    let text = String::from_utf8_lossy(&md.stdout);
    assert!(text.contains("| sick (from mnli) | dps-dense |"), "{text}");
    assert!(
        text.contains("| rte (from mnli) |  | accuracy | dps-dense − vanilla | 3 | -0.0200 |"),
        "{text}"
    );
}
