//! A JSON request body with problem+json errors: 415 unless `application/json`, 400
//! naming what is wrong, 413 past the body limit.

use axum::extract::{FromRequest, Request};
use serde::de::DeserializeOwned;

use super::BODY_LIMIT;
use crate::Problem;

pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = Problem;

    async fn from_request(req: Request, _: &S) -> Result<Self, Problem> {
        let json = req
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"));
        if !json {
            return Err(Problem::unsupported_media_type("send application/json"));
        }
        let bytes = axum::body::to_bytes(req.into_body(), BODY_LIMIT)
            .await
            .map_err(|_| Problem::payload_too_large())?;
        serde_json::from_slice(&bytes).map(Self).map_err(|e| {
            Problem::validation_failed(format!(
                "invalid JSON body: {}",
                e.to_string().replace('\n', " ")
            ))
        })
    }
}
