//! `quorate check review.json --format admission` answers every AdmissionReview fixture exactly
//! as the webhook does (tests/webhook.rs holds the webhook's answers in `*.expected.json`), so
//! teams can test admission decisions in CI without a cluster.

use crate::common::*;
use serde_json::Value;

#[test]
fn offline_answers_equal_the_webhooks_for_every_fixture() {
    let dir = root().join("testdata/admission");
    let home = tempfile::tempdir().unwrap();
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| {
            n.ends_with(".json") && !n.ends_with(".expected.json") && !n.ends_with(".cluster.json")
        })
        .collect();
    names.sort();
    assert!(names.len() >= 25, "{names:?}");
    let mut failures = Vec::new();
    for name in &names {
        let stem = name.trim_end_matches(".json");
        let review = dir.join(name).display().to_string();
        let cluster = dir.join(format!("{stem}.cluster.json"));
        let mut args = vec![
            "check".to_string(),
            review,
            "--format".into(),
            "admission".into(),
        ];
        if cluster.exists() {
            args.extend(["--observed".into(), cluster.display().to_string()]);
        }
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = run_in(home.path(), &refs);
        let expected: Value = serde_json::from_str(
            &std::fs::read_to_string(dir.join(format!("{stem}.expected.json"))).unwrap(),
        )
        .unwrap();
        let got: Value = match serde_json::from_str(&stdout(&out)) {
            Ok(v) => v,
            Err(e) => {
                failures.push(format!(
                    "{stem}: not JSON ({e}): {}{}",
                    stdout(&out),
                    stderr(&out)
                ));
                continue;
            }
        };
        if got != expected["body"] {
            failures.push(format!(
                "{stem}:\n  webhook {}\n  offline {got}",
                expected["body"]
            ));
        }
        let want = match (
            expected["status"].as_u64(),
            got.pointer("/response/allowed"),
        ) {
            (Some(200), Some(Value::Bool(true))) => 0,
            (Some(200), Some(Value::Bool(false))) => 1,
            _ => 2,
        };
        if code(&out) != want {
            failures.push(format!(
                "{stem}: exit {} (want {want}); {}",
                code(&out),
                stderr(&out)
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
