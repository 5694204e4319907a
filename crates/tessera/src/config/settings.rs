//! The configuration converted into the typed settings each layer takes, once.

use std::net::SocketAddr;

use super::{Config, ConfigError, err};

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

impl Config {
    /// The `[[rules]]`, compiled for matching (case-insensitive paths unless
    /// `server.rules_case_sensitive`). The error names the rule (`rules[N]`) and why it
    /// is wrong: a bad glob, an unknown method or credential kind, a public rule with
    /// permissions, or a rule an earlier one makes unreachable.
    pub fn compiled_rules(&self) -> Result<tessera_core::Rules, tessera_core::rules::RuleError> {
        let specs: Vec<tessera_core::RuleSpec> = self
            .rules
            .iter()
            .map(|r| tessera_core::RuleSpec {
                matches: r.matches.clone(),
                permissions: r.permissions.clone(),
                credentials: r.credentials.clone(),
                public: r.public,
                rate_limit: r.rate_limit.clone(),
                burst: r.burst,
            })
            .collect();
        if self.server.rules_case_sensitive {
            tessera_core::Rules::compile_case_sensitive(&specs)
        } else {
            tessera_core::Rules::compile(&specs)
        }
    }

    /// The `[throttle]` section as the core uses it: one limit per account and one per
    /// client address, sharing `window`, `base_delay` and `max_lockout`.
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

    /// The password-session timeouts (`session.idle_timeout`, `session.absolute_timeout`).
    pub fn session_settings(&self) -> tessera_core::SessionSettings {
        tessera_core::SessionSettings {
            idle_timeout: self.session.idle_timeout.0,
            absolute_timeout: self.session.absolute_timeout.0,
        }
    }

    /// The credential lifetimes of the `[tokens]` section, and the set-password links'
    /// (`accounts.invitation_lifetime`).
    pub fn token_settings(&self) -> tessera_core::TokenSettings {
        let t = &self.tokens;
        tessera_core::TokenSettings {
            api_key_session_lifetime: t.api_key_session_lifetime.0,
            pat_default_lifetime: t.pat_default_lifetime.0,
            pat_max_lifetime: t.pat_max_lifetime.0,
            client_secret_lifetime: t.client_secret_lifetime.0,
            access_token_default_lifetime: t.access_token_default_lifetime.0,
            invitation_lifetime: self.accounts.invitation_lifetime.0,
        }
    }

    /// The `[[identity_providers]]`, checked, with their client secrets read (from
    /// `client_secret_file` or `TESSERA_IDP_<ID>_CLIENT_SECRET`).
    fn identity_provider_settings(
        &self,
    ) -> Result<Vec<tessera_http::settings::IdentityProvider>, ConfigError> {
        let mut out: Vec<tessera_http::settings::IdentityProvider> = Vec::new();
        for (i, p) in self.identity_providers.iter().enumerate() {
            let key = |field: &str| format!("identity_providers[{i}].{field}");
            let id_ok = (1..=32).contains(&p.id.len())
                && p.id
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
            if !id_ok {
                return err(format!(
                    "{}: 1 to 32 lower-case letters, digits or `-`",
                    key("id")
                ));
            }
            if out.iter().any(|o| o.id == p.id) {
                return err(format!("{}: `{}` is used twice", key("id"), p.id));
            }
            if p.name.trim().is_empty() {
                return err(format!("{}: must not be empty", key("name")));
            }
            check_issuer(&p.issuer).or_else(|why| err(format!("{}: {why}", key("issuer"))))?;
            if p.client_id.is_empty() {
                return err(format!("{}: must not be empty", key("client_id")));
            }
            if !p.scopes.iter().any(|s| s == "openid") {
                return err(format!("{}: must include `openid`", key("scopes")));
            }
            if !p.role_map.is_empty() && p.roles_claim.is_none() {
                return err(format!(
                    "{}: needs `roles_claim`, the claim it reads",
                    key("role_map")
                ));
            }
            for roles in p.role_map.values() {
                for role in roles {
                    tessera_core::permission::validate_role_name(role)
                        .or_else(|e| err(format!("{}: {e}", key("role_map"))))?;
                }
            }
            let secret = match (&p.client_secret_file, self.idp_secrets.get(&p.id)) {
                (_, Some(secret)) => secret.0.clone(),
                (Some(file), None) => std::fs::read_to_string(file)
                    .map(|s| s.trim_end_matches(['\n', '\r']).to_owned())
                    .or_else(|e| {
                        err(format!(
                            "{}: cannot read {}: {e}",
                            key("client_secret_file"),
                            file.display()
                        ))
                    })?,
                (None, None) => {
                    return err(format!(
                        "{}: required (or set {})",
                        key("client_secret_file"),
                        p.secret_variable()
                    ));
                }
            };
            if secret.is_empty() {
                return err(format!(
                    "{}: the client secret is empty",
                    key("client_secret_file")
                ));
            }
            out.push(tessera_http::settings::IdentityProvider {
                id: p.id.clone(),
                name: p.name.trim().to_owned(),
                // As configured: the provider's `iss` is compared with it exactly.
                issuer: p.issuer.clone(),
                client_id: p.client_id.clone(),
                client_secret: tessera_http::settings::ClientSecretValue(secret),
                scopes: p.scopes.clone(),
                login_claim: p.login_claim.clone(),
                roles_claim: p.roles_claim.clone(),
                role_map: p.role_map.clone(),
                create_users: p.create_users,
                allowed_email_domains: p
                    .allowed_email_domains
                    .iter()
                    .map(|d| d.trim_start_matches('@').to_ascii_lowercase())
                    .collect(),
            });
        }
        Ok(out)
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
            login_default_output: self.login.default_output,
            rules: std::sync::Arc::new(rules),
            ui: self.ui.enabled.then_some(h::Ui {
                sudo_timeout: self.ui.sudo_timeout.0,
            }),
            identity_providers: self.identity_provider_settings()?,
            proxy: upstream.map(|upstream| h::Proxy {
                upstream,
                timeout: self.proxy.timeout.0,
                forward_credentials: self.proxy.forward_credentials,
            }),
        })
    }
}

/// An issuer is `https://host[/path]`, or `http://` on a loopback address (development
/// and tests); never with a query or fragment.
fn check_issuer(issuer: &str) -> Result<(), String> {
    let uri = issuer
        .parse::<axum::http::Uri>()
        .map_err(|_| format!("`{issuer}` is not a URL"))?;
    let host = uri.host().unwrap_or("");
    if host.is_empty() || issuer.contains(['?', '#']) {
        return Err(format!(
            "`{issuer}` is not an issuer URL such as https://id.example.com"
        ));
    }
    let loopback = host == "localhost"
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    match uri.scheme_str() {
        Some("https") => Ok(()),
        Some("http") if loopback => Ok(()),
        _ => Err("must be https:// (http:// only on a loopback address)".into()),
    }
}
