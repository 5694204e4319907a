//! Personal access tokens: `GET`/`POST {base}/tokens`, `DELETE {base}/tokens/{id}`,
//! `POST {base}/tokens/{id}/regenerate`.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use tessera_core::Timestamp;
use tessera_core::credential::PersonalToken;
use tessera_core::token::Token;

use super::json_body::JsonBody;
use crate::auth::PasswordSession;
use crate::{AppState, Problem};

/// Scopes as a JSON array or a space-separated string.
pub enum Scopes {
    List(Vec<String>),
    Spaced(String),
}

impl<'de> Deserialize<'de> for Scopes {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Value::deserialize(d)? {
            Value::String(s) => Ok(Self::Spaced(s)),
            Value::Array(items) => items
                .into_iter()
                .map(|v| match v {
                    Value::String(s) => Ok(s),
                    _ => Err(serde::de::Error::custom(
                        "scopes: every scope must be a string",
                    )),
                })
                .collect::<Result<_, _>>()
                .map(Self::List),
            _ => Err(serde::de::Error::custom(
                "scopes: a list of strings, or one space-separated string",
            )),
        }
    }
}

impl utoipa::PartialSchema for Scopes {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        super::schema::schema_from(json!({
            "description": "Permissions the credential is limited to (each one the caller \
                holds): a list, or one space-separated string. Omitted or null: all of \
                the caller's permissions, as they change.",
            "oneOf": [
                { "type": "array", "items": { "type": "string", "minLength": 1 } },
                { "type": "string" },
                { "type": "null" }
            ],
            "examples": [["orders:read"]]
        }))
    }
}

impl utoipa::ToSchema for Scopes {}

impl Scopes {
    pub fn into_vec(self) -> Vec<String> {
        match self {
            Self::List(v) => v,
            Self::Spaced(s) => s.split_whitespace().map(str::to_owned).collect(),
        }
    }
}

/// A lifetime as seconds or a duration string (`30d`).
pub enum Lifetime {
    Seconds(u64),
    Text(String),
}

impl<'de> Deserialize<'de> for Lifetime {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let bad = || serde::de::Error::custom("expires_in: seconds, or a duration such as `30d`");
        match Value::deserialize(d)? {
            Value::Number(n) => n.as_u64().map(Self::Seconds).ok_or_else(bad),
            Value::String(s) => Ok(Self::Text(s)),
            _ => Err(bad()),
        }
    }
}

impl utoipa::PartialSchema for Lifetime {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        super::schema::schema_from(json!({
            "description": "How long the token lives: seconds, or a duration such as \
                `30d` or `12h`. Omitted or null: `tokens.pat_default_lifetime`.",
            "oneOf": [
                { "type": "integer", "minimum": 0 },
                { "type": "string", "examples": ["30d"] },
                { "type": "null" }
            ]
        }))
    }
}

impl utoipa::ToSchema for Lifetime {}

impl Lifetime {
    pub fn to_duration(&self) -> Result<Duration, Problem> {
        match self {
            Self::Seconds(s) => Ok(Duration::from_secs(*s)),
            Self::Text(t) => tessera_core::time::parse_duration(t, true)
                .map_err(|e| Problem::validation_failed(format!("expires_in: {e}"))),
        }
    }
}

/// A new personal access token.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    /// What the token is for, shown in lists.
    #[schema(examples("deploy script"))]
    name: String,
    #[serde(default)]
    #[schema(required = false)]
    scopes: Option<Scopes>,
    #[serde(default)]
    #[schema(required = false)]
    expires_in: Option<Lifetime>,
}

/// A personal access token as listed: never its value.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct TokenListed {
    /// The token's id (`pat_...`), for revoking it.
    id: String,
    name: String,
    /// The permissions it is limited to; null: all of the owner's.
    scopes: Option<Vec<String>>,
    expires_at: Timestamp,
    created_at: Timestamp,
    last_used_at: Option<Timestamp>,
    /// The first characters of the token, to recognise it.
    prefix: Option<String>,
}

/// A token just created or regenerated: its value is in this answer and nowhere else.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct TokenCreated {
    id: String,
    name: String,
    /// The token (`tsp_...`), shown once.
    token: String,
    scopes: Option<Vec<String>>,
    expires_at: Timestamp,
    created_at: Timestamp,
}

