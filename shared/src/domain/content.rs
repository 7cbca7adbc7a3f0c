//! Site notices and homepage banners.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer, ser::SerializeStruct};

use super::{
    BannerId, BoundedText, FieldError, Link, NoticeId, Validator,
    time::{Calendar, format_iso, parse_instant},
};

pub const TITLE_MAX_CHARS: usize = 100;
pub const NOTICE_CONTENT_MAX_CHARS: usize = 20_000;
pub const SORT_ORDER_RANGE: std::ops::RangeInclusive<i32> = -1_000_000..=1_000_000;

/// For PATCH bodies: a field that may be absent but, when present, may not be null.
pub fn present<'de, T, D>(d: D) -> Result<Option<T>, D::Error>
where
    T: Deserialize<'de>,
    D: Deserializer<'de>,
{
    T::deserialize(d).map(Some)
}

/// For PATCH bodies: tells a field that is absent (`None`) from one set to null (`Some(None)`).
pub fn nullable<'de, T, D>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    T: Deserialize<'de>,
    D: Deserializer<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

#[derive(Debug, Clone, PartialEq)]
pub struct Notice {
    pub notice_id: NoticeId,
    pub title: String,
    pub content: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Notice {
    /// The notice as the API shows it, its `date` on `calendar`.
    pub fn shown(self, calendar: Calendar) -> ShownNotice {
        let day = calendar.date_of(&self.created_at);
        ShownNotice { notice: self, day }
    }
}

/// A notice as the API shows it. `id` repeats `notice_id`, and `date` is the day it was posted
/// on the users' calendar (`YYYY-MM-DD`, KST): the web app's home page prints those as they are.
/// `created_at` keeps the instant.
#[derive(Debug, Clone, PartialEq)]
pub struct ShownNotice {
    pub notice: Notice,
    pub day: NaiveDate,
}

impl Serialize for ShownNotice {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let notice = &self.notice;
        let mut n = s.serialize_struct("Notice", 7)?;
        n.serialize_field("notice_id", &notice.notice_id)?;
        n.serialize_field("id", &notice.notice_id)?;
        n.serialize_field("title", &notice.title)?;
        n.serialize_field("content", &notice.content)?;
        n.serialize_field("created_at", &format_iso(&notice.created_at))?;
        n.serialize_field("date", &self.day.format("%Y-%m-%d").to_string())?;
        n.serialize_field("updated_at", &format_iso(&notice.updated_at))?;
        n.end()
    }
}

/// A notice's editable fields, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct NoticeDraft {
    pub title: BoundedText,
    pub content: BoundedText,
}

fn title(raw: &str) -> Result<BoundedText, String> {
    BoundedText::parse(raw, 1, TITLE_MAX_CHARS)
}

