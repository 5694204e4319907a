//! The rule compiler and matcher: arbitrary rule text and requests never panic, and
//! the indexed lookup agrees with trying every rule in order.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tessera_core::{RuleSpec, Rules};

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let mut lines = s.lines();
    let (Some(method), Some(path)) = (lines.next(), lines.next()) else {
        return;
    };
    let specs: Vec<RuleSpec> = lines
        .take(16)
        .map(|l| RuleSpec {
            matches: l.to_owned(),
            ..RuleSpec::default()
        })
        .collect();
    let Ok(rules) = Rules::compile(&specs) else {
        return;
    };
    let Ok(path) = tessera_core::path::normalize(path) else {
        return;
    };
    let found = rules.find(method, &path).map(|r| r.index);
    // The reference: every rule in order.
    let reference = (0..specs.len()).find(|&i| {
        Rules::compile(&specs[i..=i]).is_ok_and(|one| one.find(method, &path).is_some())
    });
    assert_eq!(found, reference);
});
