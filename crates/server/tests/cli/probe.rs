//! Attacks an outside probe of the running server tried: slow and oversized requests,
//! path and header tricks, cookie tossing, credential misuse. Each test performs the
//! attack against the real server and sees it fail.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::json;

use crate::client::{Client, PW};
use crate::harness::{Env, labelled, rules};
use crate::tcp::{
    addr_of, healthz_answers, open, raw, raw_expecting, read_some, read_until_closed,
};

/// Half-sent request heads and bodies are closed after their timeouts, and the server
/// keeps answering while hundreds of them are open.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_are_cut_off_and_cannot_starve_others() {
    let env = Env::sqlite()
        .config("[server]\nheader_read_timeout = \"2s\"\nbody_read_timeout = \"2s\"\n");
    let server = env.serve(&[]);
    let addr = addr_of(&server.base);

    let opened = Instant::now();
    let mut partial_heads = Vec::new();
    for i in 0..300 {
        let half = if i % 2 == 0 {
            "GET /api/session HTTP/1.1\r\nHost: x\r\n"
        } else {
            "GET /heal"
        };
        partial_heads.push(open(&addr, half.as_bytes()).await);
    }
    let mut partial_bodies = Vec::new();
    for _ in 0..20 {
        partial_bodies.push(
            open(
                &addr,
                b"POST /api/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n{\"username\":",
            )
            .await,
        );
    }
    assert!(
        healthz_answers(&addr).await,
        "healthz answers while 320 slow connections are open"
    );

    for (i, tcp) in partial_heads.iter_mut().enumerate() {
        let left = Duration::from_secs(8).saturating_sub(opened.elapsed());
        let (_, closed) = read_until_closed(tcp, left).await;
        assert!(closed, "partial head {i} still open after 8 s");
    }
    for tcp in &mut partial_bodies {
        let (answer, closed) = read_until_closed(tcp, Duration::from_secs(5)).await;
        assert!(closed, "a partial body is closed");
        assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
        assert!(answer.contains("request_timeout"), "{answer}");
    }
    assert!(
        opened.elapsed() >= Duration::from_secs(2),
        "nothing was closed before the timeout"
    );

    // An idle kept-alive connection is closed after the same timeout.
    let mut tcp = open(&addr, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await;
    let (answer, closed) = read_until_closed(&mut tcp, Duration::from_secs(6)).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(closed, "an idle keep-alive connection is closed");
}

/// Oversized request heads are 431 and never reach an upstream; `max_connections` caps
/// what is served at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_heads_are_refused_and_connections_are_capped() {
    let env = Env::sqlite().config(
        "[server]\nmax_connections = 20\nheader_read_timeout = \"30s\"\nmax_header_bytes = 16384\n",
    );
    let server = env.serve_process(&[]);
    let addr = addr_of(&server.base);

    let big = format!(
        "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Padding: {}\r\nConnection: close\r\n\r\n",
        "a".repeat(20_000)
    );
    raw_expecting(&addr, &big, 431).await;
    let many = format!(
        "GET /healthz HTTP/1.1\r\nHost: x\r\n{}Connection: close\r\n\r\n",
        (0..90)
            .map(|i| format!("X-H{i}: {}\r\n", "b".repeat(200)))
            .collect::<String>()
    );
    raw_expecting(&addr, &many, 431).await;
    assert!(healthz_answers(&addr).await);

    // Twenty idle connections fill the server; the next one waits for a slot.
    let mut idle = Vec::new();
    for _ in 0..20 {
        let mut tcp = open(&addr, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await;
        assert!(read_some(&mut tcp).await.starts_with("HTTP/1.1 200"));
        idle.push(tcp);
    }
    assert!(
        !healthz_answers(&addr).await,
        "a 21st connection is not served while 20 are open"
    );
    drop(idle);
    assert!(
        healthz_answers(&addr).await,
        "served again once connections close"
    );
    assert!(
        server.stderr().contains("server.max_connections reached"),
        "{}",
        server.stderr()
    );
}

