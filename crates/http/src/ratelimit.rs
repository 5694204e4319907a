//! The answer side of rules' rate limits: the `RateLimit-Policy` and `RateLimit` headers
//! (IETF draft-ietf-httpapi-ratelimit-headers) of every answer to a limited rule, and the
//! 429 `rate_limited` problem with `Retry-After` past the limit.

use axum::http::{HeaderMap, HeaderName, HeaderValue};
use tessera_core::ratelimit::Caller;
use tessera_core::rules::Rule;

use crate::Problem;

const POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");
const STATE: HeaderName = HeaderName::from_static("ratelimit");

/// The two headers of a rate-limited rule's answer.
#[derive(Debug, Clone)]
pub struct RateHeaders {
    policy: HeaderValue,
    state: HeaderValue,
}

impl RateHeaders {
    /// Adds them to `headers`.
    pub fn apply(&self, headers: &mut HeaderMap) {
        headers.insert(POLICY, self.policy.clone());
        headers.insert(STATE, self.state.clone());
    }
}

/// Counts one request of `caller` against `rule`'s rate limit: the headers to answer with
/// (`None` for a rule without a limit), or 429 past the limit.
pub fn count(rule: &Rule, caller: Caller) -> Result<Option<RateHeaders>, Problem> {
    let Some(limit) = &rule.rate_limit else {
        return Ok(None);
    };
    let verdict = limit.check(caller);
    // The policy is named after the rule, so that a client tells two limits apart.
    let name = rule.index;
    let headers = RateHeaders {
        policy: HeaderValue::from_str(limit.policy()).map_err(|_| Problem::internal())?,
        state: HeaderValue::from_str(&format!(
            "\"rule{name}\";r={};t={}",
            verdict.remaining, verdict.reset_secs
        ))
        .map_err(|_| Problem::internal())?,
    };
    if verdict.allowed {
        return Ok(Some(headers));
    }
    metrics::counter!("tessera_rate_limited_total").increment(1);
    let mut p = Problem::new(
        axum::http::StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
        "Too Many Requests",
    )
    .with_detail(format!(
        "rate limit exceeded: {} requests per {} s; retry in {} s",
        limit.limit,
        limit.period.as_secs().max(1),
        verdict.reset_secs
    ));
    p.retry_after = Some(verdict.reset_secs);
    p.rate_limit = Some(Box::new(headers));
    Err(p)
}
