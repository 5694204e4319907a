//! The library as an application uses it: the orders example served on a loopback port
//! in-process, driven over HTTP with every credential kind, on a fresh database each.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

#[allow(dead_code, reason = "`main` of the example is not run here")]
#[path = "../../../../examples/orders/main.rs"]
mod orders;

mod flows;
mod postgres;
mod rules;

use std::net::SocketAddr;

use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::{Method, StatusCode};
use serde_json::Value;
use tessera::{Builder, Login, NewUser, Password, Tessera};

/// The password of every test user.
const PW: &str = "correct horse battery staple";

/// The orders example on `database`, served on a free loopback port, with two users:
/// `ada` (role `clerk`: `orders:read`, `orders:write`) and `bob` (role `viewer`:
/// `orders:read`).
struct App {
    base: String,
    tessera: Tessera,
    _dir: tempfile::TempDir,
}

impl App {
    /// On SQLite in a fresh directory.
    async fn start() -> Self {
        Self::start_with(|b| b, true).await
    }

    /// With the builder as `configure` leaves it (data directory and key fresh);
    /// `add_users` when the database is new.
    async fn start_with(configure: impl FnOnce(Builder) -> Builder, new_users: bool) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut config = tessera::Config::default();
        config.server.data_dir = dir.path().join("data");
        let tessera = configure(Tessera::builder().config(config))
            .build()
            .await
            .unwrap();
        if new_users {
            add_users(&tessera).await;
        }
        let base = serve(orders::app(&tessera, orders::Orders::default())).await;
        Self {
            base,
            tessera,
            _dir: dir,
        }
    }

    /// A client without a cookie store.
    fn client(&self) -> Client {
        Client {
            http: reqwest::Client::new(),
            base: self.base.clone(),
            headers: HeaderMap::new(),
        }
    }

    /// A client logged in as `login` with the session cookie (a browser's view).
    async fn browser(&self, login: &str) -> Client {
        let mut c = Client {
            http: reqwest::Client::builder()
                .cookie_store(true)
                .build()
                .unwrap(),
            base: self.base.clone(),
            headers: HeaderMap::new(),
        };
        let r = c
            .send(
                c.req(Method::POST, "/api/login")
                    .form(&[("username", login), ("password", PW)]),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        let csrf = r.headers.get("x-csrftoken").expect("a CSRF token").clone();
        c.headers.insert("x-csrftoken", csrf);
        c
    }

    /// A session token of `login` (password login with HTTP Basic, plain-text answer).
    async fn session_token(&self, login: &str) -> String {
        let c = self.client();
        let r = c
            .send(
                c.req(Method::POST, "/api/login")
                    .basic_auth(login, Some(PW)),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        r.body
    }
}

struct Client {
    http: reqwest::Client,
    base: String,
    /// Sent with every request (the CSRF header of a browser session).
    headers: HeaderMap,
}

struct Resp {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Resp {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }

    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// Asserts a problem+json answer with this status and `code`.
    fn assert_problem(&self, status: StatusCode, code: &str) {
        assert_eq!(self.status, status, "{}", self.body);
        assert_eq!(self.header("content-type"), "application/problem+json");
        assert_eq!(self.json()["code"], code, "{}", self.body);
    }
}

impl Client {
    fn req(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.base))
            .headers(self.headers.clone())
    }

    fn bearer(&self, method: Method, path: &str, token: &str) -> reqwest::RequestBuilder {
        self.req(method, path).bearer_auth(token)
    }

    async fn send(&self, rb: reqwest::RequestBuilder) -> Resp {
        let r = rb.send().await.unwrap();
        Resp {
            status: r.status(),
            headers: r.headers().clone(),
            body: r.text().await.unwrap(),
        }
    }

    /// Sends `rb`, asserts a 2xx answer, and returns its JSON string member `name`.
    async fn field(&self, rb: reqwest::RequestBuilder, name: &str) -> String {
        let r = self.send(rb).await;
        assert!(r.status.is_success(), "{}", r.body);
        r.json()[name].as_str().unwrap().to_owned()
    }

    /// A request with `Authorization: Secret <secret>`.
    fn secret(&self, method: Method, path: &str, secret: &str) -> reqwest::RequestBuilder {
        self.req(method, path)
            .header("authorization", format!("Secret {secret}"))
    }

    /// `POST /orders` with a small order.
    async fn place(&self, rb: reqwest::RequestBuilder) -> Resp {
        self.send(rb.json(&serde_json::json!({"item": "tea", "quantity": 2})))
            .await
    }
}

/// Roles `clerk` (`orders:read`, `orders:write`, `reports:read`) and `viewer`
/// (`orders:read`); users `ada` (clerk) and `bob` (viewer).
async fn add_users(tessera: &Tessera) {
    let accounts = tessera.accounts();
    let perms = |p: &[&str]| p.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let clerk = perms(&["orders:read", "orders:write", "reports:read"]);
    accounts.create_role("clerk", &clerk, "test").await.unwrap();
    let viewer = perms(&["orders:read"]);
    accounts
        .create_role("viewer", &viewer, "test")
        .await
        .unwrap();
    for (login, role) in [("ada", "clerk"), ("bob", "viewer")] {
        let mut user = NewUser::new(Login::parse(login).unwrap());
        user.roles = vec![role.into()];
        accounts
            .create_user(user, &Password::new(PW))
            .await
            .unwrap();
    }
}

/// Serves `app` on a free loopback port with the client's address known; its base URL.
async fn serve(app: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
    });
    base
}

/// A header value for tests that remove a header.
fn value(s: &str) -> HeaderValue {
    HeaderValue::from_str(s).unwrap()
}
