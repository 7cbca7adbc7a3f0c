//! `GET /health` and `GET /{group}/health`: 200 only when every backend the function holds
//! answers, else 503 naming none of their internals.

use std::sync::Arc;

use axum::{Router, extract::State, routing::get};
use serde_json::json;

use super::reply::{Reply, ReplyResult};
use crate::error::AppError;
use crate::store::HealthProbe;

/// The backends one function reaches, each probed by its health routes.
#[derive(Clone, Default)]
pub struct Health {
    probes: Vec<(&'static str, Arc<dyn HealthProbe>)>,
}

impl Health {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a backend, reported under `name` (`database`, `chat_storage`, …).
    pub fn probe(mut self, name: &'static str, probe: Arc<dyn HealthProbe>) -> Self {
        self.probes.push((name, probe));
        self
    }

    /// `/health` plus `/{group}/health` for each group the function serves.
    pub fn routes(self, groups: &[&str]) -> Router {
        let router = groups.iter().fold(Router::new().route("/health", get(check)), |router, group| {
            router.route(&format!("/{group}/health"), get(check))
        });
        router.with_state(Arc::new(self))
    }
}

async fn check(State(health): State<Arc<Health>>) -> ReplyResult {
    let mut report = serde_json::Map::new();
    for (name, probe) in &health.probes {
        probe.ping().await.map_err(|e| {
            tracing::warn!(backend = name, error = %e, "health check failed");
            AppError::Unavailable("a backend of this function")
        })?;
        report.insert((*name).into(), json!("ok"));
    }
    Reply::ok("HEALTHY", "service and its storage are up", report)
}
