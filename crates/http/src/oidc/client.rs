//! The providers' documents and keys: discovery (`{issuer}/.well-known/openid-configuration`
//! and its JWKS) cached per provider, fetched again on a key id the cache does not know
//! (the provider rotated its keys), and the HTTP client the OpenID Connect library calls.

use std::sync::Arc;
use std::time::{Duration, Instant};

use openidconnect::core::CoreProviderMetadata;
use openidconnect::{HttpRequest, HttpResponse, IssuerUrl};
use tokio::sync::Mutex;

use crate::settings::IdentityProvider;

/// How long discovered metadata is used before it is fetched again.
const METADATA_TTL: Duration = Duration::from_secs(3600);
/// The shortest time between two fetches forced by an unknown key id (a flood of
/// callbacks cannot become a flood of fetches).
const REFETCH_MIN_INTERVAL: Duration = Duration::from_secs(1);
/// Longest wait for any answer of a provider.
const TIMEOUT: Duration = Duration::from_secs(10);
/// Largest answer read from a provider.
const MAX_BODY: usize = 1 << 20;

/// The configured providers, each with its cached metadata, and one HTTP client (no
/// redirects followed: a provider's answer never sends Tessera elsewhere).
pub struct Providers {
    http: reqwest::Client,
    entries: Vec<Entry>,
}

struct Entry {
    settings: IdentityProvider,
    cached: Mutex<Cached>,
}

#[derive(Default)]
struct Cached {
    metadata: Option<(Arc<CoreProviderMetadata>, Instant)>,
}

/// Why a provider's documents could not be had.
#[derive(Debug)]
pub struct Unreachable(pub String);

impl Providers {
    /// The providers of the configuration (none fetched yet).
    pub fn new(settings: &[IdentityProvider]) -> Self {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(TIMEOUT)
            .build()
            .unwrap_or_default();
        Self {
            http,
            entries: settings
                .iter()
                .map(|s| Entry {
                    settings: s.clone(),
                    cached: Mutex::new(Cached::default()),
                })
                .collect(),
        }
    }

    /// The provider with this id, if configured.
    pub fn get(&self, id: &str) -> Option<&IdentityProvider> {
        self.entry(id).map(|e| &e.settings)
    }

    /// Every configured provider, in configuration order.
    pub fn all(&self) -> impl Iterator<Item = &IdentityProvider> {
        self.entries.iter().map(|e| &e.settings)
    }

    fn entry(&self, id: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.settings.id == id)
    }

    /// The provider's metadata and keys: cached, or fetched when missing, older than an
    /// hour, or (`refresh`) when a token named a key the cached set lacks.
    pub async fn metadata(
        &self,
        id: &str,
        refresh: bool,
    ) -> Result<Arc<CoreProviderMetadata>, Unreachable> {
        let entry = self
            .entry(id)
            .ok_or_else(|| Unreachable(format!("no provider `{id}`")))?;
        let mut cached = entry.cached.lock().await;
        if let Some((metadata, at)) = &cached.metadata {
            let age = at.elapsed();
            let fresh = age < METADATA_TTL && !(refresh && age >= REFETCH_MIN_INTERVAL);
            if fresh {
                return Ok(metadata.clone());
            }
        }
        let metadata = Arc::new(discover(&self.http, &entry.settings.issuer).await?);
        cached.metadata = Some((metadata.clone(), Instant::now()));
        Ok(metadata)
    }

    /// The HTTP client the OpenID Connect library sends its requests with.
    pub fn http(&self) -> Http {
        Http(self.http.clone())
    }

    /// A GET of `url` with a bearer token (the UserInfo endpoint): the JSON object it
    /// answers.
    pub async fn get_json(
        &self,
        url: &str,
        bearer: &str,
    ) -> Result<serde_json::Map<String, serde_json::Value>, HttpError> {
        let res = self
            .http
            .get(url)
            .bearer_auth(bearer)
            .header("accept", "application/json")
            .send()
            .await
            .map_err(|e| HttpError(e.to_string()))?;
        if !res.status().is_success() {
            return Err(HttpError(format!("status {}", res.status().as_u16())));
        }
        let body = read_limited(res).await?;
        serde_json::from_slice(&body).map_err(|e| HttpError(format!("not a JSON object: {e}")))
    }
}

