//! `tessera serve`: first start, restart, probes, shutdown, secret key handling.

use std::os::unix::fs::PermissionsExt;

use tessera_core::Password;

use crate::harness::{Env, data_dir, pg_admin, sqlite_accounts};

fn generated_password(stderr: &str) -> Option<String> {
    stderr.lines().find_map(|l| {
        l.split_once("shown only this once: ")
            .map(|(_, p)| p.trim().to_owned())
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_start_creates_admin_and_key_and_a_restart_reuses_them() {
    let env = Env::sqlite();
    let server = env.serve_process(&[]);
    let http = reqwest::Client::new();
    let res = http.get(server.url("/healthz")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["x-content-type-options"], "nosniff");
    let res = http.get(server.url("/readyz")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let missing = http.get(server.url("/no/such/path")).send().await.unwrap();
    assert_eq!(missing.status(), 404);
    assert_eq!(
        missing.headers()["content-type"],
        "application/problem+json"
    );

    let first_stderr = server.stderr();
    let status = server.terminate();
    assert!(status.success(), "graceful shutdown exits 0: {status:?}");

    let password = generated_password(&first_stderr).expect("admin password printed");
    assert_eq!(password.len(), 20);
    assert_eq!(
        first_stderr.matches(&password).count(),
        1,
        "printed exactly once"
    );

    let key = data_dir(&env).join("secret.key");
    let meta = std::fs::metadata(&key).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    let dir_mode = std::fs::metadata(data_dir(&env))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(dir_mode & 0o077, 0, "data dir closed to others");
    let key_text = std::fs::read_to_string(&key).unwrap();

    // The printed password is the admin's, and the admin holds `*`.
    let accounts = sqlite_accounts(&env).await;
    let admin = accounts
        .authenticate("admin", &Password::new(password.clone()))
        .await
        .unwrap();
    let admin = admin.expect("printed password logs in");
    assert_eq!(admin.roles, ["admin"]);
    assert!(
        accounts
            .store()
            .permissions_of(admin.id)
            .await
            .unwrap()
            .allows("anything:at-all")
    );
    drop(accounts);

    let server = env.serve_process(&[]);
    let res = http.get(server.url("/readyz")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let second_stderr = server.stderr();
    server.terminate();
    assert!(
        generated_password(&second_stderr).is_none(),
        "{second_stderr}"
    );
    assert!(!second_stderr.contains(&password));
    assert_eq!(
        std::fs::read_to_string(&key).unwrap(),
        key_text,
        "key reused"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_password_can_come_from_the_environment() {
    let env = Env::sqlite().with("TESSERA_ADMIN_PASSWORD", "a perfectly fine passphrase");
    let server = env.serve_process(&[]);
    let stderr = server.stderr();
    server.terminate();
    assert!(!stderr.contains("a perfectly fine passphrase"), "{stderr}");
    assert!(generated_password(&stderr).is_none());
    let accounts = sqlite_accounts(&env).await;
    let ok = accounts
        .authenticate("admin", &Password::new("a perfectly fine passphrase"))
        .await
        .unwrap();
    assert!(ok.is_some());

    let weak = Env::sqlite().with("TESSERA_ADMIN_PASSWORD", "admin");
    let line = weak.run(&["serve"], "").serve_failure();
    assert!(
        line.contains("TESSERA_ADMIN_PASSWORD") && line.contains("at least 12"),
        "{line}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_file_readable_by_others_is_refused() {
    let env = Env::sqlite();
    env.serve_process(&[]).terminate();
    let key = data_dir(&env).join("secret.key");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let line = env.run(&["serve"], "").serve_failure();
    assert!(
        line.contains("readable by others") && line.contains("chmod 600"),
        "{line}"
    );

    // An explicitly configured key file must exist; it is never generated.
    let env = Env::sqlite().with(
        "TESSERA_SERVER__SECRET_KEY_FILE",
        "/nonexistent/tessera.key",
    );
    let line = env.run(&["serve"], "").serve_failure();
    assert!(line.contains("server.secret_key_file"), "{line}");

    // A key from the environment writes no key file.
    let env = Env::sqlite().with("TESSERA_SECRET_KEY", &"k".repeat(40));
    env.serve_process(&[]).terminate();
    assert!(!data_dir(&env).join("secret.key").exists());
    let env = Env::sqlite().with("TESSERA_SECRET_KEY", "short");
    let line = env.run(&["serve"], "").serve_failure();
    assert!(line.contains("TESSERA_SECRET_KEY"), "{line}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_are_one_object_per_line() {
    let env = Env::sqlite().with("TESSERA_ADMIN_PASSWORD", "a perfectly fine passphrase");
    let server = env.serve(&["--log-format", "json"]);
    server.terminate();
    let env2 = Env::sqlite().with("TESSERA_ADMIN_PASSWORD", "a perfectly fine passphrase");
    let server = env2.serve(&["--log-format", "json"]);
    let stderr = server.stderr();
    server.terminate();
    let mut seen = 0;
    for line in stderr.lines().filter(|l| !l.is_empty()) {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(v["level"].is_string() && v["message"].is_string(), "{line}");
        seen += 1;
    }
    assert!(seen >= 1);
    assert!(stderr.contains("listening on http://"));
}

on_postgres!(readiness_follows_the_database, readiness);

async fn readiness(env: Env) {
    let server = env.serve(&[]);
    let http = reqwest::Client::new();
    let get = async |path: &str| http.get(server.url(path)).send().await.unwrap();
    assert_eq!(get("/readyz").await.status(), 200);

    // Take the database away under the running server: readiness must fail closed.
    let (mut admin, db) = pg_admin(&env).await;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE {db} WITH (FORCE)"
    )))
    .execute(&mut admin)
    .await
    .unwrap();
    let res = get("/readyz").await;
    assert_eq!(res.status(), 503);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["code"], "service_unavailable");
    let text = body.to_string();
    assert!(
        !text.contains("postgres://") && !text.contains(&db),
        "no internals leak: {text}"
    );
    assert_eq!(get("/healthz").await.status(), 200);
}

/// Password hashing cannot take the cores from request handling: the hashing threads run
/// at nice 10 and the request threads ask for the scheduler's shortest slice.
#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hashing_threads_yield_to_request_threads() {
    let env = Env::sqlite();
    let server = env.serve_process(&[]);
    let mut hashing = 0;
    let mut workers = 0;
    for task in std::fs::read_dir(format!("/proc/{}/task", server.pid())).unwrap() {
        let task = task.unwrap().path();
        let name = std::fs::read_to_string(task.join("comm")).unwrap_or_default();
        let stat = std::fs::read_to_string(task.join("stat")).unwrap_or_default();
        // Field 19 of /proc/<pid>/task/<tid>/stat, counted after the parenthesised name.
        let nice: i32 = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(16))
            .and_then(|n| n.parse().ok())
            .unwrap_or(-100);
        let sched = std::fs::read_to_string(task.join("sched")).unwrap_or_default();
        let slice = sched
            .lines()
            .find(|l| l.starts_with("se.slice"))
            .and_then(|l| l.rsplit(':').next())
            .and_then(|v| v.trim().parse::<u64>().ok());
        if name.starts_with("tessera-argon2") {
            hashing += 1;
            assert_eq!(nice, 10, "hashing thread {name}");
        } else if name.starts_with("tokio-rt-worker") {
            workers += 1;
            assert_eq!(nice, 0, "request thread {name}");
            // Kernels before EEVDF custom slices (6.12) show no se.slice.
            if let Some(slice) = slice {
                assert_eq!(slice, 100_000, "request thread {name} slice");
            }
        }
    }
    assert!(hashing >= 1, "hashing threads exist");
    assert!(workers >= 1, "request threads exist");
}

/// A taken port fails the start before anything is created, so the first admin's
/// one-time password is never printed for a server that did not start.
#[test]
fn a_taken_port_fails_before_the_first_admin_is_created() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let env = Env::sqlite().with("TESSERA_SERVER__LISTEN", &addr);
    let run = env.run(&["serve"], "");
    let line = run.serve_failure();
    assert!(line.contains("server.listen"), "{line}");
    assert!(!run.stderr().contains("password"), "{}", run.stderr());
    assert!(
        !data_dir(&env).join("tessera.db").exists(),
        "no database was created"
    );
}

/// A connection that never sends a request does not hold up a shutdown (it has nothing to
/// finish), however long the header-read timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_connection_does_not_delay_shutdown() {
    let env = Env::sqlite().config("[server]\nheader_read_timeout = \"60s\"\n");
    let server = env.serve_process(&[]);
    let addr = server.url("").trim_start_matches("http://").to_owned();
    let silent = std::net::TcpStream::connect(&addr).unwrap();
    // Let the server accept it.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let started = std::time::Instant::now();
    let status = server.terminate();
    assert!(status.success(), "{status:?}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "shutdown waited {:?} for a silent connection",
        started.elapsed()
    );
    drop(silent);
}
