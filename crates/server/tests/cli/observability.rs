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
