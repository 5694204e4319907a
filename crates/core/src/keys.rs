//! The server's key ring and the purpose-bound keys derived from each of its keys
//! (HKDF-SHA256).
//!
//! A key ring holds one or more master keys, newest first. The newest key whose
//! activation time has come seals and signs everything new; every key in the ring still
//! opens and checks what it sealed or signed, until it is retired. Every use (cookie
//! encryption, CSRF signing, client-secret encryption) derives its own key with a
//! distinct label, so no two mechanisms ever share key material.
//!
//! A running server may replace its ring ([`Keys::replace`]) when the key file changes:
//! every [`Sealer`] and [`Signer`] made from that [`Keys`] switches to the new ring at
//! its next use, at the cost of one uncontended atomic load while the ring is unchanged.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard};

use aes_gcm::aead::{Aead, Payload};
use aes_gcm::{Aes256Gcm, KeyInit, Nonce};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::error::{Error, Result};
use crate::time::Timestamp;

type HmacSha256 = Hmac<Sha256>;

/// Shortest accepted key material, in bytes.
pub const MIN_KEY_BYTES: usize = 32;

/// A master key, kept only as the HKDF-Extract of its material: every use derives its own
/// key from it. `Debug` never shows it.
#[derive(Clone)]
pub struct SecretKey {
    /// HKDF-Extract of the key material.
    prk: [u8; 32],
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretKey({})", self.id())
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

    /// The key's public name: 8 hex digits derived from it (so the same key has the same
    /// id wherever it is configured), revealing nothing of it.
    pub fn id(&self) -> String {
        hex::encode(&self.derive("tessera key id")[..4])
    }

    /// A 32-byte key for one purpose (HKDF-Expand with `purpose` as info).
    pub fn derive(&self, purpose: &str) -> [u8; 32] {
        let mut mac = hmac(&self.prk);
        mac.update(purpose.as_bytes());
        mac.update(&[1]);
        mac.finalize().into_bytes().into()
    }

    /// Authenticated encryption under this key alone, for `purpose`.
    pub fn sealer(&self, purpose: &str) -> Sealer {
        Sealer::fixed(&KeyRing::new(self.clone()), purpose)
    }

    /// HMAC-SHA256 under this key alone, for `purpose`.
    pub fn signer(&self, purpose: &str) -> Signer {
        Signer::fixed(&KeyRing::new(self.clone()), purpose)
    }
}

/// A key of the ring, and from when it seals and signs.
#[derive(Debug, Clone)]
pub struct RingKey {
    /// The key.
    pub key: SecretKey,
    /// From this time on (if it is the newest such key) it seals and signs; before, it
    /// only opens and checks. The epoch for a key that has always been active.
    pub activates_at: Timestamp,
    /// Its text form, as written in the key file. Never shown.
    text: String,
}

impl RingKey {
    /// A key of the ring from its text form (see [`SecretKey::parse`]).
    pub fn parse(text: &str, activates_at: Timestamp) -> Result<Self> {
        Ok(Self {
            key: SecretKey::parse(text)?,
            activates_at,
            text: text.trim().to_owned(),
        })
    }

    /// A new random key that starts sealing at `activates_at`.
    pub fn generate(activates_at: Timestamp) -> Self {
        let (key, text) = SecretKey::generate();
        Self {
            key,
            activates_at,
            text,
        }
    }
}

/// What a key of the ring is doing at a given time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyState {
    /// Newer than the sealing key, not active yet: it opens, and will seal from its
    /// activation time.
    Pending,
    /// Seals and signs everything new.
    Sealing,
    /// Replaced: opens and checks what it sealed and signed, until it is retired.
    Previous,
}

impl KeyState {
    /// `pending`, `sealing` or `previous`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Sealing => "sealing",
            Self::Previous => "previous",
        }
    }
}

/// The server's keys, newest first (at least one).
#[derive(Debug, Clone)]
pub struct KeyRing {
    keys: Vec<RingKey>,
}

