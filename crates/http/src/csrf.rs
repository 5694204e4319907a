//! CSRF protection, Django-style: a `csrftoken` cookie echoed in an `X-CSRFToken` header,
//! hardened as a signed double submit.
//!
//! A token is `base64url(nonce || HMAC(key, binding || nonce)[..16])`, where the binding is
//! the digest of the session the browser carries (or "anonymous"). The server keeps no
//! state: a token is valid for a request when it verifies against that request's binding,
//! so a token taken from another session, or planted by a sibling subdomain without the
//! key, fails. The same token is echoed on every response for the life of a session and
//! replaced at login and logout.

use axum::http::{HeaderMap, Method};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use tessera_core::keys::Signer;
use tessera_core::secret::{constant_time_eq, fill_random};

use crate::problem::Problem;

const NONCE: usize = 16;
const TAG: usize = 16;

/// What the CSRF token of a request is bound to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Binding {
    /// No usable session cookie: bound to the fixed string `anonymous`.
    Anonymous,
    /// The SHA-256 of the session token inside the session cookie.
    Session([u8; 32]),
}

impl Binding {
    fn bytes(&self) -> &[u8] {
        match self {
            Self::Anonymous => b"anonymous",
            Self::Session(d) => d,
        }
    }
}

/// Request extension: the CSRF state of the request, computed once by the edge layer.
#[derive(Debug, Clone)]
pub struct CsrfContext {
    /// What this request's CSRF tokens are bound to, from its session cookie.
    pub binding: Binding,
    /// The request's `csrftoken` cookie, when it is valid for `binding`.
    pub valid_cookie: Option<String>,
}

/// Response extension: send exactly this token (set by login, logout and the login page).
#[derive(Debug, Clone)]
pub struct IssueToken(pub String);

/// A fresh token bound to `binding`: a random nonce and its truncated HMAC, 43 characters
/// of base64url.
pub fn new_token(signer: &Signer, binding: Binding) -> String {
    let mut raw = [0u8; NONCE + TAG];
    fill_random(&mut raw[..NONCE]);
    let tag = signer.sign(&[binding.bytes(), &raw[..NONCE]]);
    raw[NONCE..].copy_from_slice(&tag[..TAG]);
    URL_SAFE_NO_PAD.encode(raw)
}

/// Whether `token` was made by [`new_token`] with this key for `binding` (the tag is
/// compared in constant time).
pub fn verify_token(signer: &Signer, binding: Binding, token: &str) -> bool {
    verify_token_checked(signer, binding, token).is_some()
}

/// As [`verify_token`]: `None` when not valid, otherwise whether the key that signs now
/// made it (when not, a new token is issued, so that the older key can be retired).
pub fn verify_token_checked(signer: &Signer, binding: Binding, token: &str) -> Option<bool> {
    if token.len() != 43 {
        return None;
    }
    let raw = URL_SAFE_NO_PAD.decode(token).ok()?;
    if raw.len() != NONCE + TAG {
        return None;
    }
    signer.verify_checked(&[binding.bytes(), &raw[..NONCE]], &raw[NONCE..])
}

impl CsrfContext {
    /// The token this request's responses carry: the valid cookie's, or a fresh one.
    pub fn current_or_new(&self, signer: &Signer) -> String {
        self.valid_cookie
            .clone()
            .unwrap_or_else(|| new_token(signer, self.binding))
    }

    /// Checks that `submitted` (header or form field) equals the request's valid
    /// `csrftoken` cookie.
    /// Checks the token a request submitted: the CSRF header, else (on endpoints that
    /// read a form) the form field. The one CSRF check of every endpoint and rule.
    pub fn check_request(
        &self,
        headers: &axum::http::HeaderMap,
        settings: &crate::settings::Csrf,
        form_field: Option<&str>,
    ) -> Result<(), Problem> {
        let header = headers
            .get(&settings.header_name)
            .and_then(|v| v.to_str().ok());
        self.check(header.or(form_field))
    }

    /// Checks a submitted token (`None` when none was sent) against the request's valid
    /// `csrftoken` cookie: a 403 `csrf_failed` when the cookie is missing or not valid, the
    /// token missing or empty, or the two different.
    pub fn check(&self, submitted: Option<&str>) -> Result<(), Problem> {
        let Some(cookie) = &self.valid_cookie else {
            return Err(Problem::csrf_failed(
                "CSRF cookie missing or not valid for this session",
            ));
        };
        let Some(submitted) = submitted.filter(|s| !s.is_empty()) else {
            return Err(Problem::csrf_failed("CSRF token missing"));
        };
        if !constant_time_eq(submitted.as_bytes(), cookie.as_bytes()) {
            return Err(Problem::csrf_failed("CSRF token incorrect"));
        }
        Ok(())
    }
}

