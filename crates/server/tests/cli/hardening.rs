//! Attacks on logins: guessing and spraying are throttled in the store, atomically.

use reqwest::Method;
use serde_json::json;

use crate::client::{Client, PW};
use std::time::{Duration, Instant};

use crate::harness::{Env, Server, pg_admin, pg_connect};

/// Whether a request made by `request` is answered 200 within ten seconds (asked every
/// 200 ms, as a header-only client).
async fn answered_200_within_10s(
    c: &mut Client,
    request: impl Fn(&Client) -> reqwest::RequestBuilder,
) -> bool {
    for _ in 0..50 {
        if c.send_once(request(c)).await.status == 200 {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    false
}

async fn guessing(env: Env) {
    let env = env.config("[throttle]\naccount_max_failures = 5\nip_max_failures = 10000\n");
    env.add_user("joe", PW, &[]);
    env.add_user("ann", PW, &[]);
    let server = env.serve(&[]);
    let http = reqwest::Client::new();
    let url = server.url("/api/login");

    // 200 concurrent wrong guesses evaluate at most 5 passwords; the rest are 429.
    let mut tasks = Vec::new();
    for who in ["joe", "nobody"] {
        for i in 0..100 {
            let (http, url) = (http.clone(), url.clone());
            tasks.push(tokio::spawn(async move {
                let r = http
                    .post(url)
                    .json(&json!({"username": who, "password": format!("guess number {i}")}))
                    .send()
                    .await
                    .unwrap();
                (
                    who,
                    r.status().as_u16(),
                    r.headers().get("retry-after").is_some(),
                )
            }));
        }
    }
    let mut counts = std::collections::BTreeMap::new();
    for t in tasks {
        let (who, status, retry) = t.await.unwrap();
        if status == 429 {
            assert!(retry, "429 carries Retry-After");
        }
        *counts.entry((who, status)).or_insert(0) += 1;
    }
    // Existing and unknown accounts behave the same.
    assert_eq!(counts.get(&("joe", 401)), Some(&5), "{counts:?}");
    assert_eq!(counts.get(&("joe", 429)), Some(&95), "{counts:?}");
    assert_eq!(counts.get(&("nobody", 401)), Some(&5), "{counts:?}");
    assert_eq!(counts.get(&("nobody", 429)), Some(&95), "{counts:?}");

    // While locked, even the right password is not checked.
    let mut c = Client::new(&server.base);
    let r = c.send(c.json_login("joe", PW)).await;
    r.assert_problem(429, "too_many_attempts");
    // Basic and the other spelling of the login share the counter.
    let r = c
        .send(c.req(Method::GET, "/api/login").basic_auth("JOE", Some(PW)))
        .await;
    assert_eq!(r.status, 429);

    // A success resets the account's count.
    c.jar.clear();
    for round in 0..3 {
        for _ in 0..4 {
            let r = c.send_once(c.json_login("ann", "not it at all")).await;
            assert_eq!(r.status, 401, "round {round}");
        }
        let r = c.send_once(c.json_login("ann", PW)).await;
        assert_eq!(r.status, 200, "round {round}");
    }
}

on_both_backends!(password_guessing_is_throttled, guessing);

/// One address trying many accounts (password spraying) is throttled by address.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_spraying_is_throttled_by_address() {
    let env = Env::sqlite().config(
        "[server]\ntrusted_proxies = [\"127.0.0.1\"]\n[throttle]\naccount_max_failures = 100\nip_max_failures = 6\n",
    );
    env.add_user("joe", PW, &[]);
    let server = env.serve(&[]);
    let mut c = Client::new(&server.base);
    let attempt = |c: &Client, who: &str, password: &str, from: &str| {
        c.json_login(who, password)
            .header("x-forwarded-for", from)
            .header("x-forwarded-proto", "https")
    };
    let spray = "Summer2026!!";
    for i in 0..6 {
        let who = format!("user{i}");
        let r = c.send_once(attempt(&c, &who, spray, "203.0.113.9")).await;
        assert_eq!(r.status, 401);
    }
    let r = c
        .send_once(attempt(&c, "user99", spray, "203.0.113.9"))
        .await;
    r.assert_problem(429, "too_many_attempts");
    // Another address is not affected, and neither is Joe from it.
    let r = c.send(attempt(&c, "joe", PW, "198.51.100.7")).await;
    assert_eq!(r.status, 200);
}

/// Security events land in the audit log (store, CLI, `{base}/audit`) and as log lines,
/// with the method, and never with a secret.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_log_records_security_events() {
    let env = Env::sqlite();
    env.run(&["role", "add", "ops", "--permission", "deploy:run"], "")
        .success();
    env.add_user("joe", PW, &[]);
    env.add_user("ann", PW, &[]);
    env.run(&["role", "grant", "joe", "ops"], "").success();
    let server = env.serve(&["--log-format", "json"]);
    let mut c = Client::new(&server.base);
    let r = c.send_once(c.form_login_at("/api/login", "joe", PW)).await;
    assert_eq!(r.status, 200);
    let token = r.body.clone();
    let r = c
        .send(
            c.req(Method::GET, "/api/login")
                .basic_auth("joe", Some("wrong password!!")),
        )
        .await;
    assert_eq!(r.status, 401);
    let ci = json!({"name": "ci"});
    let pat = c
        .send(c.bearer(Method::POST, "/api/tokens", &token).json(&ci))
        .await;
    let (pat_value, pat_id) = (pat.field("token"), pat.field("id"));
    let pat_path = format!("/api/tokens/{pat_id}");
    c.send(c.bearer(Method::DELETE, &pat_path, &token)).await;
    c.send(c.json_login("ann", PW)).await;

    // The user sees their own events, not ann's.
    let mine = c
        .send(c.bearer(Method::GET, "/api/audit", &token))
        .await
        .json();
    let events: Vec<(String, String, Option<String>)> = mine
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["event"].as_str().unwrap().to_owned(),
                e["outcome"].as_str().unwrap().to_owned(),
                e["method"].as_str().map(str::to_owned),
            )
        })
        .collect();
    for expected in [
        ("login", "success", Some("form")),
        ("token_created", "success", None),
        ("token_revoked", "success", None),
        ("role_granted", "success", Some("cli")),
        ("user_created", "success", None),
    ] {
        let e = (
            expected.0.to_owned(),
            expected.1.to_owned(),
            expected.2.map(str::to_owned),
        );
        assert!(events.contains(&e), "{e:?} missing from {events:?}");
    }
    assert!(mine.as_array().unwrap().iter().all(|e| e["login"] != "ann"));

    // The CLI sees everything, including failures with their method.
    env.run(&["user", "disable", "ann"], "").success();
    let all = env.run_json(&["audit", "--since", "1h", "--json"]);
    let has = |event: &str, outcome: &str, method: Option<&str>, login: &str| {
        all.as_array().unwrap().iter().any(|e| {
            e["event"] == event
                && e["outcome"] == outcome
                && e["login"] == login
                && method.is_none_or(|m| e["method"] == m)
        })
    };
    assert!(has("login", "failure", Some("basic"), "joe"));
    assert!(has("login", "success", Some("json"), "ann"));
    assert!(has("user_disabled", "success", None, "ann"));
    let only_ann = env.run_json(&["audit", "--user", "ann", "--json"]);
    assert!(
        only_ann
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["login"] == "ann")
    );
    let text = env.run(&["audit"], "").success();
    assert!(text.contains("token_created"));

    // Structured log lines, and no secret anywhere.
    let logs = server.stderr();
    assert!(
        logs.lines()
            .any(|l| l.contains("\"target\":\"tessera::audit\"")
                && l.contains("\"event\":\"login\"")),
        "{logs}"
    );
    for secret in [token.as_str(), pat_value.as_str(), PW, "wrong password!!"] {
        assert!(!logs.contains(secret), "a secret reached the logs");
        assert!(
            !all.to_string().contains(secret),
            "a secret reached the audit log"
        );
    }
}

