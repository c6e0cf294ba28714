//! The Hub's HTTP API, as `huggingface_hub` uses it, over a blocking `ureq` client whose every
//! wait is bounded.
//!
//! - Repository info: `GET {endpoint}/api/{models|datasets}/{id}/revision/{rev}` (the commit
//!   `sha` and the file listing `siblings`).
//! - File metadata: `HEAD {endpoint}/[datasets/]{id}/resolve/{rev}/{file}`, following redirects
//!   that stay on the endpoint's origin; `X-Repo-Commit`, `X-Linked-Etag` (else `ETag`) and
//!   `X-Linked-Size` (else `Content-Length`) name the commit, the blob and its size. A redirect
//!   to another origin (the Hub's CDN) is where the content is fetched from, without the token.
//! - Content: `GET` with `Range: bytes=N-` to resume a partial file (206), or from the start
//!   when the server ignores the range (200).
//!
//! Timeouts as in `huggingface_hub`: `HF_HUB_ETAG_TIMEOUT` (seconds, default 10) bounds the
//! info and metadata requests; `HF_HUB_DOWNLOAD_TIMEOUT` (seconds, default 10) bounds the
//! connection and every read of a download, so a server that stops sending ends the download.

use std::io::{self, Read};
use std::path::PathBuf;
use std::time::Duration;
use url::Url;

/// The Hub's address when `HF_ENDPOINT` is not set.
pub const DEFAULT_ENDPOINT: &str = "https://huggingface.co";
/// The most redirects one request follows.
const MAX_REDIRECTS: usize = 10;

/// How long requests may wait for the server.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Timeouts {
    /// Repository info and file metadata (`HF_HUB_ETAG_TIMEOUT`).
    pub etag: Duration,
    /// Connecting for and each read of a download (`HF_HUB_DOWNLOAD_TIMEOUT`).
    pub download: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            etag: Duration::from_secs(10),
            download: Duration::from_secs(10),
        }
    }
}

impl Timeouts {
    /// `HF_HUB_ETAG_TIMEOUT` and `HF_HUB_DOWNLOAD_TIMEOUT` (seconds), else 10 s each. A value
    /// that is not a positive number is ignored with a warning.
    pub fn from_env() -> Self {
        let d = Self::default();
        Self {
            etag: secs_from_env(ETAG_VAR).unwrap_or(d.etag),
            download: secs_from_env(DOWNLOAD_VAR).unwrap_or(d.download),
        }
    }
}

/// The variable that bounds info and metadata requests.
pub const ETAG_VAR: &str = "HF_HUB_ETAG_TIMEOUT";
/// The variable that bounds downloads.
pub const DOWNLOAD_VAR: &str = "HF_HUB_DOWNLOAD_TIMEOUT";

fn secs_from_env(var: &str) -> Option<Duration> {
    let v = std::env::var(var).ok()?;
    match v.trim().parse::<f64>() {
        Ok(s) if s.is_finite() && s > 0.0 => Some(Duration::from_secs_f64(s)),
        _ => {
            tracing::warn!("{var}={v:?} is not a positive number of seconds; using 10");
            None
        }
    }
}

/// Why a request to the Hub failed.
#[derive(Debug)]
pub enum Failure {
    /// The server answered with an HTTP error (`X-Error-Code`, `X-Error-Message` as the Hub
    /// sends them: `RepoNotFound`, `GatedRepo`, `EntryNotFound`, `RevisionNotFound`).
    Status {
        code: u16,
        error_code: Option<String>,
        message: Option<String>,
    },
    /// No answer within the timeout that `var` sets.
    Timeout { secs: f64, var: &'static str },
    /// The server could not be reached, or the connection failed.
    Transport(String),
    /// The answer is not the Hub's (a missing header, a malformed listing).
    Protocol(String),
    /// The connection closed before the whole file came; the partial file is kept.
    Incomplete {
        got: u64,
        want: u64,
        partial: PathBuf,
    },
    /// The downloaded bytes do not hash to the Hub's sha256; the file was deleted.
    Checksum { want: String, got: String },
    /// A cache file could not be written.
    Io { path: PathBuf, source: io::Error },
    /// Another process holds the download lock for too long.
    Lock { path: PathBuf },
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Status {
                code,
                error_code,
                message,
            } => {
                write!(f, "HTTP {code}")?;
                if let Some(c) = error_code {
                    write!(f, " {c}")?;
                }
                if let Some(m) = message {
                    write!(f, ": {m}")?;
                }
                Ok(())
            }
            Failure::Timeout { secs, var } => write!(f, "no answer within {secs} s ({var})"),
            Failure::Transport(m) | Failure::Protocol(m) => f.write_str(m),
            Failure::Incomplete { got, want, partial } => write!(
                f,
                "the connection closed after {got} of {want} bytes (partial file {})",
                partial.display()
            ),
            Failure::Checksum { want, got } => {
                write!(f, "the content's sha256 is {got}, not {want}")
            }
            Failure::Io { path, source } => write!(f, "{}: {source}", path.display()),
            Failure::Lock { path } => write!(f, "the lock {} stays taken", path.display()),
        }
    }
}

