//! The server's secret key and the purpose-bound keys derived from it (HKDF-SHA256).
//!
//! One master key lives in the data directory (or comes from the environment); every
//! use (cookie encryption, CSRF signing, client-secret encryption) derives its own key
//! with a distinct label, so no two mechanisms ever share key material.

use std::fmt;

use aes_gcm::aead::{Aead, Payload};
use aes_gcm::{Aes256Gcm, KeyInit, Nonce};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::error::{Error, Result};

type HmacSha256 = Hmac<Sha256>;

/// Shortest accepted key material, in bytes.
pub const MIN_KEY_BYTES: usize = 32;

/// The server's master key, kept only as the HKDF-Extract of its material: every use
/// derives its own key from it. `Debug` never shows it.
#[derive(Clone)]
pub struct SecretKey {
    /// HKDF-Extract of the key material.
    prk: [u8; 32],
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey([redacted])")
    }
}

impl SecretKey {
    /// A fresh random key and its text form, for writing to the key file.
    pub fn generate() -> (Self, String) {
        let mut raw = [0u8; 32];
        crate::secret::fill_random(&mut raw);
        let text = hex::encode(raw);
        (Self::from_material(&raw), text)
    }

    /// Reads a key written by [`SecretKey::generate`] (64 hex digits), or any other
    /// string of at least 32 bytes supplied by an operator.
    pub fn parse(text: &str) -> Result<Self> {
        let text = text.trim();
        if let Ok(raw) = hex::decode(text)
            && raw.len() == 32
        {
            return Ok(Self::from_material(&raw));
        }
        if text.len() < MIN_KEY_BYTES {
            return Err(Error::Invalid {
                field: "secret key",
                reason: "it must be at least 32 characters (64 hex digits are generated)",
            });
        }
        Ok(Self::from_material(text.as_bytes()))
    }

    fn from_material(material: &[u8]) -> Self {
        let mut mac = hmac(b"tessera secret key v1");
        mac.update(material);
        Self {
            prk: mac.finalize().into_bytes().into(),
        }
    }

    /// A 32-byte key for one purpose (HKDF-Expand with `purpose` as info).
    pub fn derive(&self, purpose: &str) -> [u8; 32] {
        let mut mac = hmac(&self.prk);
        mac.update(purpose.as_bytes());
        mac.update(&[1]);
        mac.finalize().into_bytes().into()
    }

    /// Authenticated encryption under the key for `purpose`.
    pub fn sealer(&self, purpose: &str) -> Sealer {
        let key = self.derive(purpose);
        Sealer {
            cipher: <Aes256Gcm as KeyInit>::new(&key.into()),
        }
    }

    /// HMAC-SHA256 under the key for `purpose`.
    pub fn signer(&self, purpose: &str) -> Signer {
        Signer {
            mac: hmac(&self.derive(purpose)),
        }
    }
}

/// HMAC-SHA256 keyed with `key`.
// HMAC takes keys of any length (longer ones are hashed, shorter ones zero-padded), so
// `new_from_slice` never fails for it; the `hmac` crate's own `Mac::new` unwraps the same
// call.
#[allow(clippy::expect_used)]
fn hmac(key: &[u8]) -> HmacSha256 {
    <HmacSha256 as Mac>::new_from_slice(key).expect("HMAC takes keys of any length")
}

/// AES-256-GCM with a random 96-bit nonce per message: `nonce || ciphertext || tag`.
#[derive(Clone)]
pub struct Sealer {
    cipher: Aes256Gcm,
}

impl fmt::Debug for Sealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Sealer([redacted])")
    }
}

const NONCE_LEN: usize = 12;

