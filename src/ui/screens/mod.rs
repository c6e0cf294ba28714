//! Whole screens and overlays.

pub mod compare;
pub mod dashboard;
pub mod help;
pub mod picker;
pub mod quit;
pub mod zoom;
