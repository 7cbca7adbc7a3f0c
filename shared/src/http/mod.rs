//! axum routers, one per endpoint group, each over exactly the state its routes need
//! (`Router<ContentService>`, `Router<ChatService>`, …). The same routers serve the Lambda
//! binaries (through lambda_http), the local gateway and the tests (`oneshot`).

pub mod admin;
pub mod chat;
pub mod content;
pub mod cors;
pub mod events;
pub mod extract;
pub mod health;
pub mod notifications;
pub mod reply;
pub mod reports;

use axum::Router;

pub use health::Health;

use crate::error::AppError;

/// A function's whole router: its groups' routers (each already given its state), the health
/// routes over its backends, and JSON answers for unknown routes and methods.
pub fn app(routes: Router, health: Router) -> Router {
    routes
        .merge(health)
        .fallback(|| async { AppError::RouteNotFound })
        .method_not_allowed_fallback(|| async { AppError::MethodNotAllowed })
}