/// The first line of a key file written by [`KeyRing::to_file`].
const FILE_HEADER: &str = "# Tessera key ring, newest first: ACTIVATES_AT (Unix seconds) KEY. \
                           Managed by `tessera key rotate | retire`.";

impl KeyRing {
    /// A ring of one key, active since the epoch.
    pub fn new(key: SecretKey) -> Self {
        Self {
            keys: vec![RingKey {
                key,
                activates_at: Timestamp::from_unix(0),
                text: String::new(),
            }],
        }
    }

    /// Reads a key file: lines `ACTIVATES_AT KEY`, newest first, `#` comments and blank
    /// lines ignored. A file holding only a key (what earlier versions wrote) is a ring
    /// of that one key.
    pub fn parse(text: &str) -> Result<Self> {
        let mut keys = Vec::new();
        for line in text.lines().map(str::trim) {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let key = match line.split_once(char::is_whitespace) {
                Some((at, rest)) if at.bytes().all(|b| b.is_ascii_digit()) => {
                    let at = at.parse::<i64>().map_err(|_| Error::Invalid {
                        field: "key ring",
                        reason: "an activation time is out of range",
                    })?;
                    RingKey::parse(rest, Timestamp::from_unix(at))?
                }
                _ => RingKey::parse(line, Timestamp::from_unix(0))?,
            };
            keys.push(key);
        }
        if keys.is_empty() {
            return Err(Error::Invalid {
                field: "key ring",
                reason: "it holds no key",
            });
        }
        if keys
            .windows(2)
            .any(|w| w[0].activates_at < w[1].activates_at)
        {
            return Err(Error::Invalid {
                field: "key ring",
                reason: "keys must be listed newest first (activation times decreasing)",
            });
        }
        let mut ids: Vec<String> = keys.iter().map(|k| k.key.id()).collect();
        ids.sort();
        ids.dedup();
        if ids.len() != keys.len() {
            return Err(Error::Invalid {
                field: "key ring",
                reason: "the same key is listed twice",
            });
        }
        Ok(Self { keys })
    }

    /// The key file's text (secret: write it with mode 0600).
    pub fn to_file(&self) -> String {
        let mut out = String::from(FILE_HEADER);
        out.push('\n');
        for k in &self.keys {
            out.push_str(&format!("{} {}\n", k.activates_at.unix(), k.text));
        }
        out
    }

    /// The keys, newest first.
    pub fn keys(&self) -> &[RingKey] {
        &self.keys
    }

    /// Which key seals at `now`: the newest one already active (the oldest if none is).
    pub fn sealing_index(&self, now: Timestamp) -> usize {
        self.keys
            .iter()
            .position(|k| k.activates_at <= now)
            .unwrap_or(self.keys.len() - 1)
    }

    /// What the key at `index` is doing at `now`.
    pub fn state(&self, index: usize, now: Timestamp) -> KeyState {
        let sealing = self.sealing_index(now);
        match index.cmp(&sealing) {
            std::cmp::Ordering::Less => KeyState::Pending,
            std::cmp::Ordering::Equal => KeyState::Sealing,
            std::cmp::Ordering::Greater => KeyState::Previous,
        }
    }

    /// The position of the key named `id`.
    pub fn find(&self, id: &str) -> Option<usize> {
        self.keys.iter().position(|k| k.key.id() == id)
    }

    /// When the key at `index` stopped (or will stop) sealing: the activation of the
    /// oldest newer key that is active then. `None` while no newer key exists.
    pub fn superseded_at(&self, index: usize) -> Option<Timestamp> {
        index
            .checked_sub(1)
            .map(|newer| self.keys[newer].activates_at)
    }

    /// Adds `key` as the newest; it seals from its activation time, which must not be
    /// earlier than that of the current newest key.
    pub fn rotate(&mut self, key: RingKey) -> Result<()> {
        if key.activates_at < self.keys[0].activates_at {
            return Err(Error::Invalid {
                field: "key ring",
                reason: "a new key cannot activate before the newest one",
            });
        }
        self.keys.insert(0, key);
        Ok(())
    }

