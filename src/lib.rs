//! quorate: stops infrastructure changes that would take a service down.
//! Library first: `main.rs` only parses arguments, calls [`run`] and picks the exit code.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

pub mod model;
pub mod config;
pub mod error;
pub mod report;
pub mod schema;
pub mod sources;
pub mod text;
