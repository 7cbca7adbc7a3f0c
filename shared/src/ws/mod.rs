//! The WebSocket API's handlers: `$connect`, `$disconnect` and the message routes, fed API
//! Gateway WebSocket events (the same shapes in AWS, the local gateway and the tests).
//!
//! Frames from clients: `{"action": "sendMessage", "message": "...", "message_id"?: "..."}` or a
//! bare `{"message": ...}` on `$default`; `{"action": "ping"}`; `{"action": "history",
//! "after"?: cursor, "limit"?: n}`. Frames to clients: `{"type": "message", ...}`,
//! `{"type": "pong"}`, `{"type": "history", ...}`, `{"type": "notification", ...}` and, to the
//! sender only, `{"type": "error", "code", "message"}`.

pub mod authorizer;

use std::{collections::HashMap, sync::Arc};

use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest};
use aws_lambda_events::encodings::Body;
use serde_json::{Value, json};
use tokio::sync::OnceCell;

use crate::domain::{
    Limit,
    chat::{CONNECTION_TTL, ChatCursor, Connection, FRAME_MAX_BYTES, HistoryPosition, HistoryQuery, parse_project_id},
    time::now_ms,
};
use crate::error::AppError;
use crate::identity::Identity;
use crate::push::{ApiGatewayPusher, FanOut};
use crate::services::chat::{Realtime, SendRequest};
use crate::store::ChatStores;

/// Which route a binary serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Connect,
    Disconnect,
    Message,
}

/// How the handlers reach the management API.
pub enum Posting {
    /// A fixed fan-out (configured endpoint, tests).
    Fixed(FanOut),
    /// Derived on first use from the event's API id and stage, as AWS's endpoint
    /// `https://{apiId}.execute-api.{region}.amazonaws.com/{stage}`.
    FromEvent { sdk: Box<aws_config::SdkConfig>, region: String, built: OnceCell<FanOut> },
}

pub struct WsState {
    pub stores: ChatStores,
    pub posting: Posting,
}

fn response(status: i64, body: Option<&str>) -> ApiGatewayProxyResponse {
    let mut reply = ApiGatewayProxyResponse::default();
    reply.status_code = status;
    reply.body = body.map(|b| Body::Text(b.to_owned()));
    reply
}

fn error_frame(code: &str, message: &str) -> Value {
    json!({ "type": "error", "code": code, "message": message })
}

/// The identity a Lambda REQUEST authorizer attached on `$connect`: its `principalId` (or a
/// `sub` in its context) and the token's claims it passed through as context.
pub fn identity_of(event: &ApiGatewayWebsocketProxyRequest) -> Option<Identity> {
    let fields = &event.request_context.authorizer.fields;
    let mut claims: HashMap<String, String> = fields
        .iter()
        .filter_map(|(k, v)| match v {
            Value::String(s) => Some((k.clone(), s.clone())),
            Value::Number(n) => Some((k.clone(), n.to_string())),
            Value::Bool(b) => Some((k.clone(), b.to_string())),
            _ => None,
        })
        .collect();
    if !claims.contains_key("sub")
        && let Some(principal) = claims.get("principalId").cloned()
    {
        claims.insert("sub".into(), principal);
    }
    Identity::from_claims(&claims, None)
}

impl WsState {
    async fn fanout(&self, event: &ApiGatewayWebsocketProxyRequest) -> Result<&FanOut, AppError> {
        match &self.posting {
            Posting::Fixed(fanout) => Ok(fanout),
            Posting::FromEvent { sdk, region, built } => {
                let ctx = &event.request_context;
                let (Some(api_id), Some(stage)) = (ctx.apiid.as_deref(), ctx.stage.as_deref()) else {
                    return Err(AppError::Internal("WebSocket event lacks apiId or stage".into()));
                };
                let endpoint = ApiGatewayPusher::endpoint_for(api_id, region, stage);
                Ok(built
                    .get_or_init(|| async {
                        let pusher = Arc::new(ApiGatewayPusher::new(sdk, &endpoint));
                        FanOut::new(pusher, self.stores.connections.clone(), FanOut::DEFAULT_CONCURRENCY)
                    })
                    .await)
            }
        }
    }

