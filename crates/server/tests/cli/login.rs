//! The login and session flows (a Django-style form login, a JSON login with a custom
//! cookie under a deep base path, Basic login in every answer format), and the attacks
//! that must fail against them, on the real server.

use reqwest::Method;

use crate::client::{Client, PW, Resp, basic};
use crate::harness::Env;

/// The CSRF header of a response equals the cookie it sets (when it sets one).
fn assert_csrf_pair(r: &Resp, cookie_name: &str) -> String {
    let header = r
        .header("x-csrftoken")
        .expect("X-CSRFToken on every response")
        .to_owned();
    if let Some(line) = r.set_cookie(cookie_name) {
        assert_eq!(r.cookie_value(cookie_name).unwrap(), header);
        assert!(
            line.contains("HttpOnly") && line.contains("SameSite=Lax") && line.contains("Path=/"),
            "{line}"
        );
    }
    header
}

on_both_backends!(
    /// Django-style form login at the root with `X-CSRFToken` +
    /// `csrftoken`, `next=%2F`, then unsafe requests need the header.
    form_login_with_csrf_header,
    form_login
);

async fn form_login(env: Env) {
    let env = env.config("[server]\nbase_path = \"\"\n");
    env.add_user("joe", PW, &[]);
    let server = env.serve(&[]);
    let mut browser = Client::new(&server.base);

    // GET /login/: the header equals the HttpOnly cookie.
    let page = browser
        .send(
            browser
                .req(Method::GET, "/login/")
                .header("accept", "text/html"),
        )
        .await;
    assert_eq!(page.status, 200);
    let token = assert_csrf_pair(&page, "csrftoken");
    assert_eq!(browser.jar["csrftoken"], token);
    assert!(
        page.body.contains(&format!("value=\"{token}\"")),
        "the form carries the token"
    );
    // Constant while nothing changes.
    let again = browser.get("/login/").await;
    assert_eq!(again.header("x-csrftoken"), Some(token.as_str()));
    assert!(again.set_cookie("csrftoken").is_none());

    // A browser's login POST without the token is refused (login CSRF).
    let origin = server.base.clone();
    let no_token = browser
        .send(
            browser
                .req(Method::POST, "/login/")
                .header("origin", &origin)
                .form(&[("username", "joe"), ("password", PW), ("next", "/")]),
        )
        .await;
    no_token.assert_problem(403, "csrf_failed");
    assert!(no_token.set_cookie("sessionid").is_none());

    // The documented POST: header + unchanged cookie + username, password, next=%2F.
    let login = browser
        .send(
            browser
                .req(Method::POST, "/login/")
                .header("origin", &origin)
                .header("x-csrftoken", &token)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(format!(
                    "username=joe&password={}&next=%2F",
                    PW.replace(' ', "+")
                )),
        )
        .await;
    assert_eq!(login.status, 303, "{}", login.body);
    assert_eq!(login.header("location"), Some("/"));
    assert_eq!(login.header("cache-control"), Some("no-store"));
    let session_cookie = login
        .set_cookie("sessionid")
        .expect("session cookie")
        .to_owned();
    assert!(session_cookie.contains("HttpOnly") && session_cookie.contains("SameSite=Lax"));
    assert!(session_cookie.contains("Max-Age=43200"), "{session_cookie}");
    assert!(
        !session_cookie.contains("Secure"),
        "plain HTTP on loopback: no Secure"
    );
    let new_token = assert_csrf_pair(&login, "csrftoken");
    assert_ne!(new_token, token, "a new CSRF token at login");

    // Later unsafe requests: 403 without the header, accepted with it.
    let list = browser.get("/sessions").await;
    assert_eq!(list.status, 200);
    assert_eq!(
        list.header("x-csrftoken"),
        Some(new_token.as_str()),
        "constant for the session"
    );
    let without = browser.send(browser.req(Method::DELETE, "/sessions")).await;
    without.assert_problem(403, "csrf_failed");
    let with = browser
        .send(
            browser
                .req(Method::DELETE, "/sessions")
                .header("x-csrftoken", &new_token),
        )
        .await;
    assert_eq!(with.status, 204);

    // The form field works as well as the header for a form logout.
    let out = browser
        .send(
            browser
                .req(Method::POST, "/logout/")
                .form(&[("csrfmiddlewaretoken", new_token.as_str())]),
        )
        .await;
    assert_eq!(out.status, 204, "{}", out.body);
    assert!(out.set_cookie("sessionid").unwrap().contains("Max-Age=0"));
    assert_eq!(browser.get("/session").await.status, 401);
}

