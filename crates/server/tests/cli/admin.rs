//! Admin commands against SQLite and PostgreSQL, and configuration errors.

use crate::harness::Env;

const GOOD: &str = "correct horse battery staple\n";

async fn users_and_roles(env: Env) {
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
    let add_ann = ["user", "add", "ann", "--password-stdin"];
    env.run(&["user", "add", "JOE", "--password-stdin"], GOOD)
        .failure_with("already exists");
    env.run(&add_ann, "short\n")
        .failure_with("at least 12 characters");
    env.run(&add_ann, "password1234\n")
        .failure_with("commonly used");
    env.run(
        &["user", "add", "ann", "--password-stdin", "--role", "ghost"],
        GOOD,
    )
    .failure_with("unknown role `ghost`");
    env.run(&["user", "add", "a:b", "--password-stdin"], GOOD)
        .failure_with("invalid login");
    env.run(&["user", "add", "ann"], "")
        .failure_with("--password-stdin");
    let list = env.run(&["user", "list", "--json"], "").success();
    let users: Vec<serde_json::Value> = serde_json::from_str(&list).unwrap();
    assert_eq!(users.len(), 1, "refused users were not created: {list}");
    assert_eq!(users[0]["login"], "Joe");
    assert_eq!(users[0]["lang"], "fr");
    assert!(users[0].get("password_hash").is_none());

    // Roles.
    env.add_role("orders", &["orders:read", "orders:write"]);
    env.run(&["role", "add", "orders", "--permission", "x:y"], "")
        .failure_with("already exists");
    env.run(&["role", "add", "bad", "--permission", "a b"], "")
        .failure_with("invalid permission");
    let roles = env.run(&["role", "list"], "").success();
    assert!(
        roles.contains("admin") && roles.contains("orders:read orders:write"),
        "{roles}"
    );

    env.run(&["role", "grant", "joe", "orders"], "").success();
    let again = env.run(&["role", "grant", "JOE", "orders"], "").success();
    assert!(again.contains("already has"), "{again}");
    env.run(&["role", "grant", "joe", "ghost"], "")
        .failure_with("unknown role");
    env.run(&["role", "grant", "nobody", "orders"], "")
        .failure_with("no such user `nobody`");

    let shown = env.run_json(&["user", "show", "joe", "--json"]);
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
    env.run(&["role", "revoke", "joe", "orders"], "")
        .failure_with("does not have");

    // Disable / enable / passwd.
    env.run(&["user", "disable", "joe"], "").success();
    let list = env.run(&["user", "list"], "").success();
    assert!(
        list.lines()
            .any(|l| l.starts_with("Joe") && l.contains("disabled")),
        "{list}"
    );
    env.run(&["user", "enable", "joe"], "").success();
    let passwd = ["user", "passwd", "joe", "--password-stdin"];
    env.run(&passwd, "joejoejoejoe\n")
        .failure_with("too similar to the login");
    env.run(&passwd, "another fine passphrase\n").success();
    env.run(&["user", "passwd", "nobody", "--password-stdin"], GOOD)
        .failure_with("no such user");

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
        let accounts = crate::harness::sqlite_accounts(&env).await;
        let logs_in = async |password: &str| {
            let password = tessera_core::Password::new(password);
            accounts.authenticate("kim", &password).await.unwrap()
        };
        assert!(logs_in("  spaces count too  ").await.is_some());
        assert!(logs_in("spaces count too").await.is_none());
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
    env.run(&["--config", &unknown, "config", "check"], "")
        .failure_with("session.idle_timout: unknown key");

    let bad_duration = write("duration.toml", "[session]\nidle_timeout = \"five\"\n");
    let line = env
        .run(&["config", "check", "--config", &bad_duration], "")
        .failure();
    assert!(
        line.contains("session.idle_timeout") && line.contains("not a duration"),
        "{line}"
    );

    let syntax = write("syntax.toml", "[server]\nlisten = \n");
    env.run(&["--config", &syntax, "config", "check"], "")
        .failure_with("line 2");

    env.run(&["--config", "/nonexistent.toml", "config", "check"], "")
        .failure_with("cannot read config file");

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
    env_var
        .run(&["config", "check"], "")
        .failure_with("TESSERA_TOKENS__PAT_MAX_LIFETIME");

    // TESSERA_CONFIG is the same as --config.
    let via_env = Env::sqlite().with("TESSERA_CONFIG", &unknown);
    via_env
        .run(&["config", "check"], "")
        .failure_with("session.idle_timout");
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
