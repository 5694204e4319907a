//! The users: a searchable list, a page at a time, and inviting a new user.

use askama::Template;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use tessera_core::credential::InvitationPurpose;
use tessera_core::permission::{ROLES_WRITE, USERS_READ, USERS_WRITE};
use tessera_core::{Login, Member, NewUser, Timestamp};

use super::{PER_PAGE, Tabs, chrome, gate, link_page, need, page_number, user_url, with_query};
use crate::body::{field, query_pairs};
use crate::ui::{Chrome, Console, Posted, page, sudo, time};
use crate::{AppState, Problem};

/// A user as the list shows them.
struct Row {
    login: String,
    href: String,
    name: String,
    email: String,
    disabled: bool,
    /// Invited, and has not chosen a password yet.
    invited: bool,
    /// The invitation expired unused.
    invitation_expired: bool,
    locked_until: Option<String>,
    roles: String,
    last_login: Option<String>,
}

impl Row {
    fn of(console: &Console, m: Member, now: Timestamp) -> Self {
        let u = m.user;
        let invitation = m
            .link
            .as_ref()
            .filter(|l| l.purpose == InvitationPurpose::Invite);
        Self {
            href: user_url(console, &u.login),
            name: format!("{} {}", u.first_name, u.last_name)
                .trim()
                .to_owned(),
            email: u.email.unwrap_or_default(),
            disabled: u.disabled,
            invited: invitation.is_some(),
            invitation_expired: invitation.is_some_and(|l| l.expires_at <= now),
            locked_until: m.locked_until.map(time),
            roles: u.roles.join(", "),
            last_login: m.last_login_at.map(time),
            login: u.login,
        }
    }
}

/// The invitation form's values (kept when it is refused) and its error.
#[derive(Default)]
struct InviteForm {
    login: String,
    first_name: String,
    last_name: String,
    email: String,
    /// Every role, and whether it is chosen.
    roles: Vec<(String, bool)>,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "ui/admin_users.html")]
struct UsersPage {
    c: Chrome,
    tabs: Tabs,
    q: String,
    rows: Vec<Row>,
    total: usize,
    first: usize,
    last: usize,
    prev: Option<String>,
    next: Option<String>,
    can_write: bool,
    can_roles: bool,
    form: InviteForm,
}

/// The list, `q` and `page` as asked for, with the invitation form.
async fn render(
    state: &AppState,
    console: &Console,
    q: &str,
    page_no: usize,
    form: InviteForm,
    notice: Option<&str>,
    status: StatusCode,
) -> Response {
    let accounts = state.auth.accounts();
    let found = async {
        let matching = accounts.search_users(q).await?;
        let total = matching.len();
        let shown = matching
            .into_iter()
            .skip((page_no - 1).saturating_mul(PER_PAGE))
            .take(PER_PAGE)
            .collect();
        let members = state.auth.admin_members(shown).await?;
        let roles = accounts.list_roles().await?;
        Ok::<_, tessera_core::Error>((total, members, roles))
    };
    let (total, members, roles) = match found.await {
        Ok(f) => f,
        Err(e) => return Problem::from(e).into_response_page(),
    };
    let now = Timestamp::now();
    let rows: Vec<Row> = members
        .into_iter()
        .map(|m| Row::of(console, m, now))
        .collect();
    let first = (page_no - 1).saturating_mul(PER_PAGE);
    let last = first + rows.len();
    let at = |n: usize| {
        with_query(
            console,
            "admin/users",
            &[("q", q.to_owned()), ("page", n.to_string())],
        )
    };
    let chosen = |name: &str| form.roles.iter().any(|(r, c)| *c && r == name);
    let form = InviteForm {
        roles: roles
            .iter()
            .map(|r| (r.name.clone(), chosen(&r.name)))
            .collect(),
        ..form
    };
    let mut c = chrome(console, "Users");
    c.notices.extend(notice.map(str::to_owned));
    let tpl = UsersPage {
        c,
        tabs: Tabs::new(console, "users"),
        q: q.to_owned(),
        prev: (page_no > 1).then(|| at(page_no - 1)),
        next: (last < total).then(|| at(page_no + 1)),
        first: first + 1,
        last,
        total,
        rows,
        can_write: console.identity.allows(USERS_WRITE),
        can_roles: console.identity.allows(ROLES_WRITE),
        form,
    };
    page(status, &tpl, &console.chrome.csrf)
}

/// `GET {base}/ui/admin/users?q=&page=` (`tessera:users:read`): the users whose login,
/// names or e-mail contain `q`, 50 a page, ordered by login.
pub(super) async fn list(
    State(state): State<AppState>,
    console: Console,
    req: Request,
) -> Response {
    if let Some(refused) = need(&console, USERS_READ) {
        return refused;
    }
    let query = query_pairs(req.uri().query()).unwrap_or_default();
    let q = field(&query, "q").unwrap_or("").trim();
    let notice = field(&query, "deleted").map(|_| "User deleted.");
    render(
        &state,
        &console,
        q,
        page_number(&query),
        InviteForm::default(),
        notice,
        StatusCode::OK,
    )
    .await
}

/// `POST {base}/ui/admin/users` (`tessera:users:write`, and `tessera:roles:write` to give
/// roles): creates the user without a password and shows its invitation link, once.
pub(super) async fn invite(State(state): State<AppState>, posted: Posted) -> Response {
    let console = &posted.console;
    let chosen: Vec<String> = posted
        .fields
        .iter()
        .filter(|(k, v)| k == "role" && !v.is_empty())
        .map(|(_, v)| v.clone())
        .collect();
    if !chosen.is_empty()
        && let Some(refused) = need(console, ROLES_WRITE)
    {
        return refused;
    }
    let back = console.url("admin/users");
    let mark = match gate(&state, &posted, USERS_WRITE, None, "invite a user", &back).await {
        Ok(m) => m,
        Err(page) => return page,
    };
    let mut form = InviteForm {
        login: posted.get("login").to_owned(),
        first_name: posted.get("first_name").to_owned(),
        last_name: posted.get("last_name").to_owned(),
        email: posted.get("email").to_owned(),
        roles: chosen.iter().map(|r| (r.clone(), true)).collect(),
        error: None,
    };
    let created = match Login::parse(&form.login) {
        Ok(login) => {
            let mut new = NewUser::new(login);
            new.first_name = form.first_name.clone();
            new.last_name = form.last_name.clone();
            new.email = (!form.email.is_empty()).then(|| form.email.clone());
            new.roles = chosen;
            state.auth.admin_create_user(&console.identity, new).await
        }
        Err(e) => Err(e),
    };
    let res = match created {
        Ok(invited) => link_page(
            console,
            &posted.parts,
            &invited.user.login,
            &invited.token,
            &invited.invitation,
            StatusCode::CREATED,
        ),
        Err(e) => match super::refusal(e) {
            Ok((status, message)) => {
                form.error = Some(message);
                render(&state, console, "", 1, form, None, status).await
            }
            Err(e) => Problem::from(e).into_response_page(),
        },
    };
    sudo::with_mark(res, mark)
}
