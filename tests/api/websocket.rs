//! The WebSocket handlers fed API Gateway WebSocket events (the fixtures in `events/`), over
//! DynamoDB on the emulator, posting through the real SDK client to a loopback `@connections`.

use chrono::Duration;
use serde_json::json;
use service_tests::{
    LoopbackConnections, TestDb, TestDynamo, TestEnv, connect_event, connection_id, event, fanout, fixture,
    frame_event, new_user_id,
};
use shared::{
    domain::{ProjectId, UserId, chat::Connection, time::now_ms},
    push::THROTTLE_RETRIES,
    store::ChatStores,
    ws::{ConnectHandler, DisconnectHandler, MessageHandler},
};

const ALICE: &str = "3f2504e0-4f89-11d3-9a0c-0305e82c3301";

/// The three WebSocket functions, built as their binaries build them.
struct Ws {
    connect: ConnectHandler,
    disconnect: DisconnectHandler,
    message: MessageHandler,
    stores: ChatStores,
    loopback: LoopbackConnections,
    env: TestEnv,
}

async fn setup() -> Ws {
    let env = TestEnv::new(TestDb::sqlite()).await;
    let config = || env.config();
    Ws {
        connect: shared::lambda::ws_connect(config()).await.expect("ws-connect builds"),
        disconnect: shared::lambda::ws_disconnect(config()).await.expect("ws-disconnect builds"),
        message: shared::lambda::ws_message(config()).await.expect("ws-message builds"),
        stores: env.chat(),
        loopback: env.loopback.clone(),
        env,
    }
}

fn project(id: i64) -> ProjectId {
    ProjectId::new(id).unwrap()
}

impl Ws {
    /// Puts `users` in `project`'s team.
    fn members(&self, project: i64, users: &[&str]) {
        self.env.siblings.members(project, users);
    }

    /// Connects `id` to `project` as `user` (a member), and opens it on the loopback endpoint.
    async fn connect(&self, id: &str, project: &str, user: &str) {
        self.members(project.parse().unwrap(), &[user]);
        let reply = self.connect.handle(&connect_event(id, Some(project), Some(user))).await;
        assert_eq!(reply.status_code, 200);
        self.loopback.open(id);
    }

    /// As `connect`, for a socket that asked for live-chat frames (`?live=true`).
    async fn connect_live(&self, id: &str, project: &str, user: &str) {
        self.members(project.parse().unwrap(), &[user]);
        let mut e = connect_event(id, Some(project), Some(user));
        e.query_string_parameters = serde_json::from_value(json!({"project_id": project, "live": "true"})).unwrap();
        assert_eq!(self.connect.handle(&e).await.status_code, 200);
        self.loopback.open(id);
    }

    /// The frames `id` received, but presence (teammates' sockets opening and closing, which
    /// only the presence tests are about).
    fn received(&self, id: &str) -> Vec<serde_json::Value> {
        self.loopback.received(id).into_iter().filter(|f| f["type"] != "presence").collect()
    }

    async fn frame(&self, id: &str, body: &str) {
        let reply = self.message.handle(&frame_event(id, body)).await;
        assert_eq!(reply.status_code, 200, "message routes always answer 200; errors go as frames");
    }
}

#[tokio::test]
async fn connect_stores_the_connection_and_posts_nothing() {
    let ws = setup().await;
    ws.members(42, &[ALICE]);
    let reply = ws.connect.handle(&event(fixture("ws-connect.json"))).await;
    assert_eq!(reply.status_code, 200);
    let row = ws.stores.connections.get(&connection_id("L0SM9cOFvHcCIhw=")).await.unwrap().expect("row stored");
    assert_eq!(
        (row.project_id.map(|p| p.get()), row.user_id.as_str(), row.display_name.as_str()),
        (Some(42), ALICE, "지민")
    );
    assert!(!row.admin && !row.notifications);
    let ttl = row.expires_at - row.connected_at;
    assert!(ttl > Duration::hours(2) && ttl <= Duration::hours(3), "{ttl}");
    assert_eq!(ws.loopback.total_posts(), 0, "$connect never posts");
}

