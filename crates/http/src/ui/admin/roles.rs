//! Roles: each with its permissions and how many users hold it; creating one, changing
//! its permissions, deleting it when nobody holds it. The built-in `admin` role is shown
//! read-only.

use askama::Template;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use tessera_core::permission::{ADMIN_ROLE, ROLES_WRITE, USERS_READ};

use super::{Ask, Tabs, chrome, gate, need, permissions_text, refused, segment};
use crate::body::{field, query_pairs};
use crate::params::Id;
use crate::ui::{Chrome, Console, Posted, page, redirect, sudo};
use crate::{AppState, Problem};

struct RoleRow {
    name: String,
    permissions: Vec<String>,
    /// The permissions one per line, for the editor.
    text: String,
    holders: usize,
    builtin: bool,
    /// `{base}/ui/admin/roles/{role}`: where its changes are posted.
    action: String,
}

/// The create form's values (kept when it is refused) and its error.
#[derive(Default)]
struct NewRoleForm {
    name: String,
    permissions: String,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "ui/admin_roles.html")]
struct RolesPage {
    c: Chrome,
    tabs: Tabs,
    roles: Vec<RoleRow>,
    can_write: bool,
    form: NewRoleForm,
}

async fn render(
    state: &AppState,
    console: &Console,
    form: NewRoleForm,
    notice: Option<&str>,
    status: StatusCode,
) -> Response {
    let accounts = state.auth.accounts();
    let loaded = async {
        let roles = accounts.list_roles().await?;
        let users = accounts.list_users().await?;
        Ok::<_, tessera_core::Error>((roles, users))
    };
    let (roles, users) = match loaded.await {
        Ok(l) => l,
        Err(e) => return Problem::from(e).into_response_page(),
    };
    let roles = roles
        .into_iter()
        .map(|r| {
            let permissions: Vec<String> = r
                .permissions
                .iter()
                .map(|p| p.as_str().to_owned())
                .collect();
            RoleRow {
                holders: users.iter().filter(|u| u.roles.contains(&r.name)).count(),
                builtin: r.name == ADMIN_ROLE,
                action: console.url(&format!("admin/roles/{}", segment(&r.name))),
                text: permissions.join("\n"),
                permissions,
                name: r.name,
            }
        })
        .collect();
    let mut c = chrome(console, "Roles");
    c.notices.extend(notice.map(str::to_owned));
    let tpl = RolesPage {
        c,
        tabs: Tabs::new(console, "roles"),
        roles,
        can_write: console.identity.allows(ROLES_WRITE),
        form,
    };
    page(status, &tpl, &console.chrome.csrf)
}

/// `GET {base}/ui/admin/roles` (`tessera:users:read`).
pub(super) async fn list(
    State(state): State<AppState>,
    console: Console,
    req: Request,
) -> Response {
    if let Some(refused) = need(&console, USERS_READ) {
        return refused;
    }
    let query = query_pairs(req.uri().query()).unwrap_or_default();
    let notice = [
        ("created", "Role created."),
        ("changed", "Permissions saved."),
        ("deleted", "Role deleted."),
    ]
    .into_iter()
    .find(|(k, _)| field(&query, k).is_some())
    .map(|(_, n)| n);
    render(
        &state,
        &console,
        NewRoleForm::default(),
        notice,
        StatusCode::OK,
    )
    .await
}

/// `POST {base}/ui/admin/roles` (`tessera:roles:write`): a role with the permissions
/// written one per line (or separated by spaces or commas), all of which the
/// administrator must hold.
pub(super) async fn create(State(state): State<AppState>, posted: Posted) -> Response {
    let console = &posted.console;
    let back = console.url("admin/roles");
    let mark = match gate(&state, &posted, ROLES_WRITE, None, "create a role", &back).await {
        Ok(m) => m,
        Err(page) => return page,
    };
    let mut form = NewRoleForm {
        name: posted.get("name").to_owned(),
        permissions: posted.get("permissions").to_owned(),
        error: None,
    };
    let permissions = permissions_text(&form.permissions);
    let res = match state
        .auth
        .admin_create_role(&console.identity, &form.name, &permissions)
        .await
    {
        Ok(_) => redirect(&console.url("admin/roles?created=1")),
        Err(e) => match super::refusal(e) {
            Ok((status, message)) => {
                form.error = Some(message);
                render(&state, console, form, None, status).await
            }
            Err(e) => Problem::from(e).into_response_page(),
        },
    };
    sudo::with_mark(res, mark)
}

/// `POST {base}/ui/admin/roles/{role}` (`tessera:roles:write`): replaces the role's
/// permissions; the administrator must hold every one it had and gets.
pub(super) async fn change(
    State(state): State<AppState>,
    Id(name): Id,
    posted: Posted,
) -> Response {
    let console = &posted.console;
    let back = console.url("admin/roles");
    let mark = match gate(&state, &posted, ROLES_WRITE, None, "change a role", &back).await {
        Ok(m) => m,
        Err(page) => return page,
    };
    let permissions = permissions_text(posted.get("permissions"));
    let res = match state
        .auth
        .admin_set_role_permissions(&console.identity, &name, &permissions)
        .await
    {
        Ok(_) => redirect(&console.url("admin/roles?changed=1")),
        Err(e) => refused(console, e, &back),
    };
    sudo::with_mark(res, mark)
}

/// `POST {base}/ui/admin/roles/{role}/delete` (`tessera:roles:write`): only a role nobody
/// holds.
pub(super) async fn delete(
    State(state): State<AppState>,
    Id(name): Id,
    posted: Posted,
) -> Response {
    let console = &posted.console;
    let back = console.url("admin/roles");
    let question = format!("The role {name} is deleted for good.");
    let ask = Ask {
        title: "Delete role",
        question: &question,
        button: "Delete",
    };
    let mark = match gate(
        &state,
        &posted,
        ROLES_WRITE,
        Some(ask),
        "delete a role",
        &back,
    )
    .await
    {
        Ok(m) => m,
        Err(page) => return page,
    };
    let res = match state.auth.admin_delete_role(&console.identity, &name).await {
        Ok(()) => redirect(&console.url("admin/roles?deleted=1")),
        Err(e) => refused(console, e, &back),
    };
    sudo::with_mark(res, mark)
}
