//! Route parameters as the endpoints read them (problem+json on a bad one), and where a
//! router is mounted.

use crate::Problem;

/// The `{id}` of a route, with a problem+json 400 when it is not valid UTF-8.
pub struct Id(pub String);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Id {
    type Rejection = Problem;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Problem> {
        axum::extract::Path::<String>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(id)| Self(id))
            .map_err(|_| Problem::invalid_request("the id in the path is not valid"))
    }
}

/// The two parameters of a route (`{login}` and `{role}`), with a problem+json 400 when
/// they are not valid UTF-8.
pub struct Pair(pub String, pub String);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Pair {
    type Rejection = Problem;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Problem> {
        axum::extract::Path::<(String, String)>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path((a, b))| Self(a, b))
            .map_err(|_| Problem::invalid_request("the path is not valid"))
    }
}

/// Where the auth router is nested (`/api`), or `""` at the root: the prefix of the links
/// its pages write.
pub(crate) fn mount_path(parts: &axum::http::request::Parts) -> &str {
    parts
        .extensions
        .get::<axum::extract::NestedPath>()
        .map_or("", |n| n.as_str())
}

/// Where the auth router is mounted ([`mount_path`]), as an extractor.
pub struct Mount(pub String);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Mount {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(Self(mount_path(parts).to_owned()))
    }
}