    /// Removes the key at `index`, which must not be the only one.
    pub fn remove(&mut self, index: usize) -> Result<RingKey> {
        if self.keys.len() == 1 {
            return Err(Error::Invalid {
                field: "key ring",
                reason: "the last key of the ring cannot be removed",
            });
        }
        Ok(self.keys.remove(index))
    }
}

/// The key ring of a running server: shared by every [`Sealer`] and [`Signer`] made from
/// it, and replaceable while they are in use. Cheap to clone.
#[derive(Clone)]
pub struct Keys(Arc<Live>);

struct Live {
    /// Incremented by every replacement: sealers and signers compare it with the one
    /// their derived keys were made for.
    generation: AtomicU64,
    ring: RwLock<Arc<KeyRing>>,
}

impl fmt::Debug for Keys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ring = self.ring();
        let ids: Vec<String> = ring.keys().iter().map(|k| k.key.id()).collect();
        write!(f, "Keys({})", ids.join(", "))
    }
}

impl Keys {
    /// A live ring, starting with `ring`.
    pub fn new(ring: KeyRing) -> Self {
        Self(Arc::new(Live {
            generation: AtomicU64::new(0),
            ring: RwLock::new(Arc::new(ring)),
        }))
    }

    /// The ring in force.
    pub fn ring(&self) -> Arc<KeyRing> {
        self.0
            .ring
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Puts `ring` in force for every sealer and signer made from these keys.
    pub fn replace(&self, ring: KeyRing) {
        *self.0.ring.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(ring);
        self.0.generation.fetch_add(1, Ordering::Release);
    }

    /// Authenticated encryption for `purpose`, following the ring.
    pub fn sealer(&self, purpose: &'static str) -> Sealer {
        let (generation, ring) = self.snapshot();
        Sealer {
            follow: Some((self.clone(), purpose)),
            derived: Arc::new(RwLock::new(SealerKeys::derive(&ring, purpose, generation))),
        }
    }

    /// HMAC-SHA256 for `purpose`, following the ring.
    pub fn signer(&self, purpose: &'static str) -> Signer {
        let (generation, ring) = self.snapshot();
        Signer {
            follow: Some((self.clone(), purpose)),
            derived: Arc::new(RwLock::new(SignerKeys::derive(&ring, purpose, generation))),
        }
    }

    fn generation(&self) -> u64 {
        self.0.generation.load(Ordering::Acquire)
    }

    fn snapshot(&self) -> (u64, Arc<KeyRing>) {
        let guard = self.0.ring.read().unwrap_or_else(PoisonError::into_inner);
        (self.generation(), guard.clone())
    }
}

/// The derived keys of one purpose for every key of a ring, with their activation times.
struct Derived<T> {
    generation: u64,
    keys: Vec<(Timestamp, T)>,
}

impl<T> Derived<T> {
    /// Indices in the order to try: the sealing key first, then the others newest first.
    /// `now` is read only when the ring has several keys.
    fn order(&self, now: fn() -> Timestamp) -> impl Iterator<Item = (usize, &T)> {
        let sealing = if self.keys.len() == 1 {
            0
        } else {
            let now = now();
            self.keys
                .iter()
                .position(|(at, _)| *at <= now)
                .unwrap_or(self.keys.len() - 1)
        };
        std::iter::once(sealing)
            .chain((0..self.keys.len()).filter(move |i| *i != sealing))
            .map(|i| (i, &self.keys[i].1))
    }
}

type SealerKeys = Derived<Aes256Gcm>;
type SignerKeys = Derived<HmacSha256>;

impl SealerKeys {
    fn derive(ring: &KeyRing, purpose: &str, generation: u64) -> Self {
        Self {
            generation,
            keys: ring
                .keys()
                .iter()
                .map(|k| {
                    let key = k.key.derive(purpose);
                    (k.activates_at, <Aes256Gcm as KeyInit>::new(&key.into()))
                })
                .collect(),
        }
    }
}

impl SignerKeys {
    fn derive(ring: &KeyRing, purpose: &str, generation: u64) -> Self {
        Self {
            generation,
            keys: ring
                .keys()
                .iter()
                .map(|k| (k.activates_at, hmac(&k.key.derive(purpose))))
                .collect(),
        }
    }
}

/// The derived keys in force: refreshed first when the ring was replaced.
fn current<'a, T>(
    derived: &'a RwLock<Derived<T>>,
    follow: Option<&(Keys, &'static str)>,
    make: fn(&KeyRing, &str, u64) -> Derived<T>,
) -> RwLockReadGuard<'a, Derived<T>> {
    if let Some((keys, purpose)) = follow {
        let generation = keys.generation();
        let guard = derived.read().unwrap_or_else(PoisonError::into_inner);
        if guard.generation == generation {
            return guard;
        }
        drop(guard);
        let (generation, ring) = keys.snapshot();
        *derived.write().unwrap_or_else(PoisonError::into_inner) = make(&ring, purpose, generation);
    }
    derived.read().unwrap_or_else(PoisonError::into_inner)
}

