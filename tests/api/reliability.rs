//! Chat that loses nothing and says nothing false: catch-up raced against sends that commit out
//! of stamp order, writes whose answer is lost and retried, and many sends at once.

use std::{
    collections::{HashMap, HashSet},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures::{StreamExt, future::join_all, stream};
use proptest::prelude::RngExt;
use proptest::test_runner::{RngAlgorithm, TestRng};
use serde_json::{Value, json};
use service_tests::{
    FaultProxy, LoopbackConnections, SiblingStandIn, TestDb, TestDynamo, chat_service, new_user_id, open_connection,
};
use shared::{
    domain::{
        Cursor, Limit, MessageId, Page, ProjectId, ReportId, UserId,
        chat::{
            Changed, ChatCursor, ChatMessage, ChatPage, Connection, HistoryPage, HistoryPosition, HistoryQuery,
            Removal, RemovalRecord,
        },
        time::now_ms,
    },
    error::AppError,
    services::{
        chat::{Admitted, ChatService, ChatTiming, NewMessage},
        membership::ChatAccess,
    },
    siblings::CallContext,
    store::{ChatStore, ChatStores, Saved, StoreError},
};

const PROJECT: i64 = 77;

/// Fault injection in front of a real store (not a fake): each save waits a random 0–`max_ms`
/// first, so racing sends commit out of stamp order, as sends on separate Lambda instances do.
struct DelayedCommits {
    store: Arc<dyn ChatStore>,
    max_ms: u64,
    rng: Mutex<TestRng>,
}

#[async_trait]
impl ChatStore for DelayedCommits {
    async fn save(&self, message: &ChatMessage, idempotent: bool) -> Result<Saved, StoreError> {
        let wait = self.rng.lock().unwrap().random_range(0..=self.max_ms);
        tokio::time::sleep(Duration::from_millis(wait)).await;
        self.store.save(message, idempotent).await
    }

    async fn find(&self, project_id: ProjectId, sort_key: &str) -> Result<Option<ChatMessage>, StoreError> {
        self.store.find(project_id, sort_key).await
    }

    async fn history(&self, project_id: ProjectId, query: &HistoryQuery) -> Result<HistoryPage, StoreError> {
        self.store.history(project_id, query).await
    }

    async fn by_id(&self, project_id: ProjectId, message_id: &MessageId) -> Result<Option<ChatMessage>, StoreError> {
        self.store.by_id(project_id, message_id).await
    }

    async fn edit(
        &self,
        project_id: ProjectId,
        key: &str,
        text: &str,
        at: DateTime<Utc>,
    ) -> Result<Changed, StoreError> {
        self.store.edit(project_id, key, text, at).await
    }

    async fn remove(
        &self,
        project_id: ProjectId,
        key: &str,
        removal: &Removal,
        report: Option<ReportId>,
    ) -> Result<Changed, StoreError> {
        self.store.remove(project_id, key, removal, report).await
    }

    async fn removals(&self, limit: Limit, after: Option<Cursor>) -> Result<Page<RemovalRecord>, StoreError> {
        self.store.removals(limit, after).await
    }

    async fn unread(
        &self,
        project_id: ProjectId,
        reader: &UserId,
        after: Option<&str>,
        cap: u32,
    ) -> Result<u32, StoreError> {
        self.store.unread(project_id, reader, after, cap).await
    }
}

fn seeded(seed: u8) -> TestRng {
    TestRng::from_seed(RngAlgorithm::ChaCha, &[seed; 32])
}

fn admitted(user: &UserId) -> Admitted {
    Admitted {
        project_id: ProjectId::parse(&PROJECT.to_string()).unwrap(),
        user_id: user.clone(),
        name: "racer".into(),
        access: ChatAccess::Administrator,
        moderator: true,
    }
}

/// How a reconnecting client catches up.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum CatchUp {
    /// The documented rule: `after` the newest message held (the service adds the overlap
    /// window), dropping ids already held.
    Documented,
    /// Exactly the messages after the newest one held, as catch-up worked before: the control
    /// that shows the race happens in this run.
    ExactAfter,
}

