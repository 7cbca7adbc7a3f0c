//! The authorization matrix: every HTTP route of every function and every WebSocket route, ×
//! every kind of caller, with the exact status (or frame) each must get. It runs twice: through
//! the Lambda routers, behind a stand-in for API Gateway's JWT authorizer that verifies
//! Cognito-shaped RS256 tokens (test key) and hands the function the claims, as in AWS; and
//! through a running local gateway with local tokens. A route without a row fails the test.

use std::collections::{BTreeSet, HashMap};

use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use serde_json::{Map, Value, json};
use service_tests::{Function, TestApi, TestDb, TestEnv, Who, connection_id, gateway_event, new_user_id, send_event};
use shared::{
    domain::{ProjectId, UserId},
    http::RouteSpec,
};

/// Who calls: the columns of the matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Caller {
    NoToken,
    Malformed,
    BadSignature,
    /// Issued by another pool (or, locally, not by this gateway).
    WrongIssuer,
    Expired,
    /// A signed-in user: owns the fixtures' notification and report, in no project's team.
    User,
    /// Another signed-in user, reaching for the first one's things.
    AnotherUser,
    /// In project 42's team.
    Member,
    /// Signed in, not in project 42's team.
    NonMember,
    /// In the ADMIN group, in no team.
    Admin,
    /// A sibling service's client-credentials token with the notification and chat-read scopes.
    Service,
}

use Caller::*;

const CALLERS: [Caller; 11] =
    [NoToken, Malformed, BadSignature, WrongIssuer, Expired, User, AnotherUser, Member, NonMember, Admin, Service];
/// The callers whose token API Gateway (or the local gateway) refuses before any function runs.
const REFUSED: [Caller; 5] = [NoToken, Malformed, BadSignature, WrongIssuer, Expired];

const PROJECT: i64 = 42;
/// Each caller acts on its own copy of a resource a route changes (index = column).
const COPIES: usize = CALLERS.len();

fn column(caller: Caller) -> usize {
    CALLERS.iter().position(|c| *c == caller).expect("a caller")
}

/// Expected answers of one row, one per column.
type Expected = [u16; COPIES];

/// 401 for refused tokens, then the given answers for User, AnotherUser, Member, NonMember,
/// Admin, Service.
fn signed_in(user: u16, another: u16, member: u16, non_member: u16, admin: u16, service: u16) -> Expected {
    [401, 401, 401, 401, 401, user, another, member, non_member, admin, service]
}

fn admins_only(ok: u16) -> Expected {
    signed_in(403, 403, 403, 403, ok, 403)
}

fn users(ok: u16) -> Expected {
    signed_in(ok, ok, ok, ok, ok, 403)
}

fn services_only(ok: u16) -> Expected {
    signed_in(403, 403, 403, 403, 403, ok)
}

/// The cursor of a message that does not exist (`m#0000000000001#matrix-none`).
const NO_MESSAGE_CURSOR: &str = "bSMwMDAwMDAwMDAwMDAxI21hdHJpeC1ub25l";

fn team(ok: u16) -> Expected {
    signed_in(403, 403, ok, 403, ok, 403)
}

/// Public routes: no authorizer runs, so every token, good or bad, is simply not looked at.
fn public() -> Expected {
    [200; COPIES]
}

/// The resources the rows act on, created before the matrix runs.
struct Fixtures {
    users: HashMap<Caller, String>,
    /// Project 42's team, as the Project service says.
    team: i64,
    notice: i64,
    event: i64,
    /// The User's notification and report.
    notification: i64,
    report: i64,
    /// One of each per column, for the routes that change or delete them.
    notices: Vec<i64>,
    banners: Vec<i64>,
    admin_banners: Vec<i64>,
    events: Vec<i64>,
    reports: Vec<i64>,
    projects: Vec<i64>,
}

/// One request of a row, for one caller.
struct Request {
    method: &'static str,
    uri: String,
    body: Option<Value>,
}

struct Row {
    route: RouteSpec,
    request: fn(&Fixtures, Caller) -> Request,
    expected: Expected,
    /// More than the status: what the body must show (IDOR checks), per caller.
    check: Option<fn(&Fixtures, Caller, &Value)>,
}

fn get(uri: String) -> Request {
    Request { method: "GET", uri, body: None }
}

fn with(method: &'static str, uri: String, body: Value) -> Request {
    Request { method, uri, body: Some(body) }
}

fn r(method: &'static str, path: &'static str) -> RouteSpec {
    RouteSpec { method, path }
}

