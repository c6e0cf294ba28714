//! Hugging Face Hub sources: models and datasets from the local Hugging Face cache first, and
//! through the Hub's HTTP API ([`http`], [`download`]) only when a file is not cached.
//!
//! The cache has Python's layout, so a cache filled by `huggingface_hub` is used as is:
//! `<cache>/{models|datasets}--<org>--<name>/snapshots/<commit>/<file>`, with `refs/main`
//! naming the commit. The cache folder is `$HF_HUB_CACHE`, else `$HUGGINGFACE_HUB_CACHE`, else
//! `$HF_HOME/hub`, else `$XDG_CACHE_HOME/huggingface/hub`, else `~/.cache/huggingface/hub`.
//! `HF_HUB_OFFLINE=1` forbids any network access: a file that is not cached is then an error
//! that names the cache folder. `HF_ENDPOINT` names another Hub; `HF_TOKEN` (else the token file
//! `huggingface_hub` writes) authorises gated and private repositories; `HF_HUB_ETAG_TIMEOUT` and
//! `HF_HUB_DOWNLOAD_TIMEOUT` bound every wait (see [`http::Timeouts`]).

pub mod download;
pub mod http;
pub mod progress;

use http::{Client, Failure, Timeouts};
use std::path::{Path, PathBuf};
use thiserror::Error;

/// The Hub dataset GLUE is read from when no data folder is given.
pub const GLUE_DATASET: &str = "nyu-mll/glue";

/// The preferred complete file set of a model; [`crate::model::files`] names the alternatives
/// a folder or a repository may have instead (`pytorch_model.bin`, `spm.model`).
pub const MODEL_FILES: [&str; 3] = [
    crate::model::files::CONFIG,
    crate::model::files::WEIGHTS[0],
    crate::model::files::TOKENIZERS[0],
];

/// Whether a Hub repository is a model or a dataset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RepoKind {
    Model,
    Dataset,
}

impl RepoKind {
    /// The folder prefix in the cache (`models`, `datasets`).
    pub fn cache_prefix(&self) -> &'static str {
        match self {
            RepoKind::Model => "models",
            RepoKind::Dataset => "datasets",
        }
    }

    fn word(&self) -> &'static str {
        match self {
            RepoKind::Model => "model",
            RepoKind::Dataset => "dataset",
        }
    }
}

