//! Request extractors whose every rejection is an [`AppError`], so clients always get the JSON
//! error shape (axum's own rejections are plain text).

use std::collections::HashMap;

use axum::{
    extract::{FromRequest, FromRequestParts, RawPathParams, Request},
    http::request::Parts,
};
use lambda_http::request::RequestContext;
use serde::de::DeserializeOwned;

use crate::domain::{Cursor, FieldError, Limit, ids::NumericId, time::parse_date};
use crate::error::{AppError, AppResult};
use crate::identity::{Admin, Identity};

/// Largest JSON body accepted (a 20,000-character notice in Korean is ~60 KB of UTF-8).
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// The verified caller. Rejects with 401 when the request carries no identity.
#[derive(Debug, Clone)]
pub struct Caller(pub Identity);

/// Reads the identity the API Gateway JWT authorizer (or the local gateway) attached.
pub fn identity_of(parts: &Parts) -> Option<Identity> {
    match parts.extensions.get::<RequestContext>()? {
        RequestContext::ApiGatewayV2(ctx) => {
            let jwt = ctx.authorizer.as_ref()?.jwt.as_ref()?;
            Identity::from_claims(&jwt.claims, jwt.scopes.as_deref())
        }
        _ => None,
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, AppError> {
        identity_of(parts).map(Caller).ok_or(AppError::Unauthorized)
    }
}

/// The id of the request, passed on to sibling services (`X-Request-Id`): API Gateway's
/// `requestId`, or the header a caller set (the local gateway and tests).
#[derive(Debug, Clone, Default)]
pub struct RequestId(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for RequestId {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let from_gateway = match parts.extensions.get::<RequestContext>() {
            Some(RequestContext::ApiGatewayV2(ctx)) => ctx.request_id.clone(),
            _ => None,
        };
        let from_header = || {
            parts
                .headers
                .get("x-request-id")
                .and_then(|v| v.to_str().ok())
                .filter(|v| !v.is_empty() && v.len() <= 128 && v.bytes().all(|b| b.is_ascii_graphic()))
                .map(str::to_owned)
        };
        Ok(Self(from_gateway.or_else(from_header)))
    }
}

impl RequestId {
    pub fn context(self) -> crate::siblings::CallContext {
        crate::siblings::CallContext { request_id: self.0 }
    }
}

/// Every answer carries `X-Request-Id` (CORS exposes it to browsers): API Gateway's request id,
/// else the caller's, else a fresh one, which the handlers and the sibling calls then see too;
/// so one id ties what a client saw to the logs of every service the request touched.
pub async fn answer_with_request_id(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let (mut parts, body) = request.into_parts();
    let Ok(RequestId(known)) = RequestId::from_request_parts(&mut parts, &()).await;
    let id = known.unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let value = axum::http::HeaderValue::from_str(&id).ok();
    if let Some(value) = &value {
        parts.headers.insert("x-request-id", value.clone());
    }
    let mut response = next.run(axum::extract::Request::from_parts(parts, body)).await;
    if let Some(value) = value {
        response.headers_mut().insert("x-request-id", value);
    }
    response
}

/// The optional `Idempotency-Key` header of a send: a client's retry with the same key stores
/// nothing new. Its format is checked with the message id it becomes (1–64 of `A-Z a-z 0-9 - _`).
#[derive(Debug, Clone, Default)]
pub struct IdempotencyKey(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for IdempotencyKey {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, AppError> {
        let Some(raw) = parts.headers.get("idempotency-key") else { return Ok(Self(None)) };
        let key = raw.to_str().map_err(|_| {
            AppError::Validation(vec![FieldError::new("Idempotency-Key", "must be 1-64 of A-Z a-z 0-9 - _")])
        })?;
        Ok(Self(Some(key.to_owned())))
    }
}

impl IdempotencyKey {
    /// The header's key alone, checked (1–64 of `A-Z a-z 0-9 - _`, as a message id).
    pub fn checked(self) -> AppResult<Option<String>> {
        self.0
            .map(|key| {
                crate::domain::MessageId::parse(&key)
                    .map(|_| key)
                    .map_err(|m| AppError::Validation(vec![FieldError::new("Idempotency-Key", m)]))
            })
            .transpose()
    }

    /// The key from the header or the body's `message_id`; both may be given only if equal.
    pub fn or_body(self, body: Option<String>) -> AppResult<Option<String>> {
        match (self.0, body) {
            (Some(header), Some(body)) if header != body => Err(AppError::Validation(vec![FieldError::new(
                "Idempotency-Key",
                "differs from the body's message_id; give one, or the same in both",
            )])),
            (header, body) => Ok(header.or(body)),
        }
    }
}

/// A caller with the ADMIN role: 401 without identity, 403 without the role. As an extractor
/// it runs before the body is read, so a non-admin gets 403, never a validation report.
#[derive(Debug, Clone)]
pub struct AdminCaller(pub Admin);

impl<S: Send + Sync> FromRequestParts<S> for AdminCaller {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        let Caller(caller) = Caller::from_request_parts(parts, state).await?;
        caller.into_admin().map(Self)
    }
}

/// A JSON body: not JSON → 400 `MALFORMED_JSON`; JSON of the wrong shape → 422 with the field.
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = AppError;

    async fn from_request(req: Request, _: &S) -> Result<Self, AppError> {
        let bytes = axum::body::to_bytes(req.into_body(), MAX_BODY_BYTES).await.map_err(|e| {
            // Only a body past the limit is 413; one that broke off is not JSON.
            let too_large =
                std::error::Error::source(&e).is_some_and(|source| source.is::<http_body_util::LengthLimitError>());
            if too_large {
                AppError::PayloadTooLarge(MAX_BODY_BYTES)
            } else {
                AppError::MalformedJson(format!("the body could not be read: {e}"))
            }
        })?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(AppError::MalformedJson("the body is empty".into()));
        }
        let value: serde_json::Value =
            serde_json::from_slice(&bytes).map_err(|e| AppError::MalformedJson(e.to_string()))?;
        if !value.is_object() {
            return Err(AppError::Validation(vec![FieldError::new("body", "must be a JSON object")]));
        }
        serde_path_to_error::deserialize(value).map(JsonBody).map_err(|e| AppError::Validation(vec![shape_error(&e)]))
    }
}

