//! Business rules, independent of transport. Each service holds the ports it needs; the HTTP
//! routers and the WebSocket handlers call it with a verified identity and parsed input.

pub mod chat;
pub mod content;
pub mod events;
pub mod membership;
pub mod notifications;
pub mod presence;
pub mod reports;

use std::future::Future;

use chrono::{DateTime, Duration, Utc};

use crate::domain::{FieldError, time::now_ms};
use crate::error::{AppError, AppResult};
use crate::store::{Guarded, StoreError};

/// How often a partial update is re-applied when another writer got in between.
const PATCH_ATTEMPTS: usize = 3;

/// A timestamp for a new version that is strictly later than the one it replaces, so the
/// `updated_at` guard also catches two writes within the same millisecond.
fn next_version(previous: DateTime<Utc>) -> DateTime<Utc> {
    now_ms().max(previous + Duration::milliseconds(1))
}

/// Read-modify-write with optimistic concurrency: load the row, merge the patch, write it only
/// if nobody changed it meanwhile, and retry a few times before answering 409.
pub(crate) async fn patch_guarded<T, D, Load, Save>(
    what: &str,
    id: impl std::fmt::Display + Copy,
    version_of: impl Fn(&T) -> DateTime<Utc>,
    load: impl Fn() -> Load,
    merge: impl Fn(&T) -> Result<D, Vec<FieldError>>,
    save: impl Fn(D, DateTime<Utc>, DateTime<Utc>) -> Save,
) -> AppResult<T>
where
    Load: Future<Output = Result<Option<T>, StoreError>>,
    Save: Future<Output = Result<Guarded<T>, StoreError>>,
{
    for _ in 0..PATCH_ATTEMPTS {
        let current = load().await?.ok_or_else(|| AppError::not_found(what, id))?;
        let draft = merge(&current).map_err(AppError::Validation)?;
        let version = version_of(&current);
        match save(draft, version, next_version(version)).await? {
            Guarded::Updated(row) => return Ok(row),
            Guarded::Missing => return Err(AppError::not_found(what, id)),
            Guarded::Stale => continue,
        }
    }
    Err(AppError::Conflict(format!("{what} {id} is being changed by someone else; reload and try again")))
}
