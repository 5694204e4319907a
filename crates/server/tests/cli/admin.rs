//! Admin commands against SQLite and PostgreSQL, and configuration errors.

use crate::harness::{Backend, Env};

const GOOD: &str = "correct horse battery staple\n";

async fn users_and_roles(backend: Backend) {
    let Some(env) = Env::new(backend).await else {
        return;
    };
    let out = env
        .run(
            &[
                "user",
                "add",
                "Joe",
                "--password-stdin",
                "--first-name",
                "Joe",
                "--last-name",
                "Bloggs",
                "--email",
                "joe@example.com",
                "--lang",
                "fr",
            ],
            GOOD,
        )
        .success();
    assert!(out.contains("created user Joe"), "{out}");

    // Refusals: each a one-line reason, and nothing written.
    let line = env
        .run(&["user", "add", "JOE", "--password-stdin"], GOOD)
        .failure();
    assert!(line.contains("already exists"), "{line}");
    let line = env
        .run(&["user", "add", "ann", "--password-stdin"], "short\n")
        .failure();
    assert!(line.contains("at least 12 characters"), "{line}");
    let line = env
        .run(
            &["user", "add", "ann", "--password-stdin"],
            "password1234\n",
        )
        .failure();
    assert!(line.contains("commonly used"), "{line}");
    let line = env
        .run(
            &["user", "add", "ann", "--password-stdin", "--role", "ghost"],
            GOOD,
        )
        .failure();
    assert!(line.contains("unknown role `ghost`"), "{line}");
    let line = env
        .run(&["user", "add", "a:b", "--password-stdin"], GOOD)
        .failure();
    assert!(line.contains("invalid login"), "{line}");
    let line = env.run(&["user", "add", "ann"], "").failure();
    assert!(line.contains("--password-stdin"), "{line}");
    let list = env.run(&["user", "list", "--json"], "").success();
    let users: Vec<serde_json::Value> = serde_json::from_str(&list).unwrap();
    assert_eq!(users.len(), 1, "refused users were not created: {list}");
    assert_eq!(users[0]["login"], "Joe");
    assert_eq!(users[0]["lang"], "fr");
    assert!(users[0].get("password_hash").is_none());

    // Roles.
    env.run(
        &[
            "role",
            "add",
            "orders",
            "--permission",
            "orders:read",
            "--permission",
            "orders:write",
        ],
        "",
    )
    .success();
    let line = env
        .run(&["role", "add", "orders", "--permission", "x:y"], "")
        .failure();
    assert!(line.contains("already exists"), "{line}");
    let line = env
        .run(&["role", "add", "bad", "--permission", "a b"], "")
        .failure();
    assert!(line.contains("invalid permission"), "{line}");
    let roles = env.run(&["role", "list"], "").success();
    assert!(
        roles.contains("admin") && roles.contains("orders:read orders:write"),
        "{roles}"
    );

    env.run(&["role", "grant", "joe", "orders"], "").success();
    let again = env.run(&["role", "grant", "JOE", "orders"], "").success();
    assert!(again.contains("already has"), "{again}");
    let line = env.run(&["role", "grant", "joe", "ghost"], "").failure();
    assert!(line.contains("unknown role"), "{line}");
    let line = env
        .run(&["role", "grant", "nobody", "orders"], "")
        .failure();
    assert!(line.contains("no such user `nobody`"), "{line}");

    let shown: serde_json::Value =
        serde_json::from_str(&env.run(&["user", "show", "joe", "--json"], "").success()).unwrap();
    assert_eq!(shown["roles"], serde_json::json!(["orders"]));
    assert_eq!(
        shown["permissions"],
        serde_json::json!(["orders:read", "orders:write"])
    );
    assert_eq!(shown["email"], "joe@example.com");
    let text = env.run(&["user", "show", "joe"], "").success();
    assert!(
        text.contains("login:       Joe") && text.contains("Joe Bloggs"),
        "{text}"
    );

    env.run(&["role", "revoke", "joe", "orders"], "").success();
    let line = env.run(&["role", "revoke", "joe", "orders"], "").failure();
    assert!(line.contains("does not have"), "{line}");

    // Disable / enable / passwd.
    env.run(&["user", "disable", "joe"], "").success();
    let list = env.run(&["user", "list"], "").success();
    assert!(
        list.lines()
            .any(|l| l.starts_with("Joe") && l.contains("disabled")),
        "{list}"
    );
    env.run(&["user", "enable", "joe"], "").success();
    let line = env
        .run(
            &["user", "passwd", "joe", "--password-stdin"],
            "joejoejoejoe\n",
        )
        .failure();
    assert!(line.contains("too similar to the login"), "{line}");
    env.run(
        &["user", "passwd", "joe", "--password-stdin"],
        "another fine passphrase\n",
    )
    .success();
    let line = env
        .run(&["user", "passwd", "nobody", "--password-stdin"], GOOD)
        .failure();
    assert!(line.contains("no such user"), "{line}");

    // `migrate` is idempotent.
    env.run(&["migrate"], "").success();
    env.run(&["migrate"], "").success();
}