/// JSON login under /apis/authentication with a custom cookie name,
/// session info by GET, DELETE ends it.
async fn json_login(env: Env) {
    let env = env.config(
        "[server]\nbase_path = \"/apis/authentication\"\n[session]\ncookie_name = \"calypso-session-id\"\n",
    );
    env.add_user("joe", PW, &["--first-name", "Joe", "--role", "admin"]);
    let server = env.serve(&[]);
    let mut c = Client::new(&server.base);
    let login = c
        .send(c.json_login_at("/apis/authentication/login", "joe", PW))
        .await;
    assert_eq!(login.status, 200, "{}", login.body);
    assert!(login.set_cookie("calypso-session-id").is_some());
    // A JSON login answers JSON (`login.default_output = "auto"`).
    assert_eq!(login.header("content-type"), Some("application/json"));
    let answer = login.json();
    assert!(login.field("authtoken").starts_with("tss_"), "{answer}");
    assert_eq!(answer["login"], "joe");
    assert_eq!(answer["firstname"], "Joe");

    let info = c.get("/apis/authentication/login").await;
    assert_eq!(info.status, 200);
    let v = info.json();
    assert_eq!(v["login"], "joe");
    assert_eq!(v["firstname"], "Joe");
    assert_eq!(v["kind"], "password");
    assert_eq!(v["roles"], serde_json::json!(["admin"]));
    assert_eq!(v["permissions"], serde_json::json!(["*"]));
    assert_eq!(
        v["sessionid"], answer["sessionid"],
        "the session just opened"
    );
    assert!(v["scopes"].is_null());
    for k in [
        "sessionid",
        "created_at",
        "last_seen_at",
        "expires_at",
        "idle_expires_at",
    ] {
        assert!(v[k].is_string(), "{k}: {v}");
    }

    let csrf = c.jar["csrftoken"].clone();
    let del = c
        .send(
            c.req(Method::DELETE, "/apis/authentication/login")
                .header("x-csrftoken", &csrf),
        )
        .await;
    assert_eq!(del.status, 204);
    // The browser drops the cookie; a client that kept it is refused.
    let mut stale = Client::new(&server.base);
    stale.jar.insert(
        "calypso-session-id".into(),
        login.cookie_value("calypso-session-id").unwrap(),
    );
    let after = stale.get("/apis/authentication/login").await;
    assert_eq!(after.status, 401);
    assert!(after.header("www-authenticate").is_some());
}

on_both_backends!(json_login_with_a_custom_session_cookie, json_login);

