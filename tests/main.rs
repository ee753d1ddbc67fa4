//! The integration tests: one test binary, so the suite links once and its long tests (the
//! fuzz smoke, the wheel and hook builds, the Action's runner) run beside the short ones. Each
//! module is one area, run alone with `cargo test --test integration AREA::`. The webhook's
//! timed tests keep binaries of their own (tests/webhook.rs, tests/webhook_load.rs), so no other
//! test's load slows them.

mod common;

mod bad_input;
mod break_glass;
mod conftest;
mod corpus;
mod deploy;
mod diff;
mod diff_inputs;
mod diff_range;
mod distribution;
mod freeze;
mod fuzz_smoke;
mod gate;
mod github_action;
mod governance;
mod human_report;
mod input_schema;
mod inputs;
mod junit_report;
mod observe_aws;
mod observe_es;
mod observe_kube;
mod opa_portability;
mod policies;
mod policy_authoring;
mod pre_commit;
mod report_paths;
mod review_offline;
mod sarif_schema;
mod scenarios;
mod terraform_config;
