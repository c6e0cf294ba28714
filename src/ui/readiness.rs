//! Whether the picker's run can start: is the model there, are the data there, or will they
//! come from the Hub? Checked against the file system and the Hugging Face cache, so that the
//! picker never calls ready a run whose model or data cannot be had.

use crate::config::TrainConfig;
use crate::data::glue::{self, Split};
use crate::data::{hub_glue, nli};
use crate::hub::{self, HubSource, RepoKind};
use std::path::Path;

/// Where one input of a run stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    /// On disk (a local folder, the Hub cache, or built in).
    Ready,
    /// Will be downloaded from the Hub when the run starts.
    Download,
    /// Cannot be had: the run would fail.
    Missing,
}

/// One input's status and a sentence saying why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Need {
    pub status: Status,
    pub text: String,
}

impl Need {
    fn new(status: Status, text: impl Into<String>) -> Need {
        Need {
            status,
            text: text.into(),
        }
    }
}

/// The model's and the data's status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Readiness {
    pub model: Need,
    pub data: Need,
}

impl Readiness {
    /// Check `config`'s model and data against the disk and `hub`'s cache.
    pub fn check(config: &TrainConfig, hub: &HubSource) -> Readiness {
        if config.task == "demo" || config.model == "demo" {
            return Readiness {
                model: Need::new(Status::Ready, "built-in demo model"),
                data: Need::new(Status::Ready, "synthetic demo data"),
            };
        }
        Readiness {
            model: model_need(&config.model, hub),
            data: data_need(config, hub),
        }
    }

    /// The same check when the Hub is known to be unreachable (`why`): what would download
    /// cannot be had, and the text says what to do instead.
    pub fn without_hub(mut self, why: &str) -> Readiness {
        for need in [&mut self.model, &mut self.data] {
            if need.status == Status::Download {
                need.status = Status::Missing;
                need.text = format!(
                    "{}, but {why}: use the demo preset, local folders (model, data_dir), or \
                     HF_HUB_OFFLINE=1 with a filled cache",
                    need.text
                        .replace(" will download from the Hub", " is not cached")
                );
            }
        }
        self
    }

    /// Whether the model or the data would come from the Hub (the other may be missing).
    pub fn needs_hub(&self) -> bool {
        [&self.model, &self.data]
            .iter()
            .any(|n| n.status == Status::Download)
    }

    /// The worse of the two statuses.
    pub fn status(&self) -> Status {
        self.model.status.max(self.data.status)
    }
}

/// Whether `model` reads as a path rather than a Hub id (`owner/name` or `name`).
fn is_path(model: &str) -> bool {
    Path::new(model).exists()
        || model.starts_with(['.', '/', '~'])
        || model.contains('\\')
        || model.split('/').count() > 2
}

fn model_need(model: &str, hub: &HubSource) -> Need {
    if is_path(model) {
        let dir = Path::new(model);
        if !dir.is_dir() {
            return Need::new(Status::Missing, format!("folder {model} not found"));
        }
        let missing: Vec<String> = crate::model::files::missing_in(dir)
            .into_iter()
            .map(|l| l.file)
            .collect();
        return if missing.is_empty() {
            Need::new(Status::Ready, format!("folder {model}"))
        } else {
            Need::new(
                Status::Missing,
                format!("folder {model} lacks {}", missing.join(", ")),
            )
        };
    }
    let cached = hub
        .snapshot(RepoKind::Model, model)
        .is_some_and(|s| crate::model::files::missing_in(&s).is_empty());
    if cached {
        Need::new(Status::Ready, format!("{model} in the Hub cache"))
    } else if hub.offline {
        Need::new(
            Status::Missing,
            format!("{model} is not in the Hub cache and HF_HUB_OFFLINE is set"),
        )
    } else {
        Need::new(
            Status::Download,
            format!("{model} will download from the Hub"),
        )
    }
}

