//! The whole of a Lambda binary: read config, build clients and state once per cold start, serve.
//!
//! One builder per function, each compiled only when the binary's features bring the backends
//! it needs, so a function that lacks one does not build. The tests call the same builders.

use std::sync::Arc;

use crate::config::Config;

/// What a failed cold start reports to the runtime.
pub type StartupError = lambda_runtime::Error;

#[cfg(all(feature = "http", feature = "sql"))]
fn sql_db(config: &Config) -> Result<Arc<crate::store::sql::SqlDb>, StartupError> {
    // Requests never migrate: the deploy's migrate function does (see `migrate`).
    let db = crate::store::sql::SqlDb::for_lambda(config, crate::store::sql::SchemaPolicy::RequireCurrent)?;
    Ok(Arc::new(db))
}

#[cfg(feature = "management-api")]
fn management_endpoint(config: &Config) -> Result<&str, crate::config::ConfigError> {
    config.ws_management_endpoint.as_deref().ok_or(crate::config::ConfigError {
        name: "WS_MANAGEMENT_ENDPOINT",
        problem: "is required (https://{apiId}.execute-api.{region}.amazonaws.com/{stage})".into(),
    })
}

/// Chat storage on DynamoDB and the fan-out through the management API.
#[cfg(all(feature = "dynamo", feature = "management-api"))]
async fn dynamo_and_fanout(
    config: &Config,
) -> Result<(crate::store::dynamo::DynamoStore, crate::push::FanOut), StartupError> {
    use crate::push::{ApiGatewayPusher, FanOut};
    let endpoint = management_endpoint(config)?;
    let aws = crate::aws::AwsContext::new(config)?;
    let store = crate::aws::dynamo_store(&aws, config);
    let pusher = Arc::new(ApiGatewayPusher::new(&aws, endpoint));
    let fanout = FanOut::new(pusher, Arc::new(store.clone()), config.fanout_concurrency);
    Ok((store, fanout))
}

/// `notifications`: MySQL, plus the connection rows and management API for live pushes.
#[cfg(all(feature = "http", feature = "sql", feature = "dynamo", feature = "management-api"))]
pub async fn notifications(config: Config) -> Result<axum::Router, StartupError> {
    use crate::{http, services::notifications::NotificationService};
    let db = sql_db(&config)?;
    let (dynamo, fanout) = dynamo_and_fanout(&config).await?;
    let service = NotificationService::new(db.clone(), fanout, &config.internal_notify_scope);
    let health = http::Health::new().probe("database", db).probe("connections", Arc::new(dynamo.connections_probe()));
    Ok(http::app(http::notifications::router(service), health.routes(&["notifications"])))
}

/// The Project and Team services, with this service's client-credentials token when
/// `AUTH_SERVICE_URL` names the Cognito domain that issues it.
#[cfg(feature = "siblings")]
pub fn siblings(config: &Config) -> Result<Arc<crate::siblings::client::SiblingClient>, StartupError> {
    use crate::config::ConfigError;
    use crate::secrets::SecretSource;
    use crate::siblings::client::{ClientCredentials, NoServiceToken, ServiceToken, SiblingClient, SiblingSettings};
    // Without their addresses every membership check and decision would fail: refuse to start.
    for (name, url) in
        [("PROJECT_SERVICE_URL", &config.project_service_url), ("TEAM_SERVICE_URL", &config.team_service_url)]
    {
        if url.is_none() {
            return Err(ConfigError { name, problem: "is required (the sibling service's base URL)".into() }.into());
        }
    }
    let settings = SiblingSettings::from_config(config);
    let token: Arc<dyn ServiceToken> = match &config.auth_service_url {
        None => Arc::new(NoServiceToken),
        Some(auth_url) => {
            let client_id = config.sibling_client_id.as_deref().ok_or(ConfigError {
                name: "SIBLING_CLIENT_ID",
                problem: "is required with AUTH_SERVICE_URL".into(),
            })?;
            let secret = match (&config.sibling_client_secret_arn, &config.sibling_client_secret) {
                (Some(arn), _) => SecretSource::secrets_manager(arn, &config.secrets_extension_url),
                (None, Some(value)) => SecretSource::Value(value.clone()),
                (None, None) => {
                    return Err(ConfigError {
                        name: "SIBLING_CLIENT_SECRET_ARN",
                        problem: "is required with AUTH_SERVICE_URL".into(),
                    }
                    .into());
                }
            };
            let http = SiblingClient::new(settings.clone(), Arc::new(NoServiceToken))?.http().clone();
            Arc::new(ClientCredentials::new(http, auth_url, client_id, secret, &config.sibling_scopes))
        }
    };
    Ok(Arc::new(SiblingClient::new(settings, token)?))
}