/// What the Hub says about one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileMeta {
    /// The commit the file was resolved at (`X-Repo-Commit`).
    pub commit: String,
    /// The blob name: the sha256 of an LFS file, else the git blob id (quotes removed).
    pub etag: String,
    /// The size in bytes.
    pub size: u64,
    /// Where the content is fetched from.
    pub location: String,
}

/// A repository's commit and file listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoListing {
    pub sha: String,
    pub files: Vec<String>,
}

/// A Hub client: an endpoint, an optional token and bounded timeouts.
#[derive(Debug, Clone)]
pub struct Client {
    endpoint: Url,
    token: Option<String>,
    timeouts: Timeouts,
    api: ureq::Agent,
    files: ureq::Agent,
}

/// `api/models/…` or `api/datasets/…`, and the `datasets/` prefix of file URLs.
fn prefixes(dataset: bool) -> (&'static str, &'static str) {
    if dataset {
        ("datasets", "datasets/")
    } else {
        ("models", "")
    }
}

/// Percent-encode one path segment (RFC 3986 unreserved characters stay).
fn encode_segment(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn encode_path(p: &str) -> String {
    p.split('/')
        .map(encode_segment)
        .collect::<Vec<_>>()
        .join("/")
}

fn is_loopback(u: &Url) -> bool {
    match u.host() {
        Some(url::Host::Domain(d)) => d == "localhost",
        Some(url::Host::Ipv4(a)) => a.is_loopback(),
        Some(url::Host::Ipv6(a)) => a.is_loopback(),
        None => false,
    }
}

fn same_origin(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme()
        && a.host_str() == b.host_str()
        && a.port_or_known_default() == b.port_or_known_default()
}

/// Whether an error (or one of its sources) is a timeout.
fn is_timeout(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if let Some(io) = err.downcast_ref::<io::Error>() {
            if matches!(
                io.kind(),
                io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
            ) {
                return true;
            }
        }
        cur = err.source();
    }
    e.to_string().contains("timed out")
}

impl Client {
    /// A client for `endpoint` (`None`: huggingface.co).
    pub fn new(
        endpoint: Option<&str>,
        token: Option<String>,
        timeouts: Timeouts,
    ) -> Result<Self, Failure> {
        let raw = endpoint.unwrap_or(DEFAULT_ENDPOINT).trim_end_matches('/');
        let endpoint = Url::parse(&format!("{raw}/"))
            .map_err(|e| Failure::Protocol(format!("HF_ENDPOINT `{raw}` is not a URL: {e}")))?;
        let proxy = !is_loopback(&endpoint);
        let api = ureq::AgentBuilder::new()
            .try_proxy_from_env(proxy)
            .redirects(0)
            .timeout(timeouts.etag)
            .build();
        let files = ureq::AgentBuilder::new()
            .try_proxy_from_env(proxy)
            .redirects(0)
            .timeout_connect(timeouts.download)
            .timeout_read(timeouts.download)
            .timeout_write(timeouts.download)
            .build();
        Ok(Self {
            endpoint,
            token,
            timeouts,
            api,
            files,
        })
    }

    /// The endpoint, without a trailing `/`.
    pub fn endpoint(&self) -> String {
        self.endpoint.as_str().trim_end_matches('/').to_string()
    }

    /// The timeouts in force.
    pub fn timeouts(&self) -> Timeouts {
        self.timeouts
    }

