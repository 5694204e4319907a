//! One user's page: profile, status (disable, enable, unlock), set-password links,
//! deletion, roles, and their sessions, personal access tokens and API keys.

use askama::Template;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;
use tessera_core::credential::InvitationPurpose;
use tessera_core::permission::{ROLES_WRITE, SESSIONS_WRITE, USERS_READ, USERS_WRITE};
use tessera_core::store::Owned;
use tessera_core::{Error as CoreError, Profile, Timestamp, User};

use super::{Ask, Tabs, capitalised, chrome, error, gate, link_page, need, refused, user_url};
use crate::body::{field, query_pairs};
use crate::params::{Id, Pair};
use crate::ui::{Chrome, Console, Posted, page, redirect, sudo, time};
use crate::{AppState, Problem};

/// The profile form's values as shown.
struct ProfileForm {
    first_name: String,
    last_name: String,
    email: String,
    lang: String,
}

impl ProfileForm {
    fn of(user: &User) -> Self {
        Self {
            first_name: user.first_name.clone(),
            last_name: user.last_name.clone(),
            email: user.email.clone().unwrap_or_default(),
            lang: user.lang.clone(),
        }
    }
}

/// The outstanding set-password link, as the page describes it (never its token).
struct LinkInfo {
    invitation: bool,
    created_by: String,
    expires: String,
    expired: bool,
}

struct SessionRow {
    id: String,
    kind: &'static str,
    client: String,
    ip: String,
    created: String,
    last_seen: String,
    expires: String,
}

struct TokenRow {
    id: String,
    label: String,
    name: String,
    scopes: String,
    created: String,
    expires: String,
    last_used: Option<String>,
    active: bool,
}

struct KeyRow {
    id: String,
    name: String,
    scopes: String,
    created: String,
    last_used: Option<String>,
    disabled: bool,
}

