//! Sign-in through OpenID Connect providers: `GET {base}/oidc/{id}/login` starts the
//! authorization-code flow (PKCE S256, `state`, `nonce`), remembered by a short-lived
//! cookie sealed under the server key; `GET {base}/oidc/{id}/callback` checks `state`,
//! exchanges the code, validates the ID token with the OpenID Connect library (signature
//! against the provider's JWKS, fetched again once on an unknown key id; `iss`, `aud`,
//! `exp`, `nonce`; an allow-list of asymmetric algorithms, so never `none` and never an
//! HMAC), checks `azp` and `iat`, and hands the claims to the core, which finds the user by
//! its link (provider, subject) and opens a session of kind `idp`. Every failure is an
//! error page and an audit event; no code, token or claim is logged.

pub mod client;

use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreJwsSigningAlgorithm};
use openidconnect::{
    AuthorizationCode, ClaimsVerificationError, ClientId, ClientSecret, CsrfToken, Nonce,
    OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope,
    SignatureVerificationError, TokenResponse,
};
use serde::{Deserialize, Serialize};
use tessera_core::audit::AuditEvent;
use tessera_core::{ExternalRefusal, ExternalSignIn, Timestamp};

use crate::body::{field, query_pairs, safe_next};
use crate::cookies::SetSessionCookie;
use crate::csrf::{self, Binding, IssueToken};
use crate::settings::{IdentityProvider, Secure};

use crate::AppState;
use crate::ui::{Chrome, error_page, redirect};

/// The cookie that remembers a flow between its start and the provider's answer.
pub const FLOW_COOKIE: &str = "tessera_oidc";
/// How long a started sign-in may take at the provider.
const FLOW_LIFETIME: Duration = Duration::from_secs(600);
/// The sealing context of flow cookies (they cannot pass for session cookies).
const FLOW_CONTEXT: &[u8] = b"tessera oidc flow v1";
/// How far in the future an ID token's `iat` may be (clock skew).
const IAT_SKEW: i64 = 300;

/// What the flow cookie holds, sealed: which provider, the `state`, `nonce` and PKCE
/// verifier sent, where to go afterwards, whether it re-confirms a signed-in user (sudo),
/// and until when it is valid.
#[derive(Serialize, Deserialize)]
struct Flow {
    provider: String,
    state: String,
    nonce: String,
    verifier: String,
    next: String,
    sudo: bool,
    /// When the flow started: a re-confirmation (sudo) needs an authentication after it.
    started: i64,
    until: i64,
}

/// The id in `{base}/oidc/{id}/...`.
fn provider_id(parts: &Parts) -> &str {
    let path = parts.uri.path();
    let rest = path.rsplit_once("/oidc/").map_or("", |(_, r)| r);
    rest.split('/').next().unwrap_or("")
}

/// `{origin}{base}/oidc/{id}/callback`, as the browser reaches this server.
fn redirect_uri(parts: &Parts, id: &str) -> String {
    let origin = crate::context::contexts(parts)
        .map(|(c, _)| c.own_origin.clone())
        .unwrap_or_default();
    format!(
        "{origin}{}/oidc/{id}/callback",
        crate::params::mount_path(parts)
    )
}

