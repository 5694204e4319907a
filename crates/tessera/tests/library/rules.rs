//! The `[[rules]]` of the server's configuration file as a layer of the application, and
//! the builder reading that file.

use axum::Router;
use axum::routing::{get, post};
use reqwest::{Method, StatusCode};
use tessera::{Auth, Tessera};

use crate::{App, add_users, serve};

const CONFIG: &str = r#"
[session]
cookie_name = "orders_session"

[[rules]]
match = "GET /status"
public = true

[[rules]]
match = "GET /reports/**"
permissions = ["reports:read"]

[[rules]]
match = "POST /hooks/*"
credentials = ["client_secret"]
"#;

/// Tessera built from a configuration file holding `toml` (and a fresh data directory),
/// with the test users.
async fn from_file(toml: &str) -> (tempfile::TempDir, Tessera) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tessera.toml");
    let data = dir.path().join("data").display().to_string();
    std::fs::write(&file, format!("[server]\ndata_dir = {data:?}\n{toml}")).unwrap();
    let tessera = Tessera::builder()
        .config_file(&file)
        .unwrap()
        .build()
        .await
        .unwrap();
    add_users(&tessera).await;
    (dir, tessera)
}

/// An application guarded by the rules of `CONFIG`, read from a file.
async fn guarded() -> App {
    let (dir, tessera) = from_file(CONFIG).await;
    let app = Router::new()
        .route("/status", get(|| async { "up" }))
        .route(
            "/reports/{id}",
            get(|auth: Auth| async move { auth.user().login.to_string() }),
        )
        .route("/hooks/{name}", post(|| async { "hooked" }))
        .route("/other", get(|| async { "other" }))
        .layer(tessera.access_rules())
        .nest("/api", tessera.auth_router())
        .layer(tessera.layer());
    App {
        base: serve(app).await,
        tessera,
        _dir: dir,
    }
}

#[tokio::test]
async fn access_rules_layer_decides_as_the_gateway_does() {
    let app = guarded().await;
    let c = app.client();
    let ada = app.session_token("ada").await;
    let bob = app.session_token("bob").await;

    let r = c.send(c.req(Method::GET, "/status")).await;
    assert_eq!((r.status, r.body.as_str()), (StatusCode::OK, "up"));
    c.send(c.req(Method::GET, "/reports/1"))
        .await
        .assert_problem(StatusCode::UNAUTHORIZED, "unauthenticated");
    let r = c.send(c.bearer(Method::GET, "/reports/1", &bob)).await;
    r.assert_problem(StatusCode::FORBIDDEN, "insufficient_scope");
    assert_eq!(r.json()["required"], "reports:read");
    let r = c.send(c.bearer(Method::GET, "/reports/1", &ada)).await;
    assert_eq!((r.status, r.body.as_str()), (StatusCode::OK, "ada"));
    // Decided on the normalised path, ignoring case, as the gateway decides: another
    // spelling is no way around the rule (the router then answers 404 for it).
    for path in [
        "/REPORTS/1",
        "/x/../reports/1",
        "//reports/1",
        "/%72eports/1",
    ] {
        let r = c.send(c.bearer(Method::GET, path, &bob)).await;
        r.assert_problem(StatusCode::FORBIDDEN, "insufficient_scope");
        let r = c.send(c.req(Method::GET, path)).await;
        r.assert_problem(StatusCode::UNAUTHORIZED, "unauthenticated");
    }
    // A bearer token is not a kind `POST /hooks/*` accepts; the client secret is.
    c.send(c.bearer(Method::POST, "/hooks/deploy", &ada))
        .await
        .assert_problem(StatusCode::UNAUTHORIZED, "invalid_credentials");
    let show = c.bearer(Method::GET, "/api/client-secret", &ada);
    let secret = c.field(show, "secret").await;
    let hook = c.secret(Method::POST, "/hooks/deploy", &secret);
    assert_eq!(c.send(hook).await.body, "hooked");
    // No rule matches: refused even for a valid credential.
    c.send(c.bearer(Method::GET, "/other", &ada))
        .await
        .assert_problem(StatusCode::FORBIDDEN, "forbidden");
    // An encoded slash cannot be normalised safely: 400, never a guess.
    c.send(c.bearer(Method::GET, "/reports%2f1", &ada))
        .await
        .assert_problem(StatusCode::BAD_REQUEST, "invalid_request");
}

#[tokio::test]
async fn builder_reads_the_servers_configuration_file() {
    let app = guarded().await;
    let c = app.client();
    let r = c
        .send(
            c.req(Method::POST, "/api/login")
                .form(&[("username", "ada"), ("password", crate::PW)]),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let cookies: Vec<&str> = r
        .headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    assert!(
        cookies.iter().any(|c| c.starts_with("orders_session=")),
        "{cookies:?}"
    );
    assert_eq!(
        app.tessera.settings().http.session_cookie.name,
        "orders_session"
    );

    let bad = app._dir.path().join("bad.toml");
    std::fs::write(&bad, "[session]\nidle_timeout = \"soon\"\n").unwrap();
    let e = Tessera::builder().config_file(&bad).err().unwrap();
    assert!(e.to_string().contains("session.idle_timeout"), "{e}");
}

#[tokio::test]
async fn access_rules_inside_a_nested_router_see_the_whole_path() {
    let rules = "[[rules]]\nmatch = \"GET /v1/reports/**\"\npermissions = [\"reports:read\"]\n";
    let (dir, tessera) = from_file(rules).await;
    let reports = Router::new()
        .route("/reports/{id}", get(|| async { "report" }))
        .layer(tessera.access_rules());
    let app = Router::new()
        .nest("/v1", reports)
        .nest("/api", tessera.auth_router())
        .layer(tessera.layer());
    let app = App {
        base: serve(app).await,
        tessera,
        _dir: dir,
    };
    let c = app.client();
    let ada = app.session_token("ada").await;
    let bob = app.session_token("bob").await;
    let r = c.send(c.bearer(Method::GET, "/v1/reports/1", &ada)).await;
    assert_eq!((r.status, r.body.as_str()), (StatusCode::OK, "report"));
    let r = c.send(c.bearer(Method::GET, "/v1/reports/1", &bob)).await;
    r.assert_problem(StatusCode::FORBIDDEN, "insufficient_scope");
    assert_eq!(r.json()["required"], "reports:read");
}
