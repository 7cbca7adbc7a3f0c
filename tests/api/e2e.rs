//! End to end through a running local gateway on loopback: real HTTP requests and real
//! WebSocket clients, the handlers' real management-API client posting back to the gateway.

use std::{net::SocketAddr, time::Duration};

use futures::{SinkExt, StreamExt};
use local_gateway::{Gateway, Options, token};
use serde_json::{Value, json};
use service_tests::TestDb;
use shared::Config;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async, tungstenite::Message};

type Socket = WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>;

const SECRET: &[u8] = b"e2e-secret";

async fn start(db: &TestDb) -> Gateway {
    let options = Options {
        config: Config::from_lookup(|_| None).expect("config"),
        database: db.settings.clone(),
        secret: SECRET.to_vec(),
        addr: SocketAddr::from(([127, 0, 0, 1], 0)),
    };
    Gateway::start(options).await.expect("gateway starts")
}

fn token_for(user: &str, admin: bool, name: &str) -> String {
    token::mint(SECRET, &token::user_claims(user, admin, Some(name), 1))
}

async fn connect(gateway: &Gateway, path_and_query: &str) -> Socket {
    let (socket, _) = connect_async(format!("ws://{}{path_and_query}", gateway.addr)).await.expect("upgrade");
    socket
}

/// The next frame of any type.
async fn next_any_frame(socket: &mut Socket) -> Value {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(5), socket.next())
            .await
            .expect("a frame within 5 s")
            .expect("socket open")
            .expect("frame");
        if let Message::Text(text) = message {
            return serde_json::from_str(&text).expect("JSON frame");
        }
    }
}

/// The next frame that is not about who is online: teammates' sockets opening and closing are
/// told to every socket of a project, and only the presence test is about them.
async fn next_frame(socket: &mut Socket) -> Value {
    loop {
        let frame = next_any_frame(socket).await;
        if frame["type"] != "presence" {
            return frame;
        }
    }
}

/// No frame but presence for 300 ms.
async fn no_frame(socket: &mut Socket) {
    let deadline = tokio::time::Instant::now() + Duration::from_millis(300);
    while let Ok(got) = tokio::time::timeout_at(deadline, socket.next()).await {
        let text = match got {
            Some(Ok(Message::Text(text))) => text,
            other => panic!("expected silence, got {other:?}"),
        };
        let frame: Value = serde_json::from_str(&text).expect("JSON frame");
        assert_eq!(frame["type"], "presence", "expected silence, got {frame}");
    }
}

/// Exactly nothing for 300 ms, presence included.
async fn silence(socket: &mut Socket) {
    let got = tokio::time::timeout(Duration::from_millis(300), socket.next()).await;
    assert!(got.is_err(), "expected silence, got {got:?}");
}

async fn send(socket: &mut Socket, frame: Value) {
    socket.send(Message::Text(frame.to_string().into())).await.expect("send");
}

/// `GET` over HTTP with a local token, as the frontend calls the gateway.
async fn get_json(gateway: &Gateway, path: &str, token: &str) -> Value {
    let response = reqwest::Client::new()
        .get(format!("http://{}{path}", gateway.addr))
        .bearer_auth(token)
        .send()
        .await
        .expect("request");
    response.json().await.expect("JSON body")
}

fn user() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Puts `users` in `project`'s team, through the gateway's stand-in for the Project and Team
/// services (what `local-gateway member` does).
async fn members(db: &TestDb, project: i64, users: &[&str]) {
    let directory = local_gateway::stand_ins::Directory::open(std::sync::Arc::new(db.sql_db())).await.unwrap();
    let project = shared::domain::ProjectId::new(project).unwrap();
    if !directory.has_project(project).await.unwrap() {
        directory.put_project(project, "e2e").await.unwrap();
    }
    for user in users {
        directory.put_member(project, &shared::domain::UserId::parse(user).unwrap(), "MEMBER").await.unwrap();
    }
}

#[tokio::test]
async fn two_clients_of_a_project_chat_and_others_hear_nothing() {
    let db = TestDb::sqlite();
    let gateway = start(&db).await;
    let (alice, bob, carol) = (user(), user(), user());
    members(&db, 7, &[&alice, &bob]).await;
    members(&db, 8, &[&carol]).await;
    let mut a = connect(&gateway, &format!("/?project_id=7&token={}", token_for(&alice, false, "alice"))).await;
    let mut b = connect(&gateway, &format!("/ws/chat/7?token={}", token_for(&bob, false, "bob"))).await;
    let mut c = connect(&gateway, &format!("/ws/chat/8?token={}", token_for(&carol, false, "carol"))).await;

    send(&mut a, json!({"action": "sendMessage", "message": "안녕 bob 👋"})).await;
    let at_b = next_frame(&mut b).await;
    assert_eq!(next_frame(&mut a).await, at_b, "the sender gets the same frame");
    assert_eq!(
        (at_b["type"].clone(), at_b["senderName"].clone(), at_b["message"].clone()),
        (json!("message"), json!("alice"), json!("안녕 bob 👋"))
    );
    send(&mut b, json!({"message": "hi alice"})).await;
    assert_eq!(next_frame(&mut a).await["message"], "hi alice");
    assert_eq!(next_frame(&mut b).await["user_id"], bob);
    no_frame(&mut c).await;

    // History over HTTP is what was broadcast, for the team only.
    let outsider = get_json(&gateway, "/chat/7/messages", &token_for(&carol, false, "carol")).await;
    assert_eq!(outsider["code"], "FORBIDDEN");
    let history = get_json(&gateway, "/chat/7/messages", &token_for(&bob, false, "bob")).await;
    let ids: Vec<_> = history["data"].as_array().unwrap().iter().map(|m| m["message_id"].clone()).collect();
    assert_eq!(ids, [at_b["message_id"].clone(), json!(ids[1].clone())]);
    assert_eq!(history["data"][0]["message"], "안녕 bob 👋");
    assert_eq!(history["data"][0]["timestamp"], at_b["timestamp"]);

    // Errors reach the sender only; ping answers.
    send(&mut a, json!({"action": "dance"})).await;
    assert_eq!(next_frame(&mut a).await["code"], "UNKNOWN_ACTION");
    send(&mut a, json!({"action": "ping"})).await;
    assert_eq!(next_frame(&mut a).await, json!({"type": "pong"}));
    no_frame(&mut b).await;
    gateway.stop().await.unwrap();
}

