//! Time as the API speaks it: UTC, millisecond precision, ISO-8601 with `Z`; and the calendar the
//! service's users live on (KST), for "today", whole days and clock times.

use chrono::{DateTime, Duration, FixedOffset, NaiveDate, NaiveTime, Offset, SecondsFormat, SubsecRound, Utc};

/// Now, truncated to the millisecond: what MySQL `DATETIME(3)` keeps, so a value read back
/// equals the value written.
pub fn now_ms() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(3)
}

pub fn format_iso(at: &DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Instants every store holds (MySQL `DATETIME(3)` spans the years 1000 to 9999).
const STORABLE_YEARS: std::ops::RangeInclusive<i32> = 1000..=9999;

/// Parses an ISO-8601 instant with an explicit offset (`Z` or `+09:00`), in the years 1000–9999
/// (UTC), the range every store can hold.
pub fn parse_instant(raw: &str) -> Result<DateTime<Utc>, String> {
    let at = DateTime::parse_from_rfc3339(raw.trim())
        .map(|at| at.with_timezone(&Utc).trunc_subsecs(3))
        .map_err(|_| "must be an ISO-8601 date-time with offset, e.g. 2026-03-01T09:00:00Z".to_string())?;
    if STORABLE_YEARS.contains(&chrono::Datelike::year(&at)) {
        Ok(at)
    } else {
        Err("must fall in the years 1000 to 9999 (UTC)".into())
    }
}

/// Parses a `YYYY-MM-DD` date in the years 1000–9999 (MySQL `DATE`'s span, and the instants'
/// one).
pub fn parse_date(raw: &str) -> Result<NaiveDate, String> {
    let raw = raw.trim();
    // chrono accepts short years and unpadded fields; the API promises exactly YYYY-MM-DD.
    let shaped = raw.len() == 10 && raw.as_bytes()[4] == b'-' && raw.as_bytes()[7] == b'-';
    let date = NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .ok()
        .filter(|_| shaped)
        .ok_or_else(|| "must be a date as YYYY-MM-DD".to_string())?;
    if STORABLE_YEARS.contains(&chrono::Datelike::year(&date)) {
        Ok(date)
    } else {
        Err("must fall in the years 1000 to 9999".into())
    }
}

/// The calendar of the service's users: a fixed UTC offset (KST, +09:00, by default; Korea has
/// no daylight saving time). Every "which day is it" question goes through here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Calendar(FixedOffset);

impl Calendar {
    pub const KST_OFFSET_MINUTES: i32 = 540;

    /// `None` for an offset beyond ±24 h.
    pub fn from_offset_minutes(minutes: i32) -> Option<Self> {
        FixedOffset::east_opt(minutes.checked_mul(60)?).map(Self)
    }

    pub fn kst() -> Self {
        Self::from_offset_minutes(Self::KST_OFFSET_MINUTES).unwrap_or(Self(Utc.fix()))
    }

    pub fn offset(&self) -> FixedOffset {
        self.0
    }

    /// The date `at` falls on.
    pub fn date_of(&self, at: &DateTime<Utc>) -> NaiveDate {
        at.with_timezone(&self.0).date_naive()
    }

    pub fn today(&self) -> NaiveDate {
        self.date_of(&Utc::now())
    }

    /// The first millisecond of `date`, in UTC.
    pub fn day_start(&self, date: NaiveDate) -> DateTime<Utc> {
        // A fixed offset has exactly one instant per local time.
        (date.and_time(NaiveTime::MIN) - Duration::seconds(self.0.local_minus_utc().into())).and_utc()
    }

    /// The last millisecond of `date`, in UTC (ranges over whole days are inclusive).
    pub fn day_end(&self, date: NaiveDate) -> DateTime<Utc> {
        self.day_start(date) + Duration::days(1) - Duration::milliseconds(1)
    }

    /// A range bound given as an instant, or as a date meaning that whole day: its first
    /// millisecond for a lower bound, its last for an upper one.
    pub fn range_bound(&self, raw: &str, bound: Bound) -> Result<DateTime<Utc>, String> {
        let raw = raw.trim();
        if let Ok(date) = parse_date(raw) {
            return Ok(match bound {
                Bound::Lower => self.day_start(date),
                Bound::Upper => self.day_end(date),
            });
        }
        if let Ok(at) = parse_instant(raw) {
            return Ok(at);
        }
        let well_formed =
            NaiveDate::parse_from_str(raw, "%Y-%m-%d").is_ok() || DateTime::parse_from_rfc3339(raw).is_ok();
        Err(if well_formed {
            "must fall in the years 1000 to 9999".into()
        } else {
            "must be YYYY-MM-DD or an ISO-8601 date-time with offset".into()
        })
    }

    /// An instant as the sibling services send one: ISO-8601 with an offset, or without one
    /// (Python's `datetime.isoformat()` of a naive time, as PortForge's services write them),
    /// read as a time on this calendar.
    pub fn instant(&self, raw: &str) -> Result<DateTime<Utc>, String> {
        if let Ok(at) = parse_instant(raw) {
            return Ok(at);
        }
        let naive = ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M"]
            .iter()
            .find_map(|format| chrono::NaiveDateTime::parse_from_str(raw.trim(), format).ok())
            .ok_or_else(|| "must be an ISO-8601 date-time, e.g. 2026-03-01T09:00:00+09:00".to_string())?;
        naive
            .checked_sub_signed(Duration::seconds(self.0.local_minus_utc().into()))
            .map(|utc| utc.and_utc().trunc_subsecs(3))
            .filter(|at| STORABLE_YEARS.contains(&chrono::Datelike::year(at)))
            .ok_or_else(|| "must fall in the years 1000 to 9999 (UTC)".into())
    }

    /// `HH:MM` on this calendar, as chat shows a message's time.
    pub fn clock_time(&self, at: &DateTime<Utc>) -> String {
        at.with_timezone(&self.0).format("%H:%M").to_string()
    }
}

/// Which end of a range a bound is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bound {
    Lower,
    Upper,
}