/// `GET {base}/oidc/{id}/login?next=...`: to the provider's authorization endpoint.
#[utoipa::path(
    get,
    path = "/oidc/{id}/login",
    tag = "oidc",
    summary = "Sign in through an identity provider",
    description = "For a browser: redirects to the provider's authorization endpoint \
        (authorization code with PKCE), remembering the flow in a sealed cookie. Failures \
        are HTML pages.",
    params(
        ("id" = String, Path, description = "The provider's id in `[[oidc.providers]]`"),
        ("next" = Option<String>, Query, description = "A local path to land on afterwards"),
    ),
    responses(
        (status = 303, description = "To the provider (login) or to `next` (callback)", headers(("Location" = String, description = "Where to go"))),
        (status = 400, description = "The flow is broken, expired or refused; or plain HTTP", body = String, content_type = "text/html"),
        (status = 403, description = "The provider's account may not sign in here", body = String, content_type = "text/html"),
        (status = 404, description = "No such identity provider", body = String, content_type = "text/html"),
        (status = 500, description = "A fault on the server", body = String, content_type = "text/html"),
        (status = 502, description = "The identity provider does not answer, or answers wrongly", body = String, content_type = "text/html"),
        (status = 503, description = "The database does not answer", body = String, content_type = "text/html"),
    ),
)]
pub(crate) async fn login(State(state): State<AppState>, req: Request) -> Response {
    let (parts, _) = req.into_parts();
    let c = Chrome::anonymous(&state, &parts, "Sign in");
    let id = provider_id(&parts).to_owned();
    let Some(provider) = state.oidc.get(&id).cloned() else {
        return failure(
            c,
            StatusCode::NOT_FOUND,
            "There is no such identity provider.",
        );
    };
    let query = query_pairs(parts.uri.query()).unwrap_or_default();
    let base = c.base.clone();
    let next = match field(&query, "next").map(safe_next) {
        Some(n) if n != "/" => n,
        _ => format!("{base}/ui/profile"),
    };
    let sudo = field(&query, "sudo").is_some();
    let metadata = match state.oidc.metadata(&id, false).await {
        Ok(m) => m,
        Err(e) => {
            tracing::warn!(provider = %id, error = %e.0, "identity provider unreachable");
            return failure(c, StatusCode::BAD_GATEWAY, &unreachable_text(&provider));
        }
    };
    let client = CoreClient::from_provider_metadata(
        (*metadata).clone(),
        ClientId::new(provider.client_id.clone()),
        Some(ClientSecret::new(provider.client_secret.0.clone())),
    )
    .set_redirect_uri(match RedirectUrl::new(redirect_uri(&parts, &id)) {
        Ok(u) => u,
        Err(_) => return failure(c, StatusCode::BAD_REQUEST, "This address cannot sign in."),
    });
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut request = client.authorize_url(
        CoreAuthenticationFlow::AuthorizationCode,
        CsrfToken::new_random,
        Nonce::new_random,
    );
    for scope in provider.scopes.iter().filter(|s| *s != "openid") {
        request = request.add_scope(Scope::new(scope.clone()));
    }
    if sudo {
        // Re-confirming must be a fresh authentication at the provider, not its session.
        request = request
            .add_prompt(openidconnect::core::CoreAuthPrompt::Login)
            .set_max_age(Duration::ZERO);
    }
    let (url, csrf_state, nonce) = request.set_pkce_challenge(challenge).url();
    let flow = Flow {
        provider: id.clone(),
        state: csrf_state.secret().clone(),
        nonce: nonce.secret().clone(),
        verifier: verifier.secret().clone(),
        next,
        sudo,
        started: Timestamp::now().unix(),
        until: Timestamp::now().plus(FLOW_LIFETIME).unix(),
    };
    let mut res = redirect(url.as_str());
    if let Some(cookie) = flow_cookie(&state, &parts, &base, Some(&flow)) {
        res.headers_mut().append(header::SET_COOKIE, cookie);
    }
    res
}

/// The `Set-Cookie` of the flow cookie holding `flow` (or expiring it, for `None`).
fn flow_cookie(
    state: &AppState,
    parts: &Parts,
    base: &str,
    flow: Option<&Flow>,
) -> Option<HeaderValue> {
    let https = crate::context::contexts(parts).is_ok_and(|(c, _)| c.https);
    let secure = match state.settings.session_cookie.secure {
        Secure::Always => true,
        Secure::Never => false,
        Secure::Auto => https,
    };
    let value = match flow {
        Some(flow) => {
            let json = serde_json::to_vec(flow).ok()?;
            URL_SAFE_NO_PAD.encode(state.cookie_sealer.seal(&json, FLOW_CONTEXT))
        }
        None => String::new(),
    };
    let max_age = if flow.is_some() {
        FLOW_LIFETIME.as_secs()
    } else {
        0
    };
    // Lax: the provider's redirect back is a top-level GET from another site.
    let cookie = format!(
        "{FLOW_COOKIE}={value}; Path={base}/oidc/; Max-Age={max_age}; HttpOnly; SameSite=Lax{}",
        if secure { "; Secure" } else { "" }
    );
    HeaderValue::from_str(&cookie).ok()
}

/// The flow the request's cookie holds, if it opens and is for this provider.
fn read_flow(state: &AppState, parts: &Parts, id: &str) -> Option<Flow> {
    // Two flow cookies (one planted from a sibling subdomain, say): neither is believed.
    let raw = crate::cookies::get_unique(&parts.headers, FLOW_COOKIE).one()?;
    let sealed = URL_SAFE_NO_PAD.decode(raw).ok()?;
    let json = state.cookie_sealer.open(&sealed, FLOW_CONTEXT)?;
    let flow: Flow = serde_json::from_slice(&json).ok()?;
    (flow.provider == id).then_some(flow)
}