on_postgres!(
    /// When the database is unreachable every decision is 503 (never a cached allow), and
    /// Tessera recovers by itself when it returns.
    database_outage_fails_closed_and_recovers,
    database_outage
);

async fn database_outage(env: Env) {
    env.add_user("joe", PW, &[]);
    let server = env.serve(&[]);
    let mut c = Client::new(&server.base);
    let token = c.login_token("joe", PW).await;
    let session = |c: &Client| c.bearer(Method::GET, "/api/session", &token);
    assert_eq!(c.send(session(&c)).await.status, 200);

    let (mut admin, db) = pg_admin(&env).await;
    let exec = |sql: String| sqlx::query(sqlx::AssertSqlSafe(sql));
    exec(format!("ALTER DATABASE {db} ALLOW_CONNECTIONS false"))
        .execute(&mut admin)
        .await
        .unwrap();
    exec(format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{db}'"
    ))
    .execute(&mut admin)
    .await
    .unwrap();

    // Under a stream of requests, nothing is allowed while the database is gone (after
    // the one second a verified credential may be served from memory).
    crate::credentials::settle().await;
    for _ in 0..20 {
        let r = c.send_once(session(&c)).await;
        r.assert_problem(503, "service_unavailable");
        assert!(
            !r.body.contains("postgres") && !r.body.contains(&db),
            "no internals: {}",
            r.body
        );
    }
    let r = c.send_once(c.basic_login("joe", PW)).await;
    assert_eq!(r.status, 503);
    assert_eq!(c.get("/readyz").await.status, 503);
    c.jar.clear();

    exec(format!("ALTER DATABASE {db} ALLOW_CONNECTIONS true"))
        .execute(&mut admin)
        .await
        .unwrap();
    assert!(
        answered_200_within_10s(&mut c, session).await,
        "Tessera recovers by itself when the database returns"
    );
    assert_eq!(c.get("/readyz").await.status, 200);
}

