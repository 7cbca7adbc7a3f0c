//! The deploy's migration step: the `migrate` Lambda function, which CloudFormation invokes
//! through a custom resource on every deploy whose migrations changed (and which an operator may
//! invoke directly). It alone holds DDL rights; the functions that serve requests only check the
//! schema (see [`SchemaPolicy`](crate::store::sql::SchemaPolicy)).

use std::{collections::HashMap, sync::Arc, time::Duration};

use aws_lambda_events::cloudformation::{
    CloudFormationCustomResourceRequest as Request, CloudFormationCustomResourceResponse as Response,
    CloudFormationCustomResourceResponseStatus as Status,
};
use backon::{ExponentialBuilder, Retryable};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::store::sql::{MigrationReport, SqlDb};

/// The custom resource stands for "this stack's schema": one id for its whole life, so an
/// update is never taken for a replacement (which would send a delete for the old id).
pub const PHYSICAL_RESOURCE_ID: &str = "portforge-support-schema";

/// CloudFormation reads at most 4,096 bytes of response; the reason is kept well inside.
const MAX_REASON: usize = 1_000;

/// What the function is invoked with: CloudFormation's custom resource request, or a direct
/// invocation (`aws lambda invoke … --payload '{"action":"migrate"}'`).
#[derive(Deserialize)]
#[serde(untagged)]
pub enum MigrateEvent {
    CustomResource(Box<Request>),
    Direct { action: DirectAction },
}

#[derive(Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum DirectAction {
    /// Apply pending migrations.
    Migrate,
    /// Only say which migrations are applied and which are pending.
    Status,
}

#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error("migration failed: {0}")]
    Migration(String),
    /// CloudFormation could not be told; it will wait out its own timeout.
    #[error("could not answer CloudFormation: {0}")]
    Answer(String),
}

pub struct MigrateHandler {
    db: Arc<SqlDb>,
    http: reqwest::Client,
}

impl MigrateHandler {
    pub fn new(db: Arc<SqlDb>) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder().timeout(Duration::from_secs(10)).build()?;
        Ok(Self { db, http })
    }

    pub async fn handle(&self, event: MigrateEvent) -> Result<Value, MigrateError> {
        match event {
            MigrateEvent::Direct { action: DirectAction::Migrate } => {
                let report = self.db.migrate().await.map_err(|e| MigrateError::Migration(e.to_string()))?;
                Ok(json!(report))
            }
            MigrateEvent::Direct { action: DirectAction::Status } => {
                let status = self.db.schema_status().await.map_err(|e| MigrateError::Migration(e.to_string()))?;
                Ok(json!(status))
            }
            MigrateEvent::CustomResource(request) => self.custom_resource(*request).await,
        }
    }

    /// Always answers CloudFormation, success or not: a custom resource that never answers
    /// holds the stack for an hour.
    async fn custom_resource(&self, request: Request) -> Result<Value, MigrateError> {
        let (outcome, url, stack_id, request_id, logical_id) = match request {
            Request::Create(r) => (self.run().await, r.response_url, r.stack_id, r.request_id, r.logical_resource_id),
            Request::Update(r) => {
                let outcome = match older_release(&r.resource_properties, &self.db.release_versions()) {
                    // A rollback (or an older template): that release's schema is in place or
                    // older than ours, and a failed run of ours must not fail the rollback too.
                    Some(requested) => {
                        tracing::info!(requested, "update to an older release's schema: nothing to apply");
                        Ok(None)
                    }
                    None => self.run().await,
                };
                (outcome, r.response_url, r.stack_id, r.request_id, r.logical_resource_id)
            }
            // Deleting the stack never drops the schema: the database and its data are retained.
            Request::Delete(r) => (Ok(None), r.response_url, r.stack_id, r.request_id, r.logical_resource_id),
            // CloudFormation defines only the three; a new one cannot be answered blindly.
            _ => return Err(MigrateError::Answer("a request type CloudFormation did not define before".into())),
        };
        let mut response = Response::default();
        response.physical_resource_id = PHYSICAL_RESOURCE_ID.into();
        response.stack_id = stack_id;
        response.request_id = request_id;
        response.logical_resource_id = logical_id;
        match &outcome {
            Ok(Some(report)) => {
                response.status = Status::Success;
                response.data = HashMap::from([
                    ("SchemaVersion".to_string(), report.schema_version.to_string()),
                    ("Applied".to_string(), format!("{:?}", report.applied)),
                ]);
            }
            Ok(None) => response.status = Status::Success,
            Err(reason) => {
                tracing::error!(error = %reason, "migration failed");
                response.status = Status::Failed;
                response.reason = Some(reason.chars().take(MAX_REASON).collect());
            }
        }
        self.answer(&url, &response).await?;
        match outcome {
            Ok(report) => Ok(json!(report)),
            Err(reason) => Err(MigrateError::Migration(reason)),
        }
    }

    async fn run(&self) -> Result<Option<MigrationReport>, String> {
        self.db.migrate().await.map(Some).map_err(|e| e.to_string())
    }

    /// PUTs the response to the pre-signed URL CloudFormation gave, a few times if it fails.
    async fn answer(&self, url: &str, response: &Response) -> Result<(), MigrateError> {
        let body = serde_json::to_vec(response).map_err(|e| MigrateError::Answer(e.to_string()))?;
        let put = || async {
            // No content type: the URL is signed without one.
            let answer = self.http.put(url).body(body.clone()).send().await.map_err(|e| e.to_string())?;
            if answer.status().is_success() { Ok(()) } else { Err(format!("HTTP {}", answer.status())) }
        };
        put.retry(ExponentialBuilder::default().with_min_delay(Duration::from_millis(200)).with_max_times(3))
            .await
            .map_err(MigrateError::Answer)
    }
}

/// The `MigrationsVersion` an update asks for, when it is older than the newest migration this
/// code carries: CloudFormation rolling back a failed deploy sends the previous release's.
fn older_release(properties: &Value, release: &[i64]) -> Option<i64> {
    let requested = match &properties["MigrationsVersion"] {
        Value::String(text) => text.trim().parse::<i64>().ok()?,
        Value::Number(number) => number.as_i64()?,
        _ => return None,
    };
    let newest = *release.iter().max()?;
    (requested < newest).then_some(requested)
}
