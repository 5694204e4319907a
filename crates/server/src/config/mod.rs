//! Configuration: one TOML file, overridden key by key by `TESSERA_<SECTION>__<KEY>`
//! environment variables. Every default lives in the `Default` impls below; reading the
//! file and the environment is in `env.rs`, the checks in `validate.rs`.

mod env;
#[cfg(test)]
mod tests;
mod validate;

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use self::env::{deserialize, overlay_env, parse_toml};
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
