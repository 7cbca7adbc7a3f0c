//! Keyset pagination: a page size and an opaque cursor naming the last row already seen.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};

/// Page size: 1..=100, 20 when absent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit(u32);

impl Limit {
    pub const MAX: u32 = 100;
    pub const DEFAULT: u32 = 20;

    pub fn parse(raw: Option<&str>) -> Result<Self, String> {
        match raw {
            None => Ok(Self(Self::DEFAULT)),
            Some(raw) => raw.trim().parse::<u32>().map_err(|_| Self::out_of_range()).and_then(Self::new),
        }
    }

    fn out_of_range() -> String {
        format!("must be an integer from 1 to {}", Self::MAX)
    }

    /// A page size given as a number (a WebSocket frame's `limit`).
    pub fn new(n: u32) -> Result<Self, String> {
        if (1..=Self::MAX).contains(&n) { Ok(Self(n)) } else { Err(Self::out_of_range()) }
    }

    pub fn get(self) -> u32 {
        self.0
    }

    /// Rows to fetch: one more than the page, to learn whether another page follows.
    pub fn probe(self) -> i64 {
        i64::from(self.0) + 1
    }
}

impl Default for Limit {
    fn default() -> Self {
        Self(Self::DEFAULT)
    }
}

/// Position after which the next page starts: the sort key of the last row (epoch ms) and its id
/// as the tie-breaker. Opaque to clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub key: i64,
    pub id: i64,
}

impl Cursor {
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!("v1.{}.{}", self.key, self.id))
    }

    pub fn at_instant(at: &DateTime<Utc>, id: i64) -> Self {
        Self { key: at.timestamp_millis(), id }
    }

    /// The sort key as an instant, for lists ordered by time.
    pub fn instant(&self) -> Option<DateTime<Utc>> {
        DateTime::from_timestamp_millis(self.key)
    }

    pub fn decode(raw: &str) -> Result<Self, String> {
        let invalid = || "is not a cursor returned by this API".to_string();
        let bytes = URL_SAFE_NO_PAD.decode(raw.trim()).map_err(|_| invalid())?;
        let text = String::from_utf8(bytes).map_err(|_| invalid())?;
        let mut parts = text.split('.');
        let (Some("v1"), Some(key), Some(id), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
            return Err(invalid());
        };
        Ok(Self { key: key.parse().map_err(|_| invalid())?, id: id.parse().map_err(|_| invalid())? })
    }
}

/// One page of rows plus where the next one starts (`None` on the last page).
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<Cursor>,
}

impl<T> Page<T> {
    /// Builds a page from `limit + 1` fetched rows: the extra row only signals that more exist.
    pub fn from_probe(mut rows: Vec<T>, limit: Limit, cursor_of: impl Fn(&T) -> Cursor) -> Self {
        let more = rows.len() > limit.get() as usize;
        rows.truncate(limit.get() as usize);
        let next_cursor = if more { rows.last().map(cursor_of) } else { None };
        Self { items: rows, next_cursor }
    }

    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page { items: self.items.into_iter().map(f).collect(), next_cursor: self.next_cursor }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_bounds() {
        assert_eq!(Limit::parse(None).unwrap().get(), 20);
        assert_eq!(Limit::parse(Some("100")).unwrap().get(), 100);
        for bad in ["0", "101", "-1", "ten", ""] {
            assert!(Limit::parse(Some(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn cursor_round_trips_and_rejects_garbage() {
        let c = Cursor { key: -1_700_000_000_123, id: 42 };
        assert_eq!(Cursor::decode(&c.encode()).unwrap(), c);
        for bad in ["", "abc", "djEuMS4y.", &URL_SAFE_NO_PAD.encode("v2.1.2"), &URL_SAFE_NO_PAD.encode("v1.1.2.3")] {
            assert!(Cursor::decode(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn probe_row_sets_next_cursor() {
        let limit = Limit::parse(Some("2")).unwrap();
        let cur = |n: &i64| Cursor { key: *n, id: *n };
        let full = Page::from_probe(vec![1, 2, 3], limit, cur);
        assert_eq!(full.items, vec![1, 2]);
        assert_eq!(full.next_cursor, Some(Cursor { key: 2, id: 2 }));
        let last = Page::from_probe(vec![1, 2], limit, cur);
        assert_eq!(last.next_cursor, None);
    }
}
