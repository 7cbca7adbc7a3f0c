//! The local gateway: API Gateway's behaviour on one port, around the same handlers the Lambda
//! binaries run. HTTP requests get the JWT authorizer's request context from a verified local
//! token; WebSocket upgrades become `$connect` / message / `$disconnect` events; and the
//! `@connections` management endpoint delivers frames the handlers post through the real SDK.

use std::{
    collections::HashMap,
    net::SocketAddr,
    sync::{Arc, Mutex},
};

use anyhow::Context;
use aws_lambda_events::apigw::{ApiGatewayV2httpRequestContext, ApiGatewayWebsocketProxyRequest};
use axum::{
    Json, Router,
    body::Bytes,
    extract::{
        ConnectInfo, Path, Query, Request, State,
        ws::{Message, WebSocket, WebSocketUpgrade},
    },
    http::{HeaderMap, HeaderName, Method, StatusCode, header::AUTHORIZATION},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use base64::{
    Engine,
    engine::general_purpose::{STANDARD, URL_SAFE},
};
use chrono::{DateTime, Utc};
use futures::{SinkExt, StreamExt};
use lambda_http::request::RequestContext;
use serde_json::{Value, json};
use shared::{
    Config,
    config::DatabaseSettings,
    domain::time::{format_iso, now_ms},
    http::{self as routes, Health, cors},
    push::{ApiGatewayPusher, FanOut},
    services::{
        chat::ChatService, content::ContentService, events::EventService, notifications::NotificationService,
        reports::ReportService,
    },
    store::{ChatStores, HealthProbe, sql::SqlDb},
    ws::{ConnectHandler, DisconnectHandler, MessageHandler},
};
use tokio::sync::{mpsc, oneshot};
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::{
    stand_ins::{self, Directory},
    token,
};

/// Frames a socket may have queued. A client that lets them pile up this far has stopped
/// reading: its socket is dropped (posts to it answer 410 and its row goes), so one stalled
/// client cannot slow its project's broadcasts, as API Gateway drops such a client.
const SOCKET_QUEUE: usize = 1024;

pub struct Options {
    pub config: Config,
    pub database: DatabaseSettings,
    pub secret: Vec<u8>,
    pub addr: SocketAddr,
}

enum Outgoing {
    Frame(Bytes),
    Close,
}

struct Session {
    queue: mpsc::Sender<Outgoing>,
    /// Ends the session at once (its client stopped reading).
    drop: Arc<tokio::sync::Notify>,
    connected_at: DateTime<Utc>,
    last_active_at: DateTime<Utc>,
    user_agent: String,
}

type Sessions = Arc<Mutex<HashMap<String, Session>>>;

/// The WebSocket API's three routes, as the three Lambda functions run them.
struct WsRoutes {
    connect: ConnectHandler,
    disconnect: DisconnectHandler,
    message: MessageHandler,
}

#[derive(Clone)]
struct Local {
    secret: Arc<[u8]>,
    routes: Arc<WsRoutes>,
    sessions: Sessions,
    addr: SocketAddr,
}

/// A running gateway; `stop` shuts it down gracefully.
pub struct Gateway {
    pub addr: SocketAddr,
    pub storage: String,
    shutdown: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    sessions: Sessions,
    db: Arc<SqlDb>,
}

fn lock(sessions: &Sessions) -> std::sync::MutexGuard<'_, HashMap<String, Session>> {
    // A panic while holding the lock cannot leave the map half-updated: use it anyway.
    sessions.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The HTTP API's description (`openapi.yaml` at the repository's root), as JSON.
fn openapi_json() -> anyhow::Result<Arc<serde_json::Value>> {
    let yaml: serde_norway::Value =
        serde_norway::from_str(include_str!("../../openapi.yaml")).context("openapi.yaml is not YAML")?;
    Ok(Arc::new(serde_json::to_value(yaml).context("openapi.yaml as JSON")?))
}

