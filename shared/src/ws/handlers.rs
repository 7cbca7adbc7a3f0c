//! One handler per WebSocket route, each holding only what its Lambda function has:
//! `$connect` and `$disconnect` the connection rows, the message routes the chat service.
//!
//! A handler never panics and never fails the invocation for a client's mistake: `$connect`
//! answers with an HTTP status (refusing the upgrade), message routes answer the sender with an
//! error frame.

use std::{collections::HashMap, sync::Arc};

use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest};
use aws_lambda_events::encodings::Body;
use serde_json::Value;

use super::frames::{
    ClientFrame, DeleteFrame, EditFrame, FrameError, HistoryFrame, MarkReadFrame, MessageFrame, RefreshFrame,
    SendFrame, ServerFrame, SubscribeFrame, history_frames,
};
use super::tokens::{TokenCheckError, TokenVerifier};
use crate::domain::{
    ConnectionId, Limit, MessageId, ProjectId,
    chat::{CONNECTION_TTL, ChatCursor, Connection, HistoryPosition, HistoryQuery, sender_name},
    time::{format_iso, now_ms},
};
use crate::error::AppError;
use crate::identity::Identity;
use crate::push::{BROADCAST_BUDGET, PushError};
use crate::services::{
    chat::{ChatService, NewMessage},
    membership::{ChatAccess, Membership},
    presence::Presence,
};
use crate::siblings::CallContext;

fn response(status: i64, body: Option<&str>) -> ApiGatewayProxyResponse {
    let mut reply = ApiGatewayProxyResponse::default();
    reply.status_code = status;
    reply.body = body.map(|b| Body::Text(b.to_owned()));
    reply
}