/// Everything that can go wrong while finding Hub files.
#[derive(Debug, Error)]
pub enum HubError {
    /// Offline and not cached.
    #[error(
        "{kind} `{repo}`: {what} is not in the Hugging Face cache ({cache}) and HF_HUB_OFFLINE \
         is set, so nothing is downloaded. Fix: run once with network access and without \
         HF_HUB_OFFLINE to fill the cache, point HF_HUB_CACHE (or HF_HOME) at a cache that holds \
         it, or pass a local folder instead"
    )]
    Offline {
        kind: &'static str,
        repo: String,
        what: String,
        cache: PathBuf,
    },
    /// A file the program needs is not in the repository.
    #[error("{kind} `{repo}` has no {file} on the Hub (files: {listing}). Fix: {fix}")]
    MissingInRepo {
        kind: &'static str,
        repo: String,
        file: String,
        listing: String,
        fix: String,
    },
    /// The repository (or the revision) does not exist on the Hub.
    #[error(
        "{kind} `{repo}` was not found on {endpoint} ({detail}). Fix: check the id: it is \
         `owner/name` as on the Hub (for example sentence-transformers/all-MiniLM-L6-v2 or \
         nyu-mll/glue), or pass a local folder instead (--model DIR for a model, --data-dir DIR \
         for GLUE data)"
    )]
    NotFound {
        kind: &'static str,
        repo: String,
        endpoint: String,
        detail: String,
    },
    /// The Hub refused access: a gated or private repository.
    #[error(
        "{kind} `{repo}` on {endpoint} refused access ({detail}): it is gated or private. Fix: \
         {fix}; or pass a local folder instead (--model DIR for a model, --data-dir DIR for GLUE \
         data)"
    )]
    Denied {
        kind: &'static str,
        repo: String,
        endpoint: String,
        detail: String,
        fix: String,
    },
    /// The Hub did not answer in time.
    #[error(
        "{kind} `{repo}`: {action}: no answer from {endpoint} within {secs} s. Fix: check the \
         network and HF_ENDPOINT; on a slow link raise {var} (seconds); or, when the files are \
         already in the cache, set HF_HUB_OFFLINE=1 to use them without the network"
    )]
    Timeout {
        kind: &'static str,
        repo: String,
        action: String,
        endpoint: String,
        secs: f64,
        var: &'static str,
    },
    /// A download stopped part way; the partial file is kept for the next run to resume.
    #[error(
        "{kind} `{repo}`: the download of {file} stopped after {got} of {want} bytes (the \
         connection closed). Nothing uses the partial file {partial}; the next download resumes \
         it. Fix: run again (or `dps-tui download {repo}` for a model)"
    )]
    Incomplete {
        kind: &'static str,
        repo: String,
        file: String,
        got: u64,
        want: u64,
        partial: PathBuf,
    },
    /// The Hub could not be reached, or answered with an error.
    #[error(
        "{kind} `{repo}`: {action} failed: {message}. The cache folder is {cache}. Fix: check \
         the network and the repository id (private repositories need HF_TOKEN or a token file); \
         or pass a local folder (--model DIR for a model, --data-dir DIR for GLUE data); or, \
         when the files are already in the cache, set HF_HUB_OFFLINE=1 to use them without the \
         network"
    )]
    Request {
        kind: &'static str,
        repo: String,
        action: String,
        message: String,
        cache: PathBuf,
    },
}

/// Whether `HF_HUB_OFFLINE` asks for no network access (`1`, `true`, `yes`, `on`).
pub fn offline_from_env() -> bool {
    std::env::var("HF_HUB_OFFLINE")
        .map(|v| {
            matches!(
                v.trim().to_ascii_lowercase().as_str(),
                "1" | "true" | "yes" | "on"
            )
        })
        .unwrap_or(false)
}

/// The Hugging Face cache folder named by the environment (see the module docs).
pub fn cache_dir_from_env() -> PathBuf {
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    if let Some(p) = var("HF_HUB_CACHE").or_else(|| var("HUGGINGFACE_HUB_CACHE")) {
        return PathBuf::from(p);
    }
    if let Some(p) = var("HF_HOME") {
        return PathBuf::from(p).join("hub");
    }
    let base = var("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(var("HOME").unwrap_or_else(|| ".".into())).join(".cache"));
    base.join("huggingface").join("hub")
}

/// Where Hub files come from: a cache folder, and whether the network may be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubSource {
    /// The Hugging Face cache folder (the `hub` folder).
    pub cache_dir: PathBuf,
    /// Never touch the network.
    pub offline: bool,
    /// The Hub's address (`$HF_ENDPOINT`, default `https://huggingface.co`).
    pub endpoint: Option<String>,
}

impl HubSource {
    /// The cache folder, offline flag and endpoint from the environment.
    pub fn from_env() -> Self {
        Self {
            cache_dir: cache_dir_from_env(),
            offline: offline_from_env(),
            endpoint: std::env::var("HF_ENDPOINT").ok().filter(|v| !v.is_empty()),
        }
    }

    /// An offline source reading only `cache_dir`.
    pub fn offline(cache_dir: impl Into<PathBuf>) -> Self {
        Self {
            cache_dir: cache_dir.into(),
            offline: true,
            endpoint: None,
        }
    }