    fn failure(&self, e: ureq::Error, var: &'static str, limit: Duration) -> Failure {
        match e {
            ureq::Error::Status(code, resp) => Failure::Status {
                code,
                error_code: resp.header("X-Error-Code").map(str::to_string),
                message: resp.header("X-Error-Message").map(str::to_string),
            },
            ureq::Error::Transport(t) => {
                if is_timeout(&t) {
                    Failure::Timeout {
                        secs: limit.as_secs_f64(),
                        var,
                    }
                } else {
                    Failure::Transport(t.to_string())
                }
            }
        }
    }

    /// One request with the headers the Hub expects; the token only on the endpoint's origin.
    fn request(&self, agent: &ureq::Agent, method: &str, url: &Url) -> ureq::Request {
        let mut r = agent
            .request_url(method, url)
            .set(
                "User-Agent",
                concat!("dps-tui/", env!("CARGO_PKG_VERSION"), "; ureq"),
            )
            .set("Accept-Encoding", "identity");
        if let Some(t) = &self.token {
            if same_origin(url, &self.endpoint) {
                r = r.set("Authorization", &format!("Bearer {t}"));
            }
        }
        r
    }

    /// Whether the endpoint answers at all: a HEAD of its root through the same agent (proxy
    /// settings included) as every metadata request. Any HTTP answer, an error status too,
    /// means it can be reached.
    pub fn answers(&self) -> Result<(), Failure> {
        match self.request(&self.api, "HEAD", &self.endpoint).call() {
            Ok(_) | Err(ureq::Error::Status(..)) => Ok(()),
            Err(e) => Err(self.failure(e, ETAG_VAR, self.timeouts.etag)),
        }
    }

    /// The commit and the files of a repository at `revision`.
    pub fn listing(
        &self,
        dataset: bool,
        repo: &str,
        revision: &str,
    ) -> Result<RepoListing, Failure> {
        let (api, _) = prefixes(dataset);
        let url = self
            .endpoint
            .join(&format!(
                "api/{api}/{}/revision/{}",
                encode_path(repo),
                encode_segment(revision)
            ))
            .map_err(|e| Failure::Protocol(e.to_string()))?;
        let resp = self
            .request(&self.api, "GET", &url)
            .call()
            .map_err(|e| self.failure(e, ETAG_VAR, self.timeouts.etag))?;
        let body = resp.into_string().map_err(|e| {
            if is_timeout(&e) {
                Failure::Timeout {
                    secs: self.timeouts.etag.as_secs_f64(),
                    var: ETAG_VAR,
                }
            } else {
                Failure::Transport(e.to_string())
            }
        })?;
        let v: serde_json::Value = serde_json::from_str(&body)
            .map_err(|e| Failure::Protocol(format!("{url}: the answer is not JSON: {e}")))?;
        let sha = v["sha"]
            .as_str()
            .ok_or_else(|| Failure::Protocol(format!("{url}: the answer has no `sha`")))?
            .to_string();
        let files = v["siblings"]
            .as_array()
            .ok_or_else(|| Failure::Protocol(format!("{url}: the answer has no `siblings`")))?
            .iter()
            .filter_map(|s| s["rfilename"].as_str().map(str::to_string))
            .collect();
        Ok(RepoListing { sha, files })
    }

