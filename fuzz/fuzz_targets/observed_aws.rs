//! `quorate check plan.json --observed FILE` up to the Rego input, the fuzz input
//! being AWS `autoscaling describe-auto-scaling-groups`, `-instances`,
//! `-instance-refreshes`, `-scaling-activities` or `ec2 describe-instances` output (JSON).
//! Formats are recognized by content, so mutations reach the other adapters too.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    quorate_fuzz::observed(data, "asg.json", None);
});
