//! Signing in through an OpenID Connect provider (`[[identity_providers]]`, id `corp`):
//! with a real provider (node-oidc-provider, see `oidc_provider.rs`) in a real browser and
//! over plain HTTP, and with a fake one (`fake_op.rs`) that answers forged ID tokens.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use reqwest::Method;
use serde_json::{Value, json};

use crate::browser::{self, Browser};
use crate::client::{Client, PW, Resp, basic};
use crate::fake_op::{self, FakeOp};
use crate::harness::{Env, Server};
use crate::oidc_provider::{self, OidcProvider, account, accounts};

/// Where Tessera's provider `corp` starts a sign-in and where it comes back.
const LOGIN: &str = "/api/oidc/corp/login";
const CALLBACK: &str = "/api/oidc/corp/callback";

/// The `[[identity_providers]]` table of `corp` at `issuer`, its client secret in a file
/// under the environment's directory; groups `ops` and `finance` map to the roles
/// `operator` and `billing`. `extra` follows the table (more tables).
fn corp_config(env: &Env, issuer: &str, secret: &str, extra: &str) -> String {
    let file = env.path().join("corp-client-secret");
    std::fs::write(&file, format!("{secret}\n")).unwrap();
    format!(
        r#"
[[identity_providers]]
id = "corp"
name = "Corp SSO"
issuer = "{issuer}"
client_id = "tessera"
client_secret_file = "{}"
roles_claim = "groups"
role_map = {{ ops = ["operator"], finance = ["billing"] }}
{extra}
"#,
        file.display()
    )
}

/// A server whose provider `corp` is a real provider knowing `people`, Tessera registered
/// there with its redirect URI (the server's port chosen first); the roles `operator`,
/// `billing` and `auditor` exist. `None` when Node.js is missing (outside CI).
struct Real {
    env: Env,
    server: Server,
    provider: OidcProvider,
}

fn with_real_provider(people: &Value, extra: &str) -> Option<Real> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let redirect = format!("http://127.0.0.1:{port}{CALLBACK}");
    let clients = json!([oidc_provider::client(
        oidc_provider::CLIENT_ID,
        oidc_provider::CLIENT_SECRET,
        &redirect
    )]);
    let provider = OidcProvider::start(&clients, people)?;
    let env = Env::sqlite();
    let config = corp_config(
        &env,
        &provider.issuer(),
        oidc_provider::CLIENT_SECRET,
        extra,
    );
    let env = env.config(&config);
    env.add_role("operator", &["orders:read"]);
    env.add_role("billing", &["invoices:read"]);
    env.add_role("auditor", &["reports:read"]);
    let server = env.serve_in_process_on(listener);
    Some(Real {
        env,
        server,
        provider,
    })
}

/// The query parameters of a URL.
fn query(url: &str) -> Vec<(String, String)> {
    reqwest::Url::parse(url)
        .unwrap()
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn param(url: &str, name: &str) -> String {
    query(url)
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
        .unwrap_or_else(|| panic!("no `{name}` in {url}"))
}

fn s256(verifier: &str) -> String {
    B64.encode(ring::digest::digest(
        &ring::digest::SHA256,
        verifier.as_bytes(),
    ))
}

/// The claims of a JWT, unverified.
fn jwt_claims(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&B64.decode(payload).unwrap()).unwrap()
}

fn jwt_header(jwt: &str) -> Value {
    let header = jwt.split('.').next().unwrap();
    serde_json::from_slice(&B64.decode(header).unwrap()).unwrap()
}

