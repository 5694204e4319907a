//! Users: logins, profile fields and the disabled flag.

use std::fmt;

use unicode_normalization::UnicodeNormalization;

use crate::error::{Error, Result};
use crate::time::Timestamp;

/// Longest login accepted, in characters (Django's limit).
pub const MAX_LOGIN_CHARS: usize = 150;

/// A user's id in the store.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, utoipa::ToSchema,
)]
#[serde(transparent)]
pub struct UserId(pub i64);

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A login as chosen by its owner (NFKC-normalised), with the key that makes it unique.
///
/// Two logins that differ only in case or in Unicode compatibility form (`Joe`, `joe`,
/// `ｊｏｅ`) have the same [`Login::key`], so they cannot both exist and either one finds
/// the account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Login {
    display: String,
    key: String,
}

impl Login {
    /// Validates a login for a new account.
    pub fn parse(raw: &str) -> Result<Self> {
        let display: String = raw.nfkc().collect();
        if display.is_empty() {
            return Err(Error::InvalidLogin("it is empty"));
        }
        if display.chars().count() > MAX_LOGIN_CHARS {
            return Err(Error::InvalidLogin("it is longer than 150 characters"));
        }
        if display.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(Error::InvalidLogin(
                "it contains white space or control characters",
            ));
        }
        // Invisible and bidirectional-control characters make two different logins look
        // the same on screen (`joe\u{200D}`, `\u{202E}eoj`).
        if display.chars().any(is_format_character) {
            return Err(Error::InvalidLogin(
                "it contains invisible formatting or bidirectional-control characters",
            ));
        }
        // A colon cannot be sent in HTTP Basic (RFC 7617 §2); a slash would make
        // paths and URLs that embed the login ambiguous.
        if display.contains([':', '/', '\\']) {
            return Err(Error::InvalidLogin("it contains `:`, `/` or `\\`"));
        }
        let key = Self::key_of(&display);
        Ok(Self { display, key })
    }

    /// The uniqueness key of any string someone types as a login, valid or not.
    pub fn key_of(raw: &str) -> String {
        raw.nfkc().flat_map(char::to_lowercase).nfkc().collect()
    }

    /// The login as chosen (NFKC-normalised), for display.
    pub fn as_str(&self) -> &str {
        &self.display
    }

    /// The uniqueness key ([`Login::key_of`]): what lookups compare.
    pub fn key(&self) -> &str {
        &self.key
    }
}

/// Unicode general category Cf (format characters: zero-width joiners and spaces,
/// bidirectional marks, embeddings, overrides and isolates, tags, the BOM, ...).
fn is_format_character(c: char) -> bool {
    matches!(
        u32::from(c),
        0x00AD
            | 0x0600..=0x0605
            | 0x061C
            | 0x06DD
            | 0x070F
            | 0x0890..=0x0891
            | 0x08E2
            | 0x180E
            | 0x200B..=0x200F
            | 0x202A..=0x202E
            | 0x2060..=0x2064
            | 0x2066..=0x206F
            | 0xFEFF
            | 0xFFF9..=0xFFFB
            | 0x110BD
            | 0x110CD
            | 0x13430..=0x1343F
            | 0x1BCA0..=0x1BCA3
            | 0x1D173..=0x1D17A
            | 0xE0001
            | 0xE0020..=0xE007F
    )
}

impl fmt::Display for Login {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.display)
    }
}

/// A user as the rest of the system sees it (never with its password hash).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct User {
    /// The id in the store.
    pub id: UserId,
    /// The login as chosen (NFKC-normalised); compare logins by [`Login::key_of`], not as
    /// is.
    pub login: String,
    /// The given name; may be empty.
    pub first_name: String,
    /// The family name; may be empty.
    pub last_name: String,
    /// The preferred language tag (`en`, `fr-CA`).
    pub lang: String,
    /// The e-mail address, if one was given.
    pub email: Option<String>,
    /// A disabled account cannot log in, and none of its credentials authenticate.
    pub disabled: bool,
    /// The names of the roles granted to the user.
    pub roles: Vec<String>,
    /// When the account was created.
    pub created_at: Timestamp,
    /// When the account last changed: its creation, its password or its disabled flag.
    pub updated_at: Timestamp,
}

/// The fields of an account about to be created.
#[derive(Debug, Clone)]
pub struct NewUser {
    /// The validated login.
    pub login: Login,
    /// The given name (empty by default, at most 150 characters).
    pub first_name: String,
    /// The family name (empty by default, at most 150 characters).
    pub last_name: String,
    /// The preferred language tag (`en` by default).
    pub lang: String,
    /// The e-mail address (`None` by default).
    pub email: Option<String>,
    /// Roles granted at creation (none by default); each must exist.
    pub roles: Vec<String>,
}

