//! The administration console in a real browser: an administrator invites a user, who
//! sets a password through the one-time link in a browser of their own and signs in,
//! then is disabled and thrown out; a help desk sees users but cannot change roles or read
//! the audit log; a user without administration permissions sees none of it.

use fantoccini::Locator;
use serde_json::json;

use crate::browser::{self, Browser};
use crate::client::PW;
use crate::harness::{Env, Server};

/// The password `ann` chooses on the set-password page.
const ANN_PW: &str = "a new and long enough passphrase";

/// `root` (admin), `hal` (help desk: reads and changes users) and `joe` (no
/// administration permission).
fn team() -> (Env, Server) {
    let env = Env::sqlite();
    env.add_role("helpdesk", &["tessera:users:read", "tessera:users:write"]);
    env.add_role("clerk", &["orders:read"]);
    env.add_user("root", PW, &["--role", "admin"]);
    env.add_user("hal", PW, &["--role", "helpdesk"]);
    env.add_user("joe", PW, &["--role", "clerk"]);
    let server = env.serve_in_process();
    (env, server)
}

async fn sign_in(b: &Browser, server: &Server, login: &str, password: &str) {
    b.goto(&server.url("/api/ui/login")).await;
    b.fill("#username", login).await;
    b.fill("#password", password).await;
    b.submit("form.stack button[type=submit]").await;
    assert_eq!(b.path().await, "/api/ui/profile", "{login} signed in");
}

async fn sign_out(b: &Browser) {
    b.submit("form.signout button").await;
}

/// The value of an input.
async fn value(b: &Browser, css: &str) -> String {
    b.client
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .prop("value")
        .await
        .unwrap()
        .unwrap_or_default()
}

/// `GET url` from the page (with its cookies): the status and the page's text.
async fn fetch_get(b: &Browser, url: &str) -> (u16, String) {
    let script = "const [url, done] = arguments; \
                  fetch(url).then(async r => done([r.status, await r.text()]));";
    let r = b
        .client
        .execute_async(script, vec![json!(url)])
        .await
        .unwrap();
    (
        r[0].as_u64().unwrap() as u16,
        r[1].as_str().unwrap().to_owned(),
    )
}