impl Sealer {
    /// Encrypts and authenticates `plaintext`; `context` is authenticated too (e.g. the
    /// cookie name), so a value sealed for one use cannot be replayed in another.
    ///
    /// # Panics
    ///
    /// If `plaintext` or `context` is longer than 64 GiB, AES-GCM's limit.
    pub fn seal(&self, plaintext: &[u8], context: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        crate::secret::fill_random(&mut nonce);
        // AES-GCM refuses only a message or associated data longer than 2^36 bytes, and
        // a `Vec` output grows without failing: what is sealed here (tokens, secrets,
        // bound to cookie names and user ids) is a few dozen bytes.
        #[allow(clippy::expect_used)]
        let ct = self
            .cipher
            .encrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: plaintext,
                    aad: context,
                },
            )
            .expect("AES-GCM encryption of a message under 64 GiB cannot fail");
        let mut out = Vec::with_capacity(NONCE_LEN + ct.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ct);
        out
    }

    /// The plaintext, or `None` if `sealed` was not produced by this key and context.
    pub fn open(&self, sealed: &[u8], context: &[u8]) -> Option<Vec<u8>> {
        if sealed.len() < NONCE_LEN + 16 {
            return None;
        }
        let (nonce, ct) = sealed.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().ok()?;
        self.cipher
            .decrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: ct,
                    aad: context,
                },
            )
            .ok()
    }
}

/// HMAC-SHA256 under a key derived for one purpose ([`SecretKey::signer`]), for tags that
/// need no encryption (CSRF tokens).
#[derive(Clone)]
pub struct Signer {
    /// Keyed once: signing clones the state instead of hashing the key again.
    mac: HmacSha256,
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Signer([redacted])")
    }
}

impl Signer {
    /// HMAC over the parts, each length-prefixed so that part boundaries are unambiguous.
    pub fn sign(&self, parts: &[&[u8]]) -> [u8; 32] {
        let mut mac = self.mac.clone();
        for p in parts {
            mac.update(&(p.len() as u64).to_be_bytes());
            mac.update(p);
        }
        mac.finalize().into_bytes().into()
    }

    /// Constant-time check of a (possibly truncated, at least 16 bytes) tag.
    pub fn verify(&self, parts: &[&[u8]], tag: &[u8]) -> bool {
        tag.len() >= 16
            && tag.len() <= 32
            && crate::secret::constant_time_eq(&self.sign(parts)[..tag.len()], tag)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_keys_are_stable_and_purpose_bound() {
        let (key, text) = SecretKey::generate();
        let again = SecretKey::parse(&format!("{text}\n")).unwrap();
        assert_eq!(key.derive("cookie"), again.derive("cookie"));
        assert_ne!(key.derive("cookie"), key.derive("csrf"));
        let (other, _) = SecretKey::generate();
        assert_ne!(key.derive("cookie"), other.derive("cookie"));
    }

    #[test]
    fn sealing_round_trips_and_binds_the_context() {
        let (key, _) = SecretKey::generate();
        let s = key.sealer("cookie");
        let sealed = s.seal(b"tss_secret", b"sessionid");
        assert_eq!(s.open(&sealed, b"sessionid").unwrap(), b"tss_secret");
        assert!(
            s.open(&sealed, b"othercookie").is_none(),
            "context is authenticated"
        );
        assert!(key.sealer("other").open(&sealed, b"sessionid").is_none());
        let mut tampered = sealed.clone();
        tampered[20] ^= 1;
        assert!(s.open(&tampered, b"sessionid").is_none());
        assert!(s.open(&sealed[..10], b"sessionid").is_none());
        assert_ne!(s.seal(b"x", b""), s.seal(b"x", b""), "random nonces");
    }

    #[test]
    fn signatures_are_length_delimited() {
        let (key, _) = SecretKey::generate();
        let s = key.signer("csrf");
        let tag = s.sign(&[b"ab", b"c"]);
        assert!(s.verify(&[b"ab", b"c"], &tag));
        assert!(s.verify(&[b"ab", b"c"], &tag[..16]));
        assert!(!s.verify(&[b"a", b"bc"], &tag));
        assert!(
            !s.verify(&[b"ab", b"c"], &tag[..8]),
            "too short a tag is refused"
        );
    }

    #[test]
    fn short_material_is_refused() {
        assert!(SecretKey::parse("too short").is_err());
        assert!(SecretKey::parse(&"k".repeat(32)).is_ok());
        assert_eq!(
            format!("{:?}", SecretKey::generate().0),
            "SecretKey([redacted])"
        );
    }
}
