//! axum routers, one per endpoint group. The same router serves the Lambda binary
//! (through lambda_http), the local gateway and the tests (`oneshot`).

pub mod admin;
pub mod content;
pub mod events;
pub mod extract;
pub mod health;
pub mod notifications;
pub mod reply;

use std::sync::Arc;

use axum::Router;

use crate::config::Config;
use crate::error::AppError;
use crate::store::Stores;

/// Everything a handler needs, built once per cold start.
#[derive(Clone)]
pub struct AppState {
    pub stores: Stores,
    pub config: Arc<Config>,
}

impl AppState {
    pub fn new(stores: Stores, config: Config) -> Self {
        Self {
            stores,
            config: Arc::new(config),
        }
    }
}

/// An endpoint group: its name (used for `/{name}/health`) and its routes.
pub struct Group {
    pub name: &'static str,
    pub routes: fn() -> Router<AppState>,
}

pub const NOTIFICATIONS: Group = Group {
    name: "notifications",
    routes: notifications::routes,
};
pub const CONTENT: Group = Group {
    name: "content",
    routes: content::routes,
};
pub const EVENTS: Group = Group {
    name: "events",
    routes: events::routes,
};
pub const ADMIN: Group = Group {
    name: "admin",
    routes: admin::routes,
};
pub const ALL_GROUPS: [Group; 4] = [NOTIFICATIONS, CONTENT, EVENTS, ADMIN];

/// The router of one or more groups, with health checks and JSON answers for unknown routes.
pub fn router(groups: &[Group], state: AppState) -> Router {
    let names: Vec<&'static str> = groups.iter().map(|g| g.name).collect();
    groups
        .iter()
        .fold(health::routes(&names), |router, group| {
            router.merge((group.routes)())
        })
        .fallback(|| async { AppError::RouteNotFound })
        .method_not_allowed_fallback(|| async { AppError::MethodNotAllowed })
        .with_state(state)
}
