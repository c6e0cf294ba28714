//! Fine-tuning strategies that plug into the one trainer: vanilla, DPS-Dense, DPS-Mix,
//! ChildTuning-F and ChildTuning-D, plus the selection rule and the selection report.

pub mod child_tuning;
pub mod dense;
pub mod mix;
pub mod report;
pub mod selection;
pub mod strategy;

pub use strategy::{build, Strategy};
