//! Reporters: turn a [`crate::model::Report`] into one output format. They never parse inputs.
