//! What the HTTP layer needs to know from the configuration.

use std::sync::Arc;
use std::time::Duration;

use axum::http::{HeaderName, Uri};
use tessera_core::Rules;

use crate::net::IpNet;

/// The `SameSite` attribute of the session cookie (`session.same_site`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SameSite {
    /// Sent on top-level navigations from other sites, not on their subrequests.
    Lax,
    /// Never sent on requests started by another site.
    Strict,
    /// Sent everywhere (needs `Secure`).
    None,
}

impl SameSite {
    /// The attribute's value as written in `Set-Cookie`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Lax => "Lax",
            Self::Strict => "Strict",
            Self::None => "None",
        }
    }
}

/// When cookies get the `Secure` attribute (`session.secure`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Secure {
    /// Over HTTPS (native TLS, or `X-Forwarded-Proto: https` from a trusted proxy).
    Auto,
    /// Always (the site is served over HTTPS by something Tessera cannot see).
    Always,
    /// Never (local development over plain HTTP).
    Never,
}

#[derive(Debug, Clone)]
pub struct SessionCookie {
    pub name: String,
    pub same_site: SameSite,
    pub domain: Option<String>,
    pub path: String,
    pub secure: Secure,
}

#[derive(Debug, Clone)]
pub struct Csrf {
    pub cookie_name: String,
    pub header_name: HeaderName,
    pub form_field: String,
    /// Origins (`https://app.example.com`) allowed besides this server's own.
    pub trusted_origins: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct HttpSettings {
    /// `""` or `/x[/y…]`.
    pub base_path: String,
    /// The listener itself speaks TLS.
    pub tls: bool,
    pub trusted_proxies: Vec<IpNet>,
    pub allow_insecure_http: bool,
    /// Longest wait for a request body: all of it on Tessera's own endpoints, each chunk
    /// on proxied requests.
    pub body_read_timeout: Duration,
    pub session_cookie: SessionCookie,
    pub csrf: Csrf,
    pub alias_header: Option<HeaderName>,
    pub url_param: Option<String>,
    pub allow_query_credentials: bool,
    pub redirect_uris: Vec<String>,
    /// Access rules for the gateway and `{base}/verify`.
    pub rules: Arc<Rules>,
    pub proxy: Option<Proxy>,
}

/// Gateway mode: where allowed requests go.
#[derive(Debug, Clone)]
pub struct Proxy {
    /// `http://host:port` (a path prefix is kept).
    pub upstream: Uri,
    /// Longest wait for the upstream's response headers.
    pub timeout: Duration,
    /// Forward Tessera's own cookies and credentials to the upstream.
    pub forward_credentials: bool,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            base_path: "/api".into(),
            tls: false,
            trusted_proxies: Vec::new(),
            allow_insecure_http: false,
            body_read_timeout: Duration::from_secs(30),
            session_cookie: SessionCookie {
                name: "sessionid".into(),
                same_site: SameSite::Lax,
                domain: None,
                path: "/".into(),
                secure: Secure::Auto,
            },
            csrf: Csrf {
                cookie_name: "csrftoken".into(),
                header_name: HeaderName::from_static("x-csrftoken"),
                form_field: "csrfmiddlewaretoken".into(),
                trusted_origins: Vec::new(),
            },
            alias_header: None,
            url_param: None,
            allow_query_credentials: false,
            redirect_uris: Vec::new(),
            rules: Arc::new(Rules::default()),
            proxy: None,
        }
    }
}