on_both_backends!(users_and_roles, users_and_roles);

#[test]
fn the_password_is_read_exactly_from_stdin() {
    let env = Env::sqlite();
    // Trailing spaces are part of the password; only the line ending is removed.
    env.run(
        &["user", "add", "kim", "--password-stdin"],
        "  spaces count too  \r\n",
    )
    .success();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let url = format!(
            "sqlite://{}",
            env.path().join("tessera-data/tessera.db").display()
        );
        let store = tessera_store::open(&url, &Default::default())
            .await
            .unwrap();
        let hasher = tessera_core::PasswordHasher::new(Default::default(), Some(1)).unwrap();
        let accounts = tessera_core::Accounts::new(store, hasher, Default::default());
        let pw = |s: &str| tessera_core::Password::new(s);
        assert!(
            accounts
                .authenticate("kim", &pw("  spaces count too  "))
                .await
                .unwrap()
                .is_some()
        );
        assert!(
            accounts
                .authenticate("kim", &pw("spaces count too"))
                .await
                .unwrap()
                .is_none()
        );
    });
}

#[test]
fn configuration_errors_are_one_line_naming_the_key() {
    let env = Env::sqlite();
    let write = |name: &str, text: &str| {
        let p = env.path().join(name);
        std::fs::write(&p, text).unwrap();
        p.display().to_string()
    };
    let unknown = write("unknown.toml", "[session]\nidle_timout = \"5m\"\n");
    let line = env
        .run(&["--config", &unknown, "config", "check"], "")
        .failure();
    assert!(line.contains("session.idle_timout: unknown key"), "{line}");

    let bad_duration = write("duration.toml", "[session]\nidle_timeout = \"five\"\n");
    let line = env
        .run(&["config", "check", "--config", &bad_duration], "")
        .failure();
    assert!(
        line.contains("session.idle_timeout") && line.contains("not a duration"),
        "{line}"
    );

    let syntax = write("syntax.toml", "[server]\nlisten = \n");
    let line = env
        .run(&["--config", &syntax, "config", "check"], "")
        .failure();
    assert!(line.contains("line 2"), "{line}");

    let line = env
        .run(&["--config", "/nonexistent.toml", "config", "check"], "")
        .failure();
    assert!(line.contains("cannot read config file"), "{line}");

    let unreachable = Env::sqlite().with(
        "TESSERA_DATABASE__URL",
        "postgres://tessera:s3cret@127.0.0.1:1/tessera",
    );
    let line = unreachable.run(&["config", "check"], "").failure();
    assert!(line.contains("Connection refused"), "{line}");
    assert!(
        !line.contains("s3cret"),
        "the password is not printed: {line}"
    );

    let env_var = Env::sqlite().with("TESSERA_TOKENS__PAT_MAX_LIFETIME", "forever");
    let line = env_var.run(&["config", "check"], "").failure();
    assert!(line.contains("TESSERA_TOKENS__PAT_MAX_LIFETIME"), "{line}");

    // TESSERA_CONFIG is the same as --config.
    let via_env = Env::sqlite().with("TESSERA_CONFIG", &unknown);
    let line = via_env.run(&["config", "check"], "").failure();
    assert!(line.contains("session.idle_timout"), "{line}");
}

#[test]
fn config_show_prints_the_effective_config_without_secrets() {
    let env = Env::sqlite()
        .with(
            "TESSERA_DATABASE__URL",
            "postgres://tessera:s3cret@db.internal/tessera",
        )
        .with("TESSERA_SESSION__IDLE_TIMEOUT", "5m");
    let out = env.run(&["config", "show"], "").success();
    assert!(out.contains("idle_timeout = \"5m\""), "{out}");
    assert!(
        out.contains("postgres://tessera:***@db.internal/tessera"),
        "{out}"
    );
    assert!(!out.contains("s3cret"));

    let ok = Env::sqlite().run(&["config", "check"], "").success();
    assert!(ok.contains("configuration OK"), "{ok}");
}
