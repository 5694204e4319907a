//! Configuration: one TOML file, overridden key by key by `TESSERA_<SECTION>__<KEY>`
//! environment variables. Every default lives in the `Default` impls below; reading the
//! file and the environment is in `env.rs`, the checks in `validate.rs`.

mod env;
mod settings;
#[cfg(test)]
mod tests;
mod validate;

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use self::env::{deserialize, overlay_env, parse_toml};
pub use self::settings::Settings;
pub use tessera_http::settings::{LoginOutput, SameSite, Secure};

/// A configuration problem, as one line that names the key.
#[derive(Debug)]
pub struct ConfigError(pub String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

fn err<T>(msg: impl Into<String>) -> Result<T, ConfigError> {
    Err(ConfigError(msg.into()))
}

/// The whole configuration file, one field per section. A missing section or key takes
/// its default; an unknown one is an error.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// `[server]`: listening, paths, TLS, proxies and connection limits.
    pub server: ServerConfig,
    /// `[database]`: which database and how to connect to it.
    pub database: DatabaseConfig,
    /// `[session]`: the session cookie and password-session timeouts.
    pub session: SessionConfig,
    /// `[csrf]`: the CSRF cookie, header and form field.
    pub csrf: CsrfConfig,
    /// `[tokens]`: where tokens are read from and credential lifetimes.
    pub tokens: TokensConfig,
    /// `[login]`: what `{base}/login` accepts and where it may redirect.
    pub login: LoginConfig,
    /// `[password]`: the password policy and Argon2id costs.
    pub password: PasswordConfig,
    /// `[proxy]`: gateway mode (forwarding allowed requests upstream).
    pub proxy: ProxyConfig,
    /// `[throttle]`: brute-force throttling.
    pub throttle: ThrottleConfig,
    /// `[ui]`: the web console.
    pub ui: UiConfig,
    /// `[accounts]`: how administrators bring users in.
    pub accounts: AccountsConfig,
    /// `[log]`: the server's log lines.
    pub log: LogConfig,
    /// `[metrics]`: Prometheus metrics on a listener of their own.
    pub metrics: MetricsConfig,
    /// `[[rules]]` (default: none): the access rules, in order; the first matching rule
    /// decides and no matching rule is denied. File only (no environment override).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<RuleConfig>,
    /// `[[identity_providers]]` (default: none): OpenID Connect providers users may sign
    /// in through. File only (no environment override, but for the client secret).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub identity_providers: Vec<IdentityProviderConfig>,
    /// Client secrets of identity providers from `TESSERA_IDP_<ID>_CLIENT_SECRET`, by
    /// provider id; never shown.
    #[serde(skip)]
    pub idp_secrets: std::collections::BTreeMap<String, tessera_http::settings::ClientSecretValue>,
}

/// An OpenID Connect provider (`[[identity_providers]]`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentityProviderConfig {
    /// `id`: lower-case letters, digits and `-` (1 to 32), unique; in paths.
    pub id: String,
    /// `name`: the sign-in button's label.
    pub name: String,
    /// `issuer`: `https://...` (or `http://` on a loopback address); discovery reads
    /// `{issuer}/.well-known/openid-configuration`.
    pub issuer: String,
    /// `client_id`: Tessera's client id at the provider.
    pub client_id: String,
    /// `client_secret_file`: a file holding the client secret (or set
    /// `TESSERA_IDP_<ID>_CLIENT_SECRET`, the id in upper case with `-` as `_`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret_file: Option<PathBuf>,
    /// `scopes` (default `["openid", "profile", "email"]`).
    #[serde(default = "default_scopes")]
    pub scopes: Vec<String>,
    /// `login_claim` (default `preferred_username`, falling back to `email`): the login a
    /// new user gets.
    #[serde(default = "default_login_claim")]
    pub login_claim: String,
    /// `roles_claim`: the claim (a string or a list of strings) `role_map` reads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roles_claim: Option<String>,
    /// `role_map`: claim value → Tessera roles, re-applied at every sign-in.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub role_map: std::collections::BTreeMap<String, Vec<String>>,
    /// `create_users` (default `true`): create a user for an unknown provider account.
    #[serde(default = "yes")]
    pub create_users: bool,
    /// `allowed_email_domains` (default: any): only these e-mail domains may sign in.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_email_domains: Vec<String>,
}

