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

/// How a password login answers when the request asks for no format (`login.default_output`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LoginOutput {
    /// A login whose body is JSON gets the JSON answer, any other the plain token.
    #[default]
    Auto,
    /// The session token as `text/plain`.
    Plain,
    /// The JSON answer (`authtoken`, `sessionid`, `login`, ...).
    Json,
}

/// The session cookie's name and attributes (`[session]`).
#[derive(Debug, Clone)]
pub struct SessionCookie {
    /// `session.cookie_name`; also the associated data of the sealed value.
    pub name: String,
    /// `session.same_site`.
    pub same_site: SameSite,
    /// `session.cookie_domain`: the `Domain` attribute, none by default.
    pub domain: Option<String>,
    /// `session.cookie_path`: the `Path` attribute.
    pub path: String,
    /// `session.secure`: when the `Secure` attribute is set (also for the CSRF cookie).
    pub secure: Secure,
}

/// Names of the CSRF token's carriers and the origins trusted besides this one (`[csrf]`).
#[derive(Debug, Clone)]
pub struct Csrf {
    /// `csrf.cookie_name` (`csrftoken`).
    pub cookie_name: String,
    /// `csrf.header_name` (`X-CSRFToken`), on requests and responses.
    pub header_name: HeaderName,
    /// `csrf.form_field` (`csrfmiddlewaretoken`), read on the form endpoints.
    pub form_field: String,
    /// Origins (`https://app.example.com`) allowed besides this server's own.
    pub trusted_origins: Vec<String>,
}

/// Everything the HTTP edge, the gateway and `{base}/verify` need from the configuration.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    /// `""` or `/x[/y…]`.
    pub base_path: String,
    /// The listener itself speaks TLS.
    pub tls: bool,
    /// `server.trusted_proxies`: peers whose `X-Forwarded-*` and `X-Original-*` headers
    /// are believed.
    pub trusted_proxies: Vec<IpNet>,
    /// `server.allow_insecure_http`: accept credentials over plain HTTP from any client.
    pub allow_insecure_http: bool,
    /// Longest wait for a request body: all of it on Tessera's own endpoints, each chunk
    /// on proxied requests.
    pub body_read_timeout: Duration,
    /// The session cookie.
    pub session_cookie: SessionCookie,
    /// The CSRF cookie, header and form field.
    pub csrf: Csrf,
    /// `tokens.alias_header`: another header carrying `Bearer <token>`.
    pub alias_header: Option<HeaderName>,
    /// `tokens.url_param`: a URL parameter carrying a token (off when `None`).
    pub url_param: Option<String>,
    /// `login.allow_query_credentials`: accept `username`/`password` in the URL.
    pub allow_query_credentials: bool,
    /// `login.redirect_uris`: the exact URIs a login may redirect to with its token.
    pub redirect_uris: Vec<String>,
    /// `login.default_output`: the answer of a password login that asks for no format.
    pub login_default_output: LoginOutput,
    /// Access rules for the gateway and `{base}/verify`.
    pub rules: Arc<Rules>,
    /// Gateway mode, when `proxy.upstream` is set.
    pub proxy: Option<Proxy>,
    /// The web console under `{base}/ui/`; `None` when `ui.enabled` is off.
    pub ui: Option<Ui>,
    /// `[[identity_providers]]`: OpenID Connect providers users may sign in through.
    pub identity_providers: Vec<IdentityProvider>,
}

/// An OpenID Connect provider users may sign in through (`[[identity_providers]]`).
#[derive(Debug, Clone)]
pub struct IdentityProvider {
    /// `id`: in paths (`{base}/oidc/{id}/login`) and links.
    pub id: String,
    /// `name`: the sign-in button's label.
    pub name: String,
    /// `issuer`: the provider's issuer URL (discovery at
    /// `{issuer}/.well-known/openid-configuration`).
    pub issuer: String,
    /// `client_id`.
    pub client_id: String,
    /// The client secret (from `client_secret_file` or the environment).
    pub client_secret: ClientSecretValue,
    /// `scopes` (`openid profile email`).
    pub scopes: Vec<String>,
    /// `login_claim` (`preferred_username`; `email` when absent).
    pub login_claim: String,
    /// `roles_claim`: the claim holding the groups `role_map` maps, if any.
    pub roles_claim: Option<String>,
    /// `role_map`: claim value → Tessera roles.
    pub role_map: std::collections::BTreeMap<String, Vec<String>>,
    /// `create_users`: create a user for an unknown provider account.
    pub create_users: bool,
    /// `allowed_email_domains`: when not empty, only these e-mail domains may sign in.
    pub allowed_email_domains: Vec<String>,
}

/// A client secret, whose `Debug` never shows it.
#[derive(Clone)]
pub struct ClientSecretValue(pub String);

impl std::fmt::Debug for ClientSecretValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

/// The web console (`[ui]`).
#[derive(Debug, Clone)]
pub struct Ui {
    /// `ui.sudo_timeout`: how long an entered password lets the console create
    /// credentials, show or rotate the client secret and change the password.
    pub sudo_timeout: Duration,
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
            identity_providers: Vec::new(),
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
            login_default_output: LoginOutput::Auto,
            rules: Arc::new(Rules::default()),
            proxy: None,
            ui: Some(Ui {
                sudo_timeout: Duration::from_secs(600),
            }),
        }
    }
}
