//! Personal access tokens, API keys, client secrets and OAuth2, end to end.

use reqwest::Method;
use serde_json::{Value, json};

use crate::client::{Client, PW, Resp, basic};
use crate::harness::{Env, Server, labelled};

/// Waits a second, the longest a revocation made by another process (the CLI) may go
/// unseen: the revocation feed brings it within milliseconds while it is live (when a
/// verification stays cached for 30 s), the cache lifetime falls to one second while it is
/// not.
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
        let token = c.login_token(login, PW).await;
        Self { c, token }
    }

    async fn call(&mut self, method: Method, path: &str, body: Option<Value>) -> Resp {
        let mut rb = self.c.bearer(method, path, &self.token);
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        self.c.send_once(rb).await
    }

    async fn with(&mut self, token: &str, method: Method, path: &str) -> Resp {
        let rb = self.c.bearer(method, path, token);
        self.c.send_once(rb).await
    }

    /// What `GET /api/session` answers `token`.
    async fn session_status(&mut self, token: &str) -> u16 {
        self.with(token, Method::GET, "/api/session").await.status
    }

    /// `DELETE path` with this session's token.
    async fn delete(&mut self, path: &str) -> u16 {
        self.call(Method::DELETE, path, None).await.status
    }

    /// Creates a personal access token described by `body`; returns its value.
    async fn pat(&mut self, body: Value) -> String {
        let r = self.call(Method::POST, "/api/tokens", Some(body)).await;
        assert_eq!(r.status, 201, "{}", r.body);
        r.field("token")
    }

    /// Creates an API key named `name`; returns its id and secret.
    async fn api_key(&mut self, name: &str) -> (String, String) {
        let r = self
            .call(Method::POST, "/api/apikeys", Some(json!({"name": name})))
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        (r.field("api_key"), r.field("api_secret"))
    }

    /// The user's client secret.
    async fn client_secret(&mut self) -> String {
        self.call(Method::GET, "/api/client-secret", None)
            .await
            .field("secret")
    }
}

/// Adds the user `joe` and serves the environment; returns the server and joe's session.
async fn serve_joe(env: &Env) -> (Server, Session) {
    env.add_user("joe", PW, &[]);
    let server = env.serve(&[]);
    let joe = Session::login(&server.base, "joe").await;
    (server, joe)
}

/// An API key login with a JSON body.
fn key_login(c: &Client, key: &str, secret: &str) -> reqwest::RequestBuilder {
    c.req(Method::POST, "/api/login/key")
        .json(&json!({"apiKey": key, "apiSecret": secret}))
}

async fn oauth(c: &mut Client, path: &str, auth: Option<String>, form: &[(&str, &str)]) -> Resp {
    let mut rb = c.req(Method::POST, path).form(form);
    if let Some(a) = auth {
        rb = rb.header("authorization", a);
    }
    c.send_once(rb).await
}

/// The client credentials grant, the client authenticated with Basic.
async fn client_credentials(c: &mut Client, login: &str, secret: &str) -> Resp {
    let form = [("grant_type", "client_credentials")];
    oauth(c, "/api/oauth/token", Some(basic(login, secret)), &form).await
}

/// Introspection of `token` by the client `login`: the answer.
async fn introspect(c: &mut Client, login: &str, secret: &str, token: &str) -> Value {
    let auth = Some(basic(login, secret));
    oauth(c, "/api/oauth/introspect", auth, &[("token", token)])
        .await
        .json()
}

/// Revocation of `token` by the client `login`: the status of the answer.
async fn revoke(c: &mut Client, login: &str, secret: &str, token: &str) -> u16 {
    let auth = Some(basic(login, secret));
    oauth(c, "/api/oauth/revoke", auth, &[("token", token)])
        .await
        .status
}

/// Client authentication, form, expected status and OAuth2 error.
type OAuthCase<'a> = (Option<String>, Vec<(&'a str, &'a str)>, u16, &'a str);