/// Edits and deletions over the socket reach every socket of the project (a second tab and
/// a teammate), errors only the sender; an administrator's removal over HTTP reaches them too.
#[tokio::test]
async fn edits_and_deletions_reach_every_socket_of_the_project() {
    let db = TestDb::sqlite();
    let gateway = start(&db).await;
    let (alice, bob, moderator) = (user(), user(), user());
    members(&db, 9, &[&alice, &bob]).await;
    let mut a = connect(&gateway, &format!("/?project_id=9&token={}", token_for(&alice, false, "alice"))).await;
    let mut a2 = connect(&gateway, &format!("/ws/chat/9?token={}", token_for(&alice, false, "alice"))).await;
    let mut b = connect(&gateway, &format!("/ws/chat/9?token={}", token_for(&bob, false, "bob"))).await;

    send(&mut a, json!({"action": "sendMessage", "message": "오늘 9시 회의"})).await;
    let sent = next_frame(&mut b).await;
    for socket in [&mut a, &mut a2] {
        assert_eq!(next_frame(socket).await["message_id"], sent["message_id"]);
    }
    send(&mut b, json!({"action": "editMessage", "message_id": sent["message_id"], "message": "내 글 아님"})).await;
    assert_eq!(next_frame(&mut b).await["code"], "FORBIDDEN", "only the author edits");
    send(&mut a, json!({"action": "editMessage", "message_id": sent["message_id"], "message": "오늘 10시 회의"})).await;
    for socket in [&mut a, &mut a2, &mut b] {
        let edited = next_frame(socket).await;
        assert_eq!(
            (edited["type"].clone(), edited["message_id"].clone(), edited["message"].clone()),
            (json!("message_edited"), sent["message_id"].clone(), json!("오늘 10시 회의"))
        );
        assert!(edited["edited_at"].is_string());
    }
    send(&mut a, json!({"action": "deleteMessage"})).await;
    assert_eq!(next_frame(&mut a).await["code"], "VALIDATION_FAILED");
    no_frame(&mut b).await;
    send(&mut a, json!({"action": "deleteMessage", "message_id": sent["message_id"]})).await;
    for socket in [&mut a, &mut a2, &mut b] {
        let deleted = next_frame(socket).await;
        assert_eq!(
            (deleted["type"].clone(), deleted["message_id"].clone(), deleted["project_id"].clone()),
            (json!("message_deleted"), sent["message_id"].clone(), json!(9))
        );
    }
    send(&mut a, json!({"action": "editMessage", "message_id": sent["message_id"], "message": "되살리기"})).await;
    assert_eq!(next_frame(&mut a).await["code"], "CONFLICT");

    // An administrator removes bob's message over HTTP: the sockets hear it, the log keeps it.
    send(&mut b, json!({"action": "sendMessage", "message": "광고 링크"})).await;
    let ad = next_frame(&mut a).await;
    for socket in [&mut a2, &mut b] {
        next_frame(socket).await;
    }
    let admin_token = token_for(&moderator, true, "운영자");
    let removed = reqwest::Client::new()
        .delete(format!("http://{}/chat/9/messages/{}", gateway.addr, ad["message_id"].as_str().unwrap()))
        .bearer_auth(&admin_token)
        .send()
        .await
        .expect("request");
    assert_eq!(removed.status(), 200);
    for socket in [&mut a, &mut a2, &mut b] {
        assert_eq!(next_frame(socket).await["type"], "message_deleted");
    }
    let log = get_json(&gateway, "/admin/chat/removals", &admin_token).await;
    assert_eq!((log["data"][0]["message"].clone(), log["data"][0]["author"].clone()), (json!("광고 링크"), json!(bob)));
    gateway.stop().await.unwrap();
}

/// `POST` with a local token, as the web app calls the gateway: (status, body).
async fn post_json(gateway: &Gateway, path: &str, token: &str, body: Value) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(format!("http://{}{path}", gateway.addr))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .expect("request");
    (response.status().as_u16(), response.json().await.expect("JSON body"))
}

