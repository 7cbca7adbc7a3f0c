//! What live chat costs (issue 21), against DynamoDB on the emulator and a loopback
//! `@connections` server, each behind a latency-injecting proxy as in `chat_paths`: 5 ms per
//! DynamoDB call and 20 ms per post. Run through `scripts/bench live_chat`; prints p50/p99 of:
//! 1. `typing`: the gate's conditional write, the project's sockets, the frame to 5 teammates;
//! 2. `markRead` moving the marker: the message looked up, the room and marker written, the
//!    unread count, the reader's other tab told;
//! 3. `GET /chat/rooms` for a member of 20 projects, each with 10 unread messages;
//! 4. a member's `$connect` with the presence frame it sends to 5 teammates (and, beside it, the
//!    `$disconnect` that tells them the member left).
//!
//! The figures are recorded in BENCHMARKS.md; no target is set for them, so nothing here fails.

use std::time::{Duration, Instant};

use serde_json::json;
use service_tests::{
    FaultProxy, LoopbackConnections, SiblingStandIn, TestDynamo, chat_service, connect_event, connection_id, event,
    fixture,
};
use shared::{
    domain::{
        ProjectId, UserId,
        chat::{ChatCursor, Connection},
        time::now_ms,
    },
    identity::Identity,
    services::chat::{Admitted, ChatService, NewMessage},
    siblings::CallContext,
    ws::{ConnectHandler, DisconnectHandler},
};

const RUNS: usize = 200;
const WARMUP: usize = 10;
const DYNAMODB_LATENCY: Duration = Duration::from_millis(5);
const POST_LATENCY: Duration = Duration::from_millis(20);
/// Teammates with a socket open in the project: who a typing or presence frame goes to.
const LISTENERS: usize = 5;
const ROOMS: i64 = 20;

fn project(id: i64) -> ProjectId {
    ProjectId::new(id).expect("a project id")
}

fn user(i: usize) -> String {
    format!("00000000-0000-4000-8000-{i:012}")
}

/// p50 and p99 of the samples, in milliseconds.
fn percentiles(mut samples: Vec<Duration>) -> (f64, f64) {
    samples.sort();
    let at = |q: f64| samples[((samples.len() as f64 * q).ceil() as usize).saturating_sub(1)].as_secs_f64() * 1_000.0;
    (at(0.50), at(0.99))
}