/// Basic login printing the token, `_json`, `_oauth2`,
/// `redirect_uri`, the alias header, logout, idle timeout.
async fn basic_login(env: Env) {
    let env = env.config(
        "[tokens]\nalias_header = \"X-Simplicite-Authorization\"\n\
         [login]\nredirect_uris = [\"https://app.example.com/cb\"]\n\
         [session]\nidle_timeout = \"2s\"\n",
    );
    env.add_user("joe", PW, &["--first-name", "Joe", "--last-name", "Bloggs"]);
    let server = env.serve(&[]);
    let mut c = Client::new(&server.base);
    let login = |c: &Client, query: &str| {
        let path = format!("/api/login{query}");
        c.auth(Method::GET, &path, &basic("joe", PW))
    };

    // curl -u login:password {base}/login prints the token and sets no session cookie.
    let plain = c.send(login(&c, "")).await;
    assert_eq!(plain.status, 200, "{}", plain.body);
    assert_eq!(
        plain.header("content-type"),
        Some("text/plain; charset=utf-8")
    );
    assert_eq!(plain.header("cache-control"), Some("no-store"));
    assert!(
        plain.set_cookie("sessionid").is_none(),
        "a GET login plants no session cookie"
    );
    let token = plain.body.clone();
    assert!(token.starts_with("tss_") && token.len() == 42, "{token}");

    let json = c.send(login(&c, "?_json=true")).await;
    let v = json.json();
    for k in [
        "authtoken",
        "sessionid",
        "login",
        "firstname",
        "lastname",
        "lang",
        "expires_in",
        "authtokenexpires",
    ] {
        assert!(!v[k].is_null(), "{k} missing: {v}");
    }
    assert_eq!(v["lastname"], "Bloggs");
    assert_ne!(
        v["authtoken"],
        token.as_str(),
        "every login is a new session"
    );

    // OAuth2-style output needs HTTPS.
    let oauth = c.send(login(&c, "?_oauth2=true")).await;
    oauth.assert_problem(400, "https_required");

    // redirect_uri: only configured ones, and then with access_token.
    let redirect = c
        .send(login(
            &c,
            "?redirect_uri=https%3A%2F%2Fapp.example.com%2Fcb",
        ))
        .await;
    assert_eq!(redirect.status, 302);
    let location = redirect.header("location").unwrap();
    assert!(
        location.starts_with("https://app.example.com/cb?access_token=tss_"),
        "{location}"
    );
    let foreign = c
        .send(login(&c, "?redirect_uri=https%3A%2F%2Fevil.example%2F"))
        .await;
    foreign.assert_problem(400, "redirect_uri_not_allowed");
    assert!(foreign.header("location").is_none());

    // The token in the alias header authenticates.
    let bearer = format!("Bearer {token}");
    let alias = |c: &Client| {
        c.req(Method::GET, "/api/session")
            .header("x-simplicite-authorization", &bearer)
    };
    let info = c.send(alias(&c)).await;
    assert_eq!(info.status, 200);
    assert_eq!(info.json()["login"], "joe");
    // The same token sent two ways at once.
    let twice = c.send(alias(&c).header("authorization", &bearer)).await;
    twice.assert_problem(400, "invalid_request");

    // {base}/logout ends the session.
    let out = c.send(c.bearer(Method::GET, "/api/logout", &token)).await;
    assert_eq!(out.status, 204);
    let gone = c.send(c.bearer(Method::GET, "/api/session", &token)).await;
    gone.assert_problem(401, "invalid_token");
    assert!(
        gone.header("www-authenticate")
            .unwrap()
            .contains("error=\"invalid_token\"")
    );

    // After the idle timeout the token gets 401 session_expired.
    let fresh = v["authtoken"].as_str().unwrap().to_owned();
    tokio::time::sleep(std::time::Duration::from_millis(3100)).await;
    let expired = c.send(c.bearer(Method::GET, "/api/session", &fresh)).await;
    expired.assert_problem(401, "session_expired");
}

on_both_backends!(basic_login_in_every_answer_format, basic_login);

/// Activity slides the idle timeout; polling never passes the absolute limit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_timeout_slides_but_absolute_timeout_holds() {
    let env = Env::sqlite().config("[session]\nidle_timeout = \"3s\"\nabsolute_timeout = \"6s\"\n");
    env.add_user("joe", PW, &[]);
    let server = env.serve(&[]);
    let mut c = Client::new(&server.base);
    let token = c.send(c.basic_login("joe", PW)).await.body;
    // Poll every 1.5 s: the idle timeout (3 s) never elapses, the absolute one (6 s) does.
    let mut last = 0;
    for _ in 0..6 {
        tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
        let r = c.send(c.bearer(Method::GET, "/api/session", &token)).await;
        last = r.status;
        if r.status != 200 {
            assert_eq!(r.code(), "session_expired");
            break;
        }
    }
    assert_eq!(last, 401, "the absolute timeout ended the polled session");
}

/// Unknown user, wrong password and disabled account are indistinguishable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_logins_are_indistinguishable() {
    let env = Env::sqlite();
    env.add_user("joe", PW, &[]);
    env.add_user("ann", PW, &[]);
    env.run(&["user", "disable", "ann"], "").success();
    let server = env.serve(&[]);
    let mut c = Client::new(&server.base);
    let mut seen = Vec::new();
    for (login, pw) in [("nobody", PW), ("joe", "wrong password here"), ("ann", PW)] {
        let r = c.send(c.json_login(login, pw)).await;
        assert_eq!(r.status, 401);
        let mut headers: Vec<(String, String)> = r
            .headers
            .iter()
            // What differs for every request, whoever logs in.
            .filter(|(k, _)| {
                !["date", "x-csrftoken", "set-cookie", "x-request-id"].contains(&k.as_str())
            })
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap().to_owned()))
            .collect();
        headers.sort();
        seen.push((headers, r.body.clone()));
    }
    assert_eq!(seen[0], seen[1]);
    assert_eq!(seen[1], seen[2]);
    assert!(seen[0].1.contains("invalid_credentials"));
    // Basic gets a Basic challenge.
    let nobody = basic("nobody", "x");
    let r = c.send(c.auth(Method::GET, "/api/login", &nobody)).await;
    assert_eq!(r.status, 401);
    assert!(r.header("www-authenticate").unwrap().starts_with("Basic "));
}

