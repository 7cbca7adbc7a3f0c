//! Fan-out: posting frames to WebSocket connections through the API Gateway management API.

use std::{sync::Arc, time::Duration};

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::{StreamExt, stream};
use serde::Serialize;

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
    #[error("post failed: {0}")]
    Failed(String),
}

/// Posts one frame to one connection.
#[async_trait]
pub trait Pusher: Send + Sync {
    async fn post(&self, connection_id: &ConnectionId, frame: Bytes) -> Result<(), PushError>;
}

#[cfg(feature = "management-api")]
mod management {
    use async_trait::async_trait;
    use aws_sdk_apigatewaymanagement::{Client, error::SdkError, primitives::Blob};
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
                    // Decide on the HTTP status: it is what API Gateway (and local gateways) agree on.
                    let status = match &e {
                        SdkError::ServiceError(service) => Some(service.raw().status().as_u16()),
                        SdkError::ResponseError(response) => Some(response.raw().status().as_u16()),
                        _ => None,
                    };
                    Err(match status {
                        Some(410) => PushError::Gone,
                        Some(429) => PushError::Throttled,
                        _ => {
                            PushError::Failed(aws_sdk_apigatewaymanagement::error::DisplayErrorContext(&e).to_string())
                        }
                    })
                }
            }
        }
    }
}

/// What one broadcast achieved.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct FanOutReport {
    pub delivered: usize,
    /// Closed connections found on the way; their rows were deleted.
    pub gone: usize,
    pub failed: usize,
}

/// Posts frames to many connections at once, cleaning up the ones that are gone.
#[derive(Clone)]
pub struct FanOut {
    pusher: Arc<dyn Pusher>,
    connections: Arc<dyn ConnectionStore>,
    concurrency: usize,
}

/// Throttled posts are retried this many times, waiting 25 ms, 50 ms, 100 ms, …
const THROTTLE_RETRIES: u32 = 4;
const THROTTLE_BASE_DELAY: Duration = Duration::from_millis(25);

impl FanOut {
    /// Posts in flight at once per broadcast: enough to reach 1,000 connections well within a
    /// second, few enough to stay under API Gateway's per-account rate.
    pub const DEFAULT_CONCURRENCY: usize = 64;

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

    /// Posts `frame` to every connection and waits for all posts. A gone connection's row is
    /// deleted; other failures are logged and counted, never failing the whole broadcast.
    pub async fn broadcast(&self, targets: &[Connection], frame: &impl Serialize) -> FanOutReport {
        let frame = match encode(frame) {
            Ok(frame) => frame,
            Err(e) => {
                tracing::error!(error = %e, "could not encode a frame");
                return FanOutReport { failed: targets.len(), ..FanOutReport::default() };
            }
        };
        // Each post owns what it needs, so the stream's futures are 'static and Send.
        let ids: Vec<ConnectionId> = targets.iter().map(|t| t.connection_id.clone()).collect();
        let outcomes: Vec<(ConnectionId, Result<(), PushError>)> = stream::iter(ids)
            .map(|id| {
                let (this, frame) = (self.clone(), frame.clone());
                async move {
                    let outcome = this.post_with_retry(&id, frame).await;
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
                Ok(()) => report.delivered += 1,
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
            if let Err(e) = removed {
                tracing::warn!(connection_id = %id, error = %e, "could not delete a gone connection");
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
        let outcome = self.post_with_retry(connection_id, frame).await;
        if outcome == Err(PushError::Gone)
            && let Err(e) = self.connections.remove(connection_id).await
        {
            tracing::warn!(%connection_id, error = %e, "could not delete a gone connection");
        }
        outcome
    }

    async fn post_with_retry(&self, connection_id: &ConnectionId, frame: Bytes) -> Result<(), PushError> {
        let mut attempt = 0;
        loop {
            match self.pusher.post(connection_id, frame.clone()).await {
                Err(PushError::Throttled) if attempt < THROTTLE_RETRIES => {
                    tokio::time::sleep(THROTTLE_BASE_DELAY * 2u32.pow(attempt)).await;
                    attempt += 1;
                }
                outcome => return outcome,
            }
        }
    }

    /// Live connections of a project, for a broadcast.
    pub async fn project_connections(
        &self,
        project_id: ProjectId,
        now: DateTime<Utc>,
    ) -> Result<Vec<Connection>, StoreError> {
        self.connections.by_project(project_id, now).await
    }

    /// Live connections of a user, for a personal push.
    pub async fn user_connections(&self, user_id: &UserId, now: DateTime<Utc>) -> Result<Vec<Connection>, StoreError> {
        self.connections.by_user(user_id, now).await
    }
}

fn encode(frame: &impl Serialize) -> Result<Bytes, serde_json::Error> {
    serde_json::to_vec(frame).map(Bytes::from)
}
