//! The audit log of every user: a filter form and the events, newest first, a page at a
//! time.

use askama::Template;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use tessera_core::Timestamp;
use tessera_core::audit::AuditFilter;
use tessera_core::permission::AUDIT_READ;

use super::{PER_PAGE, Tabs, chrome, need, page_number, with_query};
use crate::body::{field, query_pairs};
use crate::ui::{Chrome, Console, page, time};
use crate::{AppState, Problem};

struct EventRow {
    at: String,
    event: String,
    outcome: String,
    login: String,
    method: String,
    ip: String,
    detail: String,
}

/// The filters as the form shows them.
struct Filters {
    login: String,
    event: String,
    outcome: String,
    from: String,
    to: String,
}

#[derive(Template)]
#[template(path = "ui/admin_audit.html")]
struct AuditPage {
    c: Chrome,
    tabs: Tabs,
    f: Filters,
    outcomes: [&'static str; 3],
    error: Option<String>,
    rows: Vec<EventRow>,
    page_no: usize,
    prev: Option<String>,
    next: Option<String>,
}

/// A time filter: RFC 3339, a date or Unix seconds. A date given as `to` counts whole
/// (up to the end of that day).
fn time_filter(text: &str, end_of_day: bool) -> Result<Option<Timestamp>, ()> {
    if text.is_empty() {
        return Ok(None);
    }
    let t = Timestamp::parse(text).ok_or(())?;
    let is_date = text.len() == 10 && text.contains('-');
    Ok(Some(if end_of_day && is_date {
        t.plus(std::time::Duration::from_secs(86_400))
    } else {
        t
    }))
}

/// `GET {base}/ui/admin/audit?login=&event=&outcome=&from=&to=&page=`
/// (`tessera:audit:read`): the events meeting every filter given, 50 a page.
pub(super) async fn search(
    State(state): State<AppState>,
    console: Console,
    req: Request,
) -> Response {
    if let Some(refused) = need(&console, AUDIT_READ) {
        return refused;
    }
    let query = query_pairs(req.uri().query()).unwrap_or_default();
    let text = |name: &str| field(&query, name).unwrap_or("").trim().to_owned();
    let f = Filters {
        login: text("login"),
        event: text("event"),
        outcome: text("outcome"),
        from: text("from"),
        to: text("to"),
    };
    let page_no = page_number(&query);
    let outcomes = ["success", "failure", "throttled"];
    let mut error = None;
    if !f.outcome.is_empty() && !outcomes.contains(&f.outcome.as_str()) {
        error = Some("The outcome is success, failure or throttled.".to_owned());
    }
    let from = time_filter(&f.from, false);
    let to = time_filter(&f.to, true);
    if from.is_err() || to.is_err() {
        error =
            Some("Write times as dates (2026-12-02) or RFC 3339 (2026-12-02T10:00:00Z).".into());
    }
    let some = |s: &String| (!s.is_empty()).then(|| s.clone());
    let (mut rows, mut more) = (Vec::new(), false);
    if error.is_none() {
        // One more than a page tells whether another page follows.
        let filter = AuditFilter {
            login: some(&f.login),
            event: some(&f.event),
            outcome: some(&f.outcome),
            from: from.ok().flatten(),
            to: to.ok().flatten(),
            offset: ((page_no - 1) as u64).saturating_mul(PER_PAGE as u64),
            limit: u32::try_from(PER_PAGE + 1).unwrap_or(u32::MAX),
        };
        let mut events = match state.auth.accounts().search_audit(&filter).await {
            Ok(e) => e,
            Err(e) => return Problem::from(e).into_response_page(),
        };
        more = events.len() > PER_PAGE;
        events.truncate(PER_PAGE);
        rows = events
            .into_iter()
            .map(|e| EventRow {
                at: time(e.at),
                event: e.event,
                outcome: e.outcome,
                login: e.login.unwrap_or_default(),
                method: e.method.unwrap_or_default(),
                ip: e.ip.unwrap_or_default(),
                detail: e.detail.unwrap_or_default(),
            })
            .collect();
    }
    let at = |n: usize| {
        with_query(
            &console,
            "admin/audit",
            &[
                ("login", f.login.clone()),
                ("event", f.event.clone()),
                ("outcome", f.outcome.clone()),
                ("from", f.from.clone()),
                ("to", f.to.clone()),
                ("page", n.to_string()),
            ],
        )
    };
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let tpl = AuditPage {
        c: chrome(&console, "Audit log"),
        tabs: Tabs::new(&console, "audit"),
        prev: (page_no > 1).then(|| at(page_no - 1)),
        next: more.then(|| at(page_no + 1)),
        f,
        outcomes,
        error,
        rows,
        page_no,
    };
    page(status, &tpl, &console.chrome.csrf)
}
