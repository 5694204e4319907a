//! Access rules: which requests need which credentials and permissions.
//!
//! A rule is `match = "<methods> <glob>"` (`*` for any method, or a list such as
//! `GET,HEAD`), where the glob's `*` stands for exactly one path segment and `**` for any
//! number of them (zero included). A trailing `/` on the request path is not significant
//! for matching. Letter case in paths is ignored by default (`/ADMIN/x` is matched as
//! `/admin/x`), because many upstreams route case-insensitively; [`Rules::compile_case_sensitive`]
//! keeps it significant. Rules are compiled once at start-up, checked for mistakes, and
//! matched first-to-last, allocating only to lower-case a path that has capitals.

use std::borrow::Cow;

use std::fmt;

/// How a credential was presented, as rules name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CredentialKind {
    /// The session cookie (`session`).
    Session,
    /// A bearer token, whichever way it came (`token`).
    Token,
    /// A client secret in `Authorization: Secret` (`client_secret`).
    ClientSecret,
    /// HTTP Basic with a login and password (`basic`).
    Basic,
}

impl CredentialKind {
    /// The kind a rule's `credentials` list names; `None` for an unknown name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "session" => Some(Self::Session),
            "token" => Some(Self::Token),
            "client_secret" => Some(Self::ClientSecret),
            "basic" => Some(Self::Basic),
            _ => None,
        }
    }

    /// The kind's name, as rules write it (and as sent upstream in `X-Tessera-Credential`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Session => "session",
            Self::Token => "token",
            Self::ClientSecret => "client_secret",
            Self::Basic => "basic",
        }
    }
}

/// A rule as configured.
#[derive(Debug, Clone, Default)]
pub struct RuleSpec {
    /// `<methods> <glob>`, such as `GET,HEAD /orders/**`, or a glob alone for any method.
    pub matches: String,
    /// Permissions a request must hold, every one of them.
    pub permissions: Vec<String>,
    /// Names of the credential kinds accepted; `None` accepts the session cookie and
    /// tokens.
    pub credentials: Option<Vec<String>>,
    /// Requests pass without any credential; such a rule cannot require permissions.
    pub public: bool,
    /// Requests per period per caller (`600/1m`), if limited.
    pub rate_limit: Option<String>,
    /// How many requests of one caller may come at once (default: the whole limit).
    pub burst: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    One,
    Any,
}

/// A rule compiled from a [`RuleSpec`].
#[derive(Debug, Clone)]
pub struct Rule {
    /// Position in the configuration, from 0.
    pub index: usize,
    /// `None`: any method.
    methods: Option<Vec<String>>,
    segments: Vec<Segment>,
    /// Permissions a request must hold, every one of them.
    pub permissions: Vec<String>,
    /// The credential kinds accepted.
    pub credentials: Vec<CredentialKind>,
    /// Requests pass without any credential.
    pub public: bool,
    /// The rule's `matches` text as configured, for messages.
    pub source: String,
    /// Its rate limit per caller, if it has one.
    pub rate_limit: Option<crate::ratelimit::RateLimit>,
    /// Literals are kept as written (else lower-cased, and paths lower-cased to match).
    case_sensitive: bool,
}

/// A rule that cannot work, named by its position and text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleError {
    /// The rule's position in the configuration, from 0.
    pub index: usize,
    /// The rule's `matches` text as configured.
    pub source: String,
    /// What is wrong with it.
    pub reason: String,
}

impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "rules[{}] (`{}`): {}",
            self.index, self.source, self.reason
        )
    }
}

impl std::error::Error for RuleError {}

const METHODS: &[&str] = &[
    "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT",
];