/// Over TLS, a connection that never completes its handshake is closed after the
/// header-read timeout, and others are served meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_tls_handshakes_are_cut_off() {
    let env = Env::sqlite();
    let tls = crate::harness::tls_settings(&env);
    let env = env.config(&format!("[server]\n{tls}header_read_timeout = \"2s\"\n"));
    let server = env.serve(&[]);
    let addr = addr_of(&server.base);
    let mut silent = Vec::new();
    for _ in 0..200 {
        // Half a TLS record header.
        silent.push(open(&addr, &[0x16, 0x03]).await);
    }
    let mut c = Client::new(&server.base);
    let started = Instant::now();
    assert_eq!(c.get("/healthz").await.status, 200);
    assert!(started.elapsed() < Duration::from_secs(2));
    for tcp in &mut silent {
        let (_, closed) = read_until_closed(tcp, Duration::from_secs(6)).await;
        assert!(closed, "a stalled handshake is closed");
    }
}

const ADMIN_ONLY: (&str, &str) = ("* /admin/**", r#"permissions = ["admin:all"]"#);

fn gateway_rules(upstream: &str) -> String {
    let rules = rules(&[ADMIN_ONLY, ("* /**", "public = true")]);
    format!("[proxy]\nupstream = \"http://{upstream}\"\n{rules}")
}

/// Letter case and look-alike segments cannot route around a rule, and Tessera's own
/// paths are recognised after normalisation, so no spelling of them reaches the upstream.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn path_spellings_cannot_bypass_rules_or_reach_the_upstream() {
    let up = crate::upstream::start().await;
    let env = Env::sqlite().config(&gateway_rules(&up.to_string()));
    env.add_user("joe", PW, &[]);
    let server = env.serve(&[]);
    let addr = addr_of(&server.base);
    let token = Client::new(&server.base).login_token("joe", PW).await;
    let get = |path: &str| {
        format!(
            "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
        )
    };

    // Letter case: the admin rule still decides.
    for p in ["/ADMIN/x", "/Admin/x", "/aDmIn/users", "/%41DMIN/x"] {
        let answer = raw_expecting(&addr, &get(p), 403).await;
        assert!(answer.contains("admin:all"), "{p}: {answer}");
    }
    // What an upstream might rewrite into /admin is refused outright.
    for p in [
        "/admin./x",
        "/admin%2e/x",
        "/admin%20/x",
        "/%2561dmin/x",
        "/admin%252fx",
        "/a/..%252f/admin",
    ] {
        raw_expecting(&addr, &get(p), 400).await;
    }
    // The public catch-all still works.
    raw_expecting(&addr, &get("/orders/1"), 200).await;

    // Spellings of Tessera's own paths are 404, never forwarded (the echo upstream
    // would answer 200).
    for p in [
        "//api/tokens",
        "/x/../api/tokens",
        "/%61pi/tokens",
        "/./api/tokens",
        "/api;x/tokens",
        "/API/tokens",
        "/Api/login",
    ] {
        let answer = raw_expecting(&addr, &get(p), 404).await;
        assert!(!answer.contains("\"headers\""), "{p} reached the upstream");
    }
    let body = r#"{"username":"joe","password":"correct horse battery staple"}"#;
    let post = format!(
        "POST //api/login HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let answer = raw_expecting(&addr, &post, 404).await;
    assert!(
        !answer.contains("correct horse"),
        "the password was echoed back"
    );

    // `{base}/verify` judges case the same way.
    drop(server);
    let rules = rules(&[ADMIN_ONLY, ("* /**", "")]);
    let env = Env::sqlite().config(&format!(
        "[server]\ntrusted_proxies = [\"127.0.0.1\"]\n{rules}"
    ));
    env.add_user("joe", PW, &[]);
    let server = env.serve(&[]);
    let mut c = Client::new(&server.base);
    let token = c.login_token("joe", PW).await;
    let verify = |c: &Client, uri: &str, method: Option<&str>| {
        let mut rb = c
            .bearer(Method::GET, "/api/verify", &token)
            .header("x-original-uri", uri);
        if let Some(m) = method {
            rb = rb.header("x-original-method", m);
        }
        rb
    };
    let r = c.send_once(verify(&c, "/ADMIN/x", Some("GET"))).await;
    assert_eq!(r.status, 403, "{}", r.body);
    let r = c.send_once(verify(&c, "/admin./x", Some("GET"))).await;
    assert_eq!(r.status, 400, "{}", r.body);
    let r = c.send_once(verify(&c, "/orders", Some("GET"))).await;
    assert_eq!(r.status, 200, "{}", r.body);
    // A URI without its method is not judged as a GET.
    let r = c.send_once(verify(&c, "/orders", None)).await;
    r.assert_problem(400, "invalid_request");
}

/// With `rules_case_sensitive`, letter case is significant again (for APIs whose paths
/// differ only in case).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn case_sensitive_rules_can_be_chosen() {
    let up = crate::upstream::start().await;
    let env = Env::sqlite().config(&format!(
        "[server]\nrules_case_sensitive = true\n{}",
        gateway_rules(&up.to_string())
    ));
    env.add_user("joe", PW, &[]);
    let server = env.serve(&[]);
    let mut c = Client::new(&server.base);
    let r = c.send_once(c.req(Method::GET, "/ADMIN/x")).await;
    assert_eq!(r.status, 200, "public catch-all: {}", r.body);
    assert_eq!(r.json()["path"], "/ADMIN/x");
    let r = c.send_once(c.req(Method::GET, "/admin/x")).await;
    assert_eq!(r.status, 401);
}

