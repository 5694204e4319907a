//! Request-path normalisation, done once and used both to match access rules and to
//! forward: what the rules judged is exactly what the upstream receives.
//!
//! Percent-encoded unreserved characters are decoded (`%61` → `a`), other escapes keep
//! their meaning with upper-case hex, empty segments (`//`) and `.` are dropped, `..`
//! removes the previous segment, and `;` parameters are cut from every segment. What
//! cannot be normalised without guessing (an encoded `/`, `\` or NUL, control characters,
//! bad escapes, `..` above the root) is refused, so no two components can disagree about
//! which resource a path names. So is what an upstream may silently rewrite into another
//! path: a double-encoded escape (`%252e`, which a second decoding turns into `.`), and a
//! segment ending in a dot or a space (`/admin.`, `/admin%20`, which Windows-based
//! servers treat as `/admin`).

use std::fmt::Write as _;

/// Why a request path is refused by [`normalize`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    /// The path does not start with `/`.
    #[error("the path must start with `/`")]
    NotAbsolute,
    /// A `%` that is not followed by two hex digits.
    #[error("the path has an invalid percent-escape")]
    BadEscape,
    /// An encoded `/`, a `\` (encoded or not), or a NUL or other control character
    /// (encoded or not).
    #[error("the path contains an encoded `/`, `\\`, NUL or a control character")]
    Ambiguous,
    /// A `..` segment with nothing left to remove.
    #[error("the path climbs above the root")]
    AboveRoot,
    /// Longer than [`MAX_PATH`] bytes.
    #[error("the path is too long")]
    TooLong,
    /// An escape that a second decoding would turn into a character (`%252e`).
    #[error("the path contains a double-encoded escape (`%25` followed by hex digits)")]
    DoubleEncoded,
    /// A segment ending in `.` or a space (`/admin.`, `/admin%20`).
    #[error("a path segment ends in a dot or a space")]
    TrailingDotOrSpace,
}

/// Longest path accepted, in bytes.
pub const MAX_PATH: usize = 8192;

fn unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

/// Normalises the path part of a request target (no query string).
pub fn normalize(raw: &str) -> Result<String, PathError> {
    if raw.len() > MAX_PATH {
        return Err(PathError::TooLong);
    }
    if !raw.starts_with('/') {
        return Err(PathError::NotAbsolute);
    }
    let trailing_slash =
        raw.len() > 1 && (raw.ends_with('/') || raw.ends_with("/.") || raw.ends_with("/.."));
    let mut segments: Vec<String> = Vec::new();
    for seg in raw.split('/').skip(1) {
        // `;` parameters (`/admin;jsessionid=x`) never select a different resource here.
        let seg = seg.split(';').next().unwrap_or("");
        let decoded = decode_segment(seg)?;
        if double_encoded(&decoded) {
            return Err(PathError::DoubleEncoded);
        }
        match decoded.as_str() {
            "" | "." => {}
            ".." => {
                if segments.pop().is_none() {
                    return Err(PathError::AboveRoot);
                }
            }
            d if d.ends_with('.') || d.ends_with("%20") || d.ends_with(' ') => {
                return Err(PathError::TrailingDotOrSpace);
            }
            _ => segments.push(decoded),
        }
    }
    let mut out = String::with_capacity(raw.len());
    for s in &segments {
        out.push('/');
        out.push_str(s);
    }
    if out.is_empty() || trailing_slash {
        out.push('/');
    }
    Ok(out)
}

/// Whether a decoded segment (where `%` is always spelled `%25`) holds `%25` followed by
/// two hex digits: an escape that a second decoding would turn into a character,
/// however the first level was spelled (`%252e`, `%25%32%65`).
fn double_encoded(decoded: &str) -> bool {
    let b = decoded.as_bytes();
    b.windows(5)
        .any(|w| w[..3].eq_ignore_ascii_case(b"%25") && hex(w[3]).is_some() && hex(w[4]).is_some())
}