/// Fetches and checks a provider's discovery document and its JWKS (what `tessera config
/// check` reports on, too): the issuer it states must be the configured one.
pub async fn discover(
    http: &reqwest::Client,
    issuer: &str,
) -> Result<CoreProviderMetadata, Unreachable> {
    let issuer_url =
        IssuerUrl::new(issuer.to_owned()).map_err(|e| Unreachable(format!("issuer: {e}")))?;
    let metadata = CoreProviderMetadata::discover_async(issuer_url, &Http(http.clone()))
        .await
        .map_err(|e| Unreachable(describe(&e)))?;
    // The token endpoint receives the client secret and the code: https, like the issuer
    // (plain http only on loopback, as for the issuer).
    let endpoints = [
        (
            "authorization_endpoint",
            Some(metadata.authorization_endpoint().url()),
        ),
        ("token_endpoint", metadata.token_endpoint().map(|u| u.url())),
        (
            "userinfo_endpoint",
            metadata.userinfo_endpoint().map(|u| u.url()),
        ),
        ("jwks_uri", Some(metadata.jwks_uri().url())),
    ];
    for (name, url) in endpoints {
        let Some(url) = url else { continue };
        let host = url.host_str().unwrap_or("");
        let loopback = host == "localhost"
            || host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback());
        if url.scheme() != "https" && !(url.scheme() == "http" && loopback) {
            return Err(Unreachable(format!(
                "the discovery document's {name} is not https: {url}"
            )));
        }
    }
    if metadata.token_endpoint().is_none() {
        return Err(Unreachable(
            "the discovery document has no token_endpoint".into(),
        ));
    }
    Ok(metadata)
}

/// A discovery check for `tessera config check`: `Ok` with what was found, or why not.
pub async fn check_discovery(issuer: &str) -> Result<String, String> {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(TIMEOUT)
        .build()
        .map_err(|e| e.to_string())?;
    let metadata = discover(&http, issuer).await.map_err(|e| e.0)?;
    let keys = metadata.jwks().keys().len();
    if keys == 0 {
        return Err("the provider's JWKS holds no keys".into());
    }
    Ok(format!(
        "discovery OK ({keys} signing key{})",
        if keys == 1 { "" } else { "s" }
    ))
}

/// An error and its causes, on one line.
pub fn describe(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text.replace('\n', " ")
}

/// A failed exchange with a provider.
#[derive(Debug)]
pub struct HttpError(pub String);

impl std::fmt::Display for HttpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for HttpError {}

/// The OpenID Connect library's HTTP client: each request runs as a task of its own (the
/// library wants a future that is `Sync`, which a request's own future is not).
pub struct Http(reqwest::Client);

impl<'c> openidconnect::AsyncHttpClient<'c> for Http {
    type Error = HttpError;
    type Future = std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<HttpResponse, HttpError>> + Send + Sync + 'c>,
    >;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        let http = self.0.clone();
        let task = tokio::spawn(async move { send(&http, request).await });
        Box::pin(async move {
            task.await
                .map_err(|e| HttpError(format!("request task failed: {e}")))?
        })
    }
}

async fn send(http: &reqwest::Client, request: HttpRequest) -> Result<HttpResponse, HttpError> {
    let (parts, body) = request.into_parts();
    let res = http
        .request(parts.method, parts.uri.to_string())
        .headers(parts.headers)
        .body(body)
        .send()
        .await
        .map_err(|e| HttpError(describe(&e)))?;
    let status = res.status();
    let headers = res.headers().clone();
    let body = read_limited(res).await?;
    let mut out = HttpResponse::new(body);
    *out.status_mut() = status;
    *out.headers_mut() = headers;
    Ok(out)
}

async fn read_limited(mut res: reqwest::Response) -> Result<Vec<u8>, HttpError> {
    let mut body = Vec::new();
    while let Some(chunk) = res.chunk().await.map_err(|e| HttpError(describe(&e)))? {
        if body.len() + chunk.len() > MAX_BODY {
            return Err(HttpError("the answer is larger than 1 MiB".into()));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}
