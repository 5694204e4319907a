//! Running Tessera for years: backup and restore, refusing a database from a newer
//! release, the systemd unit, and what `--version` says.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use reqwest::Method;
use tessera_core::Timestamp;
use tessera_core::credential::PersonalToken;

use crate::client::{Client, PW};
use crate::harness::{BIN, Env, data_dir, sqlite_accounts};

#[test]
fn version_names_the_release_and_the_commit_it_was_built_from() {
    let out = std::process::Command::new(BIN)
        .arg("--version")
        .output()
        .unwrap();
    assert!(out.status.success());
    let line = String::from_utf8(out.stdout).unwrap();
    assert!(
        line.starts_with(&format!("tessera {} (commit ", env!("CARGO_PKG_VERSION"))),
        "{line}"
    );
    let commit = line
        .trim_end()
        .trim_end_matches(')')
        .rsplit(' ')
        .next()
        .unwrap();
    // Built from this checkout: its commit, as git abbreviates it.
    let head = std::process::Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned());
    match head {
        Some(head) => assert_eq!(commit, head, "{line}"),
        None => assert!(!commit.is_empty(), "{line}"),
    }
}

#[test]
fn the_systemd_unit_passes_systemd_analyze_verify() {
    let unit = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/systemd/tessera.service"
    ))
    .unwrap();
    // What the unit promises: a dedicated user owning only its state directory, and a
    // read-only view of the rest of the system.
    for line in [
        "DynamicUser=yes",
        "StateDirectory=tessera",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "ExecReload=/bin/kill -HUP $MAINPID",
    ] {
        assert!(unit.lines().any(|l| l == line), "the unit lacks {line}");
    }
    // Its environment names real configuration keys with valid values.
    let env = Env::sqlite()
        .with("TESSERA_SERVER__DATA_DIR", "/var/lib/tessera")
        .with("TESSERA_LOG__FORMAT", "json");
    let shown = env.run(&["config", "show"], "").success();
    assert!(shown.contains("/var/lib/tessera"), "{shown}");
    if std::process::Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("systemd-analyze is not installed: the unit's syntax is not checked here");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // verify checks that ExecStart's binary exists: point it at the one just built.
    let path = dir.path().join("tessera.service");
    std::fs::write(&path, unit.replace("/usr/local/bin/tessera", BIN)).unwrap();
    let out = std::process::Command::new("systemd-analyze")
        .arg("verify")
        .arg(&path)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stderr);
    // verify warns about an unknown or malformed setting and still exits 0: any word
    // about the unit is a failure.
    assert!(out.status.success(), "{said}");
    assert!(
        !said.contains("tessera.service"),
        "systemd-analyze verify: {said}"
    );
}

