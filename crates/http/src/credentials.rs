//! Reading the credential a request presents, once, in the order of precedence: a token (Authorization Bearer, the alias header, the URL parameter), a client
//! secret, HTTP Basic, the session cookie. The first one present is the one judged; a
//! present but unusable one is an error, never a fall-back to the next.

use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use tessera_core::Password;

use crate::context::RequestContext;
use crate::problem::{Challenge, Problem};
use crate::settings::HttpSettings;

/// The one credential a request presents, the first found in the order of precedence.
#[derive(Debug)]
pub enum Presented {
    /// No credential at all.
    None,
    /// A bearer token, from any of its carriers.
    Token(String),
    /// `Authorization: Secret <s>`.
    ClientSecret(String),
    /// HTTP Basic (RFC 7617).
    Basic {
        /// The login as sent, before the first `:`.
        username: String,
        /// The password as sent, after the first `:`.
        password: Password,
    },
    /// The session cookie: `None` when it was not sealed by this server.
    Cookie(Option<String>),
}

impl Presented {
    /// The kind of `WWW-Authenticate` challenge a failure of this credential answers
    /// with: [`Challenge::Bearer`] for a token or client secret, [`Challenge::Basic`] for
    /// Basic, [`Challenge::Plain`] otherwise.
    pub fn challenge(&self) -> Challenge {
        match self {
            Self::Token(_) | Self::ClientSecret(_) => Challenge::Bearer,
            Self::Basic { .. } => Challenge::Basic,
            Self::None | Self::Cookie(_) => Challenge::Plain,
        }
    }
}

/// Splits `<scheme> <value>` with a case-insensitive scheme.
fn scheme<'a>(value: &'a str, name: &str) -> Option<&'a str> {
    let (s, rest) = value.split_once(' ')?;
    s.eq_ignore_ascii_case(name).then(|| rest.trim())
}

/// The credential the request presents, reading the URL parameter token from the request's
/// own query string. A token sent more than one way, a repeated `Authorization` or alias
/// header, or an `Authorization` scheme other than `Bearer`, `Secret` and `Basic` is an
/// error, never a fall-back to the next credential.
pub fn extract(
    parts: &Parts,
    settings: &HttpSettings,
    ctx: &RequestContext,
) -> Result<Presented, Problem> {
    extract_with_query(parts, settings, ctx, parts.uri.query())
}

/// As [`extract`], reading the URL parameter token from `query` (the original request's
/// query string for `{base}/verify`).
pub fn extract_with_query(
    parts: &Parts,
    settings: &HttpSettings,
    ctx: &RequestContext,
    query: Option<&str>,
) -> Result<Presented, Problem> {
    let headers = &parts.headers;
    let mut auths = headers.get_all(AUTHORIZATION).iter();
    let authorization = auths.next();
    if auths.next().is_some() {
        return Err(Problem::invalid_request(
            "more than one Authorization header",
        ));
    }
    let authorization = match authorization {
        Some(v) => Some(
            v.to_str()
                .map_err(|_| Problem::credential_not_accepted(Challenge::Plain))?,
        ),
        None => None,
    };

    // Every carrier of a token, to refuse a token sent two ways (RFC 6750 §2).
    let mut tokens: Vec<String> = Vec::new();
    if let Some(t) = authorization.and_then(|a| scheme(a, "Bearer")) {
        tokens.push(t.to_owned());
    }
    if let Some(alias) = &settings.alias_header {
        let mut values = headers.get_all(alias).iter();
        if let Some(v) = values.next() {
            let v = v.to_str().unwrap_or("");
            let t = scheme(v, "Bearer")
                .ok_or_else(|| Problem::credential_not_accepted(Challenge::Bearer))?;
            tokens.push(t.to_owned());
            if values.next().is_some() {
                return Err(Problem::invalid_request("the token header is repeated"));
            }
        }
    }
    if let Some(param) = &settings.url_param {
        let query = query.unwrap_or("");
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query)
            .map_err(|_| Problem::invalid_request("the query string is not valid"))?;
        tokens.extend(
            pairs
                .into_iter()
                .filter(|(k, _)| k == param)
                .map(|(_, v)| v),
        );
    }
    match tokens.len() {
        0 => {}
        1 => return Ok(Presented::Token(tokens.pop().unwrap_or_default())),
        _ => return Err(Problem::invalid_request("a token may be sent one way only")),
    }

    if let Some(a) = authorization {
        if let Some(s) = scheme(a, "Secret") {
            return Ok(Presented::ClientSecret(s.to_owned()));
        }
        if let Some(b) = scheme(a, "Basic") {
            return basic(b);
        }
        return Err(Problem::credential_not_accepted(Challenge::Plain));
    }
    match &ctx.session_cookie {
        Some(token) => Ok(Presented::Cookie(token.clone())),
        None => Ok(Presented::None),
    }
}

