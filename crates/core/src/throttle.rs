//! Brute-force throttling, kept in the store so that every instance sees the same counts.
//!
//! Each attempt is counted *before* the password is hashed, atomically in the database, so
//! however many guesses arrive at once, no more than `max_failures` are ever evaluated
//! within a window. From the `max_failures`-th counted attempt on, the subject is locked
//! for `base_delay`, doubling with every further attempt allowed after a lock expires, up
//! to `max_lockout`. Attempts refused while locked are not counted, so a lock always ends;
//! a success clears the account's count.

use std::time::Duration;

use crate::time::Timestamp;

/// What is being counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// A login (normalised), whether or not it exists; also OAuth2 client ids.
    Account,
    /// An API key id. Not counted any more (API secrets are throttled per address only,
    /// so nobody can lock a key's client out); kept so stored rows stay readable.
    ApiKey,
    /// An OAuth2 client id (a login). Not counted any more, like [`Scope::ApiKey`].
    Client,
    /// A client IP address (password spraying).
    Ip,
}

impl Scope {
    /// The scope's name as stored with each counter.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Account => "account",
            Self::ApiKey => "api_key",
            Self::Client => "client",
            Self::Ip => "ip",
        }
    }
}

/// The stored subject: itself when short, else its SHA-256 (a client cannot make rows
/// of unbounded size).
pub fn subject(raw: &str) -> String {
    if raw.len() <= 128 {
        raw.to_owned()
    } else {
        format!(
            "sha256:{}",
            hex::encode(crate::secret::digest(raw.as_bytes()))
        )
    }
}

/// Limits for one scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    /// Attempts counted within `window` from which the subject is locked.
    pub max_failures: u32,
    /// Failures older than this are forgotten.
    pub window: Duration,
    /// Length of the first lock; each attempt counted after a lock ends doubles it.
    pub base_delay: Duration,
    /// The longest a lock lasts.
    pub max_lockout: Duration,
}

impl Limit {
    /// The lock after the `n`-th counted attempt (`n >= max_failures`).
    pub fn lockout(&self, n: u32) -> Duration {
        let doublings = n.saturating_sub(self.max_failures).min(20);
        self.base_delay
            .saturating_mul(1 << doublings)
            .min(self.max_lockout)
    }
}

/// Brute-force throttling: whether it is on, and the limits per account and per client
/// address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottleSettings {
    /// `false` counts and locks nothing.
    pub enabled: bool,
    /// Limits per login (password logins and HTTP Basic), counted before the password is
    /// checked; a success clears the count.
    pub account: Limit,
    /// Limits per client address, counted on failures of every kind of secret.
    pub ip: Limit,
}

impl Default for ThrottleSettings {
    /// In the spirit of NIST SP 800-63B §5.2.2 (well under 100 consecutive failures) and
    /// Authelia's regulation: ten guesses per account and a hundred per address in 15
    /// minutes, then locks from one minute doubling up to fifteen.
    fn default() -> Self {
        Self {
            enabled: true,
            account: Limit {
                max_failures: 10,
                window: Duration::from_secs(15 * 60),
                base_delay: Duration::from_secs(60),
                max_lockout: Duration::from_secs(15 * 60),
            },
            ip: Limit {
                max_failures: 100,
                window: Duration::from_secs(15 * 60),
                base_delay: Duration::from_secs(60),
                max_lockout: Duration::from_secs(15 * 60),
            },
        }
    }
}

/// The answer to "may this attempt be evaluated?".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt {
    /// Counted: the secret may be checked.
    Allowed,
    /// Locked until this time.
    Throttled {
        /// When the lock ends.
        until: Timestamp,
    },
}

impl Attempt {
    /// Seconds until a throttled subject may try again (at least 1); `None` when allowed.
    pub fn retry_after(&self, now: Timestamp) -> Option<u64> {
        match self {
            Self::Allowed => None,
            Self::Throttled { until } => {
                Some(u64::try_from(until.unix() - now.unix()).unwrap_or(0).max(1))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lockouts_grow_and_are_capped() {
        let l = ThrottleSettings::default().account;
        assert_eq!(l.lockout(10), Duration::from_secs(60));
        assert_eq!(l.lockout(11), Duration::from_secs(120));
        assert_eq!(l.lockout(13), Duration::from_secs(480));
        assert_eq!(l.lockout(14), Duration::from_secs(900));
        assert_eq!(l.lockout(1000), Duration::from_secs(900));
    }
}