/// The harness itself, without Tessera: the provider serves its discovery document,
/// signs a person in through its development login form (PKCE required), issues an ID
/// token with the account's claims (groups included), sees changed claims at once, and
/// rotates its key on the same port.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_test_provider_signs_in_and_rotates_its_key() {
    let redirect = "http://127.0.0.1:9/cb";
    let clients = json!([oidc_provider::client("rp", "rp-secret", redirect)]);
    let people = accounts([account("u-ann", "ann", "ann@example.com", &["ops"])]);
    let started = std::time::Instant::now();
    let Some(mut provider) = OidcProvider::start(&clients, &people) else {
        return;
    };
    eprintln!("oidc provider started in {:?}", started.elapsed());
    let issuer = provider.issuer();
    let http = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let discovery: Value = http
        .get(format!("{issuer}/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(discovery["issuer"], issuer.as_str());
    assert_eq!(
        discovery["code_challenge_methods_supported"],
        json!(["S256"])
    );

    // A code flow, as a relying party would run it.
    let sign_in = |groups_expected: &'static [&'static str]| {
        let (http, discovery) = (http.clone(), discovery.clone());
        async move {
            let verifier = "a-verifier-long-enough-to-be-a-valid-pkce-verifier-0123456789";
            let authorize = |with_pkce: bool| {
                let mut url =
                    reqwest::Url::parse(discovery["authorization_endpoint"].as_str().unwrap())
                        .unwrap();
                url.query_pairs_mut()
                    .append_pair("response_type", "code")
                    .append_pair("client_id", "rp")
                    .append_pair("redirect_uri", redirect)
                    .append_pair("scope", "openid profile email")
                    .append_pair("state", "st4te")
                    .append_pair("nonce", "n0nce");
                if with_pkce {
                    url.query_pairs_mut()
                        .append_pair("code_challenge", &s256(verifier))
                        .append_pair("code_challenge_method", "S256");
                }
                url.to_string()
            };
            // Without PKCE, the provider refuses (back to the client with an error).
            let refused = http.get(authorize(false)).send().await.unwrap();
            let location = refused.headers()["location"].to_str().unwrap().to_owned();
            assert!(location.starts_with(redirect), "{location}");
            assert_eq!(param(&location, "error"), "invalid_request");

            let back = oidc_provider::sign_in_over_http(&http, &authorize(true), "u-ann").await;
            assert!(back.starts_with(redirect), "{back}");
            assert_eq!(param(&back, "state"), "st4te");
            let form = [
                ("grant_type", "authorization_code"),
                ("code", &param(&back, "code")),
                ("redirect_uri", redirect),
                ("code_verifier", verifier),
            ];
            let tokens: Value = http
                .post(discovery["token_endpoint"].as_str().unwrap())
                .header("authorization", basic("rp", "rp-secret"))
                .form(&form)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let id_token = tokens["id_token"]
                .as_str()
                .unwrap_or_else(|| panic!("{tokens}"));
            let claims = jwt_claims(id_token);
            assert_eq!(claims["sub"], "u-ann");
            assert_eq!(claims["nonce"], "n0nce");
            assert_eq!(claims["aud"], "rp");
            assert_eq!(claims["preferred_username"], "ann");
            assert_eq!(claims["email"], "ann@example.com");
            assert_eq!(claims["groups"], json!(groups_expected));
            jwt_header(id_token)
        }
    };
    let header = sign_in(&["ops"]).await;
    assert_eq!(header["alg"], "RS256");
    assert_eq!(header["kid"], provider.kid().as_str());

    provider.set_accounts(&accounts([account(
        "u-ann",
        "ann",
        "ann@example.com",
        &["finance"],
    )]));
    sign_in(&["finance"]).await;

    let old_kid = provider.kid();
    let started = std::time::Instant::now();
    provider.rotate_keys();
    eprintln!("oidc provider restarted in {:?}", started.elapsed());
    assert_eq!(provider.issuer(), issuer, "the same port");
    assert_ne!(provider.kid(), old_kid);
    let jwks: Value = http
        .get(discovery["jwks_uri"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 1);
    assert_eq!(jwks["keys"][0]["kid"], provider.kid().as_str());
    assert!(jwks["keys"][0].get("d").is_none(), "public keys only");
    let header = sign_in(&["finance"]).await;
    assert_eq!(header["kid"], provider.kid().as_str());
}

// --- The real provider, through Tessera --------------------------------------------------

/// In the browser, on the provider's pages: signs in as `login` with the development
/// form (consenting when asked) until the browser is back on Tessera.
async fn sign_in_at_provider(b: &Browser, provider: &OidcProvider, login: &str) {
    let issuer = provider.issuer();
    for _ in 0..50 {
        let url = b.client.current_url().await.unwrap();
        if url.origin().ascii_serialization() != issuer {
            return;
        }
        if b.exists("input[name=login]").await {
            b.fill("input[name=login]", login).await;
            b.fill("input[name=password]", "any password").await;
            b.submit("button[type=submit]").await;
        } else if b.exists("form button[type=submit]").await {
            b.submit("form button[type=submit]").await;
        } else {
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }
    panic!("still at the provider: {}", b.path().await);
}

/// Full sign-in in Chromium from the console's sign-in page through the provider's own
/// login form, then an API key from Developer Settings (re-authenticating at the provider
/// for the sudo step), exchanged for a token over the API.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_signs_in_through_the_provider_in_a_real_browser() {
    let Some(b) = browser::start().await else {
        return;
    };
    let people = accounts([account("u-alice", "alice", "alice@example.com", &["ops"])]);
    let Some(real) = with_real_provider(&people, "[ui]\nsudo_timeout = \"3s\"\n") else {
        return;
    };
    let server = &real.server;

    b.goto(&server.url("/api/ui/login")).await;
    let label = b.text("#idp-corp").await;
    assert!(label.contains("Corp SSO"), "the provider's name: {label}");
    b.submit("#idp-corp").await;
    let at = b.client.current_url().await.unwrap();
    assert_eq!(
        at.origin().ascii_serialization(),
        real.provider.issuer(),
        "at the provider's login page"
    );
    b.screenshots("oidc-provider-login").await;
    sign_in_at_provider(&b, &real.provider, "u-alice").await;
    assert_eq!(b.path().await, "/api/ui/profile");
    assert_eq!(b.text("#login").await, "alice");
    let shown = real.env.run_json(&["user", "show", "alice", "--json"]);
    assert_eq!(shown["email"], "alice@example.com");
    assert_eq!(shown["roles"], json!(["operator"]));

    // Creating a credential needs a recent sign-in: past the sudo timeout, the console
    // asks for one, at the provider (an idp user has no password).
    tokio::time::sleep(std::time::Duration::from_millis(3500)).await;
    let developer = server.url("/api/ui/developer");
    let create_key = || async {
        b.goto(&developer).await;
        b.fill("#key_name", "deploy").await;
        b.submit("form[action$='/ui/apikeys'] button[type=submit]")
            .await;
    };
    create_key().await;
    assert!(
        b.exists("#sudo-idp").await,
        "the sudo page offers the provider"
    );
    assert!(!b.exists("[data-secret]").await);
    b.screenshots("oidc-sudo").await;
    b.submit("#sudo-idp").await;
    // A real re-authentication: the provider asks again (prompt=login or max_age=0),
    // rather than answering at once from its own session.
    let at = b.client.current_url().await.unwrap();
    assert_eq!(
        at.origin().ascii_serialization(),
        real.provider.issuer(),
        "back at {at} without signing in again: the sudo sign-in must ask the provider \
         for a new authentication (prompt=login, max_age=0)"
    );
    assert!(
        b.exists("input[name=login]").await,
        "the provider's form again"
    );
    sign_in_at_provider(&b, &real.provider, "u-alice").await;
    assert!(b.path().await.starts_with("/api/ui/"), "{}", b.path().await);
    if !b.exists("#new-key-id[data-secret]").await {
        // Back on the console without the form's values: the form again, now fresh.
        create_key().await;
        assert!(
            !b.exists("#sudo-idp").await,
            "asked again right after signing in"
        );
    }
    let key = b.text("#new-key-id[data-secret]").await;
    let secret = b.text("#new-key-secret[data-secret]").await;
    assert!(key.starts_with("key_") && secret.starts_with("tsx_"));

    let mut c = Client::new(&server.base);
    let body = json!({"apiKey": key, "apiSecret": secret});
    let r = c
        .send_once(c.req(Method::POST, "/api/login/key").json(&body))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let token = r.field("authToken");
    let r = c
        .send_once(c.bearer(Method::GET, "/api/session", &token))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["kind"], "api_key");
    assert_eq!(r.json()["login"], "alice");
}

