//! Faults, with real processes stopped and started on loopback: MariaDB killed mid-load and
//! started again, the DynamoDB emulator gone, the management endpoint failing.

use std::time::{Duration, Instant};

use serde_json::json;
use service_tests::{
    Function, LoopbackConnections, PrivateEmulator, PrivateMariaDb, SiblingStandIn, TestApp, TestDb, TestDynamo,
    TestEnv, Who, admin, chat_service, new_user_id, open_connection,
};
use shared::{
    domain::{ProjectId, UserId, time::now_ms},
    error::AppError,
    services::{
        chat::{Admitted, NewMessage},
        membership::ChatAccess,
    },
    siblings::CallContext,
};

/// MariaDB killed under load: every request answers 503 (never a 500 or a fake success), and
/// once the server is back the same running function serves again, with what it stored before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mariadb_killed_mid_load_gives_503s_and_the_same_function_recovers() {
    let mut server = PrivateMariaDb::start().await;
    let app = TestApp::over(Function::Content, TestEnv::new(TestDb::mariadb_on(&server.url()).await).await).await;
    let me = admin();
    for i in 0..20 {
        app.post("/notices", &me, json!({"title": format!("공지 {i}"), "content": "본문"}))
            .await
            .assert_ok(201, "NOTICE_CREATED");
        app.get("/notices", &Who::Anonymous).await.assert_ok(200, "NOTICES_LISTED");
    }

    server.stop();
    // The first request finds its pooled connection dead and waits out a new connection attempt;
    // after it, requests answer 503 at once, one trying the server again each second.
    let mut took = Vec::new();
    for i in 0..10 {
        let started = Instant::now();
        app.get("/notices", &Who::Anonymous).await.assert_error(503, "SERVICE_UNAVAILABLE");
        took.push(started.elapsed());
        let started = Instant::now();
        app.post("/notices", &me, json!({"title": format!("lost {i}"), "content": "x"}))
            .await
            .assert_error(503, "SERVICE_UNAVAILABLE");
        took.push(started.elapsed());
        let started = Instant::now();
        app.get("/health", &Who::Anonymous).await.assert_error(503, "SERVICE_UNAVAILABLE");
        took.push(started.elapsed());
    }
    took.sort();
    // Only the first (and at most one check a second after it) waits on the dead server.
    let waited = took.iter().filter(|t| **t > Duration::from_secs(1)).count();
    assert!(waited <= 2, "{waited} of {} requests waited on the dead server", took.len());
    println!(
        "while MariaDB was down: {} requests, all 503; median {:?}, slowest {:?}",
        took.len(),
        took[took.len() / 2],
        took[took.len() - 1]
    );

    server.restart().await;
    let mut back = None;
    for _ in 0..100 {
        let reply = app.get("/notices?limit=100", &Who::Anonymous).await;
        if reply.status == 200 {
            back = Some(reply);
            break;
        }
        reply.assert_error(503, "SERVICE_UNAVAILABLE");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let back = back.expect("serving again within 10 s of the restart, without restarting the function");
    let titles = back.assert_ok(200, "NOTICES_LISTED").as_array().unwrap().len();
    assert_eq!(titles, 20, "what was stored before is there, and nothing refused was stored");
    app.post("/notices", &me, json!({"title": "다시", "content": "본문"})).await.assert_ok(201, "NOTICE_CREATED");
}

/// The DynamoDB emulator gone: a send tells the sender it failed and broadcasts nothing.
#[tokio::test]
async fn dynamodb_gone_a_send_fails_to_the_sender_and_is_not_broadcast() {
    let mut emulator = PrivateEmulator::start();
    let dynamo = TestDynamo::at(&emulator.url).await;
    let stores = dynamo.stores();
    let (loopback, siblings) = (LoopbackConnections::start().await, SiblingStandIn::start().await);
    let chat = chat_service(&stores, &loopback, &siblings).await;
    let user = UserId::parse(&new_user_id()).unwrap();
    let me = Admitted {
        project_id: ProjectId::new(5).unwrap(),
        user_id: user.clone(),
        name: "me".into(),
        access: ChatAccess::Administrator,
        moderator: true,
    };
    let listener = open_connection("listening=", &user, me.project_id, true);
    stores.connections.put(&listener).await.unwrap();
    loopback.open("listening=");
    let new = |text: &str| NewMessage { message: text.into(), client_message_id: None, is_in_meeting: false };
    let sent = chat.send(&me, new("before"), &CallContext::default()).await.expect("sent while up");
    assert_eq!(sent.fanout.delivered, 1);

    emulator.stop();
    let failed = chat.send(&me, new("while down"), &CallContext::default()).await;
    assert!(matches!(failed, Err(AppError::Unavailable(_))), "{failed:?}");
    let frames = loopback.received("listening=");
    assert_eq!(frames.len(), 1, "nothing broadcast as if stored: {frames:?}");
}

/// The management endpoint failing: a 500 that passes is retried to delivery, one that persists
/// is tried 1 + 4 times (the fan-out's one policy, no SDK retries under it) and counted as
/// failed with its row kept; 410 rows go; 429 is retried.
#[tokio::test]
async fn management_endpoint_failures_follow_the_fan_out_rules() {
    let dynamo = TestDynamo::new().await;
    let stores = dynamo.stores();
    let loopback = LoopbackConnections::start().await;
    let fanout = service_tests::fanout(&stores, &loopback).await;
    let now = now_ms();
    let mut targets = Vec::new();
    for id in ["ok=", "gone=", "throttled=", "broken=", "flaky="] {
        let mut c = open_connection(id, &UserId::parse(&new_user_id()).unwrap(), ProjectId::new(9).unwrap(), false);
        // Past the handshake grace: a 410 means gone.
        c.connected_at = now - chrono::Duration::minutes(1);
        stores.connections.put(&c).await.unwrap();
        if id != "gone=" {
            loopback.open(id);
        }
        targets.push(c);
    }
    loopback.throttle("throttled=", 1);
    loopback.fail("broken=", 100);
    loopback.fail("flaky=", 1);
    let report = fanout.broadcast(&targets, &json!({"type": "pong"})).await;
    assert_eq!((report.delivered, report.gone, report.failed), (3, 1, 1));
    assert_eq!(loopback.posts_to("broken="), 1 + shared::push::THROTTLE_RETRIES as usize);
    assert_eq!(loopback.posts_to("flaky="), 2, "a 500 that passes is retried to delivery");
    assert_eq!(loopback.posts_to("throttled="), 2, "a 429 is retried once it passes");
    let rows = stores.connections.by_project(ProjectId::new(9).unwrap(), now).await.unwrap();
    let mut left: Vec<&str> = rows.iter().map(|c| c.connection_id.as_str()).collect();
    left.sort_unstable();
    assert_eq!(left, ["broken=", "flaky=", "ok=", "throttled="], "only the gone row is deleted");
}
