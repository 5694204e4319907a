//! Developer Settings: personal access tokens, API keys and the client secret. A new
//! value is shown once, in an element with `data-secret`, with a ready `curl` command.

use askama::Template;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use tessera_core::{Error as CoreError, Timestamp};

use super::forms::{CreateForm, chosen_scopes, lifetime, read_create_form};
use super::sudo;
use super::{Chrome, Console, Posted, page, redirect, time};
use crate::body::{field, query_pairs};
use crate::params::Id;
use crate::{AppState, Problem};

/// A value shown once.
struct Shown {
    label: &'static str,
    value: String,
    id: &'static str,
}

/// What was just created, shown once at the top of the page.
struct Revealed {
    title: &'static str,
    values: Vec<Shown>,
    curl: String,
}

struct TokenRow {
    id: String,
    prefix: Option<String>,
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
    disabled: bool,
}

#[derive(Template)]
#[template(path = "ui/developer.html")]
struct DeveloperPage {
    c: Chrome,
    revealed: Option<Revealed>,
    tokens: Vec<TokenRow>,
    keys: Vec<KeyRow>,
    token_form: CreateForm,
    key_form: CreateForm,
    expiry_choices: Vec<(String, String)>,
    max_days: u64,
    max_date: String,
    client_secret: Option<String>,
    secret_expires: Option<String>,
    oauth_curl: String,
}

/// What the page needs besides the lists.
#[derive(Default)]
struct Extras {
    revealed: Option<Revealed>,
    token_form: Option<CreateForm>,
    key_form: Option<CreateForm>,
    client_secret: Option<String>,
    notice: Option<&'static str>,
}

impl Extras {
    fn revealed(r: Revealed) -> Self {
        Self {
            revealed: Some(r),
            ..Self::default()
        }
    }

    fn token_form(f: CreateForm) -> Self {
        Self {
            token_form: Some(f),
            ..Self::default()
        }
    }

    fn key_form(f: CreateForm) -> Self {
        Self {
            key_form: Some(f),
            ..Self::default()
        }
    }
}

/// The page after a form was posted, with what the action produced.
async fn show(state: &AppState, posted: &Posted, extras: Extras, status: StatusCode) -> Response {
    render(state, &posted.console, &posted.parts, extras, status).await
}

fn scopes_text(scopes: &Option<Vec<String>>) -> String {
    match scopes {
        Some(s) => s.join(", "),
        None => "all of yours".into(),
    }
}

/// `scheme://host` of this server as the browser reached it, for the `curl` commands.
fn origin(posted_or_parts: &axum::http::request::Parts) -> String {
    crate::context::contexts(posted_or_parts)
        .map(|(c, _)| c.own_origin.clone())
        .unwrap_or_default()
}

