//! The path normaliser: never panics; its output is normal (idempotent, no `//`, no dot
//! segments, no escaped unreserved characters).
#![no_main]

use libfuzzer_sys::fuzz_target;
use tessera_core::path::normalize;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(n) = normalize(s) {
        assert!(n.starts_with('/'));
        assert!(!n.contains("//"), "{n:?}");
        assert!(!n.split('/').any(|seg| seg == "." || seg == ".."), "{n:?}");
        assert!(!n.contains(';'), "{n:?}");
        assert_eq!(normalize(&n).as_deref(), Ok(n.as_str()), "not idempotent");
    }
});