/// Why a callback opened no session: the status and the page's words, and the reason
/// recorded in the audit log.
struct Failed {
    status: StatusCode,
    message: String,
    reason: String,
}

impl Failed {
    fn new(status: StatusCode, message: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            reason: reason.into(),
        }
    }
}

/// `GET {base}/oidc/{id}/callback?code=...&state=...`: the provider's answer.
#[utoipa::path(
    get,
    path = "/oidc/{id}/callback",
    tag = "oidc",
    summary = "The identity provider's answer",
    description = "Where the provider sends the browser back: checks the flow cookie and \
        `state`, redeems the code, validates the ID token, opens a session (setting the \
        session cookie) and redirects to where the sign-in started. Failures are HTML \
        pages, recorded in the audit log.",
    params(
        ("id" = String, Path, description = "The provider's id"),
        ("code" = Option<String>, Query, description = "The authorization code"),
        ("state" = Option<String>, Query, description = "The flow's state"),
        ("error" = Option<String>, Query, description = "The provider's refusal"),
    ),
    responses(
        (status = 303, description = "To the provider (login) or to `next` (callback)", headers(("Location" = String, description = "Where to go"))),
        (status = 400, description = "The flow is broken, expired or refused; or plain HTTP", body = String, content_type = "text/html"),
        (status = 403, description = "The provider's account may not sign in here", body = String, content_type = "text/html"),
        (status = 404, description = "No such identity provider", body = String, content_type = "text/html"),
        (status = 500, description = "A fault on the server", body = String, content_type = "text/html"),
        (status = 502, description = "The identity provider does not answer, or answers wrongly", body = String, content_type = "text/html"),
        (status = 503, description = "The database does not answer", body = String, content_type = "text/html"),
    ),
)]
pub(crate) async fn callback(State(state): State<AppState>, req: Request) -> Response {
    let (parts, _) = req.into_parts();
    let c = Chrome::anonymous(&state, &parts, "Sign in");
    let base = c.base.clone();
    let id = provider_id(&parts).to_owned();
    let Some(provider) = state.oidc.get(&id).cloned() else {
        return failure(
            c,
            StatusCode::NOT_FOUND,
            "There is no such identity provider.",
        );
    };
    let outcome = finish(&state, &parts, &provider).await;
    // The flow is over, whatever happened.
    let clear = flow_cookie(&state, &parts, &base, None);
    let mut res = match outcome {
        Ok(res) => res,
        Err(failed) => {
            let client = crate::context::contexts(&parts)
                .map(|(ctx, _)| ctx.client_info(&parts.headers, "oidc"))
                .ok();
            let e = AuditEvent::new("login", "failure")
                .method(&format!("oidc:{id}"))
                .client(
                    client.as_ref().and_then(|c| c.ip.as_deref()),
                    client.as_ref().and_then(|c| c.user_agent.as_deref()),
                )
                .detail(format!("reason={}", failed.reason));
            state.auth.accounts().record_audit(e).await;
            failure(c, failed.status, &failed.message)
        }
    };
    if let Some(clear) = clear {
        res.headers_mut().append(header::SET_COOKIE, clear);
    }
    res
}

async fn finish(
    state: &AppState,
    parts: &Parts,
    provider: &IdentityProvider,
) -> Result<Response, Failed> {
    let id = provider.id.as_str();
    let query = query_pairs(parts.uri.query()).unwrap_or_default();
    let Ok((ctx, _)) = crate::context::contexts(parts) else {
        return Err(Failed::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Internal error.",
            "no request context",
        ));
    };
    if !ctx.credentials_allowed {
        return Err(Failed::new(
            StatusCode::BAD_REQUEST,
            "Signing in needs HTTPS.",
            "plain http",
        ));
    }
    let Some(flow) = read_flow(state, parts, id) else {
        return Err(Failed::new(
            StatusCode::BAD_REQUEST,
            "This sign-in was not started here, or it took too long. Start again.",
            "no flow cookie",
        ));
    };
    if flow.until <= Timestamp::now().unix() {
        return Err(Failed::new(
            StatusCode::BAD_REQUEST,
            "This sign-in took too long. Start again.",
            "flow expired",
        ));
    }
    let returned = field(&query, "state").unwrap_or("");
    if !tessera_core::secret::constant_time_eq(returned.as_bytes(), flow.state.as_bytes()) {
        return Err(Failed::new(
            StatusCode::BAD_REQUEST,
            "This answer does not belong to the sign-in started in this browser. Start again.",
            "state mismatch",
        ));
    }
    if let Some(error) = field(&query, "error") {
        // The code is shown only when it is a plain OAuth error code.
        let code: String = error
            .chars()
            .filter(|c| c.is_ascii_lowercase() || *c == '_')
            .take(64)
            .collect();
        return Err(Failed::new(
            StatusCode::BAD_REQUEST,
            format!("{} refused the sign-in ({code}).", provider.name),
            format!("provider error {code}"),
        ));
    }
    let Some(code) = field(&query, "code").filter(|c| !c.is_empty()) else {
        return Err(Failed::new(
            StatusCode::BAD_REQUEST,
            "The identity provider sent no authorization code.",
            "no code",
        ));
    };
    let claims = validated_claims(state, parts, provider, code, &flow).await?;
    sign_in(state, parts, provider, claims, flow).await
}