/// A personal access token or an OAuth access token cannot see or end the owner's
/// sessions, nor read the audit log; it can still end itself.
async fn tokens_cannot_manage_sessions(env: Env) {
    env.add_role("orders", &["orders:read"]);
    env.add_user("joe", PW, &["--role", "orders"]);
    let pat = env
        .create_token("joe", "ci", &["--scope", "orders:read"])
        .success_trimmed();
    let server = env.serve(&[]);
    let mut c = Client::new(&server.base);
    let password_token = c.login_token("joe", PW).await;
    let secret = c
        .send_once(c.bearer(Method::GET, "/api/client-secret", &password_token))
        .await
        .field("secret");
    let access = c
        .send_once(
            c.req(Method::POST, "/api/oauth/token")
                .basic_auth("joe", Some(&secret))
                .form(&[
                    ("grant_type", "client_credentials"),
                    ("scope", "orders:read"),
                ]),
        )
        .await
        .field("access_token");
    let sessions = c
        .send_once(c.bearer(Method::GET, "/api/sessions", &password_token))
        .await;
    assert_eq!(sessions.status, 200);
    let session_id = sessions.json()[0]["id"].as_str().unwrap().to_owned();

    for token in [&pat, &access] {
        for (method, path) in [
            (Method::GET, "/api/sessions".to_owned()),
            (Method::DELETE, format!("/api/sessions/{session_id}")),
            (Method::DELETE, "/api/sessions".to_owned()),
            (Method::GET, "/api/audit".to_owned()),
        ] {
            let r = c.send_once(c.bearer(method.clone(), &path, token)).await;
            assert_eq!(
                (r.status, r.code().as_str()),
                (403, "password_session_required"),
                "{method} {path}"
            );
        }
    }
    // The password session survived all of that.
    let r = c
        .send_once(c.bearer(Method::GET, "/api/session", &password_token))
        .await;
    assert_eq!(r.status, 200);
    // A token may still end itself.
    let r = c
        .send_once(c.bearer(Method::DELETE, "/api/login", &access))
        .await;
    assert_eq!(r.status, 204);
    let r = c
        .send_once(c.bearer(Method::GET, "/api/session", &access))
        .await;
    assert_eq!(r.status, 401);
}

on_both_backends!(tokens_cannot_manage_sessions, tokens_cannot_manage_sessions);

