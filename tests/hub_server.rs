//! The Hugging Face Hub path of the real binary against a Hub server on 127.0.0.1:
//! `scripts/fixtures/hub-server.py` serves `sentence-transformers/all-MiniLM-L6-v2` from
//! `../shared/models/all-MiniLM-L6-v2` and `nyu-mll/glue` RTE parquet built from
//! `../shared/glue/RTE`, through the Hub's HTTP API (info, resolve with redirects to a CDN
//! origin, Range requests), with faults on demand. Each test starts its own server and uses an
//! empty `HF_HOME`. Python's `huggingface_hub` (`scripts/fixtures/hub-client-check.py`) reads
//! the cache the binary filled, and downloads the same files itself as the reference.
//!
//! Needs python3 with `huggingface_hub` and `pyarrow` (`$DPS_HUB_PYTHON`, else `python3`; `.ci/run`
//! installs them) and `../shared`. Without them the tests fail under CI and say SKIPPED elsewhere.

mod common;

use serde_json::Value;
use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use common::hub_server::{repo_root, Fixture, Server};

const MODEL: &str = "sentence-transformers/all-MiniLM-L6-v2";
const MODEL_FOLDER: &str = "models--sentence-transformers--all-MiniLM-L6-v2";
const MODEL_FILES: [&str; 3] = ["config.json", "model.safetensors", "tokenizer.json"];
/// A bound on any one run of the binary here; runs take seconds.
const RUN_LIMIT: Duration = Duration::from_secs(240);

struct Run {
    status: ExitStatus,
    stdout: String,
    stderr: String,
    took: Duration,
}

impl Run {
    fn events(&self) -> Vec<Value> {
        self.stdout
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
            .collect()
    }
    fn ok(self, what: &str) -> Run {
        assert!(
            self.status.success(),
            "{what} failed ({}): {}",
            self.status,
            self.stderr
        );
        self
    }
    fn failed(self, what: &str) -> Run {
        assert!(
            !self.status.success(),
            "{what} succeeded but should fail: {}",
            self.stderr
        );
        self
    }
}

/// Run the binary with an `HF_HOME` of its own and no other Hugging Face settings than `env`,
/// killing it (and failing) past [`RUN_LIMIT`].
fn dps(home: &Path, env: &[(&str, &str)], args: &[&str]) -> Run {
    let out = tempfile::tempdir().unwrap();
    let (o, e) = (out.path().join("out"), out.path().join("err"));
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_dps-tui"));
    for k in [
        "HF_ENDPOINT",
        "HF_HUB_OFFLINE",
        "HF_HUB_CACHE",
        "HUGGINGFACE_HUB_CACHE",
        "HF_TOKEN",
        "HUGGING_FACE_HUB_TOKEN",
        "HF_TOKEN_PATH",
        "HF_HUB_ETAG_TIMEOUT",
        "HF_HUB_DOWNLOAD_TIMEOUT",
    ] {
        cmd.env_remove(k);
    }
    cmd.env("HF_HOME", home)
        .envs(env.iter().copied())
        .args(args);
    cmd.stdout(std::fs::File::create(&o).unwrap())
        .stderr(std::fs::File::create(&e).unwrap())
        .stdin(Stdio::null());
    let t = Instant::now();
    let mut child = cmd.spawn().expect("run dps-tui");
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if t.elapsed() > RUN_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "dps-tui {args:?} did not finish within {RUN_LIMIT:?}: {}",
                std::fs::read_to_string(&e).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    Run {
        status,
        stdout: std::fs::read_to_string(&o).unwrap(),
        stderr: std::fs::read_to_string(&e).unwrap(),
        took: t.elapsed(),
    }
}

/// `train --preset rte --headless`, two steps of 8 on 16 examples, then the dev set.
fn train_rte(home: &Path, env: &[(&str, &str)], run_dir: &Path, extra: &[&str]) -> Run {
    let out = run_dir.with_extension("out");
    let mut args = vec![
        "train",
        "--preset",
        "rte",
        "--headless",
        "--threads",
        "1",
        "--out",
        out.to_str().unwrap(),
        "--run-dir",
        run_dir.to_str().unwrap(),
    ];
    for s in [
        "max_steps=2",
        "train_size=16",
        "batch_size=8",
        "max_seq_length=32",
    ] {
        args.extend(["--set", s]);
    }
    args.extend(extra);
    dps(home, env, &args)
}

