//! A real Caddy in front of an API, asking Tessera through `forward_auth`, configured by
//! `examples/caddy/Caddyfile` itself (its addresses come from the environment).

use std::os::unix::process::CommandExt as _;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::Method;

use crate::client::{Client, PW, Resp};
use crate::harness::Env;

const CADDYFILE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../examples/caddy/Caddyfile"
);

fn caddy_binary() -> Option<&'static str> {
    ["/usr/bin/caddy", "/usr/local/bin/caddy"]
        .into_iter()
        .find(|p| Path::new(p).exists())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Caddy, leading a process group of its own: killed with everything it started.
struct Caddy(Child);

impl Drop for Caddy {
    fn drop(&mut self) {
        let group = format!("-{}", self.0.id());
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stderr(Stdio::null())
            .status();
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// An upstream that answers every request with the list of its header fields as received:
/// `[name, value]` pairs, repeated fields as many times as they came.
async fn upstream() -> std::net::SocketAddr {
    async fn echo(req: axum::extract::Request) -> axum::Json<serde_json::Value> {
        let fields: Vec<[String; 2]> = req
            .headers()
            .iter()
            .map(|(k, v)| [k.to_string(), String::from_utf8_lossy(v.as_bytes()).into()])
            .collect();
        axum::Json(serde_json::json!({ "path": req.uri().path(), "headers": fields }))
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new().fallback(echo);
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

/// The values of `name` the upstream received, in order.
fn received(r: &Resp, name: &str) -> Vec<String> {
    r.json()["headers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f[0] == name)
        .map(|f| f[1].as_str().unwrap().to_owned())
        .collect()
}

/// Asserts that the upstream received exactly one of each identity header, with these
/// values, and no other field that mentions Tessera in any spelling.
#[track_caller]
fn assert_identity(r: &Resp, user: &str, credential: &str, permissions: &str) {
    assert_eq!(r.status, 200, "{}", r.body);
    let fields = r.json()["headers"].as_array().unwrap().clone();
    for f in &fields {
        let (name, value) = (f[0].as_str().unwrap(), f[1].as_str().unwrap());
        assert!(
            !value.contains('{'),
            "an unexpanded placeholder: {name}: {value}"
        );
        if name.to_ascii_lowercase().contains("tessera") {
            assert!(
                [
                    "x-tessera-user",
                    "x-tessera-session",
                    "x-tessera-permissions",
                    "x-tessera-credential"
                ]
                .contains(&name),
                "a client's header reached the upstream: {name}: {value}"
            );
        }
    }
    assert_eq!(received(r, "x-tessera-user"), [user], "{}", r.body);
    assert_eq!(received(r, "x-tessera-credential"), [credential]);
    assert_eq!(received(r, "x-tessera-permissions"), [permissions]);
    let session = received(r, "x-tessera-session");
    assert_eq!(session.len(), 1, "{}", r.body);
    assert_eq!(session[0].is_empty(), user.is_empty(), "{}", r.body);
    // The API is not given the Tessera credential.
    assert!(received(r, "authorization").is_empty(), "{}", r.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn caddy_forward_auth_gets_the_same_decisions() {
    let Some(caddy) = caddy_binary() else {
        if std::env::var("CI").is_ok_and(|v| v == "true" || v == "1") {
            panic!("caddy is not installed; .ci/run installs it");
        }
        eprintln!(
            "\n*** SKIPPING caddy test: caddy is not installed (apt-get install caddy) ***\n"
        );
        return;
    };
    let api = upstream().await;
    let env = Env::sqlite().config(
        "[server]\ntrusted_proxies = [\"127.0.0.1\"]\n\
         [[rules]]\nmatch = \"GET /public/**\"\npublic = true\n\
         [[rules]]\nmatch = \"GET /orders/**\"\npermissions = [\"orders:read\"]\n\
         [[rules]]\nmatch = \"GET /me/**\"\n",
    );
    env.add_role("orders", &["orders:read"]);
    env.add_user("joe", PW, &["--role", "orders"]);
    env.add_user("ann", PW, &[]);
    let tessera = env.serve(&[]);

    // The example file itself, its addresses from the environment; Caddy's own state
    // (the autosaved configuration) under the test's directory, not in $HOME.
    let port = free_port();
    let home = env.path().join("caddy");
    std::fs::create_dir_all(&home).unwrap();
    let log_path = home.join("caddy.log");
    let started = Instant::now();
    let child = Command::new(caddy)
        .args(["run", "--adapter", "caddyfile", "--config", CADDYFILE])
        .env("TESSERA", crate::tcp::addr_of(&tessera.base))
        .env("UPSTREAM", api.to_string())
        .env("CADDY_BIND", "127.0.0.1")
        .env("CADDY_PORT", port.to_string())
        .env("HOME", &home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_DATA_HOME", home.join("data"))
        .current_dir(&home)
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(home.join("stdout.log")).unwrap())
        .stderr(std::fs::File::create(&log_path).unwrap())
        .spawn()
        .unwrap();
    let mut proxy = Caddy(child);
    let log = || std::fs::read_to_string(&log_path).unwrap_or_default();
    loop {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        if let Some(status) = proxy.0.try_wait().unwrap() {
            panic!("caddy exited ({status}): {}", log());
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "caddy did not start: {}",
            log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eprintln!("caddy listening after {:?}", started.elapsed());

    let mut c = Client::new(&format!("http://127.0.0.1:{port}"));
    // Logins pass through Caddy to Tessera.
    let joe = c.send_once(c.basic_login("joe", PW)).await;
    assert_eq!(joe.status, 200, "{} {}", joe.body, log());
    let joe = joe.body;
    let ann = c.login_token("ann", PW).await;

    // Whatever a client claims, in any spelling, never reaches the API.
    let spoofed = |rb: reqwest::RequestBuilder| {
        rb.header("X-Tessera-User", "root")
            .header("X_Tessera_User", "root")
            .header("x-TESSERA_permissions", "admin:*")
            .header("X-Tessera-Extra", "1")
            .header("X-Tessera-Credential", "session")
    };
    let get = |c: &Client, path: &str, token: Option<&str>| match token {
        Some(t) => spoofed(c.bearer(Method::GET, path, t)),
        None => spoofed(c.req(Method::GET, path)),
    };

    // Public: allowed, and the identity headers are there, empty (Caddy 2.6 would send
    // `{http.reverse_proxy.header.X-Tessera-User}` for a header Tessera did not answer).
    let r = c.send_once(get(&c, "/public/x", None)).await;
    assert_eq!(received(&r, "x-tessera-user"), [""], "{}", r.body);
    assert_identity(&r, "", "", "");
    assert_eq!(r.json()["path"], "/public/x");

    // Tessera's 401 and 403 go back to the client as they are.
    let r = c.send_once(get(&c, "/orders/1", None)).await;
    r.assert_problem(401, "unauthenticated");
    assert!(r.header("www-authenticate").is_some());
    let r = c.send_once(get(&c, "/orders/1", Some(&ann))).await;
    assert_eq!(r.status, 403, "missing permission: {}", r.body);
    assert_eq!(r.json()["required"], "orders:read");
    let r = c.send_once(get(&c, "/me/x", None)).await;
    r.assert_problem(401, "unauthenticated");

    // Allowed: the upstream sees Tessera's values only.
    let r = c.send_once(get(&c, "/orders/1", Some(&joe))).await;
    assert_identity(&r, "joe", "token", "orders:read");
    let r = c.send_once(get(&c, "/me/x", Some(&ann))).await;
    assert_identity(&r, "ann", "token", "");

    // The original method is what is judged: a POST where only GET is allowed.
    let r = c
        .send_once(spoofed(c.bearer(Method::POST, "/orders/1", &joe)))
        .await;
    assert_eq!(r.status, 403, "{}", r.body);
    // A client describing another request (in either spelling) does not change the
    // decision: Caddy sets X-Forwarded-Method/-Uri, the example removes X-Original-*.
    let r = c
        .send_once(
            get(&c, "/orders/1", None)
                .header("X-Original-URI", "/public/x")
                .header("X-Original-Method", "GET")
                .header("X-Forwarded-Uri", "/public/x")
                .header("X-Forwarded-Method", "GET"),
        )
        .await;
    r.assert_problem(401, "unauthenticated");
    // A variant of the path is judged as the route it reaches.
    let r = c.send_once(get(&c, "/%6frders/1", Some(&ann))).await;
    assert_eq!(r.status, 403, "{}", r.body);
    let r = c.send_once(get(&c, "/elsewhere", Some(&joe))).await;
    assert_eq!(r.status, 403, "no rule: {}", r.body);
}
