//! The server's secret key and the purpose-bound keys derived from it (HKDF-SHA256).
//!
//! One master key lives in the data directory (or comes from the environment); every
//! use (cookie encryption, CSRF signing, client-secret encryption) derives its own key
//! with a distinct label, so no two mechanisms ever share key material.

use std::fmt;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::error::{Error, Result};

type HmacSha256 = Hmac<Sha256>;

/// Shortest accepted key material, in bytes.
pub const MIN_KEY_BYTES: usize = 32;

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
        let mut mac = <HmacSha256 as Mac>::new_from_slice(b"tessera secret key v1")
            .expect("HMAC takes keys of any length");
        mac.update(material);
        Self {
            prk: mac.finalize().into_bytes().into(),
        }
    }

    /// A 32-byte key for one purpose (HKDF-Expand with `purpose` as info).
    pub fn derive(&self, purpose: &str) -> [u8; 32] {
        let mut mac = <HmacSha256 as Mac>::new_from_slice(&self.prk).expect("any key length");
        mac.update(purpose.as_bytes());
        mac.update(&[1]);
        mac.finalize().into_bytes().into()
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
    fn short_material_is_refused() {
        assert!(SecretKey::parse("too short").is_err());
        assert!(SecretKey::parse(&"k".repeat(32)).is_ok());
        assert_eq!(
            format!("{:?}", SecretKey::generate().0),
            "SecretKey([redacted])"
        );
    }
}
