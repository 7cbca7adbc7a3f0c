//! PortForge Support & Communication service: the library every Lambda binary links.
//!
//! Layers, outside in: [`http`] (axum routers per endpoint group) → [`services`] (business
//! rules) → [`store`] (ports as traits, with SQL adapters for MySQL and embedded SQLite).
//! [`domain`] holds the validated types they exchange; [`config`] is read once per cold start.

pub mod config;
pub mod domain;
pub mod error;
pub mod http;
pub mod identity;
pub mod lambda;
pub mod services;
pub mod store;
pub mod telemetry;

pub use config::Config;
pub use error::{AppError, AppResult};
pub use http::AppState;

/// Builds the state every binary serves from: stores over the configured database.
pub fn build_state(
    config: Config,
    database: &config::DatabaseSettings,
) -> Result<AppState, store::StoreError> {
    let db = store::sql::SqlDb::connect_lazy(database, config.db_max_connections)?;
    Ok(AppState::new(store::Stores::sql(db), config))
}