on_both_backends!(
    /// Attacks on sessions and CSRF that must fail.
    session_and_csrf_attacks_fail,
    session_and_csrf_attacks
);

async fn session_and_csrf_attacks(env: Env) {
    env.add_user("joe", PW, &[]);
    env.add_user("eve", PW, &[]);
    let server = env.serve(&[]);
    let login = |who: &'static str| {
        let base = server.base.clone();
        async move {
            let mut c = Client::new(&base);
            let r = c.send(c.json_login(who, PW)).await;
            assert_eq!(r.status, 200);
            c
        }
    };
    let mut joe = login("joe").await;
    let eve = login("eve").await;

    // Eve's (valid) CSRF pair does not work with Joe's session.
    let mut forged = Client::new(&server.base);
    forged
        .jar
        .insert("sessionid".into(), joe.jar["sessionid"].clone());
    forged
        .jar
        .insert("csrftoken".into(), eve.jar["csrftoken"].clone());
    let r = forged
        .send(
            forged
                .req(Method::DELETE, "/api/session")
                .header("x-csrftoken", &eve.jar["csrftoken"]),
        )
        .await;
    r.assert_problem(403, "csrf_failed");
    assert_eq!(joe.get("/api/session").await.status, 200, "no side effect");

    // A bogus Authorization header does not switch the CSRF check off: the header is judged.
    let r = joe
        .send(joe.bearer(Method::DELETE, "/api/session", "nonsense"))
        .await;
    assert_eq!(r.status, 401);
    assert_eq!(joe.get("/api/session").await.status, 200);

    // Cross-origin and cross-site unsafe requests are refused before anything happens.
    let csrf = joe.jar["csrftoken"].clone();
    for (name, value) in [
        ("origin", "https://evil.example"),
        ("sec-fetch-site", "cross-site"),
    ] {
        let r = joe
            .send(
                joe.req(Method::DELETE, "/api/session")
                    .header("x-csrftoken", &csrf)
                    .header(name, value),
            )
            .await;
        assert_eq!(r.status, 403, "{name}");
    }
    assert_eq!(joe.get("/api/session").await.status, 200);

    // Fixation: a session id chosen by the attacker is never adopted, and a login issues a
    // fresh one.
    let mut victim = Client::new(&server.base);
    victim
        .jar
        .insert("sessionid".into(), "attacker-chosen".into());
    let r = victim.get("/api/session").await;
    assert_eq!(r.status, 401);
    assert!(
        r.set_cookie("sessionid").unwrap().contains("Max-Age=0"),
        "the bad cookie is expired"
    );
    victim
        .jar
        .insert("sessionid".into(), "attacker-chosen".into());
    let r = victim.send(victim.json_login("joe", PW)).await;
    let issued = r.cookie_value("sessionid").unwrap();
    assert_ne!(issued, "attacker-chosen");
    assert_ne!(
        issued, joe.jar["sessionid"],
        "each login has its own session"
    );

    // Revoking a session from another of Joe's sessions ends it for cookie and token alike.
    let sessions = joe.get("/api/sessions").await.json();
    let arr = sessions.as_array().unwrap();
    assert_eq!(arr.len(), 2);
    let other = arr.iter().find(|s| s["current"] == false).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = joe
        .send(
            joe.req(Method::DELETE, &format!("/api/sessions/{other}"))
                .header("x-csrftoken", &csrf),
        )
        .await;
    assert_eq!(r.status, 204);
    assert_eq!(victim.get("/api/session").await.status, 401);
    // Someone else's session id is 404 to me.
    let eve_id = eve.clone_session_id(&server.base).await;
    let r = joe
        .send(
            joe.req(Method::DELETE, &format!("/api/sessions/{eve_id}"))
                .header("x-csrftoken", &csrf),
        )
        .await;
    assert_eq!(r.status, 404);
}

