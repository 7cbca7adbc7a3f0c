//! PortForge Support & Communication service: the library every Lambda binary links.
//!
//! Layers, outside in: [`http`] (axum routers per endpoint group) and [`ws`] (WebSocket API
//! handlers) → [`services`] (business rules) → [`store`] (ports as traits, with adapters for
//! MySQL, DynamoDB and the embedded SQLite file) and [`push`] (fan-out to WebSockets).
//! [`domain`] holds the validated types they exchange; [`config`] is read once per cold start.

pub mod aws;
pub mod cognito;
pub mod config;
pub mod domain;
pub mod error;
pub mod http;
pub mod identity;
pub mod lambda;
pub mod push;
pub mod services;
pub mod store;
pub mod telemetry;
pub mod ws;

pub use config::Config;
pub use error::{AppError, AppResult};
pub use http::AppState;
