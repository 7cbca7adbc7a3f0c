//! The success envelope the frontend reads: `{"success", "code", "message", "data"}` plus
//! `meta` for paged lists.

use axum::{
    Json,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde::Serialize;
use serde_json::{Value, json};

use crate::domain::{Limit, Page};
use crate::error::AppError;

#[derive(Debug)]
pub struct Reply {
    status: StatusCode,
    code: &'static str,
    message: &'static str,
    data: Value,
    meta: Option<Value>,
}

fn to_value(data: impl Serialize) -> Result<Value, AppError> {
    serde_json::to_value(data).map_err(|e| AppError::Internal(format!("serializing a reply: {e}")))
}

impl Reply {
    pub fn ok(code: &'static str, message: &'static str, data: impl Serialize) -> Result<Self, AppError> {
        Ok(Self { status: StatusCode::OK, code, message, data: to_value(data)?, meta: None })
    }

    pub fn created(code: &'static str, message: &'static str, data: impl Serialize) -> Result<Self, AppError> {
        Ok(Self { status: StatusCode::CREATED, ..Self::ok(code, message, data)? })
    }

    /// A page: `data` is the array, `meta` says where the next page starts.
    pub fn page<T: Serialize>(
        code: &'static str,
        message: &'static str,
        page: Page<T>,
        limit: Limit,
    ) -> Result<Self, AppError> {
        let meta = json!({
            "limit": limit.get(),
            "count": page.items.len(),
            "has_more": page.next_cursor.is_some(),
            "next_cursor": page.next_cursor.map(|c| c.encode()),
        });
        Ok(Self { meta: Some(meta), ..Self::ok(code, message, page.items)? })
    }

    /// A complete (unpaged) list, with its size in `meta`.
    pub fn list<T: Serialize>(code: &'static str, message: &'static str, items: Vec<T>) -> Result<Self, AppError> {
        let meta = json!({ "count": items.len() });
        Ok(Self { meta: Some(meta), ..Self::ok(code, message, items)? })
    }
}

impl Reply {
    /// Replaces `meta` (lists whose paging is not a plain cursor).
    pub fn with_meta(mut self, meta: Value) -> Self {
        self.meta = Some(meta);
        self
    }
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        let mut body = json!({
            "success": true,
            "code": self.code,
            "message": self.message,
            "data": self.data,
        });
        if let Some(meta) = self.meta {
            body["meta"] = meta;
        }
        (self.status, Json(body)).into_response()
    }
}

pub type ReplyResult = Result<Reply, AppError>;
