//! An HTTP client for the flows: explicit cookie jar, no automatic redirects.

use std::collections::BTreeMap;

use reqwest::header::HeaderMap;
use reqwest::{Method, RequestBuilder};

/// The password every test user gets.
pub const PW: &str = "correct horse battery staple";

/// An `Authorization: Basic` value.
pub fn basic(id: &str, secret: &str) -> String {
    use base64::Engine as _;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"))
    )
}

pub struct Client {
    http: reqwest::Client,
    pub base: String,
    /// Cookie name to value, as a browser would keep them.
    pub jar: BTreeMap<String, String>,
}

pub struct Resp {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: String,
    pub set_cookies: Vec<String>,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }

    /// The `Set-Cookie` line for `name`, if any.
    pub fn set_cookie(&self, name: &str) -> Option<&str> {
        self.set_cookies
            .iter()
            .find(|c| c.starts_with(&format!("{name}=")))
            .map(String::as_str)
    }

    /// The value a `Set-Cookie` for `name` sets.
    pub fn cookie_value(&self, name: &str) -> Option<String> {
        let line = self.set_cookie(name)?;
        Some(
            line[name.len() + 1..]
                .split(';')
                .next()
                .unwrap_or("")
                .to_owned(),
        )
    }

    pub fn code(&self) -> String {
        self.json()["code"].as_str().unwrap_or_default().to_owned()
    }

    /// The string member `key` of the JSON body (which must have it).
    #[track_caller]
    pub fn field(&self, key: &str) -> String {
        let v = self.json();
        v[key]
            .as_str()
            .unwrap_or_else(|| panic!("no string `{key}` in {v}"))
            .to_owned()
    }

    /// Asserts the status and the problem `code` of the answer.
    #[track_caller]
    pub fn assert_problem(&self, status: u16, code: &str) {
        assert_eq!(
            (self.status, self.code().as_str()),
            (status, code),
            "{}",
            self.body
        );
    }
}

impl Client {
    pub fn new(base: &str) -> Self {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .tls_danger_accept_invalid_certs(true)
            .build()
            .unwrap();
        Self {
            http,
            base: base.to_owned(),
            jar: BTreeMap::new(),
        }
    }

    /// The underlying client, to rebuild a request taken apart.
    pub fn http(&self) -> reqwest::Client {
        self.http.clone()
    }

    pub fn req(&self, method: Method, path: &str) -> RequestBuilder {
        let mut rb = self.http.request(method, format!("{}{path}", self.base));
        if !self.jar.is_empty() {
            let cookie: Vec<String> = self.jar.iter().map(|(k, v)| format!("{k}={v}")).collect();
            rb = rb.header("cookie", cookie.join("; "));
        }
        rb
    }

    /// `method path` with this `Authorization` header.
    pub fn auth(&self, method: Method, path: &str, authorization: &str) -> RequestBuilder {
        self.req(method, path)
            .header("authorization", authorization)
    }

    /// `method path` with `Authorization: Bearer token`.
    pub fn bearer(&self, method: Method, path: &str, token: &str) -> RequestBuilder {
        self.auth(method, path, &format!("Bearer {token}"))
    }

    /// A Basic login: `POST /api/login` with `Authorization: Basic`.
    pub fn basic_login(&self, login: &str, password: &str) -> RequestBuilder {
        self.auth(Method::POST, "/api/login", &basic(login, password))
    }

    /// A JSON login: `POST /api/login` with `{"username", "password"}`.
    pub fn json_login(&self, login: &str, password: &str) -> RequestBuilder {
        self.json_login_at("/api/login", login, password)
    }

    /// A JSON login at `path` (under another base path, or with a query).
    pub fn json_login_at(&self, path: &str, login: &str, password: &str) -> RequestBuilder {
        self.req(Method::POST, path)
            .json(&serde_json::json!({"username": login, "password": password}))
    }

    /// A form login at `path`: `username` and `password` URL-encoded.
    pub fn form_login_at(&self, path: &str, login: &str, password: &str) -> RequestBuilder {
        self.req(Method::POST, path)
            .form(&[("username", login), ("password", password)])
    }

    /// `POST path` with this `Content-Type` and body, as they are.
    pub fn post_typed(
        &self,
        path: &str,
        content_type: &str,
        body: impl Into<reqwest::Body>,
    ) -> RequestBuilder {
        self.req(Method::POST, path)
            .header("content-type", content_type)
            .body(body)
    }

    /// Logs in with Basic as a header-only client (keeping no cookie) and returns the
    /// session token.
    pub async fn login_token(&mut self, login: &str, password: &str) -> String {
        let r = self.send_once(self.basic_login(login, password)).await;
        assert_eq!(r.status, 200, "login of {login}: {}", r.body);
        r.body
    }

    pub async fn send(&mut self, rb: RequestBuilder) -> Resp {
        let res = rb.send().await.unwrap();
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let set_cookies: Vec<String> = headers
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect();
        for c in &set_cookies {
            let (pair, attrs) = c.split_once(';').unwrap_or((c, ""));
            let (name, value) = pair.split_once('=').unwrap();
            if attrs.contains("Max-Age=0") {
                self.jar.remove(name);
            } else {
                self.jar.insert(name.to_owned(), value.to_owned());
            }
        }
        let body = res.text().await.unwrap();
        Resp {
            status,
            headers,
            body,
            set_cookies,
        }
    }

    /// Sends as a header-only client would: cookies the answer sets are not kept.
    pub async fn send_once(&mut self, rb: RequestBuilder) -> Resp {
        let r = self.send(rb).await;
        self.jar.clear();
        r
    }

    pub async fn get(&mut self, path: &str) -> Resp {
        let rb = self.req(Method::GET, path);
        self.send(rb).await
    }
}
