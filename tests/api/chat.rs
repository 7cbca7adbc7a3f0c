//! The chat function's routes (and the live notification push) through the Lambda router,
//! over DynamoDB on the emulator, fanning out to a loopback `@connections`.

use chrono::Duration;
use serde_json::{Value, json};
use service_tests::{Function, TestApp, TestDb, TestEnv, Who, admin, connection_id, new_user_id, notify_service, user};
use shared::domain::{
    MessageId, ProjectId, UserId,
    chat::{ChatMessage, Connection},
    time::now_ms,
};

async fn chat() -> TestApp {
    TestApp::sqlite(Function::Chat).await
}

fn connection(id: &str, user: &str, project: i64, notifications: bool) -> Connection {
    let now = now_ms();
    Connection {
        connection_id: connection_id(id),
        user_id: UserId::parse(user).unwrap(),
        display_name: "s".into(),
        project_id: Some(ProjectId::new(project).unwrap()),
        notifications,
        admin: false,
        connected_at: now,
        expires_at: now + Duration::hours(2),
        token_expires_at: None,
        member: true,
        live: false,
    }
}

fn texts(data: &Value) -> Vec<String> {
    data.as_array().unwrap().iter().map(|m| m["message"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn send_then_read_history() {
    let app = chat().await;
    let (me, teammate) = (user(), user());
    app.siblings.members(42, &[me.user_id(), teammate.user_id()]);
    let sent = app.post("/chat/42/messages", &me, json!({"message": "  안녕하세요 👋  "})).await;
    let message = sent.assert_ok(201, "MESSAGE_SENT").clone();
    assert_eq!(message["message"], "안녕하세요 👋");
    assert_eq!(message["project_id"], 42);
    assert_eq!(message["user_id"], me.user_id());
    assert_eq!(message["sender_name"], format!("user-{}", &me.user_id()[..8]));
    assert_eq!(message["is_in_meeting"], false);
    assert_eq!(message["timestamp"], message["created_at"]);
    assert!(message["timestamp"].as_str().unwrap().ends_with('Z'));
    assert_eq!(message["message_id"].as_str().unwrap().len(), 36);

    let history = app.get("/chat/42/messages", &teammate).await;
    let mut listed = history.assert_ok(200, "MESSAGES_LISTED").clone();
    // The same message; its cursor, at the same position, also carries the read that listed it.
    let listed_cursor = listed[0]["cursor"].take();
    let mut sent_without_cursor = message.clone();
    let sent_cursor = sent_without_cursor["cursor"].take();
    assert_eq!(listed, json!([sent_without_cursor]));
    assert_eq!(position(listed_cursor.as_str().unwrap()), position(sent_cursor.as_str().unwrap()));
    assert_eq!(history.body["meta"]["has_more"], false);
    assert!(history.body["meta"]["before_cursor"].is_null());
    assert_eq!(history.body["meta"]["after_cursor"], listed_cursor);
}

#[tokio::test]
async fn a_retry_with_the_same_message_id_returns_the_stored_message() {
    let app = chat().await;
    let (me, other) = (user(), user());
    app.siblings.members(7, &[me.user_id(), other.user_id()]);
    let first = app.post("/chat/7/messages", &me, json!({"message": "once", "message_id": "c-1"})).await;
    let first = first.assert_ok(201, "MESSAGE_SENT").clone();
    let retry = app.post("/chat/7/messages", &me, json!({"message": "once", "message_id": "c-1"})).await;
    assert_eq!(retry.assert_ok(200, "MESSAGE_ALREADY_STORED"), &first);
    let history = app.get("/chat/7/messages", &me).await;
    assert_eq!(history.assert_ok(200, "MESSAGES_LISTED").as_array().unwrap().len(), 1);
    // The retry's room touch was taken back: the room shows the stored message's time.
    let rooms = app.get("/chat/rooms", &me).await;
    assert_eq!(
        rooms.assert_ok(200, "ROOMS_LISTED"),
        &json!([{"project_id": 7, "updated_at": first["timestamp"], "unread_count": 0, "unread_more": false,
                 "last_read_at": null, "read_up_to": null}])
    );
    // Someone else reusing the id is refused, not merged.
    let taken = app.post("/chat/7/messages", &other, json!({"message": "mine", "message_id": "c-1"})).await;
    taken.assert_error(409, "CONFLICT");
}

#[tokio::test]
async fn history_pages_older_and_catches_up_newer() {
    let app = chat().await;
    let me = user();
    app.siblings.members(9, &[me.user_id()]);
    for i in 0..25 {
        app.post("/chat/9/messages", &me, json!({"message": format!("m{i:02}")})).await.assert_ok(201, "MESSAGE_SENT");
    }
    let newest = app.get("/chat/9/messages?limit=10", &me).await;
    let data = newest.assert_ok(200, "MESSAGES_LISTED");
    assert_eq!(texts(data), (15..25).map(|i| format!("m{i:02}")).collect::<Vec<_>>(), "newest page, oldest first");
    assert_eq!(newest.body["meta"]["has_more"], true);
    let before = newest.body["meta"]["before_cursor"].as_str().unwrap().to_owned();
    let after = newest.body["meta"]["after_cursor"].as_str().unwrap().to_owned();

    let older = app.get(&format!("/chat/9/messages?limit=10&cursor={before}"), &me).await;
    assert_eq!(texts(older.assert_ok(200, "MESSAGES_LISTED")), (5..15).map(|i| format!("m{i:02}")).collect::<Vec<_>>());
    let oldest_cursor = older.body["meta"]["before_cursor"].as_str().unwrap().to_owned();
    let oldest = app.get(&format!("/chat/9/messages?limit=10&cursor={oldest_cursor}"), &me).await;
    assert_eq!(texts(oldest.assert_ok(200, "MESSAGES_LISTED")).len(), 5);
    assert_eq!(oldest.body["meta"]["has_more"], false);

    // A catch-up also returns the messages of the overlap window before the cursor (all 24
    // older ones were sent within 10 s of the read that handed it out); the client drops those
    // it holds.
    let nothing_new = app.get(&format!("/chat/9/messages?after={after}&limit=100"), &me).await;
    let overlap = texts(nothing_new.assert_ok(200, "MESSAGES_LISTED"));
    assert_eq!(overlap, (0..24).map(|i| format!("m{i:02}")).collect::<Vec<_>>());
    assert_eq!(nothing_new.body["meta"]["has_more"], false);
    let kept = nothing_new.body["meta"]["after_cursor"].as_str().unwrap();
    assert_eq!(position(kept), position(&after), "a catch-up with nothing newer keeps the position");
    for text in ["new1", "new2"] {
        app.post("/chat/9/messages", &me, json!({"message": text})).await;
    }
    let caught_up = app.get(&format!("/chat/9/messages?after={after}&limit=100"), &me).await;
    let caught_up = texts(caught_up.assert_ok(200, "MESSAGES_LISTED"));
    assert_eq!(caught_up[..24], overlap[..]);
    assert_eq!(caught_up[24..], ["new1", "new2"]);
    // The limit bounds the answer, overlap included; paging on with `after_cursor` reads on
    // right after each page, so every message comes once.
    let mut paged = Vec::new();
    let mut next = after.clone();
    loop {
        let page = app.get(&format!("/chat/9/messages?after={next}&limit=5"), &me).await;
        let texts = texts(page.assert_ok(200, "MESSAGES_LISTED"));
        assert!(texts.len() <= 5, "{texts:?}");
        paged.extend(texts);
        next = page.body["meta"]["after_cursor"].as_str().unwrap().to_owned();
        if page.body["meta"]["has_more"] == false {
            break;
        }
        assert!(paged.len() <= 26, "paging on must end: {paged:?}");
    }
    // The window before the cursor, the cursor's own message (held, re-sent once the pages
    // read on past the cut), then the new ones: each once, in order.
    let mut expected = overlap.clone();
    expected.push("m24".into());
    expected.extend(["new1".to_owned(), "new2".to_owned()]);
    assert_eq!(paged, expected, "every message once, in order");
}

/// A cursor's position, whatever the service knew when it handed it out.
fn position(cursor: &str) -> String {
    shared::domain::chat::ChatCursor::decode(cursor).unwrap().key().to_owned()
}

/// Paging forward through history that settled long ago repeats nothing, whatever the limit;
/// a catch-up after a message of a page read once its window had passed returns only newer
/// messages; bounds past the sort key's last millisecond select what they say.
#[tokio::test]
async fn paging_forward_through_settled_history_repeats_nothing() {
    let app = chat().await;
    let me = user();
    app.siblings.members(31, &[me.user_id()]);
    let chat = app.env.chat();
    let start = now_ms() - Duration::hours(1);
    for i in 0..500 {
        let m = ChatMessage {
            message_id: MessageId::parse(&format!("h{i:03}")).unwrap(),
            project_id: ProjectId::new(31).unwrap(),
            user_id: UserId::parse(me.user_id()).unwrap(),
            sender_name: "me".into(),
            message: format!("h{i:03}"),
            // Sixteen a second, as a busy project: each page's window would hold many.
            timestamp: start + Duration::milliseconds(i * 60),
            is_in_meeting: false,
            edited_at: None,
            removed: None,
        };
        chat.messages.save(&m, false).await.unwrap();
    }
    let oldest_page = app.get("/chat/31/messages?from=1000-01-01&to=2026-01-01T00:00:00Z", &me).await;
    assert!(oldest_page.assert_ok(200, "MESSAGES_LISTED").as_array().unwrap().is_empty());
    // The oldest message, then onwards from the cursor its page handed out.
    let oldest =
        app.get(&format!("/chat/31/messages?to={}&limit=1", shared::domain::time::format_iso(&start)), &me).await;
    let mut seen = texts(oldest.assert_ok(200, "MESSAGES_LISTED"));
    let mut next = oldest.body["meta"]["after_cursor"].as_str().unwrap().to_owned();
    for _ in 0..20 {
        let page = app.get(&format!("/chat/31/messages?after={next}&limit=100"), &me).await;
        let texts = texts(page.assert_ok(200, "MESSAGES_LISTED"));
        assert!(texts.len() <= 100);
        seen.extend(texts);
        next = page.body["meta"]["after_cursor"].as_str().unwrap().to_owned();
        if page.body["meta"]["has_more"] == false {
            break;
        }
    }
    assert_eq!(seen, (0..500).map(|i| format!("h{i:03}")).collect::<Vec<_>>(), "500 messages, each once");
    // A message's cursor from a page read an hour after it: exactly the newer ones.
    let page = app.get("/chat/31/messages?limit=10", &me).await;
    let data = page.assert_ok(200, "MESSAGES_LISTED").as_array().unwrap().clone();
    let cursor = data[4]["cursor"].as_str().unwrap();
    let newer = app.get(&format!("/chat/31/messages?after={cursor}&limit=10"), &me).await;
    assert_eq!(texts(newer.assert_ok(200, "MESSAGES_LISTED")), ["h495", "h496", "h497", "h498", "h499"]);
    // Far-future bounds mean what they say, the web app's route included.
    let future = app.get("/chat/31/messages?from=2300-01-01", &me).await;
    assert!(future.assert_ok(200, "MESSAGES_LISTED").as_array().unwrap().is_empty());
    let future = app.get("/chat/31/messages?from=2287-01-01T00:00:00Z", &me).await;
    assert!(future.assert_ok(200, "MESSAGES_LISTED").as_array().unwrap().is_empty());
    let until_far = app.get("/chat/31/messages?to=9999-12-31&limit=3", &me).await;
    assert_eq!(texts(until_far.assert_ok(200, "MESSAGES_LISTED")), ["h497", "h498", "h499"]);
    let app_future = app.get("/chat/messages/31/31?start_date=2300-01-01", &me).await;
    assert_eq!(app_future.status, 200);
    assert_eq!(app_future.body["messages"], json!([]));
    for outside in ["from=0999-12-31", "to=10000-01-01", "from=0500-01-01T00:00:00Z"] {
        let refused = app.get(&format!("/chat/31/messages?{outside}"), &me).await;
        refused.assert_error(400, "INVALID_QUERY");
    }
    let refused = app.get("/chat/messages/31/31?start_date=0999-12-31", &me).await;
    assert_eq!(refused.status, 400);
}

#[tokio::test]
async fn bad_chat_requests_get_exact_errors() {
    let app = chat().await;
    let me = user();
    app.siblings.members(1, &[me.user_id()]);
    app.get("/chat/abc/messages", &me).await.assert_error(400, "INVALID_PATH_PARAMETER");
    app.post("/chat/0/messages", &me, json!({"message": "x"})).await.assert_error(400, "INVALID_PATH_PARAMETER");
    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("cursor=zzz", "cursor"),
        ("after=%%", "after"),
        ("from=yesterday", "from"),
        ("from=2026-11-02&to=2026-11-01", "to"),
    ] {
        let reply = app.get(&format!("/chat/1/messages?{query}"), &me).await;
        reply.assert_error(400, "INVALID_QUERY");
        assert_eq!(reply.fields(), [field], "{query}");
    }
    let both = app.get("/chat/1/messages?cursor=bS0w&after=bS0w", &me).await;
    both.assert_error(400, "INVALID_QUERY");
    for (body, field) in [
        (json!({"message": ""}), "message"),
        (json!({"message": "x".repeat(2001)}), "message"),
        (json!({"message": 1}), "message"),
        (json!({}), "message"),
        (json!({"message": "x", "message_id": "no spaces"}), "message_id"),
        (json!({"message": "x", "user_id": "spoof"}), "user_id"),
    ] {
        let reply = app.post("/chat/1/messages", &me, body.clone()).await;
        reply.assert_error(422, "VALIDATION_FAILED");
        assert_eq!(reply.fields(), [field], "{body}");
    }
    app.send("POST", "/chat/1/messages", &me, Some("{")).await.assert_error(400, "MALFORMED_JSON");
    app.get("/chat/1/messages", &Who::Anonymous).await.assert_error(401, "UNAUTHORIZED");
    app.post("/chat/1/messages", &Who::Anonymous, json!({"message": "x"})).await.assert_error(401, "UNAUTHORIZED");
    app.get("/chat/rooms", &notify_service()).await.assert_error(403, "FORBIDDEN");
}

#[tokio::test]
async fn rooms_list_the_callers_projects_by_recent_activity() {
    let app = chat().await;
    let me = user();
    app.siblings.members(3, &[me.user_id()]);
    app.siblings.members(8, &[me.user_id()]);
    for project in [3, 8, 3] {
        app.post(&format!("/chat/{project}/messages"), &me, json!({"message": "hi"})).await;
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let rooms = app.get("/chat/rooms", &me).await;
    let projects: Vec<_> =
        rooms.assert_ok(200, "ROOMS_LISTED").as_array().unwrap().iter().map(|r| r["project_id"].clone()).collect();
    assert_eq!(projects, [json!(3), json!(8)]);
    assert_eq!(app.get("/chat/rooms", &user()).await.assert_ok(200, "ROOMS_LISTED"), &json!([]));
}

#[tokio::test]
async fn a_message_sent_over_http_reaches_the_projects_sockets() {
    let app = chat().await;
    let loopback = &app.loopback;
    let sender = user();
    app.siblings.members(42, &[sender.user_id()]);
    for (id, project) in [("in=", 42), ("out=", 43)] {
        let listener = new_user_id();
        app.siblings.members(project, &[&listener]);
        app.chat().connections.put(&connection(id, &listener, project, false)).await.unwrap();
        loopback.open(id);
    }
    let sent = app.post("/chat/42/messages", &sender, json!({"message": "over http"})).await;
    assert_eq!(sent.body["meta"], json!({"delivered": 1, "gone": 0, "failed": 0}));
    let sent = sent.assert_ok(201, "MESSAGE_SENT").clone();
    let frames = loopback.received("in=");
    assert_eq!(frames.len(), 1);
    assert_eq!(
        (frames[0]["type"].clone(), frames[0]["message_id"].clone()),
        (json!("message"), sent["message_id"].clone())
    );
    assert!(loopback.received("out=").is_empty());
}

#[tokio::test]
async fn the_web_apps_routes_keep_their_shapes() {
    let app = chat().await;
    let claims = [("sub", service_tests::new_user_id()), ("nickname", "지민".to_owned())];
    let me = Who::Claims(claims.into_iter().map(|(k, v)| (k.to_owned(), v)).collect());
    app.siblings.project_in_team(42, 3, "웹 앱", me.user_id(), &[]);
    // The name shown comes from the token: a body claiming another name changes nothing.
    let body = json!({"team_id": 3, "project_id": "42", "user": "팀장", "message": "회의 시작", "is_in_meeting": true});
    let sent = app.post("/chat/message", &me, body).await;
    assert_eq!(sent.status, 200);
    let keys: Vec<_> = sent.body.as_object().unwrap().keys().cloned().collect();
    assert_eq!(keys, ["is_in_meeting", "msg", "time", "timestamp", "user"]);
    assert_eq!(
        (sent.body["user"].clone(), sent.body["msg"].clone(), sent.body["is_in_meeting"].clone()),
        (json!("지민"), json!("회의 시작"), json!(true))
    );
    let time = sent.body["time"].as_str().unwrap();
    assert!(time.len() == 5 && time.as_bytes()[2] == b':', "{time}");
    assert!(sent.body["timestamp"].as_i64().unwrap() > 1_700_000_000_000);
    app.post("/chat/message", &me, json!({"team_id": "3", "project_id": 42, "user": "지민", "message": "잡담"})).await;

    let all = app.get("/chat/messages/3/42", &me).await;
    assert_eq!(all.status, 200);
    assert_eq!(all.body["count"], 2);
    let first = &all.body["messages"][0];
    let keys: Vec<_> = first.as_object().unwrap().keys().cloned().collect();
    assert_eq!(keys, ["isInMeeting", "msg", "time", "timestamp", "user"]);
    assert_eq!(first["msg"], "회의 시작", "oldest first");
    assert_eq!(first["timestamp"], sent.body["timestamp"]);
    let meetings = app.get("/chat/messages/3/42?meeting_only=true", &me).await;
    assert_eq!(meetings.body["count"], 1);
    let long_ago = app.get("/chat/messages/3/42?start_date=2020-01-01&end_date=2020-01-31", &me).await;
    assert_eq!(long_ago.body, json!({"count": 0, "messages": []}));

    app.get("/chat/messages/x/42", &me).await.assert_error(400, "INVALID_PATH_PARAMETER");
    app.get("/chat/messages/3/42?start_date=2026-13-01", &me).await.assert_error(400, "INVALID_QUERY");
    let bad =
        app.post("/chat/message", &me, json!({"team_id": -1, "project_id": "x", "user": "a", "message": "b"})).await;
    bad.assert_error(422, "VALIDATION_FAILED");
    assert_eq!(bad.fields(), ["team_id", "project_id"]);
    app.post("/chat/message", &me, json!({"team_id": 3, "project_id": 42, "user": "a", "message": ""}))
        .await
        .assert_error(422, "VALIDATION_FAILED");
}

#[tokio::test]
async fn newest_messages_are_included_in_the_web_apps_history() {
    let app = chat().await;
    let me = user();
    app.siblings.project_in_team(77, 1, "긴 대화", me.user_id(), &[]);
    let stores = app.chat();
    // More than one page of the store, fewer than the cap: every message comes back in order.
    let start = now_ms() - Duration::minutes(10);
    for i in 0..150 {
        let m = ChatMessage {
            message_id: MessageId::parse(&format!("m{i:03}")).unwrap(),
            project_id: ProjectId::new(77).unwrap(),
            user_id: UserId::parse(me.user_id()).unwrap(),
            sender_name: "지민".into(),
            message: format!("{i}"),
            timestamp: start + Duration::milliseconds(i),
            is_in_meeting: false,
            edited_at: None,
            removed: None,
        };
        stores.messages.save(&m, false).await.unwrap();
    }
    let all = app.get("/chat/messages/1/77", &me).await;
    assert_eq!(all.body["count"], 150);
    assert_eq!(all.body["messages"][0]["msg"], "0");
    assert_eq!(all.body["messages"][149]["msg"], "149");
}

#[tokio::test]
async fn chat_storage_down_is_503_never_a_fake_success() {
    let env = TestEnv::new(TestDb::sqlite()).await.set("DDB_ENDPOINT_URL", "http://127.0.0.1:9");
    let app = TestApp::over(Function::Chat, env).await;
    let me = user();
    app.siblings.project_in_team(1, 1, "x", me.user_id(), &[]);
    app.post("/chat/1/messages", &me, json!({"message": "x"})).await.assert_error(503, "SERVICE_UNAVAILABLE");
    app.get("/chat/1/messages", &me).await.assert_error(503, "SERVICE_UNAVAILABLE");
    let compat =
        app.post("/chat/message", &me, json!({"team_id": 1, "project_id": 1, "user": "a", "message": "b"})).await;
    compat.assert_error(503, "SERVICE_UNAVAILABLE");
    app.get("/chat/health", &Who::Anonymous).await.assert_error(503, "SERVICE_UNAVAILABLE");
}

#[tokio::test]
async fn a_new_notification_is_pushed_to_the_recipients_sockets() {
    let app = TestApp::mariadb(Function::Notifications).await;
    let loopback = &app.loopback;
    let (alice, bob) = (user(), user());
    // Alice has two sockets: the web app's chat socket, which did not ask for notifications,
    // and one that did.
    app.chat().connections.put(&connection("alice-chat=", alice.user_id(), 1, false)).await.unwrap();
    app.chat().connections.put(&connection("alice-tab=", alice.user_id(), 1, true)).await.unwrap();
    loopback.open("alice-chat=");
    loopback.open("alice-tab=");

    let created = app
        .post(
            "/notifications",
            &admin(),
            json!({"user_id": alice.user_id(), "message": "팀에 초대되었습니다", "link": "/teams/3"}),
        )
        .await;
    let created = created.assert_ok(201, "NOTIFICATION_CREATED").clone();
    let pushed = loopback.received("alice-tab=");
    assert_eq!(pushed.len(), 1);
    assert!(loopback.received("alice-chat=").is_empty(), "a chat socket draws every frame as a message");
    let mut expected = created.clone();
    expected["type"] = json!("notification");
    assert_eq!(pushed[0], expected);

    // No socket: still created, nothing posted.
    let quiet = app.post("/notifications", &notify_service(), json!({"user_id": bob.user_id(), "message": "hi"})).await;
    quiet.assert_ok(201, "NOTIFICATION_CREATED");
    assert_eq!(loopback.total_posts(), 1);
}

/// The web app's retry after a lost reply, with an idempotency key, stores one message; the key
/// works as the `Idempotency-Key` header or the body's `message_id`, on both send routes.
#[tokio::test]
async fn an_idempotency_key_makes_the_web_apps_retry_store_one_message() {
    let app = chat().await;
    let (me, other) = (user(), user());
    app.siblings.project_in_team(42, 3, "웹 앱", me.user_id(), &[other.user_id()]);
    let with_key = |key: &str, body: Value| {
        let mut event = service_tests::gateway_event("POST", "/chat/message", &me, Some(&body.to_string()));
        event["headers"]["idempotency-key"] = json!(key);
        event.to_string()
    };
    let body = json!({"team_id": 3, "project_id": 42, "user": "x", "message": "한 번만"});
    let first = app.send_event(&with_key("retry-1", body.clone())).await;
    assert_eq!(first.status, 200);
    let retry = app.send_event(&with_key("retry-1", body.clone())).await;
    assert_eq!(retry.body, first.body, "the retry answers the message stored the first time");
    let mut in_body = body.clone();
    in_body["message_id"] = json!("retry-1");
    assert_eq!(app.post("/chat/message", &me, in_body).await.body, first.body);
    let history = app.get("/chat/42/messages", &me).await;
    assert_eq!(texts(history.assert_ok(200, "MESSAGES_LISTED")), ["한 번만"]);
    // The native route takes the header too.
    let mut event = service_tests::gateway_event("POST", "/chat/42/messages", &me, Some(r#"{"message": "한 번만"}"#));
    event["headers"]["idempotency-key"] = json!("retry-1");
    app.send_event(&event.to_string()).await.assert_ok(200, "MESSAGE_ALREADY_STORED");

    // Header and body disagreeing, or a key that is not an id, is refused and stores nothing.
    let mut both = body.clone();
    both["message_id"] = json!("other-key");
    let refused = app.send_event(&with_key("retry-2", both)).await;
    refused.assert_error(422, "VALIDATION_FAILED");
    assert_eq!(refused.fields(), ["Idempotency-Key"]);
    app.send_event(&with_key("no spaces", body.clone())).await.assert_error(422, "VALIDATION_FAILED");
    // Another member reusing the key is refused, not merged.
    let mut theirs = service_tests::gateway_event("POST", "/chat/message", &other, Some(&body.to_string()));
    theirs["headers"]["idempotency-key"] = json!("retry-1");
    app.send_event(&theirs.to_string()).await.assert_error(409, "CONFLICT");
    let history = app.get("/chat/42/messages", &me).await;
    assert_eq!(history.assert_ok(200, "MESSAGES_LISTED").as_array().unwrap().len(), 1);
}

/// Marking read over HTTP: membership before the body, exact errors, and marks racing sends:
/// the marker ends at the furthest message marked and the unread count is exactly the others'
/// messages after it.
#[tokio::test]
async fn marks_racing_sends_leave_an_exact_unread_count() {
    let app = chat().await;
    let (alice, bob, outsider) = (user(), user(), user());
    app.siblings.members(61, &[alice.user_id(), bob.user_id()]);
    app.siblings.members(62, &[bob.user_id()]);
    app.post("/chat/61/read", &outsider, json!({"up_to": 5})).await.assert_error(403, "FORBIDDEN");
    let elsewhere = app.post("/chat/62/messages", &bob, json!({"message": "다른 방"})).await;
    let elsewhere = elsewhere.assert_ok(201, "MESSAGE_SENT")["cursor"].clone();
    for body in [
        json!({}),
        json!({"up_to": "zzz"}),
        json!({"up_to": 5}),
        json!({"up_to": elsewhere}),
        json!({"up_to": elsewhere, "x": 1}),
    ] {
        let reply = app.post("/chat/61/read", &bob, body.clone()).await;
        reply.assert_error(422, "VALIDATION_FAILED");
        assert_eq!(reply.fields().len(), 1, "{body}");
    }
    app.get("/chat/61/presence", &outsider).await.assert_error(403, "FORBIDDEN");

    let sends = async {
        for round in 0..5 {
            let batch =
                (0..8).map(|i| app.post("/chat/61/messages", &alice, json!({"message": format!("{round}-{i}")})));
            for sent in futures::future::join_all(batch).await {
                sent.assert_ok(201, "MESSAGE_SENT");
            }
        }
    };
    let marks = async {
        let mut marked = Vec::new();
        for i in 0..12 {
            let seen = app.get("/chat/61/messages?limit=100", &bob).await.assert_ok(200, "MESSAGES_LISTED").clone();
            let seen = seen.as_array().unwrap();
            if let Some(m) = seen.get(seen.len().saturating_sub(1 + i % 3)) {
                let cursor = m["cursor"].as_str().unwrap().to_owned();
                let reply = app.post("/chat/61/read", &bob, json!({"up_to": cursor})).await;
                assert_eq!(reply.status, 200, "{}", reply.body);
                marked.push(position(&cursor));
            }
        }
        marked
    };
    let ((), marked) = tokio::join!(sends, marks);
    let furthest = marked.iter().max().cloned().expect("bob marked something");
    let rooms = app.get("/chat/rooms", &bob).await.assert_ok(200, "ROOMS_LISTED").clone();
    let room = rooms.as_array().unwrap().iter().find(|r| r["project_id"] == 61).expect("marking made the room").clone();
    assert_eq!(position(room["read_up_to"].as_str().unwrap()), furthest, "the furthest mark stands");
    let history = app.get("/chat/61/messages?limit=100", &bob).await.assert_ok(200, "MESSAGES_LISTED").clone();
    let after = history.as_array().unwrap().iter().filter(|m| position(m["cursor"].as_str().unwrap()) > furthest);
    assert_eq!(room["unread_count"], after.count(), "exactly the messages after the marker");
    let mine = app.get("/chat/rooms", &alice).await.assert_ok(200, "ROOMS_LISTED").clone();
    assert_eq!(mine[0]["unread_count"], 0, "40 messages of her own: none unread");
}

/// `GET /chat/rooms` for a member of 20 projects: each room's count exact; 1,000 unread is
/// exact, 1,001 is shown as 1,000 with `unread_more`.
#[tokio::test]
async fn rooms_count_unread_exactly_up_to_a_thousand() {
    let app = chat().await;
    let (alice, bob) = (user(), user());
    for project in 100..120 {
        app.siblings.members(project, &[alice.user_id(), bob.user_id()]);
        // Before bob's first mark, what came before his own last message counts as read.
        app.post(&format!("/chat/{project}/messages"), &alice, json!({"message": "환영해요"})).await;
        app.post(&format!("/chat/{project}/messages"), &bob, json!({"message": "들어왔어요"})).await;
        for i in 0..(project % 4) {
            app.post(&format!("/chat/{project}/messages"), &alice, json!({"message": format!("{i}")})).await;
        }
    }
    let rooms = app.get("/chat/rooms", &bob).await.assert_ok(200, "ROOMS_LISTED").clone();
    let counts: std::collections::BTreeMap<i64, i64> = rooms
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["project_id"].as_i64().unwrap(), r["unread_count"].as_i64().unwrap()))
        .collect();
    assert_eq!(counts, (100..120).map(|p| (p, p % 4)).collect(), "every room, each exact");

    // Past the documented bound: written to the store directly (a thousand sends would only be slower).
    let author = UserId::parse(alice.user_id()).unwrap();
    // After bob's own message: unread to him.
    let start = now_ms() + Duration::seconds(1);
    for i in 0..1_001 {
        let message = ChatMessage {
            message_id: MessageId::parse(&format!("bulk-{i:04}")).unwrap(),
            project_id: ProjectId::new(100).unwrap(),
            user_id: author.clone(),
            sender_name: "alice".into(),
            message: "x".into(),
            timestamp: start + Duration::milliseconds(i),
            is_in_meeting: false,
            edited_at: None,
            removed: None,
        };
        app.chat().messages.save(&message, false).await.unwrap();
        if i == 999 {
            // With the room's earlier messages: the 1,000th unread.
            let room = app.get("/chat/rooms", &bob).await.assert_ok(200, "ROOMS_LISTED").clone();
            let room = room.as_array().unwrap().iter().find(|r| r["project_id"] == 100).unwrap().clone();
            assert_eq!((room["unread_count"].clone(), room["unread_more"].clone()), (json!(1_000), json!(false)));
        }
    }
    let room = app.get("/chat/rooms", &bob).await.assert_ok(200, "ROOMS_LISTED").clone();
    let room = room.as_array().unwrap().iter().find(|r| r["project_id"] == 100).unwrap().clone();
    assert_eq!((room["unread_count"].clone(), room["unread_more"].clone()), (json!(1_000), json!(true)));
}
