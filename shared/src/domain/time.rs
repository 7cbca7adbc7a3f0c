//! Time as the API speaks it: UTC, millisecond precision, ISO-8601 with `Z`.

use chrono::{DateTime, NaiveDate, SecondsFormat, SubsecRound, Utc};

/// Now, truncated to the millisecond: what MySQL `DATETIME(3)` keeps, so a value read back
/// equals the value written.
pub fn now_ms() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(3)
}

pub fn format_iso(at: &DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Parses an ISO-8601 instant with an explicit offset (`Z` or `+09:00`).
pub fn parse_instant(raw: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(raw.trim())
        .map(|at| at.with_timezone(&Utc).trunc_subsecs(3))
        .map_err(|_| "must be an ISO-8601 date-time with offset, e.g. 2026-03-01T09:00:00Z".into())
}

pub fn parse_date(raw: &str) -> Result<NaiveDate, String> {
    let raw = raw.trim();
    // chrono accepts short years and unpadded fields; the API promises exactly YYYY-MM-DD.
    let shaped = raw.len() == 10 && raw.as_bytes()[4] == b'-' && raw.as_bytes()[7] == b'-';
    NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .ok()
        .filter(|_| shaped)
        .ok_or_else(|| "must be a date as YYYY-MM-DD".into())
}

/// `#[serde(with = "iso_ms")]` for `DateTime<Utc>` fields in responses.
pub mod iso_ms {
    use chrono::{DateTime, Utc};
    use serde::Serializer;

    pub fn serialize<S: Serializer>(at: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::format_iso(at))
    }

    pub mod option {
        use chrono::{DateTime, Utc};
        use serde::Serializer;

        pub fn serialize<S: Serializer>(at: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
            match at {
                Some(at) => s.serialize_str(&super::super::format_iso(at)),
                None => s.serialize_none(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_render_in_utc_with_millis_and_z() {
        let at = parse_instant("2026-03-01T18:00:00.123456+09:00").unwrap();
        assert_eq!(format_iso(&at), "2026-03-01T09:00:00.123Z");
        assert!(parse_instant("2026-03-01 09:00").is_err());
        assert!(parse_instant("2026-03-01T09:00:00").is_err(), "offset is required");
    }

    #[test]
    fn dates_are_strict() {
        assert!(parse_date("2026-02-29").is_err());
        assert!(parse_date("2028-02-29").is_ok());
        assert!(parse_date("26-1-1").is_err());
        assert!(parse_date("2026-1-01").is_err());
        assert!(parse_date("+2026-01-1").is_err());
    }
}
