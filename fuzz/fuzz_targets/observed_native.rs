//! `quorate check plan.json --observed FILE` up to the Rego input, the fuzz input
//! being quorate's own observed-state document
//! (`apiVersion: quorate.dev/v1`, `kind: Observed`).
//! Formats are recognized by content, so mutations reach the other adapters too.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    quorate_fuzz::observed(data, "observed.yaml", None);
});
