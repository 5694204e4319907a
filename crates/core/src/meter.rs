//! Metric handles cached per thread, for the series recorded on every request.
//!
//! Through the `metrics` macros, every increment registers its series again: it builds
//! the key, hashes the name and labels, and finds the series in the recorder's registry.
//! That costs over a thousand instructions, a tenth of a cached verification. A handle
//! kept from the first time costs one small hash lookup and an atomic add.
//!
//! Handles are kept only after [`enable`], which is called once a recorder is installed.
//! A handle taken earlier would be the no-op one, kept for good. Until then every call
//! registers as the macros do.

use std::cell::RefCell;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicBool, Ordering};

use metrics::{Counter, Histogram};

static ENABLED: AtomicBool = AtomicBool::new(false);

/// Starts keeping handles; call it after installing the `metrics` recorder.
pub fn enable() {
    ENABLED.store(true, Ordering::Relaxed);
}

/// Whether a recorder was announced with [`enable`].
pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// A series named by up to three `'static` strings (its name and label values), by
/// address: the same text at two addresses is two entries for one series, which is
/// harmless.
type Series = [(usize, usize); 3];

fn series(parts: &[&'static str]) -> Series {
    let mut key = [(0, 0); 3];
    for (slot, part) in key.iter_mut().zip(parts) {
        *slot = (part.as_ptr() as usize, part.len());
    }
    key
}

/// A map keyed by series, hashed with [`FastHasher`].
pub type SeriesMap<K, V> = HashMap<K, V, BuildHasherDefault<FastHasher>>;

/// The Fx hash (as in rustc): a rotate, xor and multiply per word. SipHash, the default,
/// costs a few hundred instructions for a route template, more than the increment it
/// finds. Only for keys nobody outside chooses: series names, label values, route
/// templates (flooding a map with colliding keys needs control of the keys).
#[derive(Default, Clone, Copy)]
pub struct FastHasher(u64);

impl FastHasher {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

impl Hasher for FastHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0; 8];
            word[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(word));
        }
    }

    fn write_u8(&mut self, n: u8) {
        self.add(u64::from(n));
    }

    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

thread_local! {
    static COUNTERS: RefCell<SeriesMap<Series, Counter>> = RefCell::default();
    static HISTOGRAMS: RefCell<SeriesMap<Series, Histogram>> = RefCell::default();
}

/// Adds one to the counter of the series `parts` (name, then label values; at most
/// three), registered by `register` (a `metrics::counter!` with those labels) the first
/// time on this thread.
pub fn increment(parts: &[&'static str], register: impl FnOnce() -> Counter) {
    debug_assert!(parts.len() <= 3);
    if !enabled() {
        return register().increment(1);
    }
    COUNTERS.with_borrow_mut(|c| {
        c.entry(series(parts)).or_insert_with(register).increment(1);
    });
}

/// Records `value` in the histogram of the series `parts`, as [`increment`].
pub fn record(parts: &[&'static str], register: impl FnOnce() -> Histogram, value: f64) {
    debug_assert!(parts.len() <= 3);
    if !enabled() {
        return register().record(value);
    }
    HISTOGRAMS.with_borrow_mut(|h| {
        h.entry(series(parts))
            .or_insert_with(register)
            .record(value);
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_series_per_name_and_label_values() {
        let (a, b) = ("tessera_x_total", "tessera_y_total");
        assert_eq!(series(&[a]), series(&[a]));
        assert_ne!(series(&[a]), series(&[b]));
        assert_ne!(series(&[a, "ok"]), series(&[a, "error"]));
        assert_ne!(series(&[a, "ok"]), series(&[a]));
    }

    #[test]
    fn the_fast_hash_tells_apart_what_differs_in_any_byte() {
        use std::hash::BuildHasher;
        let hash = |s: &str| BuildHasherDefault::<FastHasher>::default().hash_one(s);
        let routes = [
            "/api/verify",
            "/api/verifz",
            "/api/session",
            "/api/sessions",
            "{gateway}",
        ];
        for (i, a) in routes.iter().enumerate() {
            for b in &routes[i + 1..] {
                assert_ne!(hash(a), hash(b), "{a} and {b}");
            }
        }
        assert_eq!(hash("/api/verify"), hash("/api/verify"));
    }
}
