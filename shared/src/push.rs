//! Fan-out: posting frames to WebSocket connections through the API Gateway management API.

use std::{
    hash::{BuildHasher, BuildHasherDefault, DefaultHasher},
    sync::Arc,
    time::Duration,
};

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::{StreamExt, stream};
use serde::Serialize;
use tokio::time::Instant;

use crate::domain::{ConnectionId, ProjectId, UserId, chat::Connection};
use crate::store::{ConnectionStore, StoreError};

#[cfg(feature = "management-api")]
pub use management::ApiGatewayPusher;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PushError {
    /// The connection is closed (HTTP 410): its row should go.
    #[error("connection gone")]
    Gone,
    /// API Gateway asked us to slow down (HTTP 429).
    #[error("throttled")]
    Throttled,
    /// A failure that may pass: a 5xx, no answer in time, no connection.
    #[error("post failed, may pass: {0}")]
    Transient(String),
    #[error("post failed: {0}")]
    Failed(String),
}

/// Posts one frame to one connection, or closes it.
#[async_trait]
pub trait Pusher: Send + Sync {
    async fn post(&self, connection_id: &ConnectionId, frame: Bytes) -> Result<(), PushError>;
    /// `DELETE /@connections/{id}`: API Gateway closes the socket (and runs `$disconnect`).
    /// A connection already gone is closed.
    async fn close(&self, connection_id: &ConnectionId) -> Result<(), PushError>;
}

#[cfg(feature = "management-api")]
mod management {
    use async_trait::async_trait;
    use aws_sdk_apigatewaymanagement::{
        Client,
        error::{ProvideErrorMetadata, SdkError},
        primitives::Blob,
    };
    use bytes::Bytes;

    use super::{PushError, Pusher};
    use crate::domain::ConnectionId;

    /// The real management API client (`POST /@connections/{id}`), SigV4-signed by the SDK.
    pub struct ApiGatewayPusher {
        client: Client,
    }

    impl ApiGatewayPusher {
        /// `endpoint` is `https://{apiId}.execute-api.{region}.amazonaws.com/{stage}` (not a
        /// custom domain), or a local gateway's URL.
        pub fn new(aws: &crate::aws::AwsContext, endpoint: &str) -> Self {
            Self { client: aws.management_api(endpoint) }
        }
    }

    #[async_trait]
    impl Pusher for ApiGatewayPusher {
        async fn post(&self, connection_id: &ConnectionId, frame: Bytes) -> Result<(), PushError> {
            let sent = self
                .client
                .post_to_connection()
                .connection_id(connection_id.as_str())
                .data(Blob::new(frame.to_vec()))
                .send()
                .await;
            match sent {
                Ok(_) => Ok(()),
                Err(e) => {
                    // Decide on the HTTP status (API Gateway answers 410 GoneException and 429
                    // LimitExceededException), or the code where an emulator's status differs.
                    let (status, code) = match &e {
                        SdkError::ServiceError(service) => {
                            (Some(service.raw().status().as_u16()), service.err().code())
                        }
                        SdkError::ResponseError(response) => (Some(response.raw().status().as_u16()), None),
                        _ => (None, None),
                    };
                    let detail = aws_sdk_apigatewaymanagement::error::DisplayErrorContext(&e).to_string();
                    Err(match (status, code) {
                        (Some(410), _) | (_, Some("GoneException")) => PushError::Gone,
                        (Some(429), _) | (_, Some("LimitExceededException")) => PushError::Throttled,
                        (Some(500..), _) | (None, _) => PushError::Transient(detail),
                        _ => PushError::Failed(detail),
                    })
                }
            }
        }

        async fn close(&self, connection_id: &ConnectionId) -> Result<(), PushError> {
            let closed = self.client.delete_connection().connection_id(connection_id.as_str()).send().await;
            match closed {
                Ok(_) => Ok(()),
                Err(e) => {
                    let gone = match &e {
                        SdkError::ServiceError(service) => {
                            service.raw().status().as_u16() == 410 || service.err().code() == Some("GoneException")
                        }
                        SdkError::ResponseError(response) => response.raw().status().as_u16() == 410,
                        _ => false,
                    };
                    if gone {
                        Ok(())
                    } else {
                        Err(PushError::Failed(aws_sdk_apigatewaymanagement::error::DisplayErrorContext(&e).to_string()))
                    }
                }
            }
        }
    }
}

/// What one broadcast achieved.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct FanOutReport {
    pub delivered: usize,
    /// Closed connections found on the way; their rows were deleted.
    pub gone: usize,
    pub failed: usize,
    /// The connections posted to: who has the frame (the sender's own socket among them, or not).
    #[serde(skip)]
    pub reached: Vec<ConnectionId>,
    /// The rows of the gone connections, as they were deleted (their users may have gone
    /// offline: see [`crate::services::presence::Presence::left`]).
    #[serde(skip)]
    pub dropped: Vec<Connection>,
}