/// `reports`: reports and decisions over MySQL, the Project and Team services, and live pushes
/// of the notifications decisions send.
#[cfg(all(feature = "http", feature = "sql", feature = "dynamo", feature = "management-api", feature = "siblings"))]
pub async fn reports(config: Config) -> Result<axum::Router, StartupError> {
    use crate::{
        http,
        services::{chat::ChatService, notifications::NotificationService, reports::ReportService},
    };
    let db = sql_db(&config)?;
    let (dynamo, fanout) = dynamo_and_fanout(&config).await?;
    let siblings = siblings(&config)?;
    let probe = Arc::new(dynamo.connections_probe());
    let notifications = NotificationService::new(db.clone(), fanout.clone(), &config.internal_notify_scope);
    // Reports on chat messages: who may read a chat, and the messages a decision deletes.
    let store = Arc::new(dynamo);
    let membership =
        crate::services::membership::Membership::new(siblings.clone(), siblings.clone(), config.membership_cache);
    let chat = ChatService::new(store.clone(), store, fanout, membership, config.calendar, &config.chat_read_scope);
    let service = ReportService::new(db.clone(), siblings.clone(), siblings, notifications, chat);
    let health = http::Health::new().probe("database", db).probe("connections", probe);
    Ok(http::app(http::reports::router(service), health.routes(&["reports"])))
}

/// `content`: notices and banners over MySQL; also answers the service-wide `/health`.
#[cfg(all(feature = "http", feature = "sql"))]
pub async fn content(config: Config) -> Result<axum::Router, StartupError> {
    use crate::{http, services::content::ContentService};
    let db = sql_db(&config)?;
    let service = ContentService::new(db.clone(), db.clone()).on_calendar(config.calendar);
    Ok(http::app(http::content::router(service), http::Health::new().probe("database", db).routes(&["content"])))
}

/// `events`: the catalogue over MySQL.
#[cfg(all(feature = "http", feature = "sql"))]
pub async fn events(config: Config) -> Result<axum::Router, StartupError> {
    use crate::{http, services::events::EventService};
    let db = sql_db(&config)?;
    let service = EventService::new(db.clone(), config.calendar);
    Ok(http::app(http::events::router(service), http::Health::new().probe("database", db).routes(&["events"])))
}

/// `admin`: notice and banner management over MySQL.
#[cfg(all(feature = "http", feature = "sql"))]
pub async fn admin(config: Config) -> Result<axum::Router, StartupError> {
    use crate::{http, services::content::ContentService};
    let db = sql_db(&config)?;
    let service = ContentService::new(db.clone(), db.clone()).on_calendar(config.calendar);
    Ok(http::app(http::admin::router(service), http::Health::new().probe("database", db).routes(&["admin"])))
}

/// Who is in a project's team, from the Project and Team services, cached per cold start.
#[cfg(feature = "siblings")]
pub fn membership(config: &Config) -> Result<crate::services::membership::Membership, StartupError> {
    let siblings = siblings(config)?;
    Ok(crate::services::membership::Membership::new(siblings.clone(), siblings, config.membership_cache))
}

/// `chat`: chat over HTTP on DynamoDB for the project's team, fanned out through the
/// management API.
#[cfg(all(feature = "http", feature = "dynamo", feature = "management-api", feature = "siblings"))]
pub async fn chat(config: Config) -> Result<axum::Router, StartupError> {
    use crate::{http, services::chat::ChatService};
    let (dynamo, fanout) = dynamo_and_fanout(&config).await?;
    let store = Arc::new(dynamo);
    let membership = membership(&config)?;
    let service =
        ChatService::new(store.clone(), store.clone(), fanout, membership, config.calendar, &config.chat_read_scope);
    Ok(http::app(http::chat::router(service), http::Health::new().probe("chat_storage", store).routes(&["chat"])))
}

/// `ws-connect`: admits the project's team, stores connection rows, and tells the project when
/// a member comes online (through the management API).
#[cfg(all(feature = "ws", feature = "dynamo", feature = "management-api", feature = "siblings"))]
pub async fn ws_connect(config: Config) -> Result<crate::ws::ConnectHandler, StartupError> {
    let (_, fanout) = dynamo_and_fanout(&config).await?;
    let presence = crate::services::presence::Presence::new(fanout);
    Ok(crate::ws::ConnectHandler::new(presence, membership(&config)?))
}

/// `ws-disconnect`: deletes connection rows, and tells the project when a member goes offline.
#[cfg(all(feature = "ws", feature = "dynamo", feature = "management-api"))]
pub async fn ws_disconnect(config: Config) -> Result<crate::ws::DisconnectHandler, StartupError> {
    let (_, fanout) = dynamo_and_fanout(&config).await?;
    use crate::services::presence::{Presence, SETTLE};
    Ok(crate::ws::DisconnectHandler::new(Presence::new(fanout).settling(SETTLE)))
}

