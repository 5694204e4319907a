//! Permissions (`orders:read`), roles as named permission sets, and matching.
//!
//! A granted permission matches a required one when they are equal, when it is `*`
//! (everything), or when it ends in `:*` and the required one lies below that prefix
//! (`orders:*` grants `orders:read` and `orders:items:write`, but not `ordersx:read`).

use std::fmt;

use crate::error::{Error, Result};

/// The role every installation has, granting everything.
pub const ADMIN_ROLE: &str = "admin";

/// Read users, their roles, sessions and credentials (the administration API).
pub const USERS_READ: &str = "tessera:users:read";
/// Change users: profile, disable, enable, unlock, end sessions, revoke credentials.
pub const USERS_WRITE: &str = "tessera:users:write";
/// Grant and revoke roles, and change roles' permissions.
pub const ROLES_WRITE: &str = "tessera:roles:write";
/// Read every user's security events.
pub const AUDIT_READ: &str = "tessera:audit:read";
/// End other users' sessions.
pub const SESSIONS_WRITE: &str = "tessera:sessions:write";
/// Every administration permission.
pub const ADMINISTRATION: [&str; 5] = [
    USERS_READ,
    USERS_WRITE,
    ROLES_WRITE,
    AUDIT_READ,
    SESSIONS_WRITE,
];

/// A well-formed permission: colon-separated segments (`orders:read`), `*`, or a prefix
/// ending in `:*`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct Permission(String);

impl Permission {
    /// Checks a permission: 1 to 128 characters among letters, digits and `: . _ -`, no
    /// empty segment, and `*` only alone or as the whole last segment.
    pub fn parse(raw: &str) -> Result<Self> {
        let bad = |why| Err(Error::InvalidPermission(raw.to_owned(), why));
        if raw.is_empty() {
            return bad("it is empty");
        }
        if raw.len() > 128 {
            return bad("it is longer than 128 characters");
        }
        if !raw
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, ':' | '.' | '_' | '-' | '*'))
        {
            return bad("use letters, digits and `: . _ -`");
        }
        if raw.split(':').any(str::is_empty) {
            return bad("it has an empty segment");
        }
        if let Some(star) = raw.find('*') {
            let whole = raw == "*";
            let trailing = star == raw.len() - 1 && raw.ends_with(":*");
            if !(whole || trailing) || raw[..star].contains('*') {
                return bad("`*` may only stand alone or as the last segment (`orders:*`)");
            }
        }
        Ok(Self(raw.to_owned()))
    }

    /// The permission as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether holding `self` grants everything `other` grants (so `other` may be handed
    /// out as a scope by someone holding `self`).
    pub fn covers(&self, other: &Permission) -> bool {
        let (mine, theirs) = (self.0.as_str(), other.0.as_str());
        if mine == "*" || mine == theirs {
            return true;
        }
        match (mine.strip_suffix('*'), theirs.strip_suffix('*')) {
            (Some(prefix), Some(other_prefix)) => {
                other_prefix.len() > prefix.len() && other_prefix.starts_with(prefix)
            }
            (Some(_), None) => self.grants(theirs),
            (None, _) => false,
        }
    }

    /// Whether holding `self` grants `required`.
    pub fn grants(&self, required: &str) -> bool {
        let granted = self.0.as_str();
        if granted == "*" || granted == required {
            return true;
        }
        match granted.strip_suffix('*') {
            Some(prefix) => required.len() > prefix.len() && required.starts_with(prefix),
            None => false,
        }
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a user may do: the union of its roles' permissions.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
#[serde(transparent)]
pub struct PermissionSet(Vec<Permission>);

impl PermissionSet {
    /// A set of `perms`, sorted and without duplicates.
    pub fn new(mut perms: Vec<Permission>) -> Self {
        perms.sort();
        perms.dedup();
        Self(perms)
    }

    /// Whether some permission in the set grants `required`.
    pub fn allows(&self, required: &str) -> bool {
        self.0.iter().any(|p| p.grants(required))
    }

    /// Every permission in `required` is granted.
    pub fn allows_all<'a>(&self, required: impl IntoIterator<Item = &'a str>) -> bool {
        required.into_iter().all(|r| self.allows(r))
    }

    /// Whether every permission `p` grants is granted by this set.
    pub fn covers(&self, p: &Permission) -> bool {
        self.0.iter().any(|mine| mine.covers(p))
    }

    /// The permissions, in sorted order.
    pub fn iter(&self) -> impl Iterator<Item = &Permission> {
        self.0.iter()
    }

    /// Whether the set grants nothing.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl FromIterator<Permission> for PermissionSet {
    fn from_iter<I: IntoIterator<Item = Permission>>(iter: I) -> Self {
        Self::new(iter.into_iter().collect())
    }
}

