//! A small orders API protected by Tessera: `cargo run -p tessera --example orders`.
//!
//! - `GET /health`: public;
//! - `GET /orders`: any authenticated user (password session, personal access token,
//!   API-key token, client secret or OAuth2 access token);
//! - `POST /orders`: needs the permission `orders:write`;
//! - Tessera's auth endpoints under `/api` (`/api/login`, `/api/tokens`, ...).
//!
//! It keeps its data in `./orders-data` (the SQLite database and the server key) and
//! listens on `127.0.0.1:3000`. Create a user with the server's CLI on the same database:
//! `TESSERA_SERVER__DATA_DIR=orders-data tessera user add ada`.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use tessera::{Auth, Tessera};

/// An order as the API shows it.
#[derive(Clone, Serialize)]
pub struct Order {
    /// Its number, from 1.
    pub id: u64,
    /// What was ordered.
    pub item: String,
    /// How many.
    pub quantity: u32,
    /// The login of the user who placed it.
    pub placed_by: String,
}

/// The body of `POST /orders`.
#[derive(Deserialize)]
pub struct NewOrder {
    item: String,
    quantity: u32,
}

/// The orders, in memory.
pub type Orders = Arc<Mutex<Vec<Order>>>;

/// The whole application: the orders routes behind Tessera, and Tessera's auth endpoints
/// under `/api`.
pub fn app(tessera: &Tessera, orders: Orders) -> Router {
    let write = Router::new()
        .route("/orders", axum::routing::post(place))
        .route_layer(tessera::require("orders:write"));
    Router::new()
        .route("/health", get(|| async { "ok" }))
        .route("/orders", get(list))
        .merge(write)
        .with_state(orders)
        .nest("/api", tessera.auth_router())
        .layer(tessera.layer())
}

/// Any authenticated user sees the orders.
async fn list(_: Auth, State(orders): State<Orders>) -> Json<Vec<Order>> {
    Json(orders.lock().map(|o| o.clone()).unwrap_or_default())
}

/// Places an order in the caller's name (the route needs `orders:write`).
async fn place(
    auth: Auth,
    State(orders): State<Orders>,
    Json(new): Json<NewOrder>,
) -> Result<(StatusCode, Json<Order>), StatusCode> {
    let mut orders = orders
        .lock()
        .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?;
    let order = Order {
        id: orders.len() as u64 + 1,
        item: new.item,
        quantity: new.quantity,
        placed_by: auth.user().login.to_string(),
    };
    orders.push(order.clone());
    Ok((StatusCode::CREATED, Json(order)))
}

#[allow(
    dead_code,
    reason = "the test suite builds `app` and never runs `main`"
)]
#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut config = tessera::Config::default();
    config.server.data_dir = "orders-data".into();
    let tessera = Tessera::builder().config(config).build().await?;
    let app = app(&tessera, Orders::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    println!("orders API on http://127.0.0.1:3000 (auth endpoints under /api)");
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .await?;
    Ok(())
}
