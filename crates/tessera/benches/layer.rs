//! What the authentication layer adds to a request: the same axum handler behind
//! `Tessera::layer()` with a personal access token on a cache hit, against the handler
//! with no layer at all.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, header};
use axum::routing::get;
use criterion::{Criterion, criterion_group, criterion_main};
use tessera::{Auth, Login, NewUser, Password, Tessera};
use tower::ServiceExt as _;

fn request(token: Option<&str>) -> Request<Body> {
    let mut req = Request::get("/orders").header(header::HOST, "localhost");
    if let Some(t) = token {
        req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    let mut req = req.body(Body::empty()).unwrap();
    req.extensions_mut()
        .insert(ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 40000))));
    req
}

fn layer(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (protected, token) = rt.block_on(async {
        let tessera = Tessera::builder()
            .database(format!("sqlite://{}/bench.db", dir.path().display()))
            .key(tessera::SecretKey::generate().0)
            .build()
            .await
            .unwrap();
        let user = tessera
            .accounts()
            .create_user(
                NewUser::new(Login::parse("ada").unwrap()),
                &Password::new("correct horse battery staple"),
            )
            .await
            .unwrap();
        let held = tessera.accounts().permissions_of(&user).await.unwrap();
        let (_, token) = tessera
            .authenticator()
            .create_pat(&user, &held, "bench", None, None)
            .await
            .unwrap();
        let app: Router = Router::new()
            .route("/orders", get(|_: Auth| async { "ok" }))
            .layer(tessera.layer());
        (app, token.expose().to_owned())
    });
    let bare: Router = Router::new().route("/orders", get(|| async { "ok" }));

    // Warm the verification cache, and check both answer 200.
    rt.block_on(async {
        let ok = protected
            .clone()
            .oneshot(request(Some(&token)))
            .await
            .unwrap();
        assert_eq!(ok.status(), 200);
        assert_eq!(
            bare.clone().oneshot(request(None)).await.unwrap().status(),
            200
        );
    });

    let mut g = c.benchmark_group("layer");
    g.bench_function("no_layer", |b| {
        b.iter(|| rt.block_on(bare.clone().oneshot(request(None))).unwrap())
    });
    g.bench_function("layer_pat_cache_hit", |b| {
        b.iter(|| {
            rt.block_on(protected.clone().oneshot(request(Some(&token))))
                .unwrap()
        })
    });
    g.finish();
}

criterion_group!(benches, layer);
criterion_main!(benches);