/// `#[serde(with = "iso_ms")]` for `DateTime<Utc>` fields in responses.
pub mod iso_ms {
    use chrono::{DateTime, Utc};
    use serde::Serializer;

    pub fn serialize<S: Serializer>(at: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::format_iso(at))
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
        assert!(parse_instant("0000-01-01T00:00:00Z").is_err());
        assert!(parse_instant("1000-01-01T08:00:00+09:00").is_err(), "999 in UTC");
        assert!(parse_instant("9999-12-31T23:59:59.999Z").is_ok());
    }

    #[test]
    fn siblings_instants_without_offset_are_read_on_the_calendar() {
        let kst = Calendar::kst();
        let at = |raw: &str| kst.instant(raw).map(|t| format_iso(&t));
        assert_eq!(at("2026-03-01T09:00:00").as_deref(), Ok("2026-03-01T00:00:00.000Z"));
        assert_eq!(at("2026-03-01T09:00:00.123456").as_deref(), Ok("2026-03-01T00:00:00.123Z"));
        assert_eq!(at("2026-03-01T09:00").as_deref(), Ok("2026-03-01T00:00:00.000Z"));
        assert_eq!(at("2026-03-01T09:00:00Z").as_deref(), Ok("2026-03-01T09:00:00.000Z"));
        for bad in ["2026-03-01", "yesterday", "2026-13-01T00:00:00", "1000-01-01T08:00:00", "+262143-12-31T23:59:59"] {
            assert!(kst.instant(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn dates_are_strict() {
        assert!(parse_date("2026-02-29").is_err());
        assert!(parse_date("2028-02-29").is_ok());
        assert!(parse_date("26-1-1").is_err());
        assert!(parse_date("2026-1-01").is_err());
        assert!(parse_date("+2026-01-1").is_err());
        assert!(parse_date("1000-01-01").is_ok() && parse_date("9999-12-31").is_ok());
        assert!(parse_date("0999-12-31").is_err(), "MySQL DATE starts at 1000");
    }

    #[test]
    fn kst_days_start_at_15_utc_the_day_before() {
        let kst = Calendar::kst();
        let date = parse_date("2026-11-30").unwrap();
        assert_eq!(format_iso(&kst.day_start(date)), "2026-11-29T15:00:00.000Z");
        assert_eq!(format_iso(&kst.day_end(date)), "2026-11-30T14:59:59.999Z");
        let late_evening_utc = parse_instant("2026-11-29T16:30:00Z").unwrap();
        assert_eq!(kst.date_of(&late_evening_utc), date);
        assert_eq!(kst.clock_time(&late_evening_utc), "01:30");
        assert_eq!(kst.range_bound("2026-11-30", Bound::Upper), Ok(kst.day_end(date)));
        assert_eq!(
            kst.range_bound("2026-11-30T00:00:00Z", Bound::Lower).map(|t| format_iso(&t)).as_deref(),
            Ok("2026-11-30T00:00:00.000Z")
        );
        assert!(kst.range_bound("yesterday", Bound::Lower).is_err());
        for outside in ["0999-12-31", "0500-01-01T00:00:00Z"] {
            assert_eq!(kst.range_bound(outside, Bound::Lower), Err("must fall in the years 1000 to 9999".into()));
        }
        assert!(Calendar::from_offset_minutes(24 * 60).is_none());
    }
}