fn data_need(config: &TrainConfig, hub: &HubSource) -> Need {
    let Some(task) = glue::task(&config.task) else {
        return Need::new(Status::Missing, format!("unknown task {}", config.task));
    };
    let glue_task = glue::GLUE_TASKS.iter().any(|t| t.name == task.name);
    let dir = config.data_dir_for(task);
    if let Some(dir) = dir {
        for split in [Split::Train, Split::Dev] {
            let Some(file) = task.file_name(split) else {
                continue;
            };
            let path = dir.join(task.dir_name).join(file);
            if !path.is_file() {
                return Need::new(Status::Missing, format!("no {}", path.display()));
            }
        }
        return Need::new(
            Status::Ready,
            format!("data in {}", dir.join(task.dir_name).display()),
        );
    }
    // The dataset repository, its config and the split names of the task on the Hub.
    let (repo, hub_config, splits) = match (hub_glue::hub_task(task), nli::hub_layout(task)) {
        (Some(ht), _) => (
            hub::GLUE_DATASET,
            ht.config,
            [Split::Train, Split::Dev].map(|s| hub_glue::hub_split_name(task, s)),
        ),
        (None, Some(layout)) => (layout.repo, layout.config, ["train", "validation"]),
        (None, None) => {
            return Need::new(
                Status::Missing,
                format!(
                    "task {} is not on the Hub: set data_dir (or nli_dir)",
                    task.name
                ),
            )
        }
    };
    let what = if glue_task {
        format!("GLUE {}", task.name)
    } else {
        format!("{repo} {}", task.name)
    };
    let cached = hub.snapshot(RepoKind::Dataset, repo).is_some_and(|snap| {
        let files = hub::snapshot_files(&snap);
        splits
            .iter()
            .all(|s| !hub_glue::split_files(&files, hub_config, s).is_empty())
    });
    if cached {
        Need::new(Status::Ready, format!("{what} in the Hub cache"))
    } else if hub.offline {
        Need::new(
            Status::Missing,
            format!("{what} is not in the Hub cache and HF_HUB_OFFLINE is set: set data_dir"),
        )
    } else {
        Need::new(
            Status::Download,
            format!("{what} will download from the Hub"),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rte(model: &str, data_dir: Option<&Path>) -> TrainConfig {
        TrainConfig {
            task: "rte".into(),
            model: model.into(),
            data_dir: data_dir.map(Path::to_path_buf),
            ..TrainConfig::default()
        }
    }

    #[test]
    fn local_folders_are_ready_only_when_their_files_exist() {
        let tmp = tempfile::tempdir().unwrap();
        let model = tmp.path().join("model");
        std::fs::create_dir_all(&model).unwrap();
        let data = tmp.path().join("glue");
        std::fs::create_dir_all(data.join("RTE")).unwrap();
        let hub = HubSource::offline(tmp.path().join("cache"));
        let c = rte(model.to_str().unwrap(), Some(&data));
        let r = Readiness::check(&c, &hub);
        assert_eq!(r.model.status, Status::Missing, "{r:?}");
        assert!(r.model.text.contains("config.json"), "{r:?}");
        assert_eq!(r.data.status, Status::Missing, "{r:?}");
        assert!(r.data.text.contains("train.tsv"), "{r:?}");
        for f in hub::MODEL_FILES {
            std::fs::write(model.join(f), "x").unwrap();
        }
        for f in ["train.tsv", "dev.tsv"] {
            std::fs::write(data.join("RTE").join(f), "x").unwrap();
        }
        let r = Readiness::check(&c, &hub);
        assert_eq!(r.status(), Status::Ready, "{r:?}");
        let gone = rte("/no/such/model", Some(&data));
        let r = Readiness::check(&gone, &hub);
        assert_eq!(r.model.status, Status::Missing, "{r:?}");
    }

    #[test]
    fn hub_ids_download_online_and_are_missing_offline_without_a_cache() {
        let tmp = tempfile::tempdir().unwrap();
        let c = rte("org/model", None);
        let mut hub = HubSource::offline(tmp.path());
        let r = Readiness::check(&c, &hub);
        assert_eq!(
            (r.model.status, r.data.status),
            (Status::Missing, Status::Missing),
            "{r:?}"
        );
        assert!(r.model.text.contains("HF_HUB_OFFLINE"), "{r:?}");
        hub.offline = false;
        let r = Readiness::check(&c, &hub);
        assert_eq!(r.status(), Status::Download, "{r:?}");
        assert!(r.model.text.contains("will download from the Hub"), "{r:?}");
        let demo = TrainConfig {
            task: "demo".into(),
            model: "demo".into(),
            ..TrainConfig::default()
        };
        assert_eq!(Readiness::check(&demo, &hub).status(), Status::Ready);
    }

    #[test]
    fn an_unreachable_hub_turns_a_download_into_missing_with_what_to_do() {
        let tmp = tempfile::tempdir().unwrap();
        let hub = HubSource {
            cache_dir: tmp.path().to_path_buf(),
            offline: false,
            endpoint: None,
        };
        let r = Readiness::check(&rte("org/model", None), &hub);
        assert_eq!(r.status(), Status::Download, "{r:?}");
        let r = r.without_hub("https://hub.example cannot be reached (refused)");
        assert_eq!(r.status(), Status::Missing, "{r:?}");
        for need in [&r.model, &r.data] {
            assert!(need.text.contains("is not cached"), "{need:?}");
            assert!(need.text.contains("cannot be reached"), "{need:?}");
            assert!(need.text.contains("demo"), "{need:?}");
            assert!(need.text.contains("HF_HUB_OFFLINE"), "{need:?}");
        }
        // What is there stays ready.
        let ready = Readiness::check(&rte("demo", None), &hub).without_hub("down");
        assert_eq!(ready.status(), Status::Ready);
    }
}
