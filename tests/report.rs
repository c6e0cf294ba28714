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
    std::fs::copy(
        std::fs::read_dir(root.join("vanilla-1"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.is_dir())
            .unwrap()
            .join("config.yaml"),
        broken.join("config.yaml"),
    )
    .unwrap();
    std::fs::write(broken.join("events.jsonl"), "").unwrap();

    let bin = env!("CARGO_BIN_EXE_dps-tui");
    let o = Command::new(bin)
        .args(["report", "--json"])
        .arg(&root)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stderr).contains("not finished"));
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

    let none = Command::new(bin)
        .arg("report")
        .arg(tmp.path().join("nothing"))
        .output()
        .unwrap();
    assert!(!none.status.success());
    assert!(String::from_utf8_lossy(&none.stderr).contains("no such folder"));
}