async fn lifecycle(env: Env) {
    env.add_role("orders", &["orders:read", "orders:write"]);
    env.add_role("introspector", &["tokens:introspect"]);
    env.add_user("joe", PW, &["--role", "orders"]);
    env.add_user("ann", PW, &[]);
    env.add_user("gw", PW, &["--role", "introspector"]);
    let server = env.serve(&[]);
    let mut joe = Session::login(&server.base, "joe").await;
    let mut ann = Session::login(&server.base, "ann").await;

    // --- Personal access tokens ---
    let ci = json!({"name": "ci", "scopes": ["orders:read"], "expires_in": 3600});
    let r = joe.call(Method::POST, "/api/tokens", Some(ci)).await;
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
    let too_wide = json!({"name": "x", "scopes": ["users:write"]});
    let r = joe.call(Method::POST, "/api/tokens", Some(too_wide)).await;
    r.assert_problem(400, "invalid_scope");
    assert_eq!(r.json()["required"], "users:write");
    let too_long = json!({"name": "x", "expires_in": "400d"});
    let r = joe.call(Method::POST, "/api/tokens", Some(too_long)).await;
    assert_eq!(r.status, 400);

    // A PAT cannot mint credentials.
    let r = joe.with(&pat, Method::POST, "/api/tokens").await;
    assert_eq!(r.status, 403);
    let r = joe.with(&pat, Method::GET, "/api/client-secret").await;
    assert_eq!(r.status, 403);

    // Someone else's token id is 404 to me, and stays valid.
    assert_eq!(ann.delete(&format!("/api/tokens/{pat_id}")).await, 404);
    assert_eq!(joe.session_status(&pat).await, 200);

    // Regenerate: same name and scopes, new value; the old one stops at once.
    let regenerate = format!("/api/tokens/{pat_id}/regenerate");
    let r = joe.call(Method::POST, &regenerate, None).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let regen = r.json();
    let pat2 = regen["token"].as_str().unwrap().to_owned();
    assert_eq!(regen["name"], "ci");
    assert_eq!(regen["scopes"], json!(["orders:read"]));
    assert_eq!(joe.session_status(&pat).await, 401);
    assert_eq!(joe.session_status(&pat2).await, 200);
    let regen_id = regen["id"].as_str().unwrap();
    assert_eq!(joe.delete(&format!("/api/tokens/{regen_id}")).await, 204);
    assert_eq!(joe.session_status(&pat2).await, 401);

    // --- API keys ---
    let (key_id, key_secret) = joe.api_key("deploy").await;
    assert!(key_secret.starts_with("tsx_"));
    let listed = joe.call(Method::GET, "/api/apikeys", None).await.json();
    assert!(listed[0].get("api_secret").is_none());
    let mut c = Client::new(&server.base);
    let r = c.send_once(key_login(&c, &key_id, &key_secret)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        r.set_cookie("sessionid").is_none(),
        "a key login sets no session cookie"
    );
    let key_token = r.field("authToken");
    assert!(key_token.starts_with("tsk_"));
    assert!(r.json()["expires_in"].as_i64().unwrap() <= 1800);
    let info = joe.with(&key_token, Method::GET, "/api/session").await;
    assert_eq!(info.json()["kind"], "api_key");
    // Form and Basic work too; a wrong secret is the same 401 as an unknown key.
    let form = [("api_key", key_id.as_str()), ("api_secret", &key_secret)];
    let r = c
        .send_once(c.req(Method::POST, "/api/login/key").form(&form))
        .await;
    assert_eq!(r.status, 200);
    let as_text = "/api/login/key?_output=text";
    let r = c
        .send_once(c.auth(Method::POST, as_text, &basic(&key_id, &key_secret)))
        .await;
    assert_eq!(r.status, 200);
    let bad = c.send_once(key_login(&c, &key_id, "tsx_wrong")).await;
    let unknown = c.send(key_login(&c, "key_nope", &key_secret)).await;
    assert_eq!((bad.status, unknown.status), (401, 401));
    assert_eq!(bad.body, unknown.body);
    // The key or its secret used directly is not a credential.
    assert_eq!(joe.session_status(&key_secret).await, 401);
    assert_eq!(joe.session_status(&key_id).await, 401);
    // Deleting the key ends its sessions.
    assert_eq!(ann.delete(&format!("/api/apikeys/{key_id}")).await, 404);
    assert_eq!(joe.delete(&format!("/api/apikeys/{key_id}")).await, 204);
    assert_eq!(joe.session_status(&key_token).await, 401);

    // --- Client secret and OAuth2 ---
    let cs = joe.call(Method::GET, "/api/client-secret", None).await;
    assert_eq!(cs.status, 200);
    let secret = cs.field("secret");
    assert!(secret.starts_with("tsc_"));
    assert_eq!(joe.client_secret().await, secret, "shown again");
    // Not accepted on routes that do not list client_secret.
    let as_secret = format!("Secret {secret}");
    let r = c
        .send(c.auth(Method::GET, "/api/session", &as_secret))
        .await;
    assert_eq!(r.status, 401);

    let joe_client = Some(basic("joe", &secret));
    let form = [("grant_type", "client_credentials"), ("expires_in", "120")];
    let t = oauth(&mut c, "/api/oauth/token", joe_client.clone(), &form).await;
    assert_eq!(t.status, 200, "{}", t.body);
    assert_eq!(t.header("cache-control"), Some("no-store"));
    assert_eq!(t.header("pragma"), Some("no-cache"));
    let tv = t.json();
    assert_eq!(tv["token_type"], "bearer");
    assert_eq!(tv["expires_in"], 120);
    let access = tv["access_token"].as_str().unwrap().to_owned();
    let info = joe.with(&access, Method::GET, "/api/session").await;
    assert_eq!(info.json()["kind"], "access_token");

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
    let grant = ("grant_type", "client_credentials");
    let cases: Vec<OAuthCase> = vec![
        (
            joe_client.clone(),
            vec![("grant_type", "password")],
            400,
            "unsupported_grant_type",
        ),
        (
            joe_client.clone(),
            vec![grant, ("scope", "users:write")],
            400,
            "invalid_scope",
        ),
        (
            joe_client.clone(),
            vec![grant, ("expires_in", "30")],
            400,
            "invalid_request",
        ),
        (joe_client, vec![grant, grant], 400, "invalid_request"),
        (
            Some(basic("joe", "tsc_wrong")),
            vec![grant],
            401,
            "invalid_client",
        ),
        (
            Some(basic("ann", &secret)),
            vec![grant],
            401,
            "invalid_client",
        ),
        (None, vec![grant], 401, "invalid_client"),
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
            .form(&[grant, ("client_id", "joe")]),
        )
        .await;
    assert_eq!(r.status, 400, "never the query string");

    // Introspection: the owner sees it; another account without tokens:introspect does
    // not; an account with it does.
    let ann_secret = ann.client_secret().await;
    let iv = introspect(&mut c, "joe", &secret, &access).await;
    assert_eq!(iv["active"], true, "{iv}");
    assert_eq!(iv["username"], "joe");
    assert!(iv["exp"].as_i64().unwrap() > iv["iat"].as_i64().unwrap());
    let iv = introspect(&mut c, "ann", &ann_secret, &access).await;
    assert_eq!(iv, json!({"active": false}));
    let gw_secret = Session::login(&server.base, "gw")
        .await
        .client_secret()
        .await;
    let iv = introspect(&mut c, "gw", &gw_secret, &joe.token).await;
    assert_eq!(iv["active"], true);
    assert_eq!(iv["kind"], "password");
    let iv = introspect(&mut c, "gw", &gw_secret, "tsa_garbage").await;
    assert_eq!(iv, json!({"active": false}));

    // Revocation: only the owner's tokens; 200 whatever the token.
    assert_eq!(revoke(&mut c, "ann", &ann_secret, &access).await, 200);
    assert_eq!(
        joe.session_status(&access).await,
        200,
        "ann cannot revoke joe's token"
    );
    assert_eq!(revoke(&mut c, "joe", &secret, "tsa_unknown").await, 200);
    assert_eq!(revoke(&mut c, "joe", &secret, &access).await, 200);
    assert_eq!(joe.session_status(&access).await, 401);
    let iv = introspect(&mut c, "joe", &secret, &access).await;
    assert_eq!(iv, json!({"active": false}));

    // Rotation: the old secret stops, issued tokens keep their lifetime.
    let live = client_credentials(&mut c, "joe", &secret)
        .await
        .field("access_token");
    let rotated = joe
        .call(Method::POST, "/api/client-secret/rotate", None)
        .await
        .field("secret");
    assert_ne!(rotated, secret);
    let r = client_credentials(&mut c, "joe", &secret).await;
    assert_eq!(r.status, 401);
    let r = client_credentials(&mut c, "joe", &rotated).await;
    assert_eq!(r.status, 200);
    assert_eq!(joe.session_status(&live).await, 200);

    // Disabling the user stops every credential kind at once.
    let late_pat = joe.pat(json!({"name": "late"})).await;
    let (late_key, late_secret) = joe.api_key("late").await;
    c.jar.clear();
    let key_tok = c
        .send(key_login(&c, &late_key, &late_secret))
        .await
        .field("authToken");
    env.run(&["user", "disable", "joe"], "").success();
    settle().await;
    for t in [&late_pat, &key_tok, &live, &joe.token.clone()] {
        assert_eq!(joe.session_status(t).await, 401, "{}", &t[..4]);
    }
    let r = client_credentials(&mut c, "joe", &rotated).await;
    assert_eq!(r.status, 401);
}

