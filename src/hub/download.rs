//! One Hub file into the Hugging Face cache, in Python's layout, so that `huggingface_hub`
//! finds it too:
//!
//! `<cache>/<models|datasets>--org--name/blobs/<etag>` holds the content,
//! `snapshots/<commit>/<file>` is a relative link to it, and `refs/<revision>` names the commit
//! of a branch. The content is written to `blobs/<etag>.incomplete` first and moved in place only
//! when its size is the one the Hub gave (and, for LFS files, whose etag is the sha256, when the
//! hash matches), so a cut connection or a killed server never leaves a blob or a snapshot link
//! that a later run trusts. A later download resumes the partial file with a Range request. The
//! download holds `<cache>/.locks/<repo folder>/<etag>.lock` (the lock `huggingface_hub` takes).

use super::http::{Client, Failure, Fetched, FileMeta};
use super::progress::Progress;
use super::RepoKind;
use sha2::{Digest, Sha256};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How long to wait for another process's download of the same blob.
const LOCK_WAIT: Duration = Duration::from_secs(600);

fn io_failure(path: &Path) -> impl FnOnce(std::io::Error) -> Failure + '_ {
    move |source| Failure::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The repository's folder name in the cache (`models--org--name`).
pub fn repo_folder(kind: RepoKind, repo: &str) -> String {
    format!("{}--{}", kind.cache_prefix(), repo.replace('/', "--"))
}

/// Write `refs/<revision>` = `commit` (atomically).
pub fn write_ref(repo_dir: &Path, revision: &str, commit: &str) -> Result<(), Failure> {
    let path = repo_dir.join("refs").join(revision);
    if std::fs::read_to_string(&path).is_ok_and(|c| c.trim() == commit) {
        return Ok(());
    }
    let dir = path.parent().unwrap_or(repo_dir);
    std::fs::create_dir_all(dir).map_err(io_failure(dir))?;
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, commit).map_err(io_failure(&tmp))?;
    std::fs::rename(&tmp, &path).map_err(io_failure(&path))
}

/// Download `file` of a repository at `revision` into the cache under `cache_dir` and return
/// its path in the snapshot folder. A blob already in the cache is not fetched again. The
/// branch ref is not written here (see [`write_ref`]).
pub fn download(
    client: &Client,
    cache_dir: &Path,
    kind: RepoKind,
    repo: &str,
    revision: &str,
    file: &str,
    progress: &mut dyn Progress,
) -> Result<PathBuf, Failure> {
    let meta = client.metadata(kind == RepoKind::Dataset, repo, revision, file)?;
    let folder = repo_folder(kind, repo);
    let repo_dir = cache_dir.join(&folder);
    let blobs = repo_dir.join("blobs");
    let blob = blobs.join(&meta.etag);
    let pointer = repo_dir.join("snapshots").join(&meta.commit).join(file);
    if is_complete(&blob, meta.size) && pointer.is_file() {
        return Ok(pointer);
    }
    std::fs::create_dir_all(&blobs).map_err(io_failure(&blobs))?;
    let _lock = Lock::take(
        &cache_dir
            .join(".locks")
            .join(&folder)
            .join(format!("{}.lock", meta.etag)),
    )?;
    if !is_complete(&blob, meta.size) {
        if blob.exists() {
            tracing::warn!(
                "{}: size differs from the Hub's {} bytes; downloading it again",
                blob.display(),
                meta.size
            );
            std::fs::remove_file(&blob).map_err(io_failure(&blob))?;
        }
        let partial = blobs.join(format!("{}.incomplete", meta.etag));
        fetch_to(client, &meta, &partial, file, progress)?;
        std::fs::rename(&partial, &blob).map_err(io_failure(&blob))?;
    }
    link(&blob, &pointer, file)?;
    Ok(pointer)
}

fn is_complete(blob: &Path, size: u64) -> bool {
    std::fs::metadata(blob).is_ok_and(|m| m.is_file() && m.len() == size)
}

/// Fetch the content into `partial` (resuming what it holds) and check it.
fn fetch_to(
    client: &Client,
    meta: &FileMeta,
    partial: &Path,
    file: &str,
    progress: &mut dyn Progress,
) -> Result<(), Failure> {
    let mut out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(partial)
        .map_err(io_failure(partial))?;
    let mut start = out.metadata().map_err(io_failure(partial))?.len();
    if start > meta.size {
        out.set_len(0).map_err(io_failure(partial))?;
        start = 0;
    }
    if start < meta.size || meta.size == 0 {
        let fetched = client.fetch(&meta.location, start)?;
        let (offset, mut reader) = match fetched {
            Fetched::Body { offset, reader } => (offset, reader),
            Fetched::PastEnd => {
                drop(out);
                let _ = std::fs::remove_file(partial);
                return Err(Failure::Protocol(format!(
                    "{file}: the server says byte {start} is past the end, though it gave the \
                     size as {}; the partial file was deleted",
                    meta.size
                )));
            }
        };
        if offset != start {
            tracing::info!("{file}: the server sent the whole file; starting again");
            out.set_len(0).map_err(io_failure(partial))?;
            out.seek(std::io::SeekFrom::Start(0))
                .map_err(io_failure(partial))?;
        } else if start > 0 {
            tracing::info!("{file}: resuming at byte {start} of {}", meta.size);
        }
        progress.start(file, meta.size, offset);
        let copied = copy(&mut reader, &mut out, progress);
        progress.finish();
        copied.map_err(|e| match e {
            CopyError::Read(e) => client.read_failure(e),
            CopyError::Write(source) => Failure::Io {
                path: partial.to_path_buf(),
                source,
            },
        })?;
    }
    out.flush().map_err(io_failure(partial))?;
    drop(out);
    let got = std::fs::metadata(partial)
        .map_err(io_failure(partial))?
        .len();
    if got < meta.size {
        return Err(Failure::Incomplete {
            got,
            want: meta.size,
            partial: partial.to_path_buf(),
        });
    }
    if got > meta.size {
        let _ = std::fs::remove_file(partial);
        return Err(Failure::Protocol(format!(
            "{file}: received {got} bytes, but the Hub gave its size as {}; the partial file \
             was deleted",
            meta.size
        )));
    }
    if is_sha256(&meta.etag) {
        let sum = sha256_of(partial)?;
        if sum != meta.etag {
            let _ = std::fs::remove_file(partial);
            return Err(Failure::Checksum {
                want: meta.etag.clone(),
                got: sum,
            });
        }
    }
    Ok(())
}