fn connection_id(event: &ApiGatewayWebsocketProxyRequest) -> Option<ConnectionId> {
    let raw = event.request_context.connection_id.as_deref()?;
    ConnectionId::parse(raw).ok()
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

/// The request id API Gateway gave the event, passed on to sibling services.
fn call_context(event: &ApiGatewayWebsocketProxyRequest) -> CallContext {
    CallContext { request_id: event.request_context.request_id.clone() }
}

/// `$connect`: admits members of the project's team (and admins), and stores who joined which
/// project's chat; a socket with `notifications=true` and no project is any signed-in user's,
/// for their notification frames only. The check runs here rather than in the authorizer: here the project is
/// known, and the answer can tell "not a member" (403) and "no such project" (404) from "the
/// Team service is down" (503), where an authorizer only allows or denies, and API Gateway may
/// cache its answer per token. Never posts to the new socket (API Gateway has not opened it
/// yet); a member's first socket into the project is told to the project's other sockets
/// (`presence`).
pub struct ConnectHandler {
    presence: Presence,
    membership: Membership,
}

impl ConnectHandler {
    pub fn new(presence: Presence, membership: Membership) -> Self {
        Self { presence, membership }
    }

    pub async fn handle(&self, event: &ApiGatewayWebsocketProxyRequest) -> ApiGatewayProxyResponse {
        let Some(connection_id) = connection_id(event) else {
            tracing::error!("WebSocket event without a usable connection id");
            return response(400, Some("missing connection id"));
        };
        let Some(identity) = identity_of(event) else {
            return response(401, Some("authentication required"));
        };
        let Ok(user) = identity.user_id() else {
            return response(403, Some("only signed-in users can join a chat"));
        };
        let flag = |name: &str| match event.query_string_parameters.first(name) {
            None => Ok(false),
            Some(raw) => match raw.to_ascii_lowercase().as_str() {
                "true" | "1" => Ok(true),
                "false" | "0" => Ok(false),
                _ => Err(format!("{name} query parameter must be true or false")),
            },
        };
        let (notifications, live) = match (flag("notifications"), flag("live")) {
            (Ok(notifications), Ok(live)) => (notifications, live),
            (Err(why), _) | (_, Err(why)) => return response(400, Some(&why)),
        };
        let project_id = match event.query_string_parameters.first("project_id").map(ProjectId::parse) {
            Some(Ok(project_id)) => Some(project_id),
            Some(Err(_)) => return response(400, Some("project_id query parameter must be a positive integer")),
            // The user's notifications only: any signed-in user, no team needed.
            None if notifications => None,
            None => {
                return response(
                    400,
                    Some("give project_id (a project's chat) or notifications=true (your notifications only)"),
                );
            }
        };
        let access = match project_id {
            None => None,
            Some(project_id) => match self.membership.admit(&identity, project_id, &call_context(event)).await {
                Ok(access) => Some(access),
                Err(e) => {
                    tracing::info!(%project_id, code = e.code(), "connection refused");
                    return response(e.status().as_u16().into(), Some(&e.to_string()));
                }
            },
        };
        let now = now_ms();
        let connection = Connection {
            connection_id,
            user_id: user,
            display_name: sender_name(&identity.chat_name()).unwrap_or_else(|| "member".into()),
            project_id,
            notifications,
            // An administrator's socket (a team member or not) may remove others' messages.
            admin: access.is_some() && identity.is_admin,
            connected_at: now,
            expires_at: now + CONNECTION_TTL,
            token_expires_at: identity.expires_at,
            // Shown in the project's presence: a member, not an administrator reading as one.
            member: access == Some(ChatAccess::Member),
            live,
        };
        if let Err(e) = self.presence.connections().put(&connection).await {
            tracing::warn!(error = %e, "could not store the connection");
            return response(503, Some("chat storage unavailable, try again"));
        }
        self.presence.joined(&connection).await;
        response(200, None)
    }
}

/// `$disconnect`: deletes the connection row (TTL removes it otherwise); a member's last socket
/// into the project is told to its other sockets (`presence`).
pub struct DisconnectHandler {
    presence: Presence,
}

impl DisconnectHandler {
    pub fn new(presence: Presence) -> Self {
        Self { presence }
    }

    pub async fn handle(&self, event: &ApiGatewayWebsocketProxyRequest) -> ApiGatewayProxyResponse {
        let Some(connection_id) = connection_id(event) else {
            tracing::error!("WebSocket event without a usable connection id");
            return response(400, Some("missing connection id"));
        };
        match self.presence.connections().remove(&connection_id).await {
            Ok(Some(row)) => self.presence.closed(&row).await,
            // Already deleted by a post that found it gone (which told its presence).
            Ok(None) => {}
            Err(e) => tracing::warn!(%connection_id, error = %e, "could not delete the connection row; TTL will"),
        }
        response(200, None)
    }
}

/// `$default` and the actions (`sendMessage`, `ping`, `history`).
pub struct MessageHandler {
    chat: ChatService,
    /// Checks the tokens clients renew their socket with (`refresh`).
    tokens: Arc<dyn TokenVerifier>,
}

fn error_frame(code: &str, message: String) -> ServerFrame<'_> {
    ServerFrame::Error { code, message }
}

impl MessageHandler {
    pub fn new(chat: ChatService, tokens: Arc<dyn TokenVerifier>) -> Self {
        Self { chat, tokens }
    }

    /// A frame after the socket's token expired: told why, then closed (its row deleted).
    async fn expire(&self, connection: &Connection) {
        let frame = error_frame(
            "TOKEN_EXPIRED",
            "the token this socket was opened or refreshed with has expired; reconnect with a new one \
             (refresh before it expires to keep the socket)"
                .into(),
        );
        self.reply(&connection.connection_id, &frame).await;
        if let Err(e) = self.chat.fanout().close(&connection.connection_id).await {
            tracing::warn!(connection_id = %connection.connection_id, error = %e, "could not close an expired socket");
        }
        // Its row is gone, so its `$disconnect` will find nothing to tell: told here.
        self.chat
            .presence()
            .dropped(std::slice::from_ref(connection), tokio::time::Instant::now() + BROADCAST_BUDGET)
            .await;
    }

    /// [`Self::reply`] on a socket whose row was read: if the post finds it gone (its row is
    /// then deleted), the project hears that its member may have left.
    async fn answer(&self, connection: &Connection, frame: &ServerFrame<'_>) {
        match self.chat.fanout().send_to(&connection.connection_id, frame).await {
            Ok(()) => {}
            Err(PushError::Gone) => {
                let deadline = tokio::time::Instant::now() + BROADCAST_BUDGET;
                self.chat.presence().dropped(std::slice::from_ref(connection), deadline).await;
            }
            Err(e) => {
                tracing::info!(connection_id = %connection.connection_id, error = %e, "could not answer the sender")
            }
        }
    }

