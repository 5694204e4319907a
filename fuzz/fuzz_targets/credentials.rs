//! Credential extraction from arbitrary `Authorization`, alias and `Cookie` headers and
//! query strings: never panics, and a cookie value the server did not seal never opens.
#![no_main]

use axum::http::{HeaderName, HeaderValue, Request};
use libfuzzer_sys::fuzz_target;
use tessera_core::SecretKey;
use tessera_http::HttpSettings;
use tessera_http::edge::RequestContext;

fuzz_target!(|data: &[u8]| {
    let mut parts = data.splitn(4, |&b| b == 0);
    let (Some(auth), Some(alias), Some(cookie)) = (parts.next(), parts.next(), parts.next()) else {
        return;
    };
    let query = parts.next().unwrap_or_default();
    let mut req = Request::builder().uri(format!(
        "/x?{}",
        String::from_utf8_lossy(query).replace(' ', "%20")
    ));
    if let Ok(v) = HeaderValue::from_bytes(auth) {
        req = req.header("authorization", v);
    }
    if let Ok(v) = HeaderValue::from_bytes(alias) {
        req = req.header("x-alias", v);
    }
    let Ok(req) = req.body(()) else { return };
    let (parts, ()) = req.into_parts();
    let settings = HttpSettings {
        alias_header: Some(HeaderName::from_static("x-alias")),
        url_param: Some("access_token".into()),
        ..HttpSettings::default()
    };
    let (key, _) = SecretKey::generate();
    let sealer = key.sealer("fuzz");
    let cookie = String::from_utf8_lossy(cookie);
    let opened = tessera_http::cookies::open_session(&sealer, "sessionid", &cookie);
    assert!(opened.is_none(), "an unsealed cookie opened");
    let ctx = RequestContext {
        client_ip: None,
        https: true,
        own_origin: "https://x".into(),
        session_cookie: Some(opened),
        credentials_allowed: true,
        from_trusted_proxy: false,
    };
    let _ = tessera_http::credentials::extract(&parts, &settings, &ctx);
});
