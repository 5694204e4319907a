//! The access decision for a request described by method and normalised path: the first
//! matching rule, the credential it accepts, the permissions it requires, its rate limit. Shared by the
//! gateway and `{base}/verify`, so both decide identically.

use axum::http::request::Parts;
use tessera_core::ratelimit::Caller;
use tessera_core::rules::CredentialKind;
use tessera_core::{AuthFailure, Rules};

use crate::AppState;
use crate::context::contexts;
use crate::credentials::{self, Presented};
use crate::csrf;
use crate::problem::{Challenge, Problem};

pub use crate::principal::Principal;
use crate::principal::Who;
pub use crate::ratelimit::RateHeaders;

/// An allowed request.
pub struct Decision {
    /// Who it is allowed for; `None` on a public rule.
    pub principal: Option<Principal>,
    /// The `RateLimit-Policy` and `RateLimit` headers of its answer, when the rule has
    /// a rate limit.
    pub rate: Option<RateHeaders>,
}

/// Decides a request by `rules`, counting it against the rule's rate limit. Counted in
/// `tessera_decisions_total` by credential kind and outcome.
pub async fn decide(
    state: &AppState,
    rules: &Rules,
    parts: &Parts,
    method: &str,
    path: &str,
    query: Option<&str>,
) -> Result<Decision, Problem> {
    let mut kind = None;
    let decided = decide_counting(state, rules, parts, method, path, query, &mut kind).await;
    let outcome = match &decided {
        Ok(Decision {
            principal: Some(_), ..
        }) => "allowed",
        Ok(_) => "public",
        Err(p) if p.status == axum::http::StatusCode::UNAUTHORIZED => "unauthenticated",
        Err(p) if p.status == axum::http::StatusCode::FORBIDDEN => "forbidden",
        Err(p) if p.code == "rate_limited" => "rate_limited",
        Err(p) if p.status == axum::http::StatusCode::TOO_MANY_REQUESTS => "throttled",
        Err(p) if p.status.is_client_error() => "refused",
        Err(_) => "error",
    };
    const DECISIONS: &str = "tessera_decisions_total";
    let credential = kind.map_or("none", CredentialKind::as_str);
    tessera_core::meter::increment(
        &[DECISIONS, credential, outcome],
        || metrics::counter!(DECISIONS, "credential" => credential, "outcome" => outcome),
    );
    decided
}

/// [`decide`], noting in `kind` the kind of credential presented, once known.
async fn decide_counting(
    state: &AppState,
    rules: &Rules,
    parts: &Parts,
    method: &str,
    path: &str,
    query: Option<&str>,
    kind_seen: &mut Option<CredentialKind>,
) -> Result<Decision, Problem> {
    let (ctx, csrf_ctx) = contexts(parts)?;
    let unsafe_method = csrf::is_unsafe(&method.parse().unwrap_or(axum::http::Method::POST));
    if unsafe_method {
        csrf::check_origin(
            &parts.headers,
            &ctx.own_origin,
            &state.settings.csrf.trusted_origins,
        )?;
    }
    let rule = rules.find(method, path);
    if let Some(r) = rule.filter(|r| r.public) {
        let caller = ctx.client_ip.map_or(Caller::Unknown, Caller::Address);
        return Ok(Decision {
            principal: None,
            rate: crate::ratelimit::count(r, caller)?,
        });
    }
    let presented = credentials::extract_with_query(parts, &state.settings, ctx, query)?;
    let Some(kind) = kind_of(&presented) else {
        return Err(Problem::unauthenticated());
    };
    *kind_seen = Some(kind);
    if !ctx.credentials_allowed {
        return Err(Problem::https_required());
    }
    let challenge = presented.challenge();
    // A kind the rule does not accept is refused before any verification (and before
    // any password hashing).
    let Some(rule) = rule else {
        if kind == CredentialKind::Basic {
            return Err(no_rule());
        }
        verify(state, presented, kind, challenge, None).await?;
        return Err(no_rule());
    };
    if !rule.accepts(kind) {
        return Err(Problem::credential_not_accepted(challenge));
    }
    if kind == CredentialKind::Session && unsafe_method {
        csrf_ctx.check_request(&parts.headers, &state.settings.csrf, None)?;
    }
    let principal = verify(state, presented, kind, challenge, ctx.client_ip).await?;
    if let Some(missing) = rule.permissions.iter().find(|p| !principal.allows(p)) {
        return Err(Problem::forbidden(missing, kind == CredentialKind::Token));
    }
    let rate = crate::ratelimit::count(rule, Caller::User(principal.user().id))?;
    Ok(Decision {
        principal: Some(principal),
        rate,
    })
}