impl FanOutReport {
    /// Whether the frame reached `connection`.
    pub fn reached(&self, connection: &ConnectionId) -> bool {
        self.reached.contains(connection)
    }
}

impl std::ops::Add for FanOutReport {
    type Output = Self;

    fn add(mut self, other: Self) -> Self {
        self.reached.extend(other.reached);
        self.dropped.extend(other.dropped);
        Self {
            delivered: self.delivered + other.delivered,
            gone: self.gone + other.gone,
            failed: self.failed + other.failed,
            reached: self.reached,
            dropped: self.dropped,
        }
    }
}

/// Posts frames to many connections at once, cleaning up the ones that are gone.
#[derive(Clone)]
pub struct FanOut {
    pusher: Arc<dyn Pusher>,
    connections: Arc<dyn ConnectionStore>,
    concurrency: usize,
}

/// The one retry policy of a post (the management API client's own retries are off, see
/// `AwsContext::management_api`): a throttled post, or one that failed in a way that may pass
/// (5xx, timeout, no connection), is retried this many times, waiting about 25 ms, 50 ms,
/// 100 ms, … and never past its broadcast's deadline. A repeated frame is harmless: clients drop
/// message ids they hold.
pub const THROTTLE_RETRIES: u32 = 4;
const THROTTLE_BASE_DELAY: Duration = Duration::from_millis(25);

/// How long after `$connect` stored a connection's row a 410 Gone may only mean that API Gateway
/// has not finished the handshake: such a post is retried (as a throttled one is) and the row is
/// never deleted for it, so a socket that has just connected is not orphaned.
pub const HANDSHAKE_GRACE: chrono::Duration = chrono::Duration::seconds(5);

/// How long a broadcast may take when its caller gives no deadline: well inside the 10 s timeout
/// of every function that broadcasts, so a throttled broadcast ends (and says what it missed)
/// before Lambda would cut it off.
pub const BROADCAST_BUDGET: Duration = Duration::from_secs(5);

impl FanOut {
    /// Posts in flight at once per broadcast unless configured (`FANOUT_CONCURRENCY`): sized to
    /// API Gateway's default account rate (see [`crate::Config::DEFAULT_FANOUT_CONCURRENCY`]).
    pub const DEFAULT_CONCURRENCY: usize = crate::config::Config::DEFAULT_FANOUT_CONCURRENCY;

    pub fn new(pusher: Arc<dyn Pusher>, connections: Arc<dyn ConnectionStore>, concurrency: usize) -> Self {
        Self { pusher, connections, concurrency: concurrency.max(1) }
    }

    pub fn pusher(&self) -> &Arc<dyn Pusher> {
        &self.pusher
    }

    /// The connection rows this fan-out posts to (and deletes when gone).
    pub fn connections(&self) -> &Arc<dyn ConnectionStore> {
        &self.connections
    }

    /// [`Self::broadcast_until`] with [`BROADCAST_BUDGET`] from now.
    pub async fn broadcast(&self, targets: &[Connection], frame: &impl Serialize) -> FanOutReport {
        self.broadcast_until(targets, frame, Instant::now() + BROADCAST_BUDGET).await
    }

    /// Posts `frame` to every connection and waits for all posts. A gone connection's row is
    /// deleted; other failures are logged and counted, never failing the whole broadcast. No post
    /// starts (or is retried) after `deadline`: those still owed then count as failed.
    pub async fn broadcast_until(
        &self,
        targets: &[Connection],
        frame: &impl Serialize,
        deadline: Instant,
    ) -> FanOutReport {
        let frame = match encode(frame) {
            Ok(frame) => frame,
            Err(e) => {
                tracing::error!(error = %e, "could not encode a frame");
                return FanOutReport { failed: targets.len(), ..FanOutReport::default() };
            }
        };
        // Each post owns what it needs, so the stream's futures are 'static and Send.
        let posts: Vec<(ConnectionId, DateTime<Utc>)> =
            targets.iter().map(|t| (t.connection_id.clone(), t.connected_at + HANDSHAKE_GRACE)).collect();
        let outcomes: Vec<(ConnectionId, Result<(), PushError>)> = stream::iter(posts)
            .map(|(id, fresh_until)| {
                let (this, frame) = (self.clone(), frame.clone());
                async move {
                    let outcome = this.post_with_retry(&id, frame, deadline, Some(fresh_until)).await;
                    (id, outcome)
                }
            })
            .buffer_unordered(self.concurrency)
            .collect()
            .await;
        let mut report = FanOutReport::default();
        let mut gone = Vec::new();
        for (id, outcome) in outcomes {
            match outcome {
                Ok(()) => {
                    report.delivered += 1;
                    report.reached.push(id);
                }
                Err(PushError::Gone) => gone.push(id),
                Err(e) => {
                    report.failed += 1;
                    tracing::warn!(connection_id = %id, error = %e, "post to connection failed");
                }
            }
        }
        report.gone = gone.len();
        let removals: Vec<(ConnectionId, Result<_, _>)> = stream::iter(gone)
            .map(|id| {
                let connections = self.connections.clone();
                async move {
                    let removed = connections.remove(&id).await;
                    (id, removed)
                }
            })
            .buffer_unordered(self.concurrency)
            .collect()
            .await;
        for (id, removed) in removals {
            match removed {
                Ok(Some(row)) => report.dropped.push(row),
                Ok(None) => {}
                Err(e) => tracing::warn!(connection_id = %id, error = %e, "could not delete a gone connection"),
            }
        }
        if report.gone + report.failed > 0 {
            tracing::info!(?report, "broadcast finished with undelivered connections");
        }
        report
    }