/// Signs `login` in at the real provider through Tessera over HTTP, coming back to
/// `/api/ui/developer`; returns the client holding the session cookie.
async fn sign_in_over_http(real: &Real, login: &str) -> Client {
    let server = &real.server;
    let mut c = Client::new(&server.base);
    let r = c.get(&format!("{LOGIN}?next=/api/ui/developer")).await;
    assert_eq!(r.status, 303, "{}", r.body);
    let authorize = r.header("location").unwrap().to_owned();
    assert!(
        authorize.starts_with(&format!("{}/", real.provider.issuer())),
        "{authorize}"
    );
    let http = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let back = oidc_provider::sign_in_over_http(&http, &authorize, login).await;
    let path = back
        .strip_prefix(&server.base)
        .unwrap_or_else(|| panic!("the provider sent the browser to {back}"));
    assert!(path.starts_with(CALLBACK), "{path}");
    let r = c.get(path).await;
    assert_eq!(
        r.status,
        303,
        "{}\nprovider log:\n{}",
        r.body,
        real.provider.log()
    );
    assert_eq!(r.header("location"), Some("/api/ui/developer"));
    assert!(r.cookie_value("sessionid").is_some());
    assert!(r.cookie_value("csrftoken").is_some());
    let session = c.get("/api/session").await;
    assert_eq!(session.status, 200, "{}", session.body);
    assert_eq!(session.json()["kind"], "idp");
    c
}