fn default_scopes() -> Vec<String> {
    ["openid", "profile", "email"].map(str::to_owned).to_vec()
}

fn default_login_claim() -> String {
    "preferred_username".to_owned()
}

const fn yes() -> bool {
    true
}

impl IdentityProviderConfig {
    /// The variable that may hold this provider's client secret.
    pub fn secret_variable(&self) -> String {
        format!(
            "TESSERA_IDP_{}_CLIENT_SECRET",
            self.id.to_ascii_uppercase().replace('-', "_")
        )
    }
}

/// Brute-force throttling of logins, key exchanges and client authentication
/// (`[throttle]`). The window and delays apply to both the account and the address limit.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ThrottleConfig {
    /// `throttle.enabled` (default `true`): count failed logins in the store and lock out
    /// guessing.
    pub enabled: bool,
    /// `throttle.account_max_failures` (default `10`, at least 1): counted attempts per
    /// account (or API key) within `window` before it is locked.
    pub account_max_failures: u32,
    /// `throttle.ip_max_failures` (default `100`, at least 1): failed attempts per client
    /// address within `window` before it is locked.
    pub ip_max_failures: u32,
    /// `throttle.window` (default `15m`): how long failures are remembered.
    pub window: ConfigDuration,
    /// `throttle.base_delay` (default `1m`): the first lock; doubles with each further
    /// failure, up to `max_lockout`.
    pub base_delay: ConfigDuration,
    /// `throttle.max_lockout` (default `15m`, not shorter than `base_delay`): the longest
    /// lock.
    pub max_lockout: ConfigDuration,
}

impl Default for ThrottleConfig {
    fn default() -> Self {
        let d = tessera_core::ThrottleSettings::default();
        Self {
            enabled: d.enabled,
            account_max_failures: d.account.max_failures,
            ip_max_failures: d.ip.max_failures,
            window: ConfigDuration(d.account.window),
            base_delay: ConfigDuration(d.account.base_delay),
            max_lockout: ConfigDuration(d.account.max_lockout),
        }
    }
}

/// Listening, paths, TLS, proxies and connection limits (`[server]`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// `server.listen` (default `127.0.0.1:8080`): the address and port to listen on.
    pub listen: String,
    /// `server.base_path` (default `/api`): prefix of the auth endpoints; empty or
    /// `/x[/y…]`, no trailing `/`.
    pub base_path: String,
    /// `server.data_dir` (default `./tessera-data`): holds the database (default SQLite)
    /// and the generated key; created with mode 0700.
    pub data_dir: PathBuf,
    /// `server.secret_key_file` (default `{data_dir}/secret.key`): the server key,
    /// generated there on first start. A configured file must exist and must not be
    /// readable by group or others.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret_key_file: Option<PathBuf>,
    /// `server.tls_cert` (default unset): PEM certificate chain for native TLS; set
    /// together with `tls_key`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_cert: Option<PathBuf>,
    /// `server.tls_key` (default unset): PEM private key for native TLS; set together
    /// with `tls_cert`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_key: Option<PathBuf>,
    /// `server.trusted_proxies` (default `[]`): IPs or CIDR networks whose
    /// `X-Forwarded-*` headers are believed.
    pub trusted_proxies: Vec<String>,
    /// `server.allow_insecure_http` (default `false`): accept credentials over plain HTTP
    /// from non-loopback clients.
    pub allow_insecure_http: bool,
    /// `server.header_read_timeout` (default `10s`): longest wait for a TLS handshake, an
    /// HTTP/2 preface or a complete HTTP/1 request head; also how long a kept-alive
    /// connection may stay idle.
    pub header_read_timeout: ConfigDuration,
    /// `server.body_read_timeout` (default `30s`): longest wait for a request body: all
    /// of it on Tessera's own endpoints, each chunk on proxied requests (408 after).
    pub body_read_timeout: ConfigDuration,
    /// `server.max_connections` (default `10000`, 1 to 1000000): connections served at
    /// once; more wait in the kernel's queue (lowered, with a warning, to what the
    /// open-files limit allows).
    pub max_connections: usize,
    /// `server.max_header_bytes` (default `65536`, 4096 to 1048576): largest request head
    /// (request line and headers), in bytes; larger is 431.
    pub max_header_bytes: usize,
    /// `server.rules_case_sensitive` (default `false`): match `[[rules]]` paths with
    /// letter case significant.
    pub rules_case_sensitive: bool,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            base_path: "/api".into(),
            data_dir: PathBuf::from("./tessera-data"),
            secret_key_file: None,
            tls_cert: None,
            tls_key: None,
            trusted_proxies: Vec::new(),
            allow_insecure_http: false,
            header_read_timeout: ConfigDuration::secs(10),
            body_read_timeout: ConfigDuration::secs(30),
            max_connections: 10_000,
            max_header_bytes: 64 * 1024,
            rules_case_sensitive: false,
        }
    }
}

