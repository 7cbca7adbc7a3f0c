//! Serves every endpoint group on localhost, with the embedded SQLite file unless
//! `DATABASE_URL` points elsewhere.

use std::{net::SocketAddr, path::PathBuf, sync::Arc};

use anyhow::Context;
use shared::{
    AppState, Config,
    config::DatabaseSettings,
    http::{ALL_GROUPS, router},
    push::{ApiGatewayPusher, FanOut},
    services::chat::Realtime,
    store::{ChatStores, HealthProbe, Stores, sql::SqlDb},
};
use tower_http::cors::{AllowOrigin, CorsLayer};

const DEFAULT_DB_PATH: &str = ".portforge/local.db";

fn port() -> u16 {
    std::env::var("PORT").ok().and_then(|p| p.parse().ok()).unwrap_or(3000)
}

/// Chat over the embedded store. Frames go to `WS_MANAGEMENT_ENDPOINT` when set, else to this
/// gateway's own address.
async fn local_realtime(config: &Config, chat: ChatStores) -> Realtime {
    let sdk = shared::aws::sdk_config(config).await;
    let endpoint = config.ws_management_endpoint.clone().unwrap_or_else(|| format!("http://127.0.0.1:{}", port()));
    let pusher = Arc::new(ApiGatewayPusher::new(&sdk, &endpoint));
    let fanout = FanOut::new(pusher, chat.connections.clone(), FanOut::DEFAULT_CONCURRENCY);
    Realtime { stores: chat, fanout }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    shared::telemetry::init_local();
    let config = Config::from_env()?;
    let database = config.database.clone().unwrap_or_else(|| DatabaseSettings::Sqlite {
        path: std::env::var_os("LOCAL_DB_PATH").map_or_else(|| PathBuf::from(DEFAULT_DB_PATH), PathBuf::from),
    });
    let db = Arc::new(SqlDb::connect_lazy(&database, config.db_max_connections)?);
    // Create the file and schema now, so a broken setup fails at start rather than on a request.
    db.ping().await.context("opening the database")?;
    let realtime = local_realtime(&config, ChatStores::sql(db.clone())).await;
    let state = AppState::new(Some(Stores::shared_sql(db)), Some(realtime), config);

    let addr = SocketAddr::from(([127, 0, 0, 1], port()));
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding {addr} (set PORT to use another port)"))?;

    // The frontend's Vite dev server runs on another localhost port.
    let cors = CorsLayer::new()
        .allow_origin(AllowOrigin::predicate(|origin, _| {
            let origin = origin.as_bytes();
            origin.starts_with(b"http://localhost:") || origin.starts_with(b"http://127.0.0.1:")
        }))
        .allow_methods(tower_http::cors::Any)
        .allow_headers(tower_http::cors::Any);
    let app = router(&ALL_GROUPS, state).layer(cors);

    let storage = match &database {
        DatabaseSettings::Sqlite { path } => format!("embedded SQLite file {}", path.display()),
        DatabaseSettings::MySql { .. } => "MySQL from DATABASE_URL".to_owned(),
    };
    println!("PortForge support service (local gateway)");
    println!("  HTTP API   http://{addr}   (try: curl http://{addr}/health)");
    println!("  storage    {storage}");
    println!("  stop       Ctrl-C");

    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
            tracing::info!("shutting down");
        })
        .await?;
    Ok(())
}