/// The field a serde error is about and serde's own words for it. The body was parsed into a
/// `Value` first, so the message carries no line and column; required fields are declared
/// optional and reported by the domain's validation, so what is left here is a wrong type (the
/// path names the value) or an unknown field (the path names the field).
fn shape_error(e: &serde_path_to_error::Error<serde_json::Error>) -> FieldError {
    let path = e.path().to_string();
    let field = if path == "." { "body".to_owned() } else { path };
    FieldError::new(field, e.inner().to_string())
}

/// A numeric id from the path (`/notices/{id}`, `/chat/{project_id}/messages`): a positive
/// integer, else 400 naming the parameter. Only for routes with exactly one path parameter: on
/// any other it is a wiring mistake, answered 500 rather than guessing which one was meant.
#[derive(Debug, Clone, Copy)]
pub struct PathId<T>(pub T);

impl<S: Send + Sync, T: NumericId + Send> FromRequestParts<S> for PathId<T> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        let params = RawPathParams::from_request_parts(parts, state)
            .await
            .map_err(|_| AppError::invalid_path("id", "must be a positive integer"))?;
        let mut all = params.iter();
        let (Some((name, raw)), None) = (all.next(), all.next()) else {
            return Err(AppError::Internal(format!(
                "PathId on a route with {} path parameters",
                params.iter().count()
            )));
        };
        T::parse(raw).map(Self).map_err(|m| AppError::invalid_path(name, m))
    }
}

/// The path parameters of a route with several, each read by name. A segment that is not UTF-8
/// once decoded is a 400 naming the path.
#[derive(Debug, Clone)]
pub struct PathParams(Vec<(String, String)>);

impl<S: Send + Sync> FromRequestParts<S> for PathParams {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        let params = RawPathParams::from_request_parts(parts, state)
            .await
            .map_err(|_| AppError::invalid_path("path", "must be valid UTF-8"))?;
        Ok(Self(params.iter().map(|(name, value)| (name.to_owned(), value.to_owned())).collect()))
    }
}

impl PathParams {
    /// Parses the parameter `name`; a route without it is a wiring mistake (500).
    pub fn parse<T>(&self, name: &str, parse: impl FnOnce(&str) -> Result<T, String>) -> Result<T, AppError> {
        let (_, raw) = self
            .0
            .iter()
            .find(|(n, _)| n == name)
            .ok_or_else(|| AppError::Internal(format!("the route has no path parameter {name}")))?;
        parse(raw).map_err(|m| AppError::invalid_path(name, m))
    }
}

/// The query string as name → value (first occurrence wins), with typed accessors.
#[derive(Debug, Clone, Default)]
pub struct QueryParams(HashMap<String, String>);

impl<S: Send + Sync> FromRequestParts<S> for QueryParams {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, AppError> {
        let mut map = HashMap::new();
        for (k, v) in form_urlencoded::parse(parts.uri.query().unwrap_or_default().as_bytes()) {
            map.entry(k.into_owned()).or_insert_with(|| v.into_owned());
        }
        Ok(Self(map))
    }
}

impl QueryParams {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str).filter(|v| !v.is_empty())
    }

    /// Parses an optional parameter; a present but invalid value is a 400 naming it.
    pub fn parse<T>(&self, name: &str, parse: impl FnOnce(&str) -> Result<T, String>) -> Result<Option<T>, AppError> {
        self.get(name).map(|raw| parse(raw).map_err(|m| AppError::invalid_query(name, m))).transpose()
    }

    pub fn limit(&self) -> Result<Limit, AppError> {
        Limit::parse(self.get("limit")).map_err(|m| AppError::invalid_query("limit", m))
    }

    /// A cursor of a time-ordered list.
    pub fn time_cursor(&self, name: &str) -> Result<Option<Cursor>, AppError> {
        self.parse(name, |raw| {
            Cursor::decode(raw).and_then(|c| c.instant().map(|_| c).ok_or_else(|| "is out of range".into()))
        })
    }

    pub fn flag(&self, name: &str) -> Result<bool, AppError> {
        Ok(self
            .parse(name, |raw| match raw.to_ascii_lowercase().as_str() {
                "true" | "1" => Ok(true),
                "false" | "0" => Ok(false),
                _ => Err("must be true or false".into()),
            })?
            .unwrap_or(false))
    }

    pub fn date(&self, name: &str) -> Result<Option<chrono::NaiveDate>, AppError> {
        self.parse(name, parse_date)
    }
}
