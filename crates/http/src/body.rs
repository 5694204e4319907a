//! Reading requests for the auth endpoints: the media type (UTF-8 only), the bytes
//! (bounded in size and, through the edge, in time), forms (urlencoded, multipart),
//! query strings, JSON objects with unique keys, and same-origin `next` targets.

use std::fmt;

use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, Multipart, Request};
use axum::http::{HeaderMap, header};
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use crate::Problem;
use crate::timeout::is_body_timeout;

/// Largest request body the auth endpoints read.
pub const BODY_LIMIT: usize = 64 * 1024;

/// The lower-cased media type of the body (`""` when absent). A `charset` other than
/// UTF-8 is 415: the endpoints read UTF-8 only, and guessing would let two components
/// read different credentials from one body.
pub fn media_type(headers: &HeaderMap) -> Result<String, Problem> {
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return Ok(String::new());
    };
    let value = value
        .to_str()
        .map_err(|_| Problem::unsupported_media_type("the Content-Type header is not valid"))?;
    let mut parts = value.split(';');
    let media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
    for param in parts {
        let Some((name, v)) = param.split_once('=') else {
            continue;
        };
        if name.trim().eq_ignore_ascii_case("charset") {
            let charset = v.trim().trim_matches('"');
            if !charset.eq_ignore_ascii_case("utf-8") && !charset.eq_ignore_ascii_case("utf8") {
                return Err(Problem::unsupported_media_type(
                    "the body must be UTF-8 (charset=utf-8, or no charset)",
                ));
            }
        }
    }
    Ok(media)
}

/// The whole body, at most [`BODY_LIMIT`] bytes: 413 beyond, 408 when the client is too
/// slow to send it (`server.body_read_timeout`).
pub async fn read(body: Body) -> Result<Bytes, Problem> {
    axum::body::to_bytes(body, BODY_LIMIT)
        .await
        .map_err(|e| error(&e))
}

/// The problem for a body that could not be read.
pub fn error(e: &(dyn std::error::Error + 'static)) -> Problem {
    if is_body_timeout(e) {
        Problem::request_timeout()
    } else {
        Problem::payload_too_large()
    }
}

/// Form or query fields, in order (a name may repeat).
pub type Fields = Vec<(String, String)>;

/// The first value of `name`.
pub fn field<'a>(fields: &'a Fields, name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// The query string as fields; 400 when it is not valid.
pub fn query_pairs(query: Option<&str>) -> Result<Fields, Problem> {
    serde_urlencoded::from_str(query.unwrap_or(""))
        .map_err(|_| Problem::invalid_request("the query string is not valid"))
}

/// A `next` target when it is a path on this origin (one leading `/`, no scheme, no `//`,
/// no backslash, no control characters); `/` otherwise.
pub fn safe_next(next: &str) -> String {
    let ok = next.starts_with('/')
        && !next.starts_with("//")
        && !next.contains('\\')
        && !next.chars().any(|c| c.is_control() || c.is_whitespace())
        && next.len() <= 2048;
    if !ok {
        return "/".to_owned();
    }
    // A `Location` header is ASCII: percent-encode anything else.
    let mut out = String::with_capacity(next.len());
    for c in next.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("%{b:02X}"));
            }
        }
    }
    out
}

/// The fields of a form body (urlencoded or multipart); other or empty bodies have none.
pub async fn read_form_fields(headers: &HeaderMap, body: Body) -> Result<Fields, Problem> {
    let bytes = read(body).await?;
    match classify(headers, &bytes)? {
        BodyKind::Urlencoded => parse_urlencoded(&bytes),
        BodyKind::Multipart => parse_multipart(headers, bytes).await,
        BodyKind::Empty | BodyKind::Json => Ok(Vec::new()),
    }
}

/// What a request body holds, by its media type.
pub enum BodyKind {
    Empty,
    Urlencoded,
    Multipart,
    Json,
}

