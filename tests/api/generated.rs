//! Generated bad input, seeded (proptest): every HTTP route of openapi.yaml and every WebSocket
//! frame kind, fed malformed and truncated JSON, wrong types, huge, empty and whitespace strings,
//! ids at and past the edges, invalid UTF-8 and control characters, Korean and emoji, SQL and
//! script payloads, unknown fields, duplicate keys, forged cursors, path segments that are not
//! UTF-8, and dates at the edges of what the stores hold. Never a 5xx or a panic; every answer is
//! JSON and what openapi.yaml says that route answers with that status (so every 4xx carries the
//! error envelope); a refused write leaves the stored data as it was (but for a moderation
//! action's 409, which the report's log records); a date the API accepts is one it lists.

use std::sync::{
    Arc,
    atomic::{AtomicUsize, Ordering},
};

use base64::{Engine, engine::general_purpose::STANDARD};
use proptest::{
    prelude::*,
    test_runner::{Config as ProptestConfig, RngAlgorithm, TestRng, TestRunner},
};
use serde_json::{Map, Value, json};
use service_tests::{
    Reply, TestApi, TestDb, TestEnv, Who, admin, gateway_event, notify_service,
    openapi::{assert_conforms, document},
    user,
};
use sqlx::{Connection, MySqlConnection, Row};

/// Requests each property sends; together past 10,000 (the WebSocket frames are in
/// `websocket.rs`'s neighbour below).
const HTTP_CASES: u32 = 6_000;
const DATE_CASES: u32 = 1_500;
const FRAME_CASES: u32 = 2_500;

fn runner(cases: u32, seed: u8) -> TestRunner {
    let config =
        ProptestConfig { cases, failure_persistence: None, max_shrink_iters: 200, ..ProptestConfig::default() };
    TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &[seed; 32]))
}

/// One route of openapi.yaml.
#[derive(Debug, Clone)]
struct Operation {
    method: String,
    template: String,
    path_params: Vec<String>,
    query_params: Vec<String>,
    /// Property names of the JSON body, when it takes one.
    body: Option<Vec<String>>,
}

fn operations(doc: &Value) -> Vec<Operation> {
    let mut ops = Vec::new();
    for (template, item) in doc["paths"].as_object().expect("paths") {
        for method in ["get", "post", "patch", "put", "delete"] {
            let Some(op) = item.get(method) else { continue };
            let params = op["parameters"].as_array().cloned().unwrap_or_default();
            let named = |place: &str| -> Vec<String> {
                params.iter().filter(|p| p["in"] == place).map(|p| p["name"].as_str().unwrap().to_owned()).collect()
            };
            let body = op.pointer("/requestBody/content/application~1json/schema/$ref").map(|r| {
                let name = r.as_str().unwrap().rsplit('/').next().unwrap();
                doc["components"]["schemas"][name]["properties"]
                    .as_object()
                    .map(|p| p.keys().cloned().collect())
                    .unwrap_or_default()
            });
            ops.push(Operation {
                method: method.to_ascii_uppercase(),
                template: template.clone(),
                path_params: named("path"),
                query_params: named("query"),
                body,
            });
        }
    }
    ops
}

fn sql_and_script() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "' OR '1'='1",
        "1; DROP TABLE notices; --",
        "\" UNION SELECT password FROM mysql.user --",
        "<script>alert(1)</script>",
        "javascript:alert(1)",
        "${jndi:ldap://x}",
        "../../etc/passwd",
        "%00",
        "\\u0000",
        "NULL",
        "null",
        "true",
        "[]",
        "{}",
    ])
    .prop_map(str::to_owned)
}