/// Whether `method` may change state and so needs CSRF protection: anything but `GET`,
/// `HEAD`, `OPTIONS` and `TRACE`.
pub fn is_unsafe(method: &Method) -> bool {
    !matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    )
}

/// Refuses an unsafe request that a browser says came from another site: `Origin` neither
/// this origin nor a trusted one, or `Sec-Fetch-Site: cross-site`.
pub fn check_origin(
    headers: &HeaderMap,
    own_origin: &str,
    trusted: &[String],
) -> Result<(), Problem> {
    if let Some(site) = headers.get("sec-fetch-site")
        && site.as_bytes().eq_ignore_ascii_case(b"cross-site")
    {
        return Err(Problem::csrf_failed(
            "cross-site request refused (Sec-Fetch-Site)",
        ));
    }
    let Some(origin) = headers.get(axum::http::header::ORIGIN) else {
        return Ok(());
    };
    let origin = origin.to_str().unwrap_or("").trim();
    let allowed = same_origin(origin, own_origin) || trusted.iter().any(|t| same_origin(origin, t));
    if !allowed {
        return Err(Problem::csrf_failed(
            "cross-origin request refused (Origin)",
        ));
    }
    Ok(())
}

/// Compares two origins, ignoring case and default ports.
fn same_origin(a: &str, b: &str) -> bool {
    fn norm(o: &str) -> Option<String> {
        let (scheme, host) = o.split_once("://")?;
        let scheme = scheme.to_ascii_lowercase();
        let host = host.trim_end_matches('/').to_ascii_lowercase();
        let host = match (scheme.as_str(), host.rsplit_once(':')) {
            ("https", Some((h, "443"))) | ("http", Some((h, "80"))) => h.to_owned(),
            _ => host,
        };
        Some(format!("{scheme}://{host}"))
    }
    matches!((norm(a), norm(b)), (Some(x), Some(y)) if x == y)
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;
    use tessera_core::SecretKey;

    use super::*;

    #[test]
    fn tokens_are_bound_to_their_session() {
        let (key, _) = SecretKey::generate();
        let s = key.signer("csrf");
        let mine = Binding::Session([1; 32]);
        let t = new_token(&s, mine);
        assert_eq!(t.len(), 43);
        assert!(verify_token(&s, mine, &t));
        assert!(
            !verify_token(&s, Binding::Session([2; 32]), &t),
            "another session's token"
        );
        assert!(!verify_token(&s, Binding::Anonymous, &t));
        assert!(
            !verify_token(&SecretKey::generate().0.signer("csrf"), mine, &t),
            "forged"
        );
        assert!(!verify_token(&s, mine, "x"));
        assert_ne!(new_token(&s, mine), t);
    }

    #[test]
    fn submitted_token_must_equal_the_valid_cookie() {
        let ctx = CsrfContext {
            binding: Binding::Anonymous,
            valid_cookie: Some("abc".into()),
        };
        assert!(ctx.check(Some("abc")).is_ok());
        assert!(ctx.check(Some("abd")).is_err());
        assert!(ctx.check(None).is_err());
        assert!(ctx.check(Some("")).is_err());
        let none = CsrfContext {
            binding: Binding::Anonymous,
            valid_cookie: None,
        };
        assert!(none.check(Some("abc")).is_err());
    }

    #[test]
    fn origins() {
        let mut h = HeaderMap::new();
        assert!(check_origin(&h, "https://api.example.com", &[]).is_ok());
        h.insert(
            "origin",
            HeaderValue::from_static("https://API.example.com:443"),
        );
        assert!(check_origin(&h, "https://api.example.com", &[]).is_ok());
        h.insert("origin", HeaderValue::from_static("https://evil.example"));
        assert!(check_origin(&h, "https://api.example.com", &[]).is_err());
        assert!(
            check_origin(
                &h,
                "https://api.example.com",
                &["https://evil.example".into()]
            )
            .is_ok()
        );
        h.insert("origin", HeaderValue::from_static("null"));
        assert!(check_origin(&h, "https://api.example.com", &[]).is_err());
        let mut h = HeaderMap::new();
        h.insert("sec-fetch-site", HeaderValue::from_static("cross-site"));
        assert!(check_origin(&h, "https://api.example.com", &[]).is_err());
        h.insert("sec-fetch-site", HeaderValue::from_static("same-origin"));
        assert!(check_origin(&h, "https://api.example.com", &[]).is_ok());
    }
}