/// A form posted from the page (with its cookies and the CSRF field of its sign-out
/// form), as a forged or hand-made form would be: the status and the page's text.
async fn fetch_post(b: &Browser, url: &str, fields: &[(&str, &str)]) -> (u16, String) {
    let script = "const [url, fields, done] = arguments; \
                  const csrf = document.querySelector('form.signout input[type=hidden]'); \
                  const body = new URLSearchParams(fields); body.append(csrf.name, csrf.value); \
                  fetch(url, {method: 'POST', body}).then(async r => done([r.status, await r.text()]));";
    let r = b
        .client
        .execute_async(script, vec![json!(url), json!(fields)])
        .await
        .unwrap();
    (
        r[0].as_u64().unwrap() as u16,
        r[1].as_str().unwrap().to_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn administration_console_in_a_real_browser() {
    let Some(b) = browser::start().await else {
        return;
    };
    let (_env, server) = team();
    invite_sign_in_and_disable(&b, &server).await;
    sign_out(&b).await;
    help_desk_limits(&b, &server).await;
    sign_out(&b).await;
    no_administration_without_permissions(&b, &server).await;
}

async fn invite_sign_in_and_disable(b: &Browser, server: &Server) {
    sign_in(b, server, "root", PW).await;
    b.submit("#nav-admin").await;
    assert_eq!(b.path().await, "/api/ui/admin/users");
    assert!(b.text("#users caption").await.contains("of 3"));

    // A role of its own for the newcomer.
    b.goto(&server.url("/api/ui/admin/roles")).await;
    b.fill("#role_name", "viewer").await;
    b.fill("#role_permissions", "orders:read\nreports:read")
        .await;
    b.submit("form[action$='/ui/admin/roles'] button[type=submit]")
        .await;
    assert_eq!(b.path().await, "/api/ui/admin/roles?created=1");
    let row = b.text("tr[data-role='viewer']").await;
    assert!(
        row.contains("orders:read") && row.contains("reports:read"),
        "{row}"
    );
    assert!(
        !b.exists("tr[data-role='admin'] textarea").await,
        "admin is read-only"
    );

    // The invitation: its link is shown once, absolute.
    b.goto(&server.url("/api/ui/admin/users")).await;
    b.fill("#invite_login", "ann").await;
    b.fill("#invite_first_name", "Ann").await;
    b.fill("#invite_last_name", "Lee").await;
    b.fill("#invite_email", "ann@example.com").await;
    b.click("input[name=role][value=viewer]").await;
    b.submit("form[method=post][action$='/ui/admin/users'] button[type=submit]")
        .await;
    let link = value(b, "#setup-link").await;
    let prefix = server.url("/api/ui/setup/");
    assert!(link.starts_with(&prefix), "{link}");
    assert!(link.len() > prefix.len() + 20, "{link}");
    b.screenshots("admin-link").await;

    b.goto(&server.url("/api/ui/admin/users?q=ann")).await;
    let status = b.text("tr[data-user='ann'] .status").await;
    assert!(status.contains("invited"), "{status}");
    assert_eq!(b.text("tr[data-user='ann'] .roles").await, "viewer");
    assert!(!b.text("#users").await.contains("root"), "searched");

    // Ann, in a browser of her own, chooses her password and signs in.
    let ann = b.fresh_session().await;
    ann.goto(&link).await;
    assert_eq!(ann.text("#setup-login").await, "ann");
    ann.fill("#password", ANN_PW).await;
    ann.fill("#password2", ANN_PW).await;
    ann.submit("form.stack button[type=submit]").await;
    assert_eq!(ann.path().await, "/api/ui/login?password_set=1");
    sign_in(&ann, server, "ann", ANN_PW).await;
    assert_eq!(ann.text("#login").await, "ann");
    assert_eq!(value(&ann, "#first_name").await, "Ann");
    assert!(!ann.exists("#nav-admin").await, "no administration for ann");

    // The administrator sees her enabled, with her session, and disables her.
    b.goto(&server.url("/api/ui/admin/users")).await;
    let status = b.text("tr[data-user='ann'] .status").await;
    assert!(status.contains("enabled"), "{status}");
    assert!(b.text("tr[data-user='ann']").await.contains("viewer"));
    b.screenshots("admin-users").await;
    b.submit("tr[data-user='ann'] a").await;
    assert_eq!(b.path().await, "/api/ui/admin/users/ann");
    assert!(
        b.exists("#sessions tbody tr").await,
        "her session is listed"
    );
    assert!(b.exists("li[data-role='viewer']").await);
    b.screenshots("admin-user").await;
    b.submit_confirmed("#disable").await;
    assert_eq!(b.path().await, "/api/ui/admin/users/ann?done=disabled");
    assert!(b.text("#user-status").await.contains("disabled"));
    assert!(!b.exists("#sessions").await, "her sessions ended");

    // Her next page load: back to the sign-in page, and signing in is refused.
    ann.goto(&server.url("/api/ui/profile")).await;
    assert!(
        ann.path().await.starts_with("/api/ui/login?next="),
        "{}",
        ann.path().await
    );
    ann.fill("#username", "ann").await;
    ann.fill("#password", ANN_PW).await;
    ann.submit("form.stack button[type=submit]").await;
    assert!(ann.text("#login-error").await.contains("disabled"));
    ann.client.clone().close().await.unwrap();

    // The audit log, filtered by login.
    b.goto(&server.url("/api/ui/admin/audit")).await;
    b.fill("#login", "ann").await;
    b.submit("form[action$='/ui/admin/audit'] button").await;
    assert!(b.path().await.contains("login=ann"));
    let events = b.text("#events").await;
    assert!(events.contains("user_disabled"), "{events}");
    assert!(events.contains("by=root"), "{events}");
    assert!(!events.contains("hal"), "{events}");
    b.screenshots("admin-audit").await;
}

async fn help_desk_limits(b: &Browser, server: &Server) {
    sign_in(b, server, "hal", PW).await;
    b.submit("#nav-admin").await;
    assert!(b.text("#users").await.contains("ann"));
    assert!(b.exists("#invite_login").await, "users:write invites");
    assert!(!b.exists("input[name=role]").await, "but gives no role");
    assert!(
        !b.exists("nav.tabs a[href$='/ui/admin/audit']").await,
        "no audit tab"
    );

    // Roles: readable, not editable.
    b.goto(&server.url("/api/ui/admin/roles")).await;
    assert!(
        b.text("tr[data-role='viewer']")
            .await
            .contains("orders:read")
    );
    assert!(!b.exists("textarea").await);
    let (status, page) = fetch_post(
        b,
        &server.url("/api/ui/admin/roles/viewer"),
        &[("permissions", "orders:read orders:write")],
    )
    .await;
    assert_eq!(status, 403);
    assert!(page.contains("tessera:roles:write"), "{page}");
    let (status, _) = fetch_post(
        b,
        &server.url("/api/ui/admin/roles"),
        &[("name", "mine"), ("permissions", "orders:read")],
    )
    .await;
    assert_eq!(status, 403);

    // Granting a role: no form, and the form posted anyway is refused.
    b.goto(&server.url("/api/ui/admin/users/joe")).await;
    assert!(!b.exists("#grant-role").await);
    let (status, page) = fetch_post(
        b,
        &server.url("/api/ui/admin/users/joe/roles"),
        &[("role", "viewer")],
    )
    .await;
    assert_eq!(status, 403);
    assert!(page.contains("tessera:roles:write"), "{page}");

    // An administrator outranks the help desk: refused by the core, shown as a page.
    b.goto(&server.url("/api/ui/admin/users/root")).await;
    b.submit_confirmed("#disable").await;
    assert!(b.text("h1").await.contains("Not done"));
    let message = b.text("p.error").await;
    assert!(
        message.contains("tessera:") && message.contains("do not hold"),
        "{message}"
    );

    // The audit log needs tessera:audit:read.
    let (status, page) = fetch_get(b, &server.url("/api/ui/admin/audit?login=ann")).await;
    assert_eq!(status, 403);
    assert!(page.contains("tessera:audit:read"), "{page}");
    assert!(!page.contains("user_disabled"));
}

async fn no_administration_without_permissions(b: &Browser, server: &Server) {
    sign_in(b, server, "joe", PW).await;
    assert!(!b.exists("#nav-admin").await);
    for path in [
        "/api/ui/admin",
        "/api/ui/admin/users",
        "/api/ui/admin/users/joe",
        "/api/ui/admin/roles",
        "/api/ui/admin/audit",
    ] {
        let (status, page) = fetch_get(b, &server.url(path)).await;
        assert_eq!(status, 403, "{path}");
        assert!(page.contains("tessera:"), "{path}: {page}");
    }
    let (status, _) = fetch_post(
        b,
        &server.url("/api/ui/admin/users/joe/disable"),
        &[("confirm", "yes")],
    )
    .await;
    assert_eq!(status, 403);
    b.goto(&server.url("/api/ui/admin/users")).await;
    assert!(b.text("h1").await.contains("Not allowed"));
    assert!(b.text("p.error").await.contains("tessera:users:read"));
    assert!(!b.exists("#users").await);
}

/// Without the script: confirmations on pages of their own, refusals shown next to the
/// form or as pages, never failures.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn administration_works_without_javascript() {
    let Some(b) = browser::start_without_javascript().await else {
        return;
    };
    let (_env, server) = team();
    sign_in(&b, &server, "root", PW).await;

    // Refused values come back next to their form, the other values kept.
    b.goto(&server.url("/api/ui/admin/users")).await;
    b.fill("#invite_login", "hal").await;
    b.fill("#invite_first_name", "Other").await;
    b.submit("form[method=post][action$='/ui/admin/users'] button[type=submit]")
        .await;
    assert!(b.text("#invite-error").await.contains("already exists"));
    assert_eq!(value(&b, "#invite_first_name").await, "Other");
    b.goto(&server.url("/api/ui/admin/users/joe")).await;
    b.fill("#email", "joe@localhost").await;
    b.submit("form[action$='/ui/admin/users/joe'] button[type=submit]")
        .await;
    assert!(b.text("#email-error").await.contains("address"));
    b.goto(&server.url("/api/ui/admin/roles")).await;
    b.fill("#role_name", "reports").await;
    b.fill("#role_permissions", "reports:read reports!").await;
    b.submit("form[action$='/ui/admin/roles'] button[type=submit]")
        .await;
    assert!(
        b.text("#role-error")
            .await
            .contains("reports! is not valid")
    );
    assert_eq!(value(&b, "#role_name").await, "reports");

    // Disabling asks first, on a page of its own.
    b.goto(&server.url("/api/ui/admin/users/joe")).await;
    b.submit("#disable").await;
    assert!(b.text("main").await.contains("cannot sign in any more"));
    assert!(!b.exists("#user-status").await, "not done yet");
    b.submit("main form button.danger").await;
    assert_eq!(b.path().await, "/api/ui/admin/users/joe?done=disabled");
    b.submit("#enable").await;
    assert_eq!(b.path().await, "/api/ui/admin/users/joe?done=enabled");

    // The last administrator stays: a page saying so, not a failure.
    b.goto(&server.url("/api/ui/admin/users/root")).await;
    b.submit("#disable").await;
    b.submit("main form button.danger").await;
    assert!(
        b.text("p.error")
            .await
            .contains("last enabled administrator")
    );

    // A new set-password link for joe; the held role cannot be deleted, nor admin changed.
    b.goto(&server.url("/api/ui/admin/users/joe")).await;
    b.submit("#new-link").await;
    assert!(b.text("h2").await.contains("password reset link"));
    assert!(value(&b, "#setup-link").await.contains("/api/ui/setup/"));
    b.goto(&server.url("/api/ui/admin/roles")).await;
    assert!(
        !b.exists("tr[data-role='clerk'] form[action$='/delete']")
            .await
    );
    let (status, page) = fetch_post(
        &b,
        &server.url("/api/ui/admin/roles/clerk/delete"),
        &[("confirm", "yes")],
    )
    .await;
    assert_eq!(status, 409);
    assert!(page.contains("still granted"), "{page}");
}
