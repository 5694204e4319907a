//! What types alone cannot express, checked with messages that name the key.

use std::time::Duration;

use super::{Config, ConfigDuration, ConfigError, SameSite, Secure, err};

impl Config {
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
        let sudo = self.ui.sudo_timeout.0;
        if !(Duration::from_secs(1)..=Duration::from_secs(86_400)).contains(&sudo) {
            return err("ui.sudo_timeout: must be between 1s and 1d");
        }
        let levels = ["off", "error", "warn", "info", "debug", "trace"];
        let directive_ok = |d: &str| match d.split_once('=') {
            Some((target, level)) => {
                !target.is_empty()
                    && target
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
                    && levels.contains(&level.to_ascii_lowercase().as_str())
            }
            None => levels.contains(&d.to_ascii_lowercase().as_str()),
        };
        if self.log.level.trim().is_empty()
            || !self.log.level.split(',').map(str::trim).all(directive_ok)
        {
            return err(format!(
                "log.level: `{}` is not a level (error, warn, info, debug, trace) or directives such as `info,tessera_store=debug`",
                self.log.level
            ));
        }
        if !self.metrics.listen.is_empty() && self.metrics.address().is_none() {
            return err(format!(
                "metrics.listen: `{}` is not an address and port such as `127.0.0.1:9464` (empty turns metrics off)",
                self.metrics.listen
            ));
        }
        let invitation = self.accounts.invitation_lifetime.0;
        if !(Duration::from_secs(300)..=Duration::from_secs(30 * 86_400)).contains(&invitation) {
            return err("accounts.invitation_lifetime: must be between 5m and 30d");
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