/// HMAC-SHA256 keyed with `key`.
// HMAC takes keys of any length (longer ones are hashed, shorter ones zero-padded), so
// `new_from_slice` never fails for it; the `hmac` crate's own `Mac::new` unwraps the same
// call.
#[allow(clippy::expect_used)]
fn hmac(key: &[u8]) -> HmacSha256 {
    <HmacSha256 as Mac>::new_from_slice(key).expect("HMAC takes keys of any length")
}

/// AES-256-GCM with a random 96-bit nonce per message: `nonce || ciphertext || tag`,
/// sealed under the ring's sealing key and opened under any key of the ring.
#[derive(Clone)]
pub struct Sealer {
    /// The live ring this sealer follows (`None`: fixed keys).
    follow: Option<(Keys, &'static str)>,
    derived: Arc<RwLock<SealerKeys>>,
}

impl fmt::Debug for Sealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Sealer([redacted])")
    }
}

const NONCE_LEN: usize = 12;

/// What [`Sealer::open_checked`] found.
#[derive(Debug, PartialEq, Eq)]
pub struct Opened {
    /// The plaintext.
    pub plaintext: Vec<u8>,
    /// Whether the key that opened it is the one that seals now; when not, the value
    /// should be sealed again before that key is retired.
    pub current: bool,
}

impl Sealer {
    fn fixed(ring: &KeyRing, purpose: &str) -> Self {
        Self {
            follow: None,
            derived: Arc::new(RwLock::new(SealerKeys::derive(ring, purpose, 0))),
        }
    }

