//! The domain errors every layer above the core maps to answers.

use std::fmt;

/// What went wrong in a storage backend, in terms the core can act on.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique constraint was hit; the string names the thing that already exists.
    #[error("{0} already exists")]
    Conflict(String),
    /// A referenced role does not exist.
    #[error("unknown role `{0}`")]
    UnknownRole(String),
    /// The database could not be reached or failed; the cause is for the log only.
    #[error("database unavailable: {0}")]
    Unavailable(String),
}

/// Errors of core operations.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A login that [`Login::parse`](crate::Login::parse) refuses; the text says why.
    #[error("invalid login: {0}")]
    InvalidLogin(&'static str),
    /// A new password that the policy refuses.
    #[error("password refused: {0}")]
    WeakPassword(PasswordProblem),
    /// A permission that is not well formed: the permission as given, and why.
    #[error("invalid permission `{0}`: {1}")]
    InvalidPermission(String, &'static str),
    /// A role name that is not valid: the name as given, and why.
    #[error("invalid role name `{0}`: {1}")]
    InvalidRoleName(String, &'static str),
    /// Another value out of bounds (a profile field, a credential name, a lifetime, a
    /// setting).
    #[error("invalid {field}: {reason}")]
    Invalid {
        /// What was invalid, as the user knows it (`email`, `expires_in`, ...).
        field: &'static str,
        /// Why, in words for the user.
        reason: &'static str,
    },
    /// No account has this login (as typed).
    #[error("no such user `{0}`")]
    UnknownUser(String),
    /// A scope asked for a credential that its owner does not hold.
    #[error("scope `{0}` is not among the owner's permissions")]
    ScopeNotHeld(String),
    /// An administrator tried to hand out a permission they do not hold themselves.
    #[error("you do not hold the permission `{0}`")]
    NotHeld(String),
    /// The change would leave no enabled user holding the `admin` role.
    #[error("the last enabled administrator cannot be disabled, deleted or lose the admin role")]
    LastAdministrator,
    /// The request conflicts with the current state (a role still granted, the built-in
    /// role); the text says how, for the user.
    #[error("{0}")]
    Conflict(String),
    /// The store refused (conflict, unknown role) or is unavailable.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Too much work queued (password hashing): retry shortly.
    #[error("busy: {0}")]
    Busy(&'static str),
    /// A bug or a broken invariant (e.g. an unparseable stored hash): logged, never shown.
    #[error("internal error: {0}")]
    Internal(String),
}

/// Why a password was refused. Shown to the person choosing it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PasswordProblem {
    /// Fewer characters than the policy asks for.
    TooShort {
        /// The policy's minimum, in characters.
        min: usize,
    },
    /// More characters than anyone may use ([`crate::password::MAX_PASSWORD_CHARS`]).
    TooLong {
        /// The maximum, in characters.
        max: usize,
    },
    /// On the list of commonly used or breached passwords (compared trimmed and in lower
    /// case).
    Common,
    /// Mostly made of the login: without it, less than half of the password remains.
    SameAsLogin,
}

impl fmt::Display for PasswordProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooShort { min } => write!(f, "it must have at least {min} characters"),
            Self::TooLong { max } => write!(f, "it must have at most {max} characters"),
            Self::Common => f.write_str("it is on a list of commonly used or breached passwords"),
            Self::SameAsLogin => f.write_str("it is too similar to the login"),
        }
    }
}

/// The result of core operations: [`Error`] unless said otherwise.
pub type Result<T, E = Error> = std::result::Result<T, E>;