/// A user asks through the footer; an administrator answers; the user asks again; the
/// administrator answers and closes: three messages and a close, the bell showing each answer.
#[tokio::test]
async fn a_reporter_and_an_administrator_hold_a_conversation_on_an_inquiry() {
    let db = TestDb::sqlite();
    let gateway = start(&db).await;
    let (asker, moderator) = (user(), user());
    let (asker_token, admin_token) = (token_for(&asker, false, "지민"), token_for(&moderator, true, "운영자"));
    let inquiry =
        json!({"type": "INQUIRY", "title": "[광고/제휴 문의] 푸터 문의 접수", "content": "제휴 문의드립니다."});
    let (status, filed) = post_json(&gateway, "/reports", &asker_token, inquiry).await;
    assert_eq!(status, 201, "{filed}");
    let id = filed["data"]["report_id"].as_i64().unwrap();
    let replies = format!("/reports/{id}/replies");

    let (status, _) = post_json(&gateway, &replies, &admin_token, json!({"message": "제안서를 보내 주세요."})).await;
    assert_eq!(status, 201);
    let unread = get_json(&gateway, "/notifications/unread-count", &asker_token).await;
    assert_eq!(unread["data"]["unread_count"], 1, "the bell shows the answer");
    let (status, _) = post_json(&gateway, &replies, &asker_token, json!({"message": "양식이 있나요?"})).await;
    assert_eq!(status, 201);
    let close = json!({"action": "resolve", "note": "자유 양식입니다."});
    let response = reqwest::Client::new()
        .patch(format!("http://{}/admin/reports/{id}", gateway.addr))
        .bearer_auth(&admin_token)
        .json(&close)
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200);

    let thread = get_json(&gateway, &format!("/reports/{id}"), &asker_token).await;
    assert_eq!(thread["data"]["status"], "RESOLVED");
    let said: Vec<_> = thread["data"]["replies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["author"].as_str().unwrap().to_owned(), r["message"].as_str().unwrap().to_owned()))
        .collect();
    assert_eq!(
        said,
        [
            ("ADMIN".to_owned(), "제안서를 보내 주세요.".to_owned()),
            ("USER".to_owned(), "양식이 있나요?".to_owned()),
            ("ADMIN".to_owned(), "자유 양식입니다.".to_owned()),
        ]
    );
    let bell = get_json(&gateway, "/notifications", &asker_token).await;
    let messages: Vec<_> =
        bell["data"].as_array().unwrap().iter().map(|n| n["message"].as_str().unwrap().to_owned()).collect();
    assert_eq!(
        messages,
        [
            "문의하신 내용에 답변이 등록되고 처리가 완료되었습니다: 자유 양식입니다.",
            "문의하신 내용에 답변이 등록되었습니다: 제안서를 보내 주세요.",
        ]
    );
    assert_eq!(bell["data"][0]["link"], format!("/mypage/reports/{id}"));
    gateway.stop().await.unwrap();
}

#[tokio::test]
async fn handshakes_without_identity_or_project_are_refused() {
    let db = TestDb::sqlite();
    let gateway = start(&db).await;
    let valid = token_for(&user(), false, "x");
    for (path, status) in [
        ("/?project_id=1".to_owned(), 401),
        ("/?project_id=1&token=forged.token.here".to_owned(), 401),
        (format!("/?token={valid}"), 400),
        (format!("/ws/chat/abc?token={valid}"), 400),
    ] {
        let refused = connect_async(format!("ws://{}{path}", gateway.addr)).await;
        let Err(tokio_tungstenite::tungstenite::Error::Http(response)) = refused else {
            panic!("{path}: handshake should be refused, got {refused:?}");
        };
        assert_eq!(response.status().as_u16(), status, "{path}");
    }
    gateway.stop().await.unwrap();
}

/// Two members, one with two tabs, through the gateway: presence once per member (not per tab),
/// typing throttled and never echoed, one unread badge for both tabs (a mark over the socket
/// and one over HTTP), and a tab that dies without a close frame stops counting.
#[tokio::test]
async fn two_members_in_two_tabs_see_presence_typing_and_one_unread_badge() {
    let db = TestDb::sqlite();
    let gateway = start(&db).await;
    let (alice, bob, admin) = (user(), user(), user());
    members(&db, 12, &[&alice, &bob]).await;
    let (alice_token, bob_token) = (token_for(&alice, false, "alice"), token_for(&bob, false, "bob"));
    // Live-chat frames are opt-in (`live=true`): a client that draws every frame never gets one.
    let mut a1 = connect(&gateway, &format!("/ws/chat/12?live=true&token={alice_token}")).await;
    let mut quiet = connect(&gateway, &format!("/ws/chat/12?token={alice_token}")).await;
    // An administrator reading as one is neither told nor shown.
    let admin_token = token_for(&admin, true, "운영자");
    let mut watcher = connect(&gateway, &format!("/ws/chat/12?live=true&token={admin_token}")).await;
    silence(&mut a1).await;
    let mut b1 = connect(&gateway, &format!("/ws/chat/12?live=true&token={bob_token}")).await;
    let online = json!({"type": "presence", "user_id": bob, "senderName": "bob", "project_id": 12, "online": true});
    assert_eq!(next_any_frame(&mut a1).await, online);
    assert_eq!(next_any_frame(&mut watcher).await, online, "administrators' sockets hear it");
    let mut b2 = connect(&gateway, &format!("/?project_id=12&token={bob_token}")).await;
    // A socket subscribes later.
    send(&mut b2, json!({"action": "subscribe", "live": true})).await;
    assert_eq!(next_any_frame(&mut b2).await, json!({"type": "subscribed", "notifications": false, "live": true}));
    silence(&mut a1).await;
    silence(&mut b1).await;
    let present = get_json(&gateway, "/chat/12/presence", &alice_token).await;
    assert_eq!(present["code"], "PRESENCE_LISTED");
    let listed: Vec<_> = present["data"].as_array().unwrap().iter().map(|p| p["user_id"].clone()).collect();
    assert_eq!(listed, [json!(alice), json!(bob)], "members only, online longest first");
    assert_eq!(present["data"][1]["sender_name"], "bob");

    // Alice types twice in a row: bob's tabs hear it once, alice's own tab never.
    send(&mut a1, json!({"action": "typing"})).await;
    send(&mut a1, json!({"action": "typing"})).await;
    let typing = json!({"type": "typing", "user_id": alice, "senderName": "alice", "project_id": 12});
    for tab in [&mut b1, &mut b2, &mut watcher] {
        assert_eq!(next_any_frame(tab).await, typing);
        silence(tab).await;
    }
    silence(&mut a1).await;

    // Three messages from alice: bob's badge counts them; his mark in one tab clears both.
    let mut cursors = Vec::new();
    for text in ["하나", "둘", "셋"] {
        send(&mut a1, json!({"action": "sendMessage", "message": text})).await;
        cursors.push(next_frame(&mut a1).await["cursor"].clone());
        for socket in [&mut b1, &mut b2, &mut watcher] {
            assert_eq!(next_frame(socket).await["message"], text);
        }
    }
    send(&mut b1, json!({"action": "markRead", "up_to": cursors[1]})).await;
    for tab in [&mut b1, &mut b2] {
        let read = next_any_frame(tab).await;
        assert_eq!(
            (read["type"].clone(), read["project_id"].clone(), read["up_to"].clone(), read["unread_count"].clone()),
            (json!("read"), json!(12), cursors[1].clone(), json!(1)),
            "the asking tab is answered, the other one told"
        );
    }
    silence(&mut a1).await;
    let rooms = get_json(&gateway, "/chat/rooms", &bob_token).await;
    assert_eq!(
        (rooms["data"][0]["project_id"].clone(), rooms["data"][0]["unread_count"].clone()),
        (json!(12), json!(1))
    );
    assert_eq!(rooms["data"][0]["read_up_to"], cursors[1]);
    let (status, marked) = post_json(&gateway, "/chat/12/read", &bob_token, json!({"up_to": cursors[2]})).await;
    assert_eq!(
        (status, marked["code"].clone(), marked["data"]["unread_count"].clone()),
        (200, json!("READ_MARKED"), json!(0))
    );
    for tab in [&mut b1, &mut b2] {
        assert_eq!(next_any_frame(tab).await["unread_count"], 0, "a mark over HTTP reaches every tab");
    }
    let (_, again) = post_json(&gateway, "/chat/12/read", &bob_token, json!({"up_to": cursors[0]})).await;
    assert_eq!(
        (again["code"].clone(), again["data"]["read_up_to"].clone()),
        (json!("READ_UNCHANGED"), cursors[2].clone())
    );
    silence(&mut b1).await;
    let rooms = get_json(&gateway, "/chat/rooms", &alice_token).await;
    assert_eq!(rooms["data"][0]["unread_count"], 0, "alice's own messages are never unread");

    // Bob's tabs go: the first without a word, the last (dying without a close frame) tells.
    b2.close(None).await.unwrap();
    silence(&mut a1).await;
    drop(b1);
    let offline = json!({"type": "presence", "user_id": bob, "senderName": "bob", "project_id": 12, "online": false});
    assert_eq!(next_any_frame(&mut a1).await, offline);
    let present = get_json(&gateway, "/chat/12/presence", &alice_token).await;
    assert_eq!(present["data"].as_array().unwrap().len(), 1, "bob's dead tab stopped counting");
    // The socket that did not ask saw messages only, none of the live-chat frames.
    for _ in 0..3 {
        assert_eq!(next_any_frame(&mut quiet).await["type"], "message");
    }
    silence(&mut quiet).await;
    gateway.stop().await.unwrap();
}