/// Which database and how to connect to it (`[database]`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseConfig {
    /// `database.url` (default `sqlite://{data_dir}/tessera.db`): `sqlite://PATH` or
    /// `postgres://USER:PASSWORD@HOST:PORT/DB`; unset means the default (see
    /// [`Config::database_url`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// `database.max_connections` (default `16`, at least 1): PostgreSQL pool size
    /// (SQLite: one writer plus two readers per core).
    pub max_connections: u32,
    /// `database.connect_timeout` (default `5s`): how long to wait for the database.
    pub connect_timeout: ConfigDuration,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            url: None,
            max_connections: 16,
            connect_timeout: ConfigDuration::secs(5),
        }
    }
}

/// The session cookie and password-session timeouts (`[session]`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SessionConfig {
    /// `session.cookie_name` (default `sessionid`): the session cookie's name.
    pub cookie_name: String,
    /// `session.idle_timeout` (default `30m`): password session idle timeout (at most
    /// `absolute_timeout`).
    pub idle_timeout: ConfigDuration,
    /// `session.absolute_timeout` (default `12h`): password session absolute lifetime.
    pub absolute_timeout: ConfigDuration,
    /// `session.same_site` (default `lax`): `lax`, `strict` or `none`.
    pub same_site: SameSite,
    /// `session.cookie_domain` (default unset): `Domain` attribute of the session cookie.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cookie_domain: Option<String>,
    /// `session.cookie_path` (default `/`): `Path` attribute of the session cookie.
    pub cookie_path: String,
    /// `session.secure` (default `auto`): `auto` (Secure over HTTPS), `always` or `never`.
    pub secure: Secure,
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self {
            cookie_name: "sessionid".into(),
            idle_timeout: ConfigDuration::secs(30 * 60),
            absolute_timeout: ConfigDuration::secs(12 * 3600),
            same_site: SameSite::Lax,
            cookie_domain: None,
            cookie_path: "/".into(),
            secure: Secure::Auto,
        }
    }
}

/// The CSRF cookie, header and form field (`[csrf]`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CsrfConfig {
    /// `csrf.cookie_name` (default `csrftoken`): the CSRF cookie's name (must differ from
    /// `session.cookie_name`).
    pub cookie_name: String,
    /// `csrf.header_name` (default `X-CSRFToken`): the CSRF request/response header.
    pub header_name: String,
    /// `csrf.form_field` (default `csrfmiddlewaretoken`): the CSRF form field.
    pub form_field: String,
    /// `csrf.trusted_origins` (default `[]`): extra origins allowed on unsafe requests,
    /// such as `https://app.example.com`.
    pub trusted_origins: Vec<String>,
}

