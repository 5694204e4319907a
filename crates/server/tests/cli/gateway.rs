//! Gateway mode and `{base}/verify`: access rules, credential kinds, path normalisation,
//! identity headers, streaming, upgrades and upstream failures.

use reqwest::Method;
use serde_json::Value;

use crate::client::{Client, PW, Resp, basic};
use crate::harness::{Env, Server};
use crate::tcp::{addr_of, open, raw_expecting, read_some};

fn rules() -> String {
    crate::harness::rules(&[
        ("GET /public/**", "public = true"),
        ("GET /orders/**", r#"permissions = ["orders:read"]"#),
        ("* /admin/**", r#"permissions = ["admin:all"]"#),
        ("POST /hooks/**", r#"credentials = ["client_secret"]"#),
        ("GET /basic/**", r#"credentials = ["basic"]"#),
        ("* /files/**", ""),
        ("GET /ws", ""),
    ])
}

struct Setup {
    server: Server,
    _env: Env,
    joe_token: String,
    ann_token: String,
}

async fn setup(upstream: &str, extra: &str) -> Setup {
    setup_with(upstream, extra, false).await
}

/// As [`setup`]; `process` runs the server as a process (to measure its memory).
async fn setup_with(upstream: &str, extra: &str, process: bool) -> Setup {
    let env = Env::sqlite().config(&format!(
        "[proxy]\nupstream = \"{upstream}\"\ntimeout = \"1s\"\n{extra}\n{}",
        rules()
    ));
    env.add_role("orders", &["orders:read"]);
    env.add_user("joe", PW, &["--role", "orders"]);
    env.add_user("ann", PW, &[]);
    let server = if process {
        env.serve_process(&[])
    } else {
        env.serve(&[])
    };
    let mut c = Client::new(&server.base);
    let joe_token = c.login_token("joe", PW).await;
    let ann_token = c.login_token("ann", PW).await;
    Setup {
        server,
        _env: env,
        joe_token,
        ann_token,
    }
}

/// [`get`] with `token`, asserting the status of the answer.
async fn get_expecting(c: &mut Client, path: &str, token: &str, status: u16) -> Resp {
    let r = get(c, path, Some(token)).await;
    assert_eq!(r.status, status, "{path}: {}", r.body);
    r
}

async fn get(c: &mut Client, path: &str, token: Option<&str>) -> Resp {
    let rb = match token {
        Some(t) => c.bearer(Method::GET, path, t),
        None => c.req(Method::GET, path),
    };
    c.send_once(rb).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rules_decide_and_identity_reaches_the_upstream() {
    let up = crate::upstream::start().await;
    let s = setup(&format!("http://{up}"), "").await;
    let mut c = Client::new(&s.server.base);

    // Public: no credential needed.
    let r = get(&mut c, "/public/page?x=1", None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["query"], "x=1");
    assert!(
        r.header("x-csrftoken").is_some(),
        "the CSRF header is issued on proxied responses"
    );

    // Protected: 401 without, 403 without the permission (naming it), 200 with.
    let r = get(&mut c, "/orders/1", None).await;
    r.assert_problem(401, "unauthenticated");
    let r = get(&mut c, "/orders/1", Some(&s.ann_token)).await;
    r.assert_problem(403, "insufficient_scope");
    assert_eq!(r.json()["required"], "orders:read");
    assert!(
        r.header("www-authenticate")
            .unwrap()
            .contains("insufficient_scope")
    );
    let r = c
        .send(
            c.bearer(Method::GET, "/orders/1", &s.joe_token)
                .header("x-tessera-user", "admin")
                .header("x-tessera-permissions", "*")
                .header("x_tessera_user", "admin")
                .header("x-http-method-override", "DELETE")
                .header("forwarded", "for=127.0.0.1;proto=https")
                .header("cookie", "theirs=1; sessionid=zzz"),
        )
        .await;
    c.jar.clear();
    assert_eq!(r.status, 200, "{}", r.body);
    let h = &r.json()["headers"];
    assert_eq!(
        h["x-tessera-user"], "joe",
        "a spoofed identity never reaches the upstream"
    );
    assert_eq!(h["x-tessera-permissions"], "orders:read");
    assert_eq!(h["x-tessera-credential"], "token");
    assert!(h["x-tessera-session"].as_str().unwrap().len() == 22);
    assert!(
        h.get("authorization").is_none(),
        "our credentials are not forwarded"
    );
    assert_eq!(h["cookie"], "theirs=1");
    assert!(
        h.get("x-http-method-override").is_none(),
        "overrides could change what was judged"
    );
    assert!(
        h.get("forwarded").is_none(),
        "an untrusted client's Forwarded is dropped"
    );
    assert_eq!(h["x-forwarded-for"], "127.0.0.1");
    assert_eq!(h["x-forwarded-proto"], "http");
    assert!(h["x-forwarded-host"].is_string());

    // No rule: 401 without a credential, 403 with one.
    assert_eq!(get(&mut c, "/elsewhere", None).await.status, 401);
    assert_eq!(
        get(&mut c, "/elsewhere", Some(&s.joe_token)).await.status,
        403
    );
    // An invalid token is 401 even where no rule matches.
    assert_eq!(
        get(&mut c, "/elsewhere", Some("tss_bogus")).await.status,
        401
    );
    // Paths under the base path are Tessera's, never proxied.
    assert_eq!(
        get(&mut c, "/api/nothing-here", Some(&s.joe_token))
            .await
            .status,
        404
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn path_variants_get_the_decision_of_the_route_they_reach() {
    let up = crate::upstream::start().await;
    let s = setup(&format!("http://{up}"), "").await;
    let mut c = Client::new(&s.server.base);
    for variant in [
        "/admin/x",
        "/%61dmin/x",
        "//admin/x",
        "/admin/x/",
        "/admin;x/x",
        "/public/../admin/x",
        "/ADMIN/../admin/x",
        "/ADMIN/x",
        "/Admin/x",
        "/%41dmin/x",
    ] {
        let r = get_expecting(&mut c, variant, &s.joe_token, 403).await;
        assert_eq!(r.json()["required"], "admin:all", "{variant}");
    }
    for (variant, forwarded) in [
        ("/orders/%31", "/orders/1"),
        ("/orders//1", "/orders/1"),
        ("/orders/1;jsessionid=x", "/orders/1"),
        ("/x/../orders/1/", "/orders/1/"),
    ] {
        let r = get_expecting(&mut c, variant, &s.joe_token, 200).await;
        assert_eq!(r.json()["path"], forwarded, "forwarded exactly as matched");
    }
    for bad in [
        "/orders/a%2fb",
        "/orders/%zz",
        "/orders/a%00",
        "/admin./x",
        "/admin%2E/x",
        "/admin%20/x",
        "/%2561dmin/x",
        "/admin%252fx",
    ] {
        get_expecting(&mut c, bad, &s.joe_token, 400).await;
    }
    // HTTP clients resolve `..` themselves; send the raw target.
    let addr = addr_of(&s.server.base);
    let raw = format!(
        "GET /../orders/1 HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {}\r\nConnection: close\r\n\r\n",
        s.joe_token
    );
    raw_expecting(&addr, &raw, 400).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credential_kinds_are_accepted_only_where_listed() {
    let up = crate::upstream::start().await;
    let s = setup(&format!("http://{up}"), "").await;
    let mut c = Client::new(&s.server.base);
    let secret = c
        .send_once(c.bearer(Method::GET, "/api/client-secret", &s.joe_token))
        .await
        .field("secret");
    let hook = |c: &Client, auth: String| c.auth(Method::POST, "/hooks/x", &auth).body("{}");
    let r = c.send_once(hook(&c, format!("Secret {secret}"))).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["headers"]["x-tessera-credential"], "client_secret");
    assert_eq!(r.json()["headers"]["x-tessera-user"], "joe");
    let r = c.send_once(hook(&c, format!("secret {secret}"))).await;
    assert_eq!(r.status, 200, "scheme is case-insensitive");
    let r = c
        .send_once(hook(&c, format!("Bearer {}", s.joe_token)))
        .await;
    assert_eq!(
        r.status, 401,
        "a token is not accepted where only client_secret is"
    );
    let r = c.send_once(hook(&c, "Secret tsc_wrong".into())).await;
    assert_eq!(r.status, 401);
    // ...and the client secret is refused where it is not listed.
    let as_secret = format!("Secret {secret}");
    let r = c
        .send_once(c.auth(Method::GET, "/files/a", &as_secret))
        .await;
    assert_eq!(r.status, 401);

    // A session cookie is refused on the client_secret rule; accepted on /files with CSRF.
    let mut browser = Client::new(&s.server.base);
    browser.send(browser.json_login("joe", PW)).await;
    let csrf = browser.jar["csrftoken"].clone();
    let hook = browser
        .req(Method::POST, "/hooks/x")
        .header("x-csrftoken", &csrf);
    assert_eq!(browser.send(hook).await.status, 401);
    let r = browser
        .send(browser.req(Method::PUT, "/files/a").body("data"))
        .await;
    r.assert_problem(403, "csrf_failed");
    let r = browser
        .send(
            browser
                .req(Method::PUT, "/files/a")
                .header("x-csrftoken", &csrf)
                .body("data"),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let echoed = r.json();
    assert_eq!(echoed["headers"]["x-tessera-credential"], "session");
    assert!(echoed["headers"].get("x-csrftoken").is_none());
    assert!(
        echoed["headers"].get("cookie").is_none(),
        "our cookies stay with us"
    );

    // Basic only where listed.
    let with_basic =
        |c: &Client, path: &str, password: &str| c.auth(Method::GET, path, &basic("joe", password));
    let r = c.send_once(with_basic(&c, "/basic/x", PW)).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["headers"]["x-tessera-credential"], "basic");
    let r = c
        .send_once(with_basic(&c, "/basic/x", "wrong password!"))
        .await;
    assert_eq!(r.status, 401);
    let r = c.send_once(with_basic(&c, "/files/x", PW)).await;
    assert_eq!(r.status, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_bodies_stream_with_bounded_memory() {
    use futures_util::StreamExt as _;
    let up = crate::upstream::start().await;
    // Cheap password hashing, so that the memory peak before the transfers is low.
    let s = setup_with(
        &format!("http://{up}"),
        "[password]\nhash_memory_kib = 1024\nallow_weak_hashing = true\n",
        true,
    )
    .await;
    let before = s.server.peak_rss_kib();
    let http = reqwest::Client::new();
    let auth = format!("Bearer {}", s.joe_token);
    const SIZE: usize = 50 * 1024 * 1024;
    let chunks = futures_util::stream::iter(
        (0..SIZE / 65536).map(|_| Ok::<_, std::io::Error>(vec![b'y'; 65536])),
    );
    let r = http
        .post(s.server.url("/files/upload"))
        .header("authorization", &auth)
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["bytes"], SIZE);
    let r = http
        .get(s.server.url(&format!("/files/big/{SIZE}")))
        .header("authorization", &auth)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let mut n = 0;
    let mut stream = r.bytes_stream();
    while let Some(chunk) = stream.next().await {
        n += chunk.unwrap().len();
    }
    assert_eq!(n, SIZE);
    let grown = s.server.peak_rss_kib().saturating_sub(before);
    assert!(
        grown < 25 * 1024,
        "50 MB each way grew the peak RSS by {grown} KiB: bodies must stream"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_failures_are_502_and_504() {
    // Nothing listens on this port.
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let s = setup(&format!("http://{dead}"), "").await;
    let mut c = Client::new(&s.server.base);
    let r = get(&mut c, "/files/x", Some(&s.joe_token)).await;
    r.assert_problem(502, "bad_gateway");
    assert_eq!(r.header("content-type"), Some("application/problem+json"));

    let up = crate::upstream::start().await;
    let s = setup(
        &format!("http://{up}"),
        "[[rules]]\nmatch = \"GET /slow\"\n",
    )
    .await;
    let mut c = Client::new(&s.server.base);
    let started = std::time::Instant::now();
    let r = get(&mut c, "/slow", Some(&s.joe_token)).await;
    r.assert_problem(504, "gateway_timeout");
    assert!(
        started.elapsed() < std::time::Duration::from_millis(2900),
        "no hang past proxy.timeout"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upgrades_pass_through() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let up = crate::upstream::start().await;
    let s = setup(&format!("http://{up}"), "").await;
    let addr = addr_of(&s.server.base);
    let req = format!(
        "GET /ws HTTP/1.1\r\nHost: {addr}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nAuthorization: Bearer {}\r\n\r\n",
        s.joe_token
    );
    let mut tcp = open(&addr, req.as_bytes()).await;
    let mut buf = vec![0u8; 4096];
    let mut head = String::new();
    while !head.contains("\r\n\r\n") {
        let n = tcp.read(&mut buf).await.unwrap();
        assert!(n > 0, "connection closed: {head}");
        head.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    tcp.write_all(b"ping through the gateway").await.unwrap();
    let mut got = Vec::new();
    while got.len() < 24 {
        let n = tcp.read(&mut buf).await.unwrap();
        assert!(n > 0);
        got.extend_from_slice(&buf[..n]);
    }
    assert_eq!(&got[..], b"ping through the gateway");

    // Only WebSocket upgrades are spliced: an h2c upgrade would open an undecided tunnel.
    let req = format!(
        "GET /ws HTTP/1.1\r\nHost: {addr}\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\nAuthorization: Bearer {}\r\n\r\n",
        s.joe_token
    );
    let answer = read_some(&mut open(&addr, req.as_bytes()).await).await;
    assert!(!answer.starts_with("HTTP/1.1 101"), "{answer}");

    // Without a credential the upgrade is refused like any request.
    let req = format!(
        "GET /ws HTTP/1.1\r\nHost: {addr}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"
    );
    let answer = read_some(&mut open(&addr, req.as_bytes()).await).await;
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_answers_forward_auth() {
    let env = Env::sqlite().config(&format!(
        "[server]\ntrusted_proxies = [\"127.0.0.1\"]\n{}",
        rules()
    ));
    env.add_role("orders", &["orders:read"]);
    env.add_user("joe", PW, &["--role", "orders"]);
    let server = env.serve(&[]);
    let mut c = Client::new(&server.base);
    let token = c.login_token("joe", PW).await;
    let verify = |c: &Client, method: &str, uri: &str, nginx: bool| {
        let (m, u) = if nginx {
            ("x-original-method", "x-original-uri")
        } else {
            ("x-forwarded-method", "x-forwarded-uri")
        };
        c.req(Method::GET, "/api/verify")
            .header(m, method)
            .header(u, uri)
    };
    let bearer = format!("Bearer {token}");
    let r = c
        .send_once(verify(&c, "GET", "/orders/7?x=1", true).header("authorization", &bearer))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("x-tessera-user"), Some("joe"));
    assert_eq!(r.header("x-tessera-credential"), Some("token"));
    assert_eq!(r.header("x-tessera-permissions"), Some("orders:read"));
    assert!(r.header("x-tessera-session").is_some());
    let r = c.send_once(verify(&c, "GET", "/orders/7", false)).await;
    assert_eq!(r.status, 401);
    assert!(r.header("www-authenticate").is_some());
    let r = c
        .send_once(verify(&c, "DELETE", "/admin/x", false).header("authorization", &bearer))
        .await;
    assert_eq!(
        (r.status, r.json()["required"].as_str()),
        (403, Some("admin:all"))
    );
    let r = c.send_once(verify(&c, "GET", "/public/x", true)).await;
    assert_eq!(r.status, 200);
    // Public: the identity headers are answered all the same, empty (a proxy copying them
    // then overwrites a client's, and Caddy 2.6 sends no unexpanded placeholder).
    for name in ["user", "session", "permissions", "credential"] {
        assert_eq!(r.header(&format!("x-tessera-{name}")), Some(""), "{name}");
    }
    // The two header families must agree: a client cannot describe a harmless request in
    // the spelling the proxy does not set.
    let r = c
        .send_once(
            verify(&c, "DELETE", "/admin/x", true)
                .header("x-forwarded-uri", "/public/x")
                .header("x-forwarded-method", "GET"),
        )
        .await;
    assert_eq!(r.status, 400);
    // Cookie + unsafe original method: CSRF applies.
    let mut browser = Client::new(&server.base);
    browser.send(browser.json_login("joe", PW)).await;
    let csrf = browser.jar["csrftoken"].clone();
    let r = browser
        .send(verify(&browser, "PUT", "/files/a", true))
        .await;
    r.assert_problem(403, "csrf_failed");
    let r = browser
        .send(verify(&browser, "PUT", "/files/a", true).header("x-csrftoken", &csrf))
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("x-tessera-credential"), Some("session"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_trusts_original_request_headers_only_from_trusted_proxies() {
    let env = Env::sqlite().config(&rules());
    env.add_user("joe", PW, &[]);
    let server = env.serve(&[]);
    let mut c = Client::new(&server.base);
    let r = c
        .send(
            c.req(Method::GET, "/api/verify")
                .header("x-original-uri", "/public/x")
                .header("x-original-method", "GET"),
        )
        .await;
    r.assert_problem(400, "invalid_request");
}

#[test]
fn invalid_rules_are_config_errors_naming_the_rule() {
    let env = Env::sqlite().config("[[rules]]\nmatch = \"GET /a\"\n[[rules]]\nmatch = \"GET /b\"\ncredentials = [\"cookie\"]\n");
    let line = env.run(&["config", "check"], "").failure();
    assert!(
        line.contains("rules[1]") && line.contains("cookie"),
        "{line}"
    );
    let env = Env::sqlite().config("[[rules]]\nmatch = \"* /**\"\n[[rules]]\nmatch = \"GET /b\"\n");
    let line = env.run(&["config", "check"], "").failure();
    assert!(
        line.contains("rules[1]") && line.contains("can never match"),
        "{line}"
    );
    let env = Env::sqlite().config("[[rules]]\nmatch = \"GET /a*\"\n");
    assert!(
        env.run(&["config", "check"], "")
            .failure()
            .contains("rules[0]")
    );
    let env = Env::sqlite().config("[proxy]\nupstream = \"ftp://x\"\n");
    assert!(
        env.run(&["config", "check"], "")
            .failure()
            .contains("proxy.upstream")
    );
}

/// Tools that speak only Basic (docker, git, Maven, npm) send a personal access token as
/// the password: it authenticates as that token, with its scopes, whatever the user name.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_personal_access_token_is_a_basic_password_for_tools() {
    let up = crate::upstream::start().await;
    let tools = crate::harness::rules(&[(
        "GET /tools/**",
        "credentials = [\"basic\"]\npermissions = [\"orders:read\"]",
    )]);
    let s = setup(&format!("http://{up}"), &tools).await;
    let mut c = Client::new(&s.server.base);
    let pat = |session: &str| {
        c.bearer(Method::POST, "/api/tokens", session)
            .json(&serde_json::json!({"name": "ci"}))
    };
    let (joe_rb, ann_rb) = (pat(&s.joe_token), pat(&s.ann_token));
    let joe = c.send_once(joe_rb).await.field("token");
    let ann = c.send_once(ann_rb).await.field("token");
    // curl -u, a real client sending Basic.
    let curl = |user_password: &str, path: &str| {
        let out = std::process::Command::new("curl")
            .args([
                "-s",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                "-u",
                user_password,
            ])
            .arg(s.server.url(path))
            .output()
            .expect("curl runs");
        String::from_utf8(out.stdout).unwrap()
    };
    assert_eq!(curl(&format!("joe:{joe}"), "/basic/x"), "200");
    assert_eq!(
        curl(&format!("x-token:{joe}"), "/basic/x"),
        "200",
        "any user name"
    );
    assert_eq!(
        curl(&format!("joe:{joe}x"), "/basic/x"),
        "401",
        "a mangled token"
    );
    // Only on rules that accept Basic; and the owner's permissions decide.
    assert_eq!(curl(&format!("joe:{joe}"), "/files/x"), "401");
    assert_eq!(curl(&format!("joe:{joe}"), "/tools/1"), "200");
    assert_eq!(curl(&format!("ann:{ann}"), "/tools/1"), "403");

    let r = c
        .send_once(c.auth(Method::GET, "/basic/x", &basic("joe", &joe)))
        .await;
    assert_eq!(r.json()["headers"]["x-tessera-user"], "joe");
    assert_eq!(r.json()["headers"]["x-tessera-credential"], "basic");
    // Revoked: refused at once.
    let listed = c
        .send_once(c.bearer(Method::GET, "/api/tokens", &s.joe_token))
        .await;
    for t in listed.json().as_array().unwrap() {
        let path = format!("/api/tokens/{}", t["id"].as_str().unwrap());
        c.send_once(c.bearer(Method::DELETE, &path, &s.joe_token))
            .await;
    }
    assert_eq!(curl(&format!("joe:{joe}"), "/basic/x"), "401");
}

/// Reads one answer from a keep-alive connection: until its body, `marker`, has arrived.
async fn read_answer(tcp: &mut tokio::net::TcpStream, marker: &str) -> String {
    let mut answer = String::new();
    tokio::time::timeout(std::time::Duration::from_secs(10), async {
        while !answer.contains(marker) {
            let more = read_some(tcp).await;
            assert!(!more.is_empty(), "closed after: {answer}");
            answer.push_str(&more);
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no whole answer: {answer}"));
    answer
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http_1_0_upstream_keeps_the_client_on_one_http_1_1_connection() {
    // Python's http.server answers in HTTP/1.0 and closes every connection.
    let site = tempfile::tempdir().unwrap();
    std::fs::write(site.path().join("hello.txt"), "hello from python").unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let python = match std::process::Command::new("python3")
        .args([
            "-m",
            "http.server",
            "--bind",
            "127.0.0.1",
            &port.to_string(),
        ])
        .current_dir(site.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
    {
        Ok(child) => child,
        Err(e) if !crate::oidc_provider::under_ci() => {
            eprintln!("SKIPPED: python3 cannot run: {e}");
            return;
        }
        Err(e) => panic!("python3 cannot run under CI: {e}"),
    };
    let _python = KillOnDrop(python);
    let upstream = format!("127.0.0.1:{port}");
    for _ in 0..100 {
        if std::net::TcpStream::connect(&upstream).is_ok() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let env = Env::sqlite().config(&format!(
        "[proxy]\nupstream = \"http://{upstream}\"\n{}",
        crate::harness::rules(&[("GET /**", "public = true")])
    ));
    let server = env.serve(&[]);
    let request = "GET /hello.txt HTTP/1.1\r\nHost: localhost\r\n\r\n";
    let mut tcp = open(&addr_of(&server.base), request.as_bytes()).await;
    let first = read_answer(&mut tcp, "hello from python").await;
    assert!(first.starts_with("HTTP/1.1 200"), "{first}");
    assert!(
        !first.to_ascii_lowercase().contains("connection: close"),
        "{first}"
    );
    // The same connection serves the next request.
    use tokio::io::AsyncWriteExt as _;
    tcp.write_all(request.as_bytes()).await.unwrap();
    let second = read_answer(&mut tcp, "hello from python").await;
    assert!(second.starts_with("HTTP/1.1 200"), "{second}");
}

/// A child process killed when the test ends, passed or failed.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        self.0.kill().ok();
        self.0.wait().ok();
    }
}

/// A scripted HTTP/1.1 upstream on raw sockets: for each request it reads the head, and
/// answers with what `answer` makes of the request line; it closes the connection after
/// every answer when `close_after_each` (silently, as an upstream whose keep-alive
/// timeout is very short), and after every HTTP/1.0 answer, whose end it marks. Returns its address and the count of connections it accepted.
async fn scripted_upstream(
    answer: fn(&str) -> String,
    close_after_each: bool,
) -> (
    std::net::SocketAddr,
    std::sync::Arc<std::sync::atomic::AtomicUsize>,
) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut tcp, _)) = listener.accept().await else {
                return;
            };
            count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            tokio::spawn(async move {
                let mut buf = Vec::new();
                loop {
                    let mut chunk = [0u8; 4096];
                    let head_end = loop {
                        if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            break at + 4;
                        }
                        match tcp.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    };
                    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
                    buf.drain(..head_end);
                    let line = head.lines().next().unwrap_or("").to_owned();
                    let answer = answer(&line);
                    if tcp.write_all(answer.as_bytes()).await.is_err() {
                        return;
                    }
                    if close_after_each || answer.starts_with("HTTP/1.0") {
                        return;
                    }
                }
            });
        }
    });
    (addr, accepted)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_connections_are_reused_and_stale_ones_never_fail_a_request() {
    // Keep-alive: twenty requests, one upstream connection.
    let (up, accepted) = scripted_upstream(
        |_| "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok".to_owned(),
        false,
    )
    .await;
    let s = setup(&format!("http://{up}"), "").await;
    let mut c = Client::new(&s.server.base);
    for _ in 0..20 {
        let r = get_expecting(&mut c, "/files/a", &s.joe_token, 200).await;
        assert_eq!(r.body, "ok");
    }
    assert_eq!(
        accepted.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "one connection, reused"
    );

    // An upstream that closes every connection after its answer, without saying so: each
    // idle connection is found closed (or closes under the request, which is then sent
    // again), and no request fails.
    let (up, accepted) = scripted_upstream(
        |_| "HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\nokay".to_owned(),
        true,
    )
    .await;
    let s = setup(&format!("http://{up}"), "").await;
    let mut c = Client::new(&s.server.base);
    for _ in 0..20 {
        let r = get_expecting(&mut c, "/files/b", &s.joe_token, 200).await;
        assert_eq!(r.body, "okay");
    }
    assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 20);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chunked_and_close_delimited_answers_arrive_whole() {
    let (up, _) = scripted_upstream(
        |line| {
            if line.contains("/files/chunked") {
                // Chunks with an extension and a trailer, which is not forwarded.
                "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n\
                 5;ext=1\r\nhello\r\n7\r\n, world\r\n0\r\nx-trailer: t\r\n\r\n"
                    .to_owned()
            } else if line.contains("/files/close") {
                "HTTP/1.0 200 OK\r\n\r\nuntil the end".to_owned()
            } else if line.starts_with("HEAD") {
                "HTTP/1.1 200 OK\r\ncontent-length: 42\r\n\r\n".to_owned()
            } else {
                "HTTP/1.1 204 No Content\r\n\r\n".to_owned()
            }
        },
        false,
    )
    .await;
    let s = setup(&format!("http://{up}"), "").await;
    let mut c = Client::new(&s.server.base);
    for _ in 0..2 {
        let r = get_expecting(&mut c, "/files/chunked", &s.joe_token, 200).await;
        assert_eq!(r.body, "hello, world");
        assert_eq!(r.header("x-trailer"), None);
        let r = get_expecting(&mut c, "/files/close", &s.joe_token, 200).await;
        assert_eq!(r.body, "until the end");
        assert_eq!(
            r.header("connection"),
            None,
            "the client's connection stays open"
        );
        let r = get_expecting(&mut c, "/files/empty", &s.joe_token, 204).await;
        assert_eq!(r.body, "");
    }
    let r = c
        .send_once(c.bearer(Method::HEAD, "/files/head", &s.joe_token))
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-length"), Some("42"));
}