/// Requests that two components could read differently are refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ambiguous_requests_are_refused() {
    let env = Env::sqlite();
    env.add_user("joe", PW, &[]);
    env.add_user("eve", PW, &[]);
    let server = env.serve(&[]);
    let addr = addr_of(&server.base);
    let mut c = Client::new(&server.base);
    let mut session = async |who: &str| {
        let r = c.send_once(c.json_login(who, PW)).await;
        r.cookie_value("sessionid").unwrap()
    };
    let joe = session("joe").await;
    let eve = session("eve").await;

    // Cookie tossing: a second session cookie never shadows the first.
    let with_cookies =
        |c: &Client, cookies: String| c.req(Method::GET, "/api/session").header("cookie", cookies);
    let r = c
        .send_once(with_cookies(
            &c,
            format!("sessionid={eve}; sessionid={joe}"),
        ))
        .await;
    assert_eq!(r.status, 401, "{}", r.body);
    let r = c
        .send_once(with_cookies(&c, format!("sessionid={joe}")))
        .await;
    assert_eq!(r.json()["login"], "joe");

    // Host: exactly one on HTTP/1.1.
    let answer = raw_expecting(
        &addr,
        "GET /api/login HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\nConnection: close\r\n\r\n",
        400,
    )
    .await;
    assert!(
        answer
            .to_ascii_lowercase()
            .contains("x-content-type-options: nosniff"),
        "{answer}"
    );
    let answer = raw_expecting(
        &addr,
        "GET /api/login HTTP/1.1\r\nConnection: close\r\n\r\n",
        400,
    )
    .await;
    assert!(answer.contains("Host"), "{answer}");
    let answer = raw(&addr, "GET /healthz HTTP/1.0\r\n\r\n").await;
    assert!(answer.contains(" 200 "), "HTTP/1.0 needs no Host: {answer}");

    // A login body as sent, with its content type.
    let login = |c: &Client, content_type: &str, body: String| {
        c.post_typed("/api/login", content_type, body)
    };
    let joe = format!(r#"{{"username":"joe","password":"{PW}"}}"#);

    // A repeated JSON member: which one would count?
    let repeated = format!(r#"{{"username":"eve","username":"joe","password":"{PW}"}}"#);
    let r = c.send_once(login(&c, "application/json", repeated)).await;
    r.assert_problem(400, "validation_failed");
    assert!(r.body.contains("repeated"), "{}", r.body);

    // Bodies in another charset: 415, for JSON and forms alike.
    let form = format!("username=joe&password={}", PW.replace(' ', "+"));
    let latin1 = "application/x-www-form-urlencoded; charset=iso-8859-1";
    let r = c.send_once(login(&c, latin1, form)).await;
    assert_eq!(r.status, 415, "{}", r.body);
    let utf16 = "application/json; charset=utf-16";
    let r = c.send_once(login(&c, utf16, joe.clone())).await;
    assert_eq!(r.status, 415, "{}", r.body);
    let utf8 = "application/json; charset=UTF-8";
    let r = c.send_once(login(&c, utf8, joe)).await;
    assert_eq!(r.status, 200, "{}", r.body);
}

/// Cookie names whose prefix the settings contradict are configuration errors.
#[test]
fn cookie_prefixes_must_match_their_attributes() {
    for (toml, key) in [
        (
            "[session]\ncookie_name = \"__Host-sid\"\ncookie_domain = \"example.com\"\n",
            "session.cookie_name",
        ),
        (
            "[session]\ncookie_name = \"__Host-sid\"\ncookie_path = \"/app\"\n",
            "session.cookie_name",
        ),
        (
            "[session]\ncookie_name = \"__Secure-sid\"\nsecure = \"never\"\n",
            "session.cookie_name",
        ),
        (
            "[session]\nsecure = \"never\"\n[csrf]\ncookie_name = \"__Host-csrf\"\n",
            "csrf.cookie_name",
        ),
    ] {
        let env = Env::sqlite().config(toml);
        let err = env.run(&["config", "check"], "").failure();
        assert!(err.contains(key) && err.contains("__"), "{toml}: {err}");
    }
    let env = Env::sqlite().config("[session]\ncookie_name = \"__Host-sid\"\n");
    env.run(&["config", "check"], "").success();
}

/// The gateway passes no client-made claim about address, scheme or host, and warns
/// once when a loopback proxy's forwarding headers are being ignored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gateway_forwards_no_client_made_address_claims() {
    let up = crate::upstream::start().await;
    let env = Env::sqlite().config(&gateway_rules(&up.to_string()));
    let server = env.serve_process(&[]);
    let mut c = Client::new(&server.base);
    let claims = [
        ("x-real-ip", "10.0.0.1"),
        ("x-client-ip", "10.0.0.1"),
        ("true-client-ip", "10.0.0.1"),
        ("cf-connecting-ip", "10.0.0.1"),
        ("x-cluster-client-ip", "10.0.0.1"),
        ("x-forwarded-ssl", "on"),
        ("x-forwarded-scheme", "https"),
        ("x-forwarded-port", "443"),
        ("x-forwarded-prefix", "/admin"),
        ("x-original-host", "admin.example"),
        ("x-host", "admin.example"),
        ("forwarded", "for=10.0.0.1;proto=https"),
        ("x-forwarded-for", "10.0.0.1"),
        ("x-forwarded-proto", "https"),
        ("x-forwarded-host", "admin.example"),
    ];
    for _ in 0..2 {
        let mut rb = c.req(Method::GET, "/anything");
        for (k, v) in claims {
            rb = rb.header(k, v);
        }
        let r = c.send_once(rb).await;
        assert_eq!(r.status, 200, "{}", r.body);
        let h = &r.json()["headers"];
        for (k, _) in claims {
            let seen = h.get(k).and_then(|v| v.as_str()).unwrap_or("");
            assert!(!seen.contains("10.0.0.1"), "{k}: {seen}");
            assert!(!seen.contains("admin"), "{k}: {seen}");
            assert!(!seen.contains("https"), "{k}: {seen}");
        }
        assert_eq!(h["x-forwarded-for"], "127.0.0.1");
        assert_eq!(h["x-forwarded-proto"], "http");
    }
    let log = server.stderr();
    assert_eq!(
        log.matches("server.trusted_proxies is empty").count(),
        1,
        "{log}"
    );
}