impl Client {
    async fn clone_session_id(&self, base: &str) -> String {
        let mut c = Client::new(base);
        c.jar = self.jar.clone();
        c.get("/api/session").await.json()["sessionid"]
            .as_str()
            .unwrap()
            .to_owned()
    }
}

/// Malformed and oversize input: clear 4xx answers, never a 500.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_clear_errors() {
    let env = Env::sqlite().config("[server]\nbase_path = \"/myapp/api\"\n");
    env.add_user("joe", PW, &[]);
    let server = env.serve(&[]);
    let mut c = Client::new(&server.base);
    let (login, session) = ("/myapp/api/login", "/myapp/api/session");
    let json = "application/json";
    let cases: Vec<(reqwest::RequestBuilder, u16, &str)> = vec![
        (c.post_typed(login, json, "{"), 400, "validation_failed"),
        (c.post_typed(login, json, "[1]"), 400, "validation_failed"),
        (
            c.post_typed(login, "text/plain", "username=joe"),
            415,
            "unsupported_media_type",
        ),
        (
            c.req(Method::POST, login).form(&[("username", "joe")]),
            400,
            "validation_failed",
        ),
        (
            c.req(Method::POST, login)
                .form(&[("username", "x".repeat(70_000))]),
            413,
            "payload_too_large",
        ),
        (
            c.req(Method::GET, &format!("{login}?username=joe&password=x")),
            400,
            "invalid_request",
        ),
        (
            c.auth(Method::GET, session, "Basic %%%"),
            401,
            "invalid_credentials",
        ),
        (
            c.auth(Method::GET, session, "Bearer tss_short"),
            401,
            "invalid_token",
        ),
        (c.req(Method::PUT, login), 405, "method_not_allowed"),
    ];
    for (rb, status, code) in cases {
        let req = rb.build().unwrap();
        // Only a request that may be a browser's (no credential in a header) gets a CSRF
        // token: API clients never send one back.
        let header_credential = req.headers().contains_key("authorization");
        let r = c
            .send(reqwest::RequestBuilder::from_parts(c.http(), req))
            .await;
        r.assert_problem(status, code);
        assert_eq!(r.header("content-type"), Some("application/problem+json"));
        assert_eq!(
            r.header("x-csrftoken").is_some(),
            !header_credential,
            "{code}"
        );
    }
    // Multipart forms log in too; the base path answers with and without a slash.
    let form = reqwest::multipart::Form::new()
        .text("username", "joe")
        .text("password", PW);
    let r = c
        .send(c.req(Method::POST, "/myapp/api/login/").multipart(form))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    // A foreign `next` goes to `/`.
    let foreign_next = "/myapp/api/login?next=%2F%2Fevil.example";
    let r = c.send(c.form_login_at(foreign_next, "joe", PW)).await;
    assert_eq!(r.status, 303);
    assert_eq!(r.header("location"), Some("/"));
}

/// Behind a trusted TLS proxy: Secure cookies, HSTS, OAuth2 output; from a non-loopback
/// client over plain HTTP, credentials are refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transport_rules() {
    let env = Env::sqlite().config("[server]\ntrusted_proxies = [\"127.0.0.1\", \"::1\"]\n");
    env.add_user("joe", PW, &[]);
    let server = env.serve(&[]);
    let mut c = Client::new(&server.base);
    let from = |rb: reqwest::RequestBuilder, proto: &str| {
        rb.header("x-forwarded-for", "203.0.113.5")
            .header("x-forwarded-proto", proto)
    };
    let r = c.send(from(c.basic_login("joe", PW), "http")).await;
    r.assert_problem(400, "https_required");
    let joe = basic("joe", PW);
    let oauth2 = |c: &Client| c.auth(Method::POST, "/api/login?_oauth2=true", &joe);
    let r = c.send(from(oauth2(&c), "https")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    assert_eq!(v["token_type"], "bearer");
    assert!(v["access_token"].as_str().unwrap().starts_with("tss_"));
    assert!(v["expires_in"].as_i64().unwrap() > 0);
    assert_eq!(r.header("pragma"), Some("no-cache"));
    assert!(r.header("strict-transport-security").is_some());
    assert!(r.set_cookie("sessionid").unwrap().contains("Secure"));
    assert!(r.set_cookie("csrftoken").unwrap().contains("Secure"));
    // A client that is not a trusted proxy cannot claim HTTPS.
    let env2 = Env::sqlite();
    env2.add_user("joe", PW, &[]);
    let s2 = env2.serve(&[]);
    let mut c2 = Client::new(&s2.base);
    let r = c2
        .send(oauth2(&c2).header("x-forwarded-proto", "https"))
        .await;
    assert_eq!(r.status, 400);
}

