//! The whole of a Lambda binary: read config, build clients and state once per cold start, serve.

use std::{convert::Infallible, sync::Arc};

use aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest;
use lambda_runtime::{LambdaEvent, service_fn};
use tokio::sync::OnceCell;

use crate::config::{Config, ConfigError};
use crate::http::{AppState, Group, RealtimeNeed, router};
use crate::push::{ApiGatewayPusher, FanOut};
use crate::services::chat::Realtime;
use crate::store::{ChatStores, Stores, sql::SqlDb};
use crate::ws::{Posting, Route, WsState};

/// Chat on DynamoDB with fan-out through the configured management endpoint.
async fn aws_realtime(config: &Config) -> Result<Realtime, ConfigError> {
    let endpoint = config.ws_management_endpoint.clone().ok_or(ConfigError {
        name: "WS_MANAGEMENT_ENDPOINT",
        problem: "is required (https://{apiId}.execute-api.{region}.amazonaws.com/{stage})".into(),
    })?;
    let sdk = crate::aws::sdk_config(config).await;
    let stores = ChatStores::dynamo(crate::aws::dynamo_store(&sdk, config));
    let pusher = Arc::new(ApiGatewayPusher::new(&sdk, &endpoint));
    let fanout = FanOut::new(pusher, stores.connections.clone(), FanOut::DEFAULT_CONCURRENCY);
    Ok(Realtime { stores, fanout })
}

/// Runs `groups` behind API Gateway's HTTP API until the Lambda runtime stops the process.
pub async fn serve_http(groups: &[Group]) -> Result<(), lambda_http::Error> {
    crate::telemetry::init_lambda();
    let config = Config::from_env()?;
    let sql = if groups.iter().any(|g| g.sql) {
        let db = SqlDb::connect_lazy(&config.require_database()?, config.db_max_connections)?;
        Some(Stores::sql(db))
    } else {
        None
    };
    let required = groups.iter().any(|g| g.realtime == RealtimeNeed::Required);
    let optional = groups.iter().any(|g| g.realtime == RealtimeNeed::Optional);
    let realtime = if required || (optional && config.ws_management_endpoint.is_some()) {
        Some(aws_realtime(&config).await?)
    } else {
        None
    };
    lambda_http::run(router(groups, AppState::new(sql, realtime, config))).await
}

/// Runs one route of the WebSocket API until the Lambda runtime stops the process.
pub async fn serve_ws(route: Route) -> Result<(), lambda_runtime::Error> {
    crate::telemetry::init_lambda();
    let config = Config::from_env()?;
    let sdk = crate::aws::sdk_config(&config).await;
    let stores = ChatStores::dynamo(crate::aws::dynamo_store(&sdk, &config));
    let posting = match &config.ws_management_endpoint {
        Some(endpoint) => Posting::Fixed(FanOut::new(
            Arc::new(ApiGatewayPusher::new(&sdk, endpoint)),
            stores.connections.clone(),
            FanOut::DEFAULT_CONCURRENCY,
        )),
        None => Posting::FromEvent { sdk: Box::new(sdk), region: config.aws_region.clone(), built: OnceCell::new() },
    };
    let state = Arc::new(WsState { stores, posting });
    lambda_runtime::run(service_fn(move |event: LambdaEvent<ApiGatewayWebsocketProxyRequest>| {
        let state = state.clone();
        async move { Ok::<_, Infallible>(state.handle(route, event.payload).await) }
    }))
    .await
}

/// Runs the WebSocket API's `$connect` authorizer until the Lambda runtime stops the process.
pub async fn serve_ws_authorizer() -> Result<(), lambda_runtime::Error> {
    use aws_lambda_events::apigw::ApiGatewayCustomAuthorizerRequestTypeRequest;

    crate::telemetry::init_lambda();
    let config = Config::from_env()?;
    let verifier = Arc::new(crate::cognito::CognitoVerifier::from_config(&config)?);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<ApiGatewayCustomAuthorizerRequestTypeRequest>| {
        let verifier = verifier.clone();
        async move { crate::ws::authorizer::authorize(&verifier, &event.payload).await.map_err(lambda_runtime::Error::from) }
    }))
    .await
}
