//! The administration API: what each `tessera:*` permission allows, that nobody hands out
//! a permission they lack, and that an enabled administrator always remains.

use reqwest::Method;

use crate::client::{Client, PW, Resp};
use crate::harness::{Env, Server};

/// `root` (admin), `ann` (help desk: read and change users), `gil` (grants roles, reads
/// users, holds nothing else) and `joe` (`orders:write`); two failures lock an account.
fn team() -> (Env, Server) {
    let env = Env::sqlite().config("[throttle]\naccount_max_failures = 2\n");
    env.add_role("helpdesk", &["tessera:users:read", "tessera:users:write"]);
    env.add_role("granter", &["tessera:roles:write", "tessera:users:read"]);
    env.add_role("clerk", &["orders:write"]);
    env.add_user("root", PW, &["--role", "admin"]);
    env.add_user("ann", PW, &["--role", "helpdesk"]);
    env.add_user("gil", PW, &["--role", "granter"]);
    env.add_user("joe", PW, &["--role", "clerk"]);
    let server = env.serve_in_process();
    (env, server)
}

struct Admin {
    c: Client,
    token: String,
}

impl Admin {
    async fn login(server: &Server, login: &str) -> Self {
        let mut c = Client::new(&server.base);
        let token = c.login_token(login, PW).await;
        Self { c, token }
    }

