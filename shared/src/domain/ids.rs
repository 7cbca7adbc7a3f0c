//! Identifiers. Each is a newtype parsed once at the edge (path, body, token, stored row) and
//! carried as is through services and stores, so a project id cannot be passed where a notice id
//! is expected, and no layer past the edge re-validates a bare `i64` or `String`.

use std::fmt;

use serde::Serialize;

const POSITIVE: &str = "must be a positive integer";

/// Ids the database issues (auto-increment) or sibling services own: positive integers.
pub trait NumericId: Sized + Copy + fmt::Display {
    /// Parses a decimal id from a path, query or loose JSON string.
    fn parse(raw: &str) -> Result<Self, String>;
    fn get(self) -> i64;
}

macro_rules! numeric_id {
    ($($(#[$doc:meta])* $name:ident;)+) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
        #[serde(transparent)]
        pub struct $name(i64);

        impl $name {
            /// A positive integer, else the reason it is not an id.
            pub fn new(raw: i64) -> Result<Self, String> {
                if raw > 0 { Ok(Self(raw)) } else { Err(POSITIVE.into()) }
            }

            /// Parses a decimal id from a path, query or loose JSON string.
            pub fn parse(raw: &str) -> Result<Self, String> {
                raw.trim().parse::<i64>().map_err(|_| POSITIVE.to_string()).and_then(Self::new)
            }

            /// A key read back from storage, which only ever holds ids that were valid.
            pub fn from_stored(raw: i64) -> Self {
                Self(raw)
            }

            pub fn get(self) -> i64 {
                self.0
            }
        }

        impl NumericId for $name {
            fn parse(raw: &str) -> Result<Self, String> {
                Self::parse(raw)
            }

            fn get(self) -> i64 {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    )+};
}

numeric_id! {
    /// A PortForge project (owned by the Project service).
    ProjectId;
    /// A team (owned by the Team service); a project belongs to one.
    TeamId;
    NotificationId;
    NoticeId;
    BannerId;
    EventId;
    ReportId;
}

/// An id a client sends as a JSON number or a numeric string (the web app does both).
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(untagged)]
pub enum LooseId {
    Number(i64),
    Text(String),
}

impl LooseId {
    pub fn parse<T: NumericId>(&self) -> Result<T, String> {
        match self {
            LooseId::Number(n) => T::parse(&n.to_string()),
            LooseId::Text(raw) => T::parse(raw),
        }
    }
}

/// A PortForge user: the Cognito `sub`, a 36-character UUID, stored lower-case.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct UserId(String);

impl UserId {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let valid = raw.len() == 36 && uuid::Uuid::try_parse(raw).is_ok();
        if valid { Ok(Self(raw.to_ascii_lowercase())) } else { Err("must be a 36-character user id (UUID)".into()) }
    }

    /// A user id read back from storage (written only after `parse`).
    pub fn from_stored(raw: String) -> Self {
        Self(raw)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A chat message's id: a client-chosen one (which makes a send idempotent) or a server UUID.
/// 1–64 of `A-Z a-z 0-9 - _`, so it can sit inside a sort key and a cursor.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct MessageId(String);

impl MessageId {
    pub const MAX_CHARS: usize = 64;

    pub fn parse(raw: &str) -> Result<Self, String> {
        let ok = !raw.is_empty()
            && raw.len() <= Self::MAX_CHARS
            && raw.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if ok {
            Ok(Self(raw.to_owned()))
        } else {
            Err(format!("must be 1 to {} characters of A-Z, a-z, 0-9, '-' or '_'", Self::MAX_CHARS))
        }
    }

    /// A fresh server-chosen id: a UUIDv7 carrying `at`, the message's stamp, so that the
    /// message's sort key follows from its id alone (a store finds it at once, before any index).
    pub fn generate_at(at: &chrono::DateTime<chrono::Utc>) -> Self {
        let millis = u64::try_from(at.timestamp_millis()).unwrap_or_default();
        let stamp = uuid::Timestamp::from_unix(uuid::NoContext, millis / 1_000, (millis % 1_000) as u32 * 1_000_000);
        Self(uuid::Uuid::new_v7(stamp).to_string())
    }

    /// The stamp a server-chosen id carries (see [`Self::generate_at`]); `None` for other ids. A
    /// client may choose a UUIDv7 too: its stamp is then only a guess to try first.
    pub fn stamp(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        let id = uuid::Uuid::try_parse(&self.0).ok()?;
        let (secs, nanos) = id.get_timestamp()?.to_unix();
        let millis = i64::try_from(secs).ok()?.checked_mul(1_000)? + i64::from(nanos / 1_000_000);
        chrono::DateTime::from_timestamp_millis(millis)
    }

    pub fn from_stored(raw: String) -> Self {
        Self(raw)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An API Gateway WebSocket connection id (base64-like, e.g. `L0SM9cOFvHcCIhw=`). Opaque: only
/// its length and alphabet are checked, so it is safe in a URL path and a log line.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct ConnectionId(String);

impl ConnectionId {
    pub const MAX_CHARS: usize = 128;

    pub fn parse(raw: &str) -> Result<Self, String> {
        let ok = !raw.is_empty()
            && raw.len() <= Self::MAX_CHARS
            && raw.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'=' | b'+' | b'/' | b'-' | b'_'));
        if ok { Ok(Self(raw.to_owned())) } else { Err("is not a WebSocket connection id".into()) }
    }

    pub fn from_stored(raw: String) -> Self {
        Self(raw)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ConnectionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_ids_are_positive() {
        assert_eq!(ProjectId::parse(" 42 ").map(ProjectId::get), Ok(42));
        for bad in ["0", "-1", "abc", "", "1.5", "99999999999999999999"] {
            assert!(ProjectId::parse(bad).is_err(), "{bad}");
        }
        assert!(NoticeId::new(0).is_err());
        assert_eq!(serde_json::to_string(&EventId::new(7).unwrap()).unwrap(), "7");
    }

    #[test]
    fn user_ids_are_hyphenated_uuids() {
        let id = UserId::parse("3F2504E0-4F89-11D3-9A0C-0305E82C3301").unwrap();
        assert_eq!(id.as_str(), "3f2504e0-4f89-11d3-9a0c-0305e82c3301");
        assert!(UserId::parse("3f2504e04f8911d39a0c0305e82c3301").is_err());
        assert!(UserId::parse("not-a-user").is_err());
    }

    #[test]
    fn message_ids_are_restricted() {
        assert!(MessageId::parse("c-1_A").is_ok());
        let at = chrono::DateTime::from_timestamp_millis(1_796_000_123_456).unwrap();
        let id = MessageId::generate_at(&at);
        assert_eq!((MessageId::parse(id.as_str()).map(|p| p.stamp()), id.stamp()), (Ok(Some(at)), Some(at)));
        assert_eq!(MessageId::parse("c-1_A").unwrap().stamp(), None);
        assert_eq!(MessageId::parse(&uuid::Uuid::new_v4().to_string()).unwrap().stamp(), None);
        for bad in ["", "has space", "emoji😀", "a#b", &"x".repeat(65)] {
            assert!(MessageId::parse(bad).is_err(), "{bad}");
        }
        assert!(MessageId::parse(MessageId::generate_at(&chrono::Utc::now()).as_str()).is_ok());
    }

    #[test]
    fn connection_ids_are_opaque_but_safe() {
        assert!(ConnectionId::parse("L0SM9cOFvHcCIhw=").is_ok());
        for bad in ["", "a b", "../x", "a\nb", &"x".repeat(129)] {
            assert!(ConnectionId::parse(bad).is_err(), "{bad:?}");
        }
    }
}