fn created(pat: &PersonalToken, token: &Token) -> Response {
    let body = TokenCreated {
        id: pat.id.clone(),
        name: pat.name.clone(),
        token: token.expose().to_owned(),
        scopes: pat.scopes.clone(),
        expires_at: pat.expires_at,
        created_at: pat.created_at,
    };
    (
        StatusCode::CREATED,
        [(header::CACHE_CONTROL, "no-store")],
        Json(body),
    )
        .into_response()
}

/// The caller's personal access tokens.
#[utoipa::path(
    get,
    path = "/tokens",
    tag = "credentials",
    summary = "List your personal access tokens",
    security(("password_session" = [])),
    responses((status = 200, description = "The tokens, never their values", body = Vec<TokenListed>)),
)]
pub async fn list(
    State(state): State<AppState>,
    PasswordSession(auth): PasswordSession,
) -> Result<Response, Problem> {
    let pats = state.auth.list_pats(&auth.identity.user).await?;
    let body: Vec<TokenListed> = pats
        .into_iter()
        .map(|p| TokenListed {
            id: p.id,
            name: p.name,
            scopes: p.scopes,
            expires_at: p.expires_at,
            created_at: p.created_at,
            last_used_at: p.last_used_at,
            prefix: p.prefix,
        })
        .collect();
    Ok(([(header::CACHE_CONTROL, "no-store")], Json(body)).into_response())
}

/// Creates a personal access token limited to `scopes` (each one a permission the
/// caller holds).
#[utoipa::path(
    post,
    path = "/tokens",
    tag = "credentials",
    summary = "Create a personal access token",
    security(("password_session" = [])),
    request_body = NewToken,
    responses(
        (status = 201, description = "The token, shown once", body = TokenCreated),
        (status = 400, description = "A field is missing or refused (`validation_failed`), or a scope is not the caller's (`invalid_scope`)", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn create(
    State(state): State<AppState>,
    PasswordSession(auth): PasswordSession,
    JsonBody(req): JsonBody<NewToken>,
) -> Result<Response, Problem> {
    let lifetime = req
        .expires_in
        .as_ref()
        .map(Lifetime::to_duration)
        .transpose()?;
    let id = &auth.identity;
    let (pat, token) = state
        .auth
        .create_pat(
            &id.user,
            &id.permissions,
            &req.name,
            req.scopes.map(Scopes::into_vec),
            lifetime,
        )
        .await?;
    Ok(created(&pat, &token))
}

/// Revokes a token: it fails at once.
#[utoipa::path(
    delete,
    path = "/tokens/{id}",
    tag = "credentials",
    summary = "Revoke a personal access token",
    security(("password_session" = [])),
    params(("id" = String, Path, description = "The token's id")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 404, description = "The caller has no such token (`not_found`)", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn revoke(
    State(state): State<AppState>,
    crate::params::Id(token_id): crate::params::Id,
    PasswordSession(auth): PasswordSession,
) -> Result<Response, Problem> {
    if !state
        .auth
        .revoke_pat(&auth.identity.user, &token_id)
        .await?
    {
        return Err(Problem::not_found().with_detail("no such token"));
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Replaces a token's value, keeping its name, scopes and lifetime: the old value fails
/// at once.
#[utoipa::path(
    post,
    path = "/tokens/{id}/regenerate",
    tag = "credentials",
    summary = "Regenerate a personal access token",
    security(("password_session" = [])),
    params(("id" = String, Path, description = "The token's id")),
    responses(
        (status = 201, description = "The new value, shown once", body = TokenCreated),
        (status = 404, description = "The caller has no such token (`not_found`)", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn regenerate(
    State(state): State<AppState>,
    crate::params::Id(token_id): crate::params::Id,
    PasswordSession(auth): PasswordSession,
) -> Result<Response, Problem> {
    match state
        .auth
        .regenerate_pat(&auth.identity.user, &token_id)
        .await?
    {
        Some((pat, token)) => Ok(created(&pat, &token)),
        None => Err(Problem::not_found().with_detail("no such token")),
    }
}