#[derive(Template)]
#[template(path = "ui/admin_user.html")]
struct UserPage {
    c: Chrome,
    tabs: Tabs,
    login: String,
    /// `{base}/ui/admin/users/{login}`: the page, and the prefix of its actions.
    href: String,
    form: ProfileForm,
    errors: Vec<(&'static str, String)>,
    disabled: bool,
    link: Option<LinkInfo>,
    locked_until: Option<String>,
    last_login: Option<String>,
    /// How the account signs in: its identity providers, or a password.
    sign_in: String,
    created: String,
    roles: Vec<String>,
    grantable: Vec<String>,
    permissions: Vec<String>,
    sessions: Vec<SessionRow>,
    tokens: Vec<TokenRow>,
    keys: Vec<KeyRow>,
    can_write: bool,
    can_roles: bool,
    can_sessions: bool,
}

impl UserPage {
    fn error_for(&self, name: &str) -> Option<&str> {
        self.errors
            .iter()
            .find(|(f, _)| *f == name)
            .map(|(_, m)| m.as_str())
    }
}

fn scopes_text(scopes: Option<&Vec<String>>) -> String {
    scopes.map_or_else(|| "all of theirs".to_owned(), |s| s.join(", "))
}

/// A `User-Agent` cut to a length a table cell can show.
fn client(user_agent: Option<&str>) -> String {
    match user_agent.filter(|u| !u.is_empty()) {
        Some(ua) if ua.chars().count() > 80 => ua.chars().take(79).collect::<String>() + "…",
        Some(ua) => ua.to_owned(),
        None => "unknown".into(),
    }
}

/// The user's page. `form` replaces the stored profile in the form (a refused change,
/// with `errors` next to their fields).
async fn render(
    state: &AppState,
    console: &Console,
    login: &str,
    form: Option<ProfileForm>,
    errors: Vec<(&'static str, String)>,
    notice: Option<&str>,
    status: StatusCode,
) -> Response {
    let accounts = state.auth.accounts();
    let loaded = async {
        let user = accounts.find(login).await?;
        let permissions = accounts.permissions_of(&user).await?;
        let member = state.auth.admin_members(vec![user]).await?.pop();
        let sessions = state.auth.admin_sessions(login).await?;
        let (_, tokens, keys) = state.auth.admin_credentials(login).await?;
        let roles = accounts.list_roles().await?;
        Ok::<_, CoreError>((member, permissions, sessions, tokens, keys, roles))
    };
    let (member, permissions, sessions, tokens, keys, all_roles) = match loaded.await {
        Ok((Some(m), p, s, t, k, r)) => (m, p, s, t, k, r),
        Ok((None, ..)) | Err(CoreError::UnknownUser(_)) => {
            return error(
                console,
                StatusCode::NOT_FOUND,
                "Not found",
                "There is no such user.",
                &console.url("admin/users"),
            );
        }
        Err(e) => return Problem::from(e).into_response_page(),
    };
    let now = Timestamp::now();
    let user = member.user;
    let sessions = sessions
        .into_iter()
        .map(|s| SessionRow {
            kind: s.kind.as_str(),
            client: client(s.user_agent.as_deref()),
            ip: s.ip.clone().unwrap_or_else(|| "unknown".into()),
            created: time(s.created_at),
            last_seen: time(s.last_seen_at),
            expires: time(s.idle_expires_at.unwrap_or(s.expires_at).min(s.expires_at)),
            id: s.id,
        })
        .collect();
    let tokens = tokens
        .into_iter()
        .map(|t| TokenRow {
            label: t.prefix.map_or_else(|| t.id.clone(), |p| format!("{p}…")),
            scopes: scopes_text(t.scopes.as_ref()),
            created: time(t.created_at),
            expires: time(t.expires_at),
            last_used: t.last_used_at.map(time),
            active: now < t.expires_at,
            id: t.id,
            name: t.name,
        })
        .collect();
    let keys = keys
        .into_iter()
        .map(|k| KeyRow {
            scopes: scopes_text(k.scopes.as_ref()),
            created: time(k.created_at),
            last_used: k.last_used_at.map(time),
            disabled: k.disabled_at.is_some(),
            id: k.id,
            name: k.name,
        })
        .collect();
    let grantable = all_roles
        .into_iter()
        .map(|r| r.name)
        .filter(|r| !user.roles.contains(r))
        .collect();
    let links = state
        .auth
        .accounts()
        .identity_links(&user)
        .await
        .unwrap_or_default();
    let sign_in = if links.is_empty() {
        "Password".to_owned()
    } else {
        links
            .iter()
            .map(|l| {
                let name = state
                    .oidc
                    .get(&l.provider)
                    .map_or(l.provider.as_str(), |p| p.name.as_str());
                format!("{name} (identity provider)")
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut c = chrome(console, &user.login);
    c.notices.extend(notice.map(str::to_owned));
    let tpl = UserPage {
        sign_in,
        c,
        tabs: Tabs::new(console, "users"),
        href: user_url(console, &user.login),
        form: form.unwrap_or_else(|| ProfileForm::of(&user)),
        errors,
        disabled: user.disabled,
        link: member.link.map(|l| LinkInfo {
            invitation: l.purpose == InvitationPurpose::Invite,
            created_by: l.created_by,
            expires: time(l.expires_at),
            expired: l.expires_at <= now,
        }),
        locked_until: member.locked_until.map(time),
        last_login: member.last_login_at.map(time),
        created: time(user.created_at),
        permissions: permissions.iter().map(|p| p.as_str().to_owned()).collect(),
        grantable,
        sessions,
        tokens,
        keys,
        can_write: console.identity.allows(USERS_WRITE),
        can_roles: console.identity.allows(ROLES_WRITE),
        can_sessions: console.identity.allows(SESSIONS_WRITE),
        login: user.login,
        roles: user.roles,
    };
    page(status, &tpl, &console.chrome.csrf)
}

/// What `?done=` says after a change.
const DONE: [(&str, &str); 15] = [
    ("saved", "Profile saved."),
    (
        "disabled",
        "Account disabled: it cannot sign in, and its sessions ended.",
    ),
    ("enabled", "Account enabled."),
    (
        "unlocked",
        "Account unlocked: failed sign-ins are forgotten.",
    ),
    ("granted", "Role granted."),
    ("had", "The user already had that role."),
    ("revoked", "Role revoked."),
    ("not_held", "The user did not have that role."),
    ("ended", "Session ended."),
    ("ended_all", "Every session of the user ended."),
    ("token_revoked", "Token revoked."),
    (
        "tokens_revoked",
        "Every personal access token of the user revoked.",
    ),
    ("key_deleted", "API key deleted."),
    ("keys_deleted", "Every API key of the user deleted."),
    ("none", "There was nothing to end or revoke."),
];

/// `GET {base}/ui/admin/users/{login}` (`tessera:users:read`).
pub(super) async fn show(
    State(state): State<AppState>,
    Id(login): Id,
    console: Console,
    req: Request,
) -> Response {
    if let Some(refused) = need(&console, USERS_READ) {
        return refused;
    }
    let query = query_pairs(req.uri().query()).unwrap_or_default();
    let notice = field(&query, "done")
        .and_then(|d| DONE.iter().find(|(k, _)| *k == d))
        .map(|(_, n)| *n);
    render(
        &state,
        &console,
        &login,
        None,
        Vec::new(),
        notice,
        StatusCode::OK,
    )
    .await
}

/// After a change: back to the user's page with a notice (`done`), 404 for `None` (an id
/// that is not the user's), or the refusal.
fn finish(
    posted: &Posted,
    login: &str,
    res: Result<Option<&'static str>, CoreError>,
    mark: Option<HeaderValue>,
) -> Response {
    let console = &posted.console;
    let back = user_url(console, login);
    let res = match res {
        Ok(Some(done)) => redirect(&format!("{back}?done={done}")),
        Ok(None) => error(
            console,
            StatusCode::NOT_FOUND,
            "Not found",
            "It is not one of this user's, or no longer.",
            &back,
        ),
        Err(e) => refused(console, e, &back),
    };
    sudo::with_mark(res, mark)
}

/// Runs [`gate`] for a change to the user `login`; `Err` is the page to answer with.
async fn let_through(
    state: &AppState,
    posted: &Posted,
    login: &str,
    permission: &str,
    ask: Option<Ask<'_>>,
    what: &str,
) -> Result<Option<HeaderValue>, Response> {
    let back = user_url(&posted.console, login);
    gate(state, posted, permission, ask, what, &back).await
}

/// `POST {base}/ui/admin/users/{login}` (`tessera:users:write`): saves names, e-mail and
/// language; an invalid field is shown next to its input with the other values kept.
pub(super) async fn save_profile(
    State(state): State<AppState>,
    Id(login): Id,
    posted: Posted,
) -> Response {
    let mark = match let_through(&state, &posted, &login, USERS_WRITE, None, "change a user").await
    {
        Ok(m) => m,
        Err(page) => return page,
    };
    let email = posted.get("email");
    let profile = Profile {
        first_name: posted.get("first_name").to_owned(),
        last_name: posted.get("last_name").to_owned(),
        lang: posted.get("lang").to_owned(),
        email: (!email.is_empty()).then(|| email.to_owned()),
    };
    let console = &posted.console;
    let res = match state
        .auth
        .admin_update_user(&console.identity, &login, profile)
        .await
    {
        Ok(_) => redirect(&format!("{}?done=saved", user_url(console, &login))),
        Err(CoreError::Invalid { field, reason }) => {
            let form = ProfileForm {
                first_name: posted.get("first_name").to_owned(),
                last_name: posted.get("last_name").to_owned(),
                email: email.to_owned(),
                lang: posted.get("lang").to_owned(),
            };
            let errors = vec![(field, capitalised(reason) + ".")];
            render(
                &state,
                console,
                &login,
                Some(form),
                errors,
                None,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(e) => refused(console, e, &user_url(console, &login)),
    };
    sudo::with_mark(res, mark)
}

/// `POST {base}/ui/admin/users/{login}/disable` (`tessera:users:write`).
pub(super) async fn disable(
    State(state): State<AppState>,
    Id(login): Id,
    posted: Posted,
) -> Response {
    let question = format!("{login} cannot sign in any more, and their sessions end at once.");
    let ask = Ask {
        title: "Disable user",
        question: &question,
        button: "Disable",
    };
    let mark = match let_through(
        &state,
        &posted,
        &login,
        USERS_WRITE,
        Some(ask),
        "disable a user",
    )
    .await
    {
        Ok(m) => m,
        Err(page) => return page,
    };
    let res = state
        .auth
        .admin_set_disabled(&posted.console.identity, &login, true)
        .await
        .map(|_| Some("disabled"));
    finish(&posted, &login, res, mark)
}

/// `POST {base}/ui/admin/users/{login}/enable` (`tessera:users:write`).
pub(super) async fn enable(
    State(state): State<AppState>,
    Id(login): Id,
    posted: Posted,
) -> Response {
    let mark = match let_through(&state, &posted, &login, USERS_WRITE, None, "enable a user").await
    {
        Ok(m) => m,
        Err(page) => return page,
    };
    let res = state
        .auth
        .admin_set_disabled(&posted.console.identity, &login, false)
        .await
        .map(|_| Some("enabled"));
    finish(&posted, &login, res, mark)
}

/// `POST {base}/ui/admin/users/{login}/unlock` (`tessera:users:write`).
pub(super) async fn unlock(
    State(state): State<AppState>,
    Id(login): Id,
    posted: Posted,
) -> Response {
    let mark = match let_through(&state, &posted, &login, USERS_WRITE, None, "unlock a user").await
    {
        Ok(m) => m,
        Err(page) => return page,
    };
    let res = state
        .auth
        .admin_unlock(&posted.console.identity, &login)
        .await
        .map(|_| Some("unlocked"));
    finish(&posted, &login, res, mark)
}

/// `POST {base}/ui/admin/users/{login}/set-password-link` (`tessera:users:write`): a new
/// one-time link replacing any earlier one, shown once.
pub(super) async fn set_password_link(
    State(state): State<AppState>,
    Id(login): Id,
    posted: Posted,
) -> Response {
    let what = "make a set-password link";
    let mark = match let_through(&state, &posted, &login, USERS_WRITE, None, what).await {
        Ok(m) => m,
        Err(page) => return page,
    };
    let console = &posted.console;
    let res = match state
        .auth
        .admin_set_password_link(&console.identity, &login)
        .await
    {
        Ok((token, invitation)) => link_page(
            console,
            &posted.parts,
            &login,
            &token,
            &invitation,
            StatusCode::CREATED,
        ),
        Err(e) => refused(console, e, &user_url(console, &login)),
    };
    sudo::with_mark(res, mark)
}

/// `POST {base}/ui/admin/users/{login}/delete` (`tessera:users:write`): deletes the user
/// and everything it owns, then back to the list.
pub(super) async fn delete(
    State(state): State<AppState>,
    Id(login): Id,
    posted: Posted,
) -> Response {
    let question = format!(
        "{login} and everything they own (sessions, tokens, API keys) are deleted for good; \
         the audit log keeps their history."
    );
    let ask = Ask {
        title: "Delete user",
        question: &question,
        button: "Delete",
    };
    let mark = match let_through(
        &state,
        &posted,
        &login,
        USERS_WRITE,
        Some(ask),
        "delete a user",
    )
    .await
    {
        Ok(m) => m,
        Err(page) => return page,
    };
    let console = &posted.console;
    let res = match state
        .auth
        .admin_delete_user(&console.identity, &login)
        .await
    {
        Ok(()) => redirect(&console.url("admin/users?deleted=1")),
        Err(e) => refused(console, e, &user_url(console, &login)),
    };
    sudo::with_mark(res, mark)
}

/// `POST {base}/ui/admin/users/{login}/roles` (`tessera:roles:write`): grants the role
/// in the form's `role`.
pub(super) async fn grant_role(
    State(state): State<AppState>,
    Id(login): Id,
    posted: Posted,
) -> Response {
    let mark = match let_through(&state, &posted, &login, ROLES_WRITE, None, "grant a role").await {
        Ok(m) => m,
        Err(page) => return page,
    };
    let role = posted.get("role");
    if role.is_empty() {
        let console = &posted.console;
        let res = error(
            console,
            StatusCode::UNPROCESSABLE_ENTITY,
            "Not done",
            "Choose a role to grant.",
            &user_url(console, &login),
        );
        return sudo::with_mark(res, mark);
    }
    let res = state
        .auth
        .admin_grant_role(&posted.console.identity, &login, role)
        .await
        .map(|granted| Some(if granted { "granted" } else { "had" }));
    finish(&posted, &login, res, mark)
}

/// `POST {base}/ui/admin/users/{login}/roles/{role}/revoke` (`tessera:roles:write`).
pub(super) async fn revoke_role(
    State(state): State<AppState>,
    Pair(login, role): Pair,
    posted: Posted,
) -> Response {
    let mark = match let_through(&state, &posted, &login, ROLES_WRITE, None, "revoke a role").await
    {
        Ok(m) => m,
        Err(page) => return page,
    };
    let res = state
        .auth
        .admin_revoke_role(&posted.console.identity, &login, &role)
        .await
        .map(|revoked| Some(if revoked { "revoked" } else { "not_held" }));
    finish(&posted, &login, res, mark)
}

/// `POST {base}/ui/admin/users/{login}/sessions/{id}/end` (`tessera:sessions:write`).
pub(super) async fn end_session(
    State(state): State<AppState>,
    Pair(login, id): Pair,
    posted: Posted,
) -> Response {
    let what = "end a user's session";
    let mark = match let_through(&state, &posted, &login, SESSIONS_WRITE, None, what).await {
        Ok(m) => m,
        Err(page) => return page,
    };
    let res = state
        .auth
        .admin_end_sessions(&posted.console.identity, &login, Some(&id))
        .await
        .map(|n| (n > 0).then_some("ended"));
    finish(&posted, &login, res, mark)
}

/// `POST {base}/ui/admin/users/{login}/sessions/end-all` (`tessera:sessions:write`).
pub(super) async fn end_sessions(
    State(state): State<AppState>,
    Id(login): Id,
    posted: Posted,
) -> Response {
    let question = format!("Every session of {login} ends: they are signed out everywhere.");
    let ask = Ask {
        title: "End every session",
        question: &question,
        button: "End every session",
    };
    let what = "end a user's sessions";
    let mark = match let_through(&state, &posted, &login, SESSIONS_WRITE, Some(ask), what).await {
        Ok(m) => m,
        Err(page) => return page,
    };
    let res = state
        .auth
        .admin_end_sessions(&posted.console.identity, &login, None)
        .await
        .map(|n| Some(if n > 0 { "ended_all" } else { "none" }));
    finish(&posted, &login, res, mark)
}

/// Revokes one (`Some(id)`) or all of the user's tokens or keys, after the checks.
async fn revoke(
    state: &AppState,
    posted: &Posted,
    login: &str,
    what: Owned,
    id: Option<&str>,
) -> Response {
    let (noun, one, all) = match what {
        Owned::PersonalToken => ("personal access token", "token_revoked", "tokens_revoked"),
        _ => ("API key", "key_deleted", "keys_deleted"),
    };
    let question = match id {
        Some(id) => format!("The {noun} {id} of {login} stops working at once."),
        None => format!("Every {noun} of {login} stops working at once."),
    };
    let ask = Ask {
        title: if what == Owned::PersonalToken {
            "Revoke"
        } else {
            "Delete"
        },
        question: &question,
        button: if what == Owned::PersonalToken {
            "Revoke"
        } else {
            "Delete"
        },
    };
    let step = format!("revoke a user's {noun}s");
    let mark = match let_through(state, posted, login, SESSIONS_WRITE, Some(ask), &step).await {
        Ok(m) => m,
        Err(page) => return page,
    };
    let res = state
        .auth
        .admin_revoke_credentials(&posted.console.identity, login, what, id)
        .await
        .map(|n| match (id, n) {
            (Some(_), 0) => None,
            (Some(_), _) => Some(one),
            (None, 0) => Some("none"),
            (None, _) => Some(all),
        });
    finish(posted, login, res, mark)
}

/// `POST {base}/ui/admin/users/{login}/tokens/{id}/revoke` (`tessera:sessions:write`).
pub(super) async fn revoke_token(
    State(state): State<AppState>,
    Pair(login, id): Pair,
    posted: Posted,
) -> Response {
    revoke(&state, &posted, &login, Owned::PersonalToken, Some(&id)).await
}

/// `POST {base}/ui/admin/users/{login}/tokens/revoke-all` (`tessera:sessions:write`).
pub(super) async fn revoke_tokens(
    State(state): State<AppState>,
    Id(login): Id,
    posted: Posted,
) -> Response {
    revoke(&state, &posted, &login, Owned::PersonalToken, None).await
}

/// `POST {base}/ui/admin/users/{login}/apikeys/{id}/delete` (`tessera:sessions:write`).
pub(super) async fn delete_key(
    State(state): State<AppState>,
    Pair(login, id): Pair,
    posted: Posted,
) -> Response {
    revoke(&state, &posted, &login, Owned::ApiKey, Some(&id)).await
}

/// `POST {base}/ui/admin/users/{login}/apikeys/delete-all` (`tessera:sessions:write`).
pub(super) async fn delete_keys(
    State(state): State<AppState>,
    Id(login): Id,
    posted: Posted,
) -> Response {
    revoke(&state, &posted, &login, Owned::ApiKey, None).await
}
