//! Every Tessera configuration in `examples/` (`*.toml`), used as it is (the file itself,
//! by its path, from another working directory), driven through the client steps
//! `examples/README.md` documents for it, each answer checked. Only the data directory
//! and the listening address (and, for the gateway, the upstream's address) come from the
//! test.

use std::path::PathBuf;

use reqwest::Method;
use serde_json::json;

use crate::client::{Client, PW, Resp, basic};
use crate::harness::{Env, labelled};

/// The example configurations this file runs, as named in `examples/README.md`.
const EXAMPLES: [&str; 4] = [
    "voss-form-login.toml",
    "haivision.toml",
    "simplicite.toml",
    "shift-iq.toml",
];

fn examples_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples"))
        .canonicalize()
        .unwrap()
}

/// A fresh environment whose `TESSERA_CONFIG` is the example file itself.
fn example_env(file: &str) -> Env {
    let path = examples_dir().join(file);
    Env::sqlite().with("TESSERA_CONFIG", &path.display().to_string())
}

/// The value of a `Set-Cookie` the answer carried, which must carry one.
#[track_caller]
fn cookie(r: &Resp, name: &str) -> String {
    r.cookie_value(name)
        .unwrap_or_else(|| panic!("no {name} cookie set: {:?}", r.set_cookies))
}

#[test]
fn every_example_config_is_documented_and_run_here() {
    let mut found: Vec<String> = std::fs::read_dir(examples_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".toml"))
        .collect();
    found.sort();
    let mut tested = EXAMPLES.map(str::to_owned).to_vec();
    tested.sort();
    assert_eq!(
        found, tested,
        "a configuration in examples/ without its test"
    );
    let readme = std::fs::read_to_string(examples_dir().join("README.md")).unwrap();
    for file in EXAMPLES {
        assert!(
            readme.contains(&format!("(`{file}`)")),
            "examples/README.md has no section for {file}"
        );
        // Nothing in the file depends on the working directory but the data directory,
        // left at its default.
        let path = examples_dir().join(file);
        let config = tessera::Config::load_from(Some(&path), &[])
            .unwrap_or_else(|e| panic!("{file}: {e}"))
            .config;
        let s = &config.server;
        assert_eq!(s.data_dir, PathBuf::from("./tessera-data"), "{file}");
        for p in [&s.secret_key_file, &s.tls_cert, &s.tls_key]
            .into_iter()
            .flatten()
        {
            assert!(p.is_absolute(), "{file}: {}", p.display());
        }
        assert!(
            config.database.url.is_none(),
            "{file}: the database is in the data directory"
        );
        for p in &config.identity_providers {
            assert!(
                p.client_secret_file
                    .as_ref()
                    .is_none_or(|f| f.is_absolute()),
                "{file}: {}",
                p.id
            );
        }
    }
}

/// `voss-form-login.toml`: the Django-style form login with CSRF at the site root.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn voss_form_login_example_runs_as_documented() {
    let env = example_env("voss-form-login.toml");
    env.add_user("joe", PW, &[]);
    let server = env.serve(&[]);
    let mut c = Client::new(&server.base);

    // 1. The login page: the X-CSRFToken header equals the HttpOnly csrftoken cookie.
    let page = c
        .send(c.req(Method::GET, "/login/").header("accept", "text/html"))
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    let token = page.header("x-csrftoken").unwrap().to_owned();
    assert_eq!(cookie(&page, "csrftoken"), token);
    assert!(page.set_cookie("csrftoken").unwrap().contains("HttpOnly"));

    // 2. The form with the header and the unchanged cookie: redirected to next=/.
    let login = c
        .send(
            c.req(Method::POST, "/login/")
                .header("x-csrftoken", &token)
                .form(&[("username", "joe"), ("password", PW), ("next", "/")]),
        )
        .await;
    assert_eq!(login.status, 303, "{}", login.body);
    assert_eq!(login.header("location"), Some("/"));
    cookie(&login, "sessionid");
    let token = cookie(&login, "csrftoken");
    assert_eq!(
        login.header("x-csrftoken"),
        Some(token.as_str()),
        "a new token"
    );

    // 3. Unsafe requests with the session cookie: 403 without the header, 204 with it.
    let without = c.send(c.req(Method::DELETE, "/sessions")).await;
    without.assert_problem(403, "csrf_failed");
    let with = c
        .send(
            c.req(Method::DELETE, "/sessions")
                .header("x-csrftoken", &token),
        )
        .await;
    assert_eq!(with.status, 204, "{}", with.body);

    // 4. Log out with POST and the CSRF header.
    let out = c
        .send(c.req(Method::POST, "/logout").header("x-csrftoken", &token))
        .await;
    assert_eq!(out.status, 204, "{}", out.body);
    assert_eq!(c.get("/session").await.status, 401);
}