    /// Always 200: whatever goes wrong is told to the sender as an error frame.
    pub async fn handle(&self, event: &ApiGatewayWebsocketProxyRequest) -> ApiGatewayProxyResponse {
        let Some(connection_id) = connection_id(event) else {
            tracing::error!("WebSocket event without a usable connection id");
            return response(400, Some("missing connection id"));
        };
        if let Err(e) = self.message(&connection_id, event).await {
            tracing::warn!(%connection_id, error = %e, "message route failed");
        }
        response(200, None)
    }

    async fn reply(&self, connection_id: &ConnectionId, frame: &ServerFrame<'_>) {
        if let Err(e) = self.chat.fanout().send_to(connection_id, frame).await {
            tracing::info!(%connection_id, error = %e, "could not answer the sender");
        }
    }

    async fn message(
        &self,
        connection_id: &ConnectionId,
        event: &ApiGatewayWebsocketProxyRequest,
    ) -> Result<(), AppError> {
        let connection = match self.chat.fanout().connections().get(connection_id).await {
            Ok(Some(connection)) => connection,
            Ok(None) => {
                let frame = error_frame("NOT_CONNECTED", "this connection is not registered; reconnect".into());
                self.reply(connection_id, &frame).await;
                return Ok(());
            }
            Err(e) => {
                let frame = error_frame("SERVICE_UNAVAILABLE", "chat storage is unavailable, try again shortly".into());
                self.reply(connection_id, &frame).await;
                return Err(e.into());
            }
        };
        if connection.token_expired(now_ms()) {
            self.expire(&connection).await;
            return Ok(());
        }
        let frame = if event.is_base64_encoded {
            Err(FrameError { code: "BINARY_NOT_SUPPORTED", field: None, message: "send text frames with JSON".into() })
        } else {
            ClientFrame::decode(event.body.as_deref().unwrap_or_default())
        };
        let frame = match frame {
            Ok(frame) => frame,
            Err(e) => {
                let message = match &e.field {
                    Some(field) => format!("{field}: {}", e.message),
                    None => e.message,
                };
                self.answer(&connection, &error_frame(e.code, message)).await;
                return Ok(());
            }
        };
        match self.act(&connection, frame, &call_context(event)).await {
            Ok(Some(ServerFrame::History { project_id, messages, has_more, after_cursor })) => {
                for frame in history_frames(project_id, messages, has_more, after_cursor) {
                    self.answer(&connection, &frame).await;
                }
                Ok(())
            }
            Ok(Some(answer)) => {
                self.answer(&connection, &answer).await;
                Ok(())
            }
            Ok(None) => Ok(()),
            Err(e) => {
                self.answer(&connection, &error_frame(e.code(), client_message(&e))).await;
                match e {
                    AppError::Unavailable(_) | AppError::Internal(_) => Err(e),
                    _ => Ok(()),
                }
            }
        }
    }