    /// Whether the Hub's endpoint answers within `timeout` (`Err` says why not), asked through
    /// the same client as every download ([`Client::answers`]). Never called offline. The
    /// picker asks this before a run that would download starts, so that it can say the
    /// download would fail. Name resolution cannot be interrupted, so the answer is awaited on
    /// another thread, for `timeout` at most.
    pub fn probe_endpoint(&self, timeout: std::time::Duration) -> Result<(), String> {
        let endpoint = self
            .endpoint
            .clone()
            .unwrap_or_else(|| http::DEFAULT_ENDPOINT.to_string());
        let timeouts = Timeouts {
            etag: timeout,
            download: timeout,
        };
        let client = Client::new(Some(&endpoint), None, timeouts).map_err(|e| e.to_string())?;
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(client.answers().map_err(|e| e.to_string()));
        });
        rx.recv_timeout(timeout)
            .unwrap_or_else(|_| Err(format!("no answer within {} s", timeout.as_secs_f64())))
            .map_err(|e| format!("{endpoint} cannot be reached ({e})"))
    }

    /// The cache folder of one repository (`<cache>/models--org--name`).
    pub fn repo_dir(&self, kind: RepoKind, repo_id: &str) -> PathBuf {
        self.cache_dir.join(format!(
            "{}--{}",
            kind.cache_prefix(),
            repo_id.replace('/', "--")
        ))
    }

    /// The cached snapshot folder of a repository: the commit `refs/main` names, else the most
    /// recently modified snapshot.
    pub fn snapshot(&self, kind: RepoKind, repo_id: &str) -> Option<PathBuf> {
        let repo = self.repo_dir(kind, repo_id);
        let snaps = repo.join("snapshots");
        if let Ok(commit) = std::fs::read_to_string(repo.join("refs").join("main")) {
            let p = snaps.join(commit.trim());
            if p.is_dir() {
                return Some(p);
            }
        }
        let mut dirs: Vec<_> = std::fs::read_dir(&snaps)
            .ok()?
            .filter_map(|e| e.ok())
            .filter(|e| e.path().is_dir())
            .collect();
        dirs.sort_by_key(|e| e.metadata().and_then(|m| m.modified()).ok());
        dirs.last().map(|e| e.path())
    }

    fn client(&self, kind: RepoKind, repo_id: &str) -> Result<Client, HubError> {
        Client::new(
            self.endpoint.as_deref(),
            token_from_env(),
            Timeouts::from_env(),
        )
        .map_err(|e| self.failure(kind, repo_id, "setting up the Hub client", e))
    }

    /// A request's [`Failure`] as a [`HubError`] that names the repository and the fix.
    fn failure(&self, kind: RepoKind, repo_id: &str, action: &str, e: Failure) -> HubError {
        let endpoint = self
            .endpoint
            .clone()
            .unwrap_or_else(|| http::DEFAULT_ENDPOINT.to_string());
        let endpoint = endpoint.trim_end_matches('/').to_string();
        let (kind_word, repo) = (kind.word(), repo_id.to_string());
        match e {
            Failure::Status {
                code,
                ref error_code,
                ..
            } if code == 401 || code == 403 => {
                let gated = error_code.as_deref() == Some("GatedRepo");
                let page = match kind {
                    RepoKind::Model => format!("{endpoint}/{repo_id}"),
                    RepoKind::Dataset => format!("{endpoint}/datasets/{repo_id}"),
                };
                let fix = match (gated, token_from_env().is_some()) {
                    (true, false) => format!(
                        "accept its conditions at {page}, then set HF_TOKEN to an access token \
                         (or log in with `huggingface-cli login`)"
                    ),
                    (true, true) => format!(
                        "the token sent has no access yet: accept its conditions at {page} with \
                         that account"
                    ),
                    (false, false) => "set HF_TOKEN to an access token of an account that can \
                                       read it (or log in with `huggingface-cli login`); a \
                                       repository that does not exist answers the same, so \
                                       check the id"
                        .into(),
                    (false, true) => "the token sent cannot read it: use a token of an \
                                      account that can, and check the id"
                        .into(),
                };
                HubError::Denied {
                    kind: kind_word,
                    repo,
                    endpoint,
                    detail: e.to_string(),
                    fix,
                }
            }
            Failure::Status { code: 404, .. } => HubError::NotFound {
                kind: kind_word,
                repo,
                endpoint,
                detail: e.to_string(),
            },
            Failure::Timeout { secs, var } => HubError::Timeout {
                kind: kind_word,
                repo,
                action: action.into(),
                endpoint,
                secs,
                var,
            },
            Failure::Incomplete { got, want, partial } => HubError::Incomplete {
                kind: kind_word,
                repo,
                file: action.trim_start_matches("downloading ").into(),
                got,
                want,
                partial,
            },
            other => self.request_error(kind, repo_id, action, other),
        }
    }

    fn request_error(
        &self,
        kind: RepoKind,
        repo_id: &str,
        action: &str,
        e: impl std::fmt::Display,
    ) -> HubError {
        HubError::Request {
            kind: kind.word(),
            repo: repo_id.into(),
            action: action.into(),
            message: e.to_string(),
            cache: self.cache_dir.clone(),
        }
    }

    fn offline_error(&self, kind: RepoKind, repo_id: &str, what: impl Into<String>) -> HubError {
        HubError::Offline {
            kind: kind.word(),
            repo: repo_id.into(),
            what: what.into(),
            cache: self.cache_dir.clone(),
        }
    }

    /// The repository's commit and file listing from the Hub (paths relative to the
    /// repository root). Refused offline.
    pub fn remote_listing(
        &self,
        kind: RepoKind,
        repo_id: &str,
    ) -> Result<http::RepoListing, HubError> {
        if self.offline {
            return Err(self.offline_error(kind, repo_id, "its file listing"));
        }
        tracing::info!("listing the files of {} {repo_id} on the Hub", kind.word());
        self.client(kind, repo_id)?
            .listing(kind == RepoKind::Dataset, repo_id, "main")
            .map_err(|e| self.failure(kind, repo_id, "listing the files", e))
    }

    /// Download `files` of a repository at the commit `listing` names into the cache, point
    /// `refs/main` at that commit, and return their paths in the snapshot folder. Files the
    /// cache already holds are not fetched again. Progress goes to stderr (see
    /// [`progress::StderrBar`]). Refused offline.
    pub fn download_files(
        &self,
        kind: RepoKind,
        repo_id: &str,
        listing: &http::RepoListing,
        files: &[String],
    ) -> Result<Vec<PathBuf>, HubError> {
        if self.offline {
            return Err(self.offline_error(kind, repo_id, files.join(", ")));
        }
        let client = self.client(kind, repo_id)?;
        let mut paths = Vec::new();
        for file in files {
            tracing::info!(
                "downloading {file} of {} {repo_id} from the Hub",
                kind.word()
            );
            let mut bar = progress::StderrBar::new();
            let p = download::download(
                &client,
                &self.cache_dir,
                kind,
                repo_id,
                &listing.sha,
                file,
                &mut bar,
            )
            .map_err(|e| self.failure(kind, repo_id, &format!("downloading {file}"), e))?;
            paths.push(p);
        }
        download::write_ref(&self.repo_dir(kind, repo_id), "main", &listing.sha)
            .map_err(|e| self.failure(kind, repo_id, "writing refs/main", e))?;
        Ok(paths)
    }

    /// Download one file of a repository into the cache (a cached copy under `refs/main` is
    /// used as is) and return its path in the snapshot folder. Refused offline.
    pub fn download(&self, kind: RepoKind, repo_id: &str, file: &str) -> Result<PathBuf, HubError> {
        if let Some(snap) = self.snapshot(kind, repo_id) {
            if snap.join(file).is_file() {
                return Ok(snap.join(file));
            }
        }
        if self.offline {
            return Err(self.offline_error(kind, repo_id, file));
        }
        let listing = self.remote_listing(kind, repo_id)?;
        let mut paths = self.download_files(kind, repo_id, &listing, &[file.to_string()])?;
        Ok(paths.remove(0))
    }

    /// The folder holding a Hub model's files (see [`crate::model::files`]: `config.json`,
    /// `model.safetensors` else `pytorch_model.bin`, `tokenizer.json` else `spm.model` and
    /// `tokenizer_config.json`): the cached snapshot when it holds a complete set, else
    /// (online) the files the repository's listing offers are downloaded into the cache.
    pub fn model_dir(&self, repo_id: &str) -> Result<PathBuf, HubError> {
        use crate::model::files;
        let snapshot = self.snapshot(RepoKind::Model, repo_id);
        if let Some(snap) = &snapshot {
            if files::missing_in(snap).is_empty() {
                tracing::info!(
                    "model {repo_id}: using the cached snapshot {}",
                    snap.display()
                );
                return Ok(snap.clone());
            }
        }
        if self.offline {
            let missing: Vec<String> = match &snapshot {
                Some(snap) => files::missing_in(snap)
                    .into_iter()
                    .map(|l| l.file)
                    .collect(),
                None => vec!["its files".into()],
            };
            return Err(self.offline_error(RepoKind::Model, repo_id, missing.join(", ")));
        }
        let listing = self.remote_listing(RepoKind::Model, repo_id)?;
        let chosen = files::choose(&listing.files).map_err(|lacks| {
            let lack = &lacks[0];
            HubError::MissingInRepo {
                kind: "model",
                repo: repo_id.into(),
                file: lack.file.clone(),
                listing: short_listing(&listing.files),
                fix: lack.fix.clone(),
            }
        })?;
        let wanted: Vec<String> = chosen.iter().map(|f| f.to_string()).collect();
        let paths = self.download_files(RepoKind::Model, repo_id, &listing, &wanted)?;
        Ok(paths[0].parent().map(Path::to_path_buf).unwrap_or_default())
    }
}