fn rows() -> Vec<Row> {
    vec![
        // --- notifications -------------------------------------------------------------
        Row {
            route: r("get", "/notifications"),
            request: |_, _| get("/notifications".into()),
            expected: users(200),
            check: None,
        },
        Row {
            // IDOR: another user's notifications by user_id.
            route: r("get", "/notifications"),
            request: |f, _| get(format!("/notifications?user_id={}", f.users[&User])),
            expected: signed_in(200, 403, 403, 403, 403, 403),
            check: Some(|f, caller, body| {
                if caller == User {
                    assert_eq!(body["data"][0]["notification_id"], f.notification);
                }
            }),
        },
        Row {
            route: r("post", "/notifications"),
            request: |f, _| {
                with("POST", "/notifications".into(), json!({"user_id": f.users[&User], "message": "알림"}))
            },
            expected: signed_in(403, 403, 403, 403, 201, 201),
            check: None,
        },
        Row {
            route: r("get", "/notifications/unread-count"),
            request: |_, _| get("/notifications/unread-count".into()),
            expected: users(200),
            check: None,
        },
        Row {
            // IDOR: marking the User's notification read changes nothing for anyone else.
            route: r("post", "/notifications/read"),
            request: |f, _| with("POST", "/notifications/read".into(), json!({"notification_ids": [f.notification]})),
            expected: users(200),
            check: Some(|_, caller, body| {
                let updated = if caller == User { 1 } else { 0 };
                assert_eq!(body["data"]["updated"], updated, "{caller:?}");
            }),
        },
        // --- content ---------------------------------------------------------------------
        Row { route: r("get", "/notices"), request: |_, _| get("/notices".into()), expected: public(), check: None },
        Row {
            route: r("post", "/notices"),
            request: |_, _| with("POST", "/notices".into(), json!({"title": "공지", "content": "본문"})),
            expected: admins_only(201),
            check: None,
        },
        Row {
            route: r("get", "/notices/latest"),
            request: |_, _| get("/notices/latest".into()),
            expected: public(),
            check: None,
        },
        Row {
            route: r("get", "/notices/{id}"),
            request: |f, _| get(format!("/notices/{}", f.notice)),
            expected: public(),
            check: None,
        },
        Row { route: r("get", "/banners"), request: |_, _| get("/banners".into()), expected: public(), check: None },
        Row {
            route: r("post", "/banners"),
            request: |_, _| with("POST", "/banners".into(), json!({"title": "배너", "link": "/events"})),
            expected: admins_only(201),
            check: None,
        },
        Row {
            route: r("patch", "/banners/{id}"),
            request: |f, c| with("PATCH", format!("/banners/{}", f.banners[column(c)]), json!({"title": "바뀐 배너"})),
            expected: admins_only(200),
            check: None,
        },
        Row {
            route: r("delete", "/banners/{id}"),
            request: |f, c| Request { method: "DELETE", uri: format!("/banners/{}", f.banners[column(c)]), body: None },
            expected: admins_only(200),
            check: None,
        },
        // --- events ----------------------------------------------------------------------
        Row { route: r("get", "/events"), request: |_, _| get("/events".into()), expected: public(), check: None },
        Row {
            route: r("get", "/events/{id}"),
            request: |f, _| get(format!("/events/{}", f.event)),
            expected: public(),
            check: None,
        },
        Row {
            route: r("post", "/events"),
            request: |_, _| {
                with(
                    "POST",
                    "/events".into(),
                    json!({"title": "해커톤", "category": "HACKATHON", "start_date": "2027-01-10", "end_date": "2027-01-11"}),
                )
            },
            expected: admins_only(201),
            check: None,
        },
        Row {
            route: r("patch", "/events/{id}"),
            request: |f, c| with("PATCH", format!("/events/{}", f.events[column(c)]), json!({"title": "바뀐 행사"})),
            expected: admins_only(200),
            check: None,
        },
        Row {
            route: r("delete", "/events/{id}"),
            request: |f, c| Request { method: "DELETE", uri: format!("/events/{}", f.events[column(c)]), body: None },
            expected: admins_only(200),
            check: None,
        },
        // --- admin -----------------------------------------------------------------------
        Row {
            route: r("get", "/admin/notices"),
            request: |_, _| get("/admin/notices".into()),
            expected: admins_only(200),
            check: None,
        },
        Row {
            route: r("post", "/admin/notices"),
            request: |_, _| with("POST", "/admin/notices".into(), json!({"title": "공지", "content": "본문"})),
            expected: admins_only(201),
            check: None,
        },
        Row {
            route: r("patch", "/admin/notices/{id}"),
            request: |f, c| {
                with("PATCH", format!("/admin/notices/{}", f.notices[column(c)]), json!({"title": "바뀐 공지"}))
            },
            expected: admins_only(200),
            check: None,
        },
        Row {
            route: r("delete", "/admin/notices/{id}"),
            request: |f, c| Request {
                method: "DELETE",
                uri: format!("/admin/notices/{}", f.notices[column(c)]),
                body: None,
            },
            expected: admins_only(200),
            check: None,
        },
        Row {
            route: r("get", "/admin/banners"),
            request: |_, _| get("/admin/banners".into()),
            expected: admins_only(200),
            check: None,
        },
        Row {
            route: r("post", "/admin/banners"),
            request: |_, _| with("POST", "/admin/banners".into(), json!({"title": "배너"})),
            expected: admins_only(201),
            check: None,
        },
        Row {
            route: r("patch", "/admin/banners/{id}"),
            request: |f, c| {
                with("PATCH", format!("/admin/banners/{}", f.admin_banners[column(c)]), json!({"sort_order": 3}))
            },
            expected: admins_only(200),
            check: None,
        },
        Row {
            route: r("delete", "/admin/banners/{id}"),
            request: |f, c| Request {
                method: "DELETE",
                uri: format!("/admin/banners/{}", f.admin_banners[column(c)]),
                body: None,
            },
            expected: admins_only(200),
            check: None,
        },
        // --- chat (project 42, team 420) -------------------------------------------------
        Row {
            // IDOR: rooms are the caller's own (the Member chatted; nobody else sees that room).
            route: r("get", "/chat/rooms"),
            request: |_, _| get("/chat/rooms".into()),
            expected: users(200),
            check: Some(|_, caller, body| {
                let rooms = body["data"].as_array().expect("rooms").len();
                assert_eq!(rooms, usize::from(caller == Member), "{caller:?}");
            }),
        },
        Row {
            route: r("get", "/chat/{project_id}/messages"),
            request: |_, _| get(format!("/chat/{PROJECT}/messages")),
            expected: team(200),
            check: None,
        },
        Row {
            route: r("post", "/chat/{project_id}/messages"),
            request: |_, _| with("POST", format!("/chat/{PROJECT}/messages"), json!({"message": "안녕하세요"})),
            expected: team(201),
            check: None,
        },
        Row {
            // Membership before the message is looked up: outsiders learn nothing of it.
            route: r("patch", "/chat/{project_id}/messages/{message_id}"),
            request: |_, _| with("PATCH", format!("/chat/{PROJECT}/messages/matrix-none"), json!({"message": "고침"})),
            expected: team(404),
            check: None,
        },
        Row {
            // Membership before the body: outsiders never learn whether the cursor names a message.
            route: r("post", "/chat/{project_id}/read"),
            request: |_, _| with("POST", format!("/chat/{PROJECT}/read"), json!({"up_to": NO_MESSAGE_CURSOR})),
            expected: team(422),
            check: None,
        },
        Row {
            route: r("get", "/chat/{project_id}/presence"),
            request: |_, _| get(format!("/chat/{PROJECT}/presence")),
            expected: team(200),
            check: None,
        },
        Row {
            route: r("delete", "/chat/{project_id}/messages/{message_id}"),
            request: |_, _| Request {
                method: "DELETE",
                uri: format!("/chat/{PROJECT}/messages/matrix-none"),
                body: None,
            },
            expected: team(404),
            check: None,
        },
        Row {
            route: r("get", "/admin/chat/removals"),
            request: |_, _| get("/admin/chat/removals".into()),
            expected: admins_only(200),
            check: None,
        },
        Row {
            route: r("post", "/chat/message"),
            request: |f, _| {
                with(
                    "POST",
                    "/chat/message".into(),
                    json!({"team_id": f.team, "project_id": PROJECT, "user": "x", "message": "hi"}),
                )
            },
            expected: team(200),
            check: None,
        },
        Row {
            route: r("get", "/chat/messages/{team_id}/{project_id}"),
            request: |f, _| get(format!("/chat/messages/{}/{PROJECT}", f.team)),
            expected: team(200),
            check: None,
        },
        Row {
            // For sibling services with the chat-read scope only: members and admins included
            // are refused.
            route: r("get", "/chat/team/{team_id}/logs"),
            request: |f, _| get(format!("/chat/team/{}/logs", f.team)),
            expected: services_only(200),
            check: None,
        },
        Row {
            route: r("post", "/chat/team/{team_id}/meeting-logs"),
            request: |f, _| {
                let window = json!({"start_time": "2026-01-01T00:00:00Z", "end_time": "2026-01-01T01:00:00Z"});
                with("POST", format!("/chat/team/{}/meeting-logs", f.team), window)
            },
            expected: services_only(200),
            check: None,
        },
        // --- reports ---------------------------------------------------------------------
        Row {
            route: r("post", "/reports"),
            request: |_, _| {
                with("POST", "/reports".into(), json!({"project_id": 43, "type": "REPORT", "content": "신고"}))
            },
            expected: users(201),
            check: None,
        },
        Row {
            // IDOR: only one's own reports.
            route: r("get", "/reports/mine"),
            request: |_, _| get("/reports/mine".into()),
            expected: users(200),
            check: Some(|f, caller, body| {
                for report in body["data"].as_array().expect("reports") {
                    assert_eq!(report["user_id"].as_str(), Some(f.users[&caller].as_str()), "{caller:?}");
                }
            }),
        },
        Row {
            // IDOR: a report and its conversation are its reporter's (and administrators');
            // anyone else is told it does not exist.
            route: r("get", "/reports/{id}"),
            request: |f, _| get(format!("/reports/{}", f.report)),
            expected: signed_in(200, 404, 404, 404, 200, 403),
            check: None,
        },
        Row {
            route: r("post", "/reports/{id}/replies"),
            request: |f, _| with("POST", format!("/reports/{}/replies", f.report), json!({"message": "답변"})),
            expected: signed_in(201, 404, 404, 404, 201, 403),
            check: None,
        },
        Row {
            route: r("get", "/admin/reports"),
            request: |_, _| get("/admin/reports".into()),
            expected: admins_only(200),
            check: None,
        },
        Row {
            route: r("get", "/admin/reports/{id}"),
            request: |f, _| get(format!("/admin/reports/{}", f.report)),
            expected: admins_only(200),
            check: None,
        },
        Row {
            route: r("patch", "/admin/reports/{id}"),
            request: |f, c| {
                with("PATCH", format!("/admin/reports/{}", f.reports[column(c)]), json!({"action": "dismiss"}))
            },
            expected: admins_only(200),
            check: None,
        },
        Row {
            route: r("delete", "/admin/projects/{id}"),
            request: |f, c| Request {
                method: "DELETE",
                uri: format!("/admin/projects/{}", f.projects[column(c)]),
                body: None,
            },
            expected: admins_only(200),
            check: None,
        },
        // --- health ----------------------------------------------------------------------
        Row { route: r("get", "/health"), request: |_, _| get("/health".into()), expected: public(), check: None },
        Row {
            route: r("get", "/notifications/health"),
            request: |_, _| get("/notifications/health".into()),
            expected: public(),
            check: None,
        },
        Row {
            route: r("get", "/content/health"),
            request: |_, _| get("/content/health".into()),
            expected: public(),
            check: None,
        },
        Row {
            route: r("get", "/events/health"),
            request: |_, _| get("/events/health".into()),
            expected: public(),
            check: None,
        },
        Row {
            route: r("get", "/admin/health"),
            request: |_, _| get("/admin/health".into()),
            expected: public(),
            check: None,
        },
        Row {
            route: r("get", "/chat/health"),
            request: |_, _| get("/chat/health".into()),
            expected: public(),
            check: None,
        },
        Row {
            route: r("get", "/reports/health"),
            request: |_, _| get("/reports/health".into()),
            expected: public(),
            check: None,
        },
    ]
}