    /// Encrypts and authenticates `plaintext` under the sealing key; `context` is
    /// authenticated too (e.g. the cookie name), so a value sealed for one use cannot be
    /// replayed in another.
    ///
    /// # Panics
    ///
    /// If `plaintext` or `context` is longer than 64 GiB, AES-GCM's limit.
    pub fn seal(&self, plaintext: &[u8], context: &[u8]) -> Vec<u8> {
        let derived = current(&self.derived, self.follow.as_ref(), SealerKeys::derive);
        let Some((_, cipher)) = derived.order(Timestamp::now).next() else {
            unreachable!("a key ring holds at least one key")
        };
        let mut nonce = [0u8; NONCE_LEN];
        crate::secret::fill_random(&mut nonce);
        // AES-GCM refuses only a message or associated data longer than 2^36 bytes, and
        // a `Vec` output grows without failing: what is sealed here (tokens, secrets,
        // bound to cookie names and user ids) is a few dozen bytes.
        #[allow(clippy::expect_used)]
        let ct = cipher
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

    /// The plaintext, or `None` if `sealed` was not produced by a key of the ring for
    /// this context.
    pub fn open(&self, sealed: &[u8], context: &[u8]) -> Option<Vec<u8>> {
        self.open_checked(sealed, context).map(|o| o.plaintext)
    }

    /// As [`Sealer::open`], and whether the sealing key opened it.
    pub fn open_checked(&self, sealed: &[u8], context: &[u8]) -> Option<Opened> {
        if sealed.len() < NONCE_LEN + 16 {
            return None;
        }
        let (nonce, ct) = sealed.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().ok()?;
        let derived = current(&self.derived, self.follow.as_ref(), SealerKeys::derive);
        derived
            .order(Timestamp::now)
            .enumerate()
            .find_map(|(tried, (_, cipher))| {
                cipher
                    .decrypt(
                        &Nonce::from(nonce),
                        Payload {
                            msg: ct,
                            aad: context,
                        },
                    )
                    .ok()
                    .map(|plaintext| Opened {
                        plaintext,
                        current: tried == 0,
                    })
            })
    }
}

/// HMAC-SHA256 under a key derived for one purpose, for tags that need no encryption
/// (CSRF tokens): signed under the ring's sealing key, checked under any key of the ring.
#[derive(Clone)]
pub struct Signer {
    /// The live ring this signer follows (`None`: fixed keys).
    follow: Option<(Keys, &'static str)>,
    /// Keyed once: signing clones the state instead of hashing the key again.
    derived: Arc<RwLock<SignerKeys>>,
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Signer([redacted])")
    }
}

impl Signer {
    fn fixed(ring: &KeyRing, purpose: &str) -> Self {
        Self {
            follow: None,
            derived: Arc::new(RwLock::new(SignerKeys::derive(ring, purpose, 0))),
        }
    }

    /// HMAC over the parts under the sealing key, each part length-prefixed so that part
    /// boundaries are unambiguous.
    pub fn sign(&self, parts: &[&[u8]]) -> [u8; 32] {
        let derived = current(&self.derived, self.follow.as_ref(), SignerKeys::derive);
        let Some((_, mac)) = derived.order(Timestamp::now).next() else {
            unreachable!("a key ring holds at least one key")
        };
        tag(mac, parts)
    }

    /// Constant-time check of a (possibly truncated, at least 16 bytes) tag made by any
    /// key of the ring.
    pub fn verify(&self, parts: &[&[u8]], tag_given: &[u8]) -> bool {
        self.verify_checked(parts, tag_given).is_some()
    }

    /// As [`Signer::verify`]: `None` when no key of the ring made the tag, otherwise
    /// whether the key that signs now made it.
    pub fn verify_checked(&self, parts: &[&[u8]], tag_given: &[u8]) -> Option<bool> {
        if tag_given.len() < 16 || tag_given.len() > 32 {
            return None;
        }
        let derived = current(&self.derived, self.follow.as_ref(), SignerKeys::derive);
        derived
            .order(Timestamp::now)
            .enumerate()
            .find(|(_, (_, mac))| {
                crate::secret::constant_time_eq(&tag(mac, parts)[..tag_given.len()], tag_given)
            })
            .map(|(tried, _)| tried == 0)
    }
}

fn tag(mac: &HmacSha256, parts: &[&[u8]]) -> [u8; 32] {
    let mut mac = mac.clone();
    for p in parts {
        mac.update(&(p.len() as u64).to_be_bytes());
        mac.update(p);
    }
    mac.finalize().into_bytes().into()
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
        let (key, text) = SecretKey::generate();
        let shown = format!("{key:?}");
        assert_eq!(shown, format!("SecretKey({})", key.id()));
        assert!(!shown.contains(&text[..8]));
    }

    fn ring_of(keys: &[(&RingKey, i64)]) -> KeyRing {
        let text: String = keys
            .iter()
            .map(|(k, at)| format!("{at} {}\n", k.text))
            .collect();
        KeyRing::parse(&text).unwrap()
    }