    async fn call(&mut self, method: Method, path: &str) -> Resp {
        let rb = self.c.bearer(method, path, &self.token);
        self.c.send_once(rb).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_api_lists_searches_and_shows_users() {
    let (_env, server) = team();
    let mut root = Admin::login(&server, "root").await;
    let all = root.call(Method::GET, "/api/admin/users").await.json();
    assert_eq!(all["total"], 4);
    let logins: Vec<&str> = all["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["login"].as_str().unwrap())
        .collect();
    assert_eq!(logins, ["ann", "gil", "joe", "root"]);
    let found = root.call(Method::GET, "/api/admin/users?q=AN").await.json();
    assert_eq!(found["total"], 1);
    assert_eq!(found["users"][0]["login"], "ann");
    let page = root
        .call(Method::GET, "/api/admin/users?per_page=2&page=2")
        .await
        .json();
    assert_eq!(page["users"][0]["login"], "joe");
    assert_eq!(page["users"].as_array().unwrap().len(), 2);
    root.call(Method::GET, "/api/admin/users?per_page=500")
        .await
        .assert_problem(400, "validation_failed");

    let joe = root.call(Method::GET, "/api/admin/users/JOE").await.json();
    assert_eq!(joe["roles"], serde_json::json!(["clerk"]));
    assert_eq!(joe["permissions"], serde_json::json!(["orders:write"]));
    assert_eq!(joe["locked_until"], serde_json::Value::Null);
    assert!(joe.get("password_hash").is_none());
    root.call(Method::GET, "/api/admin/users/nobody")
        .await
        .assert_problem(404, "not_found");
    let roles = root.call(Method::GET, "/api/admin/roles").await.json();
    assert!(roles.to_string().contains("tessera:roles:write"));

    // Without tessera:users:read: refused, naming it.
    let mut joe = Admin::login(&server, "joe").await;
    let r = joe.call(Method::GET, "/api/admin/users").await;
    r.assert_problem(403, "insufficient_scope");
    assert_eq!(r.json()["required"], "tessera:users:read");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn help_desk_disables_and_unlocks_but_cannot_grant_roles() {
    let (env, server) = team();
    let mut ann = Admin::login(&server, "ann").await;
    let mut joe_client = Client::new(&server.base);

    let r = ann.call(Method::POST, "/api/admin/users/joe/disable").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["disabled"], true);
    let refused = joe_client
        .send_once(joe_client.basic_login("joe", PW))
        .await;
    assert_eq!(refused.status, 401, "a disabled account cannot log in");
    assert_eq!(
        ann.call(Method::POST, "/api/admin/users/joe/enable")
            .await
            .status,
        200
    );
    joe_client.login_token("joe", PW).await;

    // Two failures lock joe; the help desk sees the lock and clears it.
    for _ in 0..3 {
        joe_client
            .send_once(joe_client.basic_login("joe", "wrong"))
            .await;
    }
    let locked = ann.call(Method::GET, "/api/admin/users/joe").await.json();
    assert!(locked["locked_until"].is_string(), "{locked}");
    assert_eq!(
        joe_client
            .send_once(joe_client.basic_login("joe", PW))
            .await
            .status,
        429
    );
    assert_eq!(
        ann.call(Method::POST, "/api/admin/users/joe/unlock")
            .await
            .status,
        204
    );
    joe_client.login_token("joe", PW).await;

    let r = ann
        .call(Method::PUT, "/api/admin/users/joe/roles/helpdesk")
        .await;
    r.assert_problem(403, "insufficient_scope");
    assert_eq!(r.json()["required"], "tessera:roles:write");

    // Nor act on an account holding administration permissions the help desk lacks.
    for action in ["disable", "unlock"] {
        let r = ann
            .call(Method::POST, &format!("/api/admin/users/root/{action}"))
            .await;
        r.assert_problem(403, "forbidden");
        assert_eq!(r.json()["required"], "tessera:roles:write");
    }

    // Every change names the administrator.
    let events = env
        .run_json(&["audit", "--user", "joe", "--json"])
        .to_string();
    for e in ["user_disabled", "user_enabled", "user_unlocked"] {
        assert!(events.contains(e), "{e}: {events}");
    }
    assert!(events.contains("by=ann"), "{events}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nobody_grants_a_permission_they_lack() {
    let (_env, server) = team();
    let mut gil = Admin::login(&server, "gil").await;
    // gil may grant roles, but holds neither orders:write nor tessera:users:write.
    let r = gil
        .call(Method::PUT, "/api/admin/users/ann/roles/clerk")
        .await;
    r.assert_problem(403, "forbidden");
    assert_eq!(r.json()["required"], "orders:write");
    let r = gil
        .call(Method::PUT, "/api/admin/users/joe/roles/helpdesk")
        .await;
    r.assert_problem(403, "forbidden");
    assert_eq!(r.json()["required"], "tessera:users:write");
    let r = gil
        .call(Method::PUT, "/api/admin/users/joe/roles/admin")
        .await;
    assert_eq!(r.json()["required"], "*", "{}", r.body);
    // What gil holds, gil can hand out.
    assert_eq!(
        gil.call(Method::PUT, "/api/admin/users/joe/roles/granter")
            .await
            .status,
        204
    );
    let mut root = Admin::login(&server, "root").await;
    let joe = root.call(Method::GET, "/api/admin/users/joe").await.json();
    assert_eq!(joe["roles"], serde_json::json!(["clerk", "granter"]));

    // A personal access token scoped to reading users reads, and nothing more.
    let body = serde_json::json!({"name": "report", "scopes": ["tessera:users:read"]});
    let rb = root
        .c
        .bearer(Method::POST, "/api/tokens", &root.token)
        .json(&body);
    let pat = root.c.send_once(rb).await.field("token");
    let mut script = Admin {
        c: Client::new(&server.base),
        token: pat,
    };
    assert_eq!(
        script.call(Method::GET, "/api/admin/users").await.status,
        200
    );
    let r = script
        .call(Method::POST, "/api/admin/users/joe/disable")
        .await;
    r.assert_problem(403, "insufficient_scope");
    assert_eq!(r.json()["required"], "tessera:users:write");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_last_administrator_stays() {
    let (_env, server) = team();
    let mut root = Admin::login(&server, "root").await;
    root.call(Method::POST, "/api/admin/users/root/disable")
        .await
        .assert_problem(409, "conflict");
    root.call(Method::DELETE, "/api/admin/users/root/roles/admin")
        .await
        .assert_problem(409, "conflict");
    // With a second administrator, the first may go.
    assert_eq!(
        root.call(Method::PUT, "/api/admin/users/ann/roles/admin")
            .await
            .status,
        204
    );
    assert_eq!(
        root.call(Method::DELETE, "/api/admin/users/root/roles/admin")
            .await
            .status,
        204
    );
    let mut ann = Admin::login(&server, "ann").await;
    ann.call(Method::POST, "/api/admin/users/ann/disable")
        .await
        .assert_problem(409, "conflict");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn administrators_list_and_end_other_users_sessions() {
    let (env, server) = team();
    let mut joe = Client::new(&server.base);
    let first = joe.login_token("joe", PW).await;
    let second = joe.login_token("joe", PW).await;
    let status = |token: String| {
        let base = server.base.clone();
        async move {
            let mut c = Client::new(&base);
            c.send_once(c.bearer(Method::GET, "/api/session", &token))
                .await
                .status
        }
    };

    // The help desk reads sessions but may not end them.
    let mut ann = Admin::login(&server, "ann").await;
    let listed = ann.call(Method::GET, "/api/admin/users/joe/sessions").await;
    assert_eq!(listed.status, 200, "{}", listed.body);
    let sessions = listed.json();
    assert_eq!(sessions.as_array().unwrap().len(), 2);
    assert!(!listed.body.contains(&first), "never a token");
    let r = ann
        .call(Method::DELETE, "/api/admin/users/joe/sessions")
        .await;
    r.assert_problem(403, "insufficient_scope");
    assert_eq!(r.json()["required"], "tessera:sessions:write");

    let mut root = Admin::login(&server, "root").await;
    let one = sessions[0]["id"].as_str().unwrap().to_owned();
    let path = format!("/api/admin/users/joe/sessions/{one}");
    assert_eq!(root.call(Method::DELETE, &path).await.status, 204);
    root.call(Method::DELETE, &path)
        .await
        .assert_problem(404, "not_found");
    // One of joe's two tokens ended at once; the other lives until all end.
    let alive = [status(first.clone()).await, status(second.clone()).await];
    assert_eq!(alive.iter().filter(|s| **s == 200).count(), 1, "{alive:?}");
    let r = root
        .call(Method::DELETE, "/api/admin/users/joe/sessions")
        .await;
    assert_eq!(r.json()["ended"], 1, "{}", r.body);
    assert_eq!(status(first).await, 401);
    assert_eq!(status(second).await, 401);
    let events = env
        .run_json(&["audit", "--user", "joe", "--json"])
        .to_string();
    assert!(
        events.contains("sessions_revoked") && events.contains("by=root"),
        "{events}"
    );
}

impl Admin {
    /// `method path` with a JSON body.
    async fn send_json(&mut self, method: Method, path: &str, body: serde_json::Value) -> Resp {
        let rb = self.c.bearer(method, path, &self.token).json(&body);
        self.c.send_once(rb).await
    }
}

/// Opens the set-password page at `path` as a browser would (keeping its CSRF cookie)
/// and submits `password` twice; the answer to the submission.
async fn set_password(server: &Server, path: &str, password: &str) -> Resp {
    let mut c = Client::new(&server.base);
    let form = c.get(path).await;
    assert_eq!(form.status, 200, "{}", form.body);
    let marker = "name=\"csrfmiddlewaretoken\" value=\"";
    let start = form.body.find(marker).expect("a CSRF field") + marker.len();
    let csrf = form.body[start..].split('"').next().unwrap().to_owned();
    let rb = c.req(Method::POST, path).form(&[
        ("csrfmiddlewaretoken", csrf.as_str()),
        ("password", password),
        ("password2", password),
    ]);
    c.send(rb).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_are_invited_with_a_one_time_set_password_link() {
    let (env, server) = team();
    let mut root = Admin::login(&server, "root").await;
    let r = root
        .send_json(
            Method::POST,
            "/api/admin/users",
            serde_json::json!({
                "login": "Zoe", "first_name": "Zoé", "email": "zoe@example.com",
                "roles": ["clerk"], "password": "chosen-by-admin"
            }),
        )
        .await;
    r.assert_problem(400, "validation_failed");
    assert!(r.body.contains("password"), "no password field: {}", r.body);
    let r = root
        .send_json(
            Method::POST,
            "/api/admin/users",
            serde_json::json!({
                "login": "Zoe", "first_name": "Zoé", "email": "zoe@example.com",
                "roles": ["clerk"]
            }),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let created = r.json();
    assert_eq!(created["roles"], serde_json::json!(["clerk"]));
    assert_eq!(created["set_password_link"]["purpose"], "invite");
    let link = created["set_password_link"]["path"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(link.starts_with("/api/ui/setup/tsi_"), "{link}");

    // Listed as invited; no password logs in until the link is used.
    let zoe = root.call(Method::GET, "/api/admin/users/zoe").await.json();
    assert_eq!(zoe["set_password_link"]["purpose"], "invite");
    assert_eq!(zoe["last_login_at"], serde_json::Value::Null);
    let mut c = Client::new(&server.base);
    let before = c
        .send_once(c.basic_login("Zoe", "zoe's own passphrase"))
        .await;
    assert_eq!(
        before.status, 401,
        "no password logs in before the link is used"
    );

    // The policy applies on the page; the link survives a refused password.
    let weak = set_password(&server, &link, "short").await;
    assert_eq!(weak.status, 400);
    assert!(
        weak.body.contains("at least 12 characters"),
        "{}",
        weak.body
    );
    let done = set_password(&server, &link, "zoe's own passphrase").await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert_eq!(
        done.header("location"),
        Some("/api/ui/login?password_set=1")
    );
    c.login_token("zoe", "zoe's own passphrase").await;

    // Once only.
    let mut again = Client::new(&server.base);
    let used = again.get(&link).await;
    assert_eq!(used.status, 404);
    assert!(used.body.contains("not valid"), "{}", used.body);
    let zoe = root.call(Method::GET, "/api/admin/users/zoe").await.json();
    assert_eq!(zoe["set_password_link"], serde_json::Value::Null);
    assert!(zoe["last_login_at"].is_string(), "{zoe}");

    // A reset link: the old password keeps working until it is used, then the user's
    // sessions end.
    let session = c.login_token("zoe", "zoe's own passphrase").await;
    let r = root
        .call(Method::POST, "/api/admin/users/zoe/set-password-link")
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.json()["purpose"], "reset");
    let reset = r.json()["path"].as_str().unwrap().to_owned();
    assert_eq!(
        c.send_once(c.bearer(Method::GET, "/api/session", &session))
            .await
            .status,
        200
    );
    assert_eq!(
        set_password(&server, &reset, "a brand new passphrase")
            .await
            .status,
        303
    );
    assert_eq!(
        c.send_once(c.bearer(Method::GET, "/api/session", &session))
            .await
            .status,
        401,
        "using a reset link ends the sessions"
    );
    c.login_token("zoe", "a brand new passphrase").await;

    // The help desk may not hand out roles at creation, nor reset an administrator.
    let mut ann = Admin::login(&server, "ann").await;
    let r = ann
        .send_json(
            Method::POST,
            "/api/admin/users",
            serde_json::json!({"login": "max", "roles": ["clerk"]}),
        )
        .await;
    assert_eq!(r.json()["required"], "tessera:roles:write", "{}", r.body);
    let r = ann
        .call(Method::POST, "/api/admin/users/root/set-password-link")
        .await;
    r.assert_problem(403, "forbidden");
    // Nor a link for an account holding a permission the help desk lacks: whoever
    // holds the link becomes the user.
    let r = ann
        .call(Method::POST, "/api/admin/users/joe/set-password-link")
        .await;
    r.assert_problem(403, "forbidden");
    assert_eq!(r.json()["required"], "orders:write");
    let r = ann
        .send_json(
            Method::POST,
            "/api/admin/users",
            serde_json::json!({"login": "max"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    // A role granted after the link was made does not travel with it.
    let max_link = r.json()["set_password_link"]["path"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(Client::new(&server.base).get(&max_link).await.status, 200);
    assert_eq!(
        root.call(Method::PUT, "/api/admin/users/max/roles/clerk")
            .await
            .status,
        204
    );
    let stale = Client::new(&server.base).get(&max_link).await;
    assert_eq!(
        stale.status, 404,
        "the help desk's link no longer opens max"
    );
    assert_eq!(
        stale.header("referrer-policy"),
        Some("strict-origin"),
        "the token never leaves in a Referer"
    );
    ann.send_json(
        Method::POST,
        "/api/admin/users",
        serde_json::json!({"login": "MAX"}),
    )
    .await
    .assert_problem(409, "conflict");

    // The command line prints a link that works the same way.
    let out = env
        .run(&["user", "invite", "ida", "--role", "clerk"], "")
        .success();
    let url = out.lines().last().unwrap();
    let path = &url[url.find("/api/ui/setup/").expect(&out)..];
    assert_eq!(
        set_password(&server, path, "ida's passphrase!")
            .await
            .status,
        303
    );
    c.login_token("ida", "ida's passphrase!").await;
    let events = env
        .run_json(&["audit", "--user", "zoe", "--json"])
        .to_string();
    for e in [
        "user_created",
        "set_password_link_created",
        "set_password_link_used",
    ] {
        assert!(events.contains(e), "{e}: {events}");
    }
    assert!(events.contains("by=root"), "{events}");
    assert!(!events.contains("tsi_"), "never a link in the audit log");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn administrators_change_and_delete_users() {
    let (_env, server) = team();
    let mut root = Admin::login(&server, "root").await;
    let r = root
        .send_json(
            Method::PATCH,
            "/api/admin/users/joe",
            serde_json::json!({"first_name": "Joseph", "email": null, "lang": "fr-CA"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let joe = r.json();
    assert_eq!(
        (
            joe["first_name"].as_str(),
            joe["lang"].as_str(),
            &joe["email"]
        ),
        (Some("Joseph"), Some("fr-CA"), &serde_json::Value::Null)
    );
    root.send_json(
        Method::PATCH,
        "/api/admin/users/joe",
        serde_json::json!({"email": "not an address"}),
    )
    .await
    .assert_problem(400, "validation_failed");
    root.send_json(
        Method::PATCH,
        "/api/admin/users/joe",
        serde_json::json!({"login": "renamed"}),
    )
    .await
    .assert_problem(400, "validation_failed");

    let mut joe_client = Client::new(&server.base);
    let token = joe_client.login_token("joe", PW).await;
    root.call(Method::DELETE, "/api/admin/users/root")
        .await
        .assert_problem(409, "conflict");
    let mut ann = Admin::login(&server, "ann").await;
    ann.call(Method::DELETE, "/api/admin/users/root")
        .await
        .assert_problem(403, "forbidden");
    // Deleting frees the login for someone else: it needs every permission joe holds.
    let r = ann.call(Method::DELETE, "/api/admin/users/joe").await;
    r.assert_problem(403, "forbidden");
    assert_eq!(r.json()["required"], "orders:write");
    assert_eq!(
        root.call(Method::DELETE, "/api/admin/users/joe")
            .await
            .status,
        204
    );
    assert_eq!(
        joe_client
            .send_once(joe_client.bearer(Method::GET, "/api/session", &token))
            .await
            .status,
        401,
        "a deleted user's sessions end at once"
    );
    root.call(Method::GET, "/api/admin/users/joe")
        .await
        .assert_problem(404, "not_found");
    let audit = root
        .call(Method::GET, "/api/admin/audit?login=joe&event=user_deleted")
        .await
        .json();
    assert_eq!(audit["events"][0]["detail"], "by=root");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roles_are_created_changed_and_deleted_within_what_one_holds() {
    let (_env, server) = team();
    let mut gil = Admin::login(&server, "gil").await;
    let r = gil
        .send_json(
            Method::POST,
            "/api/admin/roles",
            serde_json::json!({"name": "reports", "permissions": ["orders:read"]}),
        )
        .await;
    r.assert_problem(403, "forbidden");
    assert_eq!(r.json()["required"], "orders:read");
    let r = gil
        .send_json(
            Method::POST,
            "/api/admin/roles",
            serde_json::json!({"name": "viewer", "permissions": ["tessera:users:read"]}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);

    let mut root = Admin::login(&server, "root").await;
    root.send_json(
        Method::POST,
        "/api/admin/roles",
        serde_json::json!({"name": "Bad Name", "permissions": []}),
    )
    .await
    .assert_problem(400, "validation_failed");
    root.send_json(
        Method::POST,
        "/api/admin/roles",
        serde_json::json!({"name": "viewer", "permissions": []}),
    )
    .await
    .assert_problem(409, "conflict");
    // A change takes effect for the role's holders at once.
    let mut joe = Admin::login(&server, "joe").await;
    assert_eq!(joe.call(Method::GET, "/api/admin/users").await.status, 403);
    let r = root
        .send_json(
            Method::PUT,
            "/api/admin/roles/clerk",
            serde_json::json!({"permissions": ["orders:write", "tessera:users:read"]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(joe.call(Method::GET, "/api/admin/users").await.status, 200);
    // gil cannot change a role holding what gil lacks, nor the built-in role.
    let r = gil
        .send_json(
            Method::PUT,
            "/api/admin/roles/clerk",
            serde_json::json!({"permissions": ["tessera:users:read"]}),
        )
        .await;
    assert_eq!(r.json()["required"], "orders:write", "{}", r.body);
    root.send_json(
        Method::PUT,
        "/api/admin/roles/admin",
        serde_json::json!({"permissions": []}),
    )
    .await
    .assert_problem(409, "conflict");
    root.call(Method::DELETE, "/api/admin/roles/admin")
        .await
        .assert_problem(409, "conflict");
    // Deleted only when nobody holds it.
    let r = root.call(Method::DELETE, "/api/admin/roles/clerk").await;
    r.assert_problem(409, "conflict");
    assert!(r.body.contains("still granted"), "{}", r.body);
    assert_eq!(
        root.call(Method::DELETE, "/api/admin/roles/viewer")
            .await
            .status,
        204
    );
    root.call(Method::DELETE, "/api/admin/roles/viewer")
        .await
        .assert_problem(404, "not_found");
    let events = root
        .call(Method::GET, "/api/admin/audit?event=role_changed")
        .await
        .json();
    assert_eq!(events["events"].as_array().unwrap().len(), 1);
    assert!(
        events["events"][0]["detail"]
            .as_str()
            .unwrap()
            .starts_with("by=root role=clerk"),
        "{events}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn administrators_list_and_revoke_other_users_credentials() {
    let (_env, server) = team();
    let mut joe = Admin::login(&server, "joe").await;
    let mut pats = Vec::new();
    for name in ["ci", "laptop"] {
        let r = joe
            .send_json(
                Method::POST,
                "/api/tokens",
                serde_json::json!({"name": name}),
            )
            .await;
        pats.push(r.field("token"));
    }
    let key = joe
        .send_json(
            Method::POST,
            "/api/apikeys",
            serde_json::json!({"name": "etl"}),
        )
        .await
        .json();
    let works = |token: String| {
        let base = server.base.clone();
        async move {
            let mut c = Client::new(&base);
            c.send_once(c.bearer(Method::GET, "/api/session", &token))
                .await
                .status
        }
    };

    let mut ann = Admin::login(&server, "ann").await;
    let listed = ann.call(Method::GET, "/api/admin/users/joe/tokens").await;
    assert_eq!(
        listed.json().as_array().unwrap().len(),
        2,
        "{}",
        listed.body
    );
    assert!(!listed.body.contains(&pats[0]), "never a token");
    let keys = ann.call(Method::GET, "/api/admin/users/joe/apikeys").await;
    assert_eq!(keys.json()[0]["name"], "etl");
    assert!(!keys.body.contains(key["api_secret"].as_str().unwrap()));
    ann.call(Method::DELETE, "/api/admin/users/joe/tokens")
        .await
        .assert_problem(403, "insufficient_scope");

    let mut root = Admin::login(&server, "root").await;
    let id = listed.json()[0]["id"].as_str().unwrap().to_owned();
    let one = format!("/api/admin/users/joe/tokens/{id}");
    assert_eq!(root.call(Method::DELETE, &one).await.status, 204);
    root.call(Method::DELETE, &one)
        .await
        .assert_problem(404, "not_found");
    let alive = [works(pats[0].clone()).await, works(pats[1].clone()).await];
    assert_eq!(alive.iter().filter(|s| **s == 200).count(), 1, "{alive:?}");
    let r = root
        .call(Method::DELETE, "/api/admin/users/joe/tokens")
        .await;
    assert_eq!(r.json()["revoked"], 1);
    assert_eq!(works(pats[0].clone()).await, 401);
    assert_eq!(works(pats[1].clone()).await, 401);

    let r = root
        .call(Method::DELETE, "/api/admin/users/joe/apikeys")
        .await;
    assert_eq!(r.json()["revoked"], 1);
    let exchange = serde_json::json!({
        "apiKey": key["api_key"], "apiSecret": key["api_secret"]
    });
    let mut c = Client::new(&server.base);
    let r = c
        .send_once(c.req(Method::POST, "/api/login/key").json(&exchange))
        .await;
    assert_eq!(r.status, 401, "a deleted key no longer exchanges");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_log_is_searched_by_user_event_outcome_and_time() {
    let (_env, server) = team();
    let mut c = Client::new(&server.base);
    for _ in 0..2 {
        c.send_once(c.basic_login("joe", "wrong")).await;
    }
    c.login_token("gil", PW).await;
    let mut root = Admin::login(&server, "root").await;
    let search = |q: &str| format!("/api/admin/audit{q}");
    let failures = root
        .call(
            Method::GET,
            &search("?login=JOE&event=login&outcome=failure"),
        )
        .await
        .json();
    assert_eq!(
        failures["events"].as_array().unwrap().len(),
        2,
        "{failures}"
    );
    assert_eq!(failures["next_page"], serde_json::Value::Null);
    let page = root
        .call(Method::GET, &search("?event=login&per_page=2"))
        .await
        .json();
    assert_eq!(page["events"].as_array().unwrap().len(), 2);
    assert_eq!(page["next_page"], 2);
    let newest = &page["events"][0];
    assert_eq!(
        (newest["login"].as_str(), newest["outcome"].as_str()),
        (Some("root"), Some("success")),
        "newest first"
    );
    let future = root
        .call(Method::GET, &search("?from=2999-01-01"))
        .await
        .json();
    assert_eq!(future["events"], serde_json::json!([]));
    let past = root
        .call(Method::GET, &search("?to=2000-01-01T00:00:00Z"))
        .await
        .json();
    assert_eq!(past["events"], serde_json::json!([]));
    for bad in ["?from=yesterday", "?outcome=maybe", "?page=0"] {
        root.call(Method::GET, &search(bad))
            .await
            .assert_problem(400, "validation_failed");
    }
    // The help desk does not read the audit log.
    let mut ann = Admin::login(&server, "ann").await;
    let r = ann.call(Method::GET, &search("")).await;
    r.assert_problem(403, "insufficient_scope");
    assert_eq!(r.json()["required"], "tessera:audit:read");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_password_links_work_with_the_console_off() {
    let env = Env::sqlite().config("[ui]\nenabled = false\n");
    env.add_user("root", PW, &["--role", "admin"]);
    let server = env.serve_in_process();
    let mut root = Admin::login(&server, "root").await;
    assert_eq!(
        Client::new(&server.base)
            .get("/api/ui/profile")
            .await
            .status,
        404,
        "the console is off"
    );
    let r = root
        .send_json(
            Method::POST,
            "/api/admin/users",
            serde_json::json!({"login": "ida"}),
        )
        .await;
    let link = r.json()["set_password_link"]["path"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        set_password(&server, &link, "ida's passphrase!")
            .await
            .status,
        303
    );
    Client::new(&server.base)
        .login_token("ida", "ida's passphrase!")
        .await;
}
