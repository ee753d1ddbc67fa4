//! `quorate check plan.json --observed search-prod=FILE` up to the Rego input, the fuzz input
//! being Elasticsearch `_cluster/health` or
//! `_cat/nodes?format=json` output (`_cat/nodes` names no cluster, hence `GROUP=`).
//! Formats are recognized by content, so mutations reach the other adapters too.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    quorate_fuzz::observed(data, "es.json", Some("search-prod"));
});