fn roles_of(env: &Env, login: &str) -> Vec<String> {
    let shown = env.run_json(&["user", "show", login, "--json"]);
    let mut roles: Vec<String> = shown["roles"]
        .as_array()
        .unwrap_or_else(|| panic!("{shown}"))
        .iter()
        .map(|r| r.as_str().unwrap().to_owned())
        .collect();
    roles.sort();
    roles
}

/// The roles `role_map` names follow the provider's groups at every sign-in; other roles
/// stay; an idp user has no password.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roles_follow_the_provider_groups_at_each_sign_in() {
    let people = accounts([account(
        "u-bob",
        "bob",
        "bob@example.com",
        &["ops", "staff"],
    )]);
    let Some(real) = with_real_provider(&people, "") else {
        return;
    };
    let c = sign_in_over_http(&real, "u-bob").await;
    assert_eq!(c.jar.get("sessionid").map(String::is_empty), Some(false));
    assert_eq!(roles_of(&real.env, "bob"), ["operator"]);
    let shown = real.env.run_json(&["user", "show", "bob", "--json"]);
    assert_eq!(shown["email"], "bob@example.com");

    // A role granted in Tessera, not named in role_map, is left alone.
    real.env
        .run(&["role", "grant", "bob", "auditor"], "")
        .success();
    real.provider.set_accounts(&accounts([account(
        "u-bob",
        "bob",
        "bob@example.com",
        &["finance"],
    )]));
    sign_in_over_http(&real, "u-bob").await;
    assert_eq!(roles_of(&real.env, "bob"), ["auditor", "billing"]);

    // No group at all: the mapped roles go, the others stay.
    real.provider
        .set_accounts(&accounts([account("u-bob", "bob", "bob@example.com", &[])]));
    sign_in_over_http(&real, "u-bob").await;
    assert_eq!(roles_of(&real.env, "bob"), ["auditor"]);

    // A user of the provider has no password to sign in with.
    let mut c = Client::new(&real.server.base);
    for password in ["", PW, "any password"] {
        let r = c.send_once(c.basic_login("bob", password)).await;
        assert_eq!(r.status, 401, "{}", r.body);
    }
}

/// The provider restarts with a new signing key (a new `kid`): the next sign-in succeeds,
/// Tessera fetching the key set again for the unknown `kid`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sign_in_after_the_provider_rotated_its_key() {
    let people = accounts([account("u-carol", "carol", "carol@example.com", &[])]);
    let Some(mut real) = with_real_provider(&people, "") else {
        return;
    };
    let cached = std::time::Instant::now();
    sign_in_over_http(&real, "u-carol").await;
    let old = real.provider.kid();
    // Tessera fetches a provider's keys at most once a second (REFETCH_MIN_INTERVAL in
    // crates/http/src/oidc/client.rs): rotate once its cached set is older.
    let wait = std::time::Duration::from_millis(1500).saturating_sub(cached.elapsed());
    tokio::time::sleep(wait).await;
    real.provider.rotate_keys();
    assert_ne!(real.provider.kid(), old);
    sign_in_over_http(&real, "u-carol").await;

    // `config check` reads the provider's discovery document and keys, and names the
    // provider it cannot reach.
    let out = real.env.run(&["config", "check"], "").success();
    assert!(
        out.contains("identity provider `corp`: discovery OK (1 signing key)"),
        "{out}"
    );
    let unreachable = Env::sqlite();
    let config = corp_config(&unreachable, "http://127.0.0.1:9", "s", "");
    let why = unreachable
        .config(&config)
        .run(&["config", "check"], "")
        .failure();
    assert!(
        why.contains("identity_providers[0] (`corp`, http://127.0.0.1:9)"),
        "{why}"
    );
}