/// Native TLS: OAuth2-style output and Secure cookies over HTTPS.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn native_tls() {
    let env = Env::sqlite();
    let tls = crate::harness::tls_settings(&env);
    let env = env.config(&format!("[server]\n{tls}"));
    env.add_user("joe", PW, &[]);
    let server = env.serve(&[]);
    assert!(server.base.starts_with("https://"), "{}", server.base);
    let mut c = Client::new(&server.base);
    let r = c
        .send(c.json_login_at("/api/login?_output=oauth2", "joe", PW))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.set_cookie("sessionid").unwrap().contains("; Secure"));
    assert!(r.header("strict-transport-security").is_some());
    assert_eq!(
        r.json()["scope"],
        serde_json::Value::Null,
        "no permission is null, not an empty scope"
    );
    let token = r.json()["access_token"].as_str().unwrap().to_owned();
    let info = c.send(c.bearer(Method::GET, "/api/session", &token)).await;
    assert_eq!(info.status, 200);
}

/// Changing the password or disabling the user ends its sessions at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_change_and_disable_end_sessions() {
    let env = Env::sqlite();
    env.add_user("joe", PW, &[]);
    let server = env.serve(&[]);
    let mut c = Client::new(&server.base);
    let t1 = c.send(c.basic_login("joe", PW)).await.body;
    env.run(
        &["user", "passwd", "joe", "--password-stdin"],
        "a brand new passphrase\n",
    )
    .success();
    let r = c.send(c.bearer(Method::GET, "/api/session", &t1)).await;
    assert_eq!(r.status, 401);
    let r = c.send(c.basic_login("joe", PW)).await;
    assert_eq!(r.status, 401, "the old password no longer works");
    let t2 = c
        .send(c.basic_login("joe", "a brand new passphrase"))
        .await
        .body;
    env.run(&["user", "disable", "joe"], "").success();
    let r = c.send(c.bearer(Method::GET, "/api/session", &t2)).await;
    assert_eq!(r.status, 401);
}

/// Verifying a session is a read: `last_seen_at` is written at most once per interval
/// (a tenth of the idle timeout here), in the background.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_activity_is_coalesced() {
    let env = Env::sqlite().config("[session]\nidle_timeout = \"20s\"\n");
    env.add_user("joe", PW, &[]);
    let server = env.serve(&[]);
    let mut c = Client::new(&server.base);
    let token = c.send(c.basic_login("joe", PW)).await.body;
    let db = format!(
        "sqlite://{}",
        crate::harness::data_dir(&env).join("tessera.db").display()
    );
    let last_seen = || async {
        let mut conn = <sqlx::SqliteConnection as sqlx::Connection>::connect(&db)
            .await
            .unwrap();
        let row: (i64, i64) = sqlx::query_as("SELECT created_at, last_seen_at FROM sessions")
            .fetch_one(&mut conn)
            .await
            .unwrap();
        row
    };
    for _ in 0..20 {
        let r = c.send(c.bearer(Method::GET, "/api/session", &token)).await;
        assert_eq!(r.status, 200);
    }
    let (created, seen) = last_seen().await;
    assert_eq!(seen, created, "twenty verifications wrote nothing");
    tokio::time::sleep(std::time::Duration::from_millis(2200)).await;
    c.send(c.bearer(Method::GET, "/api/session", &token)).await;
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let (_, seen) = last_seen().await;
    assert!(
        seen >= created + 2,
        "activity recorded after the interval: {seen} vs {created}"
    );
}

/// What a successful login answered: `plain` (the token as text), `json` (the JSON
/// answer), or `redirect` and the location before its query.
#[track_caller]
fn answer(r: &Resp) -> String {
    match r.status {
        200 if r.header("content-type") == Some("text/plain; charset=utf-8") => {
            assert!(r.body.starts_with("tss_"), "{}", r.body);
            "plain".to_owned()
        }
        200 => {
            assert_eq!(r.header("content-type"), Some("application/json"));
            assert!(r.field("authtoken").starts_with("tss_"), "{}", r.body);
            "json".to_owned()
        }
        302 | 303 => {
            let location = r.header("location").unwrap();
            format!("redirect {}", location.split('?').next().unwrap())
        }
        _ => panic!("login failed: {} {}", r.status, r.body),
    }
}

