//! `watch`: a live board of every run under a folder.

use anyhow::{bail, Result};

pub(crate) fn watch(root: &std::path::Path) -> Result<i32> {
    if !root.is_dir() {
        bail!(
            "{} is not a folder. Fix: pass a sweep's --out folder or a runs folder",
            root.display()
        );
    }
    dps_tui::watch::watch(root)?;
    Ok(0)
}