impl Gateway {
    pub async fn start(options: Options) -> anyhow::Result<Self> {
        // Anyone who can reach the port could mint tokens with the published default secret.
        if !options.addr.ip().is_loopback() && options.secret == token::DEFAULT_SECRET.as_bytes() {
            anyhow::bail!(
                "refusing to listen on {} with the default LOCAL_JWT_SECRET: set a secret of your own, or bind to 127.0.0.1",
                options.addr
            );
        }
        let listener = tokio::net::TcpListener::bind(options.addr)
            .await
            .with_context(|| format!("binding {} (set PORT to use another port)", options.addr))?;
        let addr = listener.local_addr()?;
        let mut config = options.config;
        // Handlers post to this gateway's own @connections, through the real SDK client.
        // The gateway's own address for its own calls: loopback, which @connections requires.
        let own = if addr.ip().is_unspecified() { SocketAddr::from(([127, 0, 0, 1], addr.port())) } else { addr };
        let endpoint = config.ws_management_endpoint.get_or_insert_with(|| format!("http://{own}")).clone();
        // The Project and Team services: the gateway's own stand-ins unless configured.
        config.project_service_url.get_or_insert_with(|| format!("http://{own}{}", stand_ins::PROJECT_SERVICE_PATH));
        config.team_service_url.get_or_insert_with(|| format!("http://{own}{}", stand_ins::TEAM_SERVICE_PATH));

        let db = Arc::new(SqlDb::connect_lazy(&options.database, config.db_max_connections)?);
        // Create the file and schema now, so a broken setup fails at start, not on a request.
        db.ping().await.context("opening the database")?;
        let aws = shared::aws::AwsContext::new(&config)?;
        let (chat, chat_storage) = match &config.ddb_endpoint_url {
            Some(url) => {
                let store = shared::aws::dynamo_store(&aws, &config);
                store.create_tables().await.map_err(|e| anyhow::anyhow!("creating chat tables at {url}: {e}"))?;
                (ChatStores::dynamo(store), format!("DynamoDB at {url}"))
            }
            None => (ChatStores::sql(db.clone()), "the same database".to_owned()),
        };
        let storage = match &options.database {
            DatabaseSettings::Sqlite { path } => {
                format!("embedded SQLite file {}; chat in {chat_storage}", path.display())
            }
            DatabaseSettings::MySql { .. } => format!("MySQL from DATABASE_URL; chat in {chat_storage}"),
            DatabaseSettings::MySqlSecret(secret) => {
                format!("MySQL with the credentials of {}; chat in {chat_storage}", secret.secret_arn)
            }
        };
        let fanout = FanOut::new(
            Arc::new(ApiGatewayPusher::new(&aws, &endpoint)),
            chat.connections.clone(),
            config.fanout_concurrency,
        );
        let membership = shared::lambda::membership(&config).map_err(|e| anyhow::anyhow!("{e}"))?;
        let chat_service = ChatService::new(
            chat.messages.clone(),
            chat.rooms.clone(),
            fanout.clone(),
            membership.clone(),
            config.calendar,
            &config.chat_read_scope,
        );
        let ws_routes = Arc::new(WsRoutes {
            connect: ConnectHandler::new(chat_service.presence().clone(), membership),
            disconnect: DisconnectHandler::new(chat_service.presence().clone()),
            message: MessageHandler::new(
                chat_service.clone(),
                Arc::new(token::LocalTokens::new(options.secret.clone().into())),
            ),
        });
        let directory = Directory::open(db.clone()).await.context("creating the stand-ins' tables")?;
        let siblings = shared::lambda::siblings(&config).map_err(|e| anyhow::anyhow!("{e}"))?;
        // Every function's routes on one port, over one database.
        let content = ContentService::new(db.clone(), db.clone()).on_calendar(config.calendar);
        let notifications = NotificationService::new(db.clone(), fanout, &config.internal_notify_scope);
        let reports =
            ReportService::new(db.clone(), siblings.clone(), siblings, notifications.clone(), chat_service.clone());
        let groups = Router::new()
            .merge(routes::notifications::router(notifications))
            .merge(routes::reports::router(reports))
            .merge(routes::content::router(content.clone()))
            .merge(routes::events::router(EventService::new(db.clone(), config.calendar)))
            .merge(routes::admin::router(content))
            .merge(routes::chat::router(chat_service));
        let health = Health::new().probe("database", db.clone()).probe("chat_storage", chat.health.clone());
        let groups_health = health.routes(&["notifications", "content", "events", "admin", "chat", "reports"]);

        let sessions = Sessions::default();
        let secret: Arc<[u8]> = options.secret.into();
        let local = Local { secret: secret.clone(), routes: ws_routes, sessions: sessions.clone(), addr };
        let api = routes::app(groups, groups_health)
            .layer(middleware::from_fn_with_state(secret, authorize))
            .layer(middleware::from_fn(whole_body));
        let management = Router::new()
            .route("/@connections/{id}", post(post_to_connection).get(get_connection).delete(delete_connection))
            .layer(middleware::from_fn(loopback_only));
        let openapi = openapi_json()?;
        let gateway_routes = Router::new()
            .route("/openapi.json", get(move || std::future::ready(axum::Json(openapi.clone()))))
            .route("/", get(socket_at_root))
            .route("/ws/chat/{project_id}", get(socket_for_project))
            .merge(management)
            .with_state(local)
            .merge(stand_ins::routes(directory))
            .merge(crate::sample_images::routes());
        // The frontend's Vite dev server runs on another localhost port. Methods and headers are
        // the list the template gives API Gateway, named one by one.
        let cors = CorsLayer::new()
            .allow_origin(AllowOrigin::predicate(|origin, _| {
                let origin = origin.as_bytes();
                origin.starts_with(b"http://localhost:") || origin.starts_with(b"http://127.0.0.1:")
            }))
            .allow_methods(cors::ALLOWED_METHODS.map(|m| Method::from_bytes(m.as_bytes()).expect("a method")))
            .allow_headers(cors::ALLOWED_HEADERS.map(HeaderName::from_static))
            .expose_headers(cors::EXPOSED_HEADERS.map(HeaderName::from_static))
            .max_age(std::time::Duration::from_secs(cors::MAX_AGE_SECONDS));
        let app = gateway_routes.merge(api).layer(cors);

        let (shutdown, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await
        });
        Ok(Self { addr, storage, shutdown, task, sessions, db })
    }

    /// Closes every socket (each gets its `$disconnect`), stops serving, then closes the
    /// database so everything written is on disk.
    pub async fn stop(self) -> anyhow::Result<()> {
        let queues: Vec<_> = lock(&self.sessions).values().map(|s| s.queue.clone()).collect();
        for queue in queues {
            let _ = queue.send(Outgoing::Close).await;
        }
        for _ in 0..50 {
            if lock(&self.sessions).is_empty() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        let _ = self.shutdown.send(());
        self.task.await??;
        self.db.close().await;
        Ok(())
    }
}

