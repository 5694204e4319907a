//! Long-lived credentials: personal access tokens, API key/secret pairs and the account's
//! client secret, as stored (never with their secret values).

use crate::time::Timestamp;
use crate::user::UserId;

/// A personal access token (`tsp_...`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PersonalToken {
    pub id: String,
    #[serde(skip)]
    pub user_id: UserId,
    pub name: String,
    /// `None`: all of the owner's permissions.
    pub scopes: Option<Vec<String>>,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub last_used_at: Option<Timestamp>,
}

/// An API key; its secret (`tsx_...`) is stored only as a digest.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ApiKey {
    /// The public key id the client sends as `apiKey`.
    pub id: String,
    #[serde(skip)]
    pub user_id: UserId,
    pub name: String,
    pub scopes: Option<Vec<String>>,
    pub created_at: Timestamp,
    pub last_used_at: Option<Timestamp>,
}

/// The account's client secret as stored: encrypted, so it can be shown again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredClientSecret {
    pub user_id: UserId,
    pub ciphertext: Vec<u8>,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

/// A random public id with a readable prefix (`pat_...`, `key_...`): 128 bits, base62.
pub fn new_public_id(prefix: &str) -> String {
    let mut s = String::with_capacity(prefix.len() + 22);
    s.push_str(prefix);
    crate::token::random_base62(&mut s, 22);
    s
}