/// `login.default_output`: under `auto` (the default) a JSON body gets the JSON answer
/// and Basic, form and query logins the plain token; `plain` and `json` answer every login
/// so; explicit options (`_output`, `format`, `_json`, `Accept`, `next`, `redirect_uri`)
/// win over all three.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_answer_follows_the_body_the_setting_and_explicit_options() {
    type Request = fn(&Client) -> reqwest::RequestBuilder;
    const APP: &str = "redirect https://app.example.com/cb";
    const TO_APP: &str = "/api/login?redirect_uri=https%3A%2F%2Fapp.example.com%2Fcb";
    fn json_with(option: &str, value: &str) -> serde_json::Value {
        let mut body = serde_json::json!({"username": "joe", "password": PW});
        body[option] = value.into();
        body
    }
    // Each request and its answer under `auto` (also when the key is not set), `plain`
    // and `json`.
    let requests: [(&str, Request, [&str; 3]); 14] = [
        (
            "json body",
            |c| c.json_login("joe", PW),
            ["json", "plain", "json"],
        ),
        (
            "form",
            |c| c.form_login_at("/api/login", "joe", PW),
            ["plain", "plain", "json"],
        ),
        (
            "basic POST",
            |c| c.basic_login("joe", PW),
            ["plain", "plain", "json"],
        ),
        (
            "basic GET",
            |c| c.auth(Method::GET, "/api/login", &basic("joe", PW)),
            ["plain", "plain", "json"],
        ),
        (
            "json body with _output=plain",
            |c| {
                c.req(Method::POST, "/api/login")
                    .json(&json_with("_output", "plain"))
            },
            ["plain"; 3],
        ),
        (
            "json body, ?format=plain",
            |c| c.json_login_at("/api/login?format=plain", "joe", PW),
            ["plain"; 3],
        ),
        (
            "json body, Accept: text/plain",
            |c| c.json_login("joe", PW).header("accept", "text/plain"),
            ["plain"; 3],
        ),
        (
            "form, Accept: application/json",
            |c| {
                c.form_login_at("/api/login", "joe", PW)
                    .header("accept", "application/json")
            },
            ["json"; 3],
        ),
        (
            "form with _json=true",
            |c| {
                let fields = [("username", "joe"), ("password", PW), ("_json", "true")];
                c.req(Method::POST, "/api/login").form(&fields)
            },
            ["json"; 3],
        ),
        (
            "basic, ?_output=json",
            |c| c.auth(Method::POST, "/api/login?_output=json", &basic("joe", PW)),
            ["json"; 3],
        ),
        (
            "basic, ?_output=plain",
            |c| c.auth(Method::POST, "/api/login?_output=plain", &basic("joe", PW)),
            ["plain"; 3],
        ),
        (
            "json body with next",
            |c| {
                c.req(Method::POST, "/api/login")
                    .json(&json_with("next", "/orders"))
            },
            ["redirect /orders"; 3],
        ),
        (
            "json body, ?redirect_uri",
            |c| c.json_login_at(TO_APP, "joe", PW),
            [APP; 3],
        ),
        (
            "basic GET, ?redirect_uri",
            |c| c.auth(Method::GET, TO_APP, &basic("joe", PW)),
            [APP; 3],
        ),
    ];
    for (setting, column) in [
        (None, 0),
        (Some("auto"), 0),
        (Some("plain"), 1),
        (Some("json"), 2),
    ] {
        let line = setting.map_or(String::new(), |s| format!("default_output = \"{s}\"\n"));
        let env = Env::sqlite().config(&format!(
            "[login]\nredirect_uris = [\"https://app.example.com/cb\"]\n{line}"
        ));
        env.add_user("joe", PW, &[]);
        let server = env.serve(&[]);
        let mut c = Client::new(&server.base);
        for (name, request, expected) in &requests {
            let r = c.send_once(request(&c)).await;
            assert_eq!(
                answer(&r),
                expected[column],
                "{name}, default_output {setting:?}"
            );
        }
    }
}
