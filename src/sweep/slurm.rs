//! The SLURM backend: `ROOT/sweep.sbatch`, an array job with one task per cell (each runs
//! `dps-tui sweep --out ROOT --cell $SLURM_ARRAY_TASK_ID`), submitted with `sbatch`, and the
//! array's task states read back from `squeue` and `sacct`.

use super::grid::SweepFile;
use super::SweepError;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The batch script's file name under ROOT.
pub const SBATCH_FILE: &str = "sweep.sbatch";

/// A word quoted for a POSIX shell.
pub fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// The text of `sweep.sbatch`. `root` and `exe` should be absolute (the tasks may run
/// elsewhere on shared storage).
pub fn sbatch_script(
    sweep: &SweepFile,
    root: &Path,
    exe: &Path,
    resources: &[(String, String)],
) -> String {
    let n = sweep.cells.len();
    let q = |p: &Path| shell_quote(&p.display().to_string());
    let mut s = String::from("#!/bin/bash\n");
    s += "# A dps-tui sweep: one array task per cell of ";
    s += &sweep.spec;
    s += ".\n# Each task trains its cell headless into its folder under the sweep root;\n";
    s += "# a finished cell is skipped, a crashed one resumes from its last checkpoint.\n";
    s += "#SBATCH --job-name=dps-sweep\n";
    s += &format!("#SBATCH --array=0-{}\n", n.saturating_sub(1));
    s += &format!(
        "#SBATCH --output={}\n",
        q(&root.join("logs").join("slurm-%A_%a.out"))
    );
    s += &format!("#SBATCH --chdir={}\n", q(&sweep.workdir));
    for (k, v) in resources {
        s += &format!("#SBATCH --{k}={v}\n");
    }
    s += "set -eu\n";
    s += &format!(
        "exec {} sweep --out {} --cell \"$SLURM_ARRAY_TASK_ID\" ${{SLURM_CPUS_PER_TASK:+--threads \"$SLURM_CPUS_PER_TASK\"}}\n",
        q(exe),
        q(root)
    );
    s
}

/// Write `ROOT/sweep.sbatch`; returns its path.
pub fn write_script(
    sweep: &SweepFile,
    root: &Path,
    exe: &Path,
    resources: &[(String, String)],
) -> Result<PathBuf, SweepError> {
    let path = root.join(SBATCH_FILE);
    let _ = std::fs::create_dir_all(root.join("logs"));
    std::fs::write(&path, sbatch_script(sweep, root, exe, resources)).map_err(|error| {
        SweepError::Io {
            path: path.clone(),
            error,
        }
    })?;
    Ok(path)
}

/// Submit a batch script with `sbatch --parsable`; returns the job id.
pub fn submit(script: &Path) -> Result<String, SweepError> {
    let out = Command::new("sbatch")
        .arg("--parsable")
        .arg(script)
        .output()
        .map_err(|error| SweepError::NoSbatch { error })?;
    if !out.status.success() {
        return Err(SweepError::Submit {
            script: script.to_path_buf(),
            message: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    let text = String::from_utf8_lossy(&out.stdout);
    // `--parsable` prints `<id>` or `<id>;<cluster>`.
    let id = text.trim().split(';').next().unwrap_or("").to_string();
    if id.is_empty() {
        return Err(SweepError::Submit {
            script: script.to_path_buf(),
            message: "sbatch printed no job id".into(),
        });
    }
    Ok(id)
}

/// `<job>_<index>|<STATE>` lines (from `squeue -o %i|%T` or `sacct -P -o JobID,State`) into
/// index → state. Other lines (whole-array or step rows) are ignored.
pub fn parse_states(job: &str, text: &str) -> BTreeMap<usize, String> {
    let prefix = format!("{job}_");
    text.lines()
        .filter_map(|l| {
            let (id, state) = l.trim().split_once('|')?;
            let index = id.strip_prefix(&prefix)?.parse().ok()?;
            // sacct writes e.g. `CANCELLED by 0`.
            let state = state.split_whitespace().next()?.to_string();
            Some((index, state))
        })
        .collect()
}

fn run_quiet(cmd: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(cmd).args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The scheduler's state of each array task of `job`: from `sacct` where accounting is on,
/// overlaid by `squeue` (pending and running tasks). Empty when neither answers.
pub fn task_states(job: &str) -> BTreeMap<usize, String> {
    let mut states = run_quiet("sacct", &["-n", "-P", "-X", "-j", job, "-o", "JobID,State"])
        .map(|t| parse_states(job, &t))
        .unwrap_or_default();
    if let Some(t) = run_quiet("squeue", &["-h", "-r", "-j", job, "-o", "%i|%T"]) {
        states.extend(parse_states(job, &t));
    }
    states
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sweep::grid::Cell;

    fn sweep(n: usize) -> SweepFile {
        SweepFile {
            spec: "/s/sweep.yaml".into(),
            preset: "demo".into(),
            workdir: "/work dir".into(),
            cells: (0..n)
                .map(|i| Cell {
                    index: i,
                    name: format!("seed={i}"),
                    keys: vec![("seed".into(), i.to_string())],
                    sets: vec![format!("seed={i}")],
                })
                .collect(),
            slurm_job: None,
        }
    }

    #[test]
    fn script_has_array_resources_and_command() {
        let s = sbatch_script(
            &sweep(4),
            Path::new("/r/root"),
            Path::new("/bin/dps-tui"),
            &[
                ("partition".into(), "gpu".into()),
                ("gpus".into(), "1".into()),
            ],
        );
        assert!(s.starts_with("#!/bin/bash\n"), "{s}");
        assert!(s.contains("#SBATCH --array=0-3\n"), "{s}");
        assert!(
            s.contains("#SBATCH --partition=gpu\n#SBATCH --gpus=1\n"),
            "{s}"
        );
        assert!(s.contains("#SBATCH --chdir='/work dir'\n"), "{s}");
        assert!(
            s.contains("exec /bin/dps-tui sweep --out /r/root --cell \"$SLURM_ARRAY_TASK_ID\""),
            "{s}"
        );
    }

    #[test]
    fn quoting() {
        assert_eq!(shell_quote("a/b-c"), "a/b-c");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
    }

    #[test]
    fn states_from_squeue_and_sacct() {
        let s = parse_states(
            "17",
            "17_0|RUNNING\n17_3|PENDING\n18_1|RUNNING\n17_[4-5]|PENDING\n",
        );
        assert_eq!(s.len(), 2);
        assert_eq!(s[&0], "RUNNING");
        assert_eq!(s[&3], "PENDING");
        let s = parse_states(
            "17",
            "17_2|CANCELLED by 0\n17_1|COMPLETED\n17_1.batch|COMPLETED\n",
        );
        assert_eq!(s[&2], "CANCELLED");
        assert_eq!(s[&1], "COMPLETED");
        assert_eq!(s.len(), 2);
    }
}