/// One simulated client: connects, catches up, listens a few milliseconds, disconnects, again
/// and again until the senders are done, then once more. Returns the message ids it holds.
#[allow(clippy::too_many_arguments)]
async fn reconnecting_client(
    n: usize,
    rule: CatchUp,
    chat: ChatService,
    messages: Arc<dyn ChatStore>,
    stores: ChatStores,
    loopback: LoopbackConnections,
    senders_done: Arc<AtomicBool>,
    mut rng: TestRng,
) -> HashSet<String> {
    let user = UserId::parse(&new_user_id()).unwrap();
    let me = admitted(&user);
    let overlap = chat.timing().overlap;
    // Message id → the cursor last seen with it (a page's carries its read).
    let mut held: HashMap<String, ChatCursor> = HashMap::new();
    let mut round = 0;
    loop {
        let last = senders_done.load(Ordering::SeqCst);
        round += 1;
        let connection = open_connection(&format!("c{n}x{round}="), &user, me.project_id, true);
        let id = connection.connection_id.clone();
        loopback.open(id.as_str());
        stores.connections.put(&connection).await.unwrap();
        // Catch up after the newest message held, then page on with the page's after cursor.
        let mut asked = held.values().max_by(|a, b| a.key().cmp(b.key())).cloned().unwrap_or_else(ChatCursor::origin);
        loop {
            let query =
                HistoryQuery { position: HistoryPosition::After(asked.clone()), from: None, to: None, limit: 100 };
            let page = match rule {
                CatchUp::Documented => chat.history(&me, &query).await.unwrap(),
                CatchUp::ExactAfter => {
                    let exact = messages.history(me.project_id, &query).await.unwrap();
                    ChatPage { messages: exact.messages, has_more: exact.has_more, read_at: Some(now_ms()) }
                }
            };
            assert!(page.messages.len() <= 100, "a page longer than its limit: {}", page.messages.len());
            for m in &page.messages {
                // Nothing before the cursor comes back but what could still have been
                // committing when the cursor was handed out.
                if m.sort_key().as_str() <= asked.key() {
                    let first = asked.first_unsettled(overlap);
                    assert!(
                        first.is_some_and(|first| m.timestamp >= first),
                        "{} re-sent from outside the overlap of {asked:?}",
                        m.message_id
                    );
                }
                held.insert(m.message_id.to_string(), page.cursor_of(m));
            }
            if !page.has_more {
                break;
            }
            asked = page.after_cursor(Some(&asked)).expect("a page with more has messages");
        }
        if !last {
            tokio::time::sleep(Duration::from_millis(rng.random_range(1..=6))).await;
        }
        loopback.close(id.as_str());
        stores.connections.remove(&id).await.unwrap();
        for frame in loopback.received(id.as_str()) {
            let cursor = ChatCursor::decode(frame["cursor"].as_str().unwrap()).unwrap();
            held.entry(frame["message_id"].as_str().unwrap().to_owned()).or_insert(cursor);
        }
        if last {
            return held.into_keys().collect();
        }
    }
}

