//! Who is in a project's chat right now, derived from the connection rows alone (no second
//! source of truth): a member is online while one of their sockets into the project is open (its
//! row is there, unexpired, its token still valid). The project's sockets hear `presence` when a
//! member's first socket opens and when their last one closes, not for every tab.
//!
//! The project index lists a row a moment after it is written and keeps listing it a moment
//! after it is deleted: a decision about one member (is this their first socket, their last?)
//! reads their listed rows again from the table itself, so a tab that just closed never keeps
//! its member online.

use std::{
    collections::{HashMap, HashSet},
    sync::Arc,
    time::Duration,
};

use chrono::{DateTime, Utc};
use futures::{StreamExt, stream};
use serde::Serialize;

use tokio::time::Instant;

use crate::domain::{ProjectId, UserId, chat::Connection, time::now_ms};
use crate::push::{BROADCAST_BUDGET, FanOut};
use crate::store::{ConnectionStore, StoreError};
use crate::ws::frames::ServerFrame;

/// Rows read again at once when confirming who is still connected.
const CONFIRMS_IN_FLIGHT: usize = 8;

/// A member with an open socket into the project, as `GET /chat/{project_id}/presence` lists them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Present {
    pub user_id: UserId,
    pub sender_name: String,
    /// When the earliest of their open sockets connected.
    #[serde(with = "crate::domain::time::iso_ms")]
    pub online_since: DateTime<Utc>,
}

/// How long `$disconnect` waits, before telling that a member left, for the project index to
/// list a socket of theirs that opened a moment before (DynamoDB's indexes follow writes
/// within about a second): a reload that closes one tab as the next opens is not told as
/// "offline". Only when there is someone to tell.
pub const SETTLE: Duration = Duration::from_secs(1);

/// Most departures one call tells of (each tell may find more sockets gone).
const DEPARTURES_MAX: usize = 64;

/// Presence over the connection rows of a fan-out, which also carries its frames.
#[derive(Clone)]
pub struct Presence {
    fanout: FanOut,
    /// See [`SETTLE`]; zero for stores whose reads follow writes at once (SQL, emulators).
    settle: Duration,
}

impl Presence {
    pub fn new(fanout: FanOut) -> Self {
        Self { fanout, settle: Duration::ZERO }
    }

    /// Waits `settle` before telling that a member's last socket closed (see [`SETTLE`]).
    pub fn settling(self, settle: Duration) -> Self {
        Self { settle, ..self }
    }

    /// The connection rows presence is derived from.
    pub fn connections(&self) -> &Arc<dyn ConnectionStore> {
        self.fanout.connections()
    }

    /// The project's members with an open socket, one entry each, online longest first.
    /// `members`: the project's team now (a socket of someone no longer in it does not count).
    pub async fn online(&self, project_id: ProjectId, members: &HashSet<UserId>) -> Result<Vec<Present>, StoreError> {
        let listed = self.fanout.project_connections(project_id, now_ms()).await?;
        let counted = listed.into_iter().filter(|c| c.member && members.contains(&c.user_id)).collect();
        let mut earliest: HashMap<UserId, Connection> = HashMap::new();
        for connection in self.confirmed(counted).await? {
            match earliest.get(&connection.user_id) {
                Some(known) if known.opened_before(&connection) => {}
                _ => {
                    earliest.insert(connection.user_id.clone(), connection);
                }
            }
        }
        let mut present: Vec<Present> = earliest
            .into_values()
            .map(|c| Present { user_id: c.user_id, sender_name: c.display_name, online_since: c.connected_at })
            .collect();
        present.sort_by(|a, b| a.online_since.cmp(&b.online_since).then_with(|| a.user_id.cmp(&b.user_id)));
        Ok(present)
    }

    /// After `$connect` stored a member's socket: the project's other sockets hear that the
    /// member is online, unless another of their sockets into it opened first (that one told).
    pub async fn joined(&self, connection: &Connection) {
        let deadline = Instant::now() + BROADCAST_BUDGET;
        let Some(project_id) = connection.project_id.filter(|_| connection.member) else { return };
        let Some(listed) = self.listed(project_id).await else { return };
        // Nobody to tell: nothing to confirm either.
        let audience = audience(&listed, connection);
        if audience.is_empty() {
            return;
        }
        match self.others_of(connection, &listed).await {
            Ok(others) if others.iter().any(|other| other.opened_before(connection)) => return,
            Ok(_) => {}
            // Unconfirmed: tell anyway; a second "online" changes nothing on a client.
            Err(e) => tracing::warn!(error = %e, %project_id, "could not confirm a member's other sockets"),
        }
        let dropped = self.tell(&audience, connection, project_id, true, deadline).await;
        self.dropped(&dropped, deadline).await;
    }