impl Rule {
    fn compile(index: usize, spec: &RuleSpec, case_sensitive: bool) -> Result<Self, RuleError> {
        let err = |reason: String| RuleError {
            index,
            source: spec.matches.clone(),
            reason,
        };
        let text = spec.matches.trim();
        let (methods, glob) = match text.split_once(char::is_whitespace) {
            Some((m, g)) => (m, g.trim()),
            None => ("*", text),
        };
        let methods = if methods == "*" {
            None
        } else {
            let list: Vec<String> = methods
                .split([',', '|'])
                .map(|m| m.trim().to_ascii_uppercase())
                .filter(|m| !m.is_empty())
                .collect();
            if list.is_empty() {
                return Err(err("no method".into()));
            }
            if let Some(bad) = list.iter().find(|m| !METHODS.contains(&m.as_str())) {
                return Err(err(format!("unknown method `{bad}`")));
            }
            Some(list)
        };
        if !glob.starts_with('/') {
            return Err(err("the path glob must start with `/`".into()));
        }
        let mut segments = Vec::new();
        let body = glob.trim_end_matches('/');
        for seg in body.split('/').skip(1) {
            segments.push(match seg {
                "" => return Err(err("`//` can never match a normalised path".into())),
                "." | ".." => {
                    return Err(err(
                        "`.` and `..` segments can never match a normalised path".into(),
                    ));
                }
                "*" => Segment::One,
                "**" => Segment::Any,
                s if s.contains('*') => {
                    return Err(err(format!("`{s}`: `*` and `**` must be whole segments")));
                }
                s if s.contains([';', '?', '#', '\\']) => {
                    return Err(err(format!(
                        "`{s}` contains a character that a normalised path cannot have"
                    )));
                }
                s if s.contains('%') => {
                    return Err(err(format!(
                        "`{s}`: write the decoded path, not percent-escapes"
                    )));
                }
                s if case_sensitive => Segment::Literal(s.to_owned()),
                s => Segment::Literal(s.to_lowercase()),
            });
        }
        let credentials = match &spec.credentials {
            None => vec![CredentialKind::Session, CredentialKind::Token],
            Some(list) => {
                let mut out = Vec::new();
                for c in list {
                    let kind = CredentialKind::parse(c).ok_or_else(|| {
                        err(format!(
                            "unknown credential kind `{c}` (session, token, client_secret, basic)"
                        ))
                    })?;
                    out.push(kind);
                }
                if out.is_empty() && !spec.public {
                    return Err(err(
                        "`credentials` is empty, so no request could pass".into()
                    ));
                }
                out
            }
        };
        for p in &spec.permissions {
            crate::Permission::parse(p).map_err(|e| err(e.to_string()))?;
        }
        if spec.public && !spec.permissions.is_empty() {
            return Err(err("a public rule cannot require permissions".into()));
        }
        let rate_limit = match (&spec.rate_limit, spec.burst) {
            (Some(text), burst) => Some(
                crate::ratelimit::RateLimit::parse(text, burst)
                    .map_err(|e| err(format!("rate_limit {e}")))?
                    .named(index),
            ),
            (None, Some(_)) => return Err(err("`burst` needs a `rate_limit`".into())),
            (None, None) => None,
        };
        Ok(Self {
            index,
            methods,
            segments,
            permissions: spec.permissions.clone(),
            credentials,
            public: spec.public,
            source: spec.matches.clone(),
            rate_limit,
            case_sensitive,
        })
    }

    /// Whether this rule applies to `method` and the normalised `path`.
    pub fn matches(&self, method: &str, path: &str) -> bool {
        if self.case_sensitive {
            self.matches_folded(method, path)
        } else {
            self.matches_folded(method, &fold(path))
        }
    }

    /// [`Rule::matches`] for a path already lower-cased when the rule ignores case.
    fn matches_folded(&self, method: &str, path: &str) -> bool {
        if let Some(ms) = &self.methods
            && !ms.iter().any(|m| m.eq_ignore_ascii_case(method))
        {
            return false;
        }
        let path = path.strip_suffix('/').unwrap_or(path);
        let rest = path.strip_prefix('/').unwrap_or(path);
        match_segments(&self.segments, rest)
    }

    /// Whether this rule accepts a credential of `kind`.
    pub fn accepts(&self, kind: CredentialKind) -> bool {
        self.credentials.contains(&kind)
    }