fn unauthorized(message: &str) -> Response {
    let body = json!({"success": false, "code": "UNAUTHORIZED", "message": message, "data": null});
    (StatusCode::UNAUTHORIZED, Json(body)).into_response()
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers.get(AUTHORIZATION)?.to_str().ok()?.strip_prefix("Bearer ").map(str::trim)
}

/// API Gateway's payload limit: it refuses larger requests itself.
const API_GATEWAY_PAYLOAD_BYTES: usize = 10 * 1024 * 1024;

/// Reads a request's whole body before a function sees it, as API Gateway does. Besides
/// fidelity, a function that refuses a body (too large, unauthorized) then leaves nothing unread
/// on the connection, so the client's next request on it is served.
async fn whole_body(request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    match axum::body::to_bytes(body, API_GATEWAY_PAYLOAD_BYTES).await {
        Ok(bytes) => next.run(Request::from_parts(parts, axum::body::Body::from(bytes))).await,
        Err(_) => {
            let mut refused = shared::AppError::PayloadTooLarge(API_GATEWAY_PAYLOAD_BYTES).into_response();
            refused.headers_mut().insert(axum::http::header::CONNECTION, axum::http::HeaderValue::from_static("close"));
            refused
        }
    }
}

/// What API Gateway's JWT authorizer does: a request with a token gets its verified claims in
/// the request context, a bad token is refused with 401, no token passes on anonymous. On the
/// routes that run no authorizer in AWS (public reads, health) a token is not even looked at.
async fn authorize(State(secret): State<Arc<[u8]>>, mut request: Request, next: Next) -> Response {
    if shared::http::is_public(request.method().as_str(), request.uri().path()) {
        return next.run(request).await;
    }
    if let Some(raw) = request.headers().get(AUTHORIZATION) {
        let Some(token) = raw.to_str().ok().and_then(|v| v.strip_prefix("Bearer ")) else {
            return unauthorized("the Authorization header must be 'Bearer <token>'");
        };
        let claims = match token::verify(&secret, token) {
            Ok(claims) => claims,
            Err(e) => return unauthorized(&format!("invalid token: {e}")),
        };
        let context = json!({
            "routeKey": "$default",
            "accountId": "local",
            "stage": "$default",
            "requestId": uuid::Uuid::new_v4().to_string(),
            "apiId": "local",
            "domainName": "127.0.0.1",
            "timeEpoch": Utc::now().timestamp_millis(),
            "http": {
                "method": request.method().as_str(),
                "path": request.uri().path(),
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": ""
            },
            "authorizer": {"jwt": {"claims": claims, "scopes": null}}
        });
        match serde_json::from_value::<ApiGatewayV2httpRequestContext>(context) {
            Ok(context) => {
                request.extensions_mut().insert(RequestContext::ApiGatewayV2(context));
            }
            Err(e) => {
                tracing::error!(error = %e, "could not build the request context");
                return (StatusCode::INTERNAL_SERVER_ERROR, "gateway error").into_response();
            }
        }
    }
    next.run(request).await
}

