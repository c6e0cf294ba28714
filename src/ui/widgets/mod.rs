//! Dashboard widgets. Each draws straight into a `Buffer` from the pieces of state it shows
//! (the [`Run`](crate::ui::run_state::Run), the [`View`](crate::ui::view::View), the theme),
//! never from the whole app.

pub mod eval_chart;
pub mod eval_tasks_chart;
pub mod event_log;
pub mod heat_scale;
pub mod heatmap;
pub mod hyperparams;
pub mod loss_chart;
pub mod plot;
pub mod popup;
pub mod status_bar;
