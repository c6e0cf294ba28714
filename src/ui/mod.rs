//! The terminal UI: a reducer over trainer [`Event`](crate::core::events::Event)s plus pure
//! rendering with ratatui.
//!
//! - [`app`]: the whole UI state ([`App`]); `App::apply` folds events into it, `App::on_key` and
//!   `App::on_mouse` turn input into view changes and trainer [`Command`](crate::core::events::Command)s.
//! - [`compare`]: the compare screen's state ([`compare::CompareState`]), built from run folders.
//! - [`history`]: compact loss history with EMA smoothing and min/max decimation.
//! - [`form`]: the preset picker's state and its validated form.
//! - [`render`]: `draw(frame, &App)`, a pure function of the state.
//! - [`screens`] and [`widgets`]: the pieces `draw` is made of.
//! - [`terminal`]: raw mode, alternate screen, mouse capture, and their restoration.
//! - [`run`]: the event loops (`run_app`, `run_dashboard`, `replay_view`, `compare_view`).

pub mod app;
pub mod compare;
pub mod form;
pub mod history;
pub mod render;
pub mod run;
pub mod screens;
pub mod terminal;
pub mod theme;
pub mod widgets;

pub use app::{App, Outcome};
pub use run::{compare_view, replay_view, run_app, run_dashboard};