/// The access token: `HF_TOKEN` (or the older `HUGGING_FACE_HUB_TOKEN`), else the file
/// `huggingface_hub` writes on login (`$HF_TOKEN_PATH`, else `$HF_HOME/token`, else
/// `~/.cache/huggingface/token`).
pub fn token_from_env() -> Option<String> {
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
    if let Some(t) = var("HF_TOKEN").or_else(|| var("HUGGING_FACE_HUB_TOKEN")) {
        return Some(t.trim().to_string());
    }
    let path = var("HF_TOKEN_PATH").map(PathBuf::from).unwrap_or_else(|| {
        var("HF_HOME")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                var("XDG_CACHE_HOME")
                    .map(PathBuf::from)
                    .unwrap_or_else(|| {
                        PathBuf::from(var("HOME").unwrap_or_else(|| ".".into())).join(".cache")
                    })
                    .join("huggingface")
            })
            .join("token")
    });
    std::fs::read_to_string(path)
        .ok()
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
}

/// A short, readable list of repository files for error messages.
pub fn short_listing(files: &[String]) -> String {
    const MAX: usize = 12;
    let mut s = files
        .iter()
        .take(MAX)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if files.len() > MAX {
        s.push_str(&format!(", … ({} files)", files.len()));
    }
    if s.is_empty() {
        s = "none".into();
    }
    s
}

