//! A fake OpenID Connect provider in this process (axum on a free loopback port), for the
//! attacks a real provider would never make: its token endpoint answers with whatever ID
//! token the test prepared (wrong issuer, audience, nonce, key, algorithm...). It has a
//! discovery document, a JWKS, a token endpoint and a userinfo endpoint; its authorization
//! endpoint is never called (a test reads `state` and `nonce` from Tessera's redirect and
//! calls Tessera's callback itself).
//!
//! Its RSA keys are made once per test process with the `openssl` command.

use std::process::Command;
use std::sync::{Arc, Mutex, OnceLock};

use axum::extract::{Form, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use ring::signature::RsaKeyPair;
use serde_json::{Value, json};

/// The client id Tessera uses at the fake provider.
pub const CLIENT_ID: &str = "tessera";
/// Its client secret.
pub const CLIENT_SECRET: &str = "fake-op-client-secret";
/// The `kid` of the key the fake provider publishes.
pub const KID: &str = "fake-1";

/// An RSA signing key.
pub struct Key {
    pair: RsaKeyPair,
}

impl Key {
    /// A new 2048-bit key, made by `openssl genpkey`.
    fn generate() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key.der");
        let out = Command::new("openssl")
            .args([
                "genpkey",
                "-algorithm",
                "RSA",
                "-pkeyopt",
                "rsa_keygen_bits:2048",
            ])
            .args(["-outform", "DER", "-out"])
            .arg(&path)
            .output()
            .expect("the openssl command");
        assert!(
            out.status.success(),
            "openssl: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        // OpenSSL 3.0 writes DER as PKCS#1, later versions as PKCS#8.
        let der = std::fs::read(&path).unwrap();
        let pair = RsaKeyPair::from_pkcs8(&der)
            .or_else(|_| RsaKeyPair::from_der(&der))
            .unwrap();
        Self { pair }
    }

    /// The public JWK, named `kid`.
    pub fn jwk(&self, kid: &str) -> Value {
        let public = ring::rsa::PublicKeyComponents::<Vec<u8>>::from(self.pair.public());
        json!({
            "kty": "RSA",
            "use": "sig",
            "alg": "RS256",
            "kid": kid,
            "n": B64.encode(&public.n),
            "e": B64.encode(&public.e),
        })
    }

    fn rs256(&self, message: &[u8]) -> Vec<u8> {
        let mut sig = vec![0; self.pair.public().modulus_len()];
        self.pair
            .sign(
                &ring::signature::RSA_PKCS1_SHA256,
                &ring::rand::SystemRandom::new(),
                message,
                &mut sig,
            )
            .unwrap();
        sig
    }
}

/// The key the fake provider publishes, and a rogue one it does not.
pub fn keys() -> &'static (Key, Key) {
    static KEYS: OnceLock<(Key, Key)> = OnceLock::new();
    KEYS.get_or_init(|| (Key::generate(), Key::generate()))
}

/// `header.claims.signature` with an RS256 signature by `key`.
pub fn sign_with(key: &Key, header: &Value, claims: &Value) -> String {
    let input = signing_input(header, claims);
    let sig = key.rs256(input.as_bytes());
    format!("{input}.{}", B64.encode(sig))
}

/// An unsecured JWT (`alg: none`, empty signature).
pub fn unsigned(claims: &Value) -> String {
    let input = signing_input(&json!({"alg": "none", "typ": "JWT"}), claims);
    format!("{input}.")
}

/// An HS256 JWT with `secret` as the MAC key (what a verifier confused about algorithms
/// would accept with the client secret or the public key as the key).
pub fn hs256(secret: &[u8], claims: &Value) -> String {
    let input = signing_input(&json!({"alg": "HS256", "typ": "JWT", "kid": KID}), claims);
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret);
    let tag = ring::hmac::sign(&key, input.as_bytes());
    format!("{input}.{}", B64.encode(tag.as_ref()))
}

fn signing_input(header: &Value, claims: &Value) -> String {
    format!(
        "{}.{}",
        B64.encode(header.to_string()),
        B64.encode(claims.to_string())
    )
}

/// What the token endpoint received: the `Authorization` header and the form.
#[derive(Clone, Debug)]
pub struct TokenRequest {
    pub authorization: Option<String>,
    pub form: Vec<(String, String)>,
}