    #[test]
    fn a_single_key_file_is_a_ring_of_one_active_key() {
        let (key, text) = SecretKey::generate();
        let ring = KeyRing::parse(&format!("{text}\n")).unwrap();
        assert_eq!(ring.keys().len(), 1);
        assert_eq!(ring.keys()[0].key.id(), key.id());
        assert_eq!(ring.state(0, Timestamp::now()), KeyState::Sealing);
        // Written back and read again, it is the same ring.
        let again = KeyRing::parse(&ring.to_file()).unwrap();
        assert_eq!(again.keys()[0].key.id(), key.id());
        assert!(KeyRing::parse("# nothing\n").is_err());
    }

    #[test]
    fn rotated_rings_seal_with_the_new_key_and_open_with_every_key() {
        let now = Timestamp::now().unix();
        let old = RingKey::generate(Timestamp::from_unix(0));
        let new = RingKey::generate(Timestamp::from_unix(0));
        let keys = Keys::new(ring_of(&[(&old, 0)]));
        let sealer = keys.sealer("cookie");
        let signer = keys.signer("csrf");
        let sealed_before = sealer.seal(b"session", b"c");
        let tag_before = signer.sign(&[b"t"]);

        // Rotated: the ring is replaced under the sealer and signer already in use.
        keys.replace(ring_of(&[(&new, now - 1), (&old, 0)]));
        let opened = sealer.open_checked(&sealed_before, b"c").unwrap();
        assert_eq!(opened.plaintext, b"session");
        assert!(!opened.current, "opened by the previous key");
        assert!(signer.verify(&[b"t"], &tag_before));
        let sealed_after = sealer.seal(b"session", b"c");
        assert!(sealer.open_checked(&sealed_after, b"c").unwrap().current);
        // Sealed by the new key: the old key alone cannot open it.
        assert!(old.key.sealer("cookie").open(&sealed_after, b"c").is_none());
        assert!(new.key.sealer("cookie").open(&sealed_after, b"c").is_some());
        assert!(
            new.key
                .signer("csrf")
                .verify(&[b"t"], &signer.sign(&[b"t"]))
        );

        // Retired: what only the old key opened no longer opens.
        keys.replace(ring_of(&[(&new, now - 1)]));
        assert!(sealer.open(&sealed_before, b"c").is_none());
        assert!(!signer.verify(&[b"t"], &tag_before));
        assert!(sealer.open(&sealed_after, b"c").is_some());
    }

    #[test]
    fn a_pending_key_opens_but_does_not_seal_before_its_activation() {
        let now = Timestamp::now().unix();
        let old = RingKey::generate(Timestamp::from_unix(0));
        let pending = RingKey::generate(Timestamp::from_unix(0));
        let ring = ring_of(&[(&pending, now + 3600), (&old, 0)]);
        assert_eq!(ring.state(0, Timestamp::now()), KeyState::Pending);
        assert_eq!(ring.state(1, Timestamp::now()), KeyState::Sealing);
        let keys = Keys::new(ring);
        let sealed = keys.sealer("cookie").seal(b"x", b"");
        assert!(old.key.sealer("cookie").open(&sealed, b"").is_some());
        // An instance that already switched to the pending key is understood.
        let early = pending.key.sealer("cookie").seal(b"y", b"");
        assert_eq!(keys.sealer("cookie").open(&early, b"").unwrap(), b"y");
    }

    #[test]
    fn rings_out_of_order_or_with_a_key_twice_are_refused() {
        let a = RingKey::generate(Timestamp::from_unix(0));
        let b = RingKey::generate(Timestamp::from_unix(0));
        assert!(KeyRing::parse(&format!("10 {}\n20 {}\n", a.text, b.text)).is_err());
        assert!(KeyRing::parse(&format!("20 {}\n10 {}\n", a.text, a.text)).is_err());
        let mut ring = ring_of(&[(&a, 20)]);
        assert!(
            ring.rotate(RingKey::generate(Timestamp::from_unix(10)))
                .is_err()
        );
        assert!(ring.remove(0).is_err(), "the last key stays");
    }
}