    /// The metadata of `file` at `revision`, from a HEAD request.
    pub fn metadata(
        &self,
        dataset: bool,
        repo: &str,
        revision: &str,
        file: &str,
    ) -> Result<FileMeta, Failure> {
        let (_, prefix) = prefixes(dataset);
        let mut url = self
            .endpoint
            .join(&format!(
                "{prefix}{}/resolve/{}/{}",
                encode_path(repo),
                encode_segment(revision),
                encode_path(file)
            ))
            .map_err(|e| Failure::Protocol(e.to_string()))?;
        let fail = |e| self.failure(e, ETAG_VAR, self.timeouts.etag);
        for _ in 0..MAX_REDIRECTS {
            let resp = self.request(&self.api, "HEAD", &url).call().map_err(fail)?;
            let status = resp.status();
            let location = resp
                .header("Location")
                .filter(|_| (300..400).contains(&status))
                .map(|l| url.join(l))
                .transpose()
                .map_err(|e| Failure::Protocol(format!("{url}: bad Location: {e}")))?;
            if let Some(next) = &location {
                if same_origin(next, &self.endpoint) {
                    url = next.clone();
                    continue;
                }
            }
            let header = |k: &str| resp.header(k).map(str::to_string);
            let commit = header("X-Repo-Commit").ok_or_else(|| {
                Failure::Protocol(format!(
                    "{url} answered without an X-Repo-Commit header, so {} is not a Hugging \
                     Face Hub (check HF_ENDPOINT and any proxy)",
                    self.endpoint()
                ))
            })?;
            let etag = header("X-Linked-Etag")
                .or_else(|| header("ETag"))
                .map(|e| e.trim_start_matches("W/").trim_matches('"').to_string())
                .filter(|e| !e.is_empty())
                .ok_or_else(|| Failure::Protocol(format!("{url} answered without an ETag")))?;
            let size = header("X-Linked-Size")
                .or_else(|| {
                    location
                        .is_none()
                        .then(|| header("Content-Length"))
                        .flatten()
                })
                .and_then(|s| s.trim().parse::<u64>().ok())
                .ok_or_else(|| {
                    Failure::Protocol(format!("{url} answered without the file's size"))
                })?;
            return Ok(FileMeta {
                commit,
                etag,
                size,
                location: location.unwrap_or(url).to_string(),
            });
        }
        Err(Failure::Protocol(format!(
            "{url}: more than {MAX_REDIRECTS} redirects"
        )))
    }

    /// Start fetching the content at `location` from byte `start` (a `Range` request when
    /// `start > 0`). Returns the reader, the offset its first byte has (0 when the server
    /// ignored the range) and whether the server said the range is past the end (416).
    pub fn fetch(&self, location: &str, start: u64) -> Result<Fetched, Failure> {
        let mut url = Url::parse(location).map_err(|e| Failure::Protocol(e.to_string()))?;
        let fail = |e| self.failure(e, DOWNLOAD_VAR, self.timeouts.download);
        for _ in 0..MAX_REDIRECTS {
            let mut req = self.request(&self.files, "GET", &url);
            if start > 0 {
                req = req.set("Range", &format!("bytes={start}-"));
            }
            let resp = match req.call() {
                Err(ureq::Error::Status(416, _)) => return Ok(Fetched::PastEnd),
                r => r.map_err(fail)?,
            };
            let status = resp.status();
            if (300..400).contains(&status) {
                if let Some(l) = resp.header("Location") {
                    url = url
                        .join(l)
                        .map_err(|e| Failure::Protocol(format!("{url}: bad Location: {e}")))?;
                    continue;
                }
            }
            let offset = if status == 206 {
                let range = resp.header("Content-Range").unwrap_or_default();
                if !range.starts_with(&format!("bytes {start}-")) {
                    return Err(Failure::Protocol(format!(
                        "{url}: asked for bytes {start}-, got Content-Range `{range}`"
                    )));
                }
                start
            } else {
                0
            };
            return Ok(Fetched::Body {
                offset,
                reader: Box::new(resp.into_reader()),
            });
        }
        Err(Failure::Protocol(format!(
            "{url}: more than {MAX_REDIRECTS} redirects"
        )))
    }

    /// A read error of a download, as a [`Failure`].
    pub fn read_failure(&self, e: io::Error) -> Failure {
        if is_timeout(&e) {
            Failure::Timeout {
                secs: self.timeouts.download.as_secs_f64(),
                var: DOWNLOAD_VAR,
            }
        } else {
            Failure::Transport(e.to_string())
        }
    }
}

/// The start of a download.
pub enum Fetched {
    /// The body, whose first byte is at `offset` of the file.
    Body {
        offset: u64,
        reader: Box<dyn Read + Send>,
    },
    /// The server says the requested start is past the end of the file.
    PastEnd,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_encoded_per_segment_and_origins_compared_with_ports() {
        assert_eq!(encode_path("rte/train 1.parquet"), "rte/train%201.parquet");
        let a = Url::parse("http://127.0.0.1:8000/x").unwrap();
        let b = Url::parse("http://127.0.0.1:8001/x").unwrap();
        assert!(!same_origin(&a, &b));
        assert!(same_origin(
            &a,
            &Url::parse("http://127.0.0.1:8000/y").unwrap()
        ));
        assert!(is_loopback(&a));
        assert!(!is_loopback(&Url::parse(DEFAULT_ENDPOINT).unwrap()));
    }
}
