//! A JSON request body with problem+json errors: 415 unless `application/json` in UTF-8,
//! 400 naming what is wrong (a repeated member included), 413 past the body limit, 408
//! when it arrives too slowly.

use axum::extract::{FromRequest, Request};
use serde::de::DeserializeOwned;

use crate::Problem;

pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = Problem;

    async fn from_request(req: Request, _: &S) -> Result<Self, Problem> {
        if crate::body::media_type(req.headers())? != "application/json" {
            return Err(Problem::unsupported_media_type("send application/json"));
        }
        let bytes = crate::body::read(req.into_body()).await?;
        // Read as an object with unique members first, so that a repeated member is an
        // error whatever `T` is, and no error names a Rust type.
        let map = crate::body::json_object(&bytes)?;
        serde_json::from_value(serde_json::Value::Object(map))
            .map(Self)
            .map_err(|e| {
                Problem::validation_failed(format!(
                    "invalid JSON body: {}",
                    e.to_string().replace('\n', " ")
                ))
            })
    }
}
