//! The terminal UI: a reducer over trainer [`Event`](crate::core::events::Event)s plus pure
//! rendering with ratatui, in three layers.
//!
//! State:
//! - [`run_state`]: the run as the events tell it ([`run_state::Run`]); [`reducer`] folds each
//!   event into it, one function per kind of event.
//! - [`view`]: what the user looks at (focus, lens, cursors, zoom, scroll, overlays).
//! - [`app`]: [`App`] = run + view + picker + the requests sent to the trainer.
//! - [`form`] and [`readiness`]: the preset picker's form, and whether its model and data can
//!   be had.
//! - [`compare`]: the compare screen's state, built from run folders.
//! - [`history`]: compact loss history with EMA smoothing and min/max decimation.
//!
//! Input:
//! - [`keys`]: the key table, which drives both the key handling and the help screen.
//! - [`input`]: keys and mouse → view changes and trainer
//!   [`Command`](crate::core::events::Command)s (one function makes the commands).
//! - [`event_loop`]: one `select!` over terminal input, trainer events and a frame tick,
//!   shared by every screen; [`run`] holds the entry points built on it.
//! - [`pacing`]: how fast the TUI lets the demo train.
//!
//! View:
//! - [`render`]: `draw(frame, &App)`, a pure function of the state, made of [`screens`] and
//!   [`widgets`]; widgets take the pieces of state they draw, never the [`App`].
//! - [`format`]: short text for numbers, durations and sizes; [`theme`]: colours.
//! - [`terminal`]: raw mode, alternate screen, mouse capture, and their restoration.

pub mod app;
pub mod compare;
pub mod event_loop;
pub mod form;
pub mod format;
pub mod history;
pub mod input;
pub mod keys;
pub mod pacing;
pub mod readiness;
pub mod reducer;
pub mod render;
pub mod run;
pub mod run_state;
pub mod screens;
pub mod terminal;
pub mod theme;
pub mod view;
pub mod widgets;

pub use app::{App, Outcome};
pub use run::{compare_view, replay_view, run_app, run_dashboard_after};