impl Default for CsrfConfig {
    fn default() -> Self {
        Self {
            cookie_name: "csrftoken".into(),
            header_name: "X-CSRFToken".into(),
            form_field: "csrfmiddlewaretoken".into(),
            trusted_origins: Vec::new(),
        }
    }
}

/// Where tokens are read from and how long credentials live (`[tokens]`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TokensConfig {
    /// `tokens.alias_header` (default unset): an extra header carrying `Bearer <token>`,
    /// such as `X-Simplicite-Authorization`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alias_header: Option<String>,
    /// `tokens.url_param` (default unset, meaning off): a URL parameter carrying a token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url_param: Option<String>,
    /// `tokens.api_key_session_lifetime` (default `30m`): lifetime of API-key session
    /// tokens.
    pub api_key_session_lifetime: ConfigDuration,
    /// `tokens.pat_default_lifetime` (default `24h`, at most `pat_max_lifetime`): the
    /// default personal access token lifetime.
    pub pat_default_lifetime: ConfigDuration,
    /// `tokens.pat_max_lifetime` (default `365d`): the longest personal access token
    /// lifetime.
    pub pat_max_lifetime: ConfigDuration,
    /// `tokens.client_secret_lifetime` (default `90d`): the client secret lifetime.
    pub client_secret_lifetime: ConfigDuration,
    /// `tokens.access_token_default_lifetime` (default `1h`, 60s to 365d): the OAuth2
    /// access token default lifetime.
    pub access_token_default_lifetime: ConfigDuration,
}

impl Default for TokensConfig {
    fn default() -> Self {
        Self {
            alias_header: None,
            url_param: None,
            api_key_session_lifetime: ConfigDuration::secs(30 * 60),
            pat_default_lifetime: ConfigDuration::secs(24 * 3600),
            pat_max_lifetime: ConfigDuration::secs(365 * 86_400),
            client_secret_lifetime: ConfigDuration::secs(90 * 86_400),
            access_token_default_lifetime: ConfigDuration::secs(3600),
        }
    }
}

/// What `{base}/login` accepts and where it may redirect (`[login]`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LoginConfig {
    /// `login.allow_query_credentials` (default `false`): accept `username`/`password`
    /// URL parameters on `GET {base}/login`.
    pub allow_query_credentials: bool,
    /// `login.redirect_uris` (default `[]`): the exact URIs a login may redirect to with
    /// `access_token`.
    pub redirect_uris: Vec<String>,
    /// `login.default_output` (default `auto`): how a password login that asks for no
    /// format answers: `auto` (JSON for a JSON body, the plain token otherwise), `plain`
    /// or `json`. Output parameters and `Accept` still win.
    pub default_output: LoginOutput,
}

/// The web console under `{base}/ui/` (`[ui]`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UiConfig {
    /// `ui.enabled` (default `true`): serve the console; off, its paths are 404.
    pub enabled: bool,
    /// `ui.sudo_timeout` (default `10m`, 1s to 1d): how long after the password
    /// was last entered in the console it may create credentials, reveal or rotate the
    /// client secret and change the password without asking for it again.
    pub sudo_timeout: ConfigDuration,
}

impl Default for UiConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            sudo_timeout: ConfigDuration::secs(600),
        }
    }
}

/// Prometheus metrics (`[metrics]`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsConfig {
    /// `metrics.listen` (default `127.0.0.1:9464`; empty turns metrics off): the address
    /// of the listener serving `GET /metrics`, never the main one.
    pub listen: String,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:9464".to_owned(),
        }
    }
}

impl MetricsConfig {
    /// The metrics address, or `None` when metrics are off.
    pub fn address(&self) -> Option<std::net::SocketAddr> {
        self.listen.parse().ok()
    }
}

/// The server's log lines on stderr (`[log]`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// `log.format` (default `text`): `text` (human-readable) or `json` (one object per
    /// line). `--log-format` overrides it.
    pub format: LogFormat,
    /// `log.level` (default `info`): `error`, `warn`, `info`, `debug` or `trace`, or
    /// directives such as `info,tessera_store=debug`. `RUST_LOG` overrides it.
    pub level: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            format: LogFormat::Text,
            level: "info".to_owned(),
        }
    }
}

