//! The request a piece of work serves, as far as the core needs to know it: its id, which
//! every audit event recorded while serving it carries (the HTTP edge sets it for the
//! handler's task; work outside a request has none).

use std::future::Future;
use std::sync::Arc;

tokio::task_local! {
    static REQUEST_ID: Arc<str>;
}

/// Runs `work` as part of the request `id`.
pub async fn scope<F: Future>(id: Arc<str>, work: F) -> F::Output {
    REQUEST_ID.scope(id, work).await
}

/// The id of the request being served, if any.
pub fn current_id() -> Option<Arc<str>> {
    REQUEST_ID.try_with(Arc::clone).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_id_is_seen_inside_its_scope_only() {
        assert!(current_id().is_none());
        let inside = scope(Arc::from("r-1"), async { current_id() }).await;
        assert_eq!(inside.as_deref(), Some("r-1"));
        assert!(current_id().is_none());
    }
}
