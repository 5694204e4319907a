//! RFC 9457 problem details: the body of every error response, with a stable `code`.
//! Nothing internal (causes, SQL, paths) ever goes into one; causes go to the log.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use tessera_core::AuthFailure;

/// The realm of every `WWW-Authenticate` challenge.
pub const REALM: &str = "tessera";

/// An error answer: an `application/problem+json` body (RFC 9457) with a stable `code`, and
/// the headers that go with it (`WWW-Authenticate`, `Retry-After`).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(
    title = "Problem",
    description = "An error (RFC 9457 problem details). `code` is stable and meant for programs: \
`invalid_request`, `validation_failed`, `unsupported_media_type`, `payload_too_large`, \
`request_timeout`, `https_required`, `redirect_uri_not_allowed`, `unauthenticated`, \
`invalid_credentials`, `invalid_token`, `session_expired`, `csrf_failed`, `forbidden`, \
`insufficient_scope`, `password_session_required`, `invalid_scope`, `not_found`, \
`method_not_allowed`, `conflict`, `too_many_attempts`, `rate_limited`, `internal_error`, `bad_gateway`, \
`gateway_timeout`, `service_unavailable`."
)]
pub struct Problem {
    /// The response's HTTP status.
    #[serde(skip)]
    pub status: StatusCode,
    /// The same status as a number: the body's `status` member.
    #[serde(rename = "status")]
    pub status_code: u16,
    /// A short summary of the status (`Unauthorized`, `Bad Request`, ...).
    pub title: &'static str,
    /// The stable, machine-readable kind of problem (`invalid_credentials`, `csrf_failed`,
    /// ...).
    pub code: &'static str,
    /// What went wrong this time, for people; never an internal cause.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The permission that was missing (403 `forbidden` / `insufficient_scope`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub required: Option<Box<str>>,
    /// The `WWW-Authenticate` header value, if the answer carries one (401s, and 403
    /// `insufficient_scope`).
    #[serde(skip)]
    pub www_authenticate: Option<Box<str>>,
    /// Also expire the session cookie (it named a session that no longer works).
    #[serde(skip)]
    pub clear_session_cookie: bool,
    /// Seconds for `Retry-After` (429).
    #[serde(skip)]
    pub retry_after: Option<u64>,
    /// The rate-limit headers of a 429 `rate_limited`.
    #[serde(skip)]
    pub rate_limit: Option<Box<crate::ratelimit::RateHeaders>>,
}

/// How the failed credential was presented, which decides the `WWW-Authenticate` challenge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Challenge {
    /// No credential, or a cookie: `Bearer realm="tessera"`.
    Plain,
    /// A bearer token was presented: RFC 6750 with `error=`.
    Bearer,
    /// HTTP Basic was presented.
    Basic,
}

impl Problem {
    /// A problem with this status, code and title, and nothing else.
    pub fn new(status: StatusCode, code: &'static str, title: &'static str) -> Self {
        Self {
            status,
            status_code: status.as_u16(),
            title,
            code,
            detail: None,
            required: None,
            www_authenticate: None,
            clear_session_cookie: false,
            retry_after: None,
            rate_limit: None,
        }
    }