/// SIGKILL in the middle of logins, token creations and revocations: after a restart,
/// every acknowledged credential works and every acknowledged revocation holds.
async fn crash_safety(env: Env) {
    env.add_user("joe", PW, &[]);
    let server = env.serve_process(&[]);
    let base = server.base.clone();
    let worker = tokio::spawn(async move {
        let http = reqwest::Client::new();
        let login = http
            .post(format!("{base}/api/login"))
            .basic_auth("joe", Some(PW))
            .send()
            .await
            .unwrap();
        let session = login.text().await.unwrap();
        let bearer = format!("Bearer {session}");
        let (mut live, mut revoked, mut sessions) = (Vec::new(), Vec::new(), vec![session.clone()]);
        for i in 0.. {
            let created = http
                .post(format!("{base}/api/tokens"))
                .header("authorization", &bearer)
                .json(&json!({"name": format!("t{i}")}))
                .send()
                .await;
            let Ok(created) = created else { break };
            if created.status() != 201 {
                break;
            }
            let Ok(v) = created.json::<serde_json::Value>().await else {
                break;
            };
            live.push((
                v["id"].as_str().unwrap().to_owned(),
                v["token"].as_str().unwrap().to_owned(),
            ));
            if i % 2 == 1 {
                let (id, value) = live.remove(0);
                match http
                    .delete(format!("{base}/api/tokens/{id}"))
                    .header("authorization", &bearer)
                    .send()
                    .await
                {
                    Ok(r) if r.status() == 204 => revoked.push(value),
                    // Not acknowledged: it may or may not have happened.
                    _ => break,
                }
            }
            if i % 5 == 0 {
                match http
                    .post(format!("{base}/api/login"))
                    .basic_auth("joe", Some(PW))
                    .send()
                    .await
                {
                    Ok(r) if r.status() == 200 => sessions.push(r.text().await.unwrap_or_default()),
                    _ => break,
                }
            }
        }
        (live, revoked, sessions)
    });
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    server.kill();
    let (live, revoked, sessions) = worker.await.unwrap();
    assert!(
        live.len() + revoked.len() > 5,
        "the stream ran: {} live, {} revoked",
        live.len(),
        revoked.len()
    );

    let server = env.serve_process(&[]);
    let mut c = Client::new(&server.base);
    let status = |c: &Client, t: &str| c.bearer(Method::GET, "/api/session", t);
    for (_, t) in &live {
        let r = c.send_once(status(&c, t)).await;
        assert_eq!(r.status, 200, "an acknowledged token was lost");
    }
    for t in sessions.iter().filter(|s| !s.is_empty()) {
        let r = c.send_once(status(&c, t)).await;
        assert_eq!(r.status, 200, "an acknowledged session was lost");
    }
    for t in &revoked {
        let r = c.send_once(status(&c, t)).await;
        assert_eq!(r.status, 401, "an acknowledged revocation was lost");
    }
}