/// RFC 7617: base64 of `user-id ":" password`, UTF-8.
fn basic(encoded: &str) -> Result<Presented, Problem> {
    let bad = || {
        Problem::invalid_credentials(Challenge::Basic).with_detail("malformed Basic credentials")
    };
    if encoded.len() > 4096 {
        return Err(bad());
    }
    let raw = STANDARD.decode(encoded).map_err(|_| bad())?;
    let text = String::from_utf8(raw).map_err(|_| bad())?;
    let (user, password) = text.split_once(':').ok_or_else(bad)?;
    if user.chars().any(char::is_control) {
        return Err(bad());
    }
    Ok(Presented::Basic {
        username: user.to_owned(),
        password: Password::new(password),
    })
}

#[cfg(test)]
mod tests {
    use axum::http::Request;

    use super::*;

    fn ctx(cookie: Option<Option<&str>>) -> RequestContext {
        RequestContext {
            request_id: std::sync::Arc::from("test"),
            client_ip: None,
            https: true,
            own_origin: "https://x".into(),
            session_cookie: cookie.map(|c| c.map(str::to_owned)),
            credentials_allowed: true,
            from_trusted_proxy: false,
        }
    }

    fn run(
        req: Request<()>,
        settings: &HttpSettings,
        cookie: Option<Option<&str>>,
    ) -> Result<Presented, Problem> {
        let (parts, ()) = req.into_parts();
        extract(&parts, settings, &ctx(cookie))
    }

    #[test]
    fn precedence_and_schemes() {
        let s = HttpSettings {
            alias_header: Some(axum::http::HeaderName::from_static(
                "x-simplicite-authorization",
            )),
            url_param: Some("access_token".into()),
            ..HttpSettings::default()
        };
        let r = Request::builder()
            .header("authorization", "bEaReR abc")
            .body(())
            .unwrap();
        assert!(matches!(run(r, &s, Some(Some("t"))), Ok(Presented::Token(t)) if t == "abc"));
        let r = Request::builder()
            .header("x-simplicite-authorization", "Bearer xyz")
            .body(())
            .unwrap();
        assert!(matches!(run(r, &s, None), Ok(Presented::Token(t)) if t == "xyz"));
        let r = Request::builder()
            .uri("/a?access_token=q")
            .body(())
            .unwrap();
        assert!(matches!(run(r, &s, None), Ok(Presented::Token(t)) if t == "q"));
        let r = Request::builder()
            .header("authorization", "secret S")
            .body(())
            .unwrap();
        assert!(matches!(run(r, &s, None), Ok(Presented::ClientSecret(t)) if t == "S"));
        let r = Request::builder()
            .header("authorization", "Basic am9lOnB3OmQ=")
            .body(())
            .unwrap();
        match run(r, &s, None) {
            Ok(Presented::Basic { username, password }) => {
                assert_eq!(username, "joe");
                assert_eq!(password.expose(), "pw:d", "only the first colon splits");
            }
            other => panic!("{other:?}"),
        }
        let r = Request::builder().body(()).unwrap();
        assert!(matches!(
            run(r, &s, Some(None)),
            Ok(Presented::Cookie(None))
        ));
        let r = Request::builder().body(()).unwrap();
        assert!(matches!(run(r, &s, None), Ok(Presented::None)));
    }

    #[test]
    fn refusals() {
        let s = HttpSettings {
            alias_header: Some(axum::http::HeaderName::from_static("x-alias")),
            ..HttpSettings::default()
        };
        // The same token two ways.
        let r = Request::builder()
            .header("authorization", "Bearer a")
            .header("x-alias", "Bearer a")
            .body(())
            .unwrap();
        assert_eq!(run(r, &s, None).unwrap_err().code, "invalid_request");
        // A bogus Authorization header never falls back to the cookie.
        let r = Request::builder()
            .header("authorization", "Token abc")
            .body(())
            .unwrap();
        assert_eq!(run(r, &s, Some(Some("t"))).unwrap_err().status, 401);
        for bad in ["Basic !!!", "Basic bm9jb2xvbg==", "Basic /w=="] {
            let r = Request::builder()
                .header("authorization", bad)
                .body(())
                .unwrap();
            assert_eq!(run(r, &s, None).unwrap_err().status, 401, "{bad}");
        }
        let r = Request::builder()
            .header("x-alias", "abc")
            .body(())
            .unwrap();
        assert_eq!(run(r, &s, None).unwrap_err().status, 401);
    }
}
