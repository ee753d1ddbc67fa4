//! quorate: stops infrastructure changes that would take a service down.
//! Library first: `main.rs` only parses arguments, calls [`run`] and picks the exit code.
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

pub mod bounded;
pub mod bundle;
pub mod check;
pub mod cli;
pub mod config;
pub mod conftest;
pub mod diff;
pub mod effects;
pub mod engine;
pub mod error;
pub mod excerpt;
pub mod freeze;
pub mod gate;
pub mod git;
pub mod github;
pub mod governance;
pub mod model;
pub mod observe;
pub mod paths;
pub mod rego_guard;
pub mod report;
pub mod rules;
pub mod schema;
pub mod sources;
pub mod testing;
pub mod text;
pub mod webhook;
