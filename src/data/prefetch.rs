//! Filling the Hugging Face cache ahead of time, as `huggingface-cli download` does: a model's
//! files (those [`crate::model::files`] chooses from the repository's listing) and the parquet files of tasks
//! (train and dev splits of `nyu-mll/glue`, `stanfordnlp/snli`, `allenai/scitail`), so that later runs work offline
//! (`HF_HUB_OFFLINE=1`). Each task's files are read back after the download, so a file that
//! does not parse is reported here rather than at the start of a run.

use super::glue::{self, Split};
use super::{DataError, DataSource};
use crate::hub::{HubError, HubSource};
use std::path::PathBuf;
use thiserror::Error;

/// Everything that can go wrong while filling the cache.
#[derive(Debug, Error)]
pub enum PrefetchError {
    #[error(transparent)]
    Hub(#[from] HubError),
    #[error(transparent)]
    Data(#[from] DataError),
    #[error(
        "`{0}` is a local folder, not a Hugging Face model id: there is nothing to download. Fix: \
         name a Hub model (owner/name, for example sentence-transformers/all-MiniLM-L6-v2)"
    )]
    LocalModel(String),
    #[error("unknown task `{name}`. Fix: use one of {known}")]
    UnknownTask { name: String, known: String },
}

/// What one task's download gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskFiles {
    pub task: &'static str,
    /// Per split: its name, the number of examples and the file read.
    pub splits: Vec<(&'static str, usize, String)>,
}

/// What [`prefetch`] put in the cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prefetched {
    /// The model's snapshot folder.
    pub model_dir: PathBuf,
    pub tasks: Vec<TaskFiles>,
}

/// Download `model`'s files and the train and dev splits of each task in `tasks` into `hub`'s
/// cache (what the cache holds already is not fetched again) and read each split back.
pub fn prefetch(
    hub: &HubSource,
    model: &str,
    tasks: &[String],
) -> Result<Prefetched, PrefetchError> {
    let specs = tasks
        .iter()
        .map(|name| {
            glue::task(name)
                .filter(|t| !t.synthetic)
                .ok_or_else(|| PrefetchError::UnknownTask {
                    name: name.clone(),
                    known: glue::GLUE_TASKS
                        .iter()
                        .chain(super::nli::NLI_TASKS)
                        .map(|t| t.name)
                        .collect::<Vec<_>>()
                        .join(", "),
                })
        })
        .collect::<Result<Vec<_>, _>>()?;
    if std::path::Path::new(model).is_dir() {
        return Err(PrefetchError::LocalModel(model.into()));
    }
    let model_dir = hub.model_dir(model)?;
    let source = DataSource::Hub(hub.clone());
    let mut out = Vec::new();
    for task in specs {
        let mut splits = Vec::new();
        for split in std::iter::once(Split::Train).chain(glue::dev_splits(task)) {
            let ds = source.load(task, split)?;
            splits.push((split.as_str(), ds.examples.len(), ds.source));
        }
        out.push(TaskFiles {
            task: task.name,
            splits,
        });
    }
    Ok(Prefetched {
        model_dir,
        tasks: out,
    })
}