impl TokenRequest {
    pub fn field(&self, name: &str) -> Option<&str> {
        self.form
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Default)]
struct Shared {
    issuer: String,
    /// The ID token the token endpoint answers, and the claims the userinfo endpoint does.
    answer: Option<(String, Value)>,
    requests: Vec<TokenRequest>,
}

pub struct FakeOp {
    pub issuer: String,
    shared: Arc<Mutex<Shared>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeOp {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeOp {
    /// Serves on a free loopback port in the background of the current runtime.
    pub async fn start() -> Self {
        let _ = keys();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let issuer = format!("http://{}", listener.local_addr().unwrap());
        let shared = Arc::new(Mutex::new(Shared {
            issuer: issuer.clone(),
            ..Shared::default()
        }));
        let router = Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/jwks", get(jwks))
            .route("/token", post(token))
            .route("/userinfo", get(userinfo))
            .with_state(shared.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Self {
            issuer,
            shared,
            task,
        }
    }

    /// A valid claim set for `nonce`: this issuer, audience Tessera's client id, an hour
    /// to live, the person `sub` with login claim `username` and e-mail `email`.
    pub fn claims(&self, nonce: &str, sub: &str, username: &str, email: &str) -> Value {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        json!({
            "iss": self.issuer,
            "aud": CLIENT_ID,
            "sub": sub,
            "exp": now + 3600,
            "iat": now,
            "auth_time": now,
            "nonce": nonce,
            "preferred_username": username,
            "email": email,
            "email_verified": true,
            "name": format!("{username} (fake SSO)"),
            "groups": [],
        })
    }

    /// `claims` signed RS256 by the published key.
    pub fn sign(&self, claims: &Value) -> String {
        let header = json!({"alg": "RS256", "typ": "JWT", "kid": KID});
        sign_with(&keys().0, &header, claims)
    }

    /// The token endpoint's next answer carries `id_token`; the userinfo endpoint answers
    /// the person part of `claims`.
    pub fn answer_with(&self, id_token: String, claims: &Value) {
        let mut person = claims.clone();
        if let Some(map) = person.as_object_mut() {
            for k in ["iss", "aud", "exp", "iat", "auth_time", "nonce", "azp"] {
                map.remove(k);
            }
        }
        self.shared.lock().unwrap().answer = Some((id_token, person));
    }

    /// Every request the token endpoint received so far.
    pub fn token_requests(&self) -> Vec<TokenRequest> {
        self.shared.lock().unwrap().requests.clone()
    }
}

async fn discovery(State(shared): State<Arc<Mutex<Shared>>>) -> Json<Value> {
    let issuer = shared.lock().unwrap().issuer.clone();
    Json(json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": format!("{issuer}/token"),
        "userinfo_endpoint": format!("{issuer}/userinfo"),
        "jwks_uri": format!("{issuer}/jwks"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "scopes_supported": ["openid", "profile", "email"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": ["sub", "name", "preferred_username", "email", "email_verified", "groups"],
    }))
}

async fn jwks() -> Json<Value> {
    Json(json!({"keys": [keys().0.jwk(KID)]}))
}

async fn token(
    State(shared): State<Arc<Mutex<Shared>>>,
    headers: HeaderMap,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    let mut s = shared.lock().unwrap();
    s.requests.push(TokenRequest {
        authorization: headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        form,
    });
    match s.answer.as_ref() {
        Some((id_token, _)) => Json(json!({
            "access_token": "fake-access-token",
            "token_type": "Bearer",
            "expires_in": 300,
            "scope": "openid profile email",
            "id_token": id_token,
        }))
        .into_response(),
        None => (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "invalid_grant"})),
        )
            .into_response(),
    }
}

async fn userinfo(State(shared): State<Arc<Mutex<Shared>>>, headers: HeaderMap) -> Response {
    let bearer = headers.get("authorization").and_then(|v| v.to_str().ok());
    let s = shared.lock().unwrap();
    match (bearer, s.answer.as_ref()) {
        (Some("Bearer fake-access-token"), Some((_, person))) => {
            Json(person.clone()).into_response()
        }
        _ => StatusCode::UNAUTHORIZED.into_response(),
    }
}