/// What the validated ID token (and UserInfo, for claims the token lacks) says.
struct Claims {
    subject: String,
    all: serde_json::Map<String, serde_json::Value>,
}

async fn validated_claims(
    state: &AppState,
    parts: &Parts,
    provider: &IdentityProvider,
    code: &str,
    flow: &Flow,
) -> Result<Claims, Failed> {
    let id = provider.id.as_str();
    let unreachable = |e: String| {
        tracing::warn!(provider = %id, error = %e, "identity provider exchange failed");
        Failed::new(
            StatusCode::BAD_GATEWAY,
            unreachable_text(provider),
            "provider unreachable",
        )
    };
    let metadata = state
        .oidc
        .metadata(id, false)
        .await
        .map_err(|e| unreachable(e.0))?;
    let client_for = |metadata: &openidconnect::core::CoreProviderMetadata| {
        CoreClient::from_provider_metadata(
            metadata.clone(),
            ClientId::new(provider.client_id.clone()),
            Some(ClientSecret::new(provider.client_secret.0.clone())),
        )
    };
    let redirect = RedirectUrl::new(redirect_uri(parts, id)).map_err(|_| {
        Failed::new(
            StatusCode::BAD_REQUEST,
            "This address cannot sign in.",
            "redirect uri",
        )
    })?;
    let client = client_for(&metadata).set_redirect_uri(redirect);
    let http = state.oidc.http();
    let exchange = client
        .exchange_code(AuthorizationCode::new(code.to_owned()))
        .map_err(|e| unreachable(client::describe(&e)))?
        .set_pkce_verifier(PkceCodeVerifier::new(flow.verifier.clone()));
    let tokens = exchange.request_async(&http).await.map_err(|e| match e {
        // The provider answered, refusing the code (used, expired, not ours).
        openidconnect::RequestTokenError::ServerResponse(refusal) => Failed::new(
            StatusCode::BAD_REQUEST,
            format!(
                "{} refused this sign-in's code. Start again.",
                provider.name
            ),
            format!("token endpoint refused: {}", refusal.error().as_ref()),
        ),
        other => unreachable(client::describe(&other)),
    })?;
    let Some(id_token) = tokens.id_token() else {
        return Err(rejected(provider, "no ID token"));
    };
    let nonce = Nonce::new(flow.nonce.clone());
    let now = Timestamp::now().unix();
    let verify = |metadata: &openidconnect::core::CoreProviderMetadata| {
        let client = client_for(metadata);
        let verifier = client
            .id_token_verifier()
            .set_allowed_algs(ALLOWED_ALGS)
            .set_issue_time_verifier_fn(move |iat| {
                if iat.timestamp() > now + IAT_SKEW {
                    Err("issued in the future".to_owned())
                } else {
                    Ok(())
                }
            });
        id_token.claims(&verifier, &nonce).map(|c| {
            (
                c.subject().as_str().to_owned(),
                c.authorized_party().map(|a| a.as_str().to_owned()),
                c.audiences().len(),
            )
        })
    };
    let verified = match verify(&metadata) {
        Err(ClaimsVerificationError::SignatureVerification(
            SignatureVerificationError::NoMatchingKey,
        )) => {
            // The provider may have rotated its keys: fetch them once more.
            let fresh = state
                .oidc
                .metadata(id, true)
                .await
                .map_err(|e| unreachable(e.0))?;
            verify(&fresh)
        }
        other => other,
    };
    let (subject, azp, audiences) =
        verified.map_err(|e| rejected(provider, &client::describe(&e)))?;
    match azp {
        Some(azp) if azp != provider.client_id => {
            return Err(rejected(provider, "azp is another client"));
        }
        None if audiences > 1 => return Err(rejected(provider, "several audiences and no azp")),
        _ => {}
    }
    // The token verified: its payload can be read for the claims the library does not
    // model (the roles claim, a custom login claim).
    let mut all = payload(&id_token.to_string()).unwrap_or_default();
    let wanted = [
        Some(provider.login_claim.as_str()),
        provider.roles_claim.as_deref(),
        Some("email"),
    ];
    let missing = wanted.iter().flatten().any(|k| !all.contains_key(*k));
    if missing && let Some(userinfo) = metadata.userinfo_endpoint() {
        match state
            .oidc
            .get_json(userinfo.as_str(), tokens.access_token().secret())
            .await
        {
            Ok(info) if info.get("sub").and_then(|s| s.as_str()) == Some(subject.as_str()) => {
                for (k, v) in info {
                    all.entry(k).or_insert(v);
                }
            }
            Ok(_) => return Err(rejected(provider, "userinfo for another subject")),
            // Without the claims it lacks, the sign-in would map roles or name an account
            // wrongly: refused.
            Err(e) => return Err(unreachable(format!("userinfo: {e}"))),
        }
    }
    Ok(Claims { subject, all })
}