/// `?notifications=true` without a project: any signed-in user (no team asked about), stored
/// with no project; a notification reaches it, chat actions on it are answered `NO_PROJECT`.
#[tokio::test]
async fn a_notifications_only_socket_needs_no_team() {
    let ws = setup().await;
    let reply = ws.connect.handle(&event(fixture("ws-connect-notifications.json"))).await;
    assert_eq!(reply.status_code, 200);
    let id = connection_id("N0t1fOnlyHcCIhw=");
    let row = ws.stores.connections.get(&id).await.unwrap().expect("row stored");
    assert_eq!((row.project_id, row.notifications, row.admin), (None, true, false));
    assert!(ws.env.siblings.calls().is_empty(), "no membership to check");
    ws.loopback.open(id.as_str());
    ws.frame(id.as_str(), r#"{"message":"hi"}"#).await;
    let refused = ws.received(id.as_str());
    assert_eq!((refused[0]["type"].as_str(), refused[0]["code"].as_str()), (Some("error"), Some("NO_PROJECT")));
    // Without the flag, a connect must name a project.
    let mut neither = fixture("ws-connect-notifications.json");
    neither["queryStringParameters"] = json!({"token": "t"});
    assert_eq!(ws.connect.handle(&event(neither)).await.status_code, 400);
}

#[tokio::test]
async fn connect_refuses_anonymous_non_users_and_bad_projects() {
    let ws = setup().await;
    ws.members(42, &[ALICE]);
    ws.members(43, &["9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d"]);
    for (e, status) in [
        // Not in project 43's team; project 44 has no team (the Team service's soft error).
        (connect_event("c7", Some("43"), Some(ALICE)), 403),
        (connect_event("c8", Some("44"), Some(ALICE)), 403),
        (connect_event("c1", Some("42"), None), 401),
        (connect_event("c2", Some("42"), Some("projectsvc-client")), 403),
        (connect_event("c3", None, Some(ALICE)), 400),
        (connect_event("c4", Some("abc"), Some(ALICE)), 400),
        (connect_event("c5", Some("0"), Some(ALICE)), 400),
        (connect_event("c6", Some("-4"), Some(ALICE)), 400),
    ] {
        let id = e.request_context.connection_id.clone().unwrap();
        assert_eq!(ws.connect.handle(&e).await.status_code, status, "{id}");
        assert_eq!(ws.stores.connections.get(&connection_id(&id)).await.unwrap(), None);
    }
}

#[tokio::test]
async fn a_message_reaches_every_connection_of_its_project_and_no_other() {
    let ws = setup().await;
    let bob = "9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d";
    ws.connect("alice=", "42", ALICE).await;
    ws.connect("bob=", "42", bob).await;
    ws.connect("carol=", "43", bob).await;

    let mut e = fixture("ws-message.json");
    e["requestContext"]["connectionId"] = json!("alice=");
    assert_eq!(ws.message.handle(&event(e.clone())).await.status_code, 200);

    let to_alice = ws.received("alice=");
    let to_bob = ws.received("bob=");
    assert_eq!(to_alice.len(), 1);
    assert_eq!(to_alice, to_bob, "everyone, the sender included, gets the same frame");
    let frame = &to_bob[0];
    assert_eq!(frame["type"], "message");
    assert_eq!(frame["message_id"], "web-7f3a9c");
    assert_eq!(frame["project_id"], 42);
    assert_eq!(frame["user_id"], ALICE);
    assert_eq!(frame["senderName"], "지민");
    assert_eq!(frame["message"], "오늘 회의는 9시에 시작해요 🙌");
    assert_eq!(frame["timestamp"], frame["created_at"]);
    assert!(ws.received("carol=").is_empty());

    // A retried frame with the same id answers the sender with the stored message only.
    assert_eq!(ws.message.handle(&event(e)).await.status_code, 200);
    assert_eq!(ws.received("alice=").len(), 2);
    assert_eq!(ws.received("alice=")[1], *frame);
    assert_eq!(ws.received("bob=").len(), 1);
}

/// The samples `ws-edit-message.json` and `ws-delete-message.json` after `ws-message.json`:
/// every socket of the project, the author's included, gets `message_edited` then
/// `message_deleted`; another project's socket nothing; a second delete tells only the sender.
#[tokio::test]
async fn the_edit_and_delete_samples_reach_every_socket_of_the_project() {
    let ws = setup().await;
    let bob = "9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d";
    ws.connect("alice=", "42", ALICE).await;
    ws.connect("bob=", "42", bob).await;
    ws.connect("carol=", "43", bob).await;
    for sample in ["ws-message.json", "ws-edit-message.json", "ws-delete-message.json"] {
        let mut e = fixture(sample);
        e["requestContext"]["connectionId"] = json!("alice=");
        assert_eq!(ws.message.handle(&event(e)).await.status_code, 200, "{sample}");
    }
    let to_alice = ws.received("alice=");
    assert_eq!(to_alice, ws.received("bob="), "the author's socket and a teammate's alike");
    let kinds: Vec<_> = to_alice.iter().map(|f| f["type"].as_str().unwrap().to_owned()).collect();
    assert_eq!(kinds, ["message", "message_edited", "message_deleted"]);
    let edited = &to_alice[1];
    assert_eq!(
        (edited["message_id"].clone(), edited["message"].clone()),
        (json!("web-7f3a9c"), json!("오늘 회의는 10시에 시작해요 🙌"))
    );
    assert_eq!(
        (edited["timestamp"].clone(), edited["cursor"].clone()),
        (to_alice[0]["timestamp"].clone(), to_alice[0]["cursor"].clone())
    );
    assert!(edited["edited_at"].is_string() && edited["deleted"] == json!(false));
    let deleted = &to_alice[2];
    assert_eq!((deleted["message_id"].clone(), deleted["project_id"].clone()), (json!("web-7f3a9c"), json!(42)));
    assert!(deleted["deleted_at"].is_string());
    assert!(ws.received("carol=").is_empty());
    let mut again = fixture("ws-delete-message.json");
    again["requestContext"]["connectionId"] = json!("alice=");
    ws.message.handle(&event(again)).await;
    assert_eq!(ws.received("alice=").len(), 4);
    assert_eq!(ws.received("alice=")[3], *deleted, "a repeat is told to its sender alone");
    assert_eq!(ws.received("bob=").len(), 3);
}

#[tokio::test]
async fn every_bad_frame_gets_an_error_frame_to_the_sender_only() {
    let ws = setup().await;
    ws.connect("alice=", "42", ALICE).await;
    ws.connect("bob=", "42", "9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d").await;
    let oversized = format!(r#"{{"message":"{}"}}"#, "x".repeat(33 * 1024));
    let too_long = json!({ "message": "가".repeat(2001) }).to_string();
    let cases: Vec<(String, &str)> = vec![
        ("not json".into(), "INVALID_JSON"),
        ("".into(), "INVALID_JSON"),
        ("[1,2]".into(), "INVALID_FRAME"),
        ("\"text\"".into(), "INVALID_FRAME"),
        (oversized, "FRAME_TOO_LARGE"),
        (r#"{"message":""}"#.into(), "VALIDATION_FAILED"),
        (r#"{"message":"   "}"#.into(), "VALIDATION_FAILED"),
        (too_long, "VALIDATION_FAILED"),
        (r#"{"message":5}"#.into(), "VALIDATION_FAILED"),
        (r#"{}"#.into(), "VALIDATION_FAILED"),
        (r#"{"message":"hi","message_id":"has space"}"#.into(), "VALIDATION_FAILED"),
        (r#"{"action":3}"#.into(), "VALIDATION_FAILED"),
        (r#"{"action":"dance"}"#.into(), "UNKNOWN_ACTION"),
        (r#"{"action":"history","after":"garbage"}"#.into(), "VALIDATION_FAILED"),
        (r#"{"action":"history","limit":0}"#.into(), "VALIDATION_FAILED"),
    ];
    for (i, (body, code)) in cases.iter().enumerate() {
        ws.frame("alice=", body).await;
        let got = ws.received("alice=");
        assert_eq!(got.len(), i + 1, "{body:.60}");
        assert_eq!(got[i]["type"], "error", "{body:.60}");
        assert_eq!(got[i]["code"], *code, "{body:.60}: {}", got[i]);
        assert!(got[i]["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    let mut binary = frame_event("alice=", "AAECAw==");
    binary.is_base64_encoded = true;
    ws.message.handle(&binary).await;
    assert_eq!(ws.received("alice=").last().unwrap()["code"], "BINARY_NOT_SUPPORTED");
    assert!(ws.received("bob=").is_empty(), "errors never reach others");
    let history =
        ws.stores.messages.history(project(42), &shared::domain::chat::HistoryQuery::latest(10)).await.unwrap();
    assert!(history.messages.is_empty(), "nothing was stored");
}

#[tokio::test]
async fn ping_history_catch_up_and_unknown_connections() {
    let ws = setup().await;
    ws.connect("alice=", "42", ALICE).await;
    ws.frame("alice=", r#"{"action":"ping"}"#).await;
    assert_eq!(ws.received("alice="), vec![json!({"type": "pong"})]);

    for text in ["one", "two", "three"] {
        ws.frame("alice=", &json!({ "action": "sendMessage", "message": text }).to_string()).await;
    }
    let first_cursor = ws.received("alice=")[1]["cursor"].as_str().unwrap().to_owned();
    ws.frame("alice=", &json!({ "action": "history", "after": first_cursor }).to_string()).await;
    let history = ws.received("alice=").last().unwrap().clone();
    assert_eq!(history["type"], "history");
    let texts: Vec<_> = history["messages"].as_array().unwrap().iter().map(|m| m["message"].clone()).collect();
    assert_eq!(texts, [json!("two"), json!("three")]);
    assert_eq!(history["has_more"], false);
    ws.frame("alice=", r#"{"action":"history","limit":2}"#).await;
    let latest = ws.received("alice=").last().unwrap().clone();
    assert_eq!(latest["messages"].as_array().unwrap().len(), 2);
    assert_eq!(latest["has_more"], true);

    ws.loopback.open("stranger=");
    ws.frame("stranger=", r#"{"message":"hi"}"#).await;
    assert_eq!(ws.received("stranger=")[0]["code"], "NOT_CONNECTED");
}

#[tokio::test]
async fn disconnect_removes_the_row_once() {
    let ws = setup().await;
    ws.members(42, &[ALICE]);
    ws.connect.handle(&event(fixture("ws-connect.json"))).await;
    let reply = ws.disconnect.handle(&event(fixture("ws-disconnect.json"))).await;
    assert_eq!(reply.status_code, 200);
    assert_eq!(ws.stores.connections.get(&connection_id("L0SM9cOFvHcCIhw=")).await.unwrap(), None);
    let again = ws.disconnect.handle(&event(fixture("ws-disconnect.json"))).await;
    assert_eq!(again.status_code, 200);
}

#[tokio::test]
async fn fan_out_to_200_connections_with_20_gone_delivers_180_and_deletes_20_rows() {
    let dynamo = TestDynamo::new().await;
    let loopback = LoopbackConnections::start().await;
    let stores = dynamo.stores();
    let fanout = fanout(&stores, &loopback).await;
    let now = now_ms();
    let mut targets = Vec::new();
    for i in 0..200 {
        let c = Connection {
            connection_id: connection_id(&format!("conn{i:03}=")),
            user_id: UserId::parse(&new_user_id()).unwrap(),
            display_name: "u".into(),
            project_id: Some(project(5)),
            notifications: false,
            admin: false,
            // Past the handshake grace: a 410 means gone.
            connected_at: now - Duration::minutes(1),
            expires_at: now + Duration::hours(2),
            token_expires_at: None,
            member: true,
            live: false,
        };
        stores.connections.put(&c).await.unwrap();
        if i % 10 != 3 {
            loopback.open(c.connection_id.as_str());
        }
        targets.push(c);
    }
    // Throttling is retried with backoff; a connection that stays throttled counts as failed.
    loopback.throttle("conn000=", 2);
    loopback.throttle("conn001=", 50);
    let listed = fanout.project_connections(project(5), now).await.unwrap();
    assert_eq!(listed.len(), 200);
    let report = fanout.broadcast(&listed, &json!({"type": "message", "message": "hello"})).await;
    assert_eq!((report.delivered, report.gone, report.failed), (179, 20, 1));
    assert_eq!(loopback.received("conn000=").len(), 1, "delivered after two 429s");
    // One retry policy: the SDK does not retry LimitExceededException under the fan-out's own.
    assert_eq!(loopback.posts_to("conn000="), 3);
    assert_eq!(loopback.posts_to("conn001="), 1 + THROTTLE_RETRIES as usize);

    // Retries stop at the broadcast's deadline, even with retries left.
    loopback.throttle("conn002=", 50);
    let before = loopback.posts_to("conn002=");
    let only_002: Vec<_> = listed.iter().filter(|c| c.connection_id.as_str() == "conn002=").cloned().collect();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_millis(60);
    let report = fanout.broadcast_until(&only_002, &json!({"type": "pong"}), deadline).await;
    assert_eq!((report.delivered, report.gone, report.failed), (0, 0, 1));
    let tried = loopback.posts_to("conn002=") - before;
    assert!(tried <= 2, "{tried} posts within a 60 ms deadline");
    let left = stores.connections.by_project(project(5), now).await.unwrap();
    assert_eq!(left.len(), 180, "exactly the gone rows were deleted");
    assert!(left.iter().all(|c| !c.connection_id.as_str()[4..7].ends_with('3')));
    assert!(
        stores.connections.get(&connection_id("conn001=")).await.unwrap().is_some(),
        "a failing post keeps its row"
    );
}

#[tokio::test]
async fn the_sender_is_answered_when_its_own_post_failed_whoever_else_got_the_message() {
    let ws = setup().await;
    let bob = "9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d";
    ws.connect("Send01=", "42", ALICE).await;
    ws.connect("Hear01=", "42", bob).await;
    // Every post of the broadcast to the sender fails (the first try and each retry); the
    // answer after it goes through.
    ws.loopback.fail("Send01=", 1 + THROTTLE_RETRIES);
    ws.frame("Send01=", r#"{"action": "sendMessage", "message": "나한테도 와야 해요"}"#).await;
    let heard: Vec<_> = ws.received("Hear01=").into_iter().filter(|f| f["type"] == "message").collect();
    assert_eq!(heard.len(), 1, "the other member got it");
    let own: Vec<_> = ws.received("Send01=").into_iter().filter(|f| f["type"] == "message").collect();
    assert_eq!(own.len(), 1, "the sender got its message once, as the answer: {own:?}");
    assert_eq!(own[0]["message"], "나한테도 와야 해요");

    // When its own post went through, the sender is not answered twice.
    ws.frame("Send01=", r#"{"action": "sendMessage", "message": "한 번만"}"#).await;
    let own = ws.received("Send01=");
    assert_eq!(own.iter().filter(|f| f["message"] == "한 번만").count(), 1);
}

#[tokio::test]
async fn a_410_right_after_connect_never_orphans_the_socket() {
    let ws = setup().await;
    let fanout = fanout(&ws.stores, &ws.loopback).await;
    let alice = UserId::parse(ALICE).unwrap();
    let mut stale = service_tests::open_connection("Stale01=", &alice, project(42), false);
    stale.connected_at = now_ms() - Duration::minutes(3);
    // Just stored by $connect; API Gateway still finishing the handshake (410 to every post).
    let fresh = service_tests::open_connection("Fresh01=", &alice, project(42), false);
    // Stored a moment ago; its handshake finishes while the broadcast retries.
    let opening = service_tests::open_connection("Opening1=", &alice, project(42), false);
    for c in [&stale, &fresh, &opening] {
        ws.stores.connections.put(c).await.unwrap();
    }
    let loopback = ws.loopback.clone();
    let opens = tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_millis(40)).await;
        loopback.open("Opening1=");
    });
    let targets = vec![stale.clone(), fresh.clone(), opening.clone()];
    let report = fanout.broadcast(&targets, &json!({"type": "pong"})).await;
    opens.await.unwrap();
    assert_eq!((report.delivered, report.gone, report.failed), (1, 1, 1), "{report:?}");
    assert!(report.reached(&opening.connection_id));
    assert_eq!(ws.received("Opening1=").len(), 1);
    // Only the old connection's row went; the fresh one is still there for its next frame.
    assert_eq!(ws.stores.connections.get(&stale.connection_id).await.unwrap(), None);
    assert!(ws.stores.connections.get(&fresh.connection_id).await.unwrap().is_some());
}

/// A `$connect` event whose authorizer context carries the token's `exp`, as the authorizer
/// passes every claim on.
fn connect_with_exp(
    id: &str,
    project: &str,
    user: &str,
    exp: i64,
) -> aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest {
    let mut e = fixture("ws-connect.json");
    e["requestContext"]["connectionId"] = json!(id);
    e["queryStringParameters"] = json!({ "project_id": project });
    e["requestContext"]["authorizer"]["principalId"] = json!(user);
    e["requestContext"]["authorizer"]["sub"] = json!(user);
    e["requestContext"]["authorizer"]["exp"] = json!(exp.to_string());
    event(e)
}

#[tokio::test]
async fn a_socket_lives_no_longer_than_its_token() {
    let ws = setup().await;
    let bob = "9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d";
    ws.members(42, &[ALICE, bob]);
    // `exp` is in whole seconds: 2 s ahead leaves at least one for the frames before it.
    let exp = chrono::Utc::now().timestamp() + 2;
    assert_eq!(ws.connect.handle(&connect_with_exp("Short01=", "42", ALICE, exp)).await.status_code, 200);
    ws.loopback.open("Short01=");
    ws.connect("Bob01=", "42", bob).await;
    ws.frame("Short01=", r#"{"action": "ping"}"#).await;
    assert_eq!(ws.received("Short01=").last().unwrap()["type"], "pong");

    let past_expiry = exp * 1_000 + 100 - chrono::Utc::now().timestamp_millis();
    tokio::time::sleep(std::time::Duration::from_millis(past_expiry.max(0) as u64)).await;
    // A broadcast after the expiry skips the socket...
    ws.frame("Bob01=", r#"{"action": "sendMessage", "message": "아직 있어요?"}"#).await;
    assert!(ws.received("Short01=").iter().all(|f| f["type"] != "message"));
    // ...and its next frame is answered TOKEN_EXPIRED, then the socket is closed and its row gone.
    ws.frame("Short01=", r#"{"action": "sendMessage", "message": "만료 후"}"#).await;
    let last = ws.received("Short01=").last().cloned().unwrap();
    assert_eq!((last["type"].as_str(), last["code"].as_str()), (Some("error"), Some("TOKEN_EXPIRED")), "{last}");
    assert!(!ws.loopback.is_open("Short01="), "closed through the management API");
    assert_eq!(ws.stores.connections.get(&connection_id("Short01=")).await.unwrap(), None);
    let history = ws.stores.messages.history(project(42), &shared::domain::chat::HistoryQuery::latest(10)).await;
    assert!(history.unwrap().messages.iter().all(|m| m.message != "만료 후"), "nothing sent after the expiry");
}

#[tokio::test]
async fn a_refreshed_socket_keeps_working_past_the_old_expiry() {
    use service_tests::cognito::id_token;
    let ws = setup().await;
    ws.members(42, &[ALICE]);
    let exp = chrono::Utc::now().timestamp() + 2;
    assert_eq!(ws.connect.handle(&connect_with_exp("Renew01=", "42", ALICE, exp)).await.status_code, 200);
    ws.loopback.open("Renew01=");
    let last = |ws: &Ws| ws.received("Renew01=").last().cloned().unwrap();

    // Refused, and nothing changes: another user's token, an expired one, a forged one, none.
    for (token, why) in [
        (json!(id_token("9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d", 600, false)), "another user's"),
        (json!(id_token(ALICE, -60, false)), "expired"),
        (json!("not.a.token"), "malformed"),
    ] {
        ws.frame("Renew01=", &json!({"action": "refresh", "token": token}).to_string()).await;
        assert_eq!(last(&ws)["code"], "TOKEN_REJECTED", "{why}: {}", last(&ws));
    }
    ws.frame("Renew01=", r#"{"action": "refresh"}"#).await;
    assert_eq!(last(&ws)["code"], "VALIDATION_FAILED");
    let row = ws.stores.connections.get(&connection_id("Renew01=")).await.unwrap().unwrap();
    assert_eq!(row.token_expires_at.map(|t| t.timestamp()), Some(exp), "nothing changed");

    let renewed = id_token(ALICE, 600, false);
    ws.frame("Renew01=", &json!({"action": "refresh", "token": renewed}).to_string()).await;
    let answer = last(&ws);
    assert_eq!(answer["type"], "refreshed", "{answer}");
    let until = shared::domain::time::parse_instant(answer["expires_at"].as_str().unwrap()).unwrap();
    assert!((until - now_ms()).num_seconds() > 500, "{answer}");

    tokio::time::sleep(std::time::Duration::from_millis(2_100)).await;
    ws.frame("Renew01=", r#"{"action": "ping"}"#).await;
    assert_eq!(last(&ws)["type"], "pong", "past the old expiry, the socket still works");
    assert!(ws.loopback.is_open("Renew01="));
}

#[tokio::test]
async fn administrator_rights_on_a_socket_follow_its_token() {
    use service_tests::cognito::id_token;
    let ws = setup().await;
    let admin_user = new_user_id();
    ws.members(42, &[ALICE]);
    let mut e = fixture("ws-connect.json");
    e["requestContext"]["connectionId"] = json!("Admin01=");
    e["queryStringParameters"] = json!({ "project_id": "42" });
    e["requestContext"]["authorizer"] = json!({"principalId": admin_user, "sub": admin_user,
        "cognito:groups": "[ADMIN USER]", "exp": (chrono::Utc::now().timestamp() + 600).to_string()});
    assert_eq!(ws.connect.handle(&event(e)).await.status_code, 200);
    ws.loopback.open("Admin01=");
    ws.frame("Admin01=", r#"{"action": "history"}"#).await;
    assert_eq!(ws.received("Admin01=").last().unwrap()["type"], "history");

    // Removed from the ADMIN group: the renewed token no longer admits them.
    ws.frame("Admin01=", &json!({"action": "refresh", "token": id_token(&admin_user, 600, false)}).to_string()).await;
    assert_eq!(ws.received("Admin01=").last().unwrap()["code"], "FORBIDDEN");
    ws.frame("Admin01=", r#"{"action": "history"}"#).await;
    assert_eq!(ws.received("Admin01=").last().unwrap()["code"], "FORBIDDEN");
}

/// Presence over the connection rows on DynamoDB: a member's first socket and last socket are
/// told to the project (not each tab); an administrator reading as one never is; a socket that
/// API Gateway dropped (410 to a broadcast) stops counting at once and its member goes offline.
#[tokio::test]
async fn presence_is_told_for_a_members_first_and_last_socket_only() {
    let ws = setup().await;
    let bob = "9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d";
    let presence = |id: &str| -> Vec<(String, bool)> {
        ws.loopback
            .received(id)
            .into_iter()
            .filter(|f| f["type"] == "presence")
            .map(|f| (f["user_id"].as_str().unwrap().to_owned(), f["online"].as_bool().unwrap()))
            .collect()
    };
    ws.connect_live("alice1=", "42", ALICE).await;
    ws.connect_live("bob1=", "42", bob).await;
    assert_eq!(presence("alice1="), [(bob.to_owned(), true)]);
    let frame = &ws.loopback.received("alice1=")[0];
    assert_eq!((frame["senderName"].clone(), frame["project_id"].clone()), (json!("지민"), json!(42)));
    ws.connect_live("bob2=", "42", bob).await;
    ws.connect_live("carol=", "43", bob).await;
    // An administrator outside the team, reading as one.
    let mut watcher = connect_event("admin1=", Some("42"), Some("0f8fad5b-d9cb-469f-a165-70867728950e"));
    watcher.request_context.authorizer.fields.insert("cognito:groups".into(), json!("[ADMIN]"));
    watcher.query_string_parameters = serde_json::from_value(json!({"project_id": "42", "live": "true"})).unwrap();
    assert_eq!(ws.connect.handle(&watcher).await.status_code, 200);
    ws.loopback.open("admin1=");
    assert_eq!(presence("alice1="), [(bob.to_owned(), true)], "a second tab and an administrator: no frame");
    assert!(presence("carol=").is_empty(), "another project hears nothing");

    let disconnect = |id: &str| {
        let mut e = fixture("ws-disconnect.json");
        e["requestContext"]["connectionId"] = json!(id);
        event(e)
    };
    ws.disconnect.handle(&disconnect("bob1=")).await;
    assert_eq!(presence("alice1=").len(), 1, "bob is still here in his other tab");
    // Bob's last tab is dropped without $disconnect: the next broadcast's 410 removes it.
    ws.loopback.close("bob2=");
    let row = ws.stores.connections.get(&connection_id("bob2=")).await.unwrap().unwrap();
    assert!(row.member);
    let mut old = row.clone();
    old.connected_at = now_ms() - Duration::minutes(1);
    ws.stores.connections.put(&old).await.unwrap();
    ws.frame("alice1=", r#"{"action": "sendMessage", "message": "다들 있나요?"}"#).await;
    assert_eq!(ws.stores.connections.get(&connection_id("bob2=")).await.unwrap(), None);
    assert_eq!(presence("alice1="), [(bob.to_owned(), true), (bob.to_owned(), false)]);
    assert_eq!(presence("admin1="), [(bob.to_owned(), false)], "administrators' sockets hear it");
    // A reload: bob's new tab is stored while his old one's $disconnect is deciding. Had the
    // project index not listed it yet, the settle (1 s, then listed again) still finds it: the
    // project never hears "offline".
    ws.connect_live("bob5=", "42", bob).await;
    assert_eq!(presence("admin1=").last(), Some(&(bob.to_owned(), true)));
    let heard = presence("admin1=").len();
    let new_tab = service_tests::open_connection("bob6=", &UserId::parse(bob).unwrap(), project(42), false);
    let reopen = async {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        ws.stores.connections.put(&new_tab).await.unwrap();
    };
    let closing = disconnect("bob5=");
    tokio::join!(ws.disconnect.handle(&closing), reopen);
    assert_eq!(presence("admin1=").len(), heard, "a reload is not told as offline");
    ws.disconnect.handle(&disconnect("bob6=")).await;
    assert_eq!(presence("admin1=").last(), Some(&(bob.to_owned(), false)), "his last tab closing is");
    // Alice's only socket closes: the watcher hears; her own row is gone.
    ws.disconnect.handle(&disconnect("alice1=")).await;
    assert_eq!(presence("admin1=").last(), Some(&(ALICE.to_owned(), false)));
    assert!(presence("carol=").is_empty());
}

/// The samples `ws-typing.json` and `ws-mark-read.json`: typing reaches the project's other
/// members' sockets once per 3 s (the typist's own tabs never, the typist never an error);
/// `markRead` answers the asking socket and tells the reader's other sockets.
#[tokio::test]
async fn the_typing_and_mark_read_samples() {
    let ws = setup().await;
    let bob = "9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d";
    // The samples' socket is alice's (the fixtures' connection id).
    ws.connect_live("L0SM9cOFvHcCIhw=", "42", ALICE).await;
    ws.connect_live("alice2=", "42", ALICE).await;
    ws.connect_live("bob=", "42", bob).await;
    // A teammate's socket that did not ask for live-chat frames gets none of them.
    ws.connect("quiet=", "42", bob).await;
    for _ in 0..3 {
        assert_eq!(ws.message.handle(&event(fixture("ws-typing.json"))).await.status_code, 200);
    }
    assert_eq!(
        ws.received("bob="),
        [json!({"type": "typing", "user_id": ALICE, "senderName": "지민", "project_id": 42})],
        "once, however many frames in 3 s"
    );
    assert!(ws.received("L0SM9cOFvHcCIhw=").is_empty() && ws.received("alice2=").is_empty());
    assert!(ws.loopback.received("quiet=").is_empty());

    // Bob sends two messages; alice marks the first read (the sample's cursor is replaced by
    // the real one: a cursor carries the stamp the server chose).
    for text in ["첫 번째", "두 번째"] {
        ws.frame("bob=", &json!({"action": "sendMessage", "message": text}).to_string()).await;
    }
    let sent: Vec<_> = ws.received("bob=").into_iter().filter(|f| f["type"] == "message").collect();
    let mut mark = fixture("ws-mark-read.json");
    let body: serde_json::Value = serde_json::from_str(mark["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["action"], "markRead");
    mark["body"] = json!(json!({"action": "markRead", "up_to": sent[0]["cursor"]}).to_string());
    ws.message.handle(&event(mark.clone())).await;
    let answer = ws.received("L0SM9cOFvHcCIhw=").last().cloned().unwrap();
    assert_eq!(
        answer,
        json!({"type": "read", "project_id": 42, "up_to": sent[0]["cursor"], "last_read_at": answer["last_read_at"],
               "unread_count": 1, "unread_more": false})
    );
    assert_eq!(ws.received("alice2=").last(), Some(&answer), "the other tab clears its badge");
    assert!(ws.received("bob=").iter().all(|f| f["type"] != "read"), "nobody else hears of it");
    // Again: answered with the marker as it stands, nobody else told.
    ws.message.handle(&event(mark)).await;
    assert_eq!(ws.received("L0SM9cOFvHcCIhw=").last(), Some(&answer));
    assert_eq!(ws.received("alice2=").iter().filter(|f| f["type"] == "read").count(), 1);
    // A cursor that is no message of this chat, and none at all.
    for (body, field) in
        [(json!({"action": "markRead", "up_to": "bS0w"}), "up_to"), (json!({"action": "markRead"}), "up_to")]
    {
        ws.frame("alice2=", &body.to_string()).await;
        let error = ws.received("alice2=").last().cloned().unwrap();
        assert_eq!(error["code"], "VALIDATION_FAILED");
        assert!(error["message"].as_str().unwrap().starts_with(field), "{error}");
    }
}
