//! Schemas written as JSON, for the few request types with their own `Deserialize`
//! (which accept more than one shape) and so no derived schema.

use serde_json::Value;

/// The schema `v` describes (an empty object schema if it describes none).
pub(crate) fn schema_from(v: Value) -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    serde_json::from_value(v).unwrap_or_else(|_| {
        utoipa::openapi::RefOr::T(utoipa::openapi::schema::Schema::Object(Default::default()))
    })
}