    /// Whether every request this rule could match is already taken by `earlier`.
    fn shadowed_by(&self, earlier: &Rule) -> bool {
        let methods_covered = match (&earlier.methods, &self.methods) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(e), Some(m)) => m.iter().all(|x| e.contains(x)),
        };
        methods_covered && (earlier.segments == self.segments || earlier.segments == [Segment::Any])
    }
}

/// Matches pattern segments against `rest` (the path without its leading `/`), in
/// O(pattern × path) time whatever the number of `**` (the classic greedy wildcard
/// algorithm with one backtrack point), and without allocating.
fn match_segments(pattern: &[Segment], rest: &str) -> bool {
    // The byte offset where the segment after the one starting at `at` begins.
    let next = |at: usize| rest[at..].find('/').map_or(rest.len(), |i| at + i + 1);
    let segment = |at: usize| rest[at..next(at)].trim_end_matches('/');
    let (mut p, mut s) = (0usize, 0usize);
    // After a `**`: the pattern position after it, and where in the path it resumes.
    let mut star: Option<(usize, usize)> = None;
    loop {
        let at_end = s >= rest.len();
        match pattern.get(p) {
            Some(Segment::Any) => {
                star = Some((p + 1, s));
                p += 1;
                continue;
            }
            Some(Segment::One) if !at_end => {
                p += 1;
                s = next(s);
                continue;
            }
            Some(Segment::Literal(l)) if !at_end && segment(s) == l => {
                p += 1;
                s = next(s);
                continue;
            }
            None if at_end => return true,
            _ => {}
        }
        // Mismatch: let the last `**` swallow one more segment, if it can.
        match star {
            Some((sp, ss)) if ss < rest.len() => {
                let ss = next(ss);
                star = Some((sp, ss));
                p = sp;
                s = ss;
            }
            _ => return false,
        }
    }
}

/// The compiled rule list, indexed by first path segment so that a request only tries
/// the rules that could match it (in configuration order).
#[derive(Debug, Clone, Default)]
pub struct Rules {
    rules: Vec<Rule>,
    /// Rules whose glob starts with a literal segment, by that segment.
    by_first: std::collections::HashMap<String, Vec<usize>>,
    /// Rules whose glob starts with `*` or `**`, or is `/`.
    wild: Vec<usize>,
    case_sensitive: bool,
}

/// `path` lower-cased, borrowed when it has no capital letter.
fn fold(path: &str) -> Cow<'_, str> {
    if !path
        .bytes()
        .any(|b| b.is_ascii_uppercase() || !b.is_ascii())
    {
        Cow::Borrowed(path)
    } else {
        Cow::Owned(path.to_lowercase())
    }
}

impl Rules {
    /// Compiles rules that match paths ignoring letter case (the default).
    pub fn compile(specs: &[RuleSpec]) -> Result<Self, RuleError> {
        Self::compile_with_case(specs, false)
    }

    /// Compiles rules that match paths with letter case significant.
    pub fn compile_case_sensitive(specs: &[RuleSpec]) -> Result<Self, RuleError> {
        Self::compile_with_case(specs, true)
    }

    fn compile_with_case(specs: &[RuleSpec], case_sensitive: bool) -> Result<Self, RuleError> {
        let mut rules: Vec<Rule> = Vec::with_capacity(specs.len());
        for (i, spec) in specs.iter().enumerate() {
            let rule = Rule::compile(i, spec, case_sensitive)?;
            if let Some(earlier) = rules.iter().find(|e| rule.shadowed_by(e)) {
                return Err(RuleError {
                    index: i,
                    source: spec.matches.clone(),
                    reason: format!(
                        "can never match: rules[{}] (`{}`) takes every request it would",
                        earlier.index, earlier.source
                    ),
                });
            }
            rules.push(rule);
        }
        let mut by_first: std::collections::HashMap<String, Vec<usize>> =
            std::collections::HashMap::new();
        let mut wild = Vec::new();
        for (i, r) in rules.iter().enumerate() {
            match r.segments.first() {
                Some(Segment::Literal(l)) => by_first.entry(l.clone()).or_default().push(i),
                _ => wild.push(i),
            }
        }
        Ok(Self {
            rules,
            by_first,
            wild,
            case_sensitive,
        })
    }