/// Authenticates a request by whichever credential it presents, in the order of
/// precedence, with no access rule: `Ok(None)` when it presents none. A session cookie on
/// an unsafe method needs the CSRF header; plain HTTP needs to be acceptable.
pub async fn authenticate(state: &AppState, parts: &Parts) -> Result<Option<Principal>, Problem> {
    let (ctx, csrf_ctx) = contexts(parts)?;
    let presented = credentials::extract(parts, &state.settings, ctx)?;
    let Some(kind) = kind_of(&presented) else {
        return Ok(None);
    };
    if !ctx.credentials_allowed {
        return Err(Problem::https_required());
    }
    if kind == CredentialKind::Session && csrf::is_unsafe(&parts.method) {
        csrf_ctx.check_request(&parts.headers, &state.settings.csrf, None)?;
    }
    let challenge = presented.challenge();
    verify(state, presented, kind, challenge, ctx.client_ip)
        .await
        .map(Some)
}

/// The kind of a presented credential; `None` when there is none.
fn kind_of(presented: &Presented) -> Option<CredentialKind> {
    Some(match presented {
        Presented::Token(_) => CredentialKind::Token,
        Presented::Cookie(_) => CredentialKind::Session,
        Presented::ClientSecret(_) => CredentialKind::ClientSecret,
        Presented::Basic { .. } => CredentialKind::Basic,
        Presented::None => return None,
    })
}

fn no_rule() -> Problem {
    Problem::new(axum::http::StatusCode::FORBIDDEN, "forbidden", "Forbidden")
        .with_detail("no access rule allows this request")
}

async fn verify(
    state: &AppState,
    presented: Presented,
    kind: CredentialKind,
    challenge: Challenge,
    ip: Option<std::net::IpAddr>,
) -> Result<Principal, Problem> {
    let failed = |f: AuthFailure| Problem::from_auth_failure(&f, challenge);
    match presented {
        Presented::Token(t) | Presented::Cookie(Some(t)) => {
            let identity = state.auth.verify_token(&t).await.map_err(failed)?;
            Ok(Principal {
                credential: kind,
                who: Who::Identity(identity),
            })
        }
        Presented::Cookie(None) => Err(failed(AuthFailure::Invalid)),
        Presented::ClientSecret(s) => {
            let (user, permissions) = state.auth.verify_client_secret(&s).await.map_err(failed)?;
            Ok(Principal {
                credential: kind,
                who: Who::Account { user, permissions },
            })
        }
        // A personal access token as the Basic password (tools that speak only Basic:
        // docker, git, Maven, npm), whatever the user name: the token itself, with its
        // scopes, and no password hashing.
        Presented::Basic { password, .. }
            if tessera_core::token::parse(password.expose())
                .is_ok_and(|t| t.kind == tessera_core::token::TokenKind::PersonalAccess) =>
        {
            let identity = state
                .auth
                .verify_token(password.expose())
                .await
                .map_err(failed)?;
            Ok(Principal {
                credential: kind,
                who: Who::Identity(identity),
            })
        }
        Presented::Basic { username, password } => {
            let client = tessera_core::session::ClientInfo {
                ip: ip.map(|ip| ip.to_string()),
                user_agent: None,
                method: Some("basic".into()),
            };
            match state
                .auth
                .check_password(&username, &password, &client)
                .await?
            {
                Ok(user) => {
                    let permissions = state.auth.accounts().permissions_of(&user).await?;
                    Ok(Principal {
                        credential: kind,
                        who: Who::Account { user, permissions },
                    })
                }
                Err(AuthFailure::Throttled(r)) => Err(Problem::too_many_attempts(r)),
                Err(_) => Err(Problem::invalid_credentials(Challenge::Basic)),
            }
        }
        Presented::None => Err(Problem::unauthenticated()),
    }
}
