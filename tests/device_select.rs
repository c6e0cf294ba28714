//! `--device`: a device this binary or machine cannot provide is a clear error that names the
//! fix, never a panic.

use std::process::Command;

/// Runs a short headless demo on `device`; returns (success, stderr).
fn train_on(device: &str) -> (bool, String) {
    let tmp = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_dps-tui"))
        .args([
            "train",
            "--preset",
            "demo",
            "--headless",
            "--out",
            tmp.path().to_str().unwrap(),
            "--set",
            "max_steps=2",
            "--device",
            device,
        ])
        .output()
        .expect("run dps-tui");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn assert_clear_error(device: &str, needles: &[&str]) {
    let (ok, err) = train_on(device);
    assert!(!ok, "--device {device} should fail here");
    assert!(
        !err.contains("panicked"),
        "--device {device} panicked: {err}"
    );
    for n in needles {
        assert!(
            err.contains(n),
            "--device {device}: `{n}` missing from: {err}"
        );
    }
}

#[cfg(not(feature = "cuda"))]
#[test]
fn cuda_without_the_feature_names_the_rebuild() {
    for d in ["cuda", "cuda:1"] {
        assert_clear_error(
            d,
            &[
                "built without CUDA support",
                "scripts/gpu/build-cuda.sh",
                "--device cpu",
            ],
        );
    }
}

#[test]
fn malformed_devices_name_the_valid_ones() {
    assert_clear_error("cuda:first", &["cuda:first", "cuda:N"]);
    assert_clear_error("tpu", &["`tpu`", "cpu, cuda, cuda:N"]);
}

#[test]
fn cpu_runs() {
    let (ok, err) = train_on("cpu");
    assert!(ok, "--device cpu failed: {err}");
}