    /// Posts to one connection; a gone connection's row is deleted (used for replies to the
    /// sender, e.g. error frames).
    pub async fn send_to(&self, connection_id: &ConnectionId, frame: &impl Serialize) -> Result<(), PushError> {
        let frame = encode(frame).map_err(|e| PushError::Failed(format!("encoding the frame: {e}")))?;
        let outcome = self.post_with_retry(connection_id, frame, Instant::now() + BROADCAST_BUDGET, None).await;
        if outcome == Err(PushError::Gone)
            && let Err(e) = self.connections.remove(connection_id).await
        {
            tracing::warn!(%connection_id, error = %e, "could not delete a gone connection");
        }
        outcome
    }

    /// One post under the retry policy. Until `fresh_until` (the connection's handshake grace) a
    /// 410 is retried too, and if it stays 410 the post failed without the connection being
    /// called gone (its row stays).
    async fn post_with_retry(
        &self,
        connection_id: &ConnectionId,
        frame: Bytes,
        deadline: Instant,
        fresh_until: Option<DateTime<Utc>>,
    ) -> Result<(), PushError> {
        // Spread by connection, so the posts throttled together do not all come back together.
        let spread = Duration::from_millis(
            BuildHasherDefault::<DefaultHasher>::default().hash_one(connection_id.as_str())
                % THROTTLE_BASE_DELAY.as_millis() as u64,
        );
        let mut attempt = 0;
        loop {
            let Ok(outcome) = tokio::time::timeout_at(deadline, self.pusher.post(connection_id, frame.clone())).await
            else {
                return Err(PushError::Failed("the broadcast's deadline passed".into()));
            };
            let outcome = match outcome {
                Err(PushError::Gone) if fresh_until.is_some_and(|until| Utc::now() < until) => Err(
                    PushError::Transient("410 Gone within the handshake grace: the socket may still be opening".into()),
                ),
                outcome => outcome,
            };
            match outcome {
                Err(PushError::Throttled | PushError::Transient(_)) if attempt < THROTTLE_RETRIES => {
                    let wait = THROTTLE_BASE_DELAY * 2u32.pow(attempt) + spread;
                    if Instant::now() + wait >= deadline {
                        return outcome;
                    }
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
                outcome => return outcome,
            }
        }
    }

    /// Live connections of a project, for a broadcast: none whose token has expired.
    pub async fn project_connections(
        &self,
        project_id: ProjectId,
        now: DateTime<Utc>,
    ) -> Result<Vec<Connection>, StoreError> {
        let mut live = self.connections.by_project(project_id, now).await?;
        live.retain(|c| !c.token_expired(now));
        Ok(live)
    }

    /// Live connections of a user, for a personal push: none whose token has expired.
    pub async fn user_connections(&self, user_id: &UserId, now: DateTime<Utc>) -> Result<Vec<Connection>, StoreError> {
        let mut live = self.connections.by_user(user_id, now).await?;
        live.retain(|c| !c.token_expired(now));
        Ok(live)
    }

    /// Closes a connection and deletes its row: the row goes even when the close fails, so
    /// nothing is posted to it again.
    pub async fn close(&self, connection_id: &ConnectionId) -> Result<(), PushError> {
        let closed = self.pusher.close(connection_id).await;
        if let Err(e) = self.connections.remove(connection_id).await {
            tracing::warn!(%connection_id, error = %e, "could not delete a closed connection");
        }
        closed
    }
}

fn encode(frame: &impl Serialize) -> Result<Bytes, serde_json::Error> {
    serde_json::to_vec(frame).map(Bytes::from)
}