/// Every HTTP route a function serves: its groups' routes and health checks.
fn every_route() -> BTreeSet<RouteSpec> {
    use shared::http::{admin, chat, content, events, notifications, reports};
    let mut all: BTreeSet<RouteSpec> =
        [notifications::ROUTES, content::ROUTES, events::ROUTES, admin::ROUTES, chat::ROUTES, reports::ROUTES]
            .into_iter()
            .flatten()
            .copied()
            .collect();
    for health in [
        "/health",
        "/notifications/health",
        "/content/health",
        "/events/health",
        "/admin/health",
        "/chat/health",
        "/reports/health",
    ] {
        all.insert(RouteSpec { method: "get", path: health });
    }
    all
}

#[test]
fn every_route_has_a_row() {
    let covered: BTreeSet<RouteSpec> = rows().iter().map(|row| row.route).collect();
    assert_eq!(covered, every_route(), "a route without a row in the matrix, or a row for no route");
    let ws: BTreeSet<&str> = ws_rows().iter().map(|row| row.route).collect();
    let expected: BTreeSet<&str> = [
        "$connect",
        "$disconnect",
        "$default",
        "sendMessage",
        "ping",
        "history",
        "subscribe",
        "editMessage",
        "deleteMessage",
        "markRead",
        "typing",
    ]
    .into();
    assert_eq!(ws, expected, "every WebSocket route has a row");
}

