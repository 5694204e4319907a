//! Randomness, digests and comparisons for secrets.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Bytes of operating-system randomness fetched at once per thread for small requests.
const POOL: usize = 1024;

thread_local! {
    /// Unused bytes of the last `getrandom` call, and how many of them are used up.
    static RANDOM: std::cell::RefCell<([u8; POOL], usize)> =
        const { std::cell::RefCell::new(([0; POOL], POOL)) };
}

/// Fills `buf` from the operating system's CSPRNG. Without one the server cannot keep any
/// promise, so failing here is fatal: it panics.
///
/// Requests of up to 64 bytes (nonces, tokens, ids: one per HTTP response for the CSRF
/// token) are served from a per-thread block of `getrandom` output, so that they cost a
/// copy instead of a system call. Every byte is handed out once and wiped from the block
/// as it is.
pub fn fill_random(buf: &mut [u8]) {
    if buf.len() > 64 {
        os_random(buf);
        return;
    }
    RANDOM.with_borrow_mut(|(pool, used)| {
        if *used + buf.len() > POOL {
            os_random(pool);
            *used = 0;
        }
        let taken = &mut pool[*used..*used + buf.len()];
        buf.copy_from_slice(taken);
        taken.fill(0);
        *used += buf.len();
    });
}

/// Fills `buf` straight from `getrandom`, panicking when the operating system cannot
/// provide randomness.
// Deliberately fatal, not infallible: every token, session id, key and nonce comes from
// here, and carrying on without randomness would hand out guessable secrets. No caller
// could do anything safe with an error but stop.
#[allow(clippy::expect_used)]
fn os_random(buf: &mut [u8]) {
    getrandom::fill(buf).expect("the operating system's random number generator failed");
}

/// The SHA-256 digest under which a secret (token, session id, API secret) is stored.
pub fn digest(secret: &[u8]) -> [u8; 32] {
    Sha256::digest(secret).into()
}

/// Compares two byte strings in time independent of where they differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

const ALPHABET: &[u8] = b"0123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

/// A random password of `len` characters from an alphabet without look-alikes
/// (no `0/O`, `1/l/I`), for generated admin passwords: 20 characters give 117 bits.
pub fn random_password(len: usize) -> String {
    // Rejection sampling keeps the distribution uniform over the alphabet.
    let limit = 256 - (256 % ALPHABET.len());
    let mut out = String::with_capacity(len);
    let mut buf = [0u8; 64];
    while out.len() < len {
        fill_random(&mut buf);
        for &b in &buf {
            if (b as usize) < limit && out.len() < len {
                out.push(ALPHABET[b as usize % ALPHABET.len()] as char);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn pooled_randomness_never_repeats() {
        let mut seen = std::collections::HashSet::new();
        // Several pool refills' worth of 16-byte nonces, plus odd sizes across refills.
        for i in 0..1000 {
            let mut n = [0u8; 16];
            super::fill_random(&mut n);
            assert_ne!(n, [0; 16]);
            assert!(seen.insert(n), "nonce {i} repeated");
            let mut odd = [0u8; 7];
            super::fill_random(&mut odd);
        }
    }

    use super::*;

    #[test]
    fn random_passwords_are_distinct_and_from_the_alphabet() {
        let a = random_password(20);
        let b = random_password(20);
        assert_eq!(a.len(), 20);
        assert_ne!(a, b);
        assert!(a.bytes().all(|c| ALPHABET.contains(&c)));
    }

    #[test]
    fn comparisons() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
        assert_eq!(
            hex::encode(digest(b"abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
