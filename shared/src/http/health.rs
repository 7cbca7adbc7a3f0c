//! `GET /health` and `GET /{group}/health`: 200 only when every backend the function holds
//! answers, else 503 naming none of their internals. The routes are public and cheap to call,
//! while a probe is not (a DynamoDB `DescribeTable` is a control-plane call with a low rate
//! limit): each instance probes at most once per [`HEALTH_CACHE`], and a burst of checks waits
//! for the one probe in flight instead of starting its own.

use std::{sync::Arc, time::Duration};

use axum::{Router, extract::State, routing::get};
use serde_json::{Map, Value, json};
use tokio::{sync::Mutex, time::Instant};

use super::reply::{Reply, ReplyResult};
use crate::error::AppError;
use crate::store::HealthProbe;

/// How long one instance reuses its last probe's result.
pub const HEALTH_CACHE: Duration = Duration::from_secs(5);

/// A probe's result: every backend's status, or the failure.
type Checked = Result<Map<String, Value>, ()>;

/// The backends one function reaches, each probed by its health routes.
#[derive(Clone, Default)]
pub struct Health {
    probes: Vec<(&'static str, Arc<dyn HealthProbe>)>,
    last: Arc<Mutex<Option<(Instant, Checked)>>>,
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
    // Held across the probe: concurrent checks wait here and then read its result.
    let mut last = health.last.lock().await;
    let checked = match last.as_ref() {
        Some((at, checked)) if at.elapsed() < HEALTH_CACHE => checked.clone(),
        _ => {
            let checked = probe_all(&health.probes).await;
            *last = Some((Instant::now(), checked.clone()));
            checked
        }
    };
    drop(last);
    match checked {
        Ok(report) => Reply::ok("HEALTHY", "service and its storage are up", report),
        Err(()) => Err(AppError::Unavailable("a backend of this function")),
    }
}

async fn probe_all(probes: &[(&'static str, Arc<dyn HealthProbe>)]) -> Checked {
    let mut report = Map::new();
    for (name, probe) in probes {
        if let Err(e) = probe.ping().await {
            tracing::warn!(backend = name, error = %e, "health check failed");
            return Err(());
        }
        report.insert((*name).into(), json!("ok"));
    }
    Ok(report)
}
