//! PortForge Support & Communication service: the library every Lambda binary links.
//!
//! Layers, outside in: [`http`] (axum routers per endpoint group) and [`ws`] (WebSocket API
//! handlers) → [`services`] (business rules) → [`store`] (ports as traits, with adapters for
//! MySQL, DynamoDB and the embedded SQLite file) and [`push`] (fan-out to WebSockets).
//! [`domain`] holds the validated types they exchange; [`config`] is read once per cold start.
//!
//! Cargo features bring in the backends, so each binary links only its own: `mysql` and
//! `sqlite` (the SQL adapter), `dynamo` (chat storage), `management-api` (posting to sockets),
//! `cognito` (token verification), `siblings` (calls to the Project and Team services),
//! `http` (routers), `ws` (WebSocket handlers), `migrate` (the deploy's migration step).

#[cfg(feature = "aws")]
pub mod aws;
#[cfg(feature = "cognito")]
pub mod cognito;
pub mod config;
pub mod domain;
pub mod error;
#[cfg(feature = "http")]
pub mod http;
pub mod identity;
#[cfg(feature = "lambda")]
pub mod lambda;
#[cfg(feature = "migrate")]
pub mod migrate;
pub mod push;
#[cfg(feature = "secrets")]
pub mod secrets;
pub mod services;
pub mod siblings;
pub mod store;
#[cfg(feature = "lambda")]
pub mod telemetry;
pub mod ws;

pub use config::Config;
pub use error::{AppError, AppResult};