// --- The fake provider: forged answers ---------------------------------------------------

/// The fake itself, without Tessera: its JWKS verifies what it signs (and not what the
/// rogue key signs), its token endpoint answers the prepared ID token, its userinfo
/// endpoint the person's claims.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fake_provider_publishes_the_key_it_signs_with() {
    let op = FakeOp::start().await;
    let http = reqwest::Client::new();
    let get = |path: &str| {
        let (http, url) = (http.clone(), format!("{}{path}", op.issuer));
        async move {
            http.get(url)
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    let discovery = get("/.well-known/openid-configuration").await;
    assert_eq!(discovery["issuer"], op.issuer.as_str());
    let jwks = get("/jwks").await;
    let jwk = &jwks["keys"][0];
    assert_eq!(jwk["kid"], fake_op::KID);
    let public = ring::signature::RsaPublicKeyComponents {
        n: B64.decode(jwk["n"].as_str().unwrap()).unwrap(),
        e: B64.decode(jwk["e"].as_str().unwrap()).unwrap(),
    };
    let verifies = |jwt: &str| {
        let (input, sig) = jwt.rsplit_once('.').unwrap();
        let sig = B64.decode(sig).unwrap();
        public
            .verify(
                &ring::signature::RSA_PKCS1_2048_8192_SHA256,
                input.as_bytes(),
                &sig,
            )
            .is_ok()
    };
    let claims = op.claims("n", "s", "u", "u@example.com");
    let genuine = op.sign(&claims);
    assert!(verifies(&genuine));
    assert_eq!(jwt_claims(&genuine), claims);
    assert_eq!(jwt_header(&genuine)["kid"], fake_op::KID);
    let header = json!({"alg": "RS256", "kid": fake_op::KID});
    assert!(!verifies(&fake_op::sign_with(
        &fake_op::keys().1,
        &header,
        &claims
    )));

    op.answer_with(genuine.clone(), &claims);
    let tokens: Value = http
        .post(format!("{}/token", op.issuer))
        .form(&[("grant_type", "authorization_code"), ("code", "x")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(tokens["id_token"], genuine.as_str());
    let info: Value = http
        .get(format!("{}/userinfo", op.issuer))
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["sub"], "s");
    assert!(info.get("nonce").is_none());
    assert_eq!(op.token_requests()[0].field("code"), Some("x"));
}

/// A sign-in begun at Tessera: the client holding the flow cookie, and what the
/// redirect to the provider carried.
struct Flow {
    client: Client,
    state: String,
    nonce: String,
    challenge: String,
}

async fn begin(server: &Server, op: &FakeOp) -> Flow {
    let mut client = Client::new(&server.base);
    let r = client.get(LOGIN).await;
    assert_eq!(r.status, 303, "{}", r.body);
    let to = r.header("location").unwrap().to_owned();
    assert!(to.starts_with(&format!("{}/authorize?", op.issuer)), "{to}");
    assert_eq!(param(&to, "response_type"), "code");
    assert_eq!(param(&to, "client_id"), fake_op::CLIENT_ID);
    assert_eq!(param(&to, "redirect_uri"), server.url(CALLBACK));
    let scopes = param(&to, "scope");
    for s in ["openid", "profile", "email"] {
        assert!(scopes.split(' ').any(|x| x == s), "{scopes}");
    }
    assert_eq!(param(&to, "code_challenge_method"), "S256");
    let cookie = r.set_cookie("tessera_oidc").unwrap();
    for attr in ["Path=/api/oidc/", "HttpOnly", "SameSite=Lax"] {
        assert!(cookie.contains(attr), "{cookie}");
    }
    let (state, nonce) = (param(&to, "state"), param(&to, "nonce"));
    assert!(state.len() >= 16 && nonce.len() >= 16, "{to}");
    Flow {
        client,
        state,
        nonce,
        challenge: param(&to, "code_challenge"),
    }
}

impl Flow {
    /// Comes back to Tessera's callback with a code and `state`.
    async fn back_with(&mut self, state: &str) -> Resp {
        let path = format!("{CALLBACK}?code=x&state={state}");
        self.client.get(&path).await
    }

    async fn back(&mut self) -> Resp {
        let state = self.state.clone();
        self.back_with(&state).await
    }
}

/// A refused sign-in: `status`, an HTML page, and no session cookie.
#[track_caller]
fn refused(r: &Resp, status: u16, what: &str) {
    assert_eq!(r.status, status, "{what}: {}", r.body);
    assert!(
        r.header("content-type")
            .is_some_and(|t| t.starts_with("text/html")),
        "{what}: {:?}",
        r.header("content-type")
    );
    assert!(
        r.set_cookie("sessionid")
            .is_none_or(|c| c.contains("Max-Age=0")),
        "{what}: no session: {:?}",
        r.set_cookies
    );
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Every forged or misdirected answer is refused without a session (and audited), a local
/// account is never taken over, and a correct answer signs in (the fake works).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_answers_are_refused() {
    let op = FakeOp::start().await;
    let env = Env::sqlite();
    let config = corp_config(&env, &op.issuer, fake_op::CLIENT_SECRET, "");
    let env = env.config(&config);
    env.add_role("operator", &["orders:read"]);
    env.add_role("billing", &["invoices:read"]);
    env.add_user("dana", PW, &["--email", "dana@example.com"]);
    let server = env.serve_in_process();
    let mut failures = 0;

    // The positive control: a correct answer signs in, with PKCE and the client's secret.
    let mut flow = begin(&server, &op).await;
    let claims = op.claims(&flow.nonce, "fake-erin", "erin", "erin@example.com");
    op.answer_with(op.sign(&claims), &claims);
    let r = flow.back().await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(r.header("location"), Some("/api/ui/profile"));
    assert!(r.cookie_value("sessionid").is_some());
    let session = flow.client.get("/api/session").await;
    assert_eq!(session.status, 200, "{}", session.body);
    assert_eq!(session.json()["kind"], "idp");
    assert_eq!(session.json()["login"], "erin");
    let requests = op.token_requests();
    assert_eq!(requests.len(), 1);
    let t = &requests[0];
    assert_eq!(
        t.authorization.as_deref(),
        Some(basic(fake_op::CLIENT_ID, fake_op::CLIENT_SECRET).as_str())
    );
    assert_eq!(t.field("grant_type"), Some("authorization_code"));
    assert_eq!(t.field("code"), Some("x"));
    assert_eq!(t.field("redirect_uri"), Some(server.url(CALLBACK).as_str()));
    let verifier = t.field("code_verifier").expect("PKCE");
    assert_eq!(s256(verifier), flow.challenge);
    // The same answer twice: the flow is over (its cookie used).
    let r = flow.back().await;
    refused(&r, 400, "a second use of the flow");
    failures += 1;

    // --- 400: the flow itself ---
    let mut flow = begin(&server, &op).await;
    let claims = op.claims(&flow.nonce, "fake-erin", "erin", "erin@example.com");
    op.answer_with(op.sign(&claims), &claims);
    let asked = op.token_requests().len();
    refused(
        &flow.back_with("not-the-state").await,
        400,
        "state mismatch",
    );
    refused(&flow.back_with("").await, 400, "no state");
    failures += 2;
    let mut stranger = Client::new(&server.base);
    let path = format!("{CALLBACK}?code=x&state={}", flow.state);
    refused(&stranger.get(&path).await, 400, "no flow cookie");
    failures += 1;
    let path = format!(
        "{CALLBACK}?error=access_denied&error_description=no&state={}",
        flow.state
    );
    refused(&flow.client.get(&path).await, 400, "the provider's error");
    failures += 1;
    assert_eq!(op.token_requests().len(), asked, "no code redeemed");

    // --- 401: the ID token ---
    // A token whose nonce is that of an earlier flow (a token replayed into another one).
    let earlier = begin(&server, &op).await;
    let mut flow = begin(&server, &op).await;
    let claims = op.claims(
        &earlier.nonce,
        "fake-mallory",
        "mallory",
        "mallory@example.com",
    );
    op.answer_with(op.sign(&claims), &claims);
    refused(&flow.back().await, 401, "a nonce from another flow");
    failures += 1;

    type Forge = Box<dyn Fn(&mut Value) -> Option<String>>;
    let rogue = |kid: &str, c: &Value| {
        let header = json!({"alg": "RS256", "typ": "JWT", "kid": kid});
        fake_op::sign_with(&fake_op::keys().1, &header, c)
    };
    let forged: Vec<(&str, Forge)> = vec![
        (
            "another issuer",
            Box::new(|c| {
                c["iss"] = json!("http://127.0.0.1:1");
                None
            }),
        ),
        (
            "another audience",
            Box::new(|c| {
                c["aud"] = json!("someone-else");
                None
            }),
        ),
        (
            "authorized for another party",
            Box::new(|c| {
                c["aud"] = json!([fake_op::CLIENT_ID, "someone-else"]);
                c["azp"] = json!("someone-else");
                None
            }),
        ),
        (
            "expired",
            Box::new(|c| {
                c["iat"] = json!(now() - 7200);
                c["auth_time"] = json!(now() - 7200);
                c["exp"] = json!(now() - 3600);
                None
            }),
        ),
        (
            "issued in the future",
            Box::new(|c| {
                c["iat"] = json!(now() + 3600);
                c["exp"] = json!(now() + 7200);
                None
            }),
        ),
        (
            "no nonce",
            Box::new(|c| {
                c.as_object_mut().unwrap().remove("nonce");
                None
            }),
        ),
        (
            "signed by another key under the published kid",
            Box::new(move |c| Some(rogue(fake_op::KID, c))),
        ),
        (
            "signed by an unknown key",
            Box::new(move |c| Some(rogue("rogue", c))),
        ),
        ("alg none", Box::new(|c| Some(fake_op::unsigned(c)))),
        (
            "HS256 with the client secret",
            Box::new(|c| Some(fake_op::hs256(fake_op::CLIENT_SECRET.as_bytes(), c))),
        ),
        (
            "a payload changed after signing",
            Box::new(|c| {
                let genuine = op_sign_detached(c);
                c["preferred_username"] = json!("root");
                let parts: Vec<&str> = genuine.split('.').collect();
                Some(format!(
                    "{}.{}.{}",
                    parts[0],
                    B64.encode(c.to_string()),
                    parts[2]
                ))
            }),
        ),
    ];
    // Each under a login of its own, so that no account's failure count builds up.
    for (i, (what, forge)) in forged.iter().enumerate() {
        let mut flow = begin(&server, &op).await;
        let (sub, login) = (format!("fake-mallory-{i}"), format!("mallory{i}"));
        let email = format!("{login}@example.com");
        let mut claims = op.claims(&flow.nonce, &sub, &login, &email);
        let token = forge(&mut claims).unwrap_or_else(|| op.sign(&claims));
        op.answer_with(token, &claims);
        refused(&flow.back().await, 401, what);
        failures += 1;
    }

    // --- 403: a local account is never taken over ---
    for (sub, username, email) in [
        ("fake-dana-1", "dana", "someone@example.com"),
        ("fake-dana-2", "dana.sso", "dana@example.com"),
        ("fake-dana-3", "DANA", "other@example.com"),
    ] {
        let mut flow = begin(&server, &op).await;
        let claims = op.claims(&flow.nonce, sub, username, email);
        op.answer_with(op.sign(&claims), &claims);
        refused(&flow.back().await, 403, &format!("{username} <{email}>"));
        failures += 1;
    }
    let mut c = Client::new(&server.base);
    let r = c.send_once(c.basic_login("dana", PW)).await;
    assert_eq!(r.status, 200, "the local password still works: {}", r.body);

    // Only the positive control made a user.
    let users = env.run_json(&["user", "list", "--json"]);
    let mut logins: Vec<&str> = users
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["login"].as_str().unwrap())
        .filter(|l| *l != "admin")
        .collect();
    logins.sort_unstable();
    assert_eq!(logins, ["dana", "erin"]);

    // Every refusal is in the audit log.
    let events = env.run_json(&["audit", "--json", "--limit", "1000"]);
    let refusals = events
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["event"] == "login" && e["outcome"] == "failure")
        .filter(|e| e["method"] == "oidc:corp")
        .count();
    assert_eq!(refusals, failures, "{events:#}");
}