/// A connection id in API Gateway's style (base64, ends in `=`), URL-safe for `@connections/{id}`.
fn new_connection_id() -> String {
    let bytes = uuid::Uuid::new_v4();
    URL_SAFE.encode(&bytes.as_bytes()[..10])
}

fn websocket_event(
    local: &Local,
    route_key: &str,
    event_type: &str,
    connection_id: &str,
    authorizer: &Value,
    extra: Value,
) -> anyhow::Result<ApiGatewayWebsocketProxyRequest> {
    let now = Utc::now().timestamp_millis();
    let mut event = json!({
        "requestContext": {
            "routeKey": route_key,
            "eventType": event_type,
            "messageDirection": "IN",
            "stage": "local",
            "connectedAt": now,
            "requestTimeEpoch": now,
            "requestId": uuid::Uuid::new_v4().to_string(),
            "domainName": local.addr.to_string(),
            "connectionId": connection_id,
            "apiId": "local",
            "identity": {"sourceIp": "127.0.0.1"},
            "authorizer": authorizer,
        },
        "isBase64Encoded": false,
    });
    if let (Some(event), Value::Object(extra)) = (event.as_object_mut(), extra) {
        for (k, v) in extra {
            if k == "requestContext" {
                if let (Some(ctx), Value::Object(more)) = (event["requestContext"].as_object_mut(), v) {
                    ctx.extend(more);
                }
            } else {
                event.insert(k, v);
            }
        }
    }
    Ok(serde_json::from_value(event)?)
}

async fn socket_at_root(
    State(local): State<Local>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    open_socket(local, query, headers, upgrade).await
}