    /// `$disconnect` deleted a member's socket: the project's sockets hear that the member is
    /// offline, unless another of their sockets into it is still open, waiting [`SETTLE`] for
    /// one that opened a moment ago.
    pub async fn closed(&self, connection: &Connection) {
        let deadline = Instant::now() + self.settle + BROADCAST_BUDGET;
        self.dropped(std::slice::from_ref(connection), deadline).await;
    }

    /// Sockets whose rows were deleted on the way (a post answered 410 Gone, a token expired):
    /// each may have been its member's last, which the project then hears; telling it may find
    /// more sockets gone, which are told of in turn. Every post within `deadline`.
    pub async fn dropped(&self, rows: &[Connection], deadline: Instant) {
        let mut pending: Vec<Connection> = rows.to_vec();
        let mut told = 0;
        while !pending.is_empty() && told < DEPARTURES_MAX {
            let batch: Vec<Connection> = pending.drain(..).take(DEPARTURES_MAX - told).collect();
            told += batch.len();
            let found = futures::future::join_all(batch.iter().map(|row| self.left(row, deadline))).await;
            pending.extend(found.into_iter().flatten());
        }
    }

    /// One member's socket is gone: tells the project unless another of theirs is open;
    /// returns the sockets the telling found gone.
    async fn left(&self, connection: &Connection, deadline: Instant) -> Vec<Connection> {
        let Some(project_id) = connection.project_id.filter(|_| connection.member) else { return Vec::new() };
        let Some(mut listed) = self.listed(project_id).await else { return Vec::new() };
        if audience(&listed, connection).is_empty() {
            return Vec::new();
        }
        if !self.settle.is_zero() && self.is_last(connection, &listed).await {
            tokio::time::sleep(self.settle).await;
            let Some(again) = self.listed(project_id).await else { return Vec::new() };
            listed = again;
        }
        if !self.is_last(connection, &listed).await {
            return Vec::new();
        }
        self.tell(&audience(&listed, connection), connection, project_id, false, deadline).await
    }

    /// No other socket of the member is open. Unconfirmed counts as not: saying "offline" for
    /// someone still here would be worse than silence.
    async fn is_last(&self, connection: &Connection, listed: &[Connection]) -> bool {
        match self.others_of(connection, listed).await {
            Ok(others) => others.is_empty(),
            Err(e) => {
                tracing::warn!(error = %e, "could not confirm a member's other sockets");
                false
            }
        }
    }

    /// The `presence` frame about `connection`'s member to `audience`; returns the sockets
    /// found gone.
    async fn tell(
        &self,
        audience: &[Connection],
        connection: &Connection,
        project_id: ProjectId,
        online: bool,
        deadline: Instant,
    ) -> Vec<Connection> {
        if audience.is_empty() {
            return Vec::new();
        }
        self.fanout.broadcast_until(audience, &frame(connection, project_id, online), deadline).await.dropped
    }

    async fn listed(&self, project_id: ProjectId) -> Option<Vec<Connection>> {
        match self.fanout.project_connections(project_id, now_ms()).await {
            Ok(listed) => Some(listed),
            Err(e) => {
                tracing::warn!(error = %e, %project_id, "presence not told: the project's sockets could not be listed");
                None
            }
        }
    }

    /// The member's other sockets into the project that are still open, read again.
    async fn others_of(&self, connection: &Connection, listed: &[Connection]) -> Result<Vec<Connection>, StoreError> {
        let candidates = listed
            .iter()
            .filter(|c| c.member && c.user_id == connection.user_id && c.connection_id != connection.connection_id)
            .cloned()
            .collect();
        self.confirmed(candidates).await
    }

    /// The rows among `listed` that the table itself still holds, live, as it holds them.
    async fn confirmed(&self, listed: Vec<Connection>) -> Result<Vec<Connection>, StoreError> {
        let connections = self.fanout.connections();
        let now = now_ms();
        let reads: Vec<Result<Option<Connection>, StoreError>> = stream::iter(listed)
            .map(|c| async move { connections.get(&c.connection_id).await })
            .buffer_unordered(CONFIRMS_IN_FLIGHT)
            .collect()
            .await;
        let mut live = Vec::with_capacity(reads.len());
        for read in reads {
            if let Some(row) = read?
                && row.expires_at > now
                && !row.token_expired(now)
            {
                live.push(row);
            }
        }
        Ok(live)
    }
}

/// Who hears about `connection`'s member: the project's other sockets that asked for live-chat
/// frames.
fn audience(listed: &[Connection], connection: &Connection) -> Vec<Connection> {
    listed.iter().filter(|c| c.live && c.connection_id != connection.connection_id).cloned().collect()
}

fn frame(connection: &Connection, project_id: ProjectId, online: bool) -> ServerFrame<'static> {
    ServerFrame::Presence {
        user_id: connection.user_id.clone(),
        sender_name: connection.display_name.clone(),
        project_id,
        online,
    }
}