/// Signature algorithms accepted from providers: asymmetric only.
const ALLOWED_ALGS: [CoreJwsSigningAlgorithm; 9] = [
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha384,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha512,
    CoreJwsSigningAlgorithm::RsaSsaPssSha256,
    CoreJwsSigningAlgorithm::RsaSsaPssSha384,
    CoreJwsSigningAlgorithm::RsaSsaPssSha512,
    CoreJwsSigningAlgorithm::EcdsaP256Sha256,
    CoreJwsSigningAlgorithm::EcdsaP384Sha384,
    CoreJwsSigningAlgorithm::EdDsa,
];

fn rejected(provider: &IdentityProvider, why: &str) -> Failed {
    Failed::new(
        StatusCode::UNAUTHORIZED,
        format!(
            "The answer from {} could not be trusted, so you are not signed in.",
            provider.name
        ),
        format!("id token rejected: {why}"),
    )
}

fn unreachable_text(provider: &IdentityProvider) -> String {
    format!(
        "{} cannot be reached right now. Try again shortly.",
        provider.name
    )
}

/// The claims of a compact JWS whose signature was verified.
fn payload(jws: &str) -> Option<serde_json::Map<String, serde_json::Value>> {
    let part = jws.split('.').nth(1)?;
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).ok()?).ok()
}

/// A claim as text (a non-empty string).
fn text<'a>(claims: &'a serde_json::Map<String, serde_json::Value>, name: &str) -> Option<&'a str> {
    claims
        .get(name)
        .and_then(|v| v.as_str())
        .filter(|s| !s.is_empty())
}

