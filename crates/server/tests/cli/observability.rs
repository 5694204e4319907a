//! Following one request through the server: its `X-Request-Id` on the response, to the
//! upstream, in the log lines and in the audit events it caused.

use reqwest::Method;

use crate::client::{Client, PW};
use crate::harness::{Env, rules};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_ids_follow_a_request_through_responses_logs_upstream_and_audit() {
    let api = crate::upstream::start().await;
    let env = Env::sqlite().config(&format!(
        "[log]\nformat = \"json\"\n[server]\ntrusted_proxies = [\"127.0.0.2\"]\n\
         [proxy]\nupstream = \"http://{api}\"\n{}",
        rules(&[("GET /public/**", "public = true")])
    ));
    env.add_user("joe", PW, &[]);
    let server = env.serve_process(&[]);
    let mut c = Client::new(&server.base);

    // Every answer has an id of its own; a client cannot choose it.
    let first = c.get("/api/session").await;
    let second = c
        .send_once(
            c.req(Method::GET, "/api/session")
                .header("x-request-id", "chosen-by-me"),
        )
        .await;
    let (a, b) = (
        first.header("x-request-id").unwrap().to_owned(),
        second.header("x-request-id").unwrap().to_owned(),
    );
    assert!(!a.is_empty() && a != b, "{a} {b}");
    assert_ne!(b, "chosen-by-me", "only a trusted proxy's id is kept");

    // The upstream sees the same id as the client.
    let proxied = c.get("/public/x").await;
    let id = proxied.header("x-request-id").unwrap().to_owned();
    assert_eq!(proxied.json()["headers"]["x-request-id"], id.as_str());

    // A failed login: the audit event and the log lines name the request.
    let failed = c.send_once(c.basic_login("joe", "wrong")).await;
    assert_eq!(failed.status, 401);
    let id = failed.header("x-request-id").unwrap().to_owned();
    let events = env.run_json(&["audit", "--json"]);
    let login = events
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["event"] == "login")
        .expect("the failed login is audited");
    assert_eq!(login["request_id"], id.as_str());
    // The audit line on stderr carries it too (JSON, from `log.format`).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let log = server.stderr();
        let line = log
            .lines()
            .find(|l| l.contains("\"tessera::audit\"") && l.contains(&id));
        if let Some(line) = line {
            let json: serde_json::Value = serde_json::from_str(line).unwrap();
            assert_eq!(json["request"], id.as_str(), "{line}");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no audit line with {id}: {log}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// `promtool check metrics` on `exposition`: its complaints, if any (`None` when promtool
/// is not installed, outside CI).
fn promtool_check(exposition: &str) -> Option<String> {
    use std::io::Write as _;
    let promtool = match std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
    {
        Ok(child) => child,
        Err(_) if std::env::var("CI").is_ok_and(|v| v == "true" || v == "1") => {
            panic!("promtool is not installed; .ci/run installs it (Debian package prometheus)")
        }
        Err(_) => {
            eprintln!("\n*** SKIPPING promtool: not installed (apt-get install prometheus) ***\n");
            return None;
        }
    };
    let mut child = promtool;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(exposition.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "promtool refused the exposition: {text}"
    );
    Some(text)
}

/// The value of the sample `name{labels}` (labels as exposed, in order), 0 when absent.
fn sample(exposition: &str, series: &str) -> f64 {
    exposition
        .lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .map_or(0.0, |v| v.trim().parse().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_metrics_count_requests_decisions_and_logins_on_their_own_listener() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let env = Env::sqlite()
        .config(&format!(
            "[server]\ntrusted_proxies = [\"127.0.0.1\"]\n{}",
            rules(&[("GET /orders/**", "permissions = [\"orders:read\"]")])
        ))
        .with("TESSERA_METRICS__LISTEN", &format!("127.0.0.1:{port}"));
    env.add_user("joe", PW, &[]);
    let server = env.serve_process(&[]);
    let metrics = format!("http://127.0.0.1:{port}/metrics");
    let scrape = || async {
        let r = reqwest::get(&metrics).await.unwrap();
        assert_eq!(r.status(), 200);
        assert!(
            r.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/plain")
        );
        r.text().await.unwrap()
    };
    let before = scrape().await;
    let mut c = Client::new(&server.base);
    let token = c.login_token("joe", PW).await;
    c.send_once(c.basic_login("joe", "wrong")).await;
    for _ in 0..3 {
        c.send_once(c.bearer(Method::GET, "/api/session", &token))
            .await;
    }
    let verify = c
        .req(Method::GET, "/api/verify")
        .header("x-original-method", "GET")
        .header("x-original-uri", "/orders/7")
        .header("authorization", format!("Bearer {token}"));
    assert_eq!(c.send_once(verify).await.status, 403);
    assert_eq!(
        c.get("/api/nowhere/joe").await.status,
        404,
        "an unknown path"
    );
    // A logout, which the revocation feed brings back within milliseconds.
    let other = c.login_token("joe", PW).await;
    let logout = c.bearer(Method::DELETE, "/api/session", &other);
    assert_eq!(c.send_once(logout).await.status, 204);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let after = scrape().await;
    promtool_check(&after);

    let moved = |series: &str| sample(&after, series) - sample(&before, series);
    assert_eq!(
        moved(r#"tessera_http_requests_total{route="/api/session",method="GET",status="200"}"#),
        3.0,
        "{after}"
    );
    assert_eq!(
        moved(r#"tessera_logins_total{method="basic",outcome="failure"}"#),
        1.0
    );
    assert_eq!(
        moved(r#"tessera_logins_total{method="basic",outcome="success"}"#),
        2.0
    );
    assert_eq!(sample(&after, "tessera_revocation_feed_up"), 1.0, "{after}");
    assert!(
        moved("tessera_revocations_received_total") >= 1.0,
        "{after}"
    );
    assert_eq!(
        moved(r#"tessera_decisions_total{credential="token",outcome="forbidden"}"#),
        1.0
    );
    assert!(
        moved("tessera_verification_cache_hits_total") >= 2.0,
        "{after}"
    );
    assert!(moved("tessera_store_query_duration_seconds_count") >= 1.0);
    assert!(after.contains(r#"tessera_build_info{version=""#));
    assert!(
        after.contains(&format!(
            "commit=\"{}\"",
            tessera_server::cli::VERSION
                .trim_end_matches(')')
                .rsplit(' ')
                .next()
                .unwrap()
        )),
        "{after}"
    );
    assert!(after.contains("tessera_http_request_duration_seconds_bucket"));
    // Bounded labels: no login, token or raw path.
    for leak in ["joe", &token, "/orders/7", "/api/nowhere"] {
        assert!(!after.contains(leak), "{leak} in the exposition");
    }
    // The main listener does not serve them.
    assert_eq!(c.get("/metrics").await.status, 404);
}
