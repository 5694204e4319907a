//! Server-side time: whole seconds since the Unix epoch, as stored in every table.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A duration as people write one: `90s`, `30m`, `24h`, `90d`, or combined (`1h30m`);
/// with `bare_seconds`, a plain number of seconds (`120`) too. The one parser of
/// durations, for the configuration and for request bodies alike.
pub fn parse_duration(text: &str, bare_seconds: bool) -> Result<Duration, String> {
    let t = text.trim();
    let bad = || {
        if bare_seconds {
            format!("`{t}` is not a duration (seconds, or e.g. `90s`, `30m`, `24h`, `90d`)")
        } else {
            format!("`{t}` is not a duration (write e.g. `90s`, `30m`, `24h`, `90d`)")
        }
    };
    if t.is_empty() || !t.starts_with(|c: char| c.is_ascii_digit()) {
        return Err(bad());
    }
    if t.bytes().all(|b| b.is_ascii_digit()) {
        return match (bare_seconds, t.parse::<u64>()) {
            (true, Ok(n)) => Ok(Duration::from_secs(n)),
            _ => Err(bad()),
        };
    }
    humantime::parse_duration(t).map_err(|_| bad())
}

/// A point in time in whole seconds since the Unix epoch (UTC), as every table stores it.
/// Displays (and serialises) as RFC 3339.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

impl Timestamp {
    /// The current time; the epoch itself if the system clock is set before 1970.
    pub fn now() -> Self {
        let secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        Self(secs)
    }

    /// The time `secs` seconds after the Unix epoch (before it, if negative).
    pub const fn from_unix(secs: i64) -> Self {
        Self(secs)
    }

    /// Seconds since the Unix epoch.
    pub const fn unix(self) -> i64 {
        self.0
    }

    /// `self + d`, saturating instead of overflowing on absurd durations.
    pub fn plus(self, d: Duration) -> Self {
        Self(
            self.0
                .saturating_add(i64::try_from(d.as_secs()).unwrap_or(i64::MAX)),
        )
    }

    /// `self - d`, saturating instead of overflowing on absurd durations.
    pub fn minus(self, d: Duration) -> Self {
        Self(
            self.0
                .saturating_sub(i64::try_from(d.as_secs()).unwrap_or(i64::MAX)),
        )
    }

    /// A time as a client writes it: RFC 3339 (`2026-11-23T10:00:00Z`), a date
    /// (`2026-11-23`, its first second in UTC) or seconds since the Unix epoch. `None`
    /// for anything else.
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        if let Ok(secs) = text.parse::<i64>() {
            return Some(Self(secs));
        }
        if text.len() == 10 {
            let mut it = text.splitn(3, '-').map(str::parse::<i64>);
            let (Some(Ok(y)), Some(Ok(m)), Some(Ok(d))) = (it.next(), it.next(), it.next()) else {
                return None;
            };
            let valid =
                (1970..=9999).contains(&y) && (1..=12).contains(&m) && (1..=31).contains(&d);
            return valid.then(|| Self(days_from_civil(y, m, d) * 86_400));
        }
        let t = humantime::parse_rfc3339_weak(text).ok()?;
        let secs = t.duration_since(UNIX_EPOCH).ok()?.as_secs();
        i64::try_from(secs).ok().map(Self)
    }

    /// RFC 3339 in UTC, e.g. `2026-11-23T10:00:00Z`.
    pub fn rfc3339(self) -> String {
        self.to_string()
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = u64::try_from(self.0)
            .ok()
            .and_then(|s| UNIX_EPOCH.checked_add(Duration::from_secs(s)))
            .unwrap_or(UNIX_EPOCH);
        write!(f, "{}", humantime::format_rfc3339_seconds(t))
    }
}

impl utoipa::PartialSchema for Timestamp {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                utoipa::openapi::KnownFormat::DateTime,
            )))
            .description(Some(
                "An instant in UTC, RFC 3339 (`2026-01-31T09:00:00Z`).",
            ))
            .into()
    }
}

impl utoipa::ToSchema for Timestamp {}

impl serde::Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_parse_as_clients_write_them() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(days_from_civil(2026, 12, 2), 20_789);
        let day = Timestamp::from_unix(days_from_civil(2026, 12, 2) * 86_400);
        assert_eq!(Timestamp::parse("2026-12-02"), Some(day));
        assert_eq!(
            Timestamp::parse("2026-12-02T01:00:00Z"),
            Some(day.plus(Duration::from_secs(3600)))
        );
        assert_eq!(
            Timestamp::parse("1800000000"),
            Some(Timestamp::from_unix(1_800_000_000))
        );
        for bad in ["", "yesterday", "2026-13-01", "2026-12-02T25:00:00Z"] {
            assert_eq!(Timestamp::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn formats_rfc3339_utc() {
        assert_eq!(Timestamp::from_unix(0).rfc3339(), "1970-01-01T00:00:00Z");
        assert_eq!(
            Timestamp::from_unix(1_795_000_000).rfc3339(),
            "2026-11-18T11:06:40Z"
        );
    }

    #[test]
    fn arithmetic_saturates() {
        let t = Timestamp::from_unix(10);
        assert_eq!(t.plus(Duration::from_secs(5)).unix(), 15);
        assert_eq!(t.minus(Duration::from_secs(15)).unix(), -5);
        assert_eq!(t.plus(Duration::MAX).unix(), i64::MAX);
    }
}

#[cfg(test)]
mod duration_tests {
    use super::*;

    #[test]
    fn durations_are_read_one_way() {
        assert_eq!(parse_duration("90s", false), Ok(Duration::from_secs(90)));
        assert_eq!(
            parse_duration("30d", false),
            Ok(Duration::from_secs(30 * 86_400))
        );
        assert_eq!(
            parse_duration(" 1h30m ", false),
            Ok(Duration::from_secs(5400))
        );
        assert!(
            parse_duration("120", false).is_err(),
            "the configuration needs a unit"
        );
        assert_eq!(parse_duration("120", true), Ok(Duration::from_secs(120)));
        for bad in ["", "soon", "-5s", "5 parsecs", "99999999999999999999"] {
            assert!(parse_duration(bad, true).is_err(), "{bad:?}");
        }
    }
}
