//! Domain types: each parses and validates its own input, so a value of the type is always valid.

pub mod chat;
pub mod content;
pub mod event;
pub mod ids;
pub mod notification;
pub mod page;
pub mod report;
pub mod text;
pub mod time;

pub use ids::{
    BannerId, ConnectionId, EventId, MessageId, NoticeId, NotificationId, ProjectId, ReportId, TeamId, UserId,
};
pub use page::{Cursor, Limit, Page};
pub use text::{BoundedText, Link};

/// One problem with one input field, reported to the client as-is.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self { field: field.into(), message: message.into() }
    }
}

/// Collects every field problem of one request so the client can fix them all at once.
#[derive(Debug, Default)]
pub struct Validator {
    errors: Vec<FieldError>,
}

impl Validator {
    pub fn new() -> Self {
        Self::default()
    }

    /// Records the error (if any) and returns the parsed value.
    pub fn check<T>(&mut self, field: &str, result: Result<T, String>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(message) => {
                self.errors.push(FieldError::new(field, message));
                None
            }
        }
    }

    /// Like [`Validator::check`] for an optional input: `None` stays `None`.
    pub fn check_opt<T, I>(
        &mut self,
        field: &str,
        input: Option<I>,
        parse: impl FnOnce(I) -> Result<T, String>,
    ) -> Option<Option<T>> {
        match input {
            None => Some(None),
            Some(raw) => self.check(field, parse(raw)).map(Some),
        }
    }

    /// Like [`Validator::check`] for an input the request must carry: absent is "is required".
    /// Bodies declare such fields optional so that a missing one is reported here, by name,
    /// with every other problem of the request.
    pub fn required<T, I>(
        &mut self,
        field: &str,
        input: Option<I>,
        parse: impl FnOnce(I) -> Result<T, String>,
    ) -> Option<T> {
        match input {
            None => {
                self.error(field, "is required");
                None
            }
            Some(raw) => self.check(field, parse(raw)),
        }
    }

    pub fn error(&mut self, field: &str, message: impl Into<String>) {
        self.errors.push(FieldError::new(field, message));
    }

    /// `Ok(value)` when no error was recorded; `value` is only built then.
    pub fn finish<T>(self, build: impl FnOnce() -> Option<T>) -> Result<T, Vec<FieldError>> {
        if !self.errors.is_empty() {
            return Err(self.errors);
        }
        build().ok_or_else(|| vec![FieldError::new("body", "invalid input")])
    }
}