enum CopyError {
    Read(std::io::Error),
    Write(std::io::Error),
}

fn copy(
    reader: &mut dyn Read,
    out: &mut std::fs::File,
    progress: &mut dyn Progress,
) -> Result<(), CopyError> {
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(()),
            Err(e) => return Err(CopyError::Read(e)),
        };
        out.write_all(&buf[..n]).map_err(CopyError::Write)?;
        progress.advance(n as u64);
    }
}

fn is_sha256(etag: &str) -> bool {
    etag.len() == 64 && etag.bytes().all(|b| b.is_ascii_hexdigit())
}

fn sha256_of(path: &Path) -> Result<String, Failure> {
    let mut f = std::fs::File::open(path).map_err(io_failure(path))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).map_err(io_failure(path))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(h.finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<String>())
}

/// Link `pointer` to `blob` with a relative path (as `huggingface_hub` does), replacing a
/// stale entry; copies where links are not available.
fn link(blob: &Path, pointer: &Path, file: &str) -> Result<(), Failure> {
    let dir = pointer.parent().ok_or_else(|| Failure::Io {
        path: pointer.to_path_buf(),
        source: std::io::Error::other("no parent folder"),
    })?;
    std::fs::create_dir_all(dir).map_err(io_failure(dir))?;
    if std::fs::symlink_metadata(pointer).is_ok() {
        std::fs::remove_file(pointer).map_err(io_failure(pointer))?;
    }
    // snapshots/<commit>/<file>: one `..` per folder of `file`, plus two.
    let ups = file.split('/').count() + 1;
    let mut target = PathBuf::new();
    for _ in 0..ups {
        target.push("..");
    }
    target.push("blobs");
    target.push(blob.file_name().unwrap_or_default());
    #[cfg(unix)]
    let linked = std::os::unix::fs::symlink(&target, pointer);
    #[cfg(not(unix))]
    let linked: std::io::Result<()> = Err(std::io::Error::other("no symbolic links"));
    if linked.is_err() {
        std::fs::copy(blob, pointer).map_err(io_failure(pointer))?;
    }
    Ok(())
}

/// An exclusive `flock` on a lock file, released on drop.
struct Lock {
    #[cfg_attr(not(unix), allow(dead_code))]
    file: std::fs::File,
}

impl Lock {
    fn take(path: &Path) -> Result<Lock, Failure> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(io_failure(dir))?;
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
            .map_err(io_failure(path))?;
        #[cfg(unix)]
        {
            use std::os::fd::AsRawFd;
            let begun = Instant::now();
            let mut told = false;
            // SAFETY: flock on a file descriptor this function owns.
            while unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
                if begun.elapsed() > LOCK_WAIT {
                    return Err(Failure::Lock {
                        path: path.to_path_buf(),
                    });
                }
                if !told {
                    tracing::info!("waiting for another download holding {}", path.display());
                    told = true;
                }
                std::thread::sleep(Duration::from_millis(200));
            }
        }
        Ok(Lock { file })
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        #[cfg(unix)]
        {
            use std::os::fd::AsRawFd;
            // SAFETY: unlocking the descriptor locked in `take`.
            unsafe { libc::flock(self.file.as_raw_fd(), libc::LOCK_UN) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_are_relative_to_the_blob_folder() {
        let tmp = tempfile::tempdir().unwrap();
        let repo = tmp.path().join("datasets--o--d");
        let blob = repo.join("blobs/abc");
        std::fs::create_dir_all(blob.parent().unwrap()).unwrap();
        std::fs::write(&blob, "x").unwrap();
        let pointer = repo.join("snapshots/c1/rte/train.parquet");
        link(&blob, &pointer, "rte/train.parquet").unwrap();
        assert_eq!(std::fs::read_to_string(&pointer).unwrap(), "x");
        #[cfg(unix)]
        assert_eq!(
            std::fs::read_link(&pointer).unwrap(),
            PathBuf::from("../../../blobs/abc")
        );
        write_ref(&repo, "main", "c1").unwrap();
        assert_eq!(
            std::fs::read_to_string(repo.join("refs/main")).unwrap(),
            "c1"
        );
        assert!(is_sha256(&"a".repeat(64)) && !is_sha256("abc"));
    }
}
