//! Dashboard widgets. Each draws straight into a `Buffer` from a `&App`.

pub mod eval_chart;
pub mod event_log;
pub mod heatmap;
pub mod hyperparams;
pub mod loss_chart;
pub mod plot;
pub mod status_bar;
