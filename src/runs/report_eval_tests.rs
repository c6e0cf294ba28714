//! The report of runs with eval tasks: a group and comparisons per eval task.

use super::*;
use std::path::Path;

/// A run of `method` on `task` with seed `seed`: its own value and `evals` (task, value).
fn run(method: &str, seed: u64, own: f64, evals: &[(&str, f64)]) -> RunResult {
    let config: BTreeMap<String, String> = [
        ("task", "snli"),
        ("method", method),
        ("learning_rate", "2e-5"),
        ("eval_tasks", r#"["sick","rte"]"#),
        ("seed", &seed.to_string()),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    RunResult {
        path: PathBuf::from(format!("snli-{method}-{seed}")),
        task: "snli".into(),
        method: method.into(),
        seed,
        metric: "accuracy".into(),
        value: own,
        config,
        imported: false,
        evals: evals
            .iter()
            .map(|(t, v)| EvalResult {
                task: t.to_string(),
                metric: "accuracy".into(),
                value: *v,
            })
            .collect(),
    }
}

/// Two methods × 3 seeds, each evaluated on sick and rte.
fn runs() -> Vec<RunResult> {
    let mut out = Vec::new();
    for seed in 1..=3u64 {
        let s = seed as f64 / 100.0;
        out.push(run(
            "vanilla",
            seed,
            0.80 + s,
            &[("sick", 0.50 + s), ("rte", 0.60 + s)],
        ));
        out.push(run(
            "dps-dense",
            seed,
            0.81 + s,
            // Better on sick by 0.05 on every seed, worse on rte by 0.02, 0.02, 0.05.
            &[
                ("sick", 0.55 + s),
                ("rte", 0.58 + s - if seed == 3 { 0.03 } else { 0.0 }),
            ],
        ));
    }
    out
}

#[test]
fn each_eval_task_gets_its_groups_and_comparisons() {
    let r = build(&runs(), "vanilla");
    // Own, rte and sick for each of the two methods; eval_tasks splits nothing.
    assert_eq!(r.groups.len(), 6, "{:#?}", r.groups);
    assert!(r.groups.iter().all(|g| g.keys.is_empty()), "{:?}", r.groups);
    assert!(r.groups.iter().all(|g| g.n == 3 && g.seeds == [1, 2, 3]));
    let group = |eval: Option<&str>, method: &str| {
        r.groups
            .iter()
            .find(|g| g.eval_task.as_deref() == eval && g.method == method)
            .unwrap_or_else(|| panic!("no group {eval:?} {method}"))
    };
    assert!((group(None, "vanilla").mean - 0.82).abs() < 1e-12);
    assert!((group(Some("sick"), "vanilla").mean - 0.52).abs() < 1e-12);
    assert!((group(Some("sick"), "dps-dense").mean - 0.57).abs() < 1e-12);
    assert!((group(Some("rte"), "vanilla").mean - 0.62).abs() < 1e-12);
    assert_eq!(group(Some("rte"), "vanilla").metric, "accuracy");
    assert_eq!(group(Some("rte"), "vanilla").task, "snli");
    // The training task's own groups come first.
    assert_eq!(r.groups[0].eval_task, None);
    assert_eq!(r.groups[1].eval_task, None);

    assert_eq!(r.comparisons.len(), 3, "{:#?}", r.comparisons);
    let cmp = |eval: Option<&str>| {
        r.comparisons
            .iter()
            .find(|c| c.eval_task.as_deref() == eval)
            .unwrap()
    };
    let own = cmp(None);
    assert_eq!((own.n_pairs, own.wins), (3, 3));
    assert!((own.mean_diff - 0.01).abs() < 1e-12);
    let sick = cmp(Some("sick"));
    assert_eq!((sick.n_pairs, sick.wins, sick.losses), (3, 3, 0));
    assert!((sick.mean_diff - 0.05).abs() < 1e-12);
    let sick_ci = sick.ci95.unwrap();
    assert!((sick_ci[0] - 0.05).abs() < 1e-9 && (sick_ci[1] - 0.05).abs() < 1e-9);
    let rte = cmp(Some("rte"));
    assert_eq!((rte.n_pairs, rte.wins, rte.losses), (3, 0, 3));
    assert!((rte.mean_diff + 0.03).abs() < 1e-12, "{}", rte.mean_diff);
    let rte_ci = rte.ci95.unwrap();
    assert!(rte_ci[0] < rte.mean_diff && rte.mean_diff < rte_ci[1]);
    assert!((rte_ci[0] + 0.05).abs() < 1e-9, "{rte_ci:?}");
}

#[test]
fn markdown_and_json_name_the_eval_task() {
    let r = build(&runs(), "vanilla");
    let md = to_markdown(&r);
    assert!(
        md.contains("| snli | vanilla |  | accuracy | 3 | 0.8200 |"),
        "{md}"
    );
    assert!(
        md.contains("| sick (from snli) | dps-dense |  | accuracy | 3 | 0.5700 |"),
        "{md}"
    );
    assert!(
        md.contains("| rte (from snli) |  | accuracy | dps-dense − vanilla | 3 | -0.0300 |"),
        "{md}"
    );
    let j = serde_json::to_value(&r).unwrap();
    let groups = j["groups"].as_array().unwrap();
    assert!(groups[0].get("eval_task").is_none(), "own groups have none");
    assert!(groups
        .iter()
        .any(|g| g["eval_task"] == "sick" && g["task"] == "snli"));
    let comps = j["comparisons"].as_array().unwrap();
    assert!(comps.iter().any(|c| c["eval_task"] == "rte"));
}

#[test]
fn a_missing_eval_task_leaves_its_group_smaller() {
    let mut rs = runs();
    // Seed 2 of dps-dense found no rte data.
    rs[3].evals.retain(|e| e.task != "rte");
    let r = build(&rs, "vanilla");
    let g = r
        .groups
        .iter()
        .find(|g| g.eval_task.as_deref() == Some("rte") && g.method == "dps-dense")
        .unwrap();
    assert_eq!((g.n, g.seeds.clone()), (2, vec![1, 3]));
    let c = r
        .comparisons
        .iter()
        .find(|c| c.eval_task.as_deref() == Some("rte"))
        .unwrap();
    assert_eq!(c.n_pairs, 2);
}

#[test]
fn eval_results_read_the_task_keys_of_final_metrics() {
    let m: Metrics = [
        ("accuracy", 0.8),
        ("loss", 0.4),
        ("sick/accuracy", 0.55),
        ("sick/loss", 0.9),
        ("rte/accuracy", 0.61),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), *v))
    .collect();
    let got = eval_results(&m, &["sick".into(), "rte".into()]);
    let got: Vec<(&str, &str, f64)> = got
        .iter()
        .map(|e| (e.task.as_str(), e.metric.as_str(), e.value))
        .collect();
    assert_eq!(got, [("sick", "accuracy", 0.55), ("rte", "accuracy", 0.61)]);
}