/// A named set of permissions.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Role {
    /// The role's name (see [`validate_role_name`]).
    pub name: String,
    /// What holding the role grants.
    pub permissions: PermissionSet,
}

impl Role {
    /// A role named `name` granting `permissions`; a name that is not valid is
    /// [`Error::InvalidRoleName`].
    pub fn new(name: &str, permissions: PermissionSet) -> Result<Self> {
        validate_role_name(name)?;
        Ok(Self {
            name: name.to_owned(),
            permissions,
        })
    }
}

/// Checks a role name: 1 to 64 characters, each a lower-case ASCII letter, a digit, `-`,
/// `_` or `.`.
pub fn validate_role_name(name: &str) -> Result<()> {
    let bad = |why| Err(Error::InvalidRoleName(name.to_owned(), why));
    if name.is_empty() || name.len() > 64 {
        return bad("use 1 to 64 characters");
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '.'))
    {
        return bad("use lower-case letters, digits and `- _ .`");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Permission {
        Permission::parse(s).unwrap()
    }

    #[test]
    fn matching() {
        assert!(p("*").grants("orders:read"));
        assert!(p("orders:read").grants("orders:read"));
        assert!(!p("orders:read").grants("orders:write"));
        assert!(p("orders:*").grants("orders:read"));
        assert!(p("orders:*").grants("orders:items:write"));
        assert!(!p("orders:*").grants("orders"));
        assert!(!p("orders:*").grants("ordersx:read"));
        assert!(!p("orders:read").grants("orders:read:all"));
    }

    #[test]
    fn parsing_refuses_ambiguous_forms() {
        for bad in [
            "", "orders:", ":read", "a::b", "or*ders", "*:read", "a:*:b", "a b", "é",
        ] {
            assert!(Permission::parse(bad).is_err(), "{bad:?} accepted");
        }
        for good in [
            "*",
            "orders:read",
            "orders:*",
            "tokens:introspect",
            "a.b-c_d",
        ] {
            assert!(Permission::parse(good).is_ok(), "{good:?} refused");
        }
    }

    #[test]
    fn sets_union_and_require_all() {
        let set = PermissionSet::new(vec![p("orders:read"), p("users:*"), p("orders:read")]);
        assert_eq!(set.iter().count(), 2);
        assert!(set.allows_all(["orders:read", "users:write"]));
        assert!(!set.allows_all(["orders:read", "orders:write"]));
        assert!(set.allows_all([]));
    }

    #[test]
    fn covering_for_scopes() {
        assert!(p("*").covers(&p("orders:*")));
        assert!(p("orders:*").covers(&p("orders:read")));
        assert!(p("orders:*").covers(&p("orders:items:*")));
        assert!(!p("orders:read").covers(&p("orders:*")));
        assert!(!p("orders:*").covers(&p("*")));
        assert!(!p("orders:read").covers(&p("orders:write")));
    }

    #[test]
    fn role_names() {
        assert!(Role::new("ops-team", PermissionSet::default()).is_ok());
        assert!(Role::new("Ops", PermissionSet::default()).is_err());
        assert!(Role::new("", PermissionSet::default()).is_err());
    }
}