// ---------------------------------------------------------------------------------------------
// Tokens

const ISSUER: &str = "https://cognito-idp.ap-northeast-2.amazonaws.com/ap-northeast-2_MATRIX";
const WEB_CLIENT: &str = "webclient123";
const SERVICE_CLIENT: &str = "projectsvc";
/// The scopes of the Service column's token: creating notifications and reading chat logs.
const SERVICE_SCOPES: &str = "portforge-support/notifications.write portforge-support/chat.read";

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures").join(name)).expect("fixture")
}

/// A Cognito-shaped token for `caller` (none for NoToken).
fn cognito_token(f: &HashMap<Caller, String>, caller: Caller) -> Option<String> {
    let now = chrono::Utc::now().timestamp();
    let sign = |claims: &Value, key: &str| {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some("test-key-1".into());
        encode(&header, claims, &EncodingKey::from_rsa_pem(&fixture(key)).unwrap()).unwrap()
    };
    let id_token = |sub: &str, groups: &[&str]| {
        json!({"sub": sub, "aud": WEB_CLIENT, "iss": ISSUER, "token_use": "id", "cognito:groups": groups,
               "nickname": "matrix", "iat": now, "exp": now + 600})
    };
    let user = f.get(&User).cloned().unwrap_or_default();
    Some(match caller {
        NoToken => return None,
        Malformed => "not.a.jwt".into(),
        BadSignature => sign(&id_token(&user, &["USER"]), "test-other-key.pem"),
        WrongIssuer => {
            let mut claims = id_token(&user, &["USER"]);
            claims["iss"] = json!("https://cognito-idp.ap-northeast-2.amazonaws.com/another-pool");
            sign(&claims, "test-cognito-key.pem")
        }
        Expired => {
            let mut claims = id_token(&user, &["USER"]);
            claims["exp"] = json!(now - 120);
            sign(&claims, "test-cognito-key.pem")
        }
        Admin => sign(&id_token(&f[&Admin], &["ADMIN", "USER"]), "test-cognito-key.pem"),
        Service => sign(
            &json!({"sub": SERVICE_CLIENT, "client_id": SERVICE_CLIENT, "iss": ISSUER, "token_use": "access",
                    "scope": SERVICE_SCOPES, "iat": now, "exp": now + 600}),
            "test-cognito-key.pem",
        ),
        signed_in => sign(&id_token(&f[&signed_in], &["USER"]), "test-cognito-key.pem"),
    })
}

