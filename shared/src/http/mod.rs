//! axum routers, one per endpoint group, each over exactly the state its routes need
//! (`Router<ContentService>`, `Router<ChatService>`, …). The same routers serve the Lambda
//! binaries (through lambda_http), the local gateway and the tests (`oneshot`). Each group
//! declares its routes once, with [`routes!`]: the router serves exactly the routes its `ROUTES`
//! list names, which the template and the authorization matrix are checked against.

/// One route: its method (lower case, as axum names it) and its path as axum writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RouteSpec {
    pub method: &'static str,
    pub path: &'static str,
}

/// Declares a group's routes once: `fn routes() -> Router<State>` serves exactly them and
/// `pub const ROUTES` lists them.
macro_rules! routes {
    ($state:ty { $( $path:literal => $first:ident($first_handler:path) $(. $method:ident($handler:path))* ; )* }) => {
        /// Every route of this group.
        pub const ROUTES: &[$crate::http::RouteSpec] = &[
            $(
                $crate::http::RouteSpec { method: stringify!($first), path: $path },
                $( $crate::http::RouteSpec { method: stringify!($method), path: $path }, )*
            )*
        ];

        fn routes() -> axum::Router<$state> {
            axum::Router::new()
                $( .route($path, axum::routing::$first($first_handler) $( .$method($handler) )* ) )*
        }
    };
}

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

/// Routes anyone may call: API Gateway runs no authorizer on them (template.yaml says
/// `Authorizer: NONE`), so a token sent there is not even looked at. The local gateway does the
/// same; a test compares this list with the template.
pub const PUBLIC_ROUTES: &[RouteSpec] = &[
    RouteSpec { method: "get", path: "/notices" },
    RouteSpec { method: "get", path: "/notices/latest" },
    RouteSpec { method: "get", path: "/notices/{id}" },
    RouteSpec { method: "get", path: "/banners" },
    RouteSpec { method: "get", path: "/events" },
    RouteSpec { method: "get", path: "/events/{id}" },
];

/// Whether `method` on `path` (a request's path) is a public route, health included.
pub fn is_public(method: &str, path: &str) -> bool {
    let health = path == "/health" || (path.ends_with("/health") && path.matches('/').count() == 2);
    (health && method.eq_ignore_ascii_case("get"))
        || PUBLIC_ROUTES.iter().any(|r| r.method.eq_ignore_ascii_case(method) && path_matches(r.path, path))
}

/// Whether a request path fits a route's path, `{name}` standing for one non-empty segment.
pub fn path_matches(template: &str, path: &str) -> bool {
    let (mut wanted, mut got) = (template.split('/'), path.split('/'));
    loop {
        match (wanted.next(), got.next()) {
            (None, None) => return true,
            (Some(w), Some(g)) if w.starts_with('{') && w.ends_with('}') => {
                if g.is_empty() {
                    return false;
                }
            }
            (Some(w), Some(g)) if w == g => {}
            _ => return false,
        }
    }
}

/// A function's whole router: its groups' routers (each already given its state), the health
/// routes over its backends, JSON answers for unknown routes and methods, and the request's id
/// on every answer.
pub fn app(routes: Router, health: Router) -> Router {
    routes
        .merge(health)
        .fallback(|| async { AppError::RouteNotFound })
        .method_not_allowed_fallback(|| async { AppError::MethodNotAllowed })
        .layer(axum::middleware::from_fn(extract::answer_with_request_id))
}