/// The kind of a body; 415 for a media type the endpoints do not read.
pub fn classify(headers: &HeaderMap, body: &[u8]) -> Result<BodyKind, Problem> {
    if body.is_empty() {
        return Ok(BodyKind::Empty);
    }
    match media_type(headers)?.as_str() {
        "application/x-www-form-urlencoded" => Ok(BodyKind::Urlencoded),
        "multipart/form-data" => Ok(BodyKind::Multipart),
        "application/json" => Ok(BodyKind::Json),
        _ => Err(Problem::unsupported_media_type(
            "send application/json, application/x-www-form-urlencoded or multipart/form-data",
        )),
    }
}

/// The fields of an urlencoded form.
pub fn parse_urlencoded(bytes: &[u8]) -> Result<Fields, Problem> {
    serde_urlencoded::from_bytes(bytes)
        .map_err(|_| Problem::validation_failed("the form body is not valid"))
}

/// The fields of a multipart form.
pub async fn parse_multipart(headers: &HeaderMap, bytes: Bytes) -> Result<Fields, Problem> {
    let bad = || Problem::validation_failed("the multipart body is not valid");
    let mut req = Request::new(Body::from(bytes));
    *req.headers_mut() = headers.clone();
    let mut mp = Multipart::from_request(req, &()).await.map_err(|_| bad())?;
    let mut fields = Vec::new();
    while let Some(f) = mp.next_field().await.map_err(|_| bad())? {
        let name = f.name().unwrap_or_default().to_owned();
        let value = f.text().await.map_err(|_| bad())?;
        fields.push((name, value));
    }
    Ok(fields)
}

/// A JSON object whose members (at every depth) are unique: `{"username":"ann",
/// "username":"joe"}` is refused, since parsers disagree on which one counts.
pub fn json_object(bytes: &[u8]) -> Result<Map<String, Value>, Problem> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = Strict::deserialize(&mut de)
        .and_then(|v| de.end().map(|()| v))
        .map_err(|e| {
            Problem::validation_failed(format!(
                "invalid JSON body: {}",
                e.to_string().replace('\n', " ")
            ))
        })?;
    match value.0 {
        Value::Object(map) => Ok(map),
        _ => Err(Problem::validation_failed(
            "the JSON body must be an object",
        )),
    }
}

/// A JSON value read with duplicate object keys refused.
struct Strict(Value);

impl<'de> Deserialize<'de> for Strict {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(StrictVisitor).map(Strict)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        while let Some(Strict(v)) = seq.next_element()? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if out.contains_key(&key) {
                return Err(de::Error::custom(format!("member `{key}` is repeated")));
            }
            let Strict(v) = map.next_value()?;
            out.insert(key, v);
        }
        Ok(Value::Object(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_members_are_refused_at_any_depth() {
        let e = json_object(br#"{"username":"ann","username":"joe"}"#).unwrap_err();
        assert!(
            e.detail
                .as_deref()
                .unwrap_or("")
                .contains("`username` is repeated")
        );
        assert!(json_object(br#"{"a":{"b":1,"b":2}}"#).is_err());
        assert!(json_object(br#"{"a":[{"b":1,"b":2}]}"#).is_err());
        let ok = json_object(br#"{"a":{"b":1},"b":[1,2],"c":null,"d":1.5}"#).unwrap();
        assert_eq!(ok.len(), 4);
        assert!(json_object(b"[1]").is_err());
        assert!(json_object(b"{} {}").is_err());
    }

    #[test]
    fn charsets_other_than_utf8_are_refused() {
        let with = |ct: &str| {
            let mut h = HeaderMap::new();
            h.insert(header::CONTENT_TYPE, ct.parse().unwrap());
            media_type(&h)
        };
        assert_eq!(with("application/json").unwrap(), "application/json");
        assert_eq!(
            with("Application/JSON; charset=UTF-8").unwrap(),
            "application/json"
        );
        assert!(with("application/x-www-form-urlencoded; charset=\"utf-8\"").is_ok());
        for bad in [
            "application/json; charset=utf-16",
            "application/x-www-form-urlencoded; charset=iso-8859-1",
            "application/json;charset=utf-7",
        ] {
            let p = with(bad).unwrap_err();
            assert_eq!(p.status.as_u16(), 415, "{bad}");
        }
    }
}