fn notice_content(raw: &str) -> Result<BoundedText, String> {
    BoundedText::parse(raw, 1, NOTICE_CONTENT_MAX_CHARS)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateNoticeBody {
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub content: Option<String>,
}

impl CreateNoticeBody {
    pub fn validate(self) -> Result<NoticeDraft, Vec<FieldError>> {
        let mut v = Validator::new();
        let title = v.required("title", self.title.as_deref(), title);
        let content = v.required("content", self.content.as_deref(), notice_content);
        v.finish(|| Some(NoticeDraft { title: title?, content: content? }))
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatchNoticeBody {
    #[serde(default, deserialize_with = "present")]
    pub title: Option<String>,
    #[serde(default, deserialize_with = "present")]
    pub content: Option<String>,
}

impl PatchNoticeBody {
    /// The notice as it will be after the patch.
    pub fn apply(&self, current: &Notice) -> Result<NoticeDraft, Vec<FieldError>> {
        if self.title.is_none() && self.content.is_none() {
            return Err(vec![FieldError::new("body", "give at least one of: title, content")]);
        }
        let mut v = Validator::new();
        let title = v.check("title", title(self.title.as_deref().unwrap_or(&current.title)));
        let content = v.check("content", notice_content(self.content.as_deref().unwrap_or(&current.content)));
        v.finish(|| Some(NoticeDraft { title: title?, content: content? }))
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Banner {
    pub banner_id: BannerId,
    pub title: String,
    pub link: Option<String>,
    /// Banners of the original service had no image.
    pub image_url: Option<String>,
    pub is_active: bool,
    pub sort_order: i32,
    pub start_at: Option<DateTime<Utc>>,
    pub end_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The banner as the API shows it; `id` repeats `banner_id` for the web app.
impl Serialize for Banner {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut b = s.serialize_struct("Banner", 11)?;
        b.serialize_field("banner_id", &self.banner_id)?;
        b.serialize_field("id", &self.banner_id)?;
        b.serialize_field("title", &self.title)?;
        b.serialize_field("link", &self.link)?;
        b.serialize_field("image_url", &self.image_url)?;
        b.serialize_field("is_active", &self.is_active)?;
        b.serialize_field("sort_order", &self.sort_order)?;
        b.serialize_field("start_at", &self.start_at.as_ref().map(format_iso))?;
        b.serialize_field("end_at", &self.end_at.as_ref().map(format_iso))?;
        b.serialize_field("created_at", &format_iso(&self.created_at))?;
        b.serialize_field("updated_at", &format_iso(&self.updated_at))?;
        b.end()
    }
}

/// A banner's editable fields, validated, including the window rule.
#[derive(Debug, Clone, PartialEq)]
pub struct BannerDraft {
    pub title: BoundedText,
    pub link: Option<Link>,
    pub image_url: Option<Link>,
    pub is_active: bool,
    pub sort_order: i32,
    pub start_at: Option<DateTime<Utc>>,
    pub end_at: Option<DateTime<Utc>>,
}

fn sort_order(n: i32) -> Result<i32, String> {
    if SORT_ORDER_RANGE.contains(&n) {
        Ok(n)
    } else {
        Err(format!("must be from {} to {}", SORT_ORDER_RANGE.start(), SORT_ORDER_RANGE.end()))
    }
}

fn check_window(v: &mut Validator, start: Option<Option<DateTime<Utc>>>, end: Option<Option<DateTime<Utc>>>) {
    if let (Some(Some(start)), Some(Some(end))) = (start, end)
        && end <= start
    {
        v.error("end_at", "must be after start_at");
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateBannerBody {
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub image_url: Option<String>,
    #[serde(default)]
    pub link: Option<String>,
    #[serde(default)]
    pub is_active: Option<bool>,
    #[serde(default)]
    pub sort_order: Option<i32>,
    #[serde(default)]
    pub start_at: Option<String>,
    #[serde(default)]
    pub end_at: Option<String>,
}

impl CreateBannerBody {
    pub fn validate(self) -> Result<BannerDraft, Vec<FieldError>> {
        let mut v = Validator::new();
        let title = v.required("title", self.title.as_deref(), title);
        let image_url = v.check_opt("image_url", self.image_url.as_deref(), Link::parse);
        let link = v.check_opt("link", self.link.as_deref(), Link::parse);
        let sort_order = v.check("sort_order", sort_order(self.sort_order.unwrap_or(0)));
        let start_at = v.check_opt("start_at", self.start_at.as_deref(), parse_instant);
        let end_at = v.check_opt("end_at", self.end_at.as_deref(), parse_instant);
        check_window(&mut v, start_at, end_at);
        v.finish(|| {
            Some(BannerDraft {
                title: title?,
                link: link?,
                image_url: image_url?,
                is_active: self.is_active.unwrap_or(true),
                sort_order: sort_order?,
                start_at: start_at?,
                end_at: end_at?,
            })
        })
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatchBannerBody {
    #[serde(default, deserialize_with = "present")]
    pub title: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub image_url: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    pub link: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    pub is_active: Option<bool>,
    #[serde(default, deserialize_with = "present")]
    pub sort_order: Option<i32>,
    #[serde(default, deserialize_with = "nullable")]
    pub start_at: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    pub end_at: Option<Option<String>>,
}

impl PatchBannerBody {
    fn is_empty(&self) -> bool {
        self.title.is_none()
            && self.image_url.is_none()
            && self.link.is_none()
            && self.is_active.is_none()
            && self.sort_order.is_none()
            && self.start_at.is_none()
            && self.end_at.is_none()
    }

    /// The banner as it will be after the patch; absent fields keep their value, null clears.
    pub fn apply(&self, current: &Banner) -> Result<BannerDraft, Vec<FieldError>> {
        if self.is_empty() {
            return Err(vec![FieldError::new("body", "give at least one field to change")]);
        }
        let mut v = Validator::new();
        let title = v.check("title", title(self.title.as_deref().unwrap_or(&current.title)));
        let image_url =
            v.check_opt("image_url", self.image_url.as_ref().unwrap_or(&current.image_url).as_deref(), Link::parse);
        let link = match &self.link {
            Some(new) => v.check_opt("link", new.as_deref(), Link::parse),
            // Stored values were validated on the way in.
            None => v.check_opt("link", current.link.as_deref(), Link::parse),
        };
        let sort_order = v.check("sort_order", sort_order(self.sort_order.unwrap_or(current.sort_order)));
        let start_at = match &self.start_at {
            Some(new) => v.check_opt("start_at", new.as_deref(), parse_instant),
            None => Some(current.start_at),
        };
        let end_at = match &self.end_at {
            Some(new) => v.check_opt("end_at", new.as_deref(), parse_instant),
            None => Some(current.end_at),
        };
        check_window(&mut v, start_at, end_at);
        v.finish(|| {
            Some(BannerDraft {
                title: title?,
                link: link?,
                image_url: image_url?,
                is_active: self.is_active.unwrap_or(current.is_active),
                sort_order: sort_order?,
                start_at: start_at?,
                end_at: end_at?,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_notices_date_is_the_kst_day_it_was_posted_on() {
        let at = crate::domain::time::parse_instant("2026-12-03T17:15:08.139Z").unwrap();
        let notice = Notice {
            notice_id: NoticeId::new(1).unwrap(),
            title: "t".into(),
            content: "c".into(),
            created_at: at,
            updated_at: at,
        };
        let shown = serde_json::to_value(notice.shown(Calendar::kst())).unwrap();
        assert_eq!(shown["date"], "2026-12-04");
        assert_eq!(shown["created_at"], "2026-12-03T17:15:08.139Z");
    }

    use super::*;
    use serde_json::json;

    fn banner() -> Banner {
        let at = parse_instant("2026-01-01T00:00:00Z").unwrap();
        Banner {
            banner_id: BannerId::new(1).unwrap(),
            title: "Spring hackathon".into(),
            link: Some("/events/1".into()),
            image_url: Some("https://cdn.example/b.png".into()),
            is_active: true,
            sort_order: 0,
            start_at: Some(at),
            end_at: None,
            created_at: at,
            updated_at: at,
        }
    }

    #[test]
    fn patch_keeps_absent_fields_and_clears_nulls() {
        let patch: PatchBannerBody = serde_json::from_value(json!({"link": null, "sort_order": 5})).unwrap();
        let draft = patch.apply(&banner()).unwrap();
        assert_eq!(draft.link, None);
        assert_eq!(draft.sort_order, 5);
        assert_eq!(draft.title.as_str(), "Spring hackathon");
        assert!(draft.start_at.is_some());
    }

    #[test]
    fn patch_checks_the_window_against_stored_values() {
        let patch: PatchBannerBody = serde_json::from_value(json!({"end_at": "2025-12-31T00:00:00Z"})).unwrap();
        let errors = patch.apply(&banner()).unwrap_err();
        assert_eq!(errors[0].field, "end_at");
    }

    #[test]
    fn empty_patch_is_rejected() {
        let patch: PatchBannerBody = serde_json::from_value(json!({})).unwrap();
        assert!(patch.apply(&banner()).is_err());
    }
}