/// The DynamoDB operations the proxy saw, by kind.
const OPERATIONS: [&str; 6] = ["GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "TransactWriteItems"];

fn calls(proxy: &FaultProxy) -> Vec<usize> {
    OPERATIONS.iter().map(|op| proxy.calls(op)).collect()
}

/// The timings, with the DynamoDB calls each run made (the proxy's count between `before` and
/// now, over the `RUNS + WARMUP` runs).
fn report(what: &str, samples: Vec<Duration>, proxy: &FaultProxy, before: &[usize]) {
    let (p50, p99) = percentiles(samples);
    let made: Vec<String> = OPERATIONS
        .iter()
        .zip(calls(proxy).iter().zip(before))
        .filter(|(_, (now, then))| now > then)
        .map(|(op, (now, then))| format!("{op} {:.1}", (now - then) as f64 / (RUNS + WARMUP) as f64))
        .collect();
    println!(
        "{what}: p50 {p50:.2} ms, p99 {p99:.2} ms over {RUNS} runs (5 ms per DynamoDB call, 20 ms per post); DynamoDB calls per run: {}",
        made.join(", ")
    );
}

fn socket(id: &str, user: &str, project_id: i64) -> Connection {
    let now = now_ms();
    Connection {
        connection_id: connection_id(id),
        user_id: UserId::parse(user).expect("a user id"),
        display_name: "bench".into(),
        project_id: Some(project(project_id)),
        notifications: false,
        admin: false,
        connected_at: now - chrono::Duration::minutes(1),
        expires_at: now + chrono::Duration::hours(2),
        token_expires_at: None,
        member: true,
        live: true,
    }
}

async fn admitted(chat: &ChatService, who: &str, project_id: i64) -> Admitted {
    let identity = Identity::from_claims(&std::collections::HashMap::from([("sub".to_owned(), who.to_owned())]), None)
        .expect("an identity");
    chat.admit(&identity, project(project_id), &CallContext::default()).await.expect("a member")
}

/// Fresh tables behind the DynamoDB proxy (moto answers a GSI query by scanning its table: each
/// part gets its own, so one part's rows do not bill another's lookups).
async fn fresh(
    loopback: &LoopbackConnections,
    siblings: &SiblingStandIn,
) -> (TestDynamo, FaultProxy, shared::store::ChatStores, ChatService) {
    let dynamo = TestDynamo::new().await;
    let proxy = FaultProxy::start(&dynamo.endpoint, DYNAMODB_LATENCY).await;
    let stores = dynamo.stores_via(&proxy.endpoint);
    let chat = chat_service(&stores, loopback, siblings).await;
    (dynamo, proxy, stores, chat)
}

/// Opens a teammate's socket in `project_id` on the loopback endpoint.
async fn listeners(stores: &shared::store::ChatStores, loopback: &LoopbackConnections, project_id: i64) {
    for i in 0..LISTENERS {
        let id = format!("listen-{project_id}-{i}=");
        stores.connections.put(&socket(&id, &user(9_000 + i), project_id)).await.expect("put connection");
        loopback.open(&id);
    }
}

#[tokio::main]
async fn main() {
    let direct = LoopbackConnections::start().await;
    let post_proxy = FaultProxy::start(&direct.endpoint, POST_LATENCY).await;
    let loopback = direct.behind(&post_proxy.endpoint);
    let siblings = SiblingStandIn::start().await;
    let team: Vec<String> = (0..RUNS + WARMUP).map(user).chain((0..LISTENERS).map(|i| user(9_000 + i))).collect();
    let team: Vec<&str> = team.iter().map(String::as_str).collect();
    for p in 1..=ROOMS + 2 {
        siblings.members(p, &team);
    }
    let ctx = CallContext::default();

    // 1. typing: a different member each time, so the 3 s gate always lets it through.
    let (_t, proxy, stores, chat) = fresh(&loopback, &siblings).await;
    listeners(&stores, &loopback, 1).await;
    let before = calls(&proxy);
    let mut samples = Vec::new();
    for i in 0..RUNS + WARMUP {
        let typist = admitted(&chat, &user(i), 1).await;
        let started = Instant::now();
        assert!(chat.typing(&typist, &ctx).await, "passed the gate");
        if i >= WARMUP {
            samples.push(started.elapsed());
        }
    }
    report("typing", samples, &proxy, &before);

    // 2. markRead: a teammate's messages, marked one after the other (each moves the marker);
    // the reader has a second tab that is told.
    let (_t, proxy, stores, chat) = fresh(&loopback, &siblings).await;
    let author = admitted(&chat, &user(1), 2).await;
    let reader = admitted(&chat, &user(2), 2).await;
    stores.connections.put(&socket("reader-tab=", &user(2), 2)).await.expect("put connection");
    loopback.open("reader-tab=");
    let mut cursors = Vec::new();
    for i in 0..RUNS + WARMUP {
        let new = NewMessage { message: format!("읽음 {i}"), client_message_id: None, is_in_meeting: false };
        cursors.push(chat.send(&author, new, &ctx).await.expect("send").message.cursor());
    }
    let before = calls(&proxy);
    let mut samples = Vec::new();
    for (i, cursor) in cursors.iter().enumerate() {
        let started = Instant::now();
        let state = chat.mark_read(&reader, cursor, None).await.expect("mark");
        let took = started.elapsed();
        assert!(state.moved && state.unread.count as usize == RUNS + WARMUP - 1 - i);
        if i >= WARMUP {
            samples.push(took);
        }
    }
    report("markRead", samples, &proxy, &before);

    // 3. The rooms of a member of 20 projects, 10 unread messages in each.
    let (dynamo, proxy, stores, chat) = fresh(&loopback, &siblings).await;
    let member = user(3);
    for p in 3..3 + ROOMS {
        let own = admitted(&chat, &member, p).await;
        let first = NewMessage { message: "들어왔어요".into(), client_message_id: None, is_in_meeting: false };
        chat.send(&own, first, &ctx).await.expect("send");
        let other = admitted(&chat, &user(4), p).await;
        for i in 0..10 {
            let new = NewMessage { message: format!("{i}"), client_message_id: None, is_in_meeting: false };
            chat.send(&other, new, &ctx).await.expect("send");
        }
    }
    let member_id = UserId::parse(&member).expect("a user id");
    let before = calls(&proxy);
    let mut samples = Vec::new();
    for i in 0..RUNS + WARMUP {
        let started = Instant::now();
        let rooms = chat.rooms(&member_id, &ctx).await.expect("rooms");
        let took = started.elapsed();
        assert_eq!(rooms.len(), ROOMS as usize);
        assert!(rooms.iter().all(|r| r.unread.count == 10));
        if i >= WARMUP {
            samples.push(took);
        }
    }
    report("rooms (20 projects, unread counts)", samples, &proxy, &before);
    // The same reads straight to the emulator: its own service time (it serves one request at a
    // time), which the figure above includes and DynamoDB does not have.
    let unproxied = chat_service(&dynamo.stores(), &loopback, &siblings).await;
    let mut alone = Vec::new();
    for i in 0..RUNS + WARMUP {
        let started = Instant::now();
        assert_eq!(unproxied.rooms(&member_id, &ctx).await.expect("rooms").len(), ROOMS as usize);
        if i >= WARMUP {
            alone.push(started.elapsed());
        }
    }
    let (p50, p99) = percentiles(alone);
    println!("rooms, the emulator alone (no latency added): p50 {p50:.2} ms, p99 {p99:.2} ms");
    drop(stores);

    // 4. $connect of a member's first socket, with its presence frame to 5 teammates; then the
    // $disconnect that tells them the member left.
    let (_t, proxy, stores, chat) = fresh(&loopback, &siblings).await;
    listeners(&stores, &loopback, 1).await;
    let connect = ConnectHandler::new(chat.presence().clone(), chat.membership().clone());
    let disconnect = DisconnectHandler::new(chat.presence().clone());
    let before = calls(&proxy);
    let (mut joins, mut leaves) = (Vec::new(), Vec::new());
    for i in 0..RUNS + WARMUP {
        let id = format!("join-{i}=");
        let who = user(i);
        let started = Instant::now();
        let answer = connect.handle(&connect_event(&id, Some("1"), Some(&who))).await;
        let joined = started.elapsed();
        assert_eq!(answer.status_code, 200);
        loopback.open(&id);
        let mut e = fixture("ws-disconnect.json");
        e["requestContext"]["connectionId"] = json!(id);
        let started = Instant::now();
        disconnect.handle(&event(e)).await;
        let left = started.elapsed();
        if i >= WARMUP {
            joins.push(joined);
            leaves.push(left);
        }
    }
    let told = direct.received("listen-1-0=").iter().filter(|f| f["type"] == "presence").count();
    assert_eq!(told, 2 * (RUNS + WARMUP), "every join and leave was told");
    report("connect, then disconnect, each with its presence frame (calls: both)", joins, &proxy, &before);
    report("disconnect with its presence frame (calls: both, as above)", leaves, &proxy, &before);
    // Cursors are opaque to clients; decoding one here only checks the bench marked real ones.
    assert!(ChatCursor::decode(&cursors[0].encode()).is_ok());
}