/// Single quotes for a shell.
fn sh(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

async fn render(
    state: &AppState,
    console: &Console,
    parts: &axum::http::request::Parts,
    extras: Extras,
    status: StatusCode,
) -> Response {
    let user = &console.identity.user;
    let lists = async {
        let pats = state.auth.list_pats(user).await?;
        let keys = state.auth.list_api_keys(user).await?;
        let expires = state.auth.client_secret_expiry(user).await?;
        Ok::<_, CoreError>((pats, keys, expires))
    };
    let (pats, keys, expires) = match lists.await {
        Ok(l) => l,
        Err(e) => return Problem::from(e).into_response_page(),
    };
    let now = Timestamp::now();
    let tokens = pats
        .into_iter()
        .map(|p| TokenRow {
            active: now < p.expires_at,
            scopes: scopes_text(&p.scopes),
            created: time(p.created_at),
            expires: time(p.expires_at),
            last_used: p.last_used_at.map(time),
            prefix: p.prefix,
            id: p.id,
            name: p.name,
        })
        .collect();
    let keys = keys
        .into_iter()
        .map(|k| KeyRow {
            disabled: k.disabled_at.is_some(),
            scopes: scopes_text(&k.scopes),
            created: time(k.created_at),
            id: k.id,
            name: k.name,
        })
        .collect();
    let held: Vec<String> = console
        .identity
        .permissions
        .iter()
        .map(|p| p.as_str().to_owned())
        .collect();
    let unchecked = || CreateForm {
        expires: "30".into(),
        scopes: held.iter().map(|p| (p.clone(), false)).collect(),
        ..CreateForm::default()
    };
    let max = state.auth.token_settings().pat_max_lifetime;
    let max_days = max.as_secs() / 86_400;
    let expiry_choices = [7u64, 30, 60, 90]
        .into_iter()
        .filter(|d| *d <= max_days)
        .map(|d| (d.to_string(), format!("{d} days")))
        .collect();
    let base = &console.chrome.base;
    let origin = origin(parts);
    let login = user.login.as_str();
    let mut c = console.chrome("Developer Settings", "developer");
    c.notices.extend(extras.notice.map(str::to_owned));
    let tpl = DeveloperPage {
        c,
        revealed: extras.revealed,
        tokens,
        keys,
        token_form: extras.token_form.unwrap_or_else(unchecked),
        key_form: extras.key_form.unwrap_or_else(unchecked),
        expiry_choices,
        max_days,
        max_date: now.plus(max).rfc3339().chars().take(10).collect(),
        client_secret: extras.client_secret,
        secret_expires: expires.map(time),
        oauth_curl: format!(
            "curl -u {}:\"$CLIENT_SECRET\" -d grant_type=client_credentials {origin}{base}/oauth/token",
            sh(login)
        ),
    };
    page(status, &tpl, &console.chrome.csrf)
}

/// `GET {base}/ui/developer`.
pub(crate) async fn page_get(
    State(state): State<AppState>,
    console: Console,
    req: Request,
) -> Response {
    let (parts, _) = req.into_parts();
    let query = query_pairs(parts.uri.query()).unwrap_or_default();
    let notice = [
        ("revoked", "Token revoked."),
        ("deleted", "API key deleted."),
        ("disabled", "API key disabled: its tokens no longer work."),
        ("enabled", "API key enabled."),
    ]
    .into_iter()
    .find(|(k, _)| field(&query, k).is_some())
    .map(|(_, n)| n);
    let extras = Extras {
        notice,
        ..Extras::default()
    };
    render(&state, &console, &parts, extras, StatusCode::OK).await
}

/// Asks for confirmation on a page of its own when the form was not confirmed (the
/// script confirms in place).
fn confirm(posted: &Posted, title: &str, question: &str, button: &str) -> Option<Response> {
    if posted.confirmed() {
        return None;
    }
    #[derive(Template)]
    #[template(path = "ui/confirm.html")]
    struct ConfirmPage {
        c: Chrome,
        question: String,
        action: String,
        button: String,
        back: String,
    }
    let tpl = ConfirmPage {
        c: posted.console.chrome(title, "developer"),
        question: question.into(),
        action: posted.here(),
        button: button.into(),
        back: posted.console.url("developer"),
    };
    Some(page(StatusCode::OK, &tpl, &posted.console.chrome.csrf))
}

fn pat_revealed(value: String, origin: &str, base: &str) -> Revealed {
    Revealed {
        title: "Your new personal access token",
        curl: format!("curl -H 'Authorization: Bearer {value}' {origin}{base}/session"),
        values: vec![Shown {
            label: "Token",
            value,
            id: "new-token",
        }],
    }
}

/// `POST {base}/ui/tokens`: creates a personal access token (after the password check).
pub(crate) async fn create_token(State(state): State<AppState>, posted: Posted) -> Response {
    let mark = match sudo::require(&state, &posted, "create a token").await {
        Ok(m) => m,
        Err(page) => return page,
    };
    let mut form = read_create_form(&posted);
    let max = state.auth.token_settings().pat_max_lifetime;
    let life = lifetime(&form, max, Timestamp::now());
    if let Err(e) = &life {
        form.errors.push(("expires", e.clone()));
    }
    let console = &posted.console;
    if !form.errors.is_empty() {
        let extras = Extras::token_form(form);
        let res = show(&state, &posted, extras, StatusCode::UNPROCESSABLE_ENTITY);
        return sudo::with_mark(res.await, mark);
    }
    let created = state
        .auth
        .create_pat(
            &console.identity.user,
            &console.identity.permissions,
            &form.name,
            chosen_scopes(&form),
            life.ok(),
        )
        .await;
    let res = match created {
        Ok((_, token)) => {
            let revealed = pat_revealed(
                token.expose().to_owned(),
                &origin(&posted.parts),
                &console.chrome.base,
            );
            let extras = Extras::revealed(revealed);
            show(&state, &posted, extras, StatusCode::CREATED).await
        }
        Err(CoreError::Invalid { reason, .. }) => {
            form.errors.push(("name", reason.to_owned()));
            let extras = Extras::token_form(form);
            show(&state, &posted, extras, StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(e) => Problem::from(e).into_response_page(),
    };
    sudo::with_mark(res, mark)
}

/// `POST {base}/ui/tokens/{id}/regenerate`: a new value for a token (the old one stops
/// working at once), shown once.
pub(crate) async fn regenerate_token(
    State(state): State<AppState>,
    Id(id): Id,
    posted: Posted,
) -> Response {
    if let Some(ask) = confirm(
        &posted,
        "Regenerate token",
        "The token's current value stops working at once.",
        "Regenerate",
    ) {
        return ask;
    }
    let mark = match sudo::require(&state, &posted, "regenerate a token").await {
        Ok(m) => m,
        Err(page) => return page,
    };
    let console = &posted.console;
    let res = match state.auth.regenerate_pat(&console.identity.user, &id).await {
        Ok(Some((_, token))) => {
            let revealed = pat_revealed(
                token.expose().to_owned(),
                &origin(&posted.parts),
                &console.chrome.base,
            );
            let extras = Extras::revealed(revealed);
            show(&state, &posted, extras, StatusCode::OK).await
        }
        Ok(None) => console.error(StatusCode::NOT_FOUND, "Not found", "No such token."),
        Err(e) => Problem::from(e).into_response_page(),
    };
    sudo::with_mark(res, mark)
}

/// The page for an id that is not (or no longer) one of the user's.
fn not_found(posted: &Posted) -> Response {
    posted.console.error(
        StatusCode::NOT_FOUND,
        "Not found",
        "It does not exist, or no longer.",
    )
}

/// `POST {base}/ui/tokens/{id}/revoke`.
pub(crate) async fn revoke_token(
    State(state): State<AppState>,
    Id(id): Id,
    posted: Posted,
) -> Response {
    if let Some(ask) = confirm(
        &posted,
        "Revoke token",
        "The token stops working at once.",
        "Revoke",
    ) {
        return ask;
    }
    match state
        .auth
        .revoke_pat(&posted.console.identity.user, &id)
        .await
    {
        Ok(_) => redirect(&posted.console.url("developer?revoked=1")),
        Err(e) => Problem::from(e).into_response_page(),
    }
}

/// `POST {base}/ui/apikeys`: creates an API key/secret pair (after the password check).
pub(crate) async fn create_key(State(state): State<AppState>, posted: Posted) -> Response {
    let mark = match sudo::require(&state, &posted, "create an API key").await {
        Ok(m) => m,
        Err(page) => return page,
    };
    let form = read_create_form(&posted);
    let console = &posted.console;
    if !form.errors.is_empty() {
        let extras = Extras::key_form(form);
        let res = show(&state, &posted, extras, StatusCode::UNPROCESSABLE_ENTITY);
        return sudo::with_mark(res.await, mark);
    }
    let created = state
        .auth
        .create_api_key(
            &console.identity.user,
            &console.identity.permissions,
            &form.name,
            chosen_scopes(&form),
        )
        .await;
    let res = match created {
        Ok((key, secret)) => {
            let base = &console.chrome.base;
            let revealed = Revealed {
                title: "Your new API key",
                curl: format!(
                    "curl -H 'Content-Type: application/json' -d '{{\"apiKey\": \"{}\", \"apiSecret\": \"{}\"}}' {}{base}/login/key",
                    key.id,
                    secret.expose(),
                    origin(&posted.parts)
                ),
                values: vec![
                    Shown {
                        label: "Key",
                        value: key.id,
                        id: "new-key-id",
                    },
                    Shown {
                        label: "Secret",
                        value: secret.expose().to_owned(),
                        id: "new-key-secret",
                    },
                ],
            };
            let extras = Extras::revealed(revealed);
            show(&state, &posted, extras, StatusCode::CREATED).await
        }
        Err(CoreError::Invalid { reason, .. }) => {
            let mut form = read_create_form(&posted);
            form.errors.push(("name", reason.to_owned()));
            let extras = Extras::key_form(form);
            show(&state, &posted, extras, StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(e) => Problem::from(e).into_response_page(),
    };
    sudo::with_mark(res, mark)
}

/// `POST {base}/ui/apikeys/{id}/delete`: deletes a key; its tokens stop working at once.
pub(crate) async fn delete_key(
    State(state): State<AppState>,
    Id(id): Id,
    posted: Posted,
) -> Response {
    if let Some(ask) = confirm(
        &posted,
        "Delete API key",
        "The key and every token it issued stop working at once.",
        "Delete",
    ) {
        return ask;
    }
    match state
        .auth
        .delete_api_key(&posted.console.identity.user, &id)
        .await
    {
        Ok(_) => redirect(&posted.console.url("developer?deleted=1")),
        Err(e) => Problem::from(e).into_response_page(),
    }
}

/// `POST {base}/ui/apikeys/{id}/disable`: the key's tokens end and its exchange is
/// refused until it is enabled again.
pub(crate) async fn disable_key(
    State(state): State<AppState>,
    Id(id): Id,
    posted: Posted,
) -> Response {
    if let Some(ask) = confirm(
        &posted,
        "Disable API key",
        "Its tokens stop working at once; you can enable it again.",
        "Disable",
    ) {
        return ask;
    }
    let user = &posted.console.identity.user;
    match state.auth.set_api_key_disabled(user, &id, true).await {
        Ok(true) => redirect(&posted.console.url("developer?disabled=1")),
        Ok(false) => not_found(&posted),
        Err(e) => Problem::from(e).into_response_page(),
    }
}

/// `POST {base}/ui/apikeys/{id}/enable` (after the password check: it restores access).
pub(crate) async fn enable_key(
    State(state): State<AppState>,
    Id(id): Id,
    posted: Posted,
) -> Response {
    let mark = match sudo::require(&state, &posted, "enable an API key").await {
        Ok(m) => m,
        Err(page) => return page,
    };
    let user = &posted.console.identity.user;
    let res = match state.auth.set_api_key_disabled(user, &id, false).await {
        Ok(true) => redirect(&posted.console.url("developer?enabled=1")),
        Ok(false) => not_found(&posted),
        Err(e) => Problem::from(e).into_response_page(),
    };
    sudo::with_mark(res, mark)
}

/// `POST {base}/ui/client-secret/reveal`: shows the client secret (after the password
/// check), creating one when there is none.
pub(crate) async fn reveal_secret(State(state): State<AppState>, posted: Posted) -> Response {
    let mark = match sudo::require(&state, &posted, "see the client secret").await {
        Ok(m) => m,
        Err(page) => return page,
    };
    let res = match state
        .auth
        .client_secret(&posted.console.identity.user)
        .await
    {
        Ok(secret) => {
            let extras = Extras {
                client_secret: Some(secret.secret.clone()),
                ..Extras::default()
            };
            show(&state, &posted, extras, StatusCode::OK).await
        }
        Err(e) => Problem::from(e).into_response_page(),
    };
    sudo::with_mark(res, mark)
}

/// `POST {base}/ui/client-secret/rotate`: replaces the client secret and shows the new one.
pub(crate) async fn rotate_secret(State(state): State<AppState>, posted: Posted) -> Response {
    if let Some(ask) = confirm(
        &posted,
        "Rotate client secret",
        "The current client secret stops working at once.",
        "Rotate",
    ) {
        return ask;
    }
    let mark = match sudo::require(&state, &posted, "rotate the client secret").await {
        Ok(m) => m,
        Err(page) => return page,
    };
    let res = match state
        .auth
        .rotate_client_secret(&posted.console.identity.user)
        .await
    {
        Ok(secret) => {
            let extras = Extras {
                client_secret: Some(secret.secret.clone()),
                notice: Some("Client secret rotated: the previous one no longer works."),
                ..Extras::default()
            };
            show(&state, &posted, extras, StatusCode::OK).await
        }
        Err(e) => Problem::from(e).into_response_page(),
    };
    sudo::with_mark(res, mark)
}