/// `haivision.toml`: the JSON login with the `calypso-session-id` cookie under
/// `/apis/authentication`, then the API key login.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn haivision_example_runs_as_documented() {
    let env = example_env("haivision.toml");
    env.add_user("joe", PW, &[]);
    let server = env.serve(&[]);
    let b = "/apis/authentication";
    let mut c = Client::new(&server.base);

    // The JSON login answers JSON and sets calypso-session-id.
    let login = c
        .send(c.json_login_at(&format!("{b}/login"), "joe", PW))
        .await;
    assert_eq!(login.status, 200, "{}", login.body);
    assert!(
        login.field("authtoken").starts_with("tss_"),
        "{}",
        login.body
    );
    cookie(&login, "calypso-session-id");
    // Session info.
    let info = c.get(&format!("{b}/login")).await;
    assert_eq!(info.status, 200, "{}", info.body);
    assert_eq!(info.json()["login"], "joe");
    // DELETE with the CSRF header ends it; 401 afterwards.
    let token = c.jar["csrftoken"].clone();
    let del = c
        .send(
            c.req(Method::DELETE, &format!("{b}/login"))
                .header("x-csrftoken", &token),
        )
        .await;
    assert_eq!(del.status, 204, "{}", del.body);
    assert_eq!(c.get(&format!("{b}/login")).await.status, 401);

    // The API key and secret, made by the CLI, exchanged for a bearer token (no cookie).
    let made = env
        .run(&["apikey", "create", "joe", "--name", "ci"], "")
        .success();
    let (key, secret) = (labelled(&made, "api_key"), labelled(&made, "api_secret"));
    assert!(
        key.starts_with("key_") && secret.starts_with("tsx_"),
        "{made}"
    );
    let mut program = Client::new(&server.base);
    let exchange = program
        .send(
            program
                .req(Method::POST, &format!("{b}/login/key"))
                .json(&json!({"apiKey": key, "apiSecret": secret})),
        )
        .await;
    assert_eq!(exchange.status, 200, "{}", exchange.body);
    let auth_token = exchange.field("authToken");
    assert!(auth_token.starts_with("tsk_"), "{}", exchange.body);
    assert_eq!(exchange.field("authtoken"), auth_token);
    assert!(exchange.set_cookie("calypso-session-id").is_none());
    let info = program
        .send_once(program.bearer(Method::GET, &format!("{b}/login"), &auth_token))
        .await;
    assert_eq!(info.status, 200, "{}", info.body);
    assert_eq!(info.json()["login"], "joe");
    assert_eq!(info.json()["kind"], "api_key");
    let del = program
        .send_once(program.bearer(Method::DELETE, &format!("{b}/login"), &auth_token))
        .await;
    assert_eq!(del.status, 204, "{}", del.body);
    let after = program
        .send_once(program.bearer(Method::GET, &format!("{b}/login"), &auth_token))
        .await;
    assert_eq!(after.status, 401, "{}", after.body);
}

/// `simplicite.toml`: Basic login in every answer format, a form login, the token in
/// `X-Simplicite-Authorization`, logout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simplicite_example_runs_as_documented() {
    let env = example_env("simplicite.toml");
    env.add_user("joe", PW, &[]);
    let server = env.serve(&[]);
    let mut c = Client::new(&server.base);
    let joe = basic("joe", PW);
    let login = |c: &Client, query: &str| c.auth(Method::GET, &format!("/api/login{query}"), &joe);

    let plain = c.send_once(login(&c, "")).await;
    assert_eq!(plain.status, 200, "{}", plain.body);
    assert_eq!(
        plain.header("content-type"),
        Some("text/plain; charset=utf-8")
    );
    let token = plain.body.clone();
    assert!(token.starts_with("tss_"), "{token}");

    let form = reqwest::multipart::Form::new()
        .text("username", "joe")
        .text("password", PW);
    let r = c
        .send_once(c.req(Method::POST, "/api/login").multipart(form))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        r.body.starts_with("tss_"),
        "a form login answers the token as text"
    );

    let json = c.send_once(login(&c, "?_json=true")).await;
    assert_eq!(json.json()["login"], "joe");
    assert!(json.field("authtoken").starts_with("tss_"));

    let oauth = c.send_once(login(&c, "?_oauth2=true")).await;
    oauth.assert_problem(400, "https_required");

    let redirect = c
        .send_once(login(
            &c,
            "?redirect_uri=https%3A%2F%2Fapp.example.com%2Fcallback",
        ))
        .await;
    assert_eq!(redirect.status, 302, "{}", redirect.body);
    let location = redirect.header("location").unwrap();
    assert!(
        location.starts_with("https://app.example.com/callback?access_token=tss_"),
        "{location}"
    );

    let alias = |c: &Client, method: Method, path: &str| {
        c.req(method, path)
            .header("x-simplicite-authorization", format!("Bearer {token}"))
    };
    let info = c.send_once(alias(&c, Method::GET, "/api/session")).await;
    assert_eq!(info.status, 200, "{}", info.body);
    assert_eq!(info.json()["login"], "joe");
    let out = c.send_once(alias(&c, Method::GET, "/api/logout")).await;
    assert_eq!(out.status, 204, "{}", out.body);
    let gone = c.send_once(alias(&c, Method::GET, "/api/session")).await;
    assert_eq!(gone.status, 401, "{}", gone.body);
}