/// A local gateway token for `caller`.
fn local_token(f: &HashMap<Caller, String>, caller: Caller, secret: &[u8]) -> Option<String> {
    use local_gateway::token;
    let user = f.get(&User).cloned().unwrap_or_default();
    let claims = |sub: &str, admin: bool| token::user_claims(sub, admin, Some("matrix"), 1);
    Some(match caller {
        NoToken => return None,
        Malformed => "not.a.jwt".into(),
        BadSignature => token::mint(b"someone-elses-secret", &claims(&user, false)),
        WrongIssuer => {
            let mut c = claims(&user, false);
            c.insert("iss".into(), json!("another-gateway"));
            token::mint(secret, &c)
        }
        Expired => token::mint(secret, &token::user_claims(&user, false, None, -1)),
        Admin => token::mint(secret, &claims(&f[&Admin], true)),
        Service => {
            let mut c = Map::new();
            for (k, v) in [
                ("sub", SERVICE_CLIENT),
                ("client_id", SERVICE_CLIENT),
                ("token_use", "access"),
                ("iss", token::ISSUER),
            ] {
                c.insert(k.into(), json!(v));
            }
            c.insert("scope".into(), json!(SERVICE_SCOPES));
            c.insert("exp".into(), json!(chrono::Utc::now().timestamp() + 600));
            token::mint(secret, &c)
        }
        signed_in => token::mint(secret, &claims(&f[&signed_in], false)),
    })
}

fn personas() -> HashMap<Caller, String> {
    [User, AnotherUser, Member, NonMember, Admin].into_iter().map(|c| (c, new_user_id())).collect()
}

// ---------------------------------------------------------------------------------------------
// Fixtures, created through the API as an admin and users would

/// Sends one request through a harness and returns (status, body).
type Send<'a> = Box<dyn Fn(Request, Caller) -> futures::future::BoxFuture<'a, (u16, Value)> + 'a>;

async fn create(send: &Send<'_>, uri: &str, body: Value, caller: Caller, id_field: &str) -> i64 {
    let (status, reply) = send(with("POST", uri.into(), body), caller).await;
    assert!(status == 201, "creating {uri}: {status} {reply}");
    reply["data"][id_field].as_i64().expect("an id")
}

/// The projects the Project service must know: 42 (the Member's team), 43 (reported in the
/// matrix), and one per column for the deletes.
fn projects() -> Vec<i64> {
    [PROJECT, 43].into_iter().chain((0..COPIES as i64).map(|i| 500 + i)).collect()
}

/// Creates what the rows act on, through the API, as an admin and users would.
async fn fixtures(users: HashMap<Caller, String>, team: i64, send: &Send<'_>) -> Fixtures {
    let notice_body = || json!({"title": "공지", "content": "본문"});
    let banner_body = || json!({"title": "배너", "link": "/"});
    let event_body =
        || json!({"title": "행사", "category": "CONTEST", "start_date": "2027-02-01", "end_date": "2027-02-02"});
    let mut f = Fixtures {
        team,
        notice: create(send, "/notices", notice_body(), Admin, "notice_id").await,
        event: create(send, "/events", event_body(), Admin, "event_id").await,
        notification: create(
            send,
            "/notifications",
            json!({"user_id": users[&User], "message": "당신의 알림"}),
            Admin,
            "notification_id",
        )
        .await,
        report: create(
            send,
            "/reports",
            json!({"project_id": PROJECT, "type": "BUG", "content": "버그"}),
            User,
            "report_id",
        )
        .await,
        notices: Vec::new(),
        banners: Vec::new(),
        admin_banners: Vec::new(),
        events: Vec::new(),
        reports: Vec::new(),
        projects: Vec::new(),
        users,
    };
    for i in 0..COPIES as i64 {
        f.notices.push(create(send, "/notices", notice_body(), Admin, "notice_id").await);
        f.banners.push(create(send, "/banners", banner_body(), Admin, "banner_id").await);
        f.admin_banners.push(create(send, "/banners", banner_body(), Admin, "banner_id").await);
        f.events.push(create(send, "/events", event_body(), Admin, "event_id").await);
        // One report per column, each on its own project (one open report per reporter and project).
        let body = json!({"project_id": 500 + i, "type": "REPORT", "content": "신고"});
        f.reports.push(create(send, "/reports", body, AnotherUser, "report_id").await);
        f.projects.push(500 + i);
    }
    // The Member has chatted in project 42: a room only they see.
    let (status, reply) =
        send(with("POST", format!("/chat/{PROJECT}/messages"), json!({"message": "첫 메시지"})), Member).await;
    assert_eq!(status, 201, "{reply}");
    f
}

async fn run_matrix(send: &Send<'_>, f: &Fixtures, harness: &str) {
    let mut failures = Vec::new();
    for row in rows() {
        for caller in CALLERS {
            let request = (row.request)(f, caller);
            let label = format!("{harness}: {} {} as {caller:?}", request.method, request.uri);
            let (status, body) = send(request, caller).await;
            let expected = row.expected[column(caller)];
            if status != expected {
                failures.push(format!("{label}: {status}, expected {expected}: {body}"));
                continue;
            }
            if status >= 400 {
                // Every refusal a function makes carries the error envelope.
                let enveloped = body["success"] == false && body["code"].is_string() && body["message"].is_string();
                let gateway = REFUSED.contains(&caller) && body["message"] == "Unauthorized";
                if !enveloped && !gateway {
                    failures.push(format!("{label}: refusal without the JSON error shape: {body}"));
                }
            }
            if let (Some(check), true) = (row.check, status < 300) {
                check(f, caller, &body);
            }
        }
    }
    assert!(failures.is_empty(), "{} cells differ:\n{}", failures.len(), failures.join("\n"));
}