/// Decodes unreserved escapes; keeps the others (upper-case hex); refuses ambiguity.
fn decode_segment(seg: &str) -> Result<String, PathError> {
    let bytes = seg.as_bytes();
    let mut out = String::with_capacity(seg.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        match b {
            b'%' => {
                let (Some(h), Some(l)) = (
                    bytes.get(i + 1).and_then(|&c| hex(c)),
                    bytes.get(i + 2).and_then(|&c| hex(c)),
                ) else {
                    return Err(PathError::BadEscape);
                };
                let v = h * 16 + l;
                if v == b'/' || v == b'\\' || v == 0 || v < 0x20 || v == 0x7f {
                    return Err(PathError::Ambiguous);
                }
                if unreserved(v) {
                    out.push(v as char);
                } else {
                    let _ = write!(out, "%{v:02X}");
                }
                i += 3;
            }
            b'\\' => return Err(PathError::Ambiguous),
            c if c < 0x20 || c == 0x7f => return Err(PathError::Ambiguous),
            _ => {
                // Copy a run of ordinary bytes (whole UTF-8 sequences stay intact).
                let start = i;
                while i < bytes.len()
                    && !matches!(bytes[i], b'%' | b'\\')
                    && bytes[i] >= 0x20
                    && bytes[i] != 0x7f
                {
                    i += 1;
                }
                out.push_str(&seg[start..i]);
                continue;
            }
        }
    }
    // `.` and `..` spelled with escapes are still dot segments: handled by the caller.
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variants_reach_the_same_route() {
        for p in [
            "/api/admin",
            "/api/%61dmin",
            "/api//admin",
            "/api/./admin",
            "/api/x/../admin",
            "/api/admin;x",
            "/api/%2e/admin",
        ] {
            assert_eq!(normalize(p).unwrap(), "/api/admin", "{p}");
        }
        assert_eq!(normalize("/api/admin/").unwrap(), "/api/admin/");
        assert_eq!(normalize("/").unwrap(), "/");
        assert_eq!(normalize("//").unwrap(), "/");
        assert_eq!(normalize("/a/%2e%2e/b").unwrap(), "/b");
        assert_eq!(normalize("/a/%20b").unwrap(), "/a/%20b");
        assert_eq!(normalize("/a/%7e%7E").unwrap(), "/a/~~");
        assert_eq!(normalize("/a/%c3%a9").unwrap(), "/a/%C3%A9");
        assert_eq!(normalize("/café").unwrap(), "/café");
    }

    #[test]
    fn refuses_what_cannot_be_normalised_safely() {
        assert_eq!(normalize("api"), Err(PathError::NotAbsolute));
        assert_eq!(normalize("/a%2fb"), Err(PathError::Ambiguous));
        assert_eq!(normalize("/a%5cb"), Err(PathError::Ambiguous));
        assert_eq!(normalize("/a\\b"), Err(PathError::Ambiguous));
        assert_eq!(normalize("/a%00"), Err(PathError::Ambiguous));
        assert_eq!(normalize("/a%zz"), Err(PathError::BadEscape));
        assert_eq!(normalize("/a%4"), Err(PathError::BadEscape));
        assert_eq!(normalize("/.."), Err(PathError::AboveRoot));
        assert_eq!(normalize("/a/../.."), Err(PathError::AboveRoot));
        assert_eq!(
            normalize(&format!("/{}", "a".repeat(9000))),
            Err(PathError::TooLong)
        );
    }

    #[test]
    fn refuses_what_an_upstream_could_rewrite_into_another_path() {
        for p in ["/admin%252e/x", "/%2561dmin", "/a/%25%32%65", "/x%252F"] {
            assert_eq!(normalize(p), Err(PathError::DoubleEncoded), "{p}");
        }
        for p in [
            "/admin./x",
            "/admin%2e/x",
            "/admin%20/x",
            "/admin%20",
            "/admin...",
            "/a/b.",
        ] {
            assert_eq!(normalize(p), Err(PathError::TrailingDotOrSpace), "{p}");
        }
        // A literal percent sign not followed by hex, and dots inside a segment, are fine.
        assert_eq!(normalize("/100%25").unwrap(), "/100%25");
        assert_eq!(normalize("/a%25z").unwrap(), "/a%25z");
        assert_eq!(normalize("/v1.2/file.txt").unwrap(), "/v1.2/file.txt");
        assert_eq!(normalize("/a%20b").unwrap(), "/a%20b");
    }

    #[test]
    fn normalising_is_idempotent() {
        for p in ["/api/%61dmin/", "/a/%c3%a9/./b", "/x;y/z", "/a%20b"] {
            let once = normalize(p).unwrap();
            assert_eq!(normalize(&once).unwrap(), once, "{p}");
        }
    }
}