    /// Handles one event of `route`. Never panics and never fails the invocation for a client's
    /// mistake: `$connect` answers with an HTTP status (refusing the upgrade), message routes
    /// answer the sender with an error frame.
    pub async fn handle(&self, route: Route, event: ApiGatewayWebsocketProxyRequest) -> ApiGatewayProxyResponse {
        let Some(connection_id) = event.request_context.connection_id.clone() else {
            tracing::error!("WebSocket event without a connection id");
            return response(400, Some("missing connection id"));
        };
        match route {
            Route::Connect => self.connect(&connection_id, &event).await,
            Route::Disconnect => {
                if let Err(e) = self.stores.connections.remove(&connection_id).await {
                    tracing::warn!(connection_id, error = %e, "could not delete the connection row; TTL will");
                }
                response(200, None)
            }
            Route::Message => {
                if let Err(e) = self.message(&connection_id, &event).await {
                    tracing::warn!(connection_id, error = %e, "message route failed");
                }
                response(200, None)
            }
        }
    }

    async fn connect(&self, connection_id: &str, event: &ApiGatewayWebsocketProxyRequest) -> ApiGatewayProxyResponse {
        let Some(identity) = identity_of(event) else {
            return response(401, Some("authentication required"));
        };
        let Ok(user) = identity.user_id() else {
            return response(403, Some("only signed-in users can join a chat"));
        };
        let project = event
            .query_string_parameters
            .first("project_id")
            .ok_or_else(|| "missing".to_string())
            .and_then(parse_project_id);
        let Ok(project_id) = project else {
            return response(400, Some("project_id query parameter must be a positive integer"));
        };
        let now = now_ms();
        let connection = Connection {
            connection_id: connection_id.to_owned(),
            user_id: user.to_string(),
            display_name: crate::services::chat::sender_name(&identity.chat_name()),
            project_id,
            connected_at: now,
            expires_at: now + CONNECTION_TTL,
        };
        match self.stores.connections.put(&connection).await {
            Ok(()) => response(200, None),
            Err(e) => {
                tracing::warn!(error = %e, "could not store the connection");
                response(503, Some("chat storage unavailable, try again"))
            }
        }
    }

    async fn message(&self, connection_id: &str, event: &ApiGatewayWebsocketProxyRequest) -> Result<(), AppError> {
        let fanout = self.fanout(event).await?.clone();
        let reply = |frame: Value| {
            let fanout = fanout.clone();
            async move {
                if let Err(e) = fanout.send_to(connection_id, &frame).await {
                    tracing::info!(connection_id, error = %e, "could not answer the sender");
                }
            }
        };
        let connection = match self.stores.connections.get(connection_id).await {
            Ok(Some(connection)) => connection,
            Ok(None) => {
                reply(error_frame("NOT_CONNECTED", "this connection is not registered; reconnect")).await;
                return Ok(());
            }
            Err(e) => {
                reply(error_frame("SERVICE_UNAVAILABLE", "chat storage is unavailable, try again shortly")).await;
                return Err(e.into());
            }
        };
        let frame = match parse_frame(event) {
            Ok(frame) => frame,
            Err((code, message)) => {
                reply(error_frame(code, &message)).await;
                return Ok(());
            }
        };
        let realtime = Realtime { stores: self.stores.clone(), fanout: fanout.clone() };
        match act(&realtime, &connection, &frame).await {
            Ok(Some(answer)) => {
                reply(answer).await;
                Ok(())
            }
            Ok(None) => Ok(()),
            Err(e) => {
                reply(error_frame(e.code(), &client_message(&e))).await;
                match e {
                    AppError::Unavailable(_) | AppError::Internal(_) => Err(e),
                    _ => Ok(()),
                }
            }
        }
    }
}

/// What the client may read about an error: validation details inline, internals never.
fn client_message(e: &AppError) -> String {
    match e {
        AppError::Validation(details) => {
            details.iter().map(|d| format!("{}: {}", d.field, d.message)).collect::<Vec<_>>().join("; ")
        }
        AppError::BadRequest { message, details, .. } if !details.is_empty() => {
            let fields: Vec<_> = details.iter().map(|d| format!("{}: {}", d.field, d.message)).collect();
            format!("{message} ({})", fields.join("; "))
        }
        other => other.to_string(),
    }
}

