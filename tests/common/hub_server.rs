//! A local Hugging Face Hub for the tests: `scripts/fixtures/hub-server.py` serving MiniLM
//! from `../shared/models/all-MiniLM-L6-v2` and GLUE RTE parquet built from `../shared/glue`
//! (see `tests/hub_server.rs`), started per test.

use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// The server serves the first this many rows of each GLUE split, to keep evaluation short.
pub const ROWS: u64 = 32;

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Say SKIPPED where it shows (not in captured output), or fail under CI.
pub fn skip(why: &str) {
    super::skipped(&format!("hub_server: {why} (.ci/run provides it)"));
}

pub struct Fixture {
    pub python: PathBuf,
    pub model_dir: PathBuf,
    pub glue_dir: PathBuf,
}

impl Fixture {
    pub fn get() -> Option<Fixture> {
        let shared = repo_root().join("../shared");
        let model_dir = shared.join("models/all-MiniLM-L6-v2");
        let glue_dir = shared.join("glue");
        if !model_dir.join("model.safetensors").is_file() || !glue_dir.join("RTE").is_dir() {
            skip(&format!(
                "{} (MiniLM and GLUE RTE) is missing",
                shared.display()
            ));
            return None;
        }
        let python = std::env::var_os("DPS_HUB_PYTHON")
            .map(PathBuf::from)
            .unwrap_or_else(|| "python3".into());
        let ok = Command::new(&python)
            .args(["-c", "import huggingface_hub, pyarrow"])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            skip(&format!(
                "`{}` cannot import huggingface_hub and pyarrow; set DPS_HUB_PYTHON to a python \
                 that can (pip install huggingface_hub pyarrow)",
                python.display()
            ));
            return None;
        }
        Some(Fixture {
            python,
            model_dir,
            glue_dir,
        })
    }

    /// The sha256 of each file of the model, from its SHA256SUMS.
    pub fn model_sha256(&self, file: &str) -> String {
        let sums = std::fs::read_to_string(self.model_dir.join("SHA256SUMS")).unwrap();
        sums.lines()
            .find_map(|l| {
                let (sum, name) = l.split_once("  ")?;
                (name.trim() == file).then(|| sum.to_string())
            })
            .unwrap_or_else(|| panic!("{file} not in SHA256SUMS"))
    }

    /// The rows served of `../shared/glue/RTE/<file>`: its lines less the header, at most
    /// [`ROWS`].
    pub fn rte_rows(&self, file: &str) -> u64 {
        let text = std::fs::read_to_string(self.glue_dir.join("RTE").join(file)).unwrap();
        (text.lines().filter(|l| !l.is_empty()).count() as u64 - 1).min(ROWS)
    }
}

/// A running `hub-server.py`; killed on drop.
pub struct Server {
    pub child: Child,
    pub port: u16,
}

impl Server {
    pub fn start(fx: &Fixture, root: &Path, extra: &[&str]) -> Server {
        let log = std::fs::File::create(root.with_extension("log")).unwrap();
        let mut child = Command::new(&fx.python)
            .arg(repo_root().join("scripts/fixtures/hub-server.py"))
            .arg("--model-dir")
            .arg(&fx.model_dir)
            .arg("--glue-dir")
            .arg(&fx.glue_dir)
            .args(["--task", "rte", "--gated", "org/gated", "--lifetime", "300"])
            .args(["--rows", &ROWS.to_string()])
            .arg("--root")
            .arg(root)
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("start hub-server.py");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("hub-server.py printed no port within 60 s");
        let port = line
            .trim()
            .strip_prefix("PORT ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("hub-server.py printed {line:?}, not PORT <n>"));
        Server { child, port }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The requests served so far (method, path, range).
    pub fn requests(&self) -> Vec<Value> {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        write!(s, "GET /_stats HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").unwrap();
        let mut body = String::new();
        s.read_to_string(&mut body).unwrap();
        let json = body.split("\r\n\r\n").nth(1).unwrap_or_default();
        let v: Value = serde_json::from_str(json).unwrap();
        v["requests"].as_array().unwrap().clone()
    }

    /// Wait for the server to exit by itself (a fault that kills it).
    pub fn exited(&mut self, within: Duration) -> Option<ExitStatus> {
        let t = Instant::now();
        while t.elapsed() < within {
            if let Some(s) = self.child.try_wait().unwrap() {
                return Some(s);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
