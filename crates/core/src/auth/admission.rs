//! Throttling admission: attempts counted in the store before any secret is checked,
//! per account for passwords and per client address for every kind.

use super::*;

impl Authenticator {
    /// Counts an attempt for the client address and the subject before any secret is
    /// checked. `Some(seconds)` when either is throttled.
    pub(super) async fn admit(
        &self,
        scope: Scope,
        subject: &str,
        ip: Option<&str>,
    ) -> Result<Option<u64>> {
        let t = self.inner.throttle;
        let subject = &crate::throttle::subject(subject);
        if !t.enabled {
            return Ok(None);
        }
        if let Some(r) = self.admit_address(ip).await? {
            return Ok(Some(r));
        }
        let now = Timestamp::now();
        // The account is counted before its secret is checked, atomically, so concurrent
        // guesses cannot exceed the limit.
        let a: Attempt = self
            .store()
            .register_attempt(scope, subject, &t.account, now)
            .await?;
        if let Some(r) = a.retry_after(now) {
            tracing::warn!(
                scope = scope.as_str(),
                retry_after = r,
                "login attempts throttled"
            );
            return Ok(Some(r));
        }
        Ok(None)
    }

    /// Checks the client address only. Machine secrets (API secrets, client secrets) carry
    /// 190 random bits, so guessing one needs no per-account limit; counting failures per
    /// key or client would only let anyone who knows a key id or login lock its real
    /// client out. Failures are counted against the address ([`Self::failed`]).
    pub(super) async fn admit_address(&self, ip: Option<&str>) -> Result<Option<u64>> {
        if !self.inner.throttle.enabled {
            return Ok(None);
        }
        let now = Timestamp::now();
        // The address is only checked here and counted on failure: a busy address with
        // good credentials (a NAT, a gateway client using Basic) is never locked out.
        if let Some(ip) = ip
            && let Some(until) = self.store().locked_until(Scope::Ip, ip, now).await?
        {
            let r = Attempt::Throttled { until }.retry_after(now).unwrap_or(1);
            tracing::warn!(scope = "ip", subject = %ip, retry_after = r, "login attempts throttled");
            return Ok(Some(r));
        }
        Ok(None)
    }

    /// Counts a failed attempt against the client address.
    pub(super) async fn failed(&self, ip: Option<&str>) {
        let t = self.inner.throttle;
        if let (true, Some(ip)) = (t.enabled, ip)
            && let Err(e) = self
                .store()
                .register_attempt(Scope::Ip, ip, &t.ip, Timestamp::now())
                .await
        {
            tracing::warn!(error = %e, "could not count a failed attempt");
        }
    }

    /// The throttle subject whose failures a success clears, when throttling is on.
    pub(super) fn to_clear(&self, subject: &str) -> Option<String> {
        self.inner
            .throttle
            .enabled
            .then(|| crate::throttle::subject(subject))
    }

    /// Clears the failures of a throttle subject (as [`Self::to_clear`] names it).
    pub(super) async fn clear_failures(&self, scope: Scope, subject: &str) {
        if let Err(e) = self.store().clear_attempts(scope, subject).await {
            tracing::warn!(error = %e, "could not reset a failure counter");
        }
    }
}