    /// Sets the detail shown to the client.
    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    /// 404 `not_found`.
    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", "Not Found")
            .with_detail("there is nothing at this path")
    }

    /// 405 `method_not_allowed`: the path exists, but not with this method.
    pub fn method_not_allowed() -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "Method Not Allowed",
        )
        .with_detail("this path does not answer this method")
    }

    /// The database cannot answer: fail closed.
    pub fn service_unavailable() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "service_unavailable",
            "Service Unavailable",
        )
        .with_detail("the authentication database is unavailable; try again shortly")
    }

    /// 500 `internal_error`, without detail: the cause belongs in the log.
    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "Internal Server Error",
        )
    }

    /// 400 `invalid_request`: the request itself is malformed (its headers, path or query).
    pub fn invalid_request(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", "Bad Request").with_detail(detail)
    }

    /// 400 `validation_failed`: the request is well formed, but a value in it is refused.
    pub fn validation_failed(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "validation_failed", "Bad Request").with_detail(detail)
    }

    /// 415 `unsupported_media_type`: a body in a form this endpoint does not read.
    pub fn unsupported_media_type(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "Unsupported Media Type",
        )
        .with_detail(detail)
    }

    /// 413 `payload_too_large`: a body larger than this endpoint accepts.
    pub fn payload_too_large() -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "Payload Too Large",
        )
        .with_detail("the request body is larger than this endpoint accepts")
    }

    /// The client took longer than `server.body_read_timeout` to send the body.
    pub fn request_timeout() -> Self {
        Self::new(
            StatusCode::REQUEST_TIMEOUT,
            "request_timeout",
            "Request Timeout",
        )
        .with_detail("the request body did not arrive in time")
    }

    /// Managing sessions and credentials, and reading the audit log, need a password
    /// login: a token's holder may not widen or watch what the password holder owns.
    pub fn password_session_required() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "password_session_required",
            "Forbidden",
        )
        .with_detail("this needs a password login (session cookie or session token)")
    }

    /// 400 `https_required`: credentials sent over plain HTTP where only HTTPS is allowed.
    pub fn https_required() -> Self {
        Self::new(StatusCode::BAD_REQUEST, "https_required", "HTTPS Required")
            .with_detail("credentials are accepted only over HTTPS")
    }

    /// 400 `redirect_uri_not_allowed`: a `redirect_uri` that is not among
    /// `login.redirect_uris`.
    pub fn redirect_uri_not_allowed() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "redirect_uri_not_allowed",
            "Bad Request",
        )
        .with_detail("redirect_uri is not one of the configured login.redirect_uris")
    }

    /// 403 `csrf_failed`: the CSRF or origin check refused the request; the detail says
    /// why.
    pub fn csrf_failed(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "csrf_failed", "Forbidden").with_detail(detail)
    }

    /// 401 for a login that failed: identical for unknown user, wrong password, disabled.
    pub fn invalid_credentials(challenge: Challenge) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "invalid_credentials",
            "Unauthorized",
        )
        .with_detail("the login or password is incorrect")
        .challenge(challenge, None)
    }

    /// 429 after too many failed attempts; the same for existing and unknown accounts.
    pub fn too_many_attempts(retry_after: u64) -> Self {
        let mut p = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_attempts",
            "Too Many Requests",
        )
        .with_detail("too many failed attempts; try again later");
        p.retry_after = Some(retry_after);
        p
    }

    /// 401 when no credential was presented.
    pub fn unauthenticated() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthenticated", "Unauthorized")
            .with_detail("this endpoint needs a credential")
            .challenge(Challenge::Plain, None)
    }

    /// 401 for a credential kind that this endpoint does not accept.
    pub fn credential_not_accepted(challenge: Challenge) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "invalid_credentials",
            "Unauthorized",
        )
        .with_detail("this kind of credential is not accepted here")
        .challenge(challenge, Some("invalid_token"))
    }

    /// Maps a failed verification of a token or session cookie.
    pub fn from_auth_failure(f: &AuthFailure, challenge: Challenge) -> Self {
        let cookie = challenge == Challenge::Plain;
        let mut p = match f {
            AuthFailure::Invalid => {
                Self::new(StatusCode::UNAUTHORIZED, "invalid_token", "Unauthorized")
                    .with_detail("the credential is invalid, revoked, or its user is disabled")
                    .challenge(challenge, Some("invalid_token"))
            }
            AuthFailure::Expired => {
                Self::new(StatusCode::UNAUTHORIZED, "session_expired", "Unauthorized")
                    .with_detail("the session has expired; log in again")
                    .challenge(challenge, Some("invalid_token"))
            }
            AuthFailure::Unavailable(e) => {
                tracing::error!(error = %e, "credential check failed: database unavailable");
                return Self::service_unavailable();
            }
            AuthFailure::Throttled(r) => return Self::too_many_attempts(*r),
        };
        p.clear_session_cookie = cookie;
        p
    }

    /// 403 for a missing permission, naming it.
    pub fn forbidden(required: &str, bearer: bool) -> Self {
        let mut p = Self::new(StatusCode::FORBIDDEN, "forbidden", "Forbidden")
            .with_detail(format!("this needs the permission `{required}`"));
        p.required = Some(required.into());
        if bearer {
            p.code = "insufficient_scope";
            p.www_authenticate = Some(
                format!(
                    "Bearer realm=\"{REALM}\", error=\"insufficient_scope\", scope=\"{required}\""
                )
                .into(),
            );
        }
        p
    }

    fn challenge(mut self, challenge: Challenge, error: Option<&str>) -> Self {
        self.www_authenticate = Some(String::into(match (challenge, error) {
            (Challenge::Basic, _) => format!("Basic realm=\"{REALM}\", charset=\"UTF-8\""),
            (Challenge::Bearer, Some(e)) => format!("Bearer realm=\"{REALM}\", error=\"{e}\""),
            _ => format!("Bearer realm=\"{REALM}\""),
        }));
        self
    }
}

