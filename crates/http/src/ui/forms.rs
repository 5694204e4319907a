//! The create forms of Developer Settings: their values and errors (never a secret), the
//! scopes chosen among the user's permissions, and the expiry a token asks for.

use std::time::Duration;

use tessera_core::Timestamp;

use super::Posted;

/// A create form's values and errors (never a secret).
#[derive(Default)]
pub(crate) struct CreateForm {
    pub(crate) name: String,
    pub(crate) expires: String,
    pub(crate) expires_on: String,
    pub(crate) scopes: Vec<(String, bool)>,
    pub(crate) errors: Vec<(&'static str, String)>,
}

impl CreateForm {
    pub(crate) fn error_for(&self, name: &str) -> Option<&str> {
        self.errors
            .iter()
            .find(|(f, _)| *f == name)
            .map(|(_, m)| m.as_str())
    }
}

/// The form's name and scopes, checked against what the user holds.
pub(crate) fn read_create_form(posted: &Posted) -> CreateForm {
    let chosen: Vec<&str> = posted
        .fields
        .iter()
        .filter(|(k, _)| k == "scope")
        .map(|(_, v)| v.as_str())
        .collect();
    let mut form = CreateForm {
        name: posted.get("name").to_owned(),
        expires: posted.get("expires").to_owned(),
        expires_on: posted.get("expires_on").to_owned(),
        scopes: posted
            .console
            .identity
            .permissions
            .iter()
            .map(|p| (p.as_str().to_owned(), chosen.contains(&p.as_str())))
            .collect(),
        errors: Vec::new(),
    };
    if form.name.is_empty() || form.name.chars().count() > 100 {
        form.errors
            .push(("name", "Give it a name of 1 to 100 characters.".into()));
    }
    if chosen
        .iter()
        .any(|c| !form.scopes.iter().any(|(p, _)| p == c))
    {
        form.errors
            .push(("scope", "A scope must be one of your permissions.".into()));
    }
    form
}

pub(crate) fn chosen_scopes(form: &CreateForm) -> Option<Vec<String>> {
    let chosen: Vec<String> = form
        .scopes
        .iter()
        .filter(|(_, c)| *c)
        .map(|(p, _)| p.clone())
        .collect();
    (!chosen.is_empty()).then_some(chosen)
}

/// The lifetime the form asks for: a custom date (to the end of that day, UTC) or a
/// preset number of days; within `tokens.pat_max_lifetime`.
pub(crate) fn lifetime(
    form: &CreateForm,
    max: Duration,
    now: Timestamp,
) -> Result<Duration, String> {
    let too_long = || format!("At most {} days.", max.as_secs() / 86_400);
    let wanted = if form.expires_on.is_empty() {
        let days: u64 = form
            .expires
            .parse()
            .map_err(|_| "Choose an expiry.".to_owned())?;
        Duration::from_secs(days.checked_mul(86_400).ok_or_else(too_long)?)
    } else {
        let mut it = form.expires_on.splitn(3, '-').map(str::parse::<i64>);
        let (Some(Ok(y)), Some(Ok(m)), Some(Ok(d))) = (it.next(), it.next(), it.next()) else {
            return Err("Use a date such as 2027-01-31.".into());
        };
        if !(1970..=9999).contains(&y) || !(1..=12).contains(&m) || !(1..=31).contains(&d) {
            return Err("Use a date such as 2027-01-31.".into());
        }
        let end = (tessera_core::time::days_from_civil(y, m, d) + 1) * 86_400;
        let secs =
            u64::try_from(end - now.unix()).map_err(|_| "Choose a future date.".to_owned())?;
        Duration::from_secs(secs)
    };
    if wanted.is_zero() {
        return Err("Choose a future date.".into());
    }
    if wanted > max {
        return Err(too_long());
    }
    Ok(wanted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_core::time::days_from_civil;

    #[test]
    fn lifetimes_stay_within_the_maximum() {
        let max = Duration::from_secs(90 * 86_400);
        let now = Timestamp::from_unix(days_from_civil(2026, 12, 2) * 86_400 + 3_600);
        let form = |expires: &str, on: &str| CreateForm {
            expires: expires.into(),
            expires_on: on.into(),
            ..CreateForm::default()
        };
        assert_eq!(
            lifetime(&form("7", ""), max, now),
            Ok(Duration::from_secs(7 * 86_400))
        );
        assert!(lifetime(&form("365", ""), max, now).is_err());
        // To the end of the chosen day.
        assert_eq!(
            lifetime(&form("", "2026-12-03"), max, now),
            Ok(Duration::from_secs(2 * 86_400 - 3_600))
        );
        assert!(lifetime(&form("", "2026-11-30"), max, now).is_err());
        assert!(lifetime(&form("", "next week"), max, now).is_err());
    }
}
