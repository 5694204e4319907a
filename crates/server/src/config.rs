//! Configuration: one TOML file, overridden key by key by `TESSERA_<SECTION>__<KEY>`
//! environment variables. Every default lives in the `Default` impls below.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
pub use tessera_http::settings::{SameSite, Secure};

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

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub server: ServerConfig,
    pub database: DatabaseConfig,
    pub session: SessionConfig,
    pub csrf: CsrfConfig,
    pub tokens: TokensConfig,
    pub login: LoginConfig,
    pub password: PasswordConfig,
    pub proxy: ProxyConfig,
    pub throttle: ThrottleConfig,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<RuleConfig>,
}

/// Brute-force throttling of logins, key exchanges and client authentication.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ThrottleConfig {
    pub enabled: bool,
    /// Counted attempts per account (or API key) within `window` before it is locked.
    pub account_max_failures: u32,
    /// Counted attempts per client address within `window` before it is locked.
    pub ip_max_failures: u32,
    pub window: ConfigDuration,
    /// First lock; doubles with each further failure, up to `max_lockout`.
    pub base_delay: ConfigDuration,
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

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    pub listen: String,
    pub base_path: String,
    pub data_dir: PathBuf,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret_key_file: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_cert: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_key: Option<PathBuf>,
    pub trusted_proxies: Vec<String>,
    pub allow_insecure_http: bool,
    /// Longest wait for a complete request head (also the idle keep-alive timeout).
    pub header_read_timeout: ConfigDuration,
    /// Longest wait for a request body (Tessera's own endpoints: the whole body; proxied
    /// requests: each chunk).
    pub body_read_timeout: ConfigDuration,
    /// Connections served at once; further ones wait until one closes.
    pub max_connections: usize,
    /// Largest request head (request line and headers), in bytes; larger is 431.
    pub max_header_bytes: usize,
    /// Match `[[rules]]` paths with letter case significant (default: ignored).
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

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseConfig {
    /// `sqlite://PATH` or `postgres://...`; unset means `sqlite://{data_dir}/tessera.db`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    pub max_connections: u32,
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

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SessionConfig {
    pub cookie_name: String,
    pub idle_timeout: ConfigDuration,
    pub absolute_timeout: ConfigDuration,
    pub same_site: SameSite,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cookie_domain: Option<String>,
    pub cookie_path: String,
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

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CsrfConfig {
    pub cookie_name: String,
    pub header_name: String,
    pub form_field: String,
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

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TokensConfig {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alias_header: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url_param: Option<String>,
    pub api_key_session_lifetime: ConfigDuration,
    pub pat_default_lifetime: ConfigDuration,
    pub pat_max_lifetime: ConfigDuration,
    pub client_secret_lifetime: ConfigDuration,
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

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LoginConfig {
    pub allow_query_credentials: bool,
    pub redirect_uris: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PasswordConfig {
    pub min_length: usize,
    /// Argon2id memory cost in KiB.
    pub hash_memory_kib: u32,
    /// Argon2id passes.
    pub hash_iterations: u32,
    /// Argon2id lanes.
    pub hash_parallelism: u32,
    /// Accept Argon2id costs below OWASP's minimum (tests and constrained devices only).
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
    pub fn params(&self) -> tessera_core::PasswordParams {
        tessera_core::PasswordParams {
            memory_kib: self.hash_memory_kib,
            iterations: self.hash_iterations,
            parallelism: self.hash_parallelism,
        }
    }

    pub fn policy(&self) -> tessera_core::PasswordPolicy {
        tessera_core::PasswordPolicy {
            min_length: self.min_length,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProxyConfig {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upstream: Option<String>,
    pub timeout: ConfigDuration,
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
    #[serde(rename = "match")]
    pub matches: String,
    #[serde(default)]
    pub permissions: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials: Option<Vec<String>>,
    #[serde(default)]
    pub public: bool,
}

/// A duration written `90s`, `30m`, `24h`, `90d` (also `1h30m`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ConfigDuration(pub Duration);

impl ConfigDuration {
    pub const fn secs(s: u64) -> Self {
        Self(Duration::from_secs(s))
    }

    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if s.is_empty() || s.starts_with(|c: char| !c.is_ascii_digit()) {
            return Err(format!(
                "`{s}` is not a duration (write e.g. `90s`, `30m`, `24h`, `90d`)"
            ));
        }
        humantime::parse_duration(s)
            .map(Self)
            .map_err(|_| format!("`{s}` is not a duration (write e.g. `90s`, `30m`, `24h`, `90d`)"))
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

/// The configuration turned into what the program uses, once. Every conversion that can
/// fail fails here, naming the key, so nothing downstream re-checks or unwraps.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `server.listen`.
    pub listen: SocketAddr,
    /// What the HTTP edge, the gateway and `{base}/verify` need.
    pub http: tessera_http::HttpSettings,
    /// Password-session timeouts.
    pub session: tessera_core::SessionSettings,
    /// Lifetimes of the long-lived credentials.
    pub tokens: tessera_core::TokenSettings,
    /// Brute-force throttling.
    pub throttle: tessera_core::ThrottleSettings,
}

impl TryFrom<&Config> for Settings {
    type Error = ConfigError;

    fn try_from(config: &Config) -> Result<Self, ConfigError> {
        config.validate()?;
        let listen = config.server.listen.parse::<SocketAddr>().or_else(|_| {
            err(format!(
                "server.listen: `{}` is not an address and port such as `127.0.0.1:8080`",
                config.server.listen
            ))
        })?;
        Ok(Self {
            listen,
            http: config.http_settings()?,
            session: config.session_settings(),
            tokens: config.token_settings(),
            throttle: config.throttle_settings(),
        })
    }
}

/// Where a configuration came from, for messages.
pub struct Loaded {
    pub config: Config,
    pub file: Option<PathBuf>,
}

const ENV_PREFIX: &str = "TESSERA_";

impl Config {
    /// Reads `file` (if any), overlays the environment, and validates the result.
    pub fn load(file: Option<&Path>) -> Result<Loaded, ConfigError> {
        let vars: Vec<(String, String)> = std::env::vars().collect();
        Self::load_from(file, &vars)
    }

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
        let config = deserialize(table, &overrides)?;
        // Validating is converting: a configuration is valid when it makes settings.
        Settings::try_from(&config)?;
        Ok(Loaded {
            config,
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

    /// Checks what types alone cannot express. Each message names the key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let s = &self.server;
        let base = &s.base_path;
        if !base.is_empty()
            && (!base.starts_with('/')
                || base.ends_with('/')
                || base.contains("//")
                || base.contains(['?', '#', '\\', ' ']))
        {
            return err(format!(
                "server.base_path: `{base}` must be empty or a path such as `/api` (leading `/`, no trailing `/`)"
            ));
        }
        if s.tls_cert.is_some() != s.tls_key.is_some() {
            return err("server.tls_cert and server.tls_key must be set together");
        }
        check_positive("server.header_read_timeout", s.header_read_timeout)?;
        check_positive("server.body_read_timeout", s.body_read_timeout)?;
        if !(1..=1_000_000).contains(&s.max_connections) {
            return err("server.max_connections: must be between 1 and 1000000");
        }
        if !(4096..=1024 * 1024).contains(&s.max_header_bytes) {
            return err("server.max_header_bytes: must be between 4096 and 1048576");
        }
        for p in &s.trusted_proxies {
            tessera_http::IpNet::parse(p)
                .or_else(|e| err(format!("server.trusted_proxies: {e}")))?;
        }
        if let Some(url) = &self.database.url {
            let known = ["sqlite:", "postgres://", "postgresql://"];
            if !known.iter().any(|k| url.starts_with(k)) {
                return err("database.url: expected `sqlite://PATH` or `postgres://USER@HOST/DB`");
            }
        }
        if self.database.max_connections == 0 {
            return err("database.max_connections: must be at least 1");
        }
        let ss = &self.session;
        check_cookie_name("session.cookie_name", &ss.cookie_name)?;
        check_positive("session.idle_timeout", ss.idle_timeout)?;
        check_positive("session.absolute_timeout", ss.absolute_timeout)?;
        if ss.idle_timeout > ss.absolute_timeout {
            return err("session.idle_timeout: must not be longer than session.absolute_timeout");
        }
        if !ss.cookie_path.starts_with('/') {
            return err("session.cookie_path: must start with `/`");
        }
        if ss.same_site == SameSite::None && ss.secure == Secure::Never {
            return err(
                "session.same_site: `none` needs secure cookies (browsers drop them otherwise)",
            );
        }
        check_cookie_prefix("session.cookie_name", &ss.cookie_name, self)?;
        let c = &self.csrf;
        check_cookie_name("csrf.cookie_name", &c.cookie_name)?;
        check_cookie_prefix("csrf.cookie_name", &c.cookie_name, self)?;
        check_header_name("csrf.header_name", &c.header_name)?;
        if c.form_field.is_empty() {
            return err("csrf.form_field: must not be empty");
        }
        if c.cookie_name == ss.cookie_name {
            return err("csrf.cookie_name: must differ from session.cookie_name");
        }
        for o in &c.trusted_origins {
            check_origin(o)?;
        }
        let t = &self.tokens;
        if let Some(h) = &t.alias_header {
            check_header_name("tokens.alias_header", h)?;
        }
        if let Some(p) = &t.url_param
            && (p.is_empty()
                || !p
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'))
        {
            return err("tokens.url_param: use letters, digits, `_` and `-`");
        }
        for (key, d) in [
            (
                "tokens.api_key_session_lifetime",
                t.api_key_session_lifetime,
            ),
            ("tokens.pat_default_lifetime", t.pat_default_lifetime),
            ("tokens.pat_max_lifetime", t.pat_max_lifetime),
            ("tokens.client_secret_lifetime", t.client_secret_lifetime),
            (
                "tokens.access_token_default_lifetime",
                t.access_token_default_lifetime,
            ),
        ] {
            check_positive(key, d)?;
        }
        if t.pat_default_lifetime > t.pat_max_lifetime {
            return err("tokens.pat_default_lifetime: must not exceed tokens.pat_max_lifetime");
        }
        let at = t.access_token_default_lifetime.0;
        if !(tessera_core::auth::ACCESS_TOKEN_MIN..=tessera_core::auth::ACCESS_TOKEN_MAX)
            .contains(&at)
        {
            return err("tokens.access_token_default_lifetime: must be between 60s and 365d");
        }
        for uri in &self.login.redirect_uris {
            let ok = (uri.starts_with("https://") || uri.starts_with("http://"))
                && !uri.contains(['#', ' '])
                && uri
                    .split_once("://")
                    .is_some_and(|(_, rest)| !rest.is_empty());
            if !ok {
                return err(format!(
                    "login.redirect_uris: `{uri}` must be an absolute http(s) URL without a fragment"
                ));
            }
        }
        let p = &self.password;
        if !(8..=1024).contains(&p.min_length) {
            return err("password.min_length: must be between 8 and 1024");
        }
        tessera_core::PasswordHasher::validate_params(p.params())
            .or_else(|e| err(format!("password: {e}")))?;
        if !p.allow_weak_hashing && !meets_owasp_minimum(p.hash_memory_kib, p.hash_iterations) {
            return err(format!(
                "password.hash_memory_kib/hash_iterations: m={} KiB, t={} is below OWASP's minimum for Argon2id (m=19456 t=2, m=12288 t=3, m=9216 t=4, m=7168 t=5 or m=47104 t=1); set password.allow_weak_hashing = true to accept it",
                p.hash_memory_kib, p.hash_iterations
            ));
        }
        if let Some(u) = &self.proxy.upstream {
            let ok = u.starts_with("http://")
                && u.parse::<axum::http::Uri>()
                    .is_ok_and(|uri| uri.host().is_some() && uri.query().is_none());
            if !ok {
                return err(format!(
                    "proxy.upstream: `{u}` must be `http://host:port` (TLS to the upstream is not supported; run it on a private network or loopback)"
                ));
            }
        }
        check_positive("proxy.timeout", self.proxy.timeout)?;
        let t = &self.throttle;
        if t.account_max_failures == 0 || t.ip_max_failures == 0 {
            return err("throttle: account_max_failures and ip_max_failures must be at least 1");
        }
        check_positive("throttle.window", t.window)?;
        check_positive("throttle.base_delay", t.base_delay)?;
        if t.max_lockout < t.base_delay {
            return err("throttle.max_lockout: must not be shorter than throttle.base_delay");
        }
        self.compiled_rules()
            .map_err(|e| ConfigError(e.to_string()))?;
        Ok(())
    }

    pub fn compiled_rules(&self) -> Result<tessera_core::Rules, tessera_core::rules::RuleError> {
        let specs: Vec<tessera_core::RuleSpec> = self
            .rules
            .iter()
            .map(|r| tessera_core::RuleSpec {
                matches: r.matches.clone(),
                permissions: r.permissions.clone(),
                credentials: r.credentials.clone(),
                public: r.public,
            })
            .collect();
        if self.server.rules_case_sensitive {
            tessera_core::Rules::compile_case_sensitive(&specs)
        } else {
            tessera_core::Rules::compile(&specs)
        }
    }

    pub fn throttle_settings(&self) -> tessera_core::ThrottleSettings {
        let t = &self.throttle;
        let limit = |max| tessera_core::throttle::Limit {
            max_failures: max,
            window: t.window.0,
            base_delay: t.base_delay.0,
            max_lockout: t.max_lockout.0,
        };
        tessera_core::ThrottleSettings {
            enabled: t.enabled,
            account: limit(t.account_max_failures),
            ip: limit(t.ip_max_failures),
        }
    }

    pub fn session_settings(&self) -> tessera_core::SessionSettings {
        tessera_core::SessionSettings {
            idle_timeout: self.session.idle_timeout.0,
            absolute_timeout: self.session.absolute_timeout.0,
        }
    }

    pub fn token_settings(&self) -> tessera_core::TokenSettings {
        let t = &self.tokens;
        tessera_core::TokenSettings {
            api_key_session_lifetime: t.api_key_session_lifetime.0,
            pat_default_lifetime: t.pat_default_lifetime.0,
            pat_max_lifetime: t.pat_max_lifetime.0,
            client_secret_lifetime: t.client_secret_lifetime.0,
            access_token_default_lifetime: t.access_token_default_lifetime.0,
        }
    }

    /// What the HTTP layer needs, or the first key that cannot be converted.
    fn http_settings(&self) -> Result<tessera_http::HttpSettings, ConfigError> {
        use tessera_http::settings as h;
        let header = |key: &str, name: &str| {
            axum::http::HeaderName::from_bytes(name.to_ascii_lowercase().as_bytes())
                .or_else(|_| err(format!("{key}: `{name}` is not a valid header name")))
        };
        let upstream = match &self.proxy.upstream {
            Some(u) => Some(
                u.parse::<axum::http::Uri>()
                    .or_else(|_| err(format!("proxy.upstream: `{u}` is not a URL")))?,
            ),
            None => None,
        };
        let rules = self
            .compiled_rules()
            .map_err(|e| ConfigError(e.to_string()))?;
        let header_name = header("csrf.header_name", &self.csrf.header_name)?;
        let alias_header = match &self.tokens.alias_header {
            Some(a) => Some(header("tokens.alias_header", a)?),
            None => None,
        };
        Ok(h::HttpSettings {
            base_path: self.server.base_path.clone(),
            tls: self.server.tls_cert.is_some(),
            trusted_proxies: self
                .server
                .trusted_proxies
                .iter()
                .filter_map(|p| tessera_http::IpNet::parse(p).ok())
                .collect(),
            allow_insecure_http: self.server.allow_insecure_http,
            body_read_timeout: self.server.body_read_timeout.0,
            session_cookie: h::SessionCookie {
                name: self.session.cookie_name.clone(),
                same_site: self.session.same_site,
                domain: self.session.cookie_domain.clone(),
                path: self.session.cookie_path.clone(),
                secure: self.session.secure,
            },
            csrf: h::Csrf {
                cookie_name: self.csrf.cookie_name.clone(),
                header_name,
                form_field: self.csrf.form_field.clone(),
                trusted_origins: self.csrf.trusted_origins.clone(),
            },
            alias_header,
            url_param: self.tokens.url_param.clone(),
            allow_query_credentials: self.login.allow_query_credentials,
            redirect_uris: self.login.redirect_uris.clone(),
            rules: std::sync::Arc::new(rules),
            proxy: upstream.map(|upstream| h::Proxy {
                upstream,
                timeout: self.proxy.timeout.0,
                forward_credentials: self.proxy.forward_credentials,
            }),
        })
    }

    /// The effective configuration as TOML, with secrets replaced by `***`.
    pub fn to_redacted_toml(&self) -> String {
        let mut shown = self.clone();
        shown.database.url = Some(tessera_store::redact_url(&self.database_url()));
        toml::to_string(&shown).unwrap_or_else(|e| format!("# cannot render: {e}\n"))
    }
}

fn check_positive(key: &str, d: ConfigDuration) -> Result<(), ConfigError> {
    if d.0.is_zero() {
        return err(format!("{key}: must be longer than 0s"));
    }
    Ok(())
}

/// RFC 6265 cookie-name token characters.
fn check_cookie_name(key: &str, name: &str) -> Result<(), ConfigError> {
    let ok = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?={}".contains(&b));
    if !ok {
        return err(format!("{key}: `{name}` is not a valid cookie name"));
    }
    Ok(())
}

/// Browsers drop cookies whose `__Host-` or `__Secure-` prefix the attributes contradict
/// (RFC 6265bis §4.1.3): refuse such settings rather than lose every login silently.
/// The CSRF cookie is always written with `Path=/` and no `Domain`.
fn check_cookie_prefix(key: &str, name: &str, config: &Config) -> Result<(), ConfigError> {
    let session = key.starts_with("session.");
    let lower = name.to_ascii_lowercase();
    let never_secure = config.session.secure == Secure::Never;
    if lower.starts_with("__host-") {
        if never_secure {
            return err(format!(
                "{key}: a `__Host-` cookie must be Secure, but session.secure is `never`"
            ));
        }
        if session && config.session.cookie_domain.is_some() {
            return err(format!(
                "{key}: a `__Host-` cookie cannot have a Domain: unset session.cookie_domain"
            ));
        }
        if session && config.session.cookie_path != "/" {
            return err(format!(
                "{key}: a `__Host-` cookie needs Path=/: set session.cookie_path = \"/\""
            ));
        }
    } else if lower.starts_with("__secure-") && never_secure {
        return err(format!(
            "{key}: a `__Secure-` cookie must be Secure, but session.secure is `never`"
        ));
    }
    Ok(())
}

/// OWASP's Argon2id settings of equal strength: (memory KiB, iterations), any one of which
/// (or more of both) is enough.
fn meets_owasp_minimum(memory_kib: u32, iterations: u32) -> bool {
    const MINIMA: [(u32, u32); 5] = [
        (47_104, 1),
        (19_456, 2),
        (12_288, 3),
        (9_216, 4),
        (7_168, 5),
    ];
    MINIMA
        .iter()
        .any(|&(m, t)| memory_kib >= m && iterations >= t)
}

fn check_header_name(key: &str, name: &str) -> Result<(), ConfigError> {
    let ok = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
    if !ok {
        return err(format!("{key}: `{name}` is not a valid header name"));
    }
    Ok(())
}

fn check_origin(o: &str) -> Result<(), ConfigError> {
    let ok = o.split_once("://").is_some_and(|(scheme, host)| {
        (scheme == "https" || scheme == "http") && !host.is_empty() && !host.contains('/')
    });
    if !ok {
        return err(format!(
            "csrf.trusted_origins: `{o}` must be an origin such as `https://app.example.com`"
        ));
    }
    Ok(())
}

/// Parses TOML, reporting a syntax error as one line with its line number.
fn parse_toml(text: &str) -> Result<toml::Table, String> {
    text.parse::<toml::Table>().map_err(|e| {
        let line = e
            .span()
            .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1);
        let msg = e.message().trim().replace('\n', " ");
        match line {
            Some(l) => format!("line {l}: {msg}"),
            None => msg,
        }
    })
}

/// An environment override applied to the table: its dotted key and variable name.
struct Override {
    key: String,
    var: String,
    raw: String,
}

/// Applies `TESSERA_<SECTION>__<KEY>=value`. Values are read as TOML when they parse as
/// such (`true`, `12`, `["a", "b"]`) and as strings otherwise; [`deserialize`] retries
/// as a string (or comma-separated list) when the guess was wrong for the key.
fn overlay_env(
    table: &mut toml::Table,
    env: &[(String, String)],
) -> Result<Vec<Override>, ConfigError> {
    let mut applied = Vec::new();
    for (var, value) in env {
        let Some(rest) = var.strip_prefix(ENV_PREFIX) else {
            continue;
        };
        let Some((section, key)) = rest.split_once("__") else {
            continue;
        };
        let (section, key) = (section.to_ascii_lowercase(), key.to_ascii_lowercase());
        if section.is_empty() || key.is_empty() || key.contains("__") {
            return err(format!("{var}: expected TESSERA_<SECTION>__<KEY>"));
        }
        if section == "rules" {
            return err(format!(
                "{var}: [[rules]] can only be set in the config file"
            ));
        }
        let entry = table
            .entry(section.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        let Some(section_table) = entry.as_table_mut() else {
            return err(format!("{var}: `{section}` is not a section"));
        };
        section_table.insert(key.clone(), guess_value(value));
        applied.push(Override {
            key: format!("{section}.{key}"),
            var: var.clone(),
            raw: value.clone(),
        });
    }
    Ok(applied)
}

fn guess_value(raw: &str) -> toml::Value {
    format!("v = {raw}")
        .parse::<toml::Table>()
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw.to_owned()))
}

fn deserialize(mut table: toml::Table, overrides: &[Override]) -> Result<Config, ConfigError> {
    // Each retry changes the representation of one overridden key, so this ends.
    for _ in 0..=overrides.len() * 2 {
        let value = toml::Value::Table(table.clone());
        let error = match serde_path_to_error::deserialize::<_, Config>(value) {
            Ok(config) => return Ok(config),
            Err(e) => e,
        };
        let path = error.path().to_string();
        let inner = error.into_inner().to_string();
        let mut message = inner.trim().replace('\n', " ");
        // toml appends where the error was (` in `session.idle_timeout``); the key is named
        // separately below.
        if let Some(at) = message.rfind(" in `")
            && message.ends_with('`')
        {
            message.truncate(at);
        }
        // `unknown field `x`, expected ...` is reported at the parent: name the full key.
        let (key, message) = match message.strip_prefix("unknown field `") {
            Some(rest) => {
                let field = rest.split('`').next().unwrap_or_default();
                let full = if path == "." || path.is_empty() {
                    field.to_owned()
                } else if path == field || path.ends_with(&format!(".{field}")) {
                    path.clone()
                } else {
                    format!("{path}.{field}")
                };
                let expected = rest
                    .split_once(", expected ")
                    .map(|(_, e)| e)
                    .unwrap_or_default();
                (full, format!("unknown key (expected {expected})"))
            }
            None => (path, message),
        };
        let Some(o) = overrides.iter().find(|o| o.key == key) else {
            return err(format!("{key}: {message}"));
        };
        // Retry the override as a plain string, then as a comma-separated list.
        let (section, field) = o.key.split_once('.').expect("overrides have two parts");
        let slot = table
            .get_mut(section)
            .and_then(toml::Value::as_table_mut)
            .and_then(|t| t.get_mut(field));
        match slot {
            Some(v) if !v.is_str() && !v.is_array() && !v.is_table() => {
                *v = toml::Value::String(o.raw.clone());
            }
            Some(v) if v.is_str() && message.contains("a sequence") => {
                *v = toml::Value::Array(
                    o.raw
                        .split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(|s| toml::Value::String(s.to_owned()))
                        .collect(),
                );
            }
            _ => return err(format!("{key} (from {}): {message}", o.var)),
        }
    }
    err("configuration: could not be read")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(toml_text: &str, env: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tessera.toml");
        std::fs::write(&path, toml_text).unwrap();
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::load_from(Some(&path), &env).map(|l| l.config)
    }

    #[test]
    fn defaults_match_the_design() {
        let c = Config::load_from(None, &[]).unwrap().config;
        assert_eq!(c.server.listen, "127.0.0.1:8080");
        assert_eq!(c.server.base_path, "/api");
        assert_eq!(c.database_url(), "sqlite://./tessera-data/tessera.db");
        assert_eq!(c.session.cookie_name, "sessionid");
        assert_eq!(c.session.idle_timeout, ConfigDuration::secs(1800));
        assert_eq!(c.session.absolute_timeout, ConfigDuration::secs(12 * 3600));
        assert_eq!(c.csrf.header_name, "X-CSRFToken");
        assert_eq!(c.tokens.pat_default_lifetime.to_string(), "1d");
        assert_eq!(c.tokens.client_secret_lifetime.to_string(), "90d");
        assert_eq!(c.password.min_length, 12);
        assert!(!c.login.allow_query_credentials);
    }

    #[test]
    fn reads_durations_and_sections() {
        let c = load(
            "[session]\nidle_timeout = \"5m\"\nabsolute_timeout = \"90d\"\n[server]\nbase_path = \"/apis/authentication\"\n",
            &[],
        )
        .unwrap();
        assert_eq!(c.session.idle_timeout.0, Duration::from_secs(300));
        assert_eq!(
            c.session.absolute_timeout.0,
            Duration::from_secs(90 * 86_400)
        );
        assert_eq!(c.server.base_path, "/apis/authentication");
    }

    #[test]
    fn unknown_keys_are_named() {
        let e = load("[session]\nidle_timout = \"5m\"\n", &[])
            .unwrap_err()
            .0;
        assert!(e.starts_with("session.idle_timout: unknown key"), "{e}");
        let e = load("[sesion]\n", &[]).unwrap_err().0;
        assert!(e.starts_with("sesion: unknown key"), "{e}");
        let e = load("", &[("TESSERA_SESSION__IDEL", "5m")]).unwrap_err().0;
        assert!(e.starts_with("session.idel"), "{e}");
    }

    #[test]
    fn bad_values_are_named() {
        let e = load("[session]\nidle_timeout = \"soon\"\n", &[])
            .unwrap_err()
            .0;
        assert!(
            e.starts_with("session.idle_timeout:") && e.contains("not a duration"),
            "{e}"
        );
        let e = load("[session]\nsame_site = \"sometimes\"\n", &[])
            .unwrap_err()
            .0;
        assert!(e.starts_with("session.same_site:"), "{e}");
        let e = load("[server]\nbase_path = \"api/\"\n", &[]).unwrap_err().0;
        assert!(e.starts_with("server.base_path:"), "{e}");
        let e = load("[server\n", &[]).unwrap_err().0;
        assert!(e.contains("line 1") && !e.contains('\n'), "{e}");
        let e = load("[session]\nidle_timeout = \"13h\"\n", &[])
            .unwrap_err()
            .0;
        assert!(e.starts_with("session.idle_timeout:"), "{e}");
    }

    #[test]
    fn environment_overrides_the_file() {
        let c = load(
            "[session]\nidle_timeout = \"5m\"\ncookie_name = \"a\"\n",
            &[
                ("TESSERA_SESSION__IDLE_TIMEOUT", "7m"),
                ("TESSERA_SESSION__COOKIE_NAME", "12345"),
                ("TESSERA_LOGIN__ALLOW_QUERY_CREDENTIALS", "true"),
                ("TESSERA_SERVER__TRUSTED_PROXIES", "10.0.0.0/8, 127.0.0.1"),
                ("TESSERA_PASSWORD__MIN_LENGTH", "16"),
                ("TESSERA_CONFIG", "ignored.toml"),
            ],
        )
        .unwrap();
        assert_eq!(c.session.idle_timeout.0, Duration::from_secs(420));
        assert_eq!(
            c.session.cookie_name, "12345",
            "a numeric-looking string stays a string"
        );
        assert!(c.login.allow_query_credentials);
        assert_eq!(c.server.trusted_proxies, ["10.0.0.0/8", "127.0.0.1"]);
        assert_eq!(c.password.min_length, 16);
        let e = load("", &[("TESSERA_SESSION__IDLE_TIMEOUT", "later")])
            .unwrap_err()
            .0;
        assert!(
            e.contains("TESSERA_SESSION__IDLE_TIMEOUT") && e.contains("not a duration"),
            "{e}"
        );
    }

    #[test]
    fn show_redacts_database_passwords() {
        let c = load(
            "[database]\nurl = \"postgres://tessera:hunter2@db/tessera\"\n",
            &[],
        )
        .unwrap();
        let shown = c.to_redacted_toml();
        assert!(
            shown.contains("postgres://tessera:***@db/tessera"),
            "{shown}"
        );
        assert!(!shown.contains("hunter2"));
        // What `show` prints is itself a valid config.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("shown.toml");
        std::fs::write(&path, &shown).unwrap();
        Config::load_from(Some(&path), &[]).unwrap();
    }
}
