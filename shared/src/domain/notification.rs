//! Per-user notifications with an optional deep link.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{BoundedText, FieldError, Link, NotificationId, UserId, Validator, time::iso_ms};

pub const MESSAGE_MAX_CHARS: usize = 500;
/// Most ids one mark-read request may name.
pub const MARK_READ_MAX_IDS: usize = 100;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Notification {
    pub notification_id: NotificationId,
    pub user_id: UserId,
    pub message: String,
    pub link: Option<String>,
    pub is_read: bool,
    #[serde(with = "iso_ms")]
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NewNotification {
    pub user_id: UserId,
    pub message: BoundedText,
    pub link: Option<Link>,
}

/// Body of `POST /notifications`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateNotificationBody {
    #[serde(default)]
    pub user_id: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub link: Option<String>,
}

impl CreateNotificationBody {
    pub fn validate(self) -> Result<NewNotification, Vec<FieldError>> {
        let mut v = Validator::new();
        let user_id = v.required("user_id", self.user_id.as_deref(), UserId::parse);
        let message = v.required("message", self.message.as_deref(), |m| BoundedText::parse(m, 1, MESSAGE_MAX_CHARS));
        let link = v.check_opt("link", self.link.as_deref(), Link::parse);
        v.finish(|| Some(NewNotification { user_id: user_id?, message: message?, link: link? }))
    }
}

/// Which of the caller's notifications to mark read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MarkRead {
    All,
    Ids(Vec<NotificationId>),
}

/// Body of `POST /notifications/read`: `{"notification_ids": [..]}` or `{"all": true}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MarkReadBody {
    #[serde(default)]
    pub notification_ids: Option<Vec<i64>>,
    #[serde(default)]
    pub all: Option<bool>,
}

impl MarkReadBody {
    pub fn validate(self) -> Result<MarkRead, Vec<FieldError>> {
        match (self.notification_ids, self.all) {
            (Some(_), Some(_)) => Err(vec![FieldError::new("body", "give either notification_ids or all, not both")]),
            (None, Some(true)) => Ok(MarkRead::All),
            (None, Some(false)) => {
                Err(vec![FieldError::new("all", "must be true when given; to mark some, send notification_ids")])
            }
            (None, None) => Err(vec![FieldError::new("body", "give notification_ids (a list of ids) or all: true")]),
            (Some(raw), None) => {
                if raw.is_empty() || raw.len() > MARK_READ_MAX_IDS {
                    return Err(vec![FieldError::new(
                        "notification_ids",
                        format!("must hold 1 to {MARK_READ_MAX_IDS} ids"),
                    )]);
                }
                let mut ids = raw
                    .into_iter()
                    .map(NotificationId::new)
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|_| vec![FieldError::new("notification_ids", "ids are positive integers")])?;
                ids.sort_unstable();
                ids.dedup();
                Ok(MarkRead::Ids(ids))
            }
        }
    }
}

/// Outcome of a mark-read request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct MarkReadOutcome {
    /// Notifications that went from unread to read by this request.
    pub updated: u64,
    pub unread_count: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mark(json: &str) -> Result<MarkRead, Vec<FieldError>> {
        serde_json::from_str::<MarkReadBody>(json).unwrap().validate()
    }

    #[test]
    fn mark_read_forms() {
        assert_eq!(mark(r#"{"all":true}"#), Ok(MarkRead::All));
        let id = |n| NotificationId::new(n).unwrap();
        assert_eq!(mark(r#"{"notification_ids":[3,1,3]}"#), Ok(MarkRead::Ids(vec![id(1), id(3)])));
        assert!(mark(r#"{"all":false}"#).is_err());
        assert!(mark(r#"{}"#).is_err());
        assert!(mark(r#"{"all":true,"notification_ids":[1]}"#).is_err());
        assert!(mark(r#"{"notification_ids":[]}"#).is_err());
        assert!(mark(r#"{"notification_ids":[0]}"#).is_err());
        let many: Vec<i64> = (1..=101).collect();
        assert!(mark(&serde_json::json!({ "notification_ids": many }).to_string()).is_err());
    }

    #[test]
    fn create_collects_every_field_error() {
        let body: CreateNotificationBody = serde_json::from_value(serde_json::json!({
            "user_id": "nope", "message": "", "link": "http://plain.example"
        }))
        .unwrap();
        let errors = body.validate().unwrap_err();
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["user_id", "message", "link"]);
    }
}
