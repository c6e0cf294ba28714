//! `report`'s grouping, pairing and statistics on synthetic runs.

use super::*;

fn run(task: &str, method: &str, seed: u64, value: f64, extra: &[(&str, &str)]) -> RunResult {
    let mut config: BTreeMap<String, String> = [
        ("task", task),
        ("method", method),
        ("learning_rate", "2e-5"),
        ("threads", if seed.is_multiple_of(2) { "1" } else { "2" }),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    config.insert("seed".into(), seed.to_string());
    for (k, v) in extra {
        config.insert(k.to_string(), v.to_string());
    }
    RunResult {
        path: PathBuf::from(format!("{task}-{method}-{seed}")),
        task: task.into(),
        method: method.into(),
        seed,
        metric: "accuracy".into(),
        value,
        config,
        imported: false,
        evals: Vec::new(),
    }
}

#[test]
fn groups_have_the_statistics_of_their_runs() {
    let runs = vec![
        run("mrpc", "vanilla", 1, 0.80, &[]),
        run("mrpc", "vanilla", 2, 0.82, &[]),
        run("mrpc", "vanilla", 3, 0.78, &[]),
        run("mrpc", "dps-dense", 1, 0.81, &[]),
    ];
    let r = build(&runs, "vanilla");
    assert_eq!(r.groups.len(), 2);
    let v = r.groups.iter().find(|g| g.method == "vanilla").unwrap();
    assert_eq!((v.n, v.seeds.clone()), (3, vec![1, 2, 3]));
    assert!((v.mean - 0.80).abs() < 1e-12);
    assert!((v.std.unwrap() - 0.02).abs() < 1e-12, "{:?}", v.std);
    assert_eq!((v.median, v.min, v.max), (0.80, 0.78, 0.82));
    assert!(v.keys.is_empty(), "threads and seed never split groups");
    let d = r.groups.iter().find(|g| g.method == "dps-dense").unwrap();
    assert_eq!((d.n, d.std), (1, None), "no spread from a single run");
}

#[test]
fn comparisons_pair_by_seed() {
    let runs = vec![
        run("mrpc", "vanilla", 1, 0.80, &[("dropout", "0.1")]),
        run("mrpc", "vanilla", 2, 0.82, &[("dropout", "0.1")]),
        run("mrpc", "vanilla", 3, 0.78, &[("dropout", "0.1")]),
        run("mrpc", "dps-dense", 1, 0.81, &[("dropout", "0.0")]),
        run("mrpc", "dps-dense", 2, 0.82, &[("dropout", "0.0")]),
        run("mrpc", "dps-dense", 4, 0.99, &[("dropout", "0.0")]),
    ];
    let r = build(&runs, "vanilla");
    // dropout differs (per method) and so splits groups, but not pairs.
    assert_eq!(r.groups.len(), 2);
    assert_eq!(r.comparisons.len(), 1);
    let c = &r.comparisons[0];
    assert_eq!((c.n_pairs, c.wins, c.losses, c.ties), (2, 1, 0, 1));
    assert!((c.mean_diff - 0.005).abs() < 1e-12);
    assert_eq!(c.ci95, None, "no interval from 2 pairs");
}

#[test]
fn json_gives_no_interval_under_3_pairs_and_no_std_for_one_run_as_the_text() {
    let mut runs = vec![
        run("rte", "vanilla", 1, 0.60, &[]),
        run("rte", "vanilla", 2, 0.62, &[]),
        run("rte", "dps-dense", 1, 0.61, &[]),
        run("rte", "dps-dense", 2, 0.65, &[]),
        run("mrpc", "vanilla", 1, 0.80, &[]),
    ];
    let json = |runs: &[RunResult]| serde_json::to_value(build(runs, "vanilla")).unwrap();
    let j = json(&runs);
    let c = &j["comparisons"][0];
    assert_eq!(c["n_pairs"], 2);
    assert!(c["ci95"].is_null(), "{c}");
    let mrpc = j["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["task"] == "mrpc");
    assert!(mrpc.unwrap()["std"].is_null(), "{j}");
    let md = to_markdown(&build(&runs, "vanilla"));
    assert!(md.contains("– (< 3 pairs)"), "{md}");
    // A third pair gives the interval, in both.
    runs.push(run("rte", "vanilla", 3, 0.58, &[]));
    runs.push(run("rte", "dps-dense", 3, 0.60, &[]));
    let j = json(&runs);
    let ci = j["comparisons"][0]["ci95"].as_array().unwrap().clone();
    let (lo, hi) = (ci[0].as_f64().unwrap(), ci[1].as_f64().unwrap());
    let mean_diff = j["comparisons"][0]["mean_diff"].as_f64().unwrap();
    assert!(lo <= mean_diff && mean_diff <= hi, "{ci:?} {mean_diff}");
    let md = to_markdown(&build(&runs, "vanilla"));
    assert!(md.contains(&format!("[{lo:+.4}, {hi:+.4}]")), "{md}");
}

#[test]
fn an_ablation_pairs_each_dropout_with_its_own() {
    // The published recipes (vanilla at 0.1, dps-dense at 0) plus the swapped ones: the
    // baseline ran at two dropouts, so each dropout pairs within itself.
    fn d(p: &'static str) -> [(&'static str, &'static str); 1] {
        [("dropout", p)]
    }
    let runs = vec![
        run("mrpc", "vanilla", 1, 0.80, &d("0.1")),
        run("mrpc", "vanilla", 1, 0.70, &d("0.0")),
        run("mrpc", "dps-dense", 1, 0.85, &d("0.0")),
        run("mrpc", "dps-dense", 1, 0.90, &d("0.1")),
        run("mrpc", "vanilla", 2, 0.60, &d("0.1")),
        run("mrpc", "dps-dense", 2, 0.65, &d("0.1")),
    ];
    let r = build(&runs, "vanilla");
    assert_eq!(r.groups.len(), 4);
    let at = |p: &str| {
        r.comparisons
            .iter()
            .find(|c| c.keys.get("dropout").map(String::as_str) == Some(p))
            .unwrap_or_else(|| panic!("no comparison at dropout {p}: {:?}", r.comparisons))
    };
    assert_eq!(r.comparisons.len(), 2);
    let (c0, c1) = (at("0.0"), at("0.1"));
    assert_eq!(c0.n_pairs, 1);
    assert!((c0.mean_diff - 0.15).abs() < 1e-12, "{c0:?}");
    assert_eq!(c1.n_pairs, 2);
    assert!((c1.mean_diff - 0.075).abs() < 1e-12, "{c1:?}");
}

#[test]
fn keys_that_differ_only_between_tasks_split_nothing() {
    let runs = vec![
        run("mrpc", "vanilla", 1, 0.8, &[("max_steps", "690")]),
        run("mrpc", "dps-dense", 1, 0.9, &[("max_steps", "690")]),
        run("stsb", "vanilla", 1, 0.8, &[("max_steps", "1080")]),
        run("stsb", "dps-dense", 1, 0.7, &[("max_steps", "1080")]),
        run("stsb", "vanilla", 2, 0.8, &[("max_steps", "500")]),
    ];
    let r = build(&runs, "vanilla");
    // max_steps varies within stsb, so it is a key there and for mrpc alike.
    assert_eq!(r.groups.len(), 5);
    assert!(r.groups.iter().all(|g| g.keys.contains_key("max_steps")));
    // Without the stsb run at 500 steps it only follows the task: no key, no split.
    let r = build(&runs[..4], "vanilla");
    assert_eq!(r.groups.len(), 4);
    assert!(r.groups.iter().all(|g| g.keys.is_empty()), "{:?}", r.groups);
    assert_eq!(r.comparisons.len(), 2);
    assert!(r.comparisons.iter().all(|c| c.keys.is_empty()));
}

#[test]
fn other_differing_keys_split_groups_and_comparisons() {
    let runs = vec![
        run("rte", "vanilla", 1, 0.5, &[("train_size", "1000")]),
        run("rte", "dps-dense", 1, 0.6, &[("train_size", "1000")]),
        run("rte", "vanilla", 1, 0.7, &[("train_size", "null")]),
        run("rte", "dps-dense", 1, 0.6, &[("train_size", "null")]),
    ];
    let r = build(&runs, "vanilla");
    assert_eq!(r.groups.len(), 4);
    assert!(r.groups.iter().all(|g| g.keys.contains_key("train_size")));
    let diffs: Vec<f64> = r.comparisons.iter().map(|c| c.mean_diff).collect();
    assert_eq!(r.comparisons.len(), 2);
    assert!(diffs.iter().any(|d| (d - 0.1).abs() < 1e-12));
    assert!(diffs.iter().any(|d| (d + 0.1).abs() < 1e-12));
}

#[test]
fn imported_runs_group_and_pair_within_their_source() {
    let mut runs = vec![
        run(
            "mrpc",
            "vanilla",
            1,
            0.80,
            &[("source", "dps-tui"), ("dropout", "0.1")],
        ),
        run(
            "mrpc",
            "dps-dense",
            1,
            0.82,
            &[("source", "dps-tui"), ("dropout", "0.0")],
        ),
    ];
    for (method, seed, value, dropout) in [
        ("vanilla", 1, 0.70, "0.1"),
        ("dps-dense", 1, 0.75, "0.0"),
        ("vanilla", 2, 0.72, "0.1"),
    ] {
        let mut r = run("mrpc", method, seed, value, &[]);
        r.config = [
            ("source", "pytorch"),
            ("task", "mrpc"),
            ("method", method),
            ("dropout", dropout),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        r.imported = true;
        runs.push(r);
    }
    let r = build(&runs, "vanilla");
    assert_eq!(r.groups.len(), 4);
    for g in &r.groups {
        let keys: Vec<&str> = g.keys.keys().map(|k| k.as_str()).collect();
        // learning_rate is recorded by the run folders only: unknown, not different.
        assert_eq!(keys, ["dropout", "source"], "{g:?}");
    }
    let torch_vanilla = r
        .groups
        .iter()
        .find(|g| g.method == "vanilla" && g.keys["source"] == "pytorch")
        .unwrap();
    assert_eq!(
        (torch_vanilla.n, torch_vanilla.seeds.clone()),
        (2, vec![1, 2])
    );
    assert_eq!(r.comparisons.len(), 2, "one per source, never across");
    let by_source = |s: &str| {
        r.comparisons
            .iter()
            .find(|c| c.keys["source"] == s)
            .unwrap()
    };
    assert!((by_source("dps-tui").mean_diff - 0.02).abs() < 1e-12);
    assert!((by_source("pytorch").mean_diff - 0.05).abs() < 1e-12);
    assert_eq!(by_source("pytorch").n_pairs, 1);
}

#[test]
fn bootstrap_interval_brackets_the_mean_and_narrows_with_agreement() {
    let spread = [0.05, -0.03, 0.02, 0.04, -0.01];
    let ci = bootstrap_ci95(&spread);
    let m = mean(&spread);
    assert!(ci[0] < m && m < ci[1], "{ci:?}");
    assert!(ci[0] < 0.0, "a mixed sign sample includes 0: {ci:?}");
    let same = [0.02; 5];
    assert_eq!(bootstrap_ci95(&same), [0.02, 0.02]);
    let md = to_markdown(&build(&[run("rte", "vanilla", 1, 0.5, &[])], "vanilla"));
    assert!(
        md.contains("| rte | vanilla |  | accuracy | 1 | 0.5000 |"),
        "{md}"
    );
}
