//! Cookies: reading the `Cookie` header, sealing the session cookie, writing `Set-Cookie`.
//!
//! The session cookie holds the session's token, encrypted and authenticated with
//! AES-256-GCM under a key derived from the server key, with the cookie name as associated
//! data. A cookie value the server did not produce never opens, so no session id chosen by
//! a client is ever adopted.

use axum::http::HeaderMap;
use axum::http::header::COOKIE;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use tessera_core::Timestamp;
use tessera_core::keys::Sealer;

use crate::settings::{SameSite, SessionCookie};

/// Response extension: set the session cookie to carry this token until `expires_at`.
#[derive(Clone)]
pub struct SetSessionCookie {
    /// The session token to seal into the cookie.
    pub token: String,
    /// When the cookie expires: its `Expires`, and the end of its `Max-Age`.
    pub expires_at: Timestamp,
    /// When the session was opened: `Max-Age` counts from here, so a fresh login's cookie
    /// says exactly the configured lifetime whatever second the response is written in.
    pub issued_at: Timestamp,
}

/// Response extension: expire the session cookie.
#[derive(Clone, Copy)]
pub struct ClearSessionCookie;

/// How many cookies of one name a request carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Found<'a> {
    /// No cookie of that name.
    None,
    /// Exactly one, with this value (surrounding quotes removed).
    One(&'a str),
    /// More than one (a cookie tossed in from a sibling domain or another path).
    Many,
}

impl<'a> Found<'a> {
    /// The value when exactly one cookie of the name was sent.
    pub fn one(self) -> Option<&'a str> {
        match self {
            Self::One(v) => Some(v),
            _ => None,
        }
    }
}

/// The cookie named `name`, distinguishing absent, one, and repeated.
pub fn get_unique<'a>(headers: &'a HeaderMap, name: &str) -> Found<'a> {
    let mut found = headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .filter(|(k, _)| *k == name)
        .map(|(_, v)| v.trim().trim_matches('"'));
    match (found.next(), found.next()) {
        (None, _) => Found::None,
        (Some(v), None) => Found::One(v),
        (Some(_), Some(_)) => Found::Many,
    }
}

/// The session cookie's value for `token`: sealed by `sealer` with `cookie_name` as
/// associated data, in unpadded base64url.
pub fn seal_session(sealer: &Sealer, cookie_name: &str, token: &str) -> String {
    URL_SAFE_NO_PAD.encode(sealer.seal(token.as_bytes(), cookie_name.as_bytes()))
}

/// The token inside a session cookie value, if this server sealed it.
pub fn open_session(sealer: &Sealer, cookie_name: &str, value: &str) -> Option<String> {
    open_session_checked(sealer, cookie_name, value).map(|(token, _)| token)
}

/// As [`open_session`], and whether the key that seals now sealed it (when not, the
/// cookie is sealed again on the way out, so that the older key can be retired).
pub fn open_session_checked(
    sealer: &Sealer,
    cookie_name: &str,
    value: &str,
) -> Option<(String, bool)> {
    if value.len() > 512 {
        return None;
    }
    let raw = URL_SAFE_NO_PAD.decode(value).ok()?;
    let opened = sealer.open_checked(&raw, cookie_name.as_bytes())?;
    String::from_utf8(opened.plaintext)
        .ok()
        .map(|token| (token, opened.current))
}

fn attributes(path: &str, domain: Option<&str>, same_site: SameSite, secure: bool) -> String {
    let mut s = format!("; Path={path}");
    if let Some(d) = domain {
        s.push_str("; Domain=");
        s.push_str(d);
    }
    s.push_str("; HttpOnly; SameSite=");
    s.push_str(same_site.as_str());
    if secure {
        s.push_str("; Secure");
    }
    s
}

