//! The events catalogue: hackathons, conferences, contests and bootcamps.

use chrono::{DateTime, Days, NaiveDate, Utc};
use serde::{Deserialize, Serialize, Serializer, ser::SerializeStruct};

use super::{
    BoundedText, EventId, FieldError, Link, Validator,
    content::{nullable, present},
    time::{Bound, Calendar, format_iso, parse_date, parse_instant},
};

pub const TITLE_MAX_CHARS: usize = 200;
pub const DESCRIPTION_MAX_CHARS: usize = 10_000;
pub const METHOD_MAX_CHARS: usize = 50;
pub const LOCATION_MAX_CHARS: usize = 200;

/// Category codes are what we store and accept; labels are what the frontend shows and filters on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventCategory {
    Hackathon,
    Conference,
    Contest,
    Bootcamp,
}

impl EventCategory {
    pub const ALL: [Self; 4] = [Self::Hackathon, Self::Conference, Self::Contest, Self::Bootcamp];

    pub fn code(self) -> &'static str {
        match self {
            Self::Hackathon => "HACKATHON",
            Self::Conference => "CONFERENCE",
            Self::Contest => "CONTEST",
            Self::Bootcamp => "BOOTCAMP",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Hackathon => "해커톤",
            Self::Conference => "컨퍼런스",
            Self::Contest => "공모전",
            Self::Bootcamp => "부트캠프",
        }
    }

    /// Accepts a code (any case) or the Korean label.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let raw = raw.trim();
        Self::ALL.into_iter().find(|c| c.code().eq_ignore_ascii_case(raw) || c.label() == raw).ok_or_else(|| {
            "must be one of HACKATHON, CONFERENCE, CONTEST, BOOTCAMP (or 해커톤, 컨퍼런스, 공모전, 부트캠프)".into()
        })
    }
}

/// Where an event stands relative to today.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventStatus {
    Upcoming,
    Ongoing,
    Past,
}

impl EventStatus {
    pub fn parse(raw: &str) -> Result<Self, String> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "upcoming" => Ok(Self::Upcoming),
            "ongoing" => Ok(Self::Ongoing),
            "past" => Ok(Self::Past),
            _ => Err("must be one of upcoming, ongoing, past".into()),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub event_id: EventId,
    pub title: String,
    pub category: EventCategory,
    pub description: Option<String>,
    pub image_url: Option<String>,
    pub method: Option<String>,
    pub location: Option<String>,
    pub link: Option<String>,
    pub start_at: DateTime<Utc>,
    pub end_at: DateTime<Utc>,
    /// Both bounds were given as dates: the event spans whole days.
    pub all_day: bool,
    /// The days of `start_at` and `end_at` on the service calendar (what filters and paging use).
    pub start_date: NaiveDate,
    pub end_date: NaiveDate,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The event as the API shows it; `id` repeats `event_id` for the web app, which reads `id`.
impl Serialize for Event {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut e = s.serialize_struct("Event", 17)?;
        e.serialize_field("event_id", &self.event_id)?;
        e.serialize_field("id", &self.event_id)?;
        e.serialize_field("title", &self.title)?;
        e.serialize_field("category", self.category.label())?;
        e.serialize_field("category_code", self.category.code())?;
        e.serialize_field("description", &self.description)?;
        e.serialize_field("image_url", &self.image_url)?;
        e.serialize_field("method", &self.method)?;
        e.serialize_field("location", &self.location)?;
        e.serialize_field("link", &self.link)?;
        e.serialize_field("start_date", &self.start_date.format("%Y-%m-%d").to_string())?;
        e.serialize_field("end_date", &self.end_date.format("%Y-%m-%d").to_string())?;
        e.serialize_field("start_at", &format_iso(&self.start_at))?;
        e.serialize_field("end_at", &format_iso(&self.end_at))?;
        e.serialize_field("all_day", &self.all_day)?;
        e.serialize_field("created_at", &format_iso(&self.created_at))?;
        e.serialize_field("updated_at", &format_iso(&self.updated_at))?;
        e.end()
    }
}

