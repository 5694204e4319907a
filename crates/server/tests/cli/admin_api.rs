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