/// `claims` signed by the published key (a genuine signature, for tampering).
fn op_sign_detached(claims: &Value) -> String {
    let header = json!({"alg": "RS256", "typ": "JWT", "kid": fake_op::KID});
    fake_op::sign_with(&fake_op::keys().0, &header, claims)
}

/// The provider's accounts meet the configured policy: e-mail domains, a disabled
/// account, and no account creation when `create_users` is off.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn account_policies_apply_to_provider_sign_ins() {
    let op = FakeOp::start().await;
    let env = Env::sqlite();
    let config = corp_config(
        &env,
        &op.issuer,
        fake_op::CLIENT_SECRET,
        "allowed_email_domains = [\"example.com\"]\n",
    );
    let env = env.config(&config);
    let server = env.serve_in_process();
    let sign_in = |sub: &'static str, login: &'static str, email: &'static str| {
        let (server, op) = (&server, &op);
        async move {
            let mut flow = begin(server, op).await;
            let claims = op.claims(&flow.nonce, sub, login, email);
            op.answer_with(op.sign(&claims), &claims);
            flow.back().await
        }
    };
    refused(
        &sign_in("fake-eve", "eve", "eve@elsewhere.test").await,
        403,
        "an e-mail domain not allowed",
    );
    assert_eq!(
        sign_in("fake-fay", "fay", "fay@example.com").await.status,
        303
    );
    env.run(&["user", "disable", "fay"], "").success();
    refused(
        &sign_in("fake-fay", "fay", "fay@example.com").await,
        403,
        "a disabled account",
    );
    let shown = env.run(&["user", "show", "fay"], "").success();
    assert!(
        shown.contains("sign-in:     identity provider `corp` (subject fake-fay)"),
        "{shown}"
    );
    let users = env.run_json(&["user", "list", "--json"]).to_string();
    assert!(
        !users.contains("\"eve\""),
        "no account for a refused sign-in: {users}"
    );
    drop(server);

    // Without account creation, only linked accounts sign in.
    let closed = Env::sqlite();
    let config = corp_config(
        &closed,
        &op.issuer,
        fake_op::CLIENT_SECRET,
        "create_users = false\n",
    );
    let closed = closed.config(&config);
    let server = closed.serve_in_process();
    let mut flow = begin(&server, &op).await;
    let claims = op.claims(&flow.nonce, "fake-gus", "gus", "gus@example.com");
    op.answer_with(op.sign(&claims), &claims);
    refused(&flow.back().await, 403, "no linked account and no creation");
}