fn edge_date() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "0000-01-01",
            "-0001-01-01",
            "+10000-01-01",
            "9999-12-31",
            "9999-12-31T23:59:59.999Z",
            "1000-01-01",
            "1000-01-02",
            "1969-12-31T23:59:59Z",
            "1970-01-01T00:00:00Z",
            "2038-01-19T03:14:08Z",
            "2262-04-11T23:47:16Z",
            "2286-11-20T17:46:40Z",
            "2026-02-29",
            "2028-02-29",
            "2026-13-01",
            "2026-11-31",
            "2026-11-30T24:00:00+09:00",
            "2026-11-30T12:00:00+14:00",
            "2026-11-30T12:00:00-12:00",
            "2026-11-30T12:00:00+25:00",
            "2026-11-30 12:00",
            "+002026-11-30T00:00:00Z",
            "262143-12-31",
            "-262144-01-01",
            "2026-11-30T12:00:00.123456789Z",
            "20261130",
            "",
            " ",
        ])
        .prop_map(str::to_owned),
        (-300_000i32..300_000, 0u32..14, 0u32..33).prop_map(|(y, m, d)| format!("{y:04}-{m:02}-{d:02}")),
        (-300_000i32..300_000, 1u32..13, 1u32..29, 0u32..25, -15i32..16)
            .prop_map(|(y, m, d, h, z)| format!("{y:+05}-{m:02}-{d:02}T{h:02}:00:00{z:+03}:00")),
    ]
}

/// A string a client could send: anything from empty to past every limit.
fn nasty_string() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "\\PC{0,40}",
        2 => any::<String>(),
        2 => "[가-힣 ]{1,60}",
        1 => Just("😀👍🏽🇰🇷 팀 채팅 🚀".to_owned()),
        1 => Just(String::new()),
        1 => "[ \t\r\n]{1,8}",
        2 => sql_and_script(),
        1 => Just("\u{202e}evil\u{200b}name\u{feff}".to_owned()),
        1 => "[\\x00-\\x1f\\x7f]{1,8}",
        2 => edge_date(),
        1 => (2_001usize..25_000).prop_map(|n| "가".repeat(n)),
        1 => (60_000usize..100_000).prop_map(|n| "x".repeat(n)),
    ]
}

fn nasty_number() -> impl Strategy<Value = Value> {
    prop_oneof![
        prop::sample::select(vec![
            json!(0),
            json!(-1),
            json!(1),
            json!(2),
            json!(3),
            json!(i64::MIN),
            json!(i64::MAX),
            json!(u64::MAX),
            json!(1e308),
            json!(-0.0),
            json!(1.5),
            json!(2147483648_i64),
        ]),
        any::<i64>().prop_map(|n| json!(n)),
    ]
}

fn nasty_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        4 => nasty_string().prop_map(Value::String),
        3 => nasty_number(),
        1 => any::<bool>().prop_map(Value::Bool),
        1 => Just(Value::Null),
    ];
    leaf.prop_recursive(2, 8, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_]{1,12}", inner, 0..3)
                .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// A path or query value, percent-encoded: ids at the edges, text that is no id, bytes that are
/// no UTF-8, forged cursors.
fn raw_segment() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => (1u8..4).prop_map(|n| n.to_string()),
        2 => prop::sample::select(vec![
            "0", "-1", "+1", "01", "%201", "1.0", "1e3", "9223372036854775807", "9223372036854775808",
            "-9223372036854775809", "99999999999999999999999", "%FF%FE", "%C3%28", "%ED%A0%80", "%00", "%0A",
            "%EF%BC%91", "abc", "true", "null", "%20", "..%2F..", "%25", "%F0%9F%98%80",
        ])
        .prop_map(str::to_owned),
        // API Gateway refuses request lines past 10 KB before a function sees them.
        2 => nasty_string().prop_map(|s| percent(&s.chars().take(600).collect::<String>())),
        1 => "[A-Za-z0-9_-]{0,80}",
        1 => prop::collection::vec(any::<u8>(), 0..40).prop_map(|b| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)),
        1 => ("[0-9]{13}", "[A-Za-z0-9_ -]{0,70}").prop_map(|(ms, id)| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("m#{ms}#{id}"))
        }),
        1 => edge_date().prop_map(|s| percent(&s)),
    ]
}