/// A finished run folder of `method` with seed `seed` on mnli, evaluated on sick and rte; its
/// `done` event carries `own` and the eval tasks' values, and rte only in its evaluation when
/// `rte_in_done` is false.
fn write_run(root: &Path, method: &str, seed: u64, vals: [f64; 3], rte_in_done: bool) {
    use crate::core::events::{Event, EVENT_SCHEMA_VERSION};
    let dir = root.join(format!("{method}-{seed}"));
    std::fs::create_dir_all(&dir).unwrap();
    let config = serde_json::json!({
        "task": "mnli", "method": method, "seed": seed, "eval_tasks": ["sick", "scitail", "rte"],
    });
    let metrics = |rte: bool| -> Metrics {
        let mut m: Metrics = [
            ("accuracy", vals[0]),
            ("loss", 0.5),
            ("sick/accuracy", vals[1]),
            ("sick/loss", 0.9),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), *v))
        .collect();
        if rte {
            m.insert("rte/accuracy".into(), vals[2]);
        }
        m
    };
    let events = [
        Event::Start {
            schema: EVENT_SCHEMA_VERSION,
            task: "mnli".into(),
            method: method.into(),
            total_steps: 10,
            steps_per_epoch: 10,
            num_train: 100,
            num_dev: 10,
            config: config.clone(),
            start_step: 0,
            device: None,
        },
        Event::Eval {
            step: 10,
            metrics: metrics(true),
        },
        Event::Done {
            step: 10,
            metrics: metrics(rte_in_done),
            stopped_early: false,
        },
    ];
    let text: String = events.iter().map(|e| e.to_json_line() + "\n").collect();
    std::fs::write(dir.join("events.jsonl"), text).unwrap();
    let yaml = serde_yaml::to_string(&config).unwrap();
    std::fs::write(dir.join("config.yaml"), yaml).unwrap();
}

#[test]
fn run_folders_with_eval_tasks_report_per_task() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    for seed in 1..=3u64 {
        let s = seed as f64 / 100.0;
        write_run(root, "vanilla", seed, [0.8 + s, 0.5 + s, 0.6 + s], true);
        write_run(
            root,
            "dps-dense",
            seed,
            [0.8 + s, 0.6 + s, 0.7 + s],
            seed != 2,
        );
    }
    let (runs, skipped) = collect(root);
    assert!(skipped.is_empty(), "{skipped:?}");
    assert_eq!(runs.len(), 6);
    // The declared order (scitail found no data, so it is absent); rte from the evaluation
    // when the final metrics lack it.
    for r in &runs {
        let tasks: Vec<&str> = r.evals.iter().map(|e| e.task.as_str()).collect();
        assert_eq!(tasks, ["sick", "rte"], "{}", r.path.display());
    }
    let r = build(&runs, "vanilla");
    assert_eq!(r.groups.len(), 6, "{:#?}", r.groups);
    assert!(r.groups.iter().all(|g| g.keys.is_empty() && g.n == 3));
    assert_eq!(r.comparisons.len(), 3);
    for (eval, diff) in [(None, 0.0), (Some("sick"), 0.1), (Some("rte"), 0.1)] {
        let c = r
            .comparisons
            .iter()
            .find(|c| c.eval_task.as_deref() == eval)
            .unwrap();
        assert_eq!(c.n_pairs, 3);
        assert!((c.mean_diff - diff).abs() < 1e-9, "{eval:?}: {c:?}");
    }
    let md = to_markdown(&r);
    assert!(md.contains("| rte (from mnli) | dps-dense |"), "{md}");
}