impl From<tessera_core::Error> for Problem {
    fn from(e: tessera_core::Error) -> Self {
        use tessera_core::{Error, StoreError};
        match e {
            Error::Store(StoreError::Unavailable(cause)) => {
                tracing::error!(error = %cause, "database unavailable");
                Self::service_unavailable()
            }
            Error::Store(StoreError::Conflict(what)) => {
                Self::new(StatusCode::CONFLICT, "conflict", "Conflict")
                    .with_detail(format!("{what} already exists"))
            }
            Error::NotHeld(permission) => {
                let mut p = Self::new(StatusCode::FORBIDDEN, "forbidden", "Forbidden")
                    .with_detail(format!("this needs `{permission}`, which you do not hold"));
                p.required = Some(permission.into());
                p
            }
            Error::LastAdministrator => Self::new(StatusCode::CONFLICT, "conflict", "Conflict")
                .with_detail("the last enabled administrator cannot be disabled, deleted or lose the admin role"),
            Error::Conflict(why) => {
                Self::new(StatusCode::CONFLICT, "conflict", "Conflict").with_detail(why)
            }
            Error::UnknownUser(_) => Self::not_found().with_detail("no such user"),
            Error::ScopeNotHeld(scope) => {
                let mut p = Self::new(StatusCode::BAD_REQUEST, "invalid_scope", "Bad Request")
                    .with_detail(format!("scope `{scope}` is not among your permissions"));
                p.required = Some(scope.into());
                p
            }
            Error::Busy(why) => {
                tracing::warn!(reason = why, "busy");
                let mut p = Self::service_unavailable()
                    .with_detail("too many logins in progress; retry shortly");
                p.retry_after = Some(1);
                p
            }
            Error::Internal(cause) => {
                tracing::error!(error = %cause, "internal error");
                Self::internal()
            }
            other => Self::validation_failed(other.to_string()),
        }
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let body = serde_json::to_vec(&self).unwrap_or_default();
        let mut res = (self.status, body).into_response();
        let h = res.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if let Some(v) = self
            .www_authenticate
            .as_deref()
            .and_then(|v| HeaderValue::from_str(v).ok())
        {
            h.insert(header::WWW_AUTHENTICATE, v);
        }
        if let Some(r) = self.retry_after {
            h.insert(header::RETRY_AFTER, HeaderValue::from(r));
        }
        if let Some(rate) = &self.rate_limit {
            rate.apply(h);
        }
        if self.clear_session_cookie {
            res.extensions_mut()
                .insert(crate::cookies::ClearSessionCookie);
        }
        res
    }
}