/// The frame as a JSON object, or the error frame's code and message.
fn parse_frame(
    event: &ApiGatewayWebsocketProxyRequest,
) -> Result<serde_json::Map<String, Value>, (&'static str, String)> {
    if event.is_base64_encoded {
        return Err(("BINARY_NOT_SUPPORTED", "send text frames with JSON".into()));
    }
    let body = event.body.as_deref().unwrap_or_default();
    if body.len() > FRAME_MAX_BYTES {
        return Err(("FRAME_TOO_LARGE", format!("frames are at most {FRAME_MAX_BYTES} bytes")));
    }
    match serde_json::from_str::<Value>(body) {
        Ok(Value::Object(frame)) => Ok(frame),
        Ok(_) => Err(("INVALID_FRAME", "a frame is a JSON object".into())),
        Err(_) => Err(("INVALID_JSON", "the frame is not valid JSON".into())),
    }
}

fn invalid_field(field: &str, message: &str) -> AppError {
    AppError::Validation(vec![crate::domain::FieldError::new(field, message)])
}

/// Carries out one client frame; returns the answer for the sender, if any.
async fn act(
    realtime: &Realtime,
    connection: &Connection,
    frame: &serde_json::Map<String, Value>,
) -> Result<Option<Value>, AppError> {
    let action = match frame.get("action") {
        None => "sendMessage",
        Some(Value::String(action)) => action.as_str(),
        Some(_) => return Err(invalid_field("action", "must be a string")),
    };
    match action {
        "ping" => Ok(Some(json!({ "type": "pong" }))),
        "history" => {
            let after = match frame.get("after") {
                None | Some(Value::Null) => None,
                Some(Value::String(raw)) => Some(ChatCursor::decode(raw).map_err(|m| invalid_field("after", &m))?),
                Some(_) => return Err(invalid_field("after", "must be a cursor string")),
            };
            let limit = match frame.get("limit") {
                None => Limit::default(),
                Some(v) => Limit::parse(Some(&v.to_string())).map_err(|m| invalid_field("limit", &m))?,
            };
            let position = after.map_or(HistoryPosition::Latest, HistoryPosition::After);
            let query = HistoryQuery { position, from: None, to: None, limit: limit.get() };
            let page = realtime.history(connection.project_id, &query).await?;
            let frames: Vec<Value> = page.messages.iter().map(|m| m.frame()).collect();
            Ok(Some(json!({
                "type": "history",
                "project_id": connection.project_id,
                "messages": frames,
                "has_more": page.has_more,
            })))
        }
        "sendMessage" | "message" => {
            let message = match frame.get("message") {
                Some(Value::String(text)) => text.clone(),
                Some(_) => return Err(invalid_field("message", "must be a string")),
                None => return Err(invalid_field("message", "is required")),
            };
            let client_message_id = match frame.get("message_id") {
                None | Some(Value::Null) => None,
                Some(Value::String(id)) => Some(id.clone()),
                Some(_) => return Err(invalid_field("message_id", "must be a string")),
            };
            let is_in_meeting = matches!(frame.get("is_in_meeting"), Some(Value::Bool(true)));
            let outcome = realtime
                .send(SendRequest {
                    project_id: connection.project_id,
                    user_id: connection.user_id.clone(),
                    sender_name: connection.display_name.clone(),
                    message,
                    client_message_id,
                    is_in_meeting,
                })
                .await?;
            // The broadcast reached the sender too; a repeated id gets the stored message back,
            // and so does a sender whom the broadcast did not reach.
            let answer = !outcome.created || outcome.fanout.delivered == 0;
            Ok(answer.then(|| outcome.message.frame()))
        }
        other => Err(AppError::BadRequest {
            code: "UNKNOWN_ACTION",
            message: format!("unknown action {other:?}; use sendMessage, ping or history"),
            details: Vec::new(),
        }),
    }
}