/// What the provider did not vouch for is not believed: an unverified e-mail address
/// names, blocks and stores nothing, and only a fresh authentication at the provider
/// marks the console as freshly confirmed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unverified_addresses_and_stale_authentications_are_not_believed() {
    let op = FakeOp::start().await;
    let env = Env::sqlite();
    let config = corp_config(&env, &op.issuer, fake_op::CLIENT_SECRET, "");
    let env = env.config(&config);
    env.add_user("dana", PW, &["--email", "dana@example.com"]);
    let server = env.serve_in_process();

    // An address the provider did not verify: not dana's account, not stored.
    let mut flow = begin(&server, &op).await;
    let mut claims = op.claims(&flow.nonce, "fake-zed", "zed", "dana@example.com");
    claims["email_verified"] = json!(false);
    // Signed in at the provider an hour ago: no fresh confirmation.
    claims["auth_time"] = json!(now() - 3600);
    op.answer_with(op.sign(&claims), &claims);
    let r = flow.back().await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert!(
        r.set_cookie("tessera_sudo").is_none(),
        "a provider session is not a fresh sign-in: {:?}",
        r.set_cookies
    );
    let zed = env.run_json(&["user", "show", "zed", "--json"]);
    assert_eq!(zed["email"], serde_json::Value::Null, "{zed}");

    // Fresh: the console is confirmed for a while.
    let mut flow = begin(&server, &op).await;
    let claims = op.claims(&flow.nonce, "fake-zed", "zed", "zed@example.com");
    op.answer_with(op.sign(&claims), &claims);
    let r = flow.back().await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert!(
        r.set_cookie("tessera_sudo").is_some(),
        "{:?}",
        r.set_cookies
    );
}
