//! Every credential kind through the orders example, and the refusals with their bodies.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::{App, value};

#[tokio::test]
async fn public_route_is_open_and_protected_routes_answer_401_problems() {
    let app = App::start().await;
    let c = app.client();
    let r = c.send(c.req(Method::GET, "/health")).await;
    assert_eq!((r.status, r.body.as_str()), (StatusCode::OK, "ok"));
    // A stale credential does not close a public route.
    let r = c.send(c.bearer(Method::GET, "/health", "tsp_stale")).await;
    assert_eq!(r.status, StatusCode::OK);

    let r = c.send(c.req(Method::GET, "/orders")).await;
    r.assert_problem(StatusCode::UNAUTHORIZED, "unauthenticated");
    assert_eq!(r.header("www-authenticate"), "Bearer realm=\"tessera\"");
    let r = c.place(c.req(Method::POST, "/orders")).await;
    r.assert_problem(StatusCode::UNAUTHORIZED, "unauthenticated");

    // A refused credential never passes as anonymous.
    let r = c
        .send(c.bearer(Method::GET, "/orders", "tsp_not_a_token"))
        .await;
    r.assert_problem(StatusCode::UNAUTHORIZED, "invalid_token");
    assert!(
        r.header("www-authenticate")
            .contains("error=\"invalid_token\"")
    );
    // Every answer carries the security headers of the server.
    assert_eq!(r.header("x-content-type-options"), "nosniff");
}

#[tokio::test]
async fn password_session_cookie_needs_the_csrf_header_on_unsafe_methods() {
    let app = App::start().await;
    let mut ada = app.browser("ada").await;
    let r = ada.send(ada.req(Method::GET, "/orders")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json(), json!([]));

    let r = ada.place(ada.req(Method::POST, "/orders")).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.json()["placed_by"], "ada");

    // The same cookie without the CSRF header: refused, nothing placed.
    let token = ada.headers.remove("x-csrftoken").unwrap();
    let r = ada.place(ada.req(Method::POST, "/orders")).await;
    r.assert_problem(StatusCode::FORBIDDEN, "csrf_failed");
    ada.headers.insert("x-csrftoken", value("forged"));
    let r = ada.place(ada.req(Method::POST, "/orders")).await;
    r.assert_problem(StatusCode::FORBIDDEN, "csrf_failed");
    ada.headers.insert("x-csrftoken", token);
    let r = ada.send(ada.req(Method::GET, "/orders")).await;
    assert_eq!(r.json().as_array().unwrap().len(), 1);

    // Logging out ends the cookie's session.
    let r = ada.send(ada.req(Method::POST, "/api/logout")).await;
    assert!(r.status.is_success(), "{}", r.body);
    let r = ada.send(ada.req(Method::GET, "/orders")).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn personal_access_token_scoped_to_read_gets_insufficient_scope_on_write() {
    let app = App::start().await;
    let session = app.session_token("ada").await;
    let c = app.client();
    let body = json!({"name": "ci", "scopes": ["orders:read"]});
    let create = c.bearer(Method::POST, "/api/tokens", &session).json(&body);
    let pat = c.field(create, "token").await;

    let r = c.send(c.bearer(Method::GET, "/orders", &pat)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = c.place(c.bearer(Method::POST, "/orders", &pat)).await;
    r.assert_problem(StatusCode::FORBIDDEN, "insufficient_scope");
    assert_eq!(r.json()["required"], "orders:write");
    assert_eq!(
        r.header("www-authenticate"),
        "Bearer realm=\"tessera\", error=\"insufficient_scope\", scope=\"orders:write\""
    );

    // Revoked: refused at once.
    let id = c
        .send(c.bearer(Method::GET, "/api/tokens", &session))
        .await
        .json()[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = c
        .send(c.bearer(Method::DELETE, &format!("/api/tokens/{id}"), &session))
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = c.send(c.bearer(Method::GET, "/orders", &pat)).await;
    r.assert_problem(StatusCode::UNAUTHORIZED, "invalid_token");
}

#[tokio::test]
async fn user_without_the_permission_gets_403_naming_it() {
    let app = App::start().await;
    let bob = app.session_token("bob").await;
    let c = app.client();
    assert_eq!(
        c.send(c.bearer(Method::GET, "/orders", &bob)).await.status,
        StatusCode::OK
    );
    let r = c.place(c.bearer(Method::POST, "/orders", &bob)).await;
    r.assert_problem(StatusCode::FORBIDDEN, "insufficient_scope");
    assert_eq!(r.json()["required"], "orders:write");
    // Over the cookie (not a bearer token): plain `forbidden`, no challenge.
    let bob = app.browser("bob").await;
    let r = bob.place(bob.req(Method::POST, "/orders")).await;
    r.assert_problem(StatusCode::FORBIDDEN, "forbidden");
    assert_eq!(r.json()["required"], "orders:write");
    assert_eq!(r.header("www-authenticate"), "");
}

#[tokio::test]
async fn api_key_exchanged_for_a_token_reaches_the_api() {
    let app = App::start().await;
    let session = app.session_token("ada").await;
    let c = app.client();
    let k = c
        .send(
            c.bearer(Method::POST, "/api/apikeys", &session)
                .json(&json!({"name": "deploy"})),
        )
        .await;
    assert_eq!(k.status, StatusCode::CREATED, "{}", k.body);
    let k = k.json();
    let exchange = c
        .req(Method::POST, "/api/login/key")
        .json(&json!({"apiKey": k["api_key"], "apiSecret": k["api_secret"]}));
    let token = c.field(exchange, "authToken").await;
    let r = c.place(c.bearer(Method::POST, "/orders", &token)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);

    let r = c
        .send(
            c.req(Method::POST, "/api/login/key")
                .json(&json!({"apiKey": k["api_key"], "apiSecret": "tsx_wrong"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn client_secret_directly_and_as_an_oauth_access_token_reaches_the_api() {
    let app = App::start().await;
    let session = app.session_token("ada").await;
    let c = app.client();
    let show = c.bearer(Method::GET, "/api/client-secret", &session);
    let secret = c.field(show, "secret").await;

    let direct = c.secret(Method::GET, "/orders", &secret);
    assert_eq!(c.send(direct).await.status, StatusCode::OK);
    let wrong = c.secret(Method::GET, "/orders", "tsc_wrong");
    c.send(wrong)
        .await
        .assert_problem(StatusCode::UNAUTHORIZED, "invalid_token");

    let grant = [
        ("grant_type", "client_credentials"),
        ("scope", "orders:read"),
    ];
    let token = c
        .req(Method::POST, "/api/oauth/token")
        .basic_auth("ada", Some(&secret))
        .form(&grant);
    let access = c.field(token, "access_token").await;
    assert_eq!(
        c.send(c.bearer(Method::GET, "/orders", &access))
            .await
            .status,
        StatusCode::OK
    );
    let r = c.place(c.bearer(Method::POST, "/orders", &access)).await;
    r.assert_problem(StatusCode::FORBIDDEN, "insufficient_scope");
}

#[tokio::test]
async fn http_basic_is_accepted_and_a_wrong_password_is_refused() {
    let app = App::start().await;
    let c = app.client();
    let r = c
        .place(
            c.req(Method::POST, "/orders")
                .basic_auth("ada", Some(crate::PW)),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let r = c
        .send(
            c.req(Method::GET, "/orders")
                .basic_auth("ada", Some("wrong")),
        )
        .await;
    r.assert_problem(StatusCode::UNAUTHORIZED, "invalid_credentials");
    assert!(r.header("www-authenticate").starts_with("Basic "));
}