/// When an event starts or ends: a date (`YYYY-MM-DD`, the whole day on the service calendar)
/// or an RFC 3339 date-time (kept to the millisecond).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventTime {
    pub at: DateTime<Utc>,
    pub date: NaiveDate,
    /// Given as a date, not a date-time.
    pub whole_day: bool,
}

/// The first and last days an event may touch: every instant of them fits every store on any
/// calendar offset, so an event the API accepts is one it can list.
pub const FIRST_DAY: NaiveDate = NaiveDate::from_ymd_opt(1000, 1, 2).expect("valid date");
pub const LAST_DAY: NaiveDate = NaiveDate::from_ymd_opt(9999, 12, 30).expect("valid date");

impl EventTime {
    /// `bound` says which end: a date starts at its first millisecond and ends at its last.
    pub fn parse(raw: &str, bound: Bound, calendar: Calendar) -> Result<Self, String> {
        let (at, date, whole_day) = match parse_date(raw) {
            Ok(date) => {
                let at = match bound {
                    Bound::Lower => calendar.day_start(date),
                    Bound::Upper => calendar.day_end(date),
                };
                (at, date, true)
            }
            Err(_) => {
                let at = parse_instant(raw).map_err(
                    |_| "must be a date (YYYY-MM-DD) or an RFC 3339 date-time, e.g. 2027-01-10T09:00:00+09:00",
                )?;
                (at, calendar.date_of(&at), false)
            }
        };
        if date < FIRST_DAY || date > LAST_DAY {
            return Err(format!("must fall between {FIRST_DAY} and {LAST_DAY}"));
        }
        Ok(Self { at, date, whole_day })
    }

    /// The stored start of `event`, as if given again.
    fn start_of(event: &Event) -> Self {
        Self { at: event.start_at, date: event.start_date, whole_day: event.all_day }
    }

    fn end_of(event: &Event) -> Self {
        Self { at: event.end_at, date: event.end_date, whole_day: event.all_day }
    }
}

/// An event's editable fields, validated (it ends at or after it starts).
#[derive(Debug, Clone, PartialEq)]
pub struct EventDraft {
    pub title: BoundedText,
    pub category: EventCategory,
    pub description: Option<BoundedText>,
    pub image_url: Option<Link>,
    pub method: Option<BoundedText>,
    pub location: Option<BoundedText>,
    pub link: Option<Link>,
    pub start: EventTime,
    pub end: EventTime,
}

impl EventDraft {
    pub fn all_day(&self) -> bool {
        self.start.whole_day && self.end.whole_day
    }
}

fn text(max: usize) -> impl Fn(&str) -> Result<BoundedText, String> {
    move |raw| BoundedText::parse(raw, 1, max)
}