/// `log.format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// How administrators bring users in (`[accounts]`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AccountsConfig {
    /// `accounts.invitation_lifetime` (default `24h`, 5m to 30d): how long a
    /// set-password link (an invitation or a reset link) works.
    pub invitation_lifetime: ConfigDuration,
}

impl Default for AccountsConfig {
    fn default() -> Self {
        Self {
            invitation_lifetime: ConfigDuration::secs(86_400),
        }
    }
}

/// The password policy and the Argon2id costs of new hashes (`[password]`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PasswordConfig {
    /// `password.min_length` (default `12`, 8 to 1024): the shortest new password, in
    /// characters.
    pub min_length: usize,
    /// `password.hash_memory_kib` (default `19456`): Argon2id memory cost in KiB.
    pub hash_memory_kib: u32,
    /// `password.hash_iterations` (default `2`): Argon2id passes.
    pub hash_iterations: u32,
    /// `password.hash_parallelism` (default `1`): Argon2id lanes.
    pub hash_parallelism: u32,
    /// `password.allow_weak_hashing` (default `false`): accept Argon2id costs below
    /// OWASP's minimum (m=19456 KiB with t=2, or m=12288/t=3, m=9216/t=4, m=7168/t=5,
    /// m=47104/t=1); otherwise such settings are a configuration error. For tests and
    /// constrained devices only.
    pub allow_weak_hashing: bool,
}

impl Default for PasswordConfig {
    fn default() -> Self {
        let p = tessera_core::PasswordParams::default();
        Self {
            min_length: tessera_core::PasswordPolicy::default().min_length,
            hash_memory_kib: p.memory_kib,
            hash_iterations: p.iterations,
            hash_parallelism: p.parallelism,
            allow_weak_hashing: false,
        }
    }
}

impl PasswordConfig {
    /// The Argon2id costs (`hash_memory_kib`, `hash_iterations`, `hash_parallelism`).
    pub fn params(&self) -> tessera_core::PasswordParams {
        tessera_core::PasswordParams {
            memory_kib: self.hash_memory_kib,
            iterations: self.hash_iterations,
            parallelism: self.hash_parallelism,
        }
    }

    /// The rules a new password must meet (`min_length`).
    pub fn policy(&self) -> tessera_core::PasswordPolicy {
        tessera_core::PasswordPolicy {
            min_length: self.min_length,
        }
    }
}

/// Gateway mode: forwarding allowed requests to an upstream (`[proxy]`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProxyConfig {
    /// `proxy.upstream` (default unset, meaning no gateway): `http://host:port` to forward
    /// allowed requests to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upstream: Option<String>,
    /// `proxy.timeout` (default `30s`): the upstream timeout.
    pub timeout: ConfigDuration,
    /// `proxy.forward_credentials` (default `false`): forward Tessera's own cookies and
    /// credentials upstream.
    pub forward_credentials: bool,
}

impl Default for ProxyConfig {
    fn default() -> Self {
        Self {
            upstream: None,
            timeout: ConfigDuration::secs(30),
            forward_credentials: false,
        }
    }
}

/// One `[[rules]]` entry (enforced by the gateway and `{base}/verify`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleConfig {
    /// `match` (required): the method(s) and a path glob, such as `GET,HEAD /orders/**`;
    /// `*` or no method at all means any method. In the glob `*` is one whole segment and
    /// `**` any number of segments, zero too.
    #[serde(rename = "match")]
    pub matches: String,
    /// `permissions` (default `[]`, meaning any authenticated user): the permissions a
    /// request must hold, every one of them.
    #[serde(default)]
    pub permissions: Vec<String>,
    /// `credentials` (default unset, meaning `["session", "token"]`): the credential kinds
    /// accepted, among `session`, `token`, `client_secret` and `basic`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials: Option<Vec<String>>,
    /// `public` (default `false`): requests pass without any credential; such a rule
    /// cannot require permissions.
    #[serde(default)]
    pub public: bool,
    /// `rate_limit` (default unset): requests per period allowed to each caller (the
    /// authenticated user, or the client address on a public rule), such as `600/1m`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<String>,
    /// `burst` (default: the whole `rate_limit`): how many of one caller's requests may
    /// come at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub burst: Option<u32>,
}