/// Wrong secrets sent with someone's login or key id lock out the sender's address,
/// never the real client.
async fn machine_credentials_cannot_be_locked_out(env: Env) {
    let env = env.config(
        "[server]\ntrusted_proxies = [\"127.0.0.1\"]\n[throttle]\naccount_max_failures = 3\nip_max_failures = 3\n",
    );
    env.add_user("joe", PW, &[]);
    let keys = env
        .run(&["apikey", "create", "joe", "--name", "svc"], "")
        .success();
    let (key_id, key_secret) = (labelled(&keys, "api_key"), labelled(&keys, "api_secret"));
    let client_secret = env
        .run(&["client-secret", "show", "joe"], "")
        .success_trimmed();
    let server = env.serve(&[]);
    let mut c = Client::new(&server.base);
    let from = |rb: reqwest::RequestBuilder, ip: &str| {
        rb.header("x-forwarded-for", ip)
            .header("x-forwarded-proto", "https")
    };
    let oauth = |c: &Client, secret: &str, ip: &str| {
        from(
            c.req(Method::POST, "/api/oauth/token")
                .basic_auth("joe", Some(secret))
                .form(&[("grant_type", "client_credentials")]),
            ip,
        )
    };
    let key = |c: &Client, secret: &str, ip: &str| {
        from(
            c.req(Method::POST, "/api/login/key")
                .json(&json!({"apiKey": key_id, "apiSecret": secret})),
            ip,
        )
    };
    let attacker = "203.0.113.66";
    let mut statuses = Vec::new();
    for _ in 0..3 {
        statuses.push(c.send_once(oauth(&c, "tsc_wrong", attacker)).await.status);
    }
    statuses.push(c.send_once(key(&c, "tsx_wrong", attacker)).await.status);
    statuses.push(c.send_once(oauth(&c, "tsc_wrong", attacker)).await.status);
    assert_eq!(
        statuses,
        [401, 401, 401, 429, 429],
        "the attacker's address is throttled"
    );
    // The real client, from its own address, is not affected.
    let r = c.send_once(oauth(&c, &client_secret, "198.51.100.7")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = c.send_once(key(&c, &key_secret, "198.51.100.7")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    // Password logins keep their per-account limit.
    for _ in 0..3 {
        let wrong = c.json_login("joe", "not the password");
        let r = c.send_once(from(wrong, "198.51.100.8")).await;
        assert_eq!(r.status, 401);
    }
    let r = c
        .send_once(from(c.json_login("joe", PW), "198.51.100.9"))
        .await;
    assert_eq!(r.status, 429, "the account itself is locked for passwords");
}

on_both_backends!(
    machine_credentials_cannot_be_locked_out,
    machine_credentials_cannot_be_locked_out
);

/// Smaller leaks and weak settings.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn small_leaks_and_weak_settings_are_closed() {
    // Logins that look like another are refused.
    let env = Env::sqlite();
    for bad in ["joe\u{200D}", "\u{202E}eoj"] {
        let err = env
            .run(
                &["user", "add", bad, "--password-stdin"],
                &format!("{PW}\n"),
            )
            .failure();
        assert!(err.contains("bidirectional"), "{err}");
    }
    // Argon2 below OWASP's minimum needs an explicit opt-in.
    let weak = "[password]\nhash_memory_kib = 8\nhash_iterations = 1\n";
    let err = Env::sqlite()
        .config(weak)
        .run(&["config", "check"], "")
        .failure();
    assert!(err.contains("password.") && err.contains("OWASP"), "{err}");
    Env::sqlite()
        .config(&format!("{weak}allow_weak_hashing = true\n"))
        .run(&["config", "check"], "")
        .success();
    Env::sqlite()
        .config("[password]\nhash_memory_kib = 12288\nhash_iterations = 3\n")
        .run(&["config", "check"], "")
        .success();

    let env = Env::sqlite().config("[login]\nallow_query_credentials = true\n");
    env.add_user("joe", PW, &[]);
    let server = env.serve(&[]);
    let mut c = Client::new(&server.base);
    // Credentials in the URL: the answer never sends that URL on as a Referer.
    let url = format!(
        "/api/login?username=joe&password={}",
        PW.replace(' ', "%20")
    );
    let r = c.send_once(c.req(Method::GET, &url)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("referrer-policy"), Some("no-referrer"));
    let r = c
        .send_once(c.req(Method::GET, "/api/login?username=joe&password=wrong"))
        .await;
    assert_eq!(r.status, 401);
    assert_eq!(r.header("referrer-policy"), Some("no-referrer"));
    let token = c.send_once(c.req(Method::GET, &url)).await.body;
    // The login page cannot be framed.
    let r = c
        .send_once(
            c.req(Method::GET, "/api/login")
                .header("accept", "text/html"),
        )
        .await;
    assert_eq!(r.status, 200);
    let csp = r.header("content-security-policy").unwrap_or_default();
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert_eq!(r.header("x-frame-options"), Some("DENY"));
    // Error details name no internal type.
    for body in [
        json!({"name": "x", "expires_in": [1]}),
        json!({"name": "x", "scopes": 5}),
        json!("just a string"),
        json!({"name": 5}),
    ] {
        let r = c
            .send_once(c.bearer(Method::POST, "/api/tokens", &token).json(&body))
            .await;
        assert_eq!(r.status, 400, "{body}: {}", r.body);
        for internal in [
            "untagged", "enum", "struct", "Lifetime", "Scopes", "NewToken",
        ] {
            assert!(!r.body.contains(internal), "{body}: {}", r.body);
        }
    }
}