/// A PAT record written straight to the store: the cheapest acknowledged write.
fn numbered_token(i: usize, user: tessera_core::UserId) -> (PersonalToken, [u8; 32]) {
    let now = Timestamp::now();
    let pat = PersonalToken {
        id: format!("pat_load{i:06}"),
        user_id: user,
        name: format!("load {i:06}"),
        scopes: None,
        created_at: now,
        expires_at: now.plus(Duration::from_secs(86_400)),
        last_used_at: None,
        prefix: None,
    };
    let mut digest = [0u8; 32];
    digest[..8].copy_from_slice(&(i as u64).to_le_bytes());
    digest[8] = 0xb7;
    (pat, digest)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_under_write_load_restores_every_write_acknowledged_before_it() {
    let env = Env::sqlite();
    env.add_user("joe", PW, &[]);
    let pat = env.create_token("joe", "kept", &[]).success_trimmed();
    let server = env.serve_process(&[]);
    let mut c = Client::new(&server.base);
    let session = c.login_token("joe", PW).await;

    // Another connection writes as fast as it can while the backup runs.
    let store = sqlite_accounts(&env).await.store().clone();
    let joe = store.user_by_login("joe").await.unwrap().unwrap().user.id;
    let acked = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (acked, stop, store) = (acked.clone(), stop.clone(), store.clone());
        tokio::spawn(async move {
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                let (pat, digest) = numbered_token(i, joe);
                store.create_pat(&pat, &digest).await.unwrap();
                i += 1;
                acked.store(i, Ordering::SeqCst);
            }
        })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    let backup = env.path().join("backup.db");
    let before = acked.load(Ordering::SeqCst);
    let run = {
        let args = ["backup".to_owned(), backup.display().to_string()];
        let command = env.command(&[&args[0], &args[1]]);
        tokio::task::spawn_blocking(move || {
            let mut command = command;
            command.output().unwrap()
        })
        .await
        .unwrap()
    };
    let after = acked.load(Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.store(true, Ordering::Relaxed);
    writer.await.unwrap();
    let said = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(said.contains("integrity ok"), "{said}");
    assert!(
        before > 0 && after > before,
        "no write load: {before} {after}"
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&backup).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "the backup is readable by others");

    // A second backup never overwrites the first.
    env.run(&["backup", &backup.display().to_string()], "")
        .failure_with("already exists");
    // Nor is the database restored while the server uses it.
    env.run(&["restore", &backup.display().to_string()], "")
        .failure_with("a server is using");

    // Restored into a fresh data directory, with the same server key.
    let fresh = Env::sqlite();
    std::fs::create_dir_all(data_dir(&fresh)).unwrap();
    std::fs::copy(
        data_dir(&env).join("secret.key"),
        data_dir(&fresh).join("secret.key"),
    )
    .unwrap();
    let said = fresh
        .run(&["restore", &backup.display().to_string()], "")
        .success();
    assert!(said.contains("restored"), "{said}");
    let restored = sqlite_accounts(&fresh).await.store().clone();
    let mut names: Vec<String> = restored
        .list_pats(joe)
        .await
        .unwrap()
        .into_iter()
        .filter_map(|p| p.name.strip_prefix("load ").map(str::to_owned))
        .collect();
    names.sort();
    // Every write acknowledged before the backup began is there, and what is there is
    // a prefix of the writes (a consistent snapshot, nothing torn or reordered).
    let expected: Vec<String> = (0..names.len()).map(|i| format!("{i:06}")).collect();
    assert_eq!(names, expected, "not a prefix of the writes");
    assert!(
        names.len() >= before,
        "{} writes restored, {before} were acknowledged before the backup",
        names.len()
    );
    assert!(names.len() <= after + 1, "writes from after the backup");

    // The restored server accepts the token and the session made before the backup.
    drop(server);
    let server = fresh.serve_in_process();
    let mut c = Client::new(&server.base);
    for token in [&pat, &session] {
        let r = c
            .send_once(c.bearer(Method::GET, "/api/session", token))
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
    drop(server);

    // Restoring over a database keeps the one it replaces.
    let said = env
        .run(&["restore", &backup.display().to_string()], "")
        .success();
    let kept = said
        .lines()
        .find_map(|l| l.strip_prefix("the database it replaced is kept as "))
        .unwrap_or_else(|| panic!("{said}"));
    // Relative paths are the data directory's, as configured (relative to the working
    // directory the command ran in).
    assert!(env.path().join(kept).is_file(), "{kept}");
}

#[test]
fn restore_refuses_what_is_not_a_tessera_backup() {
    let env = Env::sqlite();
    env.add_user("joe", PW, &[]);
    let junk = env.path().join("junk.db");
    std::fs::write(&junk, b"not a database at all, just some bytes").unwrap();
    env.run(&["restore", &junk.display().to_string()], "")
        .failure_with("not a Tessera backup");
    env.run(&["restore", "/nonexistent/backup.db"], "")
        .failure_with("is not a file");
    // The database it would have replaced still serves.
    let out = env.run(&["user", "list"], "").success();
    assert!(out.contains("joe"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_and_restore_point_postgresql_users_to_pg_dump() {
    let Some(env) = Env::postgres().await else {
        return;
    };
    env.run(&["backup", "x.db"], "").failure_with("pg_dump");
    env.run(&["restore", "x.db"], "").failure_with("pg_restore");
}

async fn serve_refuses_a_database_from_a_newer_release(env: Env) {
    env.run(&["migrate"], "").success();
    let mark = "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
                VALUES (999, 'from a later release', TRUE, $1, 0)";
    if let Some((_, url)) = env.vars.iter().find(|(k, _)| k == "TESSERA_DATABASE__URL") {
        let pool = sqlx::PgPool::connect(url).await.unwrap();
        sqlx::query(mark)
            .bind(vec![0u8])
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
    } else {
        let url = format!("sqlite://{}", data_dir(&env).join("tessera.db").display());
        let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
        sqlx::query(mark)
            .bind(vec![0u8])
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
    }
    let line = env.run(&["serve"], "").serve_failure();
    assert!(line.contains("version 999"), "{line}");
    assert!(
        line.contains(&format!(
            "tessera {} knows (schema {})",
            env!("CARGO_PKG_VERSION"),
            tessera_store::SCHEMA_VERSION
        )),
        "{line}"
    );
    // The admin commands refuse it too, with the same reason.
    env.run(&["user", "list"], "").failure_with("version 999");
}

on_both_backends!(
    /// `serve` will not run on a schema it does not know, and names both versions.
    serve_refuses_newer_schema,
    serve_refuses_a_database_from_a_newer_release
);

/// The key id `tessera key rotate` reports.
fn added_key(said: &str) -> String {
    said.lines()
        .find_map(|l| l.strip_prefix("added key "))
        .and_then(|rest| rest.split(':').next())
        .unwrap_or_else(|| panic!("{said}"))
        .to_owned()
}

/// `GET /api/session` with the client's cookies until the answer seals the session cookie
/// again (the server has read the rotated ring); the client keeps the new cookie.
async fn until_cookie_resealed(browser: &mut Client) -> crate::client::Resp {
    for _ in 0..50 {
        let r = browser.get("/api/session").await;
        assert_eq!(r.status, 200, "{}", r.body);
        if r.set_cookie("sessionid").is_some() {
            return r;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("the session cookie was never sealed again under the new key");
}

/// A CSRF-protected request with the client's cookies: `POST /api/tokens` naming a new
/// personal access token, with `csrf` in the header.
async fn post_with_csrf(browser: &mut Client, csrf: &str, name: &str) -> crate::client::Resp {
    let rb = browser
        .req(Method::POST, "/api/tokens")
        .header("x-csrftoken", csrf)
        .json(&serde_json::json!({ "name": name }));
    browser.send(rb).await
}

async fn key_rotation_and_retirement_log_nobody_out(env: Env) {
    env.add_user("joe", PW, &[]);
    let secret = env
        .run(&["client-secret", "show", "joe"], "")
        .success_trimmed();
    let ring = env.run_json(&["key", "list", "--json"]);
    assert_eq!(ring.as_array().unwrap().len(), 1, "{ring}");
    assert_eq!(ring[0]["state"], "sealing");
    let old = ring[0]["id"].as_str().unwrap().to_owned();
    let key_file = std::fs::read_to_string(data_dir(&env).join("secret.key")).unwrap();
    let listed = env.run(&["key", "list"], "").success();
    assert!(listed.contains(&old), "{listed}");
    assert!(
        !listed.contains(key_file.trim()),
        "key list shows a key: {listed}"
    );

    let server = env.serve(&[]);
    // Two browsers logged in before the rotation: one keeps working, one stays idle.
    let mut busy = Client::new(&server.base);
    let r = busy.send(busy.json_login("joe", PW)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let mut idle = Client::new(&server.base);
    let r = idle.send(idle.json_login("joe", PW)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let csrf_before = busy.jar["csrftoken"].clone();
    let cookie_before = busy.jar["sessionid"].clone();

    let said = env.run(&["key", "rotate"], "").success();
    let new = added_key(&said);
    assert_ne!(new, old);
    let ring = env.run_json(&["key", "list", "--json"]);
    assert_eq!(ring[0]["id"], new.as_str());
    assert_eq!(ring[0]["state"], "sealing");
    assert_eq!(ring[1]["state"], "previous");
    // The retiring key must not still seal.
    env.run(&["key", "retire", &new], "")
        .failure_with("seals now");

    // Uses after the rotation fall in a later second than the rotation itself.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    // The cookie sealed by the old key still opens; once the server has read the new
    // ring, the answer seals it again under the new key, with a new CSRF token.
    let resealed = until_cookie_resealed(&mut busy).await;
    assert_ne!(busy.jar["sessionid"], cookie_before);
    let csrf_after = resealed
        .header("x-csrftoken")
        .expect("a CSRF token with the resealed cookie")
        .to_owned();
    assert_ne!(csrf_after, csrf_before, "the CSRF token is signed again");
    assert_eq!(busy.jar["csrftoken"], csrf_after);
    // The CSRF token from before the rotation is still accepted.
    let mut stale = Client::new(&server.base);
    stale.jar.insert("sessionid".into(), cookie_before.clone());
    stale.jar.insert("csrftoken".into(), csrf_before.clone());
    let r = post_with_csrf(&mut stale, &csrf_before, "made after the rotation").await;
    assert_eq!(r.status, 201, "{}", r.body);
    // The client secret reads the same under the rotated ring.
    assert_eq!(
        env.run(&["client-secret", "show", "joe"], "")
            .success_trimmed(),
        secret
    );

    // The idle browser's cookie only opens with the old key: retiring it is refused,
    // naming what would be lost.
    tokio::time::sleep(Duration::from_millis(1200)).await; // the resealed use is recorded
    let refusal = env
        .run(&["key", "retire", &old], "")
        .failure_with("would log out");
    assert!(refusal.contains(&old), "{refusal}");
    // Written again by a refusal? No: the ring still holds both keys.
    assert_eq!(
        env.run_json(&["key", "list", "--json"])
            .as_array()
            .unwrap()
            .len(),
        2
    );

    // The idle browser comes back: its cookie is sealed again too, and the key can go.
    until_cookie_resealed(&mut idle).await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let said = env.run(&["key", "retire", &old], "").success();
    assert!(said.contains(&format!("retired {old}")), "{said}");
    // Give the server the time to read the retired ring.
    tokio::time::sleep(Duration::from_millis(2500)).await;

    // Nobody was logged out: both browsers, their CSRF tokens, and the client secret.
    for browser in [&mut busy, &mut idle] {
        let token = browser.jar["csrftoken"].clone();
        let r = post_with_csrf(browser, &token, "made after the retirement").await;
        assert_eq!(r.status, 201, "{}", r.body);
    }
    assert_eq!(
        env.run(&["client-secret", "show", "joe"], "")
            .success_trimmed(),
        secret
    );
    // What only the retired key sealed no longer opens: the cookie from before.
    let mut replay = Client::new(&server.base);
    replay.jar.insert("sessionid".into(), cookie_before);
    let r = replay.get("/api/session").await;
    assert_eq!(r.status, 401, "{}", r.body);
    let ring = env.run_json(&["key", "list", "--json"]);
    assert_eq!(ring.as_array().unwrap().len(), 1);
    assert_eq!(ring[0]["id"], new.as_str());
}

on_both_backends!(
    /// A live cookie, a CSRF token and a client secret survive `key rotate` and
    /// `key retire`; retiring a key still needed is refused.
    key_rotation_logs_nobody_out,
    key_rotation_and_retirement_log_nobody_out
);

#[test]
fn a_pending_key_opens_at_once_and_seals_from_its_activation() {
    let env = Env::sqlite();
    env.run(&["key", "list"], "").success();
    let said = env
        .run(&["key", "rotate", "--activate-in", "1h"], "")
        .success();
    assert!(said.contains("opens from now on"), "{said}");
    let ring = env.run_json(&["key", "list", "--json"]);
    assert_eq!(ring[0]["state"], "pending");
    assert_eq!(ring[1]["state"], "sealing");
    // Retiring the key that still seals is refused; a bad duration is named.
    let sealing = ring[1]["id"].as_str().unwrap().to_owned();
    env.run(&["key", "retire", &sealing], "")
        .failure_with("seals now");
    env.run(&["key", "rotate", "--activate-in", "soon"], "")
        .failure_with("--activate-in");
    env.run(&["key", "retire", "00000000"], "")
        .failure_with("no key 00000000");
    // The key file stays private.
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(data_dir(&env).join("secret.key"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
}

/// The gateway configuration of the reload test: `/orders/**` needs `permission`.
fn orders_config(upstream: std::net::SocketAddr, permission: &str) -> String {
    format!(
        "[proxy]\nupstream = \"http://{upstream}\"\n{}",
        crate::harness::rules(&[(
            "GET /orders/**",
            &format!("permissions = [\"{permission}\"]")
        )])
    )
}

/// Sends SIGHUP to the server and waits (10 s at most) until its log says `line`.
async fn hang_up(server: &crate::harness::Server, line: &str) {
    let sent = std::process::Command::new("kill")
        .args(["-HUP", &server.pid().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !server.stderr().contains(line) {
        assert!(std::time::Instant::now() < deadline, "{}", server.stderr());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reloads_rules_under_load_without_a_failed_request() {
    let up = crate::upstream::start().await;
    let env = Env::sqlite().config(&orders_config(up, "orders:write"));
    env.add_role("reader", &["orders:read"]);
    env.add_user("joe", PW, &["--role", "reader"]);
    let server = env.serve_process(&[]);
    let mut c = Client::new(&server.base);
    let joe = c.login_token("joe", PW).await;
    let r = c.send_once(c.bearer(Method::GET, "/orders/1", &joe)).await;
    assert_eq!(r.status, 403, "{}", r.body);

    // Four clients on kept-alive connections, each request answered 403 (old rule) or
    // 200 (new rule): anything else, a refused connection included, is a failure.
    let stop = Arc::new(AtomicBool::new(false));
    let mut load = Vec::new();
    for _ in 0..4 {
        let (stop, url, joe) = (stop.clone(), server.url("/orders/1"), joe.clone());
        load.push(tokio::spawn(async move {
            let http = reqwest::Client::new();
            let mut seen = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let status = match http.get(&url).bearer_auth(&joe).send().await {
                    Ok(r) => r.status().as_u16(),
                    Err(e) => panic!("a request failed during the reload: {e}"),
                };
                seen.push(status);
            }
            seen
        }));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let config = env.path().join("tessera.toml");
    std::fs::write(&config, orders_config(up, "orders:read")).unwrap();
    hang_up(&server, "configuration reloaded").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::Relaxed);
    let mut total = 0;
    for task in load {
        let seen = task.await.unwrap();
        total += seen.len();
        // Each client saw the old rule, then the new one, and nothing else.
        let switch = seen.iter().position(|s| *s == 200).unwrap_or(seen.len());
        assert!(switch > 0, "the old rule was never seen: {seen:?}");
        assert!(switch < seen.len(), "the new rule was never seen");
        assert!(
            seen[..switch].iter().all(|s| *s == 403) && seen[switch..].iter().all(|s| *s == 200),
            "{seen:?}"
        );
    }
    assert!(total > 40, "hardly any load: {total} requests");

    // An invalid configuration is refused with the key named; the one in force stays.
    std::fs::write(
        &config,
        format!(
            "{}rate_limit = \"lots\"\n",
            orders_config(up, "orders:read")
        ),
    )
    .unwrap();
    hang_up(&server, "configuration reload refused").await;
    let refused = server
        .stderr()
        .lines()
        .find(|l| l.contains("configuration reload refused"))
        .unwrap()
        .to_owned();
    assert!(refused.contains("rules[0]"), "{refused}");
    let r = c.send_once(c.bearer(Method::GET, "/orders/1", &joe)).await;
    assert_eq!(r.status, 200, "{}", r.body);

    // A key only a restart can change is kept, and the log says so.
    std::fs::write(
        &config,
        format!(
            "[server]\nmax_header_bytes = 8192\n{}",
            orders_config(up, "orders:read")
        ),
    )
    .unwrap();
    hang_up(
        &server,
        "server.max_header_bytes changed: it takes effect at the next restart",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moving_to_postgresql_keeps_sessions_tokens_and_client_secrets() {
    let Some(pg) = Env::postgres().await else {
        return;
    };
    let target = pg
        .vars
        .iter()
        .find(|(k, _)| k == "TESSERA_DATABASE__URL")
        .map(|(_, v)| v.clone())
        .unwrap();
    let env = Env::sqlite();
    env.add_user("joe", PW, &[]);
    let pat = env.create_token("joe", "kept", &[]).success_trimmed();
    let secret = env
        .run(&["client-secret", "show", "joe"], "")
        .success_trimmed();
    let server = env.serve(&[]);
    let mut browser = Client::new(&server.base);
    let r = browser.send(browser.json_login("joe", PW)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let mut api = Client::new(&server.base);
    let session = api.login_token("joe", PW).await;
    drop(server);

    env.run(&["migrate", "--to", "mysql://db/tessera"], "")
        .failure_with("--to");
    let said = env.run(&["migrate", "--to", &target], "").success();
    assert!(said.contains("counts and contents checked"), "{said}");
    for table in [
        "users",
        "sessions",
        "personal_tokens",
        "client_secrets",
        "audit_log",
    ] {
        let line = said
            .lines()
            .find(|l| l.starts_with(table))
            .unwrap_or_else(|| panic!("no line for {table}: {said}"));
        assert!(line.ends_with("same"), "{line}");
    }
    let sessions_line = said.lines().find(|l| l.starts_with("sessions")).unwrap();
    assert!(
        sessions_line.split_whitespace().nth(1) == Some("2"),
        "{sessions_line}"
    );
    assert!(said.contains("url = \""), "{said}");
    // The password in the URL is never printed.
    if let Some(password) = target
        .split("://")
        .nth(1)
        .and_then(|rest| rest.split('@').next())
        .and_then(|auth| auth.split_once(':'))
        .map(|(_, p)| p)
    {
        assert!(!said.contains(&format!(":{password}@")), "{said}");
    }
    // A second copy into the same database is refused.
    env.run(&["migrate", "--to", &target], "")
        .failure_with("already holds");

    // The switch: the same data directory (the same key file), on PostgreSQL.
    let env = env.with("TESSERA_DATABASE__URL", &target);
    let server = env.serve(&[]);
    browser.base = server.base.clone();
    api.base = server.base.clone();
    let r = browser.get("/api/session").await;
    assert_eq!(r.status, 200, "the cookie: {}", r.body);
    for token in [&session, &pat] {
        let r = api
            .send_once(api.bearer(Method::GET, "/api/session", token))
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
    assert_eq!(
        env.run(&["client-secret", "show", "joe"], "")
            .success_trimmed(),
        secret
    );
    // New rows get new ids after the copied ones.
    env.add_user("ann", PW, &[]);
    let ann = api.login_token("ann", PW).await;
    let r = api
        .send_once(api.bearer(Method::GET, "/api/session", &ann))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
}

/// A file of the first-release fixture (`tests/fixtures/first-release/make.sh` made it
/// with that release's own binary).
fn first_release(file: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/tests/fixtures/first-release/{file}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

/// The highest applied migration of the environment's database.
async fn schema_of(env: &Env) -> i64 {
    let sql = "SELECT MAX(version) FROM _sqlx_migrations WHERE success";
    match env.vars.iter().find(|(k, _)| k == "TESSERA_DATABASE__URL") {
        Some((_, url)) => {
            let pool = sqlx::PgPool::connect(url).await.unwrap();
            sqlx::query_scalar(sql).fetch_one(&pool).await.unwrap()
        }
        None => {
            let url = format!("sqlite://{}", data_dir(env).join("tessera.db").display());
            let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
            sqlx::query_scalar(sql).fetch_one(&pool).await.unwrap()
        }
    }
}

async fn a_first_release_database_upgrades_and_keeps_its_credentials(env: Env) {
    let credentials: serde_json::Value =
        serde_json::from_str(&first_release("credentials.json")).unwrap();
    let backend = match env.vars.iter().find(|(k, _)| k == "TESSERA_DATABASE__URL") {
        Some((_, url)) => {
            let pool = sqlx::PgPool::connect(url).await.unwrap();
            sqlx::raw_sql(sqlx::AssertSqlSafe(first_release("postgres.sql")))
                .execute(&pool)
                .await
                .unwrap();
            pool.close().await;
            "postgres"
        }
        None => {
            std::fs::create_dir_all(data_dir(&env)).unwrap();
            let options = sqlx::sqlite::SqliteConnectOptions::new()
                .filename(data_dir(&env).join("tessera.db"))
                .create_if_missing(true);
            let pool = sqlx::SqlitePool::connect_with(options).await.unwrap();
            sqlx::raw_sql(sqlx::AssertSqlSafe(first_release("sqlite.sql")))
                .execute(&pool)
                .await
                .unwrap();
            pool.close().await;
            "sqlite"
        }
    };
    let made = &credentials[backend];
    assert_eq!(
        schema_of(&env).await,
        1,
        "the fixture is at the first schema"
    );

    // Upgraded in place to the current schema.
    let said = env.run(&["migrate"], "").success();
    assert!(said.contains("migrations applied"), "{said}");
    assert_eq!(schema_of(&env).await, tessera_store::SCHEMA_VERSION);

    // Everything made through the first release still works.
    let shown = env.run_json(&["user", "show", "joe", "--json"]);
    assert_eq!(shown["email"], "joe@example.com", "{shown}");
    assert!(shown.to_string().contains("orders:read"), "{shown}");
    let audit = env
        .run(&["audit", "--since", "3650d", "--json"], "")
        .success();
    assert!(audit.contains("login"), "the audit log was kept: {audit}");
    let server = env.serve(&[]);
    let mut c = Client::new(&server.base);
    for token in ["session", "pat"] {
        let value = made[token].as_str().unwrap();
        let r = c
            .send_once(c.bearer(Method::GET, "/api/session", value))
            .await;
        assert_eq!(r.status, 200, "the first release's {token}: {}", r.body);
    }
    let r = c
        .send_once(
            c.req(Method::POST, "/api/login/key")
                .json(&serde_json::json!({
                    "apiKey": made["api_key"],
                    "apiSecret": made["api_secret"],
                })),
        )
        .await;
    assert_eq!(r.status, 200, "the first release's API key: {}", r.body);
    let password = credentials["password"].as_str().unwrap();
    let r = c.send_once(c.basic_login("joe", password)).await;
    assert_eq!(
        r.status, 200,
        "the first release's password hash: {}",
        r.body
    );
}

on_both_backends!(
    /// A database made by the first release is migrated forward, and its sessions,
    /// tokens, API keys, password and roles keep working.
    first_release_database_upgrades,
    a_first_release_database_upgrades_and_keeps_its_credentials
);