/// The `Set-Cookie` value that sets the session cookie to `sealed_value` until
/// `expires_at`, with `Max-Age` counted from `now` (never negative), the configured `Path`,
/// `Domain` and `SameSite`, `HttpOnly`, and `Secure` when `secure`.
pub fn session_set_cookie(
    cfg: &SessionCookie,
    sealed_value: &str,
    expires_at: Timestamp,
    now: Timestamp,
    secure: bool,
) -> String {
    let max_age = (expires_at.unix() - now.unix()).max(0);
    let expires = std::time::UNIX_EPOCH
        + std::time::Duration::from_secs(u64::try_from(expires_at.unix()).unwrap_or(0));
    format!(
        "{}={sealed_value}{}; Max-Age={max_age}; Expires={}",
        cfg.name,
        attributes(&cfg.path, cfg.domain.as_deref(), cfg.same_site, secure),
        httpdate::fmt_http_date(expires)
    )
}

/// The `Set-Cookie` value that deletes the session cookie: the same name and attributes,
/// expired.
pub fn session_clear_cookie(cfg: &SessionCookie, secure: bool) -> String {
    format!(
        "{}={}; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT",
        cfg.name,
        attributes(&cfg.path, cfg.domain.as_deref(), cfg.same_site, secure)
    )
}

/// `csrftoken=<t>; Path=/; HttpOnly; SameSite=Lax` (+ `Secure` over HTTPS), as the README
/// specifies: the token reaches scripts through the `X-CSRFToken` response header.
pub fn csrf_set_cookie(name: &str, token: &str, secure: bool) -> String {
    // Sent on most responses: one allocation, no formatting machinery.
    const ATTRIBUTES: &str = "; Path=/; HttpOnly; SameSite=Lax";
    let mut s = String::with_capacity(name.len() + 1 + token.len() + ATTRIBUTES.len() + 8);
    s.push_str(name);
    s.push('=');
    s.push_str(token);
    s.push_str(ATTRIBUTES);
    if secure {
        s.push_str("; Secure");
    }
    s
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;
    use tessera_core::SecretKey;

    use super::*;

    #[test]
    fn reads_cookies() {
        let mut h = HeaderMap::new();
        h.append(
            COOKIE,
            HeaderValue::from_static("a=1; sessionid=abc; csrftoken=\"x\""),
        );
        h.append(COOKIE, HeaderValue::from_static("b=2"));
        let get = |name| get_unique(&h, name).one();
        assert_eq!(get("sessionid"), Some("abc"));
        assert_eq!(get("csrftoken"), Some("x"));
        assert_eq!(get("b"), Some("2"));
        assert_eq!(get("session"), None);
        h.append(COOKIE, HeaderValue::from_static("sessionid=tossed"));
        assert_eq!(get_unique(&h, "sessionid"), Found::Many);
    }

    #[test]
    fn session_cookies_open_only_for_their_name_and_key() {
        let (key, _) = SecretKey::generate();
        let sealer = key.sealer("session cookie");
        let v = seal_session(&sealer, "sessionid", "tss_token");
        assert_eq!(
            open_session(&sealer, "sessionid", &v).as_deref(),
            Some("tss_token")
        );
        assert_eq!(open_session(&sealer, "othername", &v), None);
        assert_eq!(
            open_session(
                &SecretKey::generate().0.sealer("session cookie"),
                "sessionid",
                &v
            ),
            None
        );
        assert_eq!(
            open_session(&sealer, "sessionid", "tss_token"),
            None,
            "a raw id is never adopted"
        );
        assert_eq!(open_session(&sealer, "sessionid", "!!!"), None);
    }

    #[test]
    fn set_cookie_attributes() {
        let cfg = SessionCookie {
            name: "sessionid".into(),
            same_site: SameSite::Strict,
            domain: Some("example.com".into()),
            path: "/api".into(),
            secure: crate::settings::Secure::Auto,
        };
        let now = Timestamp::from_unix(1_000_000);
        let c = session_set_cookie(&cfg, "VALUE", Timestamp::from_unix(1_043_200), now, true);
        assert_eq!(
            c,
            "sessionid=VALUE; Path=/api; Domain=example.com; HttpOnly; SameSite=Strict; Secure; \
             Max-Age=43200; Expires=Tue, 13 Jan 1970 01:46:40 GMT"
        );
        assert!(session_clear_cookie(&cfg, false).contains("Max-Age=0"));
        assert_eq!(
            csrf_set_cookie("csrftoken", "T", false),
            "csrftoken=T; Path=/; HttpOnly; SameSite=Lax"
        );
    }
}
