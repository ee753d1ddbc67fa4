//! Runs every `test_*` rule of the built-in policies (policies/*_test.rego) through the one
//! test runner users have, `quorate test`, and checks the rule catalogue stays stable.

use std::collections::BTreeSet;

use crate::common::*;
use quorate::engine::BUILTIN;

/// `N passed, N failed` on the last line: what CI parses.
fn counts(out: &str) -> (usize, usize) {
    let last = out.lines().last().unwrap_or_default();
    let (p, f) = last
        .split_once(" passed, ")
        .unwrap_or_else(|| panic!("last line is not `N passed, N failed`: {out}"));
    let f = f.strip_suffix(" failed").unwrap();
    (p.parse().unwrap(), f.parse().unwrap())
}

#[test]
fn builtin_policy_tests_pass_through_quorate_test() {
    let out = run_in(&root(), &["test", "policies"]);
    let text = stdout(&out);
    assert_eq!(code(&out), 0, "{text}{}", stderr(&out));
    let (passed, failed) = counts(&text);
    // The arithmetic moved to the effects step (Rust unit tests in src/effects); the Rego
    // tests check each rule's decision and message over published effects.
    assert!(
        passed >= 80,
        "expected the built-in policies' 80+ tests, ran {passed}: {text}"
    );
    assert_eq!(failed, 0, "{text}");
    // The embedded copy (no PATH) is the same set of tests.
    let embedded = run_in(&root(), &["test"]);
    assert_eq!(code(&embedded), 0, "{}", stdout(&embedded));
    assert_eq!(counts(&stdout(&embedded)), (passed, 0));
}

#[test]
fn builtin_policies_are_all_embedded() {
    let on_disk: BTreeSet<String> =
        std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/policies"))
            .unwrap()
            .map(|e| format!("policies/{}", e.unwrap().file_name().to_string_lossy()))
            .filter(|p| p.ends_with(".rego"))
            .collect();
    let embedded: BTreeSet<String> = BUILTIN.iter().map(|(p, _)| p.to_string()).collect();
    assert_eq!(
        on_disk, embedded,
        "engine::BUILTIN must list every file in policies/"
    );
}

/// Rule ids are a public contract: renaming one breaks waivers and dashboards.
#[test]
fn rule_ids_are_stable_and_unique() {
    let docs = quorate::rules::builtin().unwrap();
    let ids: Vec<&str> = docs.iter().map(|d| d.id.as_str()).collect();
    let unique: BTreeSet<&str> = ids.iter().copied().collect();
    assert_eq!(ids.len(), unique.len(), "duplicate rule ids: {ids:?}");
    assert_eq!(
        ids,
        [
            "drift/change-on-drifted-resource",
            "drift/manual-change-to-managed-object",
            "drift/overrides-manual-change",
            "drift/unmanaged-change",
            "freeze/change-during-freeze",
            "governance/policy-changed-in-change",
            "governance/waiver-added-in-change",
            "input/unreadable-manifest",
            "quorum/below-quorum",
            "quorum/even-voters",
            "quorum/multiple-voters-at-once",
            "quorum/removes-all-members",
            "quorum/replace-before-healthy",
            "quorum/unknown-capacity",
            "quorum/unverified-health",
            "unstable/health-not-green",
            "unstable/members-in-transition",
            "unstable/rollout-in-progress",
            "unstable/stale-observation",
            "unstable/within-stabilization-window",
        ]
    );
    for d in &docs {
        for (field, text) in [
            ("title", &d.title),
            ("what", &d.what),
            ("why", &d.why),
            ("example", &d.example),
            ("fix", &d.fix),
        ] {
            assert!(!text.trim().is_empty(), "{} has no {field}", d.id);
        }
    }
}

/// docs/rules.md is generated; regenerate with `quorate rules --format markdown > docs/rules.md`.
#[test]
fn rules_reference_is_up_to_date() {
    let docs = quorate::rules::builtin().unwrap();
    let generated = quorate::rules::reference(&docs);
    let committed =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/rules.md")).unwrap();
    assert_eq!(
        committed, generated,
        "docs/rules.md is stale: run `quorate rules --format markdown > docs/rules.md`"
    );
}

/// A negation OPA and regorus evaluate differently when a field it reads is undefined.
fn negation_differs(code: &str) -> bool {
    let Some(negated) = code.strip_prefix("not ") else {
        return false;
    };
    let args = negated
        .split_once('(')
        .map(|(_, rest)| rest.rsplit_once(')').map_or(rest, |(a, _)| a));
    let field_in_call = args.is_some_and(|a| a.contains('.') || a.contains('['));
    let comparison = [" != ", " == ", " < ", " > ", " <= ", " >= "]
        .iter()
        .any(|op| negated.contains(op))
        && (negated.contains('.') || negated.contains('['));
    field_in_call || comparison
}

/// OPA hoists a function call's arguments out of `not`, regorus does not: with `x.y`
/// undefined, `not f(x.y)` (and `not x.y != v`, a call to `neq`) is true in regorus and
/// undefined in OPA. The built-in policies pass only plain variables to negated calls;
/// helpers like `capacity_known(c)` carry the field access. This keeps it that way.
#[test]
fn negated_calls_take_no_field_references() {
    for (code, differs) in [
        ("not f(x.y)", true),
        ("not lib.has_members(c)", false),
        ("not x.y != 1", true),
        ("not c.capacity.attribute", false),
        ("not n > 1", false),
    ] {
        assert_eq!(negation_differs(code), differs, "{code}");
    }
    let mut offenders = Vec::new();
    for (path, text) in BUILTIN.iter().filter(|(p, _)| !p.ends_with("_test.rego")) {
        for (i, line) in text.lines().enumerate() {
            let code = line.split('#').next().unwrap_or_default().trim();
            if negation_differs(code) {
                offenders.push(format!("{path}:{}: {code}", i + 1));
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "negations OPA and regorus evaluate differently:\n{}",
        offenders.join("\n")
    );
}
