//! The token format parser: never panics; whatever it accepts has the right shape.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tessera_core::token::{TOKEN_LEN, parse};

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data)
        && let Ok(t) = parse(s)
    {
        assert_eq!(s.len(), TOKEN_LEN);
        assert!(s.starts_with(t.kind.prefix()));
    }
});
