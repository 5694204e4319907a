//! Personal access tokens, API keys, client secrets and OAuth2, end to end.

use reqwest::Method;
use serde_json::{Value, json};

use crate::client::{Client, PW, Resp, basic};
use crate::harness::{Backend, Env};

fn bearer(t: &str) -> String {
    format!("Bearer {t}")
}

/// Waits out the verification cache, for revocations made by another process (the CLI).
pub async fn settle() {
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
}

/// A logged-in API client holding a session token.
struct Session {
    c: Client,
    token: String,
}

impl Session {
    async fn login(base: &str, login: &str) -> Self {
        let mut c = Client::new(base);
        let r = c
            .send(
                c.req(Method::POST, "/api/login")
                    .header("authorization", basic(login, PW)),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        c.jar.clear(); // a header-only client
        Self { c, token: r.body }
    }

    async fn call(&mut self, method: Method, path: &str, body: Option<Value>) -> Resp {
        let mut rb = self
            .c
            .req(method, path)
            .header("authorization", bearer(&self.token));
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        self.c.send_once(rb).await
    }

    async fn with(&mut self, token: &str, method: Method, path: &str) -> Resp {
        let rb = self
            .c
            .req(method, path)
            .header("authorization", bearer(token));
        self.c.send_once(rb).await
    }
}

async fn oauth(c: &mut Client, path: &str, auth: Option<String>, form: &[(&str, &str)]) -> Resp {
    let mut rb = c.req(Method::POST, path).form(form);
    if let Some(a) = auth {
        rb = rb.header("authorization", a);
    }
    c.send_once(rb).await
}

/// Client authentication, form, expected status and OAuth2 error.
type OAuthCase<'a> = (Option<String>, Vec<(&'a str, &'a str)>, u16, &'a str);