/// `ws-message`: chat over the socket on DynamoDB for the project's team, fanned out through
/// the management API; the tokens sockets renew themselves with checked against the user pool.
#[cfg(all(feature = "ws", feature = "dynamo", feature = "management-api", feature = "siblings", feature = "cognito"))]
pub async fn ws_message(config: Config) -> Result<crate::ws::MessageHandler, StartupError> {
    use crate::services::chat::ChatService;
    let tokens = Arc::new(crate::cognito::CognitoVerifier::from_config(&config)?);
    let (dynamo, fanout) = dynamo_and_fanout(&config).await?;
    let store = Arc::new(dynamo);
    let membership = membership(&config)?;
    let chat = ChatService::new(store.clone(), store, fanout, membership, config.calendar, &config.chat_read_scope);
    Ok(crate::ws::MessageHandler::new(chat, tokens))
}

/// Runs an HTTP function behind API Gateway's HTTP API until the runtime stops the process.
#[cfg(feature = "http")]
pub async fn serve_http<F, Fut>(build: F) -> Result<(), StartupError>
where
    F: FnOnce(Config) -> Fut,
    Fut: Future<Output = Result<axum::Router, StartupError>>,
{
    crate::telemetry::init_lambda();
    let app = build(Config::from_env()?).await?;
    lambda_http::run(app).await
}

/// A WebSocket route's handler, as the runtime calls it.
#[cfg(feature = "ws")]
pub trait WsRoute: Send + Sync + 'static {
    fn handle(
        &self,
        event: &aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest,
    ) -> impl Future<Output = aws_lambda_events::apigw::ApiGatewayProxyResponse> + Send;
}

#[cfg(feature = "ws")]
macro_rules! ws_route {
    ($($handler:ty),+) => {$(
        impl WsRoute for $handler {
            async fn handle(
                &self,
                event: &aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest,
            ) -> aws_lambda_events::apigw::ApiGatewayProxyResponse {
                <$handler>::handle(self, event).await
            }
        }
    )+};
}
#[cfg(feature = "ws")]
ws_route!(crate::ws::ConnectHandler, crate::ws::DisconnectHandler, crate::ws::MessageHandler);

/// Runs one route of the WebSocket API until the runtime stops the process.
#[cfg(feature = "ws")]
pub async fn serve_ws<H, F, Fut>(build: F) -> Result<(), StartupError>
where
    H: WsRoute,
    F: FnOnce(Config) -> Fut,
    Fut: Future<Output = Result<H, StartupError>>,
{
    use aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest;
    use lambda_runtime::{LambdaEvent, service_fn};

    crate::telemetry::init_lambda();
    let handler = Arc::new(build(Config::from_env()?).await?);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<ApiGatewayWebsocketProxyRequest>| {
        let handler = handler.clone();
        async move { Ok::<_, std::convert::Infallible>(handler.handle(&event.payload).await) }
    }))
    .await
}

/// Runs the WebSocket API's `$connect` authorizer until the runtime stops the process.
#[cfg(all(feature = "ws", feature = "cognito"))]
pub async fn serve_ws_authorizer() -> Result<(), StartupError> {
    use aws_lambda_events::apigw::ApiGatewayCustomAuthorizerRequestTypeRequest;
    use lambda_runtime::{LambdaEvent, service_fn};

    crate::telemetry::init_lambda();
    let config = Config::from_env()?;
    let verifier = Arc::new(crate::cognito::CognitoVerifier::from_config(&config)?);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<ApiGatewayCustomAuthorizerRequestTypeRequest>| {
        let verifier = verifier.clone();
        async move { crate::ws::authorizer::authorize(&verifier, &event.payload).await.map_err(StartupError::from) }
    }))
    .await
}

/// `migrate`: the deploy's migration step, with the DDL-capable credentials its own
/// `DATABASE_SECRET_ARN` names.
#[cfg(feature = "migrate")]
pub fn migrate(config: &Config) -> Result<crate::migrate::MigrateHandler, StartupError> {
    use crate::store::sql::{SchemaPolicy, SqlDb};
    let db = Arc::new(SqlDb::for_lambda(config, SchemaPolicy::Migrate)?);
    Ok(crate::migrate::MigrateHandler::new(db)?)
}

/// Runs the migration step until the runtime stops the process.
#[cfg(feature = "migrate")]
pub async fn serve_migrate() -> Result<(), StartupError> {
    use lambda_runtime::{LambdaEvent, service_fn};

    use crate::migrate::MigrateEvent;
    crate::telemetry::init_lambda();
    let handler = Arc::new(migrate(&Config::from_env()?)?);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<MigrateEvent>| {
        let handler = handler.clone();
        async move { handler.handle(event.payload).await.map_err(StartupError::from) }
    }))
    .await
}
