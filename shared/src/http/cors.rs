//! What a browser may send cross-origin: one list for the HTTP API in AWS (template.yaml's
//! `CorsConfiguration`, which a test compares with these) and for the local gateway. Headers are
//! named one by one: by the Fetch standard a `*` does not cover `Authorization`.

pub const ALLOWED_METHODS: [&str; 5] = ["GET", "POST", "PATCH", "DELETE", "OPTIONS"];
pub const ALLOWED_HEADERS: [&str; 2] = ["authorization", "content-type"];
/// How long a browser may reuse a preflight's answer.
pub const MAX_AGE_SECONDS: u64 = 600;