async fn lifecycle(backend: Backend) {
    let Some(env) = Env::new(backend).await else {
        return;
    };
    env.run(
        &[
            "role",
            "add",
            "orders",
            "--permission",
            "orders:read",
            "--permission",
            "orders:write",
        ],
        "",
    )
    .success();
    env.run(
        &[
            "role",
            "add",
            "introspector",
            "--permission",
            "tokens:introspect",
        ],
        "",
    )
    .success();
    env.add_user("joe", PW, &["--role", "orders"]);
    env.add_user("ann", PW, &[]);
    env.add_user("gw", PW, &["--role", "introspector"]);
    let server = env.serve(&[]);
    let mut joe = Session::login(&server.base, "joe").await;
    let mut ann = Session::login(&server.base, "ann").await;

    // --- Personal access tokens ---
    let r = joe
        .call(
            Method::POST,
            "/api/tokens",
            Some(json!({"name": "ci", "scopes": ["orders:read"], "expires_in": 3600})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let v = r.json();
    let pat = v["token"].as_str().unwrap().to_owned();
    let pat_id = v["id"].as_str().unwrap().to_owned();
    assert!(pat.starts_with("tsp_") && pat.len() == 42);
    assert_eq!(v["scopes"], json!(["orders:read"]));
    for k in ["expires_at", "created_at", "name"] {
        assert!(v[k].is_string(), "{k}");
    }
    let list = joe.call(Method::GET, "/api/tokens", None).await.json();
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert!(list[0].get("token").is_none(), "the value is shown once");
    assert!(list[0].get("last_used_at").is_some());

    let info = joe.with(&pat, Method::GET, "/api/session").await;
    assert_eq!(info.status, 200);
    let info = info.json();
    assert_eq!(info["kind"], "pat");
    assert_eq!(info["scopes"], json!(["orders:read"]));
    assert_eq!(info["sessionid"], pat_id.as_str());

    // More than the owner holds is refused, naming the scope.
    let r = joe
        .call(
            Method::POST,
            "/api/tokens",
            Some(json!({"name": "x", "scopes": ["users:write"]})),
        )
        .await;
    assert_eq!((r.status, r.code().as_str()), (400, "invalid_scope"));
    assert_eq!(r.json()["required"], "users:write");
    let r = joe
        .call(
            Method::POST,
            "/api/tokens",
            Some(json!({"name": "x", "expires_in": "400d"})),
        )
        .await;
    assert_eq!(r.status, 400);

    // A PAT cannot mint credentials.
    let r = joe.with(&pat, Method::POST, "/api/tokens").await;
    assert_eq!(r.status, 403);
    assert_eq!(
        joe.with(&pat, Method::GET, "/api/client-secret")
            .await
            .status,
        403
    );

    // Someone else's token id is 404 to me, and stays valid.
    let r = ann
        .call(Method::DELETE, &format!("/api/tokens/{pat_id}"), None)
        .await;
    assert_eq!(r.status, 404);
    assert_eq!(
        joe.with(&pat, Method::GET, "/api/session").await.status,
        200
    );

    // Regenerate: same name and scopes, new value; the old one stops at once.
    let r = joe
        .call(
            Method::POST,
            &format!("/api/tokens/{pat_id}/regenerate"),
            None,
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let regen = r.json();
    let pat2 = regen["token"].as_str().unwrap().to_owned();
    assert_eq!(regen["name"], "ci");
    assert_eq!(regen["scopes"], json!(["orders:read"]));
    assert_eq!(
        joe.with(&pat, Method::GET, "/api/session").await.status,
        401
    );
    assert_eq!(
        joe.with(&pat2, Method::GET, "/api/session").await.status,
        200
    );
    let r = joe
        .call(
            Method::DELETE,
            &format!("/api/tokens/{}", regen["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(r.status, 204);
    assert_eq!(
        joe.with(&pat2, Method::GET, "/api/session").await.status,
        401
    );

    // --- API keys ---
    let r = joe
        .call(
            Method::POST,
            "/api/apikeys",
            Some(json!({"name": "deploy"})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let k = r.json();
    let (key_id, key_secret) = (
        k["api_key"].as_str().unwrap().to_owned(),
        k["api_secret"].as_str().unwrap().to_owned(),
    );
    assert!(key_secret.starts_with("tsx_"));
    let listed = joe.call(Method::GET, "/api/apikeys", None).await.json();
    assert!(listed[0].get("api_secret").is_none());
    let mut c = Client::new(&server.base);
    let r = c
        .send(
            c.req(Method::POST, "/api/login/key")
                .json(&json!({"apiKey": key_id, "apiSecret": key_secret})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        r.set_cookie("sessionid").is_none(),
        "a key login sets no session cookie"
    );
    let key_token = r.json()["authToken"].as_str().unwrap().to_owned();
    assert!(key_token.starts_with("tsk_"));
    assert!(r.json()["expires_in"].as_i64().unwrap() <= 1800);
    let info = joe
        .with(&key_token, Method::GET, "/api/session")
        .await
        .json();
    assert_eq!(info["kind"], "api_key");
    // Form and Basic work too; a wrong secret is the same 401 as an unknown key.
    c.jar.clear();
    let r = c
        .send(c.req(Method::POST, "/api/login/key").form(&[
            ("api_key", key_id.as_str()),
            ("api_secret", key_secret.as_str()),
        ]))
        .await;
    assert_eq!(r.status, 200);
    c.jar.clear();
    let r = c
        .send(
            c.req(Method::POST, "/api/login/key?_output=text")
                .header("authorization", basic(&key_id, &key_secret)),
        )
        .await;
    assert_eq!(r.status, 200);
    c.jar.clear();
    let bad = c
        .send_once(
            c.req(Method::POST, "/api/login/key")
                .json(&json!({"apiKey": key_id, "apiSecret": "tsx_wrong"})),
        )
        .await;
    let unknown = c
        .send(
            c.req(Method::POST, "/api/login/key")
                .json(&json!({"apiKey": "key_nope", "apiSecret": key_secret})),
        )
        .await;
    assert_eq!((bad.status, unknown.status), (401, 401));
    assert_eq!(bad.body, unknown.body);
    // The key or its secret used directly is not a credential.
    assert_eq!(
        joe.with(&key_secret, Method::GET, "/api/session")
            .await
            .status,
        401
    );
    assert_eq!(
        joe.with(&key_id, Method::GET, "/api/session").await.status,
        401
    );
    // Deleting the key ends its sessions.
    assert_eq!(
        ann.call(Method::DELETE, &format!("/api/apikeys/{key_id}"), None)
            .await
            .status,
        404
    );
    assert_eq!(
        joe.call(Method::DELETE, &format!("/api/apikeys/{key_id}"), None)
            .await
            .status,
        204
    );
    assert_eq!(
        joe.with(&key_token, Method::GET, "/api/session")
            .await
            .status,
        401
    );

    // --- Client secret and OAuth2 ---
    let cs = joe.call(Method::GET, "/api/client-secret", None).await;
    assert_eq!(cs.status, 200);
    let cs = cs.json();
    let secret = cs["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("tsc_"));
    assert_eq!(
        joe.call(Method::GET, "/api/client-secret", None)
            .await
            .json()["secret"],
        secret.as_str(),
        "shown again"
    );
    // Not accepted on routes that do not list client_secret.
    let r = c
        .send(
            c.req(Method::GET, "/api/session")
                .header("authorization", format!("Secret {secret}")),
        )
        .await;
    assert_eq!(r.status, 401);

    let t = oauth(
        &mut c,
        "/api/oauth/token",
        Some(basic("joe", &secret)),
        &[("grant_type", "client_credentials"), ("expires_in", "120")],
    )
    .await;
    assert_eq!(t.status, 200, "{}", t.body);
    assert_eq!(t.header("cache-control"), Some("no-store"));
    assert_eq!(t.header("pragma"), Some("no-cache"));
    let tv = t.json();
    assert_eq!(tv["token_type"], "bearer");
    assert_eq!(tv["expires_in"], 120);
    let access = tv["access_token"].as_str().unwrap().to_owned();
    let info = joe.with(&access, Method::GET, "/api/session").await.json();
    assert_eq!(info["kind"], "access_token");

    let scoped = oauth(
        &mut c,
        "/api/oauth/token",
        None,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", "joe"),
            ("client_secret", &secret),
            ("scope", "orders:read"),
        ],
    )
    .await;
    assert_eq!(scoped.status, 200, "{}", scoped.body);
    assert_eq!(scoped.json()["scope"], "orders:read");
    let cases: Vec<OAuthCase> = vec![
        (
            Some(basic("joe", &secret)),
            vec![("grant_type", "password")],
            400,
            "unsupported_grant_type",
        ),
        (
            Some(basic("joe", &secret)),
            vec![
                ("grant_type", "client_credentials"),
                ("scope", "users:write"),
            ],
            400,
            "invalid_scope",
        ),
        (
            Some(basic("joe", &secret)),
            vec![("grant_type", "client_credentials"), ("expires_in", "30")],
            400,
            "invalid_request",
        ),
        (
            Some(basic("joe", &secret)),
            vec![
                ("grant_type", "client_credentials"),
                ("grant_type", "client_credentials"),
            ],
            400,
            "invalid_request",
        ),
        (
            Some(basic("joe", "tsc_wrong")),
            vec![("grant_type", "client_credentials")],
            401,
            "invalid_client",
        ),
        (
            Some(basic("ann", &secret)),
            vec![("grant_type", "client_credentials")],
            401,
            "invalid_client",
        ),
        (
            None,
            vec![("grant_type", "client_credentials")],
            401,
            "invalid_client",
        ),
    ];
    for (auth, form, status, error) in cases {
        let r = oauth(&mut c, "/api/oauth/token", auth, &form).await;
        assert_eq!(
            (r.status, r.json()["error"].as_str().unwrap()),
            (status, error),
            "{form:?}: {}",
            r.body
        );
        if status == 401 {
            assert!(r.header("www-authenticate").is_some());
        }
    }
    let r = c
        .send(
            c.req(
                Method::POST,
                &format!("/api/oauth/token?client_secret={secret}"),
            )
            .form(&[("grant_type", "client_credentials"), ("client_id", "joe")]),
        )
        .await;
    assert_eq!(r.status, 400, "never the query string");

    // Introspection: the owner sees it; another account without tokens:introspect does
    // not; an account with it does.
    let ann_secret = ann
        .call(Method::GET, "/api/client-secret", None)
        .await
        .json()["secret"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = oauth(
        &mut c,
        "/api/oauth/introspect",
        Some(basic("joe", &secret)),
        &[("token", &access)],
    )
    .await;
    let iv = r.json();
    assert_eq!(iv["active"], true, "{iv}");
    assert_eq!(iv["username"], "joe");
    assert!(iv["exp"].as_i64().unwrap() > iv["iat"].as_i64().unwrap());
    let r = oauth(
        &mut c,
        "/api/oauth/introspect",
        Some(basic("ann", &ann_secret)),
        &[("token", &access)],
    )
    .await;
    assert_eq!(r.json(), json!({"active": false}));
    let mut gw = Session::login(&server.base, "gw").await;
    let gw_secret = gw
        .call(Method::GET, "/api/client-secret", None)
        .await
        .json()["secret"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = oauth(
        &mut c,
        "/api/oauth/introspect",
        Some(basic("gw", &gw_secret)),
        &[("token", &joe.token)],
    )
    .await;
    assert_eq!(r.json()["active"], true);
    assert_eq!(r.json()["kind"], "password");
    let r = oauth(
        &mut c,
        "/api/oauth/introspect",
        Some(basic("gw", &gw_secret)),
        &[("token", "tsa_garbage")],
    )
    .await;
    assert_eq!(r.json(), json!({"active": false}));

    // Revocation: only the owner's tokens; 200 whatever the token.
    let r = oauth(
        &mut c,
        "/api/oauth/revoke",
        Some(basic("ann", &ann_secret)),
        &[("token", &access)],
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        joe.with(&access, Method::GET, "/api/session").await.status,
        200,
        "ann cannot revoke joe's token"
    );
    let r = oauth(
        &mut c,
        "/api/oauth/revoke",
        Some(basic("joe", &secret)),
        &[("token", "tsa_unknown")],
    )
    .await;
    assert_eq!(r.status, 200);
    let r = oauth(
        &mut c,
        "/api/oauth/revoke",
        Some(basic("joe", &secret)),
        &[("token", &access)],
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        joe.with(&access, Method::GET, "/api/session").await.status,
        401
    );
    let r = oauth(
        &mut c,
        "/api/oauth/introspect",
        Some(basic("joe", &secret)),
        &[("token", &access)],
    )
    .await;
    assert_eq!(r.json(), json!({"active": false}));

    // Rotation: the old secret stops, issued tokens keep their lifetime.
    let live = oauth(
        &mut c,
        "/api/oauth/token",
        Some(basic("joe", &secret)),
        &[("grant_type", "client_credentials")],
    )
    .await
    .json()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let rotated = joe
        .call(Method::POST, "/api/client-secret/rotate", None)
        .await
        .json()["secret"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(rotated, secret);
    let r = oauth(
        &mut c,
        "/api/oauth/token",
        Some(basic("joe", &secret)),
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_eq!(r.status, 401);
    let r = oauth(
        &mut c,
        "/api/oauth/token",
        Some(basic("joe", &rotated)),
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        joe.with(&live, Method::GET, "/api/session").await.status,
        200
    );

    // Disabling the user stops every credential kind at once.
    let r = joe
        .call(Method::POST, "/api/tokens", Some(json!({"name": "late"})))
        .await;
    let late_pat = r.json()["token"].as_str().unwrap().to_owned();
    let k = joe
        .call(Method::POST, "/api/apikeys", Some(json!({"name": "late"})))
        .await
        .json();
    c.jar.clear();
    let key_tok = c
        .send(
            c.req(Method::POST, "/api/login/key")
                .json(&json!({"apiKey": k["api_key"], "apiSecret": k["api_secret"]})),
        )
        .await
        .json()["authToken"]
        .as_str()
        .unwrap()
        .to_owned();
    env.run(&["user", "disable", "joe"], "").success();
    settle().await;
    for t in [&late_pat, &key_tok, &live, &joe.token.clone()] {
        assert_eq!(
            joe.with(t, Method::GET, "/api/session").await.status,
            401,
            "{}",
            &t[..4]
        );
    }
    let r = oauth(
        &mut c,
        "/api/oauth/token",
        Some(basic("joe", &rotated)),
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_eq!(r.status, 401);
}

on_both_backends!(credential_lifecycle, lifecycle);

/// Expiry of a personal access token and of an access token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_expire() {
    let env = Env::sqlite();
    env.add_user("joe", PW, &[]);
    let server = env.serve(&[]);
    let mut joe = Session::login(&server.base, "joe").await;
    let pat = joe
        .call(
            Method::POST,
            "/api/tokens",
            Some(json!({"name": "short", "expires_in": 1})),
        )
        .await
        .json()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        joe.with(&pat, Method::GET, "/api/session").await.status,
        200
    );
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let r = joe.with(&pat, Method::GET, "/api/session").await;
    assert_eq!((r.status, r.code().as_str()), (401, "session_expired"));
}

/// Secrets are stored as digests (or encrypted): none of the issued values appears in
/// the database files.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_database_holds_no_secret_in_clear() {
    let env = Env::sqlite();
    env.add_user("joe", PW, &[]);
    let server = env.serve(&[]);
    let mut joe = Session::login(&server.base, "joe").await;
    let mut secrets = vec![joe.token.clone(), PW.to_owned()];
    secrets.push(
        joe.call(Method::POST, "/api/tokens", Some(json!({"name": "a"})))
            .await
            .json()["token"]
            .as_str()
            .unwrap()
            .to_owned(),
    );
    let k = joe
        .call(Method::POST, "/api/apikeys", Some(json!({"name": "b"})))
        .await
        .json();
    secrets.push(k["api_secret"].as_str().unwrap().to_owned());
    let cs = joe
        .call(Method::GET, "/api/client-secret", None)
        .await
        .json()["secret"]
        .as_str()
        .unwrap()
        .to_owned();
    secrets.push(cs.clone());
    let mut c = Client::new(&server.base);
    let at = oauth(
        &mut c,
        "/api/oauth/token",
        Some(basic("joe", &cs)),
        &[("grant_type", "client_credentials")],
    )
    .await;
    secrets.push(at.json()["access_token"].as_str().unwrap().to_owned());
    let kt = c
        .send(
            c.req(Method::POST, "/api/login/key")
                .json(&json!({"apiKey": k["api_key"], "apiSecret": k["api_secret"]})),
        )
        .await;
    secrets.push(kt.json()["authToken"].as_str().unwrap().to_owned());
    let mut browser = Client::new(&server.base);
    let r = browser
        .send(
            browser
                .req(Method::POST, "/api/login")
                .json(&json!({"username": "joe", "password": PW})),
        )
        .await;
    secrets.push(r.body.clone());
    drop(server);

    let dir = crate::harness::data_dir(&env);
    let mut bytes = Vec::new();
    for f in std::fs::read_dir(&dir).unwrap() {
        let p = f.unwrap().path();
        if p.file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("tessera.db")
        {
            bytes.extend(std::fs::read(&p).unwrap());
        }
    }
    assert!(bytes.len() > 10_000);
    let dump = String::from_utf8_lossy(&bytes);
    for s in &secrets {
        assert!(
            !dump.contains(s.as_str()),
            "{}... found in the database",
            &s[..6]
        );
        // Not even the random part without its prefix.
        assert!(
            !dump.contains(&s[4..]),
            "{}... found in the database",
            &s[..6]
        );
    }
}

/// The credential commands of the CLI.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credential_commands() {
    let env = Env::sqlite();
    env.run(
        &["role", "add", "orders", "--permission", "orders:read"],
        "",
    )
    .success();
    env.add_user("joe", PW, &["--role", "orders"]);
    let token = env
        .run(
            &[
                "token",
                "create",
                "joe",
                "--name",
                "cli",
                "--scope",
                "orders:read",
                "--expires-in",
                "30d",
            ],
            "",
        )
        .success();
    let token = token.trim().to_owned();
    assert!(token.starts_with("tsp_") && !token.contains('\n'));
    let line = env
        .run(
            &[
                "token",
                "create",
                "joe",
                "--name",
                "x",
                "--scope",
                "users:write",
            ],
            "",
        )
        .failure();
    assert!(line.contains("users:write"), "{line}");
    let list: Value =
        serde_json::from_str(&env.run(&["token", "list", "joe", "--json"], "").success()).unwrap();
    let id = list[0]["id"].as_str().unwrap().to_owned();
    assert_eq!(list[0]["scopes"], json!(["orders:read"]));
    assert!(!list.to_string().contains(&token));

    let server = env.serve(&[]);
    let mut c = Client::new(&server.base);
    let r = c
        .send(
            c.req(Method::GET, "/api/session")
                .header("authorization", bearer(&token)),
        )
        .await;
    assert_eq!(r.status, 200);
    env.run(&["token", "revoke", &id], "").success();
    // Made by another process: in force on the server within the cache lifetime (1 s).
    settle().await;
    let r = c
        .send(
            c.req(Method::GET, "/api/session")
                .header("authorization", bearer(&token)),
        )
        .await;
    assert_eq!(r.status, 401);
    env.run(&["token", "revoke", &id], "").failure();

    let out = env
        .run(&["apikey", "create", "joe", "--name", "deploy"], "")
        .success();
    let key = out
        .lines()
        .find_map(|l| l.strip_prefix("api_key: "))
        .unwrap()
        .to_owned();
    let secret = out
        .lines()
        .find_map(|l| l.strip_prefix("api_secret: "))
        .unwrap()
        .to_owned();
    let r = c
        .send(
            c.req(Method::POST, "/api/login/key")
                .json(&json!({"apiKey": key, "apiSecret": secret})),
        )
        .await;
    assert_eq!(r.status, 200);
    let listed = env.run(&["apikey", "list", "joe"], "").success();
    assert!(listed.contains(&key) && !listed.contains(&secret));
    env.run(&["apikey", "delete", &key], "").success();
    c.jar.clear();
    let r = c
        .send(
            c.req(Method::POST, "/api/login/key")
                .json(&json!({"apiKey": key, "apiSecret": secret})),
        )
        .await;
    assert_eq!(r.status, 401);

    let s1 = env
        .run(&["client-secret", "show", "joe"], "")
        .success()
        .trim()
        .to_owned();
    assert_eq!(
        env.run(&["client-secret", "show", "joe"], "")
            .success()
            .trim(),
        s1
    );
    let s2 = env
        .run(&["client-secret", "rotate", "joe"], "")
        .success()
        .trim()
        .to_owned();
    assert_ne!(s1, s2);
    c.jar.clear();
    let r = oauth(
        &mut c,
        "/api/oauth/token",
        Some(basic("joe", &s2)),
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_eq!(
        r.status, 200,
        "the CLI and the server share the key: {}",
        r.body
    );

    // Sessions: list and revoke by id and by user.
    let mut joe = Session::login(&server.base, "joe").await;
    let sessions: Value =
        serde_json::from_str(&env.run(&["session", "list", "joe", "--json"], "").success())
            .unwrap();
    let sid = sessions
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["kind"] == "password")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(env.run(&["session", "list"], "").success().contains(&sid));
    env.run(&["session", "revoke", &sid], "").success();
    settle().await;
    assert_eq!(
        joe.call(Method::GET, "/api/session", None).await.status,
        401
    );
    let mut joe = Session::login(&server.base, "joe").await;
    let out = env
        .run(&["session", "revoke", "--user", "joe"], "")
        .success();
    assert!(out.contains("revoked"), "{out}");
    settle().await;
    assert_eq!(
        joe.call(Method::GET, "/api/session", None).await.status,
        401
    );
    env.run(&["session", "revoke", "nonexistent"], "").failure();
}
