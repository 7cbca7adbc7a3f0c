//! Serves every endpoint group on localhost, with the embedded SQLite file unless
//! `DATABASE_URL` points elsewhere.

use std::{net::SocketAddr, path::PathBuf};

use anyhow::Context;
use shared::{
    Config,
    config::DatabaseSettings,
    http::{ALL_GROUPS, router},
};
use tower_http::cors::{AllowOrigin, CorsLayer};

const DEFAULT_DB_PATH: &str = ".portforge/local.db";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    shared::telemetry::init_local();
    let config = Config::from_env()?;
    let database = config
        .database
        .clone()
        .unwrap_or_else(|| DatabaseSettings::Sqlite {
            path: std::env::var_os("LOCAL_DB_PATH")
                .map_or_else(|| PathBuf::from(DEFAULT_DB_PATH), PathBuf::from),
        });
    let state = shared::build_state(config, &database)?;
    // Create the file and schema now, so a broken setup fails at start rather than on a request.
    state
        .stores
        .health
        .ping()
        .await
        .context("opening the database")?;

    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(3000);
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
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
    let app = router(&ALL_GROUPS, state.clone()).layer(cors);

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
