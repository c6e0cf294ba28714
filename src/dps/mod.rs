//! Fine-tuning strategies that plug into the one trainer: vanilla, DPS-Dense, DPS-Mix,
//! ChildTuning-F and ChildTuning-D, plus the selection rule and the selection report.

pub mod child_tuning;
pub mod dense;
pub mod mix;
pub mod report;
pub mod selection;
pub mod strategy;

pub use strategy::Strategy;

use crate::config::{Method, TrainConfig};
use crate::model::params::Param;
use candle_core::Result;
use child_tuning::{ChildTuningD, ChildTuningF};
use dense::{Dps, Variant};
use strategy::Vanilla;

/// Build the strategy a configuration names. `stage_base_steps`: the steps a DPS stage length
/// is a share of ([`TrainConfig::stage_base_steps`]).
pub fn build(
    config: &TrainConfig,
    params: &[Param],
    stage_base_steps: usize,
    num_heads: usize,
) -> Result<Box<dyn Strategy>> {
    Ok(match config.method {
        Method::Vanilla => Box::new(Vanilla),
        Method::DpsDense => Box::new(Dps::new(
            Variant::Dense,
            config,
            params,
            stage_base_steps,
            num_heads,
        )?),
        Method::DpsMix => Box::new(Dps::new(
            Variant::Mix,
            config,
            params,
            stage_base_steps,
            num_heads,
        )?),
        Method::ChildTuningF => Box::new(ChildTuningF::new(config.child_tuning_keep, config.seed)),
        Method::ChildTuningD => Box::new(ChildTuningD::new(
            config.child_tuning_keep,
            config.max_grad_norm,
            params,
        )?),
    })
}
