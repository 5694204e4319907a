//! Which request paths are Tessera's own: decided on the normalised path, so that no
//! spelling of an auth endpoint is ever forwarded to an upstream.

use crate::settings::HttpSettings;

/// The first path segments (under the base path) of the auth endpoints.
pub const FIRST_SEGMENTS: [&str; 14] = [
    "admin",
    "oidc",
    "audit",
    "ui",
    "verify",
    "login",
    "session",
    "logout",
    "sessions",
    "tokens",
    "apikeys",
    "client-secret",
    "oauth",
    "openapi.json",
];

/// Whether a normalised path is one of Tessera's own (under the base path, or, with an
/// empty base path, one of the auth endpoints), compared ignoring case unless the rules
/// are case-sensitive.
pub fn is_own_path(settings: &HttpSettings, path: &str) -> bool {
    let fold = !settings.rules.case_sensitive();
    let eq = |a: &str, b: &str| {
        if fold {
            a.eq_ignore_ascii_case(b)
        } else {
            a == b
        }
    };
    let base = settings.base_path.as_str();
    if base.is_empty() {
        let first = path.trim_start_matches('/').split('/').next().unwrap_or("");
        return FIRST_SEGMENTS.iter().any(|s| eq(s, first));
    }
    path.len() >= base.len()
        && path.is_char_boundary(base.len())
        && eq(&path[..base.len()], base)
        && matches!(path.as_bytes().get(base.len()), None | Some(b'/'))
}

/// Whether `path`, as received (not normalised), is under the base path: what the router
/// serves itself, and so how the edge times its body. Never used to decide forwarding.
pub fn under_base_as_received(base: &str, path: &str) -> bool {
    base.is_empty()
        || path
            .strip_prefix(base)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_paths_are_judged_after_normalisation() {
        let mut s = HttpSettings::default();
        for p in ["/api", "/api/", "/api/login", "/API/tokens", "/Api/x"] {
            assert!(is_own_path(&s, p), "{p}");
        }
        for p in ["/apis", "/", "/x/api/login", "/ap"] {
            assert!(!is_own_path(&s, p), "{p}");
        }
        s.base_path = String::new();
        for p in [
            "/login",
            "/LOGIN/key",
            "/tokens/1",
            "/oauth/token",
            "/verify",
        ] {
            assert!(is_own_path(&s, p), "{p}");
        }
        for p in ["/", "/orders", "/loginx"] {
            assert!(!is_own_path(&s, p), "{p}");
        }
    }
}
