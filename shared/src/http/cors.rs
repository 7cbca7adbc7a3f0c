//! What a browser may send cross-origin: one list for the HTTP API in AWS (template.yaml's
//! `CorsConfiguration`, which a test compares with these) and for the local gateway. Headers are
//! named one by one: by the Fetch standard a `*` does not cover `Authorization`.

pub const ALLOWED_METHODS: [&str; 5] = ["GET", "POST", "PATCH", "DELETE", "OPTIONS"];
/// `Idempotency-Key` makes a send safe to retry (README, "Chat"); `X-Request-Id` is passed on to
/// the sibling services. Both are headers the README tells clients to send.
pub const ALLOWED_HEADERS: [&str; 4] = ["authorization", "content-type", "idempotency-key", "x-request-id"];
/// What a browser lets a page read of an answer besides the simple headers: the request id
/// every answer carries, which a client quotes when it reports a problem.
pub const EXPOSED_HEADERS: [&str; 1] = ["x-request-id"];
/// How long a browser may reuse a preflight's answer.
pub const MAX_AGE_SECONDS: u64 = 600;
