//! quorate: stops infrastructure changes that would take a service down.
//! Library first: `main.rs` only parses arguments, calls [`run`] and picks the exit code.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
// Errors carry their source text for snippets; they are rare and on the cold path.
#![allow(clippy::result_large_err)]

pub mod model;
pub mod check;
pub mod config;
pub mod engine;
pub mod error;
pub mod report;
pub mod rules;
pub mod cli;
pub mod schema;
pub mod sources;
pub mod text;