    /// The first rule that applies, if any.
    pub fn find(&self, method: &str, normalized_path: &str) -> Option<&Rule> {
        if self.case_sensitive {
            self.find_folded(method, normalized_path)
        } else {
            self.find_folded(method, &fold(normalized_path))
        }
    }

    fn find_folded(&self, method: &str, normalized_path: &str) -> Option<&Rule> {
        let first = normalized_path
            .trim_start_matches('/')
            .split('/')
            .next()
            .unwrap_or("");
        let literal = self.by_first.get(first).map_or(&[][..], Vec::as_slice);
        // Merge the two ascending index lists: rules are tried in configuration order.
        let (mut a, mut b) = (literal.iter().peekable(), self.wild.iter().peekable());
        loop {
            let next = match (a.peek(), b.peek()) {
                (Some(&&x), Some(&&y)) if x < y => a.next(),
                (Some(_), Some(_)) => b.next(),
                (Some(_), None) => a.next(),
                (None, Some(_)) => b.next(),
                (None, None) => return None,
            };
            let rule = &self.rules[*next?];
            if rule.matches_folded(method, normalized_path) {
                return Some(rule);
            }
        }
    }

    /// Whether paths are matched with letter case significant.
    pub fn case_sensitive(&self) -> bool {
        self.case_sensitive
    }