/// The run trained two steps on 16 examples and evaluated the whole dev split served.
fn assert_trained(run: &Run, fx: &Fixture) {
    let ev = run.events();
    let start = ev.iter().find(|e| e["event"] == "start").expect("start");
    assert_eq!(start["num_train"], 16);
    assert_eq!(start["num_dev"].as_u64(), Some(fx.rte_rows("dev.tsv")));
    let steps = ev.iter().filter(|e| e["event"] == "step").count();
    assert_eq!(steps, 2);
    let done = ev.last().unwrap();
    assert_eq!(done["event"], "done", "{}", run.stderr);
    let acc = done["metrics"]["accuracy"].as_f64().expect("dev accuracy");
    assert!((0.0..=1.0).contains(&acc), "{acc}");
}

/// The cached snapshot of the model: `refs/main` names it and each file links to its blob.
fn cached_model(home: &Path, fx: &Fixture) -> PathBuf {
    let repo = home.join("hub").join(MODEL_FOLDER);
    let commit = std::fs::read_to_string(repo.join("refs/main")).expect("refs/main");
    let snap = repo.join("snapshots").join(commit.trim());
    let weights = snap.join("model.safetensors");
    let target = std::fs::read_link(&weights).expect("model.safetensors is a link");
    let sha = fx.model_sha256("model.safetensors");
    assert_eq!(target, Path::new("../../blobs").join(&sha));
    assert_eq!(
        std::fs::metadata(&weights).unwrap().len(),
        std::fs::metadata(fx.model_dir.join("model.safetensors"))
            .unwrap()
            .len()
    );
    snap
}