/// `shift-iq.toml`: personal access tokens and the session cookie on the API behind the
/// gateway, the client secret on the endpoints that take it, and its exchange for an
/// access token. The upstream is the tests' echoing API, on a port of its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shift_iq_example_runs_as_documented() {
    let api = crate::upstream::start().await;
    let env =
        example_env("shift-iq.toml").with("TESSERA_PROXY__UPSTREAM", &format!("http://{api}"));
    env.add_user("joe", PW, &[]);
    let server = env.serve(&[]);
    let mut c = Client::new(&server.base);
    // The API saw the request as `who`, by `credential`.
    #[track_caller]
    fn reached_as(r: &Resp, who: &str, credential: &str) {
        assert_eq!(r.status, 200, "{}", r.body);
        let headers = &r.json()["headers"];
        assert_eq!(headers["x-tessera-user"], who, "{}", r.body);
        assert_eq!(headers["x-tessera-credential"], credential, "{}", r.body);
    }

    // 1. A JSON login: the JSON answer and the session cookie.
    let login = c.send(c.json_login("joe", PW)).await;
    assert_eq!(login.status, 200, "{}", login.body);
    assert!(login.field("authtoken").starts_with("tss_"));
    cookie(&login, "sessionid");
    let csrf = c.jar["csrftoken"].clone();

    // 2. A personal access token, made with the session (cookie + CSRF header).
    let made = c
        .send(
            c.req(Method::POST, "/api/tokens")
                .header("x-csrftoken", &csrf)
                .json(&json!({"name": "laptop"})),
        )
        .await;
    assert_eq!(made.status, 201, "{}", made.body);
    let (pat, pat_id) = (made.field("token"), made.field("id"));
    assert!(pat.starts_with("tsp_"), "{}", made.body);
    let at = |k: &str| {
        tessera_core::Timestamp::parse(&made.field(k))
            .unwrap()
            .unix()
    };
    assert_eq!(
        at("expires_at") - at("created_at"),
        24 * 3600,
        "24 hours by default"
    );

    // 3. The token on the API, and the session cookie on the same endpoints.
    let mut program = Client::new(&server.base);
    let r = program
        .send_once(program.bearer(Method::GET, "/v1/courses", &pat))
        .await;
    reached_as(&r, "joe", "token");
    let r = c.send(c.req(Method::GET, "/v1/courses")).await;
    reached_as(&r, "joe", "session");
    let r = c.send(c.req(Method::POST, "/v1/courses")).await;
    r.assert_problem(403, "csrf_failed");
    let r = c
        .send(
            c.req(Method::POST, "/v1/courses")
                .header("x-csrftoken", &csrf),
        )
        .await;
    reached_as(&r, "joe", "session");
    let r = program
        .send_once(program.req(Method::GET, "/v1/courses"))
        .await;
    assert_eq!(r.status, 401, "{}", r.body);

    // 4. The client secret, where a rule lists it and nowhere else.
    let shown = c.send(c.req(Method::GET, "/api/client-secret")).await;
    assert_eq!(shown.status, 200, "{}", shown.body);
    let secret = shown.field("secret");
    assert!(secret.starts_with("tsc_"), "{}", shown.body);
    let as_secret = format!("Secret {secret}");
    let r = program
        .send_once(program.auth(Method::GET, "/v1/reports/monthly", &as_secret))
        .await;
    reached_as(&r, "joe", "client_secret");
    let r = program
        .send_once(program.auth(Method::GET, "/v1/courses", &as_secret))
        .await;
    assert_eq!(r.status, 401, "{}", r.body);

    // 5. The client secret exchanged for an access token of a chosen lifetime.
    let r = program
        .send_once(
            program
                .auth(Method::POST, "/api/oauth/token", &basic("joe", &secret))
                .form(&[("grant_type", "client_credentials"), ("expires_in", "600")]),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["token_type"], "bearer");
    assert_eq!(r.json()["expires_in"], 600);
    let access = r.field("access_token");
    assert!(access.starts_with("tsa_"), "{}", r.body);
    let r = program
        .send_once(program.bearer(Method::GET, "/v1/courses", &access))
        .await;
    reached_as(&r, "joe", "token");

    // 6. The personal access token revoked: refused at once.
    let r = c
        .send(
            c.req(Method::DELETE, &format!("/api/tokens/{pat_id}"))
                .header("x-csrftoken", &csrf),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    let r = program
        .send_once(program.bearer(Method::GET, "/v1/courses", &pat))
        .await;
    assert_eq!(r.status, 401, "{}", r.body);
}