/// A duration written `90s`, `30m`, `24h`, `90d` (also `1h30m`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ConfigDuration(pub Duration);

impl ConfigDuration {
    /// A duration of `s` seconds.
    pub const fn secs(s: u64) -> Self {
        Self(Duration::from_secs(s))
    }

    /// Reads a duration as written in the configuration (`90s`, `30m`, `24h`, `90d`,
    /// `1h30m`; surrounding white space ignored). The error is a one-line message quoting
    /// `s`, to be prefixed with the key or option it came from.
    pub fn parse(s: &str) -> Result<Self, String> {
        tessera_core::time::parse_duration(s, false).map(Self)
    }
}

impl fmt::Display for ConfigDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.0.as_secs();
        let (n, unit) = match s {
            0 => (0, "s"),
            s if s % 86_400 == 0 => (s / 86_400, "d"),
            s if s % 3600 == 0 => (s / 3600, "h"),
            s if s % 60 == 0 => (s / 60, "m"),
            s => (s, "s"),
        };
        write!(f, "{n}{unit}")
    }
}

impl Serialize for ConfigDuration {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ConfigDuration {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// Where a configuration came from, for messages.
#[derive(Debug)]
pub struct Loaded {
    /// The validated configuration: file, then environment, then defaults.
    pub config: Config,
    /// The same, converted into typed settings (which is how it was validated).
    pub settings: Settings,
    /// The configuration file read, or `None` when there was none (defaults and
    /// environment only).
    pub file: Option<PathBuf>,
}

const ENV_PREFIX: &str = "TESSERA_";

impl Config {
    /// Reads `file` (if any), overlays the environment, and validates the result.
    pub fn load(file: Option<&Path>) -> Result<Loaded, ConfigError> {
        let vars: Vec<(String, String)> = std::env::vars().collect();
        Self::load_from(file, &vars)
    }

    /// [`Config::load`] with the environment given as `(name, value)` pairs; only
    /// `TESSERA_<SECTION>__<KEY>` variables are read. The error is one line naming the
    /// file, key or variable at fault.
    pub fn load_from(file: Option<&Path>, env: &[(String, String)]) -> Result<Loaded, ConfigError> {
        let mut table = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .or_else(|e| err(format!("cannot read config file {}: {e}", path.display())))?;
                parse_toml(&text).map_err(|e| ConfigError(format!("{}: {e}", path.display())))?
            }
            None => toml::Table::new(),
        };
        let overrides = overlay_env(&mut table, env)?;
        let mut config = deserialize(table, &overrides)?;
        for provider in &config.identity_providers {
            let variable = provider.secret_variable();
            if let Some((_, secret)) = env.iter().find(|(k, _)| *k == variable) {
                config.idp_secrets.insert(
                    provider.id.clone(),
                    tessera_http::settings::ClientSecretValue(secret.clone()),
                );
            }
        }
        // Validating is converting: a configuration is valid when it makes settings.
        let settings = Settings::try_from(&config)?;
        Ok(Loaded {
            config,
            settings,
            file: file.map(Path::to_path_buf),
        })
    }

    /// The SQLite URL used when `database.url` is unset.
    pub fn database_url(&self) -> String {
        match &self.database.url {
            Some(url) => url.clone(),
            None => format!(
                "sqlite://{}",
                self.server.data_dir.join("tessera.db").display()
            ),
        }
    }

    /// The effective configuration as TOML, with secrets replaced by `***`.
    pub fn to_redacted_toml(&self) -> String {
        let mut shown = self.clone();
        shown.database.url = Some(tessera_store::redact_url(&self.database_url()));
        toml::to_string(&shown).unwrap_or_else(|e| format!("# cannot render: {e}\n"))
    }
}