on_both_backends!(credential_lifecycle, lifecycle);

/// Expiry of a personal access token and of an access token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_expire() {
    let env = Env::sqlite();
    let (_server, mut joe) = serve_joe(&env).await;
    // Long enough to be used once on a loaded machine, short enough to wait out.
    let pat = joe.pat(json!({"name": "short", "expires_in": 4})).await;
    assert_eq!(joe.session_status(&pat).await, 200);
    tokio::time::sleep(std::time::Duration::from_millis(5100)).await;
    let r = joe.with(&pat, Method::GET, "/api/session").await;
    r.assert_problem(401, "session_expired");
}

/// Secrets are stored as digests (or encrypted): none of the issued values appears in
/// the database files.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_database_holds_no_secret_in_clear() {
    let env = Env::sqlite();
    let (server, mut joe) = serve_joe(&env).await;
    let mut secrets = vec![joe.token.clone(), PW.to_owned()];
    secrets.push(joe.pat(json!({"name": "a"})).await);
    let (key, key_secret) = joe.api_key("b").await;
    secrets.push(key_secret.clone());
    let cs = joe.client_secret().await;
    secrets.push(cs.clone());
    let mut c = Client::new(&server.base);
    let at = client_credentials(&mut c, "joe", &cs).await;
    secrets.push(at.field("access_token"));
    let kt = c.send(key_login(&c, &key, &key_secret)).await;
    secrets.push(kt.field("authToken"));
    let mut browser = Client::new(&server.base);
    let r = browser.send(browser.json_login("joe", PW)).await;
    secrets.push(r.field("authtoken"));
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
            // The `-wal` and `-shm` files may vanish as the closing server checkpoints.
            match std::fs::read(&p) {
                Ok(b) => bytes.extend(b),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => panic!("{}: {e}", p.display()),
            }
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
    env.add_role("orders", &["orders:read"]);
    env.add_user("joe", PW, &["--role", "orders"]);
    let token = env
        .create_token(
            "joe",
            "cli",
            &["--scope", "orders:read", "--expires-in", "30d"],
        )
        .success_trimmed();
    assert!(token.starts_with("tsp_") && !token.contains('\n'));
    env.create_token("joe", "x", &["--scope", "users:write"])
        .failure_with("users:write");
    let list = env.run_json(&["token", "list", "joe", "--json"]);
    let id = list[0]["id"].as_str().unwrap().to_owned();
    assert_eq!(list[0]["scopes"], json!(["orders:read"]));
    assert!(!list.to_string().contains(&token));

    let server = env.serve(&[]);
    let mut c = Client::new(&server.base);
    let r = c.send(c.bearer(Method::GET, "/api/session", &token)).await;
    assert_eq!(r.status, 200);
    env.run(&["token", "revoke", &id], "").success();
    // Made by another process: pushed to the server by the revocation feed.
    settle().await;
    let r = c.send(c.bearer(Method::GET, "/api/session", &token)).await;
    assert_eq!(r.status, 401);
    env.run(&["token", "revoke", &id], "").failure();

    let out = env
        .run(&["apikey", "create", "joe", "--name", "deploy"], "")
        .success();
    let (key, secret) = (labelled(&out, "api_key"), labelled(&out, "api_secret"));
    let r = c.send(key_login(&c, &key, &secret)).await;
    assert_eq!(r.status, 200);
    let listed = env.run(&["apikey", "list", "joe"], "").success();
    assert!(listed.contains(&key) && !listed.contains(&secret));
    env.run(&["apikey", "delete", &key], "").success();
    c.jar.clear();
    let r = c.send(key_login(&c, &key, &secret)).await;
    assert_eq!(r.status, 401);

    let show = ["client-secret", "show", "joe"];
    let s1 = env.run(&show, "").success_trimmed();
    assert_eq!(env.run(&show, "").success_trimmed(), s1);
    let s2 = env
        .run(&["client-secret", "rotate", "joe"], "")
        .success_trimmed();
    assert_ne!(s1, s2);
    c.jar.clear();
    let r = client_credentials(&mut c, "joe", &s2).await;
    assert_eq!(
        r.status, 200,
        "the CLI and the server share the key: {}",
        r.body
    );

    // Sessions: list and revoke by id and by user.
    let mut joe = Session::login(&server.base, "joe").await;
    let sessions = env.run_json(&["session", "list", "joe", "--json"]);
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
    let r = joe.call(Method::GET, "/api/session", None).await;
    assert_eq!(r.status, 401);
    let mut joe = Session::login(&server.base, "joe").await;
    let out = env
        .run(&["session", "revoke", "--user", "joe"], "")
        .success();
    assert!(out.contains("revoked"), "{out}");
    settle().await;
    let r = joe.call(Method::GET, "/api/session", None).await;
    assert_eq!(r.status, 401);
    env.run(&["session", "revoke", "nonexistent"], "").failure();
}

