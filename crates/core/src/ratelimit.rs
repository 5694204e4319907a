//! Rate limits of access rules (`rate_limit = "600/1m"`, optional `burst`): a GCRA per
//! rule and caller (the `governor` crate), kept in this process's memory. A caller is
//! the authenticated user, or the client address on a public rule.
//!
//! GCRA spreads the quota evenly: `600/1m` lets one request in every 100 ms, and `burst`
//! (by default the whole quota) is how many may come at once after a quiet spell.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};

use crate::user::UserId;

/// Who a rate limit counts requests of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Caller {
    /// An authenticated user, whatever credential they used.
    User(UserId),
    /// The client address, on a public rule.
    Address(IpAddr),
    /// A public rule's request whose address is unknown (in-process tests).
    Unknown,
}

/// How often the limiter forgets callers whose budget is full again.
const PRUNE_EVERY: u32 = 4096;

type Keyed =
    RateLimiter<Caller, DefaultKeyedStateStore<Caller>, DefaultClock, StateInformationMiddleware>;

/// A rule's rate limit and the budgets of its callers.
#[derive(Clone)]
pub struct RateLimit {
    /// Requests per `period`.
    pub limit: NonZeroU32,
    /// The window of `limit`.
    pub period: Duration,
    /// How many requests may come at once.
    pub burst: NonZeroU32,
    /// One request's share of the period: the time a spent unit takes to come back.
    interval: Duration,
    /// The `RateLimit-Policy` item (`"rule3";q=600;w=60`), written once.
    policy: String,
    limiter: Arc<Keyed>,
    checks: Arc<AtomicU32>,
}

impl std::fmt::Debug for RateLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}/{}s burst {}",
            self.limit,
            self.period.as_secs(),
            self.burst
        )
    }
}

/// What a rate limit said of one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdict {
    /// The request may pass.
    pub allowed: bool,
    /// Requests the caller may still make at once.
    pub remaining: u32,
    /// Seconds until the caller's budget is full again (allowed), or until the next
    /// request may pass (refused; at least 1).
    pub reset_secs: u64,
}

impl RateLimit {
    /// Reads `rate_limit` (`N/period`: `600/1m`, `10/s`, `5000/1h`) and `burst` (default
    /// N). The error is a one-line reason.
    pub fn parse(text: &str, burst: Option<u32>) -> Result<Self, String> {
        let (n, period) = text
            .split_once('/')
            .ok_or_else(|| format!("`{text}`: write requests/period, such as 600/1m"))?;
        let limit = n
            .trim()
            .parse::<u32>()
            .ok()
            .and_then(NonZeroU32::new)
            .ok_or_else(|| format!("`{text}`: the number of requests must be 1 or more"))?;
        let period = period.trim();
        // `10/s` reads as `10/1s`.
        let period = if period.starts_with(|c: char| c.is_ascii_digit()) {
            crate::time::parse_duration(period, false)
        } else {
            crate::time::parse_duration(&format!("1{period}"), false)
        }
        .map_err(|e| format!("`{text}`: {e}"))?;
        let interval = period / limit.get();
        if interval.is_zero() {
            return Err(format!(
                "`{text}`: the period is too short for that many requests"
            ));
        }
        let burst = match burst {
            None => limit,
            Some(b) => NonZeroU32::new(b).ok_or("`burst` must be 1 or more")?,
        };
        let quota = Quota::with_period(interval)
            .ok_or_else(|| format!("`{text}`: the period is too short"))?
            .allow_burst(burst);
        Ok(Self {
            limit,
            period,
            burst,
            interval,
            policy: String::new(),
            limiter: Arc::new(RateLimiter::keyed(quota).with_middleware()),
            checks: Arc::new(AtomicU32::new(0)),
        })
    }

    /// The limit named after the rule at `index` (`rule3`), as its headers name it.
    pub fn named(mut self, index: usize) -> Self {
        self.policy = format!(
            "\"rule{index}\";q={};w={}",
            self.limit,
            self.period.as_secs().max(1)
        );
        self
    }

    /// The `RateLimit-Policy` item of this limit (`"rule3";q=600;w=60`).
    pub fn policy(&self) -> &str {
        &self.policy
    }

    /// Counts one request of `caller`.
    pub fn check(&self, caller: Caller) -> Verdict {
        if self.checks.fetch_add(1, Ordering::Relaxed) % PRUNE_EVERY == PRUNE_EVERY - 1 {
            // Callers whose budget is full again hold nothing worth keeping.
            self.limiter.retain_recent();
            self.limiter.shrink_to_fit();
        }
        match self.limiter.check_key(&caller) {
            Ok(snapshot) => {
                let remaining = snapshot.remaining_burst_capacity();
                let spent = self.burst.get().saturating_sub(remaining);
                Verdict {
                    allowed: true,
                    remaining,
                    reset_secs: (self.interval * spent).as_secs_f64().ceil() as u64,
                }
            }
            Err(not_until) => {
                let wait = not_until.wait_time_from(DefaultClock::default().now());
                Verdict {
                    allowed: false,
                    remaining: 0,
                    reset_secs: wait.as_secs_f64().ceil().max(1.0) as u64,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_caller_gets_the_burst_then_is_refused_and_others_are_counted_apart() {
        let limit = RateLimit::parse("3/1h", None).unwrap();
        let alice = Caller::User(UserId(1));
        let remaining: Vec<u32> = (0..3).map(|_| limit.check(alice).remaining).collect();
        assert_eq!(remaining, [2, 1, 0]);
        let refused = limit.check(alice);
        assert!(!refused.allowed);
        // One unit comes back every 20 minutes.
        assert!((1199..=1200).contains(&refused.reset_secs), "{refused:?}");
        let bob = limit.check(Caller::User(UserId(2)));
        assert!(bob.allowed);
        assert_eq!(bob.remaining, 2);
    }

    #[test]
    fn the_budget_comes_back_at_the_rate_of_the_limit() {
        let limit = RateLimit::parse("20/s", Some(1)).unwrap();
        let me = Caller::Address("192.0.2.1".parse().unwrap());
        assert!(limit.check(me).allowed);
        assert!(!limit.check(me).allowed);
        std::thread::sleep(Duration::from_millis(60));
        assert!(limit.check(me).allowed);
    }

    #[test]
    fn a_bad_limit_says_what_is_wrong() {
        for (text, burst, says) in [
            ("600", None, "requests/period"),
            ("0/1m", None, "1 or more"),
            ("x/1m", None, "1 or more"),
            ("10/fortnight", None, "fortnight"),
            ("10/1m", Some(0), "burst"),
        ] {
            let err = RateLimit::parse(text, burst).unwrap_err();
            assert!(err.contains(says), "{text}: {err}");
        }
        let ok = RateLimit::parse("10/s", None).unwrap();
        assert_eq!(
            (ok.limit.get(), ok.period, ok.burst.get()),
            (10, Duration::from_secs(1), 10)
        );
    }
}