#[tokio::test]
async fn a_vanished_client_is_cleaned_up_and_others_keep_chatting() {
    let db = TestDb::sqlite();
    let gateway = start(&db).await;
    let (alice, bob) = (user(), user());
    members(&db, 3, &[&alice, &bob]).await;
    let mut a = connect(&gateway, &format!("/?project_id=3&token={}", token_for(&alice, false, "alice"))).await;
    let b = connect(&gateway, &format!("/?project_id=3&token={}", token_for(&bob, false, "bob"))).await;
    // Bob's client dies without a close frame.
    drop(b);
    send(&mut a, json!({"message": "still there?"})).await;
    assert_eq!(next_frame(&mut a).await["message"], "still there?");
    // Bob's row goes, by $disconnect or by the 410 of the next broadcast, whichever comes first.
    let stores = shared::store::ChatStores::sql(std::sync::Arc::new(db.sql_db()));
    let mut left = Vec::new();
    for _ in 0..50 {
        left = stores
            .connections
            .by_project(shared::domain::ProjectId::new(3).unwrap(), shared::domain::time::now_ms())
            .await
            .unwrap();
        if left.len() == 1 {
            break;
        }
        send(&mut a, json!({"message": "anyone?"})).await;
        next_frame(&mut a).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(left.iter().map(|c| c.user_id.to_string()).collect::<Vec<_>>(), [alice]);
    gateway.stop().await.unwrap();
}

async fn notify(gateway: &Gateway, recipient: &str, message: &str) -> Value {
    reqwest::Client::new()
        .post(format!("http://{}/notifications", gateway.addr))
        .bearer_auth(token_for(&user(), true, "admin"))
        .json(&json!({"user_id": recipient, "message": message, "link": "/projects/1"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn notifications_reach_only_the_sockets_that_asked_for_them() {
    let db = TestDb::sqlite();
    let gateway = start(&db).await;
    let recipient = user();
    let token = token_for(&recipient, false, "r");
    members(&db, 1, &[&recipient]).await;
    // The web app's chat socket, and a socket that asks for notifications when it connects.
    let mut chat = connect(&gateway, &format!("/ws/chat/1?token={token}")).await;
    let mut bell = connect(&gateway, &format!("/?project_id=1&notifications=true&token={token}")).await;

    let created = notify(&gateway, &recipient, "프로젝트에 초대되었습니다").await;
    assert_eq!(created["code"], "NOTIFICATION_CREATED");
    let pushed = next_frame(&mut bell).await;
    assert_eq!(pushed["type"], "notification");
    assert_eq!(pushed["notification_id"], created["data"]["notification_id"]);
    no_frame(&mut chat).await;

    // A socket may subscribe later, and unsubscribe.
    send(&mut chat, json!({"action": "subscribe", "notifications": true})).await;
    assert_eq!(next_frame(&mut chat).await, json!({"type": "subscribed", "notifications": true, "live": false}));
    notify(&gateway, &recipient, "두 번째 알림").await;
    assert_eq!(next_frame(&mut chat).await["message"], "두 번째 알림");
    assert_eq!(next_frame(&mut bell).await["message"], "두 번째 알림");
    send(&mut bell, json!({"action": "subscribe", "notifications": false})).await;
    assert_eq!(next_frame(&mut bell).await, json!({"type": "subscribed", "notifications": false, "live": false}));
    notify(&gateway, &recipient, "세 번째 알림").await;
    assert_eq!(next_frame(&mut chat).await["message"], "세 번째 알림");
    no_frame(&mut bell).await;
    // Error frames go to the sender only and keep their type.
    send(&mut chat, json!({"action": "subscribe"})).await;
    let error = next_frame(&mut chat).await;
    assert_eq!((error["type"].clone(), error["code"].clone()), (json!("error"), json!("VALIDATION_FAILED")));
    no_frame(&mut bell).await;

    // A bad token is refused like the authorizer would; no token is anonymous.
    let http = reqwest::Client::new();
    let forged = http.get(format!("http://{}/notifications", gateway.addr)).bearer_auth("x.y.z").send().await.unwrap();
    assert_eq!(forged.status().as_u16(), 401);
    let anonymous = http.get(format!("http://{}/notices", gateway.addr)).send().await.unwrap();
    assert_eq!(anonymous.status().as_u16(), 200);
    let bad_flag =
        connect_async(format!("ws://{}/?project_id=1&notifications=maybe&token={token}", gateway.addr)).await;
    assert!(matches!(bad_flag, Err(tokio_tungstenite::tungstenite::Error::Http(r)) if r.status() == 400));
    gateway.stop().await.unwrap();
}

/// A user in no team opens a socket for their notifications only: no project, no team needed.
/// It receives their notification frames and no chat; chat actions on it are answered with an
/// error frame; turning its notifications off is refused (it would receive nothing).
#[tokio::test]
async fn a_user_in_no_team_gets_live_notifications_without_a_project() {
    let db = TestDb::sqlite();
    let gateway = start(&db).await;
    let (loner, member) = (user(), user());
    members(&db, 4, &[&member]).await;
    let token = token_for(&loner, false, "혼자");
    let mut bell = connect(&gateway, &format!("/?notifications=true&token={token}")).await;
    let mut chat = connect(&gateway, &format!("/ws/chat/4?token={}", token_for(&member, false, "팀원"))).await;

    let created = notify(&gateway, &loner, "팀 지원이 도착했습니다").await;
    let pushed = next_frame(&mut bell).await;
    assert_eq!(
        (pushed["type"].clone(), pushed["notification_id"].clone()),
        (json!("notification"), created["data"]["notification_id"].clone())
    );
    // Chat of any project never reaches it.
    send(&mut chat, json!({"message": "팀 채팅"})).await;
    assert_eq!(next_frame(&mut chat).await["message"], "팀 채팅");
    no_frame(&mut bell).await;
    for action in [json!({"message": "hi"}), json!({"action": "history"})] {
        send(&mut bell, action).await;
        let refused = next_frame(&mut bell).await;
        assert_eq!((refused["type"].clone(), refused["code"].clone()), (json!("error"), json!("NO_PROJECT")));
    }
    send(&mut bell, json!({"action": "subscribe", "notifications": false})).await;
    assert_eq!(next_frame(&mut bell).await["code"], "VALIDATION_FAILED");
    send(&mut bell, json!({"action": "ping"})).await;
    assert_eq!(next_frame(&mut bell).await, json!({"type": "pong"}));
    // Neither a project nor notifications: refused at the handshake.
    let neither = connect_async(format!("ws://{}/?notifications=false&token={token}", gateway.addr)).await;
    assert!(matches!(neither, Err(tokio_tungstenite::tungstenite::Error::Http(r)) if r.status() == 400));
    gateway.stop().await.unwrap();
}

/// A browser's preflight before a signed-in call: the gateway names every header and method it
/// allows (a `*` would not cover Authorization), the same list template.yaml gives API Gateway.
#[tokio::test]
async fn preflights_name_the_allowed_headers_and_methods() {
    let db = TestDb::sqlite();
    let gateway = start(&db).await;
    // What a browser asks before the README's idempotent send: every header a client is told
    // to send.
    let preflight = reqwest::Client::new()
        .request(reqwest::Method::OPTIONS, format!("http://{}/chat/42/messages", gateway.addr))
        .header("origin", "http://localhost:8004")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "authorization, content-type, idempotency-key, x-request-id")
        .send()
        .await
        .unwrap();
    assert!(preflight.status().is_success(), "{}", preflight.status());
    let header = |name: &str| preflight.headers().get(name).map(|v| v.to_str().unwrap().to_ascii_lowercase());
    assert_eq!(header("access-control-allow-origin").as_deref(), Some("http://localhost:8004"));
    let allowed_headers = header("access-control-allow-headers").unwrap();
    assert!(!allowed_headers.contains('*'), "{allowed_headers}");
    for name in shared::http::cors::ALLOWED_HEADERS {
        assert!(allowed_headers.contains(name), "{name} in {allowed_headers}");
    }
    for name in ["idempotency-key", "x-request-id"] {
        assert!(allowed_headers.contains(name), "{name} in {allowed_headers}");
    }
    let methods = header("access-control-allow-methods").unwrap();
    for method in shared::http::cors::ALLOWED_METHODS {
        assert!(methods.contains(&method.to_ascii_lowercase()), "{method} in {methods}");
    }
    // Every answer carries its request id, exposed to the page: the caller's when it sent one.
    let client = reqwest::Client::new();
    let answer = client
        .get(format!("http://{}/events", gateway.addr))
        .header("origin", "http://localhost:3000")
        .header("x-request-id", "bug-report-7")
        .send()
        .await
        .unwrap();
    let exposed = answer.headers().get("access-control-expose-headers").unwrap().to_str().unwrap().to_ascii_lowercase();
    for name in shared::http::cors::EXPOSED_HEADERS {
        assert!(exposed.contains(name), "{name} in {exposed}");
    }
    assert_eq!(answer.headers()["x-request-id"], "bug-report-7");
    let fresh = client.get(format!("http://{}/no-such-route", gateway.addr)).send().await.unwrap();
    assert_eq!(fresh.status(), 404);
    let id = fresh.headers()["x-request-id"].to_str().unwrap();
    assert!(uuid::Uuid::parse_str(id).is_ok(), "a fresh id when the caller sent none: {id}");
    let foreign = reqwest::Client::new()
        .request(reqwest::Method::OPTIONS, format!("http://{}/notifications", gateway.addr))
        .header("origin", "https://evil.example")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert!(foreign.headers().get("access-control-allow-origin").is_none());
    gateway.stop().await.unwrap();
}

#[tokio::test]
async fn data_survives_a_restart() {
    let db = TestDb::sqlite();
    let gateway = start(&db).await;
    let me = user();
    members(&db, 5, &[&me]).await;
    let mut socket = connect(&gateway, &format!("/?project_id=5&token={}", token_for(&me, false, "me"))).await;
    send(&mut socket, json!({"message": "before restart"})).await;
    let sent = next_frame(&mut socket).await;
    gateway.stop().await.unwrap();

    let gateway = start(&db).await;
    let history = get_json(&gateway, "/chat/5/messages", &token_for(&me, false, "me")).await;
    assert_eq!(history["data"][0]["message_id"], sent["message_id"]);
    assert_eq!(history["data"].as_array().unwrap().len(), 1);
    gateway.stop().await.unwrap();
}

/// `local-gateway seed`: data that looks like the real service's, and a signed-in user with a chat
/// and notifications to see.
#[tokio::test]
async fn seed_data_looks_real() {
    use local_gateway::seed::{SEED_PROJECT, SEED_USER, Seeded, seed};
    use shared::{
        domain::{Limit, ProjectId, UserId, chat::HistoryQuery, event::EventFilter, time::Calendar},
        store::{ChatStores, Stores},
    };

    let db = TestDb::sqlite();
    let sql = std::sync::Arc::new(db.sql_db());
    let (stores, chat) = (Stores::sql(sql.clone()), ChatStores::sql(sql.clone()));
    let directory = local_gateway::stand_ins::Directory::open(sql).await.unwrap();
    let seeded = seed(&stores, &chat, &directory, Calendar::kst()).await.unwrap();
    assert_eq!(seeded, Seeded { notices: 3, banners: 2, events: 4, messages: 3, notifications: 2 });

    let hangul = |s: &str| s.chars().any(|c| ('가'..='힣').contains(&c));
    let notices = stores.notices.list(Limit::default(), None).await.unwrap().items;
    assert!(notices.iter().all(|n| hangul(&n.title) && hangul(&n.content)), "notices in Korean");
    let banners = stores.banners.list_all().await.unwrap();
    assert!(banners.iter().all(|b| matches!(b.link.as_deref(), Some("/events" | "/"))), "links to the app's pages");
    let everything = EventFilter::new(None, None, None, None, Calendar::kst().today());
    let events = stores.events.list(&everything, Limit::default(), None).await.unwrap().items;
    assert!(
        events.iter().all(|e| e.image_url.is_some() && e.method.is_some()),
        "every event has an image and a method"
    );
    assert!(events.iter().any(|e| !e.all_day), "one event has a time");

    let user = UserId::parse(SEED_USER).unwrap();
    let history =
        chat.messages.history(ProjectId::new(SEED_PROJECT).unwrap(), &HistoryQuery::latest(10)).await.unwrap();
    assert_eq!(history.messages.len(), 3);
    assert!(history.messages.iter().any(|m| m.user_id == user));
    assert_eq!(chat.rooms.rooms(&user).await.unwrap().len(), 1);
    assert_eq!(stores.notifications.unread_count(&user).await.unwrap(), 2);

    // Seeding again adds nothing.
    assert_eq!(seed(&stores, &chat, &directory, Calendar::kst()).await.unwrap(), Seeded::default());

    // Every image the samples point at is served by the gateway, from a path of its own.
    let gateway = start(&db).await;
    let images: Vec<String> = banners
        .iter()
        .filter_map(|b| b.image_url.clone())
        .chain(events.iter().filter_map(|e| e.image_url.clone()))
        .collect();
    assert_eq!(images.len(), 5);
    for url in images {
        assert!(url.starts_with(local_gateway::sample_images::PREFIX), "{url}");
        let image = reqwest::get(format!("http://{}{url}", gateway.addr)).await.unwrap();
        assert_eq!(image.status(), 200, "{url}");
        assert_eq!(image.headers()["content-type"], "image/png");
        assert!(image.bytes().await.unwrap().starts_with(b"\x89PNG\r\n\x1a\n"), "{url} is a PNG");
    }
    let missing = reqwest::get(format!("http://{}/sample-images/events/none.png", gateway.addr)).await.unwrap();
    assert_eq!(missing.status(), 404);
    gateway.stop().await.unwrap();
}

/// Reads one HTTP/1.1 response (status line, headers, a `Content-Length` body) off `stream`.
async fn read_response(stream: &mut tokio::net::TcpStream) -> (u16, Value) {
    use tokio::io::AsyncReadExt;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        let n =
            tokio::time::timeout(Duration::from_secs(5), stream.read(&mut chunk)).await.expect("an answer").unwrap();
        assert!(n > 0, "the connection closed before an answer: {}", String::from_utf8_lossy(&buf));
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let status = head[9..12].parse().expect("status");
    let length: usize = head
        .lines()
        .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse().unwrap()))
        .expect("content-length");
    while buf.len() < head_end + length {
        let n = stream.read(&mut chunk).await.unwrap();
        assert!(n > 0, "the connection closed mid-body");
        buf.extend_from_slice(&chunk[..n]);
    }
    (status, serde_json::from_slice(&buf[head_end..head_end + length]).expect("a JSON body"))
}

#[tokio::test]
async fn a_body_past_the_limit_is_413_and_the_same_connection_serves_the_next_request() {
    use tokio::io::AsyncWriteExt;
    let db = TestDb::sqlite();
    let gateway = start(&db).await;
    let token = token_for(&service_tests::new_user_id(), true, "관리자");
    let mut stream = tokio::net::TcpStream::connect(gateway.addr).await.unwrap();
    let body = format!("{{\"title\": \"t\", \"content\": \"{}\"}}", "가".repeat(100_000));
    let request = format!(
        "POST /notices HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let (status, answer) = read_response(&mut stream).await;
    assert_eq!((status, answer["code"].clone()), (413, json!("PAYLOAD_TOO_LARGE")), "{answer}");
    let next = "GET /notices HTTP/1.1\r\nHost: localhost\r\n\r\n";
    stream.write_all(next.as_bytes()).await.unwrap();
    let (status, answer) = read_response(&mut stream).await;
    assert_eq!((status, answer["success"].clone()), (200, json!(true)), "{answer}");
    gateway.stop().await.unwrap();
}

/// A client that stops reading is dropped once its frames pile up (posts to it answer 410 and
/// its row goes), so its project's broadcasts do not wait on it; a reading client stays.
#[tokio::test]
async fn a_client_that_stops_reading_is_dropped_and_the_rest_of_its_project_is_not_held_up() {
    let db = TestDb::sqlite();
    let gateway = start(&db).await;
    let (stalled_user, reader_user) = (user(), user());
    members(&db, 9, &[&stalled_user, &reader_user]).await;
    let _stalled = connect(&gateway, &format!("/ws/chat/9?token={}", token_for(&stalled_user, false, "s"))).await;
    let mut reader = connect(&gateway, &format!("/ws/chat/9?token={}", token_for(&reader_user, false, "r"))).await;
    let connections = shared::store::ChatStores::sql(std::sync::Arc::new(db.sql_db())).connections;
    let project = shared::domain::ProjectId::new(9).unwrap();
    let rows = connections.by_project(project, shared::domain::time::now_ms()).await.unwrap();
    let id_of = |user: &str| rows.iter().find(|c| c.user_id.as_str() == user).unwrap().connection_id.clone();
    let (stalled_id, reader_id) = (id_of(&stalled_user), id_of(&reader_user));

    // Post 8 KB frames straight to the management endpoint until the stalled socket is dropped.
    let http = reqwest::Client::new();
    let frame = json!({"type": "pong", "pad": "x".repeat(8_000)}).to_string();
    let mut posts = 0;
    let gone = loop {
        let status = http
            .post(format!("http://{}/@connections/{stalled_id}", gateway.addr))
            .body(frame.clone())
            .send()
            .await
            .unwrap()
            .status();
        posts += 1;
        if status == reqwest::StatusCode::GONE {
            break true;
        }
        assert_eq!(status, reqwest::StatusCode::OK, "queued until dropped; never 429");
        if posts == 50_000 {
            break false;
        }
    };
    assert!(gone, "the stalled socket was never dropped");
    println!("the stalled socket was dropped after {posts} posts of 8 KB");
    // Its row goes with it ($disconnect), the reader's stays and still gets frames.
    let mut row_gone = false;
    for _ in 0..50 {
        let left = connections.by_project(project, shared::domain::time::now_ms()).await.unwrap();
        if left.iter().all(|c| c.connection_id != stalled_id) {
            assert!(left.iter().any(|c| c.connection_id == reader_id));
            row_gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(row_gone, "the dropped socket's connection row was not removed");
    let status = http
        .post(format!("http://{}/@connections/{reader_id}", gateway.addr))
        .body(r#"{"type":"pong"}"#)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, reqwest::StatusCode::OK);
    assert_eq!(next_frame(&mut reader).await["type"], "pong");
    gateway.stop().await.unwrap();
}

/// The gateway's stand-ins answer as PortForge's Project and Team services do (routes, bodies,
/// the soft "error"); the seed's teams have ids of their own; a member chats through the web
/// app's routes naming the project id as the team id; the AI service reads the meeting log with
/// a `token --service` token, and nobody else can.
#[tokio::test]
async fn the_stand_ins_answer_as_the_platform_does_and_the_ai_service_reads_minutes() {
    use local_gateway::seed::{SEED_PROJECT, SEED_USER, SEED_USER_NAME, seed};
    use shared::{
        domain::time::Calendar,
        store::{ChatStores, Stores},
    };

    let db = TestDb::sqlite();
    let sql = std::sync::Arc::new(db.sql_db());
    let directory = local_gateway::stand_ins::Directory::open(sql.clone()).await.unwrap();
    seed(&Stores::sql(sql.clone()), &ChatStores::sql(sql), &directory, Calendar::kst()).await.unwrap();
    let gateway = start(&db).await;
    let http = reqwest::Client::new();
    let stand_in = |path: &str| {
        let (http, url) = (http.clone(), format!("http://{}/_stand-ins{path}", gateway.addr));
        async move {
            let answer = http.get(url).send().await.expect("stand-in answers");
            (answer.status().as_u16(), answer.json::<Value>().await.expect("JSON"))
        }
    };

    let (status, team) = stand_in(&format!("/team-service/api/v1/teams/by-project/{SEED_PROJECT}")).await;
    assert_eq!(status, 200);
    assert_eq!(team["status"], "success");
    let team_id = team["data"]["team_id"].as_i64().unwrap();
    assert_ne!(team_id, SEED_PROJECT, "team ids drift from project ids, as in PortForge");
    assert_eq!(team["data"]["project_id"], SEED_PROJECT);
    let leader = team["data"]["members"].as_array().unwrap().iter().find(|m| m["role"] == "LEADER").unwrap();
    assert_eq!(leader["user_id"], SEED_USER);
    assert_eq!(
        stand_in("/team-service/api/v1/teams/by-project/77").await,
        (200, json!({"status": "error", "message": "팀을 찾을 수 없습니다.", "data": null}))
    );
    let (status, by_id) = stand_in(&format!("/team-service/api/v1/teams/team/{team_id}")).await;
    assert_eq!((status, &by_id["project_id"]), (200, &json!(SEED_PROJECT)));
    assert!(by_id.get("status").is_none(), "this route has no envelope");
    assert_eq!(
        stand_in("/team-service/api/v1/teams/team/77").await,
        (404, json!({"detail": "팀을 찾을 수 없습니다."}))
    );
    let (status, project) = stand_in(&format!("/project-service/projects/{SEED_PROJECT}/basic")).await;
    assert_eq!(status, 200);
    let keys: Vec<&str> = project.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, ["description", "end_date", "project_id", "start_date", "status", "title"]);
    assert_eq!(stand_in("/project-service/projects/77/basic").await, (404, json!({"detail": "Project not found"})));
    assert_eq!(stand_in("/project-service/projects/abc/basic").await.0, 422);

    // The leader chats through the web app's routes, which send the project id as the team id.
    let leader_token = token_for(SEED_USER, false, SEED_USER_NAME);
    let sent = http
        .post(format!("http://{}/chat/message", gateway.addr))
        .bearer_auth(&leader_token)
        .json(&json!({"team_id": SEED_PROJECT, "project_id": SEED_PROJECT, "user": SEED_USER_NAME, "message": "회의록 부탁해요"}))
        .send()
        .await
        .unwrap();
    assert_eq!(sent.status(), 200);
    let history = get_json(&gateway, &format!("/chat/messages/{SEED_PROJECT}/{SEED_PROJECT}"), &leader_token).await;
    assert_eq!(history["count"], 4, "the three seeded messages and the new one: {history}");

    // The AI service's minutes, with a client-credentials token of its own.
    let ai = token::ServiceClientId::parse("ai-service").unwrap();
    let ai_token = token::mint(SECRET, &token::service_claims(&ai, &[Config::DEFAULT_CHAT_READ_SCOPE.to_owned()], 1));
    let logs = get_json(&gateway, &format!("/chat/team/{team_id}/logs?limit=2"), &ai_token).await;
    assert_eq!(logs.as_array().map(Vec::len), Some(2), "{logs}");
    let window = json!({"start_time": "2020-01-01T00:00:00", "end_time": "2099-12-31T23:59:59"});
    let minutes = http
        .post(format!("http://{}/chat/team/{team_id}/meeting-logs", gateway.addr))
        .bearer_auth(&ai_token)
        .json(&window)
        .send()
        .await
        .unwrap();
    assert_eq!(minutes.status(), 200);
    let minutes: Value = minutes.json().await.unwrap();
    assert_eq!(minutes["message_count"], 4);
    assert_eq!(minutes["messages"][3]["message"], "회의록 부탁해요");
    // A user (the team's own leader) and a service without the scope are refused.
    for refused in [leader_token, token::mint(SECRET, &token::service_claims(&ai, &[], 1))] {
        let answer = get_json(&gateway, &format!("/chat/team/{team_id}/logs"), &refused).await;
        assert_eq!(answer["code"], "FORBIDDEN", "{answer}");
    }
    gateway.stop().await.unwrap();
}

/// A token valid for `seconds` more (the gateway allows no leeway).
fn short_token(user: &str, seconds: i64) -> String {
    let mut claims = token::user_claims(user, false, Some("짧은"), 1);
    claims.insert("exp".into(), json!(chrono::Utc::now().timestamp() + seconds));
    token::mint(SECRET, &claims)
}

/// Through the gateway: a socket whose token expires is told so at its next frame and closed;
/// one refreshed in time keeps working past the old expiry.
#[tokio::test]
async fn sockets_end_with_their_token_unless_refreshed() {
    let db = TestDb::sqlite();
    let gateway = start(&db).await;
    let (alice, bob) = (user(), user());
    members(&db, 7, &[&alice, &bob]).await;
    let mut expiring = connect(&gateway, &format!("/?project_id=7&token={}", short_token(&alice, 2))).await;
    let mut renewed = connect(&gateway, &format!("/?project_id=7&token={}", short_token(&bob, 2))).await;
    send(&mut renewed, json!({"action": "refresh", "token": token_for(&bob, false, "bob")})).await;
    let answer = next_frame(&mut renewed).await;
    assert_eq!(answer["type"], "refreshed", "{answer}");

    tokio::time::sleep(Duration::from_millis(2_200)).await;
    send(&mut expiring, json!({"action": "ping"})).await;
    let told = next_frame(&mut expiring).await;
    assert_eq!((told["type"].as_str(), told["code"].as_str()), (Some("error"), Some("TOKEN_EXPIRED")), "{told}");
    // Then the gateway closes it, as API Gateway does on DELETE @connections.
    let closed = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match expiring.next().await {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return,
                Some(Ok(_)) => {}
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "the expired socket was closed");

    send(&mut renewed, json!({"action": "ping"})).await;
    assert_eq!(next_frame(&mut renewed).await, json!({"type": "pong"}), "refreshed: still open");
    gateway.stop().await.unwrap();
}
