//! Loading, overriding, validating and showing configurations.

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

/// The configuration and its settings, from `toml_text` and `env`.
fn loaded(toml_text: &str, env: &[(String, String)]) -> Result<Loaded, ConfigError> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tessera.toml");
    std::fs::write(&path, toml_text).unwrap();
    Config::load_from(Some(&path), env)
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
    assert_eq!(c.accounts.invitation_lifetime.to_string(), "1d");
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
    let e = load("[accounts]\ninvitation_lifetime = \"60d\"\n", &[])
        .unwrap_err()
        .0;
    assert!(e.starts_with("accounts.invitation_lifetime:"), "{e}");
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

#[test]
fn identity_providers_are_checked_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("corp.secret");
    std::fs::write(&secret, "s3cret\n").unwrap();
    let provider = |issuer: &str, extra: &str| {
        format!(
            "[[identity_providers]]\nid = \"corp\"\nname = \"Corp\"\nissuer = \"{issuer}\"\n\
             client_id = \"tessera\"\n{extra}"
        )
    };
    let with_file = format!("client_secret_file = \"{}\"\n", secret.display());
    let ok = loaded(&provider("https://id.example.com/", &with_file), &[]).unwrap();
    let p = &ok.settings.http.identity_providers[0];
    assert_eq!(
        p.issuer, "https://id.example.com/",
        "kept as written: `iss` must equal it"
    );
    assert_eq!(
        p.client_secret.0, "s3cret",
        "the line ending is not part of it"
    );
    assert_eq!(p.scopes, ["openid", "profile", "email"]);
    assert_eq!(p.login_claim, "preferred_username");
    assert!(p.create_users);
    assert!(
        !ok.config.to_redacted_toml().contains("s3cret"),
        "config show never prints the secret"
    );
    // Loopback may use http; anything else must not.
    loaded(&provider("http://127.0.0.1:9000", &with_file), &[]).unwrap();
    let e = loaded(&provider("http://id.example.com", &with_file), &[])
        .unwrap_err()
        .0;
    assert!(
        e.starts_with("identity_providers[0].issuer: must be https://"),
        "{e}"
    );
    // The secret from the environment, or an error naming both ways.
    let env = [(
        "TESSERA_IDP_CORP_CLIENT_SECRET".to_owned(),
        "from-env".to_owned(),
    )];
    let from_env = loaded(&provider("https://id.example.com", ""), &env).unwrap();
    assert_eq!(
        from_env.settings.http.identity_providers[0].client_secret.0,
        "from-env"
    );
    assert!(
        !format!("{from_env:?}").contains("from-env"),
        "never in a debug print"
    );
    let e = loaded(&provider("https://id.example.com", ""), &[])
        .unwrap_err()
        .0;
    assert!(
        e.starts_with("identity_providers[0].client_secret_file: required")
            && e.contains("TESSERA_IDP_CORP_CLIENT_SECRET"),
        "{e}"
    );
    let e = loaded(
        &provider(
            "https://id.example.com",
            &format!("{with_file}scopes = [\"email\"]\n"),
        ),
        &[],
    )
    .unwrap_err()
    .0;
    assert!(e.starts_with("identity_providers[0].scopes:"), "{e}");
    let e = loaded(
        &provider("https://id.example.com", &with_file).replace("\"corp\"", "\"Corp SSO\""),
        &[],
    )
    .unwrap_err()
    .0;
    assert!(e.starts_with("identity_providers[0].id:"), "{e}");
    let e = loaded(
        &provider(
            "https://id.example.com",
            &format!("{with_file}role_map = {{ ops = [\"operator\"] }}\n"),
        ),
        &[],
    )
    .unwrap_err()
    .0;
    assert!(
        e.starts_with("identity_providers[0].role_map: needs `roles_claim`"),
        "{e}"
    );
}

#[test]
fn login_default_output_is_read_checked_and_carried() {
    let d = loaded("", &[]).unwrap();
    assert_eq!(d.config.login.default_output, LoginOutput::Auto);
    assert_eq!(d.settings.http.login_default_output, LoginOutput::Auto);
    for (text, want) in [
        ("auto", LoginOutput::Auto),
        ("plain", LoginOutput::Plain),
        ("json", LoginOutput::Json),
    ] {
        let l = loaded(&format!("[login]\ndefault_output = \"{text}\"\n"), &[]).unwrap();
        assert_eq!(l.settings.http.login_default_output, want, "{text}");
        // `config show` prints it back as written.
        assert!(
            l.config
                .to_redacted_toml()
                .contains(&format!("default_output = \"{text}\"")),
            "{text}"
        );
    }
    let env = [(
        "TESSERA_LOGIN__DEFAULT_OUTPUT".to_owned(),
        "json".to_owned(),
    )];
    let l = loaded("[login]\ndefault_output = \"plain\"\n", &env).unwrap();
    assert_eq!(l.settings.http.login_default_output, LoginOutput::Json);
    let e = load("[login]\ndefault_output = \"xml\"\n", &[])
        .unwrap_err()
        .0;
    assert!(
        e.starts_with("login.default_output:") && e.contains("xml") && !e.contains('\n'),
        "{e}"
    );
    let e = load("", &[("TESSERA_LOGIN__DEFAULT_OUTPUT", "text")])
        .unwrap_err()
        .0;
    assert!(
        e.starts_with("login.default_output") && e.contains("TESSERA_LOGIN__DEFAULT_OUTPUT"),
        "{e}"
    );
}