on_both_backends!(
    /// A disabled API key's exchange is refused and its tokens end; enabled, it works
    /// again (HTTP API and CLI alike).
    api_keys_can_be_disabled_and_enabled,
    disable_and_enable
);

async fn disable_and_enable(env: Env) {
    let (server, mut joe) = serve_joe(&env).await;
    let (key, secret) = joe.api_key("deploy").await;
    let mut c = Client::new(&server.base);
    let exchange = |c: &Client| key_login(c, &key, &secret);
    let token = c.send_once(exchange(&c)).await.field("authToken");

    let disable = format!("/api/apikeys/{key}/disable");
    assert_eq!(joe.call(Method::POST, &disable, None).await.status, 204);
    assert_eq!(c.send_once(exchange(&c)).await.status, 401);
    assert_eq!(joe.session_status(&token).await, 401, "its tokens end");
    let listed = joe.call(Method::GET, "/api/apikeys", None).await.json();
    assert!(listed[0]["disabled_at"].is_string(), "{listed}");
    // Only a password session may do it, and only to the owner's keys.
    let pat = joe.pat(json!({"name": "ci"})).await;
    let enable = format!("/api/apikeys/{key}/enable");
    let r = joe.with(&pat, Method::POST, &enable).await;
    r.assert_problem(403, "password_session_required");
    assert_eq!(
        joe.call(Method::POST, "/api/apikeys/key_none/enable", None)
            .await
            .status,
        404
    );

    assert_eq!(joe.call(Method::POST, &enable, None).await.status, 204);
    assert_eq!(c.send_once(exchange(&c)).await.status, 200);

    let out = env.run(&["apikey", "disable", &key], "").success();
    assert!(out.contains("disabled API key"), "{out}");
    assert_eq!(c.send_once(exchange(&c)).await.status, 401);
    env.run(&["apikey", "enable", &key], "").success();
    assert_eq!(c.send_once(exchange(&c)).await.status, 200);
}

