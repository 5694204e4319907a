//! Long-lived credentials: personal access tokens, API key/secret pairs and the account's
//! client secret, as stored (never with their secret values).

use crate::time::Timestamp;
use crate::user::UserId;

/// A personal access token (`tsp_...`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct PersonalToken {
    /// The public id (`pat_...`), shown in listings and used to revoke; not a credential.
    pub id: String,
    /// The owner; never serialised.
    #[serde(skip)]
    pub user_id: UserId,
    /// The owner's label for it (1 to 100 characters, trimmed).
    pub name: String,
    /// `None`: all of the owner's permissions.
    pub scopes: Option<Vec<String>>,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it stops authenticating.
    pub expires_at: Timestamp,
    /// When it last authenticated a request, recorded at most once a minute; `None` if
    /// never.
    pub last_used_at: Option<Timestamp>,
    /// The first characters of its value (`tsp_` and four more), to recognise it by in
    /// listings; `None` for tokens made before they were kept.
    pub prefix: Option<String>,
}

/// How many leading characters of a personal token's value are kept ([`PersonalToken::prefix`]):
/// the kind prefix and four of its (over forty) random characters.
pub const PAT_PREFIX_LEN: usize = 8;

/// An API key; its secret (`tsx_...`) is stored only as a digest.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct ApiKey {
    /// The public key id the client sends as `apiKey`.
    pub id: String,
    /// The owner; never serialised.
    #[serde(skip)]
    pub user_id: UserId,
    /// The owner's label for it (1 to 100 characters, trimmed).
    pub name: String,
    /// Scopes of the sessions opened with the key. `None`: all of the owner's permissions.
    pub scopes: Option<Vec<String>>,
    /// When the key was created.
    pub created_at: Timestamp,
    /// When the key was last used, if recorded. Nothing records it at present (API-key
    /// logins do not), so it is `None`.
    pub last_used_at: Option<Timestamp>,
    /// When the key was disabled: it cannot be exchanged until it is enabled again.
    pub disabled_at: Option<Timestamp>,
}

/// The account's client secret as stored: encrypted, so it can be shown again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredClientSecret {
    /// The owner: an account has at most one client secret.
    pub user_id: UserId,
    /// The secret sealed under the server's client-secret key (AES-256-GCM), bound to the
    /// owner's id.
    pub ciphertext: Vec<u8>,
    /// When the secret was generated.
    pub created_at: Timestamp,
    /// When it stops authenticating.
    pub expires_at: Timestamp,
}

/// A random public id with a readable prefix (`pat_...`, `key_...`): 128 bits, base62.
pub fn new_public_id(prefix: &str) -> String {
    let mut s = String::with_capacity(prefix.len() + 22);
    s.push_str(prefix);
    crate::token::random_base62(&mut s, 22);
    s
}

/// What a set-password link is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum InvitationPurpose {
    /// A new account's first password.
    Invite,
    /// A new password for an account whose user forgot theirs.
    Reset,
}

impl InvitationPurpose {
    /// `invite` or `reset`, as stored.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Invite => "invite",
            Self::Reset => "reset",
        }
    }

    /// The purpose stored as `s`, if it is one.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "invite" => Some(Self::Invite),
            "reset" => Some(Self::Reset),
            _ => None,
        }
    }
}

/// A one-time set-password link (`tsi_...`), stored only as a digest: at most one
/// outstanding per user, gone once used.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Invitation {
    /// The public id (`inv_...`), for the audit log; not a credential.
    pub id: String,
    /// The account whose password it sets; never serialised.
    #[serde(skip)]
    pub user_id: UserId,
    /// A new account's invitation or a reset link.
    pub purpose: InvitationPurpose,
    /// The login of the administrator who made it (`cli` from the command line).
    pub created_by: String,
    /// When it was made.
    pub created_at: Timestamp,
    /// When it stops working.
    pub expires_at: Timestamp,
}

/// A user's account at an identity provider: who the provider says signed in (its `sub`)
/// is this user. Sign-ins find users by this link only, never by e-mail.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct IdentityLink {
    /// The provider's configured id (`identity_providers[].id`).
    pub provider: String,
    /// The subject (`sub`) the provider gives the account.
    pub subject: String,
    /// The provider's issuer when the link was made: a provider id pointed at another
    /// issuer finds none of its old links.
    pub issuer: String,
    /// The linked user; never serialised.
    #[serde(skip)]
    pub user_id: UserId,
    /// When the link was made (the first sign-in).
    pub created_at: Timestamp,
    /// The latest sign-in through it.
    pub last_login_at: Timestamp,
}
