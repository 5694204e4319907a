//! Tessera's domain: who a user is, what they may do, and how their secrets are kept.
//!
//! This crate knows nothing of HTTP or SQL. The HTTP edge (`tessera-http`) and the
//! storage backends (`tessera-store`) depend on it, never the other way round.

pub mod accounts;
pub mod audit;
pub mod auth;
pub mod credential;
mod directory;
pub mod error;
mod invitation;
pub mod keys;
pub mod meter;
pub mod password;
pub mod path;
pub mod permission;
pub mod ratelimit;
pub mod request;
pub mod rules;
pub mod secret;
pub mod session;
pub mod store;
pub mod throttle;
pub mod time;
pub mod token;
pub mod user;

pub use accounts::Accounts;
pub use auth::{
    AuthFailure, Authenticator, ClientSecret, ExternalRefusal, ExternalSignIn, Identity, Invited,
    LoginOutcome, Member, SessionSettings, TokenSettings,
};
pub use error::{Error, StoreError};
pub use keys::{KeyRing, Keys, SecretKey};
pub use password::{Password, PasswordHasher, PasswordParams, PasswordPolicy};
pub use permission::{Permission, PermissionSet, Role};
pub use rules::{CredentialKind, RuleSpec, Rules};
pub use store::Store;
pub use throttle::ThrottleSettings;
pub use time::Timestamp;
pub use user::{Login, NewUser, Profile, User, UserId};