    /// Carries out one client frame; returns the answer for the sender, if any.
    async fn act(
        &self,
        connection: &Connection,
        frame: ClientFrame,
        ctx: &CallContext,
    ) -> Result<Option<ServerFrame<'static>>, AppError> {
        match frame {
            ClientFrame::Ping => Ok(Some(ServerFrame::Pong)),
            ClientFrame::History(history) => self.history(connection, history, ctx).await.map(Some),
            ClientFrame::SendMessage(send) => self.send(connection, send, ctx).await,
            ClientFrame::Subscribe(subscribe) => self.subscribe(connection, subscribe).await.map(Some),
            ClientFrame::Refresh(refresh) => self.refresh(connection, refresh, ctx).await.map(Some),
            ClientFrame::EditMessage(edit) => self.edit(connection, edit, ctx).await,
            ClientFrame::DeleteMessage(delete) => self.delete(connection, delete, ctx).await,
            ClientFrame::MarkRead(mark) => self.mark_read(connection, mark, ctx).await.map(Some),
            ClientFrame::Typing => {
                let typist = self.chat.admit_connection(connection, ctx).await?;
                // Dropped or passed on, the typist hears nothing back.
                self.chat.typing(&typist, ctx).await;
                Ok(None)
            }
            ClientFrame::Unknown(action) => Err(AppError::BadRequest {
                code: "UNKNOWN_ACTION",
                message: format!(
                    "unknown action {action:?}; use sendMessage, editMessage, deleteMessage, markRead, typing, \
                     ping, history, subscribe or refresh"
                ),
                details: Vec::new(),
            }),
        }
    }

    async fn history(
        &self,
        connection: &Connection,
        frame: HistoryFrame,
        ctx: &CallContext,
    ) -> Result<ServerFrame<'static>, AppError> {
        let reader = self.chat.admit_connection(connection, ctx).await?;
        let after =
            frame.after.as_deref().map(ChatCursor::decode).transpose().map_err(|m| invalid_field("after", m))?;
        let limit = frame.limit.map_or(Ok(Limit::default()), Limit::new).map_err(|m| invalid_field("limit", m))?;
        let position = after.map_or(HistoryPosition::Latest, HistoryPosition::After);
        let query = HistoryQuery { position, from: None, to: None, limit: limit.get() };
        let asked = match &query.position {
            HistoryPosition::After(cursor) => Some(cursor.clone()),
            _ => None,
        };
        let page = self.chat.history(&reader, &query).await?;
        Ok(ServerFrame::History {
            project_id: reader.project_id,
            messages: page.messages.iter().map(|m| MessageFrame::shown(m, page.cursor_of(m))).collect(),
            has_more: page.has_more,
            after_cursor: page.after_cursor(asked.as_ref()).map(|c| c.encode()),
        })
    }

    async fn subscribe(
        &self,
        connection: &Connection,
        frame: SubscribeFrame,
    ) -> Result<ServerFrame<'static>, AppError> {
        if frame.notifications.is_none() && frame.live.is_none() {
            return Err(invalid_field("notifications", "give notifications or live (true or false)".into()));
        }
        if frame.notifications == Some(false) && connection.project_id.is_none() {
            // It would then receive nothing at all.
            return Err(invalid_field(
                "notifications",
                "a socket without a project receives notifications only".into(),
            ));
        }
        let connections = self.chat.fanout().connections();
        let not_connected = || AppError::BadRequest {
            code: "NOT_CONNECTED",
            message: "this connection is not registered; reconnect".into(),
            details: Vec::new(),
        };
        if let Some(on) = frame.notifications
            && !connections.set_notifications(&connection.connection_id, on).await?
        {
            return Err(not_connected());
        }
        if let Some(on) = frame.live
            && !connections.set_live(&connection.connection_id, on).await?
        {
            return Err(not_connected());
        }
        Ok(ServerFrame::Subscribed {
            notifications: frame.notifications.unwrap_or(connection.notifications),
            live: frame.live.unwrap_or(connection.live),
        })
    }

    /// Renews the socket's token: verified like `$connect`'s, the same user's, admitted again
    /// (administrator rights follow the new token); the socket then lives until it expires.
    async fn refresh(
        &self,
        connection: &Connection,
        frame: RefreshFrame,
        ctx: &CallContext,
    ) -> Result<ServerFrame<'static>, AppError> {
        let token = frame.token.ok_or_else(|| invalid_field("token", "is required".into()))?;
        let refused = |message: String| AppError::BadRequest { code: "TOKEN_REJECTED", message, details: Vec::new() };
        let claims = self.tokens.claims(&token).await.map_err(|e| match e {
            TokenCheckError::Rejected(why) => refused(format!("the token was refused: {why}")),
            TokenCheckError::Unavailable(e) => {
                tracing::warn!(error = %e, "could not verify a refresh token");
                AppError::Unavailable("token verification")
            }
        })?;
        let identity =
            Identity::from_claims(&claims, None).ok_or_else(|| refused("the token has no subject".into()))?;
        if identity.subject != connection.user_id.as_str() {
            return Err(refused("the token is another user's; this socket keeps its own".into()));
        }
        let expires_at = identity.expires_at.ok_or_else(|| refused("the token has no expiry".into()))?;
        // The verifier allows a little clock skew; a renewal must still have time left.
        if expires_at <= now_ms() {
            return Err(refused("the token has expired".into()));
        }
        // Rights follow the new token: an administrator whose token no longer says so (and who is
        // not in the team) keeps the socket but loses the chat.
        let admitted = match connection.project_id {
            // A notifications-only socket is any signed-in user's.
            None => Some(false),
            Some(project_id) => match self.chat.membership().admit(&identity, project_id, ctx).await {
                Ok(_) => Some(identity.is_admin),
                Err(AppError::Forbidden(_)) => None,
                Err(e) => return Err(e),
            },
        };
        let admin = admitted.unwrap_or(false);
        if !self.chat.fanout().connections().refresh(&connection.connection_id, expires_at, admin).await? {
            return Err(AppError::BadRequest {
                code: "NOT_CONNECTED",
                message: "this connection is not registered; reconnect".into(),
                details: Vec::new(),
            });
        }
        match admitted {
            Some(_) => Ok(ServerFrame::Refreshed { expires_at: format_iso(&expires_at) }),
            None => Err(AppError::Forbidden("token renewed, but it no longer admits you to this project's chat")),
        }
    }

    /// `editMessage`: the project's sockets, this one included, get `message_edited`.
    async fn edit(
        &self,
        connection: &Connection,
        frame: EditFrame,
        ctx: &CallContext,
    ) -> Result<Option<ServerFrame<'static>>, AppError> {
        let editor = self.chat.admit_connection(connection, ctx).await?;
        let message_id = frame_message_id(frame.message_id)?;
        let text = frame.message.ok_or_else(|| invalid_field("message", "is required".into()))?;
        self.chat.edit(&editor, &message_id, &text, ctx).await?;
        Ok(None)
    }

    /// `deleteMessage`: the project's sockets, this one included, get `message_deleted`; a
    /// message deleted before is told to this socket alone.
    async fn delete(
        &self,
        connection: &Connection,
        frame: DeleteFrame,
        ctx: &CallContext,
    ) -> Result<Option<ServerFrame<'static>>, AppError> {
        let caller = self.chat.admit_connection(connection, ctx).await?;
        let message_id = frame_message_id(frame.message_id)?;
        let (tombstone, newly) = self.chat.delete(&caller, &message_id, ctx).await?;
        Ok((!newly).then(|| ServerFrame::deleted(&tombstone)))
    }

    /// `markRead`: answered with the `read` frame; the user's other sockets get it too when the
    /// marker moved.
    async fn mark_read(
        &self,
        connection: &Connection,
        frame: MarkReadFrame,
        ctx: &CallContext,
    ) -> Result<ServerFrame<'static>, AppError> {
        let reader = self.chat.admit_connection(connection, ctx).await?;
        let raw = frame.up_to.ok_or_else(|| invalid_field("up_to", "is required".into()))?;
        let up_to = ChatCursor::decode(&raw).map_err(|m| invalid_field("up_to", m))?;
        let state = self.chat.mark_read(&reader, &up_to, Some(&connection.connection_id)).await?;
        Ok(state.frame())
    }

    async fn send(
        &self,
        connection: &Connection,
        frame: SendFrame,
        ctx: &CallContext,
    ) -> Result<Option<ServerFrame<'static>>, AppError> {
        let sender = self.chat.admit_connection(connection, ctx).await?;
        let message = frame.message.ok_or_else(|| invalid_field("message", "is required".into()))?;
        let new = NewMessage { message, client_message_id: frame.message_id, is_in_meeting: frame.is_in_meeting };
        let outcome = self.chat.send(&sender, new, ctx).await?;
        // The broadcast normally reached the sender too; a repeated id gets the stored message
        // back, and so does a sender whose own post failed, whoever else it reached.
        let answer = !outcome.created || !outcome.fanout.reached(&connection.connection_id);
        Ok(answer.then(|| ServerFrame::Message(MessageFrame::from(&outcome.message))))
    }
}

/// The message id a frame names.
fn frame_message_id(raw: Option<String>) -> Result<MessageId, AppError> {
    let raw = raw.ok_or_else(|| invalid_field("message_id", "is required".into()))?;
    MessageId::parse(&raw).map_err(|m| invalid_field("message_id", m))
}

fn invalid_field(field: &str, message: String) -> AppError {
    AppError::Validation(vec![crate::domain::FieldError::new(field, message)])
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
