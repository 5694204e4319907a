//! The audit log of every user.

use axum::extract::{RawQuery, State};
use axum::response::Response;
use tessera_core::Timestamp;
use tessera_core::audit::AuditEvent;
use tessera_core::audit::AuditFilter;
use tessera_core::permission::AUDIT_READ;

use super::{allowed, no_store, paging};
use crate::auth::Authenticated;
use crate::body::{field, query_pairs};
use crate::{AppState, Problem};

/// A page of audit events.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct AuditPage {
    events: Vec<AuditEvent>,
    page: usize,
    per_page: usize,
    /// The next page's number; null on the last page.
    next_page: Option<usize>,
}

/// `GET {base}/admin/audit?login=&event=&outcome=&from=&to=&page=&per_page=`
/// (`tessera:audit:read`): security events of every user, newest first, those meeting
/// every filter given (`from` inclusive, `to` exclusive; RFC 3339, a date, or Unix
/// seconds), a page at a time (`per_page` 1 to 200, default 50). `next_page` is `null`
/// on the last page.
#[utoipa::path(
    get,
    path = "/admin/audit",
    tag = "admin",
    summary = "Search the audit log",
    description = "Security events of every user meeting every filter given.",
    security(("signed_in" = ["tessera:audit:read"])),
    params(("login" = Option<String>, Query, description = "Events of this login"), ("event" = Option<String>, Query, description = "Events of this kind (`login`, `token_created`, ...)"), ("outcome" = Option<String>, Query, description = "`success`, `failure` or `throttled`"), ("from" = Option<String>, Query, description = "From this time, inclusive: RFC 3339, a date, or Unix seconds"), ("to" = Option<String>, Query, description = "Until this time, exclusive"), ("page" = Option<u32>, Query, minimum = 1, description = "The page, from 1"), ("per_page" = Option<u32>, Query, minimum = 1, maximum = 200, description = "Events per page (default 50)")),
    responses(
        (status = 200, description = "A page of events, newest first", body = AuditPage),
    ),
)]
pub async fn search(
    State(state): State<AppState>,
    auth: Authenticated,
    RawQuery(query): RawQuery,
) -> Result<Response, Problem> {
    allowed(auth, AUDIT_READ)?;
    let query = query_pairs(query.as_deref())?;
    let (page, per_page) = paging(&query)?;
    let text = |name: &str| {
        field(&query, name)
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    };
    let time = |name: &str| {
        match text(name) {
        None => Ok(None),
        Some(v) => Timestamp::parse(&v).map(Some).ok_or_else(|| {
            Problem::validation_failed(format!(
                "`{name}` must be a time (2026-12-02T10:00:00Z), a date (2026-12-02) or Unix seconds"
            ))
        }),
    }
    };
    let outcome = text("outcome");
    if let Some(o) = &outcome
        && !["success", "failure", "throttled"].contains(&o.as_str())
    {
        return Err(Problem::validation_failed(
            "`outcome` must be success, failure or throttled",
        ));
    }
    // One more than a page tells whether another page follows.
    let filter = AuditFilter {
        login: text("login"),
        event: text("event"),
        outcome,
        from: time("from")?,
        to: time("to")?,
        offset: ((page - 1) as u64).saturating_mul(per_page as u64),
        limit: u32::try_from(per_page + 1).unwrap_or(u32::MAX),
    };
    let mut events = state.auth.accounts().search_audit(&filter).await?;
    let more = events.len() > per_page;
    events.truncate(per_page);
    Ok(no_store(AuditPage {
        events,
        page,
        per_page,
        next_page: more.then_some(page + 1),
    }))
}