fn check_order(v: &mut Validator, start: Option<EventTime>, end: Option<EventTime>) {
    if let (Some(start), Some(end)) = (start, end)
        && end.at < start.at
    {
        v.error("end_date", "must be at or after start_date");
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateEventBody {
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub category: Option<String>,
    #[serde(default)]
    pub start_date: Option<String>,
    #[serde(default)]
    pub end_date: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub image_url: Option<String>,
    #[serde(default)]
    pub method: Option<String>,
    #[serde(default)]
    pub location: Option<String>,
    #[serde(default)]
    pub link: Option<String>,
}

impl CreateEventBody {
    /// `calendar` turns dates into the days they span.
    pub fn validate(self, calendar: Calendar) -> Result<EventDraft, Vec<FieldError>> {
        let mut v = Validator::new();
        let title = v.required("title", self.title.as_deref(), text(TITLE_MAX_CHARS));
        let category = v.required("category", self.category.as_deref(), EventCategory::parse);
        let description = v.check_opt("description", self.description.as_deref(), text(DESCRIPTION_MAX_CHARS));
        let image_url = v.check_opt("image_url", self.image_url.as_deref(), Link::parse);
        let method = v.check_opt("method", self.method.as_deref(), text(METHOD_MAX_CHARS));
        let location = v.check_opt("location", self.location.as_deref(), text(LOCATION_MAX_CHARS));
        let link = v.check_opt("link", self.link.as_deref(), Link::parse);
        let start =
            v.required("start_date", self.start_date.as_deref(), |raw| EventTime::parse(raw, Bound::Lower, calendar));
        let end = v.required("end_date", self.end_date.as_deref(), |raw| EventTime::parse(raw, Bound::Upper, calendar));
        check_order(&mut v, start, end);
        v.finish(|| {
            Some(EventDraft {
                title: title?,
                category: category?,
                description: description?,
                image_url: image_url?,
                method: method?,
                location: location?,
                link: link?,
                start: start?,
                end: end?,
            })
        })
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatchEventBody {
    #[serde(default, deserialize_with = "present")]
    pub title: Option<String>,
    #[serde(default, deserialize_with = "present")]
    pub category: Option<String>,
    #[serde(default, deserialize_with = "present")]
    pub start_date: Option<String>,
    #[serde(default, deserialize_with = "present")]
    pub end_date: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub description: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    pub image_url: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    pub method: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    pub location: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    pub link: Option<Option<String>>,
}

impl PatchEventBody {
    fn is_empty(&self) -> bool {
        self.title.is_none()
            && self.category.is_none()
            && self.start_date.is_none()
            && self.end_date.is_none()
            && self.description.is_none()
            && self.image_url.is_none()
            && self.method.is_none()
            && self.location.is_none()
            && self.link.is_none()
    }

    /// The event as it will be after the patch; absent fields keep their value, null clears.
    pub fn apply(&self, current: &Event, calendar: Calendar) -> Result<EventDraft, Vec<FieldError>> {
        if self.is_empty() {
            return Err(vec![FieldError::new("body", "give at least one field to change")]);
        }
        let mut v = Validator::new();
        let title = v.check("title", text(TITLE_MAX_CHARS)(self.title.as_deref().unwrap_or(&current.title)));
        let category = match self.category.as_deref() {
            Some(raw) => v.check("category", EventCategory::parse(raw)),
            None => Some(current.category),
        };
        let mut optional = |field: &str,
                            patch: &Option<Option<String>>,
                            stored: &Option<String>,
                            parse: &dyn Fn(&str) -> Result<BoundedText, String>| {
            let value = patch.as_ref().unwrap_or(stored);
            v.check_opt(field, value.as_deref(), parse)
        };
        let description =
            optional("description", &self.description, &current.description, &text(DESCRIPTION_MAX_CHARS));
        let method = optional("method", &self.method, &current.method, &text(METHOD_MAX_CHARS));
        let location = optional("location", &self.location, &current.location, &text(LOCATION_MAX_CHARS));
        let image_url =
            v.check_opt("image_url", self.image_url.as_ref().unwrap_or(&current.image_url).as_deref(), Link::parse);
        let link = v.check_opt("link", self.link.as_ref().unwrap_or(&current.link).as_deref(), Link::parse);
        let start = match self.start_date.as_deref() {
            Some(raw) => v.check("start_date", EventTime::parse(raw, Bound::Lower, calendar)),
            None => Some(EventTime::start_of(current)),
        };
        let end = match self.end_date.as_deref() {
            Some(raw) => v.check("end_date", EventTime::parse(raw, Bound::Upper, calendar)),
            None => Some(EventTime::end_of(current)),
        };
        check_order(&mut v, start, end);
        v.finish(|| {
            Some(EventDraft {
                title: title?,
                category: category?,
                description: description?,
                image_url: image_url?,
                method: method?,
                location: location?,
                link: link?,
                start: start?,
                end: end?,
            })
        })
    }
}

/// Which events to list. Every filter becomes an inclusive date bound, so the store needs only
/// one query shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventFilter {
    pub category: Option<EventCategory>,
    pub start_from: NaiveDate,
    pub start_to: NaiveDate,
    pub end_from: NaiveDate,
    pub end_to: NaiveDate,
}

impl EventFilter {
    /// Bounds that hold for any storable date (MySQL `DATE` spans 1000-01-01..9999-12-31).
    pub const EARLIEST: NaiveDate = NaiveDate::from_ymd_opt(1000, 1, 1).expect("valid date");
    pub const LATEST: NaiveDate = NaiveDate::from_ymd_opt(9999, 12, 31).expect("valid date");

    /// `from`/`to` keep events that overlap the range; `status` is judged against `today`.
    pub fn new(
        category: Option<EventCategory>,
        status: Option<EventStatus>,
        from: Option<NaiveDate>,
        to: Option<NaiveDate>,
        today: NaiveDate,
    ) -> Self {
        let mut f = Self {
            category,
            start_from: Self::EARLIEST,
            start_to: Self::LATEST,
            end_from: Self::EARLIEST,
            end_to: Self::LATEST,
        };
        match status {
            Some(EventStatus::Upcoming) => f.start_from = today.checked_add_days(Days::new(1)).unwrap_or(Self::LATEST),
            Some(EventStatus::Ongoing) => {
                f.start_to = today;
                f.end_from = today;
            }
            Some(EventStatus::Past) => f.end_to = today.checked_sub_days(Days::new(1)).unwrap_or(Self::EARLIEST),
            None => {}
        }
        if let Some(from) = from {
            f.end_from = f.end_from.max(from);
        }
        if let Some(to) = to {
            f.start_to = f.start_to.min(to);
        }
        f
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn categories_parse_from_code_or_label() {
        assert_eq!(EventCategory::parse("hackathon"), Ok(EventCategory::Hackathon));
        assert_eq!(EventCategory::parse("공모전"), Ok(EventCategory::Contest));
        assert!(EventCategory::parse("MEETUP").is_err());
    }

    fn body(start: &str, end: &str) -> CreateEventBody {
        serde_json::from_value(serde_json::json!({
            "title": "PortForge Hack", "category": "HACKATHON", "start_date": start, "end_date": end
        }))
        .unwrap()
    }

    #[test]
    fn end_before_start_is_rejected() {
        let errors = body("2026-05-02", "2026-05-01").validate(Calendar::kst()).unwrap_err();
        assert_eq!(errors, vec![FieldError::new("end_date", "must be at or after start_date")]);
        let errors = body("2026-05-01T10:00:00+09:00", "2026-05-01T09:00:00+09:00").validate(Calendar::kst());
        assert!(errors.is_err());
    }

    #[test]
    fn dates_span_whole_kst_days_and_date_times_keep_their_time() {
        let whole = body("2027-01-10", "2027-01-11").validate(Calendar::kst()).unwrap();
        assert_eq!(format_iso(&whole.start.at), "2027-01-09T15:00:00.000Z");
        assert_eq!(format_iso(&whole.end.at), "2027-01-11T14:59:59.999Z");
        assert!(whole.all_day());
        let timed = body("2027-01-10T09:00:00Z", "2027-01-10").validate(Calendar::kst()).unwrap();
        assert_eq!(format_iso(&timed.start.at), "2027-01-10T09:00:00.000Z");
        assert_eq!(timed.start.date, NaiveDate::from_ymd_opt(2027, 1, 10).unwrap());
        assert!(!timed.all_day());
        // 20:00 UTC is already the next day in Korea.
        let late = body("2027-01-10T20:00:00Z", "2027-01-12").validate(Calendar::kst()).unwrap();
        assert_eq!(late.start.date, NaiveDate::from_ymd_opt(2027, 1, 11).unwrap());
        for (start, end) in [("0999-01-01", "2027-01-01"), ("2027-01-01", "9999-12-31"), ("1000-01-01", "1970-01-05")] {
            assert!(body(start, end).validate(Calendar::kst()).is_err(), "{start} {end}");
        }
    }

    #[test]
    fn status_becomes_date_bounds() {
        let today = NaiveDate::from_ymd_opt(2026, 5, 10).unwrap();
        let ongoing = EventFilter::new(None, Some(EventStatus::Ongoing), None, None, today);
        assert_eq!((ongoing.start_to, ongoing.end_from), (today, today));
        let upcoming = EventFilter::new(None, Some(EventStatus::Upcoming), None, None, today);
        assert_eq!(upcoming.start_from, NaiveDate::from_ymd_opt(2026, 5, 11).unwrap());
        let past = EventFilter::new(None, Some(EventStatus::Past), None, None, today);
        assert_eq!(past.end_to, NaiveDate::from_ymd_opt(2026, 5, 9).unwrap());
    }
}