on_both_backends!(crash_safety, crash_safety);

on_postgres!(
    /// Revocations are pushed (LISTEN/NOTIFY): three instances share one PostgreSQL, and
    /// each of 100 tokens revoked on the first is refused by the other two, which had it
    /// cached for far longer, well within a second. When the feed is down, the cache falls
    /// back to its one-second lifetime.
    revocations_are_pushed_to_every_instance,
    revocations_are_pushed
);

/// A token's answer on `/api/session` (200 or 401).
async fn session_status(http: &reqwest::Client, server: &Server, token: &str) -> u16 {
    http.get(server.url("/api/session"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// How long after `since` `server` refused `token`, asked every 2 ms; `None` past `limit`.
async fn refused_after(
    http: &reqwest::Client,
    server: &Server,
    token: &str,
    since: Instant,
    limit: Duration,
) -> Option<Duration> {
    loop {
        match session_status(http, server, token).await {
            401 => return Some(since.elapsed()),
            200 if since.elapsed() < limit => {}
            200 => return None,
            other => panic!("unexpected {other}"),
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// A new personal access token of the session's user, made on `server`: (id, value).
async fn new_pat(http: &reqwest::Client, server: &Server, session: &str) -> (String, String) {
    let v: serde_json::Value = http
        .post(server.url("/api/tokens"))
        .bearer_auth(session)
        .json(&json!({"name": "pushed"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    (
        v["id"].as_str().unwrap().to_owned(),
        v["token"].as_str().unwrap().to_owned(),
    )
}

async fn revoke_pat(http: &reqwest::Client, server: &Server, session: &str, id: &str) {
    let r = http
        .delete(server.url(&format!("/api/tokens/{id}")))
        .bearer_auth(session)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
}

async fn revocations_are_pushed(env: Env) {
    env.add_user("joe", PW, &[]);
    let servers = [env.serve(&[]), env.serve(&[]), env.serve(&[])];
    let [a, others @ ..] = &servers;
    let http = reqwest::Client::new();
    let session = Client::new(&a.base).login_token("joe", PW).await;
    let (mut admin, db) = pg_admin(&env).await;
    let exec = |sql: String| sqlx::query(sqlx::AssertSqlSafe(sql));
    let mut owner = pg_connect(&env).await;
    let listening = async |admin: &mut sqlx::PgConnection| -> i64 {
        sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = '{db}' \
             AND application_name = 'tessera revocation feed' AND query LIKE 'LISTEN%'"
        )))
        .fetch_one(admin)
        .await
        .unwrap()
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while listening(&mut admin).await < 3 {
        assert!(Instant::now() < deadline, "every instance listens");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // 100 revocations on the first instance, each checked on the other two.
    let mut seen = Vec::new();
    for _ in 0..100 {
        let (id, token) = new_pat(&http, a, &session).await;
        for s in others {
            assert_eq!(session_status(&http, s, &token).await, 200);
        }
        revoke_pat(&http, a, &session, &id).await;
        let revoked = Instant::now();
        assert_eq!(
            session_status(&http, a, &token).await,
            401,
            "at once where revoked"
        );
        let limit = Duration::from_secs(1);
        let (b, c) = tokio::join!(
            refused_after(&http, &others[0], &token, revoked, limit),
            refused_after(&http, &others[1], &token, revoked, limit),
        );
        seen.push(b.expect("refused by the second instance within 1 s"));
        seen.push(c.expect("refused by the third instance within 1 s"));
    }
    seen.sort();
    eprintln!(
        "revocation seen by the other instances: p50 {:?}, p99 {:?}, max {:?}",
        seen[seen.len() / 2],
        seen[seen.len() * 99 / 100],
        seen[seen.len() - 1]
    );

    // What makes it prompt is the push, not the cache lifetime: a revocation that is not
    // announced (its trigger switched off) is still served from memory after 1.5 s.
    let quiet = |on: bool| {
        exec(format!(
            "ALTER TABLE personal_tokens {} TRIGGER personal_tokens_revoked",
            if on { "ENABLE" } else { "DISABLE" }
        ))
    };
    let (id, token) = new_pat(&http, a, &session).await;
    assert_eq!(session_status(&http, &others[0], &token).await, 200);
    quiet(false).execute(&mut owner).await.unwrap();
    revoke_pat(&http, a, &session, &id).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        session_status(&http, &others[0], &token).await,
        200,
        "cached for longer than the fallback lifetime while the feed is live"
    );

    // The feed is lost and cannot come back (no new connections): the cache falls back to
    // its one-second lifetime, so even an unannounced revocation holds within it.
    let (id, token) = new_pat(&http, a, &session).await;
    assert_eq!(session_status(&http, &others[0], &token).await, 200);
    exec(format!("ALTER DATABASE {db} ALLOW_CONNECTIONS false"))
        .execute(&mut admin)
        .await
        .unwrap();
    exec(format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{db}' \
         AND application_name = 'tessera revocation feed'"
    ))
    .execute(&mut admin)
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    revoke_pat(&http, a, &session, &id).await;
    let revoked = Instant::now();
    let after = refused_after(&http, &others[0], &token, revoked, Duration::from_secs(3)).await;
    assert!(
        after.is_some_and(|d| d <= Duration::from_millis(1300)),
        "refused within the fallback lifetime: {after:?}"
    );

    // The feed comes back with the database's connections: pushed again.
    exec(format!("ALTER DATABASE {db} ALLOW_CONNECTIONS true"))
        .execute(&mut admin)
        .await
        .unwrap();
    quiet(true).execute(&mut owner).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while listening(&mut admin).await < 3 {
        assert!(Instant::now() < deadline, "every instance listens again");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (id, token) = new_pat(&http, a, &session).await;
    assert_eq!(session_status(&http, &others[1], &token).await, 200);
    revoke_pat(&http, a, &session, &id).await;
    let revoked = Instant::now();
    let after = refused_after(&http, &others[1], &token, revoked, Duration::from_secs(1)).await;
    assert!(after.is_some(), "pushed again once the feed is back");
}

/// Marks files immutable (`chattr +i`, root only) until dropped.
struct Immutable(Vec<std::path::PathBuf>);

impl Immutable {
    fn set(files: Vec<std::path::PathBuf>) -> Option<Self> {
        let ok = std::process::Command::new("chattr")
            .arg("+i")
            .args(&files)
            .status()
            .is_ok_and(|s| s.success());
        ok.then_some(Self(files))
    }
}

impl Drop for Immutable {
    fn drop(&mut self) {
        let _ = std::process::Command::new("chattr")
            .arg("-i")
            .args(&self.0)
            .status();
    }
}

/// SQLite files that cannot be written: every write answers 503 (nothing claims success),
/// and Tessera recovers when they can be written again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unwritable_sqlite_fails_closed_and_recovers() {
    let env = Env::sqlite();
    env.add_user("joe", PW, &[]);
    let server = env.serve_process(&[]);
    let mut c = Client::new(&server.base);
    let token = c.login_token("joe", PW).await;
    let dir = crate::harness::data_dir(&env);
    // The database and its write-ahead log. (The shared-memory index is mapped into the
    // process; making it immutable under a running server kills the process with SIGBUS,
    // which fails closed too, but is not what this test is about.)
    let files: Vec<_> = ["tessera.db", "tessera.db-wal"]
        .iter()
        .map(|f| dir.join(f))
        .filter(|p| p.exists())
        .collect();
    let Some(guard) = Immutable::set(files) else {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("chattr +i is not available under CI");
        }
        eprintln!("\n*** SKIPPING unwritable-SQLite test: chattr +i needs root ***\n");
        return;
    };
    let r = c.send_once(c.basic_login("joe", PW)).await;
    r.assert_problem(503, "service_unavailable");
    let r = c
        .send_once(c.bearer(Method::DELETE, "/api/session", &token))
        .await;
    assert_eq!(
        r.status, 503,
        "a revocation that was not stored is not acknowledged"
    );
    drop(guard);
    let login = |c: &Client| c.basic_login("joe", PW);
    assert!(
        answered_200_within_10s(&mut c, login).await,
        "writes work again once the files are writable: {}",
        server.stderr()
    );
    let r = c
        .send(c.bearer(Method::DELETE, "/api/session", &token))
        .await;
    assert_eq!(r.status, 204);
}

/// When a credential is not in the verification cache, concurrent requests for it wait
/// for one store read instead of each reading the store (a thundering herd every second
/// on a busy token).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_verifications_of_one_token_read_the_store_once() {
    use std::sync::Arc;
    use tessera_core::keys::{KeyRing, Keys};
    use tessera_core::{
        Accounts, Authenticator, Login, NewUser, Password, PasswordHasher, PasswordParams,
        PasswordPolicy, SecretKey,
    };
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("tessera.db").display());
    let store = tessera_store::open(&url, &Default::default())
        .await
        .unwrap();
    let cheap = PasswordParams {
        memory_kib: 64,
        iterations: 1,
        parallelism: 1,
    };
    let hasher = PasswordHasher::new(cheap, Some(1)).unwrap();
    let accounts = Accounts::new(Arc::clone(&store), hasher, PasswordPolicy::default());
    let user = accounts
        .create_user(
            NewUser::new(Login::parse("joe").unwrap()),
            &Password::new(PW),
        )
        .await
        .unwrap();
    let auth = Authenticator::new(
        accounts,
        Default::default(),
        Default::default(),
        Default::default(),
        &Keys::new(KeyRing::new(SecretKey::generate().0)),
    );
    let (_, token) = auth
        .create_pat(&user, &Default::default(), "herd", None, None)
        .await
        .unwrap();
    let token = token.expose().to_owned();
    assert_eq!(auth.credential_reads(), 0);
    let verifications: Vec<_> = (0..64)
        .map(|_| {
            let (auth, token) = (auth.clone(), token.clone());
            tokio::spawn(async move { auth.verify_token(&token).await.is_ok() })
        })
        .collect();
    for v in verifications {
        assert!(v.await.unwrap());
    }
    assert_eq!(
        auth.credential_reads(),
        1,
        "64 concurrent verifications, one store read"
    );
    assert_eq!(auth.pending_credential_reads(), 0, "the read left the map");
    // A malformed token is refused before the store.
    assert!(auth.verify_token("tsp_nope").await.is_err());
    assert_eq!(
        auth.credential_reads(),
        1,
        "malformed: refused before the store"
    );
    // Waiters that give up mid-read (clients disconnecting) leave nothing behind: each
    // verification is polled once (it registers its read and waits for the store) and
    // then dropped.
    let mut abandoned = 0;
    for _ in 0..50 {
        let unknown =
            tessera_core::token::Token::generate(tessera_core::token::TokenKind::PersonalAccess);
        let verification = auth.verify_token(unknown.expose());
        tokio::pin!(verification);
        tokio::select! {
            biased;
            answer = &mut verification => assert!(answer.is_err(), "an unknown token is refused"),
            () = std::future::ready(()) => abandoned += 1,
        }
    }
    assert!(abandoned > 0, "some reads were abandoned mid-way");
    assert_eq!(
        auth.pending_credential_reads(),
        0,
        "abandoned reads left entries"
    );
}