/// `hub-client-check.py` with `huggingface_hub`: what it finds in `home`'s cache.
fn python_check(fx: &Fixture, home: &Path, endpoint: Option<&str>) -> Value {
    let mut c = Command::new(&fx.python);
    c.arg(repo_root().join("scripts/fixtures/hub-client-check.py"));
    for f in MODEL_FILES {
        c.args(["--model-file", f]);
    }
    c.env("HF_HOME", home)
        .env("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        .env_remove("HF_HUB_CACHE")
        .env_remove("HF_TOKEN");
    match endpoint {
        Some(e) => c.env("HF_ENDPOINT", e).env_remove("HF_HUB_OFFLINE"),
        None => c.arg("--local-only").env("HF_HUB_OFFLINE", "1"),
    };
    let out = c.output().expect("run hub-client-check.py");
    assert!(
        out.status.success(),
        "hub-client-check.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn glue_preset_downloads_trains_evaluates_then_works_offline_and_python_reads_the_cache() {
    let Some(fx) = Fixture::get() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("home");
    let server = Server::start(&fx, &tmp.path().join("root"), &[]);
    let url = server.url();

    let first = train_rte(
        &home,
        &[("HF_ENDPOINT", &url)],
        &tmp.path().join("run1"),
        &[],
    )
    .ok("the first (downloading) run");
    assert_trained(&first, &fx);
    let snap = cached_model(&home, &fx);
    let reqs = server.requests();
    let hit = |m: &str, p: &str| reqs.iter().any(|r| r["method"] == m && r["path"] == p);
    assert!(hit("GET", &format!("/api/models/{MODEL}/revision/main")));
    assert!(hit("GET", "/api/datasets/nyu-mll/glue/revision/main"));
    let weights_sha = fx.model_sha256("model.safetensors");
    assert!(hit("GET", &format!("/cdn/{weights_sha}")), "{reqs:?}");
    // Not a terminal: no progress bar on stderr.
    assert!(!first.stderr.contains('\u{1b}'), "{}", first.stderr);
    drop(server);

    // Offline, with the server gone: everything comes from the cache.
    let second = train_rte(
        &home,
        &[("HF_HUB_OFFLINE", "1")],
        &tmp.path().join("run2"),
        &[],
    )
    .ok("the offline run");
    assert_trained(&second, &fx);

    // Python's client finds the same files in that cache, offline.
    let local = python_check(&fx, &home, None);
    for f in MODEL_FILES {
        assert_eq!(local["model"][f], fx.model_sha256(f), "{f}: {local}");
    }
    assert_eq!(
        local["model_commit"].as_str(),
        snap.file_name().unwrap().to_str()
    );
    assert_eq!(local["cache_warnings"], serde_json::json!([]));
    assert_eq!(local["dataset"].as_object().unwrap().len(), 2, "{local}");

    // The reference: huggingface_hub downloading from the same server gets the same bytes
    // and commits.
    let server = Server::start(&fx, &tmp.path().join("root"), &[]);
    let reference = python_check(&fx, &tmp.path().join("home-py"), Some(&server.url()));
    for k in ["model", "model_commit", "dataset", "dataset_commit"] {
        assert_eq!(local[k], reference[k], "{k}");
    }
    let _ = writeln!(
        std::io::stderr(),
        "hub_server: download+train {:.1} s, offline train {:.1} s",
        first.took.as_secs_f64(),
        second.took.as_secs_f64()
    );
}

#[test]
fn a_server_killed_mid_download_leaves_nothing_a_later_run_trusts() {
    let Some(fx) = Fixture::get() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("home");
    let root = tmp.path().join("root");
    const CUT: u64 = 30_000_000;
    let mut server = Server::start(
        &fx,
        &root,
        &["--die-after", &format!("model.safetensors:{CUT}")],
    );
    let url = server.url();
    let cut = train_rte(
        &home,
        &[("HF_ENDPOINT", &url)],
        &tmp.path().join("run1"),
        &[],
    )
    .failed("a run whose server dies mid-download");
    assert!(
        server.exited(Duration::from_secs(10)).is_some(),
        "the server did not die"
    );
    for want in [MODEL, "model.safetensors", "stopped after", "run again"] {
        assert!(cut.stderr.contains(want), "no `{want}` in: {}", cut.stderr);
    }
    // No blob and no snapshot entry for the weights; only the partial file.
    let repo = home.join("hub").join(MODEL_FOLDER);
    let sha = fx.model_sha256("model.safetensors");
    assert!(!repo.join("blobs").join(&sha).exists());
    let partial = repo.join("blobs").join(format!("{sha}.incomplete"));
    let got = std::fs::metadata(&partial).expect("the partial file").len();
    assert!(got > 0 && got <= CUT, "{got}");
    for snap in std::fs::read_dir(repo.join("snapshots")).unwrap() {
        assert!(!snap.unwrap().path().join("model.safetensors").exists());
    }

    // Offline, a run refuses: the weights are not in the cache.
    let offline = train_rte(
        &home,
        &[("HF_HUB_OFFLINE", "1")],
        &tmp.path().join("run2"),
        &[],
    )
    .failed("an offline run after a cut download");
    for want in [MODEL, "model.safetensors", "HF_HUB_OFFLINE"] {
        assert!(
            offline.stderr.contains(want),
            "no `{want}` in: {}",
            offline.stderr
        );
    }

    // With the server back, the download resumes where it stopped and the file is whole.
    let server = Server::start(&fx, &root, &[]);
    dps(
        &home,
        &[("HF_ENDPOINT", &server.url())],
        &["download", MODEL],
    )
    .ok("the resumed download");
    let ranges: Vec<String> = server
        .requests()
        .iter()
        .filter(|r| r["path"] == format!("/cdn/{sha}").as_str() && r["method"] == "GET")
        .map(|r| r["range"].as_str().unwrap_or("").to_string())
        .collect();
    assert_eq!(ranges, vec![format!("bytes={got}-")]);
    cached_model(&home, &fx);
    let blob = std::fs::read(repo.join("blobs").join(&sha)).unwrap();
    let whole = std::fs::read(fx.model_dir.join("model.safetensors")).unwrap();
    assert!(
        blob == whole,
        "the resumed file differs from the served one"
    );
    assert!(!partial.exists());
}

/// A server on 127.0.0.1 that accepts connections and never answers; it stops taking new
/// ones after `limit`, and holds each until the test ends.
fn silent_server(limit: Duration) -> (u16, std::thread::JoinHandle<()>) {
    let listener = TcpListener::bind(("127.0.0.1", 0)).unwrap();
    let port = listener.local_addr().unwrap().port();
    listener.set_nonblocking(true).unwrap();
    let h = std::thread::spawn(move || {
        let t = Instant::now();
        let mut held = Vec::new();
        while t.elapsed() < limit && held.len() < 16 {
            match listener.accept() {
                Ok((s, _)) => held.push(s),
                Err(_) => std::thread::sleep(Duration::from_millis(20)),
            }
        }
    });
    (port, h)
}

#[test]
fn missing_gated_and_silent_servers_give_clear_errors_in_bounded_time() {
    let Some(fx) = Fixture::get() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("home");
    let server = Server::start(&fx, &tmp.path().join("root"), &[]);
    let url = server.url();
    let env = [("HF_ENDPOINT", url.as_str())];
    let run = |env: &[(&str, &str)], model: &str, name: &str| {
        train_rte(&home, env, &tmp.path().join(name), &["--model", model])
            .failed(&format!("a run of model {model}"))
    };

    let missing = run(&env, "nobody/no-such-model", "missing");
    for want in [
        "nobody/no-such-model",
        "not found",
        "404",
        "Fix: check the id",
    ] {
        assert!(
            missing.stderr.contains(want),
            "no `{want}` in: {}",
            missing.stderr
        );
    }
    let gated = run(&env, "org/gated", "gated");
    for want in [
        "org/gated",
        "401",
        "GatedRepo",
        "accept its conditions",
        "HF_TOKEN",
    ] {
        assert!(
            gated.stderr.contains(want),
            "no `{want}` in: {}",
            gated.stderr
        );
    }
    let with_token = [("HF_ENDPOINT", url.as_str()), ("HF_TOKEN", "hf_test")];
    let denied = run(&with_token, "org/gated", "denied");
    for want in ["org/gated", "403", "no access"] {
        assert!(
            denied.stderr.contains(want),
            "no `{want}` in: {}",
            denied.stderr
        );
    }
    // Neither left a snapshot behind.
    assert!(!home.join("hub/models--org--gated/snapshots").exists());

    // A server that never answers: the info request gives up after HF_HUB_ETAG_TIMEOUT.
    let (port, silent) = silent_server(Duration::from_secs(30));
    let silent_url = format!("http://127.0.0.1:{port}");
    let timeout = train_rte(
        &home,
        &[("HF_ENDPOINT", &silent_url), ("HF_HUB_ETAG_TIMEOUT", "1")],
        &tmp.path().join("silent"),
        &[],
    )
    .failed("a run against a silent server");
    for want in [MODEL, "no answer", "within 1 s", "HF_HUB_ETAG_TIMEOUT"] {
        assert!(
            timeout.stderr.contains(want),
            "no `{want}` in: {}",
            timeout.stderr
        );
    }
    assert!(timeout.took < Duration::from_secs(20), "{:?}", timeout.took);
    drop(silent);

    // A download that stalls part way gives up after HF_HUB_DOWNLOAD_TIMEOUT.
    drop(server);
    let server = Server::start(
        &fx,
        &tmp.path().join("root"),
        &[
            "--stall-after",
            "model.safetensors:1000000",
            "--stall-seconds",
            "60",
        ],
    );
    let stall = dps(
        &tmp.path().join("home-stall"),
        &[
            ("HF_ENDPOINT", &server.url()),
            ("HF_HUB_DOWNLOAD_TIMEOUT", "1"),
        ],
        &["download", MODEL],
    )
    .failed("a download that stalls");
    for want in [
        MODEL,
        "model.safetensors",
        "no answer",
        "HF_HUB_DOWNLOAD_TIMEOUT",
    ] {
        assert!(
            stall.stderr.contains(want),
            "no `{want}` in: {}",
            stall.stderr
        );
    }
    assert!(stall.took < Duration::from_secs(20), "{:?}", stall.took);
}

#[test]
fn download_subcommand_fills_the_cache_for_an_offline_run() {
    let Some(fx) = Fixture::get() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("home");
    let server = Server::start(&fx, &tmp.path().join("root"), &[]);
    let got = dps(
        &home,
        &[("HF_ENDPOINT", &server.url())],
        &["download", MODEL, "--task", "rte"],
    )
    .ok("dps-tui download");
    let train_line = format!("rte train: {} examples", fx.rte_rows("train.tsv"));
    let dev_line = format!("rte dev: {} examples", fx.rte_rows("dev.tsv"));
    for want in [train_line.as_str(), dev_line.as_str(), "HF_HUB_OFFLINE=1"] {
        assert!(got.stdout.contains(want), "no `{want}` in: {}", got.stdout);
    }
    assert!(!got.stderr.contains('\u{1b}'), "{}", got.stderr);
    cached_model(&home, &fx);
    // Again: nothing is fetched, the cache is used as is.
    let before = server.requests().len();
    dps(
        &home,
        &[("HF_ENDPOINT", &server.url())],
        &["download", MODEL, "--task", "rte"],
    )
    .ok("a second dps-tui download");
    assert_eq!(server.requests().len(), before + 1, "only the /_stats call");
    drop(server);
    let run = train_rte(
        &home,
        &[("HF_HUB_OFFLINE", "1")],
        &tmp.path().join("run"),
        &[],
    )
    .ok("an offline run after dps-tui download");
    assert_trained(&run, &fx);
    let unknown = dps(
        &home,
        &[("HF_HUB_OFFLINE", "1")],
        &["download", MODEL, "--task", "nope"],
    )
    .failed("an unknown task");
    assert!(
        unknown.stderr.contains("unknown task `nope`"),
        "{}",
        unknown.stderr
    );
}