// ---------------------------------------------------------------------------------------------
// Through the Lambda routers, behind API Gateway's JWT authorizer

/// What API Gateway does before a function runs: on a route with an authorizer, a missing or
/// invalid token is answered 401 there; a valid one's claims reach the function. On a public
/// route nothing is checked and no claims are passed.
async fn through_api_gateway(
    api: &TestApi,
    verifier: &shared::cognito::CognitoVerifier,
    request: Request,
    token: Option<String>,
) -> (u16, Value) {
    let path = request.uri.split('?').next().unwrap_or_default().to_owned();
    let body = request.body.map(|b| b.to_string());
    let who = if shared::http::is_public(request.method, &path) {
        Who::Anonymous
    } else {
        let Some(token) = token else { return (401, json!({"message": "Unauthorized"})) };
        match verifier.verify(&token).await {
            Ok(claims) => Who::Claims(claims.into_iter().collect()),
            Err(_) => return (401, json!({"message": "Unauthorized"})),
        }
    };
    let event = gateway_event(request.method, &request.uri, &who, body.as_deref());
    let reply = send_event(&api.routers[&Function::serving(&path)], &event.to_string()).await;
    (reply.status, reply.body)
}

async fn jwks() -> String {
    use axum::{Router, routing::get};
    let keys = String::from_utf8(fixture("test-cognito-jwks.json")).unwrap();
    let app = Router::new().route("/.well-known/jwks.json", get(move || async move { keys.clone() }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/.well-known/jwks.json", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

fn verifier(jwks_url: &str) -> shared::cognito::CognitoVerifier {
    let vars: HashMap<&str, String> = HashMap::from([
        ("COGNITO_ISSUER", ISSUER.to_owned()),
        ("COGNITO_AUDIENCES", format!("{WEB_CLIENT},{SERVICE_CLIENT}")),
        ("COGNITO_JWKS_URL", jwks_url.to_owned()),
    ]);
    shared::cognito::CognitoVerifier::from_config(&shared::Config::from_lookup(|k| vars.get(k).cloned()).unwrap())
        .unwrap()
}

#[tokio::test]
async fn the_matrix_through_the_lambda_routers() {
    let api = TestApi::over(TestEnv::new(TestDb::mariadb().await).await).await;
    let verifier = verifier(&jwks().await);
    let users = personas();
    let tokens: HashMap<Caller, Option<String>> = CALLERS.iter().map(|c| (*c, cognito_token(&users, *c))).collect();
    let send: Send<'_> = Box::new(|request, caller| {
        let token = tokens[&caller].clone();
        Box::pin(through_api_gateway(&api, &verifier, request, token))
    });
    // Project 42 belongs to team 420, whose only member is the Member.
    let team = 420;
    for project in projects() {
        let project_team = if project == PROJECT { team } else { project * 10 };
        let leader = if project == PROJECT { users[&Member].clone() } else { new_user_id() };
        api.env.siblings.project_in_team(project, project_team, "matrix", &leader, &[]);
    }
    let f = fixtures(users, team, &send).await;
    run_matrix(&send, &f, "lambda").await;
    ws_matrix_through_lambda(&api, &verifier, &f, &tokens).await;
}

// ---------------------------------------------------------------------------------------------
// WebSocket routes

struct WsRow {
    route: &'static str,
    /// The frame sent (none for $connect and $disconnect).
    frame: Option<Value>,
    /// What each caller's socket gets back: an HTTP status for $connect and $disconnect, else
    /// the frame's `type` (and `code` for errors).
    expected: [&'static str; COPIES],
}

fn ws_rows() -> Vec<WsRow> {
    // A frame goes over a socket, which only the team (and admins) could open; the NonMember's
    // was opened while they were a member, and they have since left the team.
    let frame = |ok: &'static str, left: &'static str| -> [&'static str; COPIES] {
        let no = "error:NOT_CONNECTED";
        [no, no, no, no, no, no, no, ok, left, ok, no]
    };
    vec![
        WsRow {
            route: "$connect",
            frame: None,
            expected: ["401", "401", "401", "401", "401", "403", "403", "200", "403", "200", "403"],
        },
        WsRow { route: "$disconnect", frame: None, expected: ["200"; COPIES] },
        WsRow {
            route: "$default",
            frame: Some(json!({"message": "기본 경로"})),
            expected: frame("message", "error:FORBIDDEN"),
        },
        WsRow {
            route: "sendMessage",
            frame: Some(json!({"action": "sendMessage", "message": "보냄"})),
            expected: frame("message", "error:FORBIDDEN"),
        },
        WsRow { route: "ping", frame: Some(json!({"action": "ping"})), expected: frame("pong", "pong") },
        WsRow {
            route: "history",
            frame: Some(json!({"action": "history"})),
            expected: frame("history", "error:FORBIDDEN"),
        },
        WsRow {
            route: "subscribe",
            frame: Some(json!({"action": "subscribe", "notifications": true})),
            expected: frame("subscribed", "subscribed"),
        },
        // Membership before the message is looked up.
        WsRow {
            route: "editMessage",
            frame: Some(json!({"action": "editMessage", "message_id": "matrix-none", "message": "고침"})),
            expected: frame("error:NOT_FOUND", "error:FORBIDDEN"),
        },
        WsRow {
            route: "deleteMessage",
            frame: Some(json!({"action": "deleteMessage", "message_id": "matrix-none"})),
            expected: frame("error:NOT_FOUND", "error:FORBIDDEN"),
        },
        WsRow {
            route: "markRead",
            frame: Some(json!({"action": "markRead", "up_to": NO_MESSAGE_CURSOR})),
            expected: frame("error:VALIDATION_FAILED", "error:FORBIDDEN"),
        },
        // Typing is never answered; only a socket whose user left the team is told why not.
        WsRow {
            route: "typing",
            frame: Some(json!({"action": "typing"})),
            expected: frame("nothing", "error:FORBIDDEN"),
        },
    ]
}

fn frame_kind(frame: &Value) -> String {
    match frame["type"].as_str() {
        Some("error") => format!("error:{}", frame["code"].as_str().unwrap_or_default()),
        Some(kind) => kind.to_owned(),
        None => format!("{frame}"),
    }
}

async fn ws_matrix_through_lambda(
    api: &TestApi,
    verifier: &shared::cognito::CognitoVerifier,
    f: &Fixtures,
    tokens: &HashMap<Caller, Option<String>>,
) {
    use aws_lambda_events::apigw::{ApiGatewayCustomAuthorizerRequestTypeRequest, ApiGatewayWebsocketProxyRequest};
    let env = &api.env;
    let connect = shared::lambda::ws_connect(env.config()).await.unwrap();
    let disconnect = shared::lambda::ws_disconnect(env.config()).await.unwrap();
    let message = shared::lambda::ws_message(env.config()).await.unwrap();
    let event = |route: &str, id: &str, body: Option<&Value>, authorizer: Value| -> ApiGatewayWebsocketProxyRequest {
        serde_json::from_value(json!({
            "requestContext": {"routeKey": route, "eventType": "MESSAGE", "connectionId": id, "connectedAt": 0,
                               "requestTimeEpoch": 0, "requestId": "matrix", "apiId": "a", "stage": "dev", "authorizer": authorizer},
            "queryStringParameters": {"project_id": PROJECT.to_string()},
            "body": body.map(Value::to_string),
            "isBase64Encoded": false
        }))
        .unwrap()
    };
    let mut failures = Vec::new();
    // $connect: the authorizer, then the handler.
    for caller in CALLERS {
        let id = format!("c{}=", column(caller));
        env.loopback.open(&id);
        let query = match &tokens[&caller] {
            Some(t) => json!({"project_id": PROJECT.to_string(), "token": t}),
            None => json!({"project_id": PROJECT.to_string()}),
        };
        let request: ApiGatewayCustomAuthorizerRequestTypeRequest =
            serde_json::from_value(json!({
                "type": "REQUEST",
                "methodArn": "arn:aws:execute-api:ap-northeast-2:123456789012:a1b2c3d4e5/dev/$connect",
                "queryStringParameters": query,
                "requestContext": {"routeKey": "$connect", "eventType": "CONNECT", "apiId": "a1b2c3d4e5", "stage": "dev", "connectionId": id}
            }))
            .unwrap();
        let status = match shared::ws::authorizer::authorize(verifier, &request).await {
            Err(_) => 401,
            Ok(policy) => {
                let mut context = policy["context"].clone();
                context["principalId"] = policy["principalId"].clone();
                connect.handle(&event("$connect", &id, None, context)).await.status_code
            }
        };
        let expected = ws_rows()[0].expected[column(caller)];
        if status.to_string() != expected {
            failures.push(format!("lambda: $connect as {caller:?}: {status}, expected {expected}"));
        }
    }
    // The NonMember opened a socket while in the team, and has left it since.
    let non_member = f.users[&NonMember].clone();
    env.siblings.members(PROJECT, &[&non_member]);
    let id = format!("c{}=", column(NonMember));
    let context = json!({"principalId": non_member, "sub": non_member, "cognito:groups": "[USER]"});
    assert_eq!(connect.handle(&event("$connect", &id, None, context)).await.status_code, 200);
    env.siblings.remove_member(PROJECT, &non_member);
    for row in ws_rows().iter().skip(1) {
        for caller in CALLERS {
            let id = format!("c{}=", column(caller));
            let expected = row.expected[column(caller)];
            let got = if row.route == "$disconnect" {
                // Last, so the sockets above stay open for the frames.
                continue;
            } else {
                let before = env.loopback.received(&id).len();
                message.handle(&event(row.route, &id, row.frame.as_ref(), json!({}))).await;
                let frames = env.loopback.received(&id);
                frames.get(before).map(frame_kind).unwrap_or_else(|| "nothing".into())
            };
            if got != expected {
                failures.push(format!("lambda: {} as {caller:?}: {got}, expected {expected}", row.route));
            }
        }
    }
    for caller in CALLERS {
        let id = format!("c{}=", column(caller));
        let status = disconnect.handle(&event("$disconnect", &id, None, json!({}))).await.status_code;
        if status != 200 {
            failures.push(format!("lambda: $disconnect as {caller:?}: {status}"));
        }
        assert_eq!(env.chat().connections.get(&connection_id(&id)).await.unwrap(), None);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

// ---------------------------------------------------------------------------------------------
// Through a running local gateway, with local tokens

#[tokio::test]
async fn the_matrix_through_the_local_gateway() {
    use local_gateway::{Gateway, Options, stand_ins::Directory};

    const SECRET: &[u8] = b"matrix-secret";
    let db = TestDb::sqlite();
    let gateway = Gateway::start(Options {
        config: shared::Config::from_lookup(|k| (k == "MEMBERSHIP_CACHE_SECONDS").then(|| "0".to_owned())).unwrap(),
        database: db.settings.clone(),
        secret: SECRET.to_vec(),
        addr: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
    })
    .await
    .unwrap();
    let base = format!("http://{}", gateway.addr);
    let users = personas();
    let tokens: HashMap<Caller, Option<String>> =
        CALLERS.iter().map(|c| (*c, local_token(&users, *c, SECRET))).collect();
    let http = reqwest::Client::new();
    let send: Send<'_> = Box::new(|request, caller| {
        let token = tokens[&caller].clone();
        let (http, base) = (http.clone(), base.clone());
        Box::pin(async move {
            let method = reqwest::Method::from_bytes(request.method.as_bytes()).unwrap();
            let mut builder = http.request(method, format!("{base}{}", request.uri));
            if let Some(token) = token {
                builder = builder.bearer_auth(token);
            }
            if let Some(body) = request.body {
                builder = builder.json(&body);
            }
            let response = builder.send().await.unwrap();
            let status = response.status().as_u16();
            (status, response.json().await.unwrap_or(Value::Null))
        })
    });
    // The gateway's stand-in: each project's team gets an id of its own, as in PortForge.
    let directory = Directory::open(std::sync::Arc::new(db.sql_db())).await.unwrap();
    let mut team = None;
    for project in projects() {
        let leader = if project == PROJECT { users[&Member].clone() } else { new_user_id() };
        let p = ProjectId::new(project).unwrap();
        let its_team = directory.put_project(p, "matrix").await.unwrap();
        directory.put_member(p, &UserId::parse(&leader).unwrap(), "LEADER").await.unwrap();
        if project == PROJECT {
            team = Some(its_team.get());
        }
    }
    let team = team.expect("project 42's team");
    assert_ne!(team, PROJECT);
    let f = fixtures(users, team, &send).await;
    run_matrix(&send, &f, "local gateway").await;
    ws_matrix_through_local(&gateway, &f, &tokens, &directory).await;
    gateway.stop().await.unwrap();
}

async fn ws_matrix_through_local(
    gateway: &local_gateway::Gateway,
    f: &Fixtures,
    tokens: &HashMap<Caller, Option<String>>,
    directory: &local_gateway::stand_ins::Directory,
) {
    use futures::{SinkExt, StreamExt};
    use tokio_tungstenite::{connect_async, tungstenite::Message};

    let url = |caller: Caller| match &tokens[&caller] {
        Some(t) => format!("ws://{}/ws/chat/{PROJECT}?token={t}", gateway.addr),
        None => format!("ws://{}/ws/chat/{PROJECT}", gateway.addr),
    };
    let mut failures = Vec::new();
    let project = ProjectId::new(PROJECT).unwrap();
    let non_member = UserId::parse(&f.users[&NonMember]).unwrap();
    let mut sockets = Vec::new();
    for caller in CALLERS {
        let refused = match connect_async(url(caller)).await {
            Ok((socket, _)) => {
                sockets.push((caller, socket));
                "200".to_owned()
            }
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => response.status().as_u16().to_string(),
            Err(e) => format!("{e}"),
        };
        let expected = ws_rows()[0].expected[column(caller)];
        if refused != expected {
            failures.push(format!("local: $connect as {caller:?}: {refused}, expected {expected}"));
        }
    }
    // The NonMember opens a socket while in the team, and leaves the team.
    directory.put_member(project, &non_member, "MEMBER").await.unwrap();
    let (socket, _) = connect_async(url(NonMember)).await.expect("a member's socket");
    sockets.push((NonMember, socket));
    directory.remove_member(project, &non_member).await.unwrap();

    for row in ws_rows().iter().filter(|row| row.frame.is_some()) {
        for (caller, socket) in sockets.iter_mut() {
            socket.send(Message::Text(row.frame.as_ref().unwrap().to_string().into())).await.unwrap();
            // Skip broadcasts of others' messages, typing and presence: this socket's own answer
            // is what counts (an answer that never comes is "nothing" after a short wait).
            let expected = row.expected[column(*caller)];
            let wait = std::time::Duration::from_millis(if expected == "nothing" { 300 } else { 5_000 });
            let got = loop {
                let next = tokio::time::timeout(wait, socket.next()).await;
                let frame = match next {
                    Ok(Some(Ok(Message::Text(text)))) => serde_json::from_str::<Value>(&text).unwrap(),
                    Ok(Some(Ok(_))) => continue,
                    Err(_) if expected == "nothing" => break "nothing".to_owned(),
                    other => panic!("{} as {caller:?}: {other:?}", row.route),
                };
                let others = frame["type"] == "message" && frame["user_id"] != f.users[caller].as_str();
                if others || frame["type"] == "typing" || frame["type"] == "presence" {
                    continue;
                }
                break frame_kind(&frame);
            };
            if got != expected {
                failures.push(format!("local: {} as {caller:?}: {got}, expected {expected}", row.route));
            }
        }
    }
    for (_, mut socket) in sockets {
        let _ = socket.close(None).await;
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
