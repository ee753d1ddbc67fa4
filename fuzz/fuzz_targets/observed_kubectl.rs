//! `quorate check plan.json --observed FILE` up to the Rego input, the fuzz input
//! being `kubectl get ... -o json` (or `-o yaml`) output: a List of live
//! objects or one live object (workloads, pods, PodDisruptionBudgets).
//! Formats are recognized by content, so mutations reach the other adapters too.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    quorate_fuzz::observed(data, "live.json", None);
});
