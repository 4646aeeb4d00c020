//! The interactive terminal UI: panes over the store, fed live by the post-commit feed.
//! The app only routes events and lays out space; each pane, popup and bar owns its state, drawing and keys.

pub mod filter_expr;
pub mod keymap;
pub mod sgr;
pub mod text;
pub mod theme;
