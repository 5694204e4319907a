//! The web console in a real browser: every credential's life from the page to the API
//! and back, sessions, and the refusals (CSRF, framing, the password step). One browser
//! drives every scenario in turn.

use reqwest::Method;

use crate::browser::{self, Browser};
use crate::client::{Client, PW, basic};
use crate::harness::{Env, Server};

/// A user `joe` holding `orders:read` and `orders:write`, on a server with `config`.
fn start(config: &str) -> (Env, Server) {
    let env = Env::sqlite().config(config);
    env.add_role("clerk", &["orders:read", "orders:write"]);
    env.add_user("joe", PW, &["--role", "clerk"]);
    let server = env.serve_in_process();
    (env, server)
}

async fn sign_in(b: &Browser, server: &Server, password: &str) {
    b.goto(&server.url("/api/ui/")).await;
    assert!(
        b.path().await.starts_with("/api/ui/login?next="),
        "{}",
        b.path().await
    );
    b.fill("#username", "joe").await;
    b.fill("#password", password).await;
    b.submit("form.stack button[type=submit]").await;
}

/// Calls `GET /api/session` with a bearer token; the status and body.
async fn session_with(server: &Server, token: &str) -> (u16, serde_json::Value) {
    let mut c = Client::new(&server.base);
    let r = c
        .send_once(c.bearer(Method::GET, "/api/session", token))
        .await;
    let body = serde_json::from_str(&r.body).unwrap_or(serde_json::Value::Null);
    (r.status, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_manages_every_credential_in_a_real_browser() {
    let Some(b) = browser::start().await else {
        return;
    };
    let (_env, server) = start("");
    signing_in(&b, &server).await;
    personal_access_token_life(&b, &server).await;
    api_key_life(&b, &server).await;
    client_secret_life(&b, &server).await;
    profile_and_activity(&b, &server).await;
    sessions_and_sign_out(&b, &server).await;
    refusals(&b, &server).await;
    drop(server);

    let (_env, server) = start("[ui]\nsudo_timeout = \"2s\"\n");
    password_step_after_the_sudo_timeout(&b, &server).await;
}

async fn signing_in(b: &Browser, server: &Server) {
    // A browser asking the API's login for HTML gets the console's sign-in form.
    b.goto(&server.url("/api/login")).await;
    let form = b
        .client
        .find(fantoccini::Locator::Css("form.stack"))
        .await
        .unwrap();
    assert!(
        form.attr("action")
            .await
            .unwrap()
            .unwrap()
            .ends_with("/api/ui/login")
    );
    b.goto(&server.url("/api/ui/login")).await;
    b.screenshots("login").await;
    sign_in(b, server, "wrong password").await;
    assert!(
        b.text("#login-error")
            .await
            .contains("Wrong login or password")
    );
    let kept = b
        .client
        .find(fantoccini::Locator::Id("username"))
        .await
        .unwrap();
    assert_eq!(kept.prop("value").await.unwrap().as_deref(), Some("joe"));
    b.fill("#password", PW).await;
    b.submit("form.stack button[type=submit]").await;
    assert_eq!(b.path().await, "/api/ui/profile");
    assert_eq!(b.text("#login").await, "joe");
    b.screenshots("profile").await;
    // Signed in already: the sign-in page goes straight on.
    b.goto(&server.url("/api/ui/login?next=/api/ui/sessions"))
        .await;
    assert_eq!(b.path().await, "/api/ui/sessions");
}

async fn personal_access_token_life(b: &Browser, server: &Server) {
    b.goto(&server.url("/api/ui/developer")).await;
    b.fill("#token_name", "ci").await;
    b.client
        .find(fantoccini::Locator::Id("expires"))
        .await
        .unwrap()
        .select_by_value("7")
        .await
        .unwrap();
    b.click("input[name=scope][value='orders:read']").await;
    b.submit("form[action$='/ui/tokens'] button[type=submit]")
        .await;
    let token = b.text("#new-token[data-secret]").await;
    assert!(token.starts_with("tsp_"), "{token}");
    assert!(
        b.text(".once pre").await.contains(&token),
        "a ready curl command"
    );
    b.screenshots("developer").await;

    let (status, info) = session_with(server, &token).await;
    assert_eq!(status, 200, "{info}");
    assert_eq!(info["scopes"], serde_json::json!(["orders:read"]));
    let expires = info["expires_at"].as_str().unwrap().to_owned();

    // Shown once: gone after a reload; listed, with its last use.
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    b.goto(&server.url("/api/ui/developer")).await;
    assert!(!b.exists("[data-secret]").await);
    let row = b.text("#tokens tbody tr").await;
    assert!(row.contains("ci") && row.contains("orders:read"), "{row}");
    let prefix = b.text("#tokens .prefix").await;
    assert_eq!(
        prefix,
        format!("{}…", &token[..8]),
        "the first characters only"
    );
    assert!(!b.text("#tokens .last-used").await.contains("never"));
    let seven_days = (chrono_like_days(&expires) - today()).abs();
    assert!((6..=7).contains(&seven_days), "{expires}");

    b.submit_confirmed("#tokens form[action$='/revoke'] button")
        .await;
    assert!(b.path().await.ends_with("/ui/developer?revoked=1"));
    assert_eq!(session_with(server, &token).await.0, 401);
}

/// Days since the epoch of an RFC 3339 date.
fn chrono_like_days(rfc3339: &str) -> i64 {
    let date = &rfc3339[..10];
    let mut it = date.split('-').map(|p| p.parse::<i64>().unwrap());
    let (y, m, d) = (it.next().unwrap(), it.next().unwrap(), it.next().unwrap());
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((m + 9) % 12) + 2) / 5 + d - 1;
    era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468
}

fn today() -> i64 {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    i64::try_from(secs / 86_400).unwrap()
}

async fn api_key_life(b: &Browser, server: &Server) {
    b.goto(&server.url("/api/ui/developer")).await;
    b.fill("#key_name", "deploy").await;
    b.submit("form[action$='/ui/apikeys'] button[type=submit]")
        .await;
    let key = b.text("#new-key-id[data-secret]").await;
    let secret = b.text("#new-key-secret[data-secret]").await;
    assert!(key.starts_with("key_") && secret.starts_with("tsx_"));
    let exchange = |key: String, secret: String| async move {
        let mut c = Client::new(&server.base);
        let body = serde_json::json!({"apiKey": key, "apiSecret": secret});
        c.send_once(c.req(Method::POST, "/api/login/key").json(&body))
            .await
    };
    let r = exchange(key.clone(), secret.clone()).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let key_token = r.field("authToken");
    assert_eq!(session_with(server, &key_token).await.0, 200);

    b.goto(&server.url("/api/ui/developer")).await;
    b.submit_confirmed("#apikeys form[action$='/delete'] button")
        .await;
    assert!(b.path().await.ends_with("?deleted=1"));
    assert_eq!(exchange(key, secret).await.status, 401);
    assert_eq!(
        session_with(server, &key_token).await.0,
        401,
        "its tokens end too"
    );
}

async fn client_secret_life(b: &Browser, server: &Server) {
    b.goto(&server.url("/api/ui/developer")).await;
    assert!(b.exists("#client-secret-masked").await, "masked by default");
    b.submit("form[action$='/client-secret/reveal'] button")
        .await;
    let secret = b.text("#client-secret[data-secret]").await;
    assert!(secret.starts_with("tsc_"));
    let grant = |secret: String| async move {
        let mut c = Client::new(&server.base);
        let form = [("grant_type", "client_credentials")];
        let rb = c
            .req(Method::POST, "/api/oauth/token")
            .header("authorization", basic("joe", &secret))
            .form(&form);
        c.send_once(rb).await
    };
    let r = grant(secret.clone()).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(session_with(server, &r.field("access_token")).await.0, 200);

    b.submit_confirmed("form[action$='/client-secret/rotate'] button")
        .await;
    let rotated = b.text("#client-secret[data-secret]").await;
    assert_ne!(rotated, secret);
    assert_eq!(grant(secret).await.status, 401, "the old secret is refused");
    assert_eq!(grant(rotated).await.status, 200);
}

async fn profile_and_activity(b: &Browser, server: &Server) {
    b.goto(&server.url("/api/ui/profile")).await;
    b.fill("#first_name", "Joe").await;
    b.fill("#email", "joe@localhost").await;
    b.submit("form[action$='/ui/profile'] button").await;
    assert!(b.text("#email-error").await.contains("address"));
    let kept = b
        .client
        .find(fantoccini::Locator::Id("first_name"))
        .await
        .unwrap();
    assert_eq!(
        kept.prop("value").await.unwrap().as_deref(),
        Some("Joe"),
        "other values kept"
    );
    b.fill("#email", "joe@example.com").await;
    b.fill("#lang", "fr").await;
    b.submit("form[action$='/ui/profile'] button").await;
    assert!(b.path().await.ends_with("/ui/profile?saved=1"));
    let lang = b
        .client
        .find(fantoccini::Locator::Css("html"))
        .await
        .unwrap();
    assert_eq!(lang.attr("lang").await.unwrap().as_deref(), Some("fr"));
    b.goto(&server.url("/api/ui/activity")).await;
    let events = b.text("table").await;
    for e in [
        "token_created",
        "token_revoked",
        "api_key_deleted",
        "profile_changed",
    ] {
        assert!(events.contains(e), "{e} in {events}");
    }
    b.screenshots("activity").await;
}

async fn sessions_and_sign_out(b: &Browser, server: &Server) {
    let mut c = Client::new(&server.base);
    let other = c.login_token("joe", PW).await;
    let (status, info) = session_with(server, &other).await;
    assert_eq!(status, 200);
    let id = info["sessionid"].as_str().unwrap().to_owned();
    b.goto(&server.url("/api/ui/sessions")).await;
    assert!(b.text("tbody").await.contains("this session"));
    // The script turns times into relative ones (the exact time stays in the tooltip).
    let seen = b.text("time[data-relative]").await;
    assert!(!seen.starts_with("20"), "{seen}");
    b.screenshots("sessions").await;
    b.submit(&format!("tr[data-session='{id}'] form button"))
        .await;
    assert!(b.path().await.ends_with("/ui/sessions?ended=1"));
    assert_eq!(session_with(server, &other).await.0, 401, "ended at once");

    b.submit("form.signout button").await;
    assert!(b.path().await.starts_with("/api/ui/login"));
    b.goto(&server.url("/api/ui/profile")).await;
    assert!(
        b.path().await.starts_with("/api/ui/login?next="),
        "signed out"
    );
}

async fn refusals(b: &Browser, server: &Server) {
    sign_in(b, server, PW).await;
    // A form without its CSRF field, posted by the browser itself: refused, nothing made.
    let forged = format!(
        "const f = document.createElement('form'); f.method = 'post'; \
         f.action = '{}'; const i = document.createElement('input'); i.name = 'name'; \
         i.value = 'forged'; f.appendChild(i); document.body.appendChild(f); f.submit();",
        server.url("/api/ui/tokens")
    );
    b.client.execute(&forged, vec![]).await.unwrap();
    b.client
        .wait()
        .for_element(fantoccini::Locator::Css("p.error"))
        .await
        .unwrap();
    assert!(b.text("p.error").await.contains("nothing was changed"));
    b.goto(&server.url("/api/ui/developer")).await;
    assert!(!b.text("main").await.contains("forged"));

    // Framed by another origin: the browser refuses to show the console.
    let framing = format!(
        "data:text/html,<iframe id=f src=\"{}\"></iframe>",
        server.url("/api/ui/login")
    );
    b.goto(&framing).await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    b.client.enter_frame(0).await.unwrap();
    assert!(
        !b.exists("#username").await,
        "the console must not render in a frame"
    );
    b.client.enter_parent_frame().await.unwrap();
}

async fn password_step_after_the_sudo_timeout(b: &Browser, server: &Server) {
    b.client.delete_all_cookies().await.unwrap();
    sign_in(b, server, PW).await;
    assert_eq!(b.path().await, "/api/ui/profile");
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    b.goto(&server.url("/api/ui/developer")).await;
    b.fill("#token_name", "late").await;
    b.submit("form[action$='/ui/tokens'] button[type=submit]")
        .await;
    assert!(b.text("h1").await.contains("Confirm your password"));
    assert!(!b.exists("[data-secret]").await);
    b.fill("#sudo_password", "wrong").await;
    b.submit("form.stack button").await;
    assert!(b.text("p.error").await.contains("not your password"));
    b.fill("#sudo_password", PW).await;
    b.submit("form.stack button").await;
    let token = b.text("#new-token[data-secret]").await;
    assert!(token.starts_with("tsp_"));
    assert_eq!(session_with(server, &token).await.0, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_works_without_javascript() {
    let Some(b) = browser::start_without_javascript().await else {
        return;
    };
    let (_env, server) = start("");
    sign_in(&b, &server, PW).await;
    assert_eq!(b.path().await, "/api/ui/profile");
    b.goto(&server.url("/api/ui/developer")).await;
    b.fill("#token_name", "no script").await;
    b.submit("form[action$='/ui/tokens'] button[type=submit]")
        .await;
    let token = b.text("#new-token[data-secret]").await;
    assert_eq!(session_with(&server, &token).await.0, 200);
    // Without the script, revoking asks on a page of its own.
    b.goto(&server.url("/api/ui/developer")).await;
    b.submit("#tokens form[action$='/revoke'] button").await;
    assert!(b.text("main").await.contains("stops working at once"));
    assert_eq!(
        session_with(&server, &token).await.0,
        200,
        "not yet revoked"
    );
    b.submit("main form button.danger").await;
    assert!(b.path().await.ends_with("/ui/developer?revoked=1"));
    assert_eq!(session_with(&server, &token).await.0, 401);
    // The script really is off: times stay as the server wrote them.
    b.goto(&server.url("/api/ui/sessions")).await;
    assert!(b.text("time[data-relative]").await.starts_with("20"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_turned_off_answers_404() {
    let (_env, server) = start("[ui]\nenabled = false\n");
    let mut c = Client::new(&server.base);
    for path in [
        "/api/ui/",
        "/api/ui/login",
        "/api/ui/developer",
        "/api/ui/admin/users",
    ] {
        assert_eq!(c.get(path).await.status, 404, "{path}");
    }
    // Set-password links still lead somewhere, styled.
    assert_eq!(c.get("/api/ui/static/console.css").await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_cannot_use_the_console() {
    let (env, server) = start("");
    let pat = env.create_token("joe", "ci", &[]).success_trimmed();
    let mut c = Client::new(&server.base);
    let session = c.login_token("joe", PW).await;
    for token in [pat, session] {
        let r = c
            .send_once(c.bearer(Method::GET, "/api/ui/developer", &token))
            .await;
        assert_eq!(
            r.status, 303,
            "a header credential is not a console session"
        );
        assert!(
            r.header("location")
                .unwrap()
                .starts_with("/api/ui/login?next=")
        );
    }
}