/// OAuth2 libraries find the endpoints from the RFC 8414 metadata, at the root and where
/// RFC 8414 puts it for an issuer with a path; the token endpoint it names works, and an
/// empty scope is left out of its answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oauth2_clients_discover_the_endpoints() {
    let env = Env::sqlite();
    env.add_user("joe", PW, &[]);
    let server = env.serve(&[]);
    let mut c = Client::new(&server.base);
    let at_root = c.get("/.well-known/oauth-authorization-server").await;
    assert_eq!(at_root.status, 200, "{}", at_root.body);
    let with_path = c.get("/.well-known/oauth-authorization-server/api").await;
    assert_eq!(at_root.json(), with_path.json());
    let m = at_root.json();
    assert_eq!(m["issuer"], server.url("/api"));
    assert_eq!(
        m["grant_types_supported"],
        serde_json::json!(["client_credentials"])
    );
    let token_endpoint = m["token_endpoint"].as_str().unwrap();
    assert_eq!(token_endpoint, server.url("/api/oauth/token"));
    assert_eq!(m["revocation_endpoint"], server.url("/api/oauth/revoke"));

    let secret = env
        .run(&["client-secret", "show", "joe"], "")
        .success_trimmed();
    let path = token_endpoint.strip_prefix(&server.base).unwrap();
    let r = c
        .send_once(
            c.auth(Method::POST, path, &basic("joe", &secret))
                .form(&[("grant_type", "client_credentials")]),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        r.json().get("scope").is_none(),
        "no empty scope: {}",
        r.body
    );
}
