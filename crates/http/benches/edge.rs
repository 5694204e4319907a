//! Per-request work of the HTTP edge: credential extraction, the CSRF check, opening the
//! session cookie.
//!
//! `cargo bench -p tessera-http`

// Not a public API, and a panic here is a failing run.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use axum::http::Request;
use criterion::{Criterion, criterion_group, criterion_main};
use tessera_core::SecretKey;
use tessera_core::secret::digest;
use tessera_http::HttpSettings;
use tessera_http::credentials::{self, Presented};
use tessera_http::csrf::{self, Binding};
use tessera_http::edge::RequestContext;

const TOKEN: &str = "tsp_TwXSxMRzREowJbplq52Dnh9VNy0IgnU442mznm";

fn context() -> RequestContext {
    RequestContext {
        request_id: std::sync::Arc::from("bench"),
        client_ip: Some("127.0.0.1".parse().unwrap()),
        https: false,
        own_origin: "http://127.0.0.1:8110".into(),
        session_cookie: None,
        credentials_allowed: true,
        from_trusted_proxy: true,
    }
}

fn extraction(c: &mut Criterion) {
    let settings = HttpSettings::default();
    let ctx = context();
    let (bearer, _) = Request::get("/api/verify?page=2")
        .header("authorization", format!("Bearer {TOKEN}"))
        .header("x-original-uri", "/orders/1")
        .header("accept", "application/json")
        .body(())
        .unwrap()
        .into_parts();
    c.bench_function("credentials/bearer token", |b| {
        b.iter(|| {
            let p = credentials::extract(black_box(&bearer), &settings, &ctx).unwrap();
            assert!(matches!(p, Presented::Token(_)));
        })
    });
    let (basic, _) = Request::get("/api/login")
        .header(
            "authorization",
            "Basic am9lOmNvcnJlY3QgaG9yc2UgYmF0dGVyeSBzdGFwbGU=",
        )
        .body(())
        .unwrap()
        .into_parts();
    c.bench_function("credentials/basic", |b| {
        b.iter(|| {
            let p = credentials::extract(black_box(&basic), &settings, &ctx).unwrap();
            assert!(matches!(p, Presented::Basic { .. }));
        })
    });
}

fn csrf_check(c: &mut Criterion) {
    let signer = SecretKey::generate().0.signer("tessera csrf token v1");
    let binding = Binding::Session(digest(b"tss_session token"));
    let token = csrf::new_token(&signer, binding);
    c.bench_function("csrf/verify token (signed double submit)", |b| {
        b.iter(|| assert!(csrf::verify_token(&signer, binding, black_box(&token))))
    });
    c.bench_function("csrf/new token", |b| {
        b.iter(|| csrf::new_token(&signer, black_box(binding)))
    });
}

fn cookie(c: &mut Criterion) {
    let sealer = SecretKey::generate().0.sealer("tessera session cookie v1");
    let sealed = tessera_http::cookies::seal_session(&sealer, "sessionid", TOKEN);
    c.bench_function("cookie/open session cookie (AES-256-GCM)", |b| {
        b.iter(|| {
            let t = tessera_http::cookies::open_session(&sealer, "sessionid", black_box(&sealed));
            assert!(t.is_some());
        })
    });
    c.bench_function("cookie/read from Cookie header", |b| {
        let mut h = axum::http::HeaderMap::new();
        h.insert(
            "cookie",
            format!("theme=dark; csrftoken=abc; sessionid={sealed}")
                .parse()
                .unwrap(),
        );
        b.iter(|| {
            assert!(
                tessera_http::cookies::get_unique(black_box(&h), "sessionid")
                    .one()
                    .is_some()
            )
        })
    });
}

criterion_group!(benches, extraction, csrf_check, cookie);
criterion_main!(benches);