async fn sign_in(
    state: &AppState,
    parts: &Parts,
    provider: &IdentityProvider,
    claims: Claims,
    flow: Flow,
) -> Result<Response, Failed> {
    let all = &claims.all;
    // An address counts only when the provider says it verified it (`true`, or `"true"`
    // as some providers write it): anyone can type an address into a provider's profile.
    let verified = matches!(
        all.get("email_verified"),
        Some(serde_json::Value::Bool(true))
    ) || all.get("email_verified").and_then(|v| v.as_str()) == Some("true");
    let email = text(all, "email").filter(|_| verified).map(str::to_owned);
    if !provider.allowed_email_domains.is_empty() {
        let domain = email
            .as_deref()
            .and_then(|e| e.rsplit_once('@'))
            .map(|(_, d)| d.to_ascii_lowercase());
        let allowed = domain.is_some_and(|d| provider.allowed_email_domains.contains(&d));
        if !allowed {
            return Err(Failed::new(
                StatusCode::FORBIDDEN,
                "Your e-mail domain may not sign in here.",
                "e-mail domain not allowed",
            ));
        }
    }
    let login = text(all, &provider.login_claim)
        .map(str::to_owned)
        .or_else(|| email.clone());
    let roles = provider.roles_claim.as_ref().map(|claim| {
        let values: Vec<String> = match all.get(claim) {
            Some(serde_json::Value::Array(items)) => items
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
            Some(serde_json::Value::String(s)) => vec![s.clone()],
            _ => Vec::new(),
        };
        let mut wanted: Vec<String> = values
            .iter()
            .filter_map(|v| provider.role_map.get(v))
            .flatten()
            .cloned()
            .collect();
        wanted.sort();
        wanted.dedup();
        let mut managed: Vec<String> = provider.role_map.values().flatten().cloned().collect();
        managed.sort();
        managed.dedup();
        (wanted, managed)
    });
    let who = ExternalSignIn {
        provider: provider.id.clone(),
        issuer: provider.issuer.clone(),
        subject: claims.subject,
        login,
        email,
        first_name: text(all, "given_name").unwrap_or("").to_owned(),
        last_name: text(all, "family_name").unwrap_or("").to_owned(),
        roles,
        create_users: provider.create_users,
    };
    let Ok((ctx, _)) = crate::context::contexts(parts) else {
        return Err(Failed::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Internal error.",
            "no context",
        ));
    };
    let base = crate::params::mount_path(parts);
    // Whether the person authenticated at the provider during this flow (not merely had a
    // session there): only then is the console marked as freshly confirmed (sudo).
    let fresh = all
        .get("auth_time")
        .and_then(|t| t.as_i64())
        .is_some_and(|t| t >= flow.started - 60);
    // Re-confirming (sudo): the signed-in user's own session gets the mark, no new one.
    if flow.sudo {
        if !fresh {
            return Err(Failed::new(
                StatusCode::UNAUTHORIZED,
                format!(
                    "{} did not ask you to sign in again, so nothing was confirmed.",
                    provider.name
                ),
                "sudo without a fresh authentication",
            ));
        }
        let current = match &ctx.session_cookie {
            Some(Some(cookie)) => state
                .auth
                .verify_token(cookie)
                .await
                .ok()
                .map(|i| (i, cookie)),
            _ => None,
        };
        let Some((current, cookie)) = current.filter(|(i, _)| i.session.kind.is_sign_in()) else {
            return Err(Failed::new(
                StatusCode::BAD_REQUEST,
                "You are not signed in here any more. Sign in again.",
                "sudo without a session",
            ));
        };
        let linked = state
            .auth
            .accounts()
            .identity_links(&current.user)
            .await
            .unwrap_or_default();
        if !linked
            .iter()
            .any(|l| l.provider == provider.id && l.subject == who.subject)
        {
            return Err(Failed::new(
                StatusCode::FORBIDDEN,
                format!(
                    "{} signed in another account than yours, so nothing was confirmed.",
                    provider.name
                ),
                "sudo by another account",
            ));
        }
        let digest = tessera_core::secret::digest(cookie.as_bytes());
        let mark = crate::ui::sudo_mark_for(state, base, &digest, ctx.https);
        return Ok(crate::ui::with_sudo_mark(redirect(&flow.next), mark));
    }
    let client = ctx.client_info(&parts.headers, &format!("oidc:{}", provider.id));
    let outcome = state
        .auth
        .sign_in_external(who, client)
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "identity-provider sign-in failed");
            Failed::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "Signing in is not possible right now; try again shortly.",
                "store unavailable",
            )
        })?;
    let (identity, token) = match outcome {
        Ok(signed_in) => signed_in,
        Err(refusal) => {
            let message = match refusal {
                ExternalRefusal::Disabled => "This account is disabled.",
                ExternalRefusal::NotLinked => {
                    "No account here is linked to yours, and this provider may not create one. Ask an administrator."
                }
                ExternalRefusal::NoLogin => "The identity provider did not say which login to use.",
                ExternalRefusal::Taken => {
                    "An account with your login or e-mail address exists here already, and it is not linked to this provider. Ask an administrator."
                }
            };
            // The core recorded it; no second audit event.
            return Ok(failure(
                Chrome::anonymous(state, parts, "Sign in"),
                StatusCode::FORBIDDEN,
                message,
            ));
        }
    };
    tracing::info!(user = %identity.user.login, session = %identity.session.id, provider = %provider.id, "identity-provider sign-in");
    let mut res = redirect(&flow.next);
    if fresh {
        let mark = crate::ui::sudo_mark_for(state, base, &token.digest(), ctx.https);
        res = crate::ui::with_sudo_mark(res, mark);
    }
    res.extensions_mut().insert(IssueToken(csrf::new_token(
        &state.csrf_signer,
        Binding::Session(token.digest()),
    )));
    res.extensions_mut().insert(SetSessionCookie {
        token: token.expose().to_owned(),
        expires_at: identity.session.expires_at,
        issued_at: identity.session.created_at,
    });
    Ok(res)
}

fn failure(c: Chrome, status: StatusCode, message: &str) -> Response {
    error_page(c, status, "Not signed in", message)
}
