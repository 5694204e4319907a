//! Personal access tokens: `GET`/`POST {base}/tokens`, `DELETE {base}/tokens/{id}`,
//! `POST {base}/tokens/{id}/regenerate`.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
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

impl Lifetime {
    pub fn to_duration(&self) -> Result<Duration, Problem> {
        match self {
            Self::Seconds(s) => Ok(Duration::from_secs(*s)),
            Self::Text(t) => tessera_core::time::parse_duration(t, true)
                .map_err(|e| Problem::validation_failed(format!("expires_in: {e}"))),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    name: String,
    #[serde(default)]
    scopes: Option<Scopes>,
    #[serde(default)]
    expires_in: Option<Lifetime>,
}

fn created(pat: &PersonalToken, token: &Token) -> Response {
    let body = json!({
        "id": pat.id,
        "name": pat.name,
        "token": token.expose(),
        "scopes": pat.scopes,
        "expires_at": pat.expires_at,
        "created_at": pat.created_at,
    });
    (
        StatusCode::CREATED,
        [(header::CACHE_CONTROL, "no-store")],
        Json(body),
    )
        .into_response()
}

pub async fn list(
    State(state): State<AppState>,
    PasswordSession(auth): PasswordSession,
) -> Result<Response, Problem> {
    let pats = state.auth.list_pats(&auth.identity.user).await?;
    let body: Vec<Value> = pats
        .iter()
        .map(|p| {
            json!({
                "id": p.id,
                "name": p.name,
                "scopes": p.scopes,
                "expires_at": p.expires_at,
                "created_at": p.created_at,
                "last_used_at": p.last_used_at,
                "prefix": p.prefix,
            })
        })
        .collect();
    Ok(([(header::CACHE_CONTROL, "no-store")], Json(body)).into_response())
}

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