/// Races `sends` messages (from 16 senders, commits delayed 0–`max_ms`) against 6 clients that
/// reconnect and catch up every few milliseconds, half by the documented rule and half by an
/// exact `after`. Returns how many messages the exact-after clients missed in all.
async fn race_catch_up(stores: ChatStores, sends: usize, max_ms: u64, seed: u8, timing: ChatTiming) -> usize {
    let delayed: Arc<dyn ChatStore> =
        Arc::new(DelayedCommits { store: stores.messages.clone(), max_ms, rng: Mutex::new(seeded(seed)) });
    let stores = ChatStores { messages: delayed.clone(), ..stores };
    let (loopback, siblings) = (LoopbackConnections::start().await, SiblingStandIn::start().await);
    let chat = chat_service(&stores, &loopback, &siblings).await.with_timing(timing);
    let started = std::time::Instant::now();
    let senders_done = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..6)
        .map(|n| {
            let rule = if n % 2 == 0 { CatchUp::Documented } else { CatchUp::ExactAfter };
            let rng = seeded(seed.wrapping_add(1 + n as u8));
            let task = reconnecting_client(
                n,
                rule,
                chat.clone(),
                delayed.clone(),
                stores.clone(),
                loopback.clone(),
                senders_done.clone(),
                rng,
            );
            (rule, tokio::spawn(task))
        })
        .collect();
    let senders: Vec<_> = (0..16)
        .map(|s| {
            let chat = chat.clone();
            let me = admitted(&UserId::parse(&new_user_id()).unwrap());
            tokio::spawn(async move {
                for i in 0..sends / 16 {
                    let new =
                        NewMessage { message: format!("s{s}-{i}"), client_message_id: None, is_in_meeting: false };
                    // Under the scaled-down budgets a slow write may be refused (503); the race
                    // is about what was stored.
                    let _ = chat.send(&me, new, &CallContext::default()).await;
                }
            })
        })
        .collect();
    for sender in senders {
        sender.await.unwrap();
    }
    senders_done.store(true, Ordering::SeqCst);
    let lasted = started.elapsed();
    let window = timing.overlap.to_std().unwrap();
    assert!(lasted > window * 4, "the run ({lasted:?}) must last many overlap windows ({window:?})");
    let everything =
        HistoryQuery { position: HistoryPosition::After(ChatCursor::origin()), from: None, to: None, limit: 100_000 };
    let stored: HashSet<String> = delayed
        .history(ProjectId::parse(&PROJECT.to_string()).unwrap(), &everything)
        .await
        .unwrap()
        .messages
        .iter()
        .map(|m| m.message_id.to_string())
        .collect();
    assert!(stored.len() >= sends / 16 * 15, "{} of {sends} stored", stored.len());
    let mut exact_missed = 0;
    for (rule, client) in clients {
        let held = client.await.unwrap();
        let missed = stored.difference(&held).count();
        match rule {
            CatchUp::Documented => assert_eq!(missed, 0, "a client following the catch-up rule missed messages"),
            CatchUp::ExactAfter => exact_missed += missed,
        }
    }
    exact_missed
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn catch_up_misses_nothing_while_sends_commit_out_of_order_on_the_embedded_store() {
    let db = TestDb::sqlite();
    db.migrate_as_deploy().await;
    let stores = ChatStores::sql(Arc::new(db.sql_db()));
    // Budgets and overlap scaled down together, so the run lasts many windows: the last
    // catch-up alone cannot cover what earlier ones missed.
    let timing = ChatTiming {
        write: Duration::from_millis(250),
        send: Duration::from_millis(500),
        overlap: chrono::Duration::milliseconds(800),
    };
    let exact_missed = race_catch_up(stores, 3_200, 4, 11, timing).await;
    // The control: the same race loses messages for a client that reads exactly `after`.
    assert!(exact_missed > 0, "the race did not happen; the test proves nothing");
    println!("exact-after clients missed {exact_missed} messages; documented-rule clients none");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn catch_up_misses_nothing_while_sends_commit_out_of_order_on_dynamodb() {
    let dynamo = TestDynamo::new().await;
    // moto serves one request at a time, so fewer sends than on the embedded store.
    // moto is slower and busier: wider budgets, still a small part of the run.
    let timing = ChatTiming {
        write: Duration::from_secs(1),
        send: Duration::from_secs(2),
        overlap: chrono::Duration::seconds(3),
    };
    let exact_missed = race_catch_up(dynamo.stores(), 640, 4, 23, timing).await;
    println!("exact-after clients missed {exact_missed} messages; documented-rule clients none");
}

/// Sends through a proxy that loses the answer of the first write after DynamoDB applied it:
/// the SDK retries, and the send must read as the success it was and broadcast once.
#[tokio::test]
async fn a_retried_write_that_committed_is_a_success_broadcast_once() {
    let dynamo = TestDynamo::new().await;
    let proxy = FaultProxy::start(&dynamo.endpoint, Duration::ZERO).await;
    let stores = dynamo.stores_via(&proxy.endpoint);
    let (loopback, siblings) = (LoopbackConnections::start().await, SiblingStandIn::start().await);
    let chat = chat_service(&stores, &loopback, &siblings).await;
    let me = admitted(&UserId::parse(&new_user_id()).unwrap());
    let listener = open_connection("listener=", &me.user_id, me.project_id, true);
    stores.connections.put(&listener).await.unwrap();
    loopback.open("listener=");

    // A generated id (a plain PutItem) and a client's id (a transaction with its marker).
    proxy.lose_answer("PutItem", 1);
    proxy.lose_answer("TransactWriteItems", 1);
    let cases = [(None, "PutItem"), (Some("client-key-1".to_owned()), "TransactWriteItems")];
    for (client_message_id, target) in cases {
        let before = proxy.calls(target);
        let new = NewMessage { message: format!("via {target}"), client_message_id, is_in_meeting: false };
        let outcome = chat.send(&me, new, &CallContext::default()).await.expect("a committed write is a success");
        assert!(outcome.created, "{target}: reported as already stored");
        assert_eq!(outcome.fanout.delivered, 1, "{target}: broadcast once");
        assert_eq!(proxy.calls(target) - before, 2, "{target}: the SDK retried the write whose answer was lost");
    }
    let texts: Vec<String> =
        loopback.received("listener=").iter().map(|f| f["message"].as_str().unwrap().to_owned()).collect();
    assert_eq!(texts, ["via PutItem", "via TransactWriteItems"]);
    let stored = chat.history(&me, &HistoryQuery::latest(100)).await.unwrap();
    assert_eq!(stored.messages.len(), 2, "each message stored once");

    // The client's own retry of the same key (a new send) stores and broadcasts nothing.
    let again = NewMessage {
        message: "via TransactWriteItems".into(),
        client_message_id: Some("client-key-1".into()),
        is_in_meeting: false,
    };
    let outcome = chat.send(&me, again, &CallContext::default()).await.unwrap();
    assert!(!outcome.created);
    assert_eq!(loopback.received("listener=").len(), 2);
}

fn connection(project: ProjectId, n: usize) -> Connection {
    open_connection(&format!("live{n}="), &UserId::parse(&new_user_id()).unwrap(), project, true)
}

/// 1,000 sends to one project, `in_flight` at a time (many in the same millisecond): all
/// stored, and every live connection receives each exactly once.
async fn thousand_sends(stores: ChatStores, in_flight: usize) {
    let (loopback, siblings) = (LoopbackConnections::start().await, SiblingStandIn::start().await);
    let chat = chat_service(&stores, &loopback, &siblings).await;
    let me = admitted(&UserId::parse(&new_user_id()).unwrap());
    for n in 0..5 {
        let c = connection(me.project_id, n);
        stores.connections.put(&c).await.unwrap();
        loopback.open(c.connection_id.as_str());
    }
    let outcomes: Vec<_> = stream::iter(0..1_000)
        .map(|i| {
            let (chat, me) = (chat.clone(), me.clone());
            tokio::spawn(async move {
                let new = NewMessage { message: format!("m{i}"), client_message_id: None, is_in_meeting: false };
                chat.send(&me, new, &CallContext::default()).await
            })
        })
        .buffer_unordered(in_flight)
        .collect()
        .await;
    let mut stamps: HashMap<i64, usize> = HashMap::new();
    for outcome in outcomes {
        let outcome = outcome.unwrap().expect("every send succeeds");
        assert_eq!(outcome.fanout.delivered, 5);
        *stamps.entry(outcome.message.timestamp.timestamp_millis()).or_default() += 1;
    }
    assert!(stamps.values().any(|&n| n > 1), "some sends shared a millisecond");
    let mut all = Vec::new();
    let mut position = HistoryPosition::Latest;
    loop {
        let query = HistoryQuery { position, from: None, to: None, limit: 100 };
        let page = stores.messages.history(me.project_id, &query).await.unwrap();
        let Some(oldest) = page.messages.first().map(ChatMessage::cursor) else { break };
        all.extend(page.messages.into_iter().map(|m| m.message));
        if !page.has_more {
            break;
        }
        position = HistoryPosition::Before(oldest);
    }
    let expected: HashSet<String> = (0..1_000).map(|i| format!("m{i}")).collect();
    assert_eq!(all.len(), 1_000);
    assert_eq!(all.iter().cloned().collect::<HashSet<_>>(), expected);
    for n in 0..5 {
        let received: Vec<String> = loopback
            .received(&format!("live{n}="))
            .iter()
            .map(|f: &Value| f["message"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(received.len(), 1_000, "connection {n}: each message once");
        assert_eq!(received.into_iter().collect::<HashSet<_>>(), expected);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_thousand_sends_at_once_are_all_stored_and_each_delivered_once_on_the_embedded_store() {
    let db = TestDb::sqlite();
    db.migrate_as_deploy().await;
    thousand_sends(ChatStores::sql(Arc::new(db.sql_db())), 1_000).await;
}

/// moto serves one request at a time: 1,000 sends at once would queue past the 3 s write
/// budget (and rightly answer 503), so 20 at a time; same-millisecond stamps still abound.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_thousand_concurrent_sends_are_all_stored_and_each_delivered_once_on_dynamodb() {
    let dynamo = TestDynamo::new().await;
    thousand_sends(dynamo.stores(), 20).await;
}

/// 100 identical sends with one idempotency key at once: one stored, one broadcast; the others
/// answer with the stored message, or ask for a retry while the first is in flight.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hundred_concurrent_identical_idempotent_sends_store_one() {
    let dynamo = TestDynamo::new().await;
    let stores = dynamo.stores();
    let (loopback, siblings) = (LoopbackConnections::start().await, SiblingStandIn::start().await);
    let chat = chat_service(&stores, &loopback, &siblings).await;
    let me = admitted(&UserId::parse(&new_user_id()).unwrap());
    let c = connection(me.project_id, 0);
    stores.connections.put(&c).await.unwrap();
    loopback.open(c.connection_id.as_str());
    let sends = (0..100).map(|_| {
        let (chat, me) = (chat.clone(), me.clone());
        tokio::spawn(async move {
            let new = NewMessage {
                message: "only once".into(),
                client_message_id: Some("same-key".into()),
                is_in_meeting: false,
            };
            chat.send(&me, new, &CallContext::default()).await
        })
    });
    let (mut created, mut existing, mut retry) = (0, 0, 0);
    for outcome in join_all(sends).await {
        match outcome.unwrap() {
            Ok(o) if o.created => created += 1,
            Ok(o) => {
                assert_eq!(o.message.message, "only once");
                existing += 1;
            }
            Err(AppError::Unavailable(_)) => retry += 1,
            Err(e) => panic!("unexpected answer: {e}"),
        }
    }
    assert_eq!(created, 1);
    assert_eq!(created + existing + retry, 100);
    let page = stores.messages.history(me.project_id, &HistoryQuery::latest(100)).await.unwrap();
    assert_eq!(page.messages.len(), 1, "one message stored");
    assert_eq!(loopback.received(c.connection_id.as_str()).len(), 1, "one broadcast");
    assert_eq!(json!(page.messages[0].message), json!("only once"));
}
