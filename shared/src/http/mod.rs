//! axum routers, one per endpoint group. The same router serves the Lambda binary
//! (through lambda_http), the local gateway and the tests (`oneshot`).

pub mod admin;
pub mod chat;
pub mod content;
pub mod events;
pub mod extract;
pub mod health;
pub mod notifications;
pub mod reply;

use std::sync::Arc;

use axum::Router;

use crate::config::Config;
use crate::error::{AppError, AppResult};
use crate::services::chat::Realtime;
use crate::store::Stores;

/// Everything a handler needs, built once per cold start. A function holds only the backends
/// its groups use: the chat function has no MySQL, the content function no DynamoDB.
#[derive(Clone)]
pub struct AppState {
    pub sql: Option<Stores>,
    pub realtime: Option<Realtime>,
    pub config: Arc<Config>,
}

impl AppState {
    pub fn new(sql: Option<Stores>, realtime: Option<Realtime>, config: Config) -> Self {
        Self { sql, realtime, config: Arc::new(config) }
    }

    /// The relational stores; a route reaching a function built without them is a wiring bug.
    pub fn sql(&self) -> AppResult<&Stores> {
        self.sql
            .as_ref()
            .ok_or_else(|| AppError::Internal("this function was built without the relational store".into()))
    }

    pub fn realtime(&self) -> AppResult<&Realtime> {
        self.realtime.as_ref().ok_or_else(|| AppError::Internal("this function was built without chat storage".into()))
    }
}

/// Whether a group needs chat storage and the WebSocket fan-out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RealtimeNeed {
    No,
    /// Used when configured (live notification pushes).
    Optional,
    Required,
}

/// An endpoint group: its name (used for `/{name}/health`), its routes and its backends.
pub struct Group {
    pub name: &'static str,
    pub routes: fn() -> Router<AppState>,
    pub sql: bool,
    pub realtime: RealtimeNeed,
}

pub const NOTIFICATIONS: Group =
    Group { name: "notifications", routes: notifications::routes, sql: true, realtime: RealtimeNeed::Optional };
pub const CONTENT: Group = Group { name: "content", routes: content::routes, sql: true, realtime: RealtimeNeed::No };
pub const EVENTS: Group = Group { name: "events", routes: events::routes, sql: true, realtime: RealtimeNeed::No };
pub const ADMIN: Group = Group { name: "admin", routes: admin::routes, sql: true, realtime: RealtimeNeed::No };
pub const CHAT: Group = Group { name: "chat", routes: chat::routes, sql: false, realtime: RealtimeNeed::Required };
pub const ALL_GROUPS: [Group; 5] = [NOTIFICATIONS, CONTENT, EVENTS, ADMIN, CHAT];

/// The router of one or more groups, with health checks and JSON answers for unknown routes.
pub fn router(groups: &[Group], state: AppState) -> Router {
    let names: Vec<&'static str> = groups.iter().map(|g| g.name).collect();
    groups
        .iter()
        .fold(health::routes(&names), |router, group| router.merge((group.routes)()))
        .fallback(|| async { AppError::RouteNotFound })
        .method_not_allowed_fallback(|| async { AppError::MethodNotAllowed })
        .with_state(state)
}