fn percent(raw: &str) -> String {
    raw.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// A request body as bytes on the wire.
fn body_for(props: Vec<String>) -> impl Strategy<Value = Vec<u8>> {
    let object = (
        prop::collection::vec((prop::sample::select(props.clone()), nasty_value()), 0..6),
        prop::collection::vec(("[a-z_]{1,10}", nasty_value()), 0..2),
    )
        .prop_map(|(known, unknown)| {
            let mut map = Map::new();
            for (k, v) in known.into_iter().chain(unknown) {
                map.insert(k, v);
            }
            Value::Object(map)
        })
        .boxed();
    let props_for_dup = props.clone();
    prop_oneof![
        6 => object.clone().prop_map(|v| v.to_string().into_bytes()),
        2 => (object.clone(), any::<prop::sample::Index>()).prop_map(|(v, cut)| {
            let text = v.to_string().into_bytes();
            let at = cut.index(text.len().max(1));
            text[..at].to_vec()
        }),
        1 => (prop::sample::select(props_for_dup), nasty_value(), nasty_value()).prop_map(|(k, a, b)| {
            format!("{{\"{k}\": {a}, \"{k}\": {b}}}").into_bytes()
        }),
        1 => nasty_value().prop_map(|v| v.to_string().into_bytes()),
        1 => prop::collection::vec(any::<u8>(), 0..64),
        1 => object.prop_map(|v| {
            let mut text = v.to_string().into_bytes();
            text.splice(1..1, [0xff, 0xfe, b'"', 0xc3, b'"', b':', b'1', b',']);
            text
        }),
        1 => (262_000usize..300_000).prop_map(|n| format!("{{\"message\": \"{}\"}}", "x".repeat(n)).into_bytes()),
    ]
}

#[derive(Debug, Clone)]
struct Request {
    op: usize,
    path_values: Vec<String>,
    query: Vec<(String, String)>,
    body: Option<Vec<u8>>,
    caller: usize,
}

fn request(ops: Arc<Vec<Operation>>) -> impl Strategy<Value = Request> {
    (0..ops.len()).prop_flat_map(move |op| {
        let o = ops[op].clone();
        let path_values = prop::collection::vec(raw_segment(), o.path_params.len());
        let mut names = o.query_params.clone();
        names.push("unknown_param".into());
        let query = prop::collection::vec((prop::sample::select(names), raw_segment()), 0..4);
        let body = match o.body.clone() {
            Some(props) if !props.is_empty() => prop::option::weighted(0.95, body_for(props)).boxed(),
            Some(_) => prop::option::of(body_for(vec!["x".into()])).boxed(),
            None => prop::option::weighted(0.1, body_for(vec!["x".into()])).boxed(),
        };
        (Just(op), path_values, query, body, 0usize..10).prop_map(|(op, path_values, query, body, caller)| Request {
            op,
            path_values,
            query,
            body,
            caller,
        })
    })
}

/// The service and what the generated requests act as.
struct World {
    api: TestApi,
    doc: Value,
    ops: Arc<Vec<Operation>>,
    member: Who,
    admin: Who,
}

impl World {
    async fn new() -> Self {
        let api = TestApi::over(TestEnv::new(TestDb::mariadb().await).await).await;
        let (member, admin) = (user(), admin());
        // Projects 1–3 exist and `member` is in their teams, so ids 1–3 reach past membership.
        for id in 1..=3 {
            api.env.siblings.project_in_team(id, id, "generated", member.user_id(), &[]);
        }
        let doc = document();
        let ops = Arc::new(operations(&doc));
        let world = Self { api, doc, ops, member, admin };
        world.seed().await;
        world
    }

    /// Something to find under ids 1–3: notices, banners, events, a notification, a report, chat.
    async fn seed(&self) {
        let api = &self.api;
        for n in 1..=3 {
            let notice = json!({"title": format!("공지 {n}"), "content": "본문"});
            assert!(api.post("/admin/notices", &self.admin, notice).await.status < 300);
            let banner = json!({"title": format!("배너 {n}"), "link": "/events"});
            assert!(api.post("/admin/banners", &self.admin, banner).await.status < 300);
            let event = json!({"title": format!("해커톤 {n}"), "category": "HACKATHON", "start_date": "2026-12-01", "end_date": "2026-12-02"});
            assert!(api.post("/events", &self.admin, event).await.status < 300);
            let message = json!({"message": format!("안녕 {n}")});
            assert!(api.post(&format!("/chat/{n}/messages"), &self.member, message).await.status < 300);
        }
        let note = json!({"user_id": self.member.user_id(), "message": "알림", "link": "/projects/1"});
        assert!(api.post("/notifications", &notify_service(), note).await.status < 300);
        let report = json!({"project_id": 1, "type": "REPORT", "content": "광고만 올라옵니다"});
        let _ = api.post("/reports", &self.member, report).await;
    }

    fn caller(&self, n: usize) -> Who {
        match n {
            0..=3 => self.member.clone(),
            4..=6 => self.admin.clone(),
            7 => notify_service(),
            8 => user(),
            _ => Who::Anonymous,
        }
    }

    fn event_for(&self, r: &Request) -> (String, &Operation) {
        let op = &self.ops[r.op];
        let mut path = op.template.clone();
        for (name, value) in op.path_params.iter().zip(&r.path_values) {
            path = path.replace(&format!("{{{name}}}"), value);
        }
        let query: Vec<String> = r.query.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let uri = if query.is_empty() { path } else { format!("{path}?{}", query.join("&")) };
        let mut event = gateway_event(&op.method, &uri, &self.caller(r.caller), None);
        if let Some(body) = &r.body {
            match std::str::from_utf8(body) {
                Ok(text) => event["body"] = json!(text),
                Err(_) => {
                    event["body"] = json!(STANDARD.encode(body));
                    event["isBase64Encoded"] = json!(true);
                }
            }
        }
        (event.to_string(), op)
    }

    /// What a rejected write must leave as it was: every table's checksum, and the number of
    /// chat items.
    async fn fingerprint(&self) -> (Vec<(String, Option<i64>)>, i32) {
        let (server, name) = self.api.env.db.mariadb_name().expect("MariaDB");
        let mut conn = MySqlConnection::connect(&format!("{server}/{name}")).await.expect("connect");
        let tables: Vec<String> = sqlx::query("SHOW TABLES")
            .fetch_all(&mut conn)
            .await
            .expect("tables")
            .iter()
            .map(|r| r.get::<String, _>(0))
            .filter(|t| !t.starts_with('_'))
            .collect();
        let mut sums = Vec::new();
        for t in tables {
            let row = sqlx::query(&format!("CHECKSUM TABLE `{t}`")).fetch_one(&mut conn).await.expect("checksum");
            sums.push((t, row.try_get::<Option<i64>, _>(1).unwrap_or(None)));
        }
        let chat = self
            .api
            .env
            .dynamo
            .client()
            .scan()
            .table_name(&self.api.env.dynamo.tables().messages)
            .select(aws_sdk_dynamodb::types::Select::Count)
            .send()
            .await
            .expect("scan")
            .count();
        (sums, chat)
    }
}

fn check_reply(world: &World, op: &Operation, reply: &Reply) {
    assert!(reply.status < 500, "{} {} answered {}: {}", op.method, op.template, reply.status, reply.body);
    if reply.body["code"] == "ROUTE_NOT_FOUND" {
        // A segment decoded to `/` made the path another route's, or none: the router's own
        // 404, in the error envelope.
        reply.assert_error(404, "ROUTE_NOT_FOUND");
        return;
    }
    assert_conforms(&world.doc, &op.method, &op.template, reply.status, &reply.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_requests_to_every_route_get_documented_json_answers_and_change_nothing_when_refused() {
    let world = World::new().await;
    let handle = tokio::runtime::Handle::current();
    let sent = AtomicUsize::new(0);
    let refused_writes = AtomicUsize::new(0);
    let mut runner = runner(HTTP_CASES, 7);
    let outcome = tokio::task::block_in_place(|| {
        runner.run(&request(world.ops.clone()), |r| {
            handle.block_on(async {
                let (event, op) = world.event_for(&r);
                let writes = op.method != "GET";
                let before = if writes { Some(world.fingerprint().await) } else { None };
                let reply = world.api.send_event(&event).await;
                sent.fetch_add(1, Ordering::Relaxed);
                check_reply(&world, op, &reply);
                // A 409 can be the Project service's answer to a moderation action, which the
                // report's log records by design; every other refusal leaves the data alone.
                if let Some(before) = before
                    && reply.status >= 400
                    && reply.status != 409
                {
                    refused_writes.fetch_add(1, Ordering::Relaxed);
                    assert_eq!(
                        world.fingerprint().await,
                        before,
                        "a refused {} {} changed stored data",
                        op.method,
                        op.template
                    );
                }
            });
            Ok(())
        })
    });
    outcome.unwrap();
    let (sent, refused) = (sent.into_inner(), refused_writes.into_inner());
    println!(
        "{sent} generated HTTP requests over {} routes; {refused} refused writes changed nothing",
        world.ops.len()
    );
    assert!(sent >= HTTP_CASES as usize);
}

/// Event dates at the edges: whatever `POST /events` accepts, `GET /events/{id}` and a range
/// filter around it list, with the bounds it was given.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_date_the_api_accepts_is_one_it_lists() {
    let world = World::new().await;
    let handle = tokio::runtime::Handle::current();
    let accepted = AtomicUsize::new(0);
    let mut runner = runner(DATE_CASES, 9);
    let outcome = tokio::task::block_in_place(|| {
        let plausible = (1_000i32..10_000, 1u32..13, 1u32..29, 0i64..40).prop_map(|(y, m, d, span)| {
            let start = chrono::NaiveDate::from_ymd_opt(y, m, d).unwrap();
            (start.to_string(), (start + chrono::Duration::days(span)).to_string())
        });
        let pairs = prop_oneof![(edge_date(), edge_date()), plausible, edge_date().prop_map(|d| (d.clone(), d))];
        runner.run(&pairs, |(start, end)| {
            handle.block_on(async {
                let body = json!({"title": "경계", "category": "CONFERENCE", "start_date": start, "end_date": end});
                let created = world.api.post("/events", &world.admin, body).await;
                let op = world.ops.iter().find(|o| o.method == "POST" && o.template == "/events").unwrap();
                check_reply(&world, op, &created);
                if created.status != 201 {
                    return;
                }
                accepted.fetch_add(1, Ordering::Relaxed);
                let event = &created.body["data"];
                let id = event["event_id"].as_i64().expect("an id");
                let read = world.api.get(&format!("/events/{id}"), &world.member).await;
                assert_eq!(read.status, 200, "accepted {start}..{end} but cannot read it back: {}", read.body);
                assert_eq!(read.body["data"]["start_date"], event["start_date"]);
                // Events that end on or after `from` and start on or before `to` (KST days).
                let kst_day = |field: &str| {
                    let at = chrono::DateTime::parse_from_rfc3339(event[field].as_str().unwrap()).expect(field);
                    at.with_timezone(&chrono::FixedOffset::east_opt(9 * 3600).unwrap()).date_naive().to_string()
                };
                let (from, to) = (kst_day("start_at"), kst_day("end_at"));
                let listed = world.api.get(&format!("/events?from={from}&to={to}&limit=100"), &world.member).await;
                assert_eq!(
                    listed.status, 200,
                    "accepted {start}..{end} but its range cannot be listed: {}",
                    listed.body
                );
                let ids: Vec<i64> =
                    listed.body["data"].as_array().unwrap().iter().filter_map(|e| e["event_id"].as_i64()).collect();
                assert!(
                    ids.contains(&id),
                    "accepted {start}..{end}; a filter on its own days ({from}..{to}) does not list it"
                );
                // Keep the list short for the next case.
                assert_eq!(world.api.delete(&format!("/events/{id}"), &world.admin).await.status, 200);
            });
            Ok(())
        })
    });
    outcome.unwrap();
    println!("{} of {DATE_CASES} generated date pairs accepted, each read back and listed", accepted.into_inner());
}

/// A frame's text (or bytes, sent as a binary frame), for each frame kind.
fn frame_body() -> impl Strategy<Value = Vec<u8>> {
    let action = prop_oneof![
        4 => prop::sample::select(vec!["sendMessage", "ping", "history", "subscribe", "markRead", "typing"])
            .prop_map(|a| Some(json!(a))),
        1 => Just(None),
        1 => nasty_value().prop_map(Some),
    ];
    let fields = prop::collection::vec(
        (
            prop::sample::select(vec![
                "message",
                "message_id",
                "is_in_meeting",
                "after",
                "limit",
                "notifications",
                "live",
                "up_to",
                "other",
            ]),
            nasty_value(),
        ),
        0..5,
    );
    let object = (action, fields, prop::option::of(raw_segment()))
        .prop_map(|(action, fields, cursor)| {
            let mut map = Map::new();
            if let Some(action) = action {
                map.insert("action".into(), action);
            }
            for (k, v) in fields {
                map.insert(k.into(), v);
            }
            if let Some(cursor) = cursor {
                map.insert("after".into(), json!(cursor));
            }
            Value::Object(map)
        })
        .boxed();
    prop_oneof![
        6 => object.clone().prop_map(|v| v.to_string().into_bytes()),
        2 => (object, any::<prop::sample::Index>()).prop_map(|(v, cut)| {
            let text = v.to_string().into_bytes();
            text[..cut.index(text.len().max(1))].to_vec()
        }),
        1 => (nasty_value(), nasty_value()).prop_map(|(a, b)| format!("{{\"message\": {a}, \"message\": {b}}}").into_bytes()),
        1 => nasty_value().prop_map(|v| v.to_string().into_bytes()),
        1 => prop::collection::vec(any::<u8>(), 0..64),
        1 => (32_000usize..40_000).prop_map(|n| format!("{{\"action\": \"sendMessage\", \"message\": \"{}\"}}", "x".repeat(n)).into_bytes()),
    ]
}

/// Every frame kind, generated: the route answers 200 (errors go to the sender as frames),
/// every frame the sender gets is one the README lists, and a refused send stores nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_websocket_frames_get_listed_frames_and_a_refused_send_stores_nothing() {
    let env = TestEnv::new(TestDb::sqlite()).await;
    let message = shared::lambda::ws_message(env.config()).await.expect("ws-message builds");
    let connect = shared::lambda::ws_connect(env.config()).await.expect("ws-connect builds");
    let member = service_tests::new_user_id();
    env.siblings.members(1, &[&member]);
    let id = "GeneratedConn=";
    assert_eq!(connect.handle(&service_tests::connect_event(id, Some("1"), Some(&member))).await.status_code, 200);
    env.loopback.open(id);
    let stored = || async {
        let page = env
            .chat()
            .messages
            .history(shared::domain::ProjectId::new(1).unwrap(), &shared::domain::chat::HistoryQuery::latest(100))
            .await;
        page.expect("history").messages.len()
    };
    let handle = tokio::runtime::Handle::current();
    let (sent, refused) = (AtomicUsize::new(0), AtomicUsize::new(0));
    let mut runner = runner(FRAME_CASES, 13);
    let outcome = tokio::task::block_in_place(|| {
        runner.run(&frame_body(), |body| {
            handle.block_on(async {
                let mut event = service_tests::fixture("ws-default.json");
                event["requestContext"]["connectionId"] = json!(id);
                match std::str::from_utf8(&body) {
                    Ok(text) => event["body"] = json!(text),
                    Err(_) => {
                        event["body"] = json!(STANDARD.encode(&body));
                        event["isBase64Encoded"] = json!(true);
                    }
                }
                let before_frames = env.loopback.received(id).len();
                let before_stored = stored().await;
                let reply = message.handle(&service_tests::event(event)).await;
                sent.fetch_add(1, Ordering::Relaxed);
                assert_eq!(reply.status_code, 200, "message routes answer 200; errors go as frames");
                let frames = env.loopback.received(id);
                for frame in &frames[before_frames..] {
                    let kind = frame["type"].as_str().unwrap_or_default();
                    assert!(
                        ["message", "history", "pong", "subscribed", "read", "error"].contains(&kind),
                        "unlisted frame {frame}"
                    );
                    if kind == "error" {
                        let code = frame["code"].as_str().unwrap_or_default();
                        assert!(
                            [
                                "INVALID_JSON",
                                "INVALID_FRAME",
                                "BINARY_NOT_SUPPORTED",
                                "FRAME_TOO_LARGE",
                                "VALIDATION_FAILED",
                                "UNKNOWN_ACTION",
                                "CONFLICT"
                            ]
                            .contains(&code),
                            "unexpected error frame {frame}"
                        );
                        assert!(frame["message"].as_str().is_some_and(|m| !m.is_empty()), "{frame}");
                        refused.fetch_add(1, Ordering::Relaxed);
                        assert_eq!(stored().await, before_stored, "a refused frame stored a message");
                    }
                }
            });
            Ok(())
        })
    });
    outcome.unwrap();
    println!("{} generated frames; {} refused with an error frame", sent.into_inner(), refused.into_inner());
}