    /// How many rules there are.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// Whether there are no rules, so that no request matches any.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(m: &str) -> RuleSpec {
        RuleSpec {
            matches: m.into(),
            ..RuleSpec::default()
        }
    }

    fn rules(list: &[&str]) -> Rules {
        Rules::compile(&list.iter().map(|m| spec(m)).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn globs() {
        let r = rules(&[
            "GET /orders/**",
            "POST /orders/*/items",
            "* /public/*",
            "GET,HEAD /exact",
        ]);
        let idx = |m: &str, p: &str| r.find(m, p).map(|r| r.index);
        assert_eq!(idx("GET", "/orders"), Some(0), "** matches zero segments");
        assert_eq!(idx("GET", "/orders/1/items/2"), Some(0));
        assert_eq!(
            idx("get", "/orders/1"),
            Some(0),
            "method case is normalised"
        );
        assert_eq!(idx("POST", "/orders/1/items"), Some(1));
        assert_eq!(
            idx("POST", "/orders/1/items/"),
            Some(1),
            "trailing slash is not significant"
        );
        assert_eq!(idx("POST", "/orders/items"), None);
        assert_eq!(idx("POST", "/orders/1/2/items"), None, "* is one segment");
        assert_eq!(idx("DELETE", "/public/x"), Some(2));
        assert_eq!(idx("DELETE", "/public"), None, "* needs a segment");
        assert_eq!(idx("DELETE", "/public/x/y"), None);
        assert_eq!(idx("HEAD", "/exact"), Some(3));
        assert_eq!(idx("POST", "/exact"), None);
        assert_eq!(idx("GET", "/exactly"), None);
        let all = rules(&["* /**"]);
        assert!(all.find("GET", "/").is_some());
        assert!(all.find("PUT", "/a/b/c").is_some());
        // Configuration order holds across literal and wildcard first segments.
        let order = rules(&["GET /a/x", "GET /*/y", "GET /a/**"]);
        assert_eq!(order.find("GET", "/a/y").map(|r| r.index), Some(1));
        assert_eq!(order.find("GET", "/a/x").map(|r| r.index), Some(0));
        assert_eq!(order.find("GET", "/a/z").map(|r| r.index), Some(2));
        assert_eq!(order.find("GET", "/b/y").map(|r| r.index), Some(1));
        let mid = rules(&["GET /a/**/z"]);
        assert!(mid.find("GET", "/a/z").is_some());
        assert!(mid.find("GET", "/a/b/c/z").is_some());
        assert!(mid.find("GET", "/a/b/c/y").is_none());
    }

    #[test]
    fn letter_case_is_ignored_unless_asked() {
        let specs = [spec("* /admin/**"), spec("GET /Café/*"), spec("* /**")];
        let r = Rules::compile(&specs).unwrap();
        for p in ["/admin/x", "/ADMIN/x", "/Admin", "/aDmIn/Y/z"] {
            assert_eq!(r.find("GET", p).map(|r| r.index), Some(0), "{p}");
        }
        assert_eq!(r.find("GET", "/CAFÉ/x").map(|r| r.index), Some(1));
        assert_eq!(r.find("GET", "/café/x").map(|r| r.index), Some(1));
        assert_eq!(r.find("GET", "/administrator").map(|r| r.index), Some(2));
        assert!(r.rules[0].matches("GET", "/ADMIN/x"));

        let exact = Rules::compile_case_sensitive(&specs).unwrap();
        assert_eq!(exact.find("GET", "/admin/x").map(|r| r.index), Some(0));
        assert_eq!(exact.find("GET", "/ADMIN/x").map(|r| r.index), Some(2));
        assert_eq!(exact.find("GET", "/Café/x").map(|r| r.index), Some(1));
        assert_eq!(exact.find("GET", "/café/x").map(|r| r.index), Some(2));

        // Ignoring case, two spellings of one glob are one rule: the second is unreachable.
        let dup = [spec("GET /Orders"), spec("GET /orders")];
        assert!(Rules::compile(&dup).is_err());
        assert!(Rules::compile_case_sensitive(&dup).is_ok());
    }

    #[test]
    fn many_double_stars_stay_linear() {
        // Exponential backtracking would not finish: this is found by the fuzzer.
        let r = rules(&["GET /**/a/**/b/**/c/**/d/**/e/**/f"]);
        let path = format!("/{}", vec!["a"; 400].join("/"));
        assert!(r.find("GET", &path).is_none());
        let path = format!("{path}/b/c/d/e/f");
        assert!(r.find("GET", &path).is_some());
    }

    #[test]
    fn mistakes_are_named() {
        let bad = |m: &str, creds: Option<Vec<&str>>| {
            let s = RuleSpec {
                matches: m.into(),
                credentials: creds.map(|c| c.iter().map(|x| x.to_string()).collect()),
                ..RuleSpec::default()
            };
            Rules::compile(&[s]).unwrap_err().to_string()
        };
        assert!(bad("GET orders", None).contains("must start with `/`"));
        assert!(bad("FETCH /x", None).contains("unknown method `FETCH`"));
        assert!(bad("GET /a*b", None).contains("whole segments"));
        assert!(bad("GET /a//b", None).contains("never match"));
        assert!(bad("GET /a/../b", None).contains("never match"));
        assert!(bad("GET /%61dmin", None).contains("percent"));
        assert!(bad("GET /x", Some(vec!["cookie"])).contains("unknown credential kind `cookie`"));
        assert!(bad("GET /x", Some(vec![])).contains("empty"));
        let shadowed = Rules::compile(&[spec("* /**"), spec("GET /x")]).unwrap_err();
        assert_eq!(shadowed.index, 1);
        assert!(
            shadowed.to_string().contains("can never match"),
            "{shadowed}"
        );
        let dup = Rules::compile(&[spec("GET /x"), spec("GET /x/")]).unwrap_err();
        assert!(dup.to_string().contains("rules[0]"));
        assert!(Rules::compile(&[spec("GET /x"), spec("POST /x")]).is_ok());
    }

    #[test]
    fn credentials_default_to_session_and_token() {
        let r = rules(&["GET /x"]);
        let rule = r.find("GET", "/x").unwrap();
        assert!(rule.accepts(CredentialKind::Session) && rule.accepts(CredentialKind::Token));
        assert!(
            !rule.accepts(CredentialKind::ClientSecret) && !rule.accepts(CredentialKind::Basic)
        );
    }
}