/// The frontend's URL: `/ws/chat/{project_id}?token=…`.
async fn socket_for_project(
    State(local): State<Local>,
    Path(project_id): Path<String>,
    Query(mut query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    query.insert("project_id".into(), project_id);
    open_socket(local, query, headers, upgrade).await
}

/// Runs the authorizer's check and `$connect` before accepting the upgrade, as API Gateway does:
/// a refused `$connect` refuses the handshake with its status.
async fn open_socket(
    local: Local,
    query: HashMap<String, String>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    let Some(token) = query.get("token").map(String::as_str).or_else(|| bearer(&headers)) else {
        return unauthorized("pass a token: ?token=<local token>");
    };
    let claims = match token::verify(&local.secret, token) {
        Ok(claims) => claims,
        Err(e) => return unauthorized(&format!("invalid token: {e}")),
    };
    // A Lambda REQUEST authorizer's output: principalId plus the claims as context.
    let mut authorizer = json!(claims);
    authorizer["principalId"] = json!(claims.get("sub"));
    let connection_id = new_connection_id();
    let (queue, outgoing) = mpsc::channel(SOCKET_QUEUE);
    let drop = Arc::new(tokio::sync::Notify::new());
    let user_agent = headers.get("user-agent").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    // Registered before $connect runs so that no post can find the stored row without a socket.
    let session = Session { queue, drop: drop.clone(), connected_at: now_ms(), last_active_at: now_ms(), user_agent };
    lock(&local.sessions).insert(connection_id.clone(), session);
    let query_params: HashMap<&String, &String> = query.iter().filter(|(k, _)| k.as_str() != "token").collect();
    let event = websocket_event(
        &local,
        "$connect",
        "CONNECT",
        &connection_id,
        &authorizer,
        json!({ "queryStringParameters": query_params }),
    );
    let answer = match event {
        Ok(event) => local.routes.connect.handle(&event).await,
        Err(e) => {
            lock(&local.sessions).remove(&connection_id);
            tracing::error!(error = %e, "could not build the $connect event");
            return (StatusCode::INTERNAL_SERVER_ERROR, "gateway error").into_response();
        }
    };
    if answer.status_code != 200 {
        lock(&local.sessions).remove(&connection_id);
        let status = StatusCode::from_u16(answer.status_code as u16).unwrap_or(StatusCode::FORBIDDEN);
        let body = match answer.body {
            Some(aws_lambda_events::encodings::Body::Text(text)) => text,
            _ => String::new(),
        };
        return (status, body).into_response();
    }
    let failed = local.clone();
    let failed_id = connection_id.clone();
    upgrade
        .on_failed_upgrade(move |e| {
            tracing::warn!(error = %e, "WebSocket upgrade failed");
            lock(&failed.sessions).remove(&failed_id);
        })
        .on_upgrade(move |socket| run_session(local, connection_id, authorizer, socket, outgoing, drop))
}

/// Pumps one socket: frames in become message events, posted frames go out, the end of the
/// socket (close, or a client that vanished) becomes `$disconnect`.
async fn run_session(
    local: Local,
    connection_id: String,
    authorizer: Value,
    socket: WebSocket,
    mut outgoing: mpsc::Receiver<Outgoing>,
    dropped: Arc<tokio::sync::Notify>,
) {
    let (mut sink, mut stream) = socket.split();
    let writer = tokio::spawn(async move {
        while let Some(out) = outgoing.recv().await {
            let sent = match out {
                Outgoing::Frame(bytes) => match String::from_utf8(bytes.to_vec()) {
                    Ok(text) => sink.send(Message::Text(text.into())).await,
                    Err(_) => sink.send(Message::Binary(bytes)).await,
                },
                Outgoing::Close => {
                    let _ = sink.send(Message::Close(None)).await;
                    break;
                }
            };
            if sent.is_err() {
                break;
            }
        }
    });
    loop {
        let message = tokio::select! {
            next = stream.next() => match next {
                Some(Ok(message)) => message,
                _ => break,
            },
            () = dropped.notified() => {
                tracing::warn!(%connection_id, "dropped a socket that stopped reading its frames");
                break;
            }
        };
        let (body, binary) = match message {
            Message::Text(text) => (text.to_string(), false),
            Message::Binary(bytes) => (STANDARD.encode(&bytes), true),
            Message::Close(_) => break,
            Message::Ping(_) | Message::Pong(_) => continue,
        };
        if let Some(session) = lock(&local.sessions).get_mut(&connection_id) {
            session.last_active_at = now_ms();
        }
        // Route selection on $request.body.action, as the deployed API does.
        let route_key = serde_json::from_str::<Value>(&body)
            .ok()
            .and_then(|v| v.get("action").and_then(Value::as_str).map(str::to_owned))
            .filter(|a| ["sendMessage", "ping", "history", "subscribe"].contains(&a.as_str()))
            .unwrap_or_else(|| "$default".into());
        let extra = json!({
            "body": body,
            "isBase64Encoded": binary,
            "requestContext": {"messageId": uuid::Uuid::new_v4().to_string()}
        });
        match websocket_event(&local, &route_key, "MESSAGE", &connection_id, &authorizer, extra) {
            Ok(event) => {
                local.routes.message.handle(&event).await;
            }
            Err(e) => tracing::error!(error = %e, "could not build a message event"),
        }
    }
    lock(&local.sessions).remove(&connection_id);
    writer.abort();
    match websocket_event(&local, "$disconnect", "DISCONNECT", &connection_id, &authorizer, json!({})) {
        Ok(event) => {
            local.routes.disconnect.handle(&event).await;
        }
        Err(e) => tracing::error!(error = %e, "could not build the $disconnect event"),
    }
}

/// The management endpoint answers this machine only: in AWS it takes SigV4-signed IAM calls,
/// here it takes none, so only the gateway's own handlers (and local tools) may post.
async fn loopback_only(ConnectInfo(peer): ConnectInfo<SocketAddr>, request: Request, next: Next) -> Response {
    if peer.ip().is_loopback() {
        next.run(request).await
    } else {
        tracing::warn!(%peer, "refused a management call from another machine");
        StatusCode::FORBIDDEN.into_response()
    }
}

/// An error answer as API Gateway's management API gives it (the SDK reads the code from
/// `x-amzn-ErrorType`).
fn management_error(status: StatusCode, error_type: &'static str, message: &'static str) -> Response {
    (status, [("x-amzn-errortype", error_type)], Json(json!({ "message": message }))).into_response()
}

/// `POST /@connections/{id}`: 200 when queued for the socket, 410 when there is no such socket
/// or its client stopped reading (the socket is dropped).
async fn post_to_connection(State(local): State<Local>, Path(id): Path<String>, body: Bytes) -> Response {
    let queue = lock(&local.sessions).get(&id).map(|s| s.queue.clone());
    let gone = || management_error(StatusCode::GONE, "GoneException", "");
    let Some(queue) = queue else { return gone() };
    match queue.try_send(Outgoing::Frame(body)) {
        Ok(()) => StatusCode::OK.into_response(),
        Err(mpsc::error::TrySendError::Full(_) | mpsc::error::TrySendError::Closed(_)) => {
            // Stopped reading, or already gone: either way the socket ends here.
            if let Some(session) = lock(&local.sessions).remove(&id) {
                session.drop.notify_one();
            }
            gone()
        }
    }
}

async fn get_connection(State(local): State<Local>, Path(id): Path<String>) -> Response {
    match lock(&local.sessions).get(&id) {
        Some(s) => Json(json!({
            "connectedAt": format_iso(&s.connected_at),
            "lastActiveAt": format_iso(&s.last_active_at),
            "identity": {"sourceIp": "127.0.0.1", "userAgent": s.user_agent},
        }))
        .into_response(),
        None => StatusCode::GONE.into_response(),
    }
}

async fn delete_connection(State(local): State<Local>, Path(id): Path<String>) -> StatusCode {
    let queue = lock(&local.sessions).get(&id).map(|s| s.queue.clone());
    match queue {
        Some(queue) => {
            let _ = queue.try_send(Outgoing::Close);
            StatusCode::NO_CONTENT
        }
        None => StatusCode::GONE,
    }
}