/// Every file below a snapshot folder, as repository paths with `/` separators, sorted.
/// Symbolic links (the cache's links into `blobs/`) count as files.
pub fn snapshot_files(snapshot: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.filter_map(|e| e.ok()) {
            let p = e.path();
            if p.is_dir() {
                walk(root, &p, out);
            } else if p.is_file() {
                if let Ok(rel) = p.strip_prefix(root) {
                    let parts: Vec<String> = rel
                        .components()
                        .map(|c| c.as_os_str().to_string_lossy().into_owned())
                        .collect();
                    out.push(parts.join("/"));
                }
            }
        }
    }
    let mut out = Vec::new();
    walk(snapshot, snapshot, &mut out);
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_follows_refs_main_and_lists_files() {
        let tmp = tempfile::tempdir().unwrap();
        let hub = HubSource::offline(tmp.path());
        let repo = hub.repo_dir(RepoKind::Dataset, "org/data");
        assert!(repo.ends_with("datasets--org--data"));
        for c in ["aaa", "bbb"] {
            std::fs::create_dir_all(repo.join("snapshots").join(c).join("x")).unwrap();
            std::fs::write(repo.join("snapshots").join(c).join("x/f.parquet"), c).unwrap();
        }
        std::fs::create_dir_all(repo.join("refs")).unwrap();
        std::fs::write(repo.join("refs/main"), "aaa\n").unwrap();
        let snap = hub.snapshot(RepoKind::Dataset, "org/data").unwrap();
        assert!(snap.ends_with("snapshots/aaa"));
        assert_eq!(snapshot_files(&snap), vec!["x/f.parquet".to_string()]);
        assert!(hub.snapshot(RepoKind::Model, "org/data").is_none());
    }

    #[test]
    fn offline_refuses_the_network_and_names_the_cache() {
        let tmp = tempfile::tempdir().unwrap();
        let hub = HubSource::offline(tmp.path());
        let e = hub.model_dir("org/absent").unwrap_err().to_string();
        assert!(
            e.contains("org/absent") && e.contains("HF_HUB_OFFLINE"),
            "{e}"
        );
        assert!(e.contains(&tmp.path().display().to_string()), "{e}");
        let e = hub
            .remote_listing(RepoKind::Dataset, GLUE_DATASET)
            .unwrap_err()
            .to_string();
        assert!(e.contains("nyu-mll/glue"), "{e}");
    }

    #[test]
    fn offline_cache_with_the_published_deberta_files_is_used() {
        let tmp = tempfile::tempdir().unwrap();
        let hub = HubSource::offline(tmp.path());
        let snap = hub
            .repo_dir(RepoKind::Model, "org/pt")
            .join("snapshots/c0ffee");
        std::fs::create_dir_all(&snap).unwrap();
        for f in ["config.json", "pytorch_model.bin"] {
            std::fs::write(snap.join(f), "{}").unwrap();
        }
        let e = hub.model_dir("org/pt").unwrap_err().to_string();
        assert!(e.contains("tokenizer.json or spm.model"), "{e}");
        std::fs::write(snap.join("spm.model"), "x").unwrap();
        assert_eq!(hub.model_dir("org/pt").unwrap(), snap);
    }

    #[test]
    fn probing_the_endpoint_tells_an_answering_server_from_a_closed_port_and_a_silent_one() {
        use std::io::{Read, Write};
        // A server that answers one request with 404: an answer all the same.
        let answering = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let open = answering.local_addr().unwrap().port();
        std::thread::spawn(move || {
            if let Ok((mut c, _)) = answering.accept() {
                let mut buf = [0u8; 1024];
                let _ = c.read(&mut buf);
                let _ = c.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
            }
        });
        // A port that was bound and released: nothing listens there.
        let closed = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        // A listener that accepts and never answers.
        let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let quiet = silent.local_addr().unwrap().port();
        let at = |port: u16| HubSource {
            cache_dir: PathBuf::from("unused"),
            offline: false,
            endpoint: Some(format!("http://127.0.0.1:{port}")),
        };
        let t = std::time::Duration::from_secs(2);
        assert_eq!(at(open).probe_endpoint(t), Ok(()));
        let err = at(closed).probe_endpoint(t).unwrap_err();
        assert!(
            err.contains("cannot be reached") && err.contains("127.0.0.1"),
            "{err}"
        );
        let started = std::time::Instant::now();
        let err = at(quiet)
            .probe_endpoint(std::time::Duration::from_millis(500))
            .unwrap_err();
        assert!(err.contains("cannot be reached"), "{err}");
        assert!(
            started.elapsed() < std::time::Duration::from_secs(5),
            "{err}"
        );
        drop(silent);
    }
}