impl NewUser {
    /// An account with this login, empty names, language `en`, no e-mail and no roles.
    pub fn new(login: Login) -> Self {
        Self {
            login,
            first_name: String::new(),
            last_name: String::new(),
            lang: "en".to_owned(),
            email: None,
            roles: Vec::new(),
        }
    }

    /// Checks the free-text fields: bounded lengths, no control characters, a plausible
    /// e-mail address and language tag.
    pub fn validate(&self) -> Result<()> {
        validate_profile(&self.first_name, &self.last_name, &self.lang, &self.email)
    }
}

/// The fields of an account its owner may change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    /// The given name (at most 150 characters).
    pub first_name: String,
    /// The family name (at most 150 characters).
    pub last_name: String,
    /// The preferred language tag (`en`, `fr-CA`).
    pub lang: String,
    /// The e-mail address, if any.
    pub email: Option<String>,
}

impl Profile {
    /// The profile fields of `user`.
    pub fn of(user: &User) -> Self {
        Self {
            first_name: user.first_name.clone(),
            last_name: user.last_name.clone(),
            lang: user.lang.clone(),
            email: user.email.clone(),
        }
    }

    /// The same checks as [`NewUser::validate`].
    pub fn validate(&self) -> Result<()> {
        validate_profile(&self.first_name, &self.last_name, &self.lang, &self.email)
    }
}

fn validate_profile(first: &str, last: &str, lang: &str, email: &Option<String>) -> Result<()> {
    check_text("first name", first, 150)?;
    check_text("last name", last, 150)?;
    check_text("lang", lang, 35)?;
    if lang.is_empty()
        || !lang
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(Error::Invalid {
            field: "lang",
            reason: "expected a language tag such as `en` or `fr-CA`",
        });
    }
    if let Some(email) = email {
        check_text("email", email, 254)?;
        let valid = email
            .split_once('@')
            .is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'))
            && !email.contains(char::is_whitespace);
        if !valid {
            return Err(Error::Invalid {
                field: "email",
                reason: "expected an address such as `joe@example.com`",
            });
        }
    }
    Ok(())
}

fn check_text(field: &'static str, value: &str, max_chars: usize) -> Result<()> {
    if value.chars().count() > max_chars {
        return Err(Error::Invalid {
            field,
            reason: "too long",
        });
    }
    if value.chars().any(char::is_control) {
        return Err(Error::Invalid {
            field,
            reason: "contains control characters",
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logins_differing_in_case_or_width_share_a_key() {
        let a = Login::parse("Joe").unwrap();
        let b = Login::parse("ｊｏｅ").unwrap(); // full-width, NFKC folds it
        assert_eq!(a.key(), "joe");
        assert_eq!(b.key(), "joe");
        assert_eq!(a.as_str(), "Joe");
        assert_eq!(Login::key_of("STRASSE"), Login::key_of("strasse"));
    }

    #[test]
    fn refuses_unusable_logins() {
        for bad in ["", "jo e", "joe:x", "a/b", "tab\there", "nul\0"] {
            assert!(Login::parse(bad).is_err(), "{bad:?} accepted");
        }
        assert!(Login::parse(&"x".repeat(151)).is_err());
        assert!(Login::parse(&"x".repeat(150)).is_ok());
        assert!(Login::parse("josé.núñez@example").is_ok());
    }

    #[test]
    fn refuses_logins_that_look_like_another() {
        for bad in [
            "joe\u{200D}",
            "j\u{200B}oe",
            "\u{202E}eoj",
            "joe\u{2066}",
            "\u{FEFF}joe",
            "joe\u{00AD}",
            "joe\u{E0041}",
        ] {
            let e = Login::parse(bad).unwrap_err().to_string();
            assert!(e.contains("bidirectional"), "{bad:?}: {e}");
        }
        assert!(
            Login::parse("جو").is_ok(),
            "right-to-left scripts themselves are fine"
        );
    }

    #[test]
    fn validates_profile_fields() {
        let mut u = NewUser::new(Login::parse("joe").unwrap());
        assert!(u.validate().is_ok());
        u.email = Some("not-an-address".into());
        assert!(u.validate().is_err());
        u.email = Some("joe@example.com".into());
        u.lang = "fr-CA".into();
        assert!(u.validate().is_ok());
        u.lang = "x y".into();
        assert!(u.validate().is_err());
    }
}
