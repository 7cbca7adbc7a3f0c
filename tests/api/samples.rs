//! Every sample event in `events/` fed to the function that serves it, in the order a user
//! would send them, each answer asserted exactly: the samples document the API, so a change to
//! any answer shows here. The WebSocket samples have their own exact tests in `websocket.rs`,
//! `security.rs` and `authorizer.rs`; the migrate sample is at the end.

use std::collections::BTreeSet;

use chrono::{Datelike, Utc};
use serde_json::{Value, json};
use service_tests::{Reply, TestApi, TestDb, TestEnv};
use shared::domain::{chat::ChatCursor, time::parse_instant};

const MEMBER: &str = "3f2504e0-4f89-11d3-9a0c-0305e82c3301";
/// In project 42's team with the member (`http-reports-create-message.json`).
const TEAMMATE: &str = "0f8fad5b-d9cb-469f-a165-70867728950e";
/// The samples' administrator.
const ADMIN: &str = "9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d";

fn sample(name: &str) -> String {
    std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../events").join(name))
        .unwrap_or_else(|e| panic!("events/{name}: {e}"))
}

/// The answer's envelope, exactly, with `data` returned for the caller's own checks.
fn envelope(reply: &Reply, status: u16, code: &str, message: &str) -> Value {
    assert_eq!((reply.status, reply.body["code"].as_str()), (status, Some(code)), "{}", reply.body);
    assert_eq!(reply.body["success"], true);
    assert_eq!(reply.body["message"], message);
    reply.body["data"].clone()
}

/// A timestamp the service just wrote: RFC 3339 in UTC with milliseconds, within the test.
fn fresh(at: &Value) -> chrono::DateTime<Utc> {
    let text = at.as_str().unwrap_or_else(|| panic!("not a timestamp: {at}"));
    assert!(text.ends_with('Z') && text.len() == 24, "{text}");
    let at = parse_instant(text).unwrap();
    assert!((Utc::now() - at).num_seconds().abs() < 60, "{text}");
    at
}

#[tokio::test]
async fn every_http_sample_gets_its_exact_answer() {
    let api = TestApi::over(TestEnv::new(TestDb::mariadb().await).await).await;
    // The samples' member is in project 42's team (team 3, as the web app's sample names it).
    api.env.siblings.project_in_team(42, 3, "PortForge 웹", MEMBER, &[TEAMMATE]);
    // Every answer is also checked against openapi.yaml, for the route the sample names.
    let description = service_tests::openapi::document();
    // Samples with dates are answered as written while their dates lie ahead; after that, the
    // same sample with its dates moved (`dated`), so the exact answer never degrades to an
    // empty list that a handler returning nothing would also give.
    let send_dated = |name: &'static str, dated: Vec<(String, String)>| {
        let (api, description) = (&api, &description);
        async move {
            let event = dated.iter().fold(sample(name), |text, (from, to)| text.replace(from, to));
            let route: Value = serde_json::from_str(&event).unwrap();
            let (method, path) = route["routeKey"].as_str().unwrap().split_once(' ').unwrap();
            let reply = api.send_event(&event).await;
            service_tests::openapi::assert_conforms(description, method, path, reply.status, &reply.body);
            reply
        }
    };
    let send = |name: &'static str| send_dated(name, vec![]);

    let health = send("http-health.json").await;
    assert_eq!(envelope(&health, 200, "HEALTHY", "service and its storage are up"), json!({"database": "ok"}));

    // Content: an admin's notice and banner, read publicly and in the admin centre.
    let notice = envelope(&send("http-notices-create.json").await, 201, "NOTICE_CREATED", "notice created");
    let created = fresh(&notice["created_at"]);
    let kst_day = shared::domain::time::Calendar::kst().date_of(&created).format("%Y-%m-%d").to_string();
    assert_eq!(
        notice,
        json!({"notice_id": 1, "id": 1, "title": "서비스 점검 안내", "content": "12월 1일 02:00–04:00 (KST) 점검이 있습니다.",
               "created_at": notice["created_at"], "updated_at": notice["created_at"], "date": kst_day})
    );
    let list = send("http-notices-list.json").await;
    assert_eq!(envelope(&list, 200, "NOTICES_LISTED", "notices, newest first"), json!([notice]));
    assert_eq!(list.body["meta"], json!({"count": 1, "has_more": false, "limit": 10, "next_cursor": null}));
    assert_eq!(
        envelope(
            &send("http-notices-latest.json").await,
            200,
            "LATEST_NOTICE",
            "the newest notice (null when there is none)"
        ),
        notice
    );
    let admin_notices = send("http-admin-notices-list.json").await;
    assert_eq!(envelope(&admin_notices, 200, "NOTICES_LISTED", "notices, newest first"), json!([notice]));
    assert_eq!(admin_notices.body["meta"]["limit"], 20);

    let banner = envelope(&send("http-banners-create.json").await, 201, "BANNER_CREATED", "banner created");
    fresh(&banner["created_at"]);
    assert_eq!(
        banner,
        json!({"banner_id": 1, "id": 1, "title": "겨울 해커톤 참가자 모집", "image_url": "https://cdn.portforge.dev/banners/winter.png",
               "link": "/events/1", "is_active": true, "sort_order": 1,
               "start_at": "2026-11-30T15:00:00.000Z", "end_at": "2026-12-31T14:59:59.000Z",
               "created_at": banner["created_at"], "updated_at": banner["created_at"]})
    );
    // The public list holds the banner only while its window is open.
    let showing = parse_instant("2026-11-30T15:00:00.000Z").unwrap() <= created
        && created <= parse_instant("2026-12-31T14:59:59.000Z").unwrap();
    let public = send("http-banners-list.json").await;
    let expected = if showing { json!([banner]) } else { json!([]) };
    assert_eq!(envelope(&public, 200, "BANNERS_LISTED", "active banners in display order"), expected);
    let admin_banners = send("http-admin-banners-list.json").await;
    assert_eq!(envelope(&admin_banners, 200, "BANNERS_LISTED", "every banner in display order"), json!([banner]));
    assert_eq!(admin_banners.body["meta"], json!({"count": 1}));

    // Events: whole KST days, served as dates and as instants.
    // The winter hackathon of the sample is upcoming until it starts; later, the same event a
    // year after the current one.
    let year =
        if Utc::now() < parse_instant("2026-12-18T15:00:00.000Z").unwrap() { 2026 } else { Utc::now().year() + 1 };
    let moved = vec![("\\\"2026-12-".to_owned(), format!("\\\"{year}-12-"))];
    let event = envelope(&send_dated("http-events-create.json", moved).await, 201, "EVENT_CREATED", "event created");
    fresh(&event["created_at"]);
    assert_eq!(
        event,
        json!({"event_id": 1, "id": 1, "title": "PortForge 겨울 해커톤 2026", "category": "해커톤", "category_code": "HACKATHON",
               "description": "48시간 동안 팀을 꾸려 서비스를 만듭니다.", "location": "서울 강남구", "method": "오프라인",
               "link": "https://portforge.dev/hackathon", "image_url": "https://cdn.portforge.dev/events/winter.png",
               "start_date": format!("{year}-12-19"), "end_date": format!("{year}-12-20"), "all_day": true,
               "start_at": format!("{year}-12-18T15:00:00.000Z"), "end_at": format!("{year}-12-20T14:59:59.999Z"),
               "created_at": event["created_at"], "updated_at": event["created_at"]})
    );
    let events = send("http-events-list.json").await;
    let expected = json!([event]);
    assert_eq!(envelope(&events, 200, "EVENTS_LISTED", "events by start"), expected);

    // Notifications: a sibling service notifies the member, who reads and clears them.
    let notification =
        envelope(&send("http-notifications-create.json").await, 201, "NOTIFICATION_CREATED", "notification created");
    fresh(&notification["created_at"]);
    assert_eq!(
        notification,
        json!({"notification_id": 1, "user_id": MEMBER, "message": "'PortForge 챗봇' 프로젝트 합류가 승인되었습니다 🎉",
               "link": "/projects/42", "is_read": false, "created_at": notification["created_at"]})
    );
    let mine = send("http-notifications-list.json").await;
    assert_eq!(envelope(&mine, 200, "NOTIFICATIONS_LISTED", "notifications, newest first"), json!([notification]));
    assert_eq!(
        envelope(&send("http-notifications-unread-count.json").await, 200, "UNREAD_COUNT", "unread notifications"),
        json!({"unread_count": 1})
    );
    assert_eq!(
        envelope(&send("http-notifications-read.json").await, 200, "NOTIFICATIONS_READ", "notifications marked read"),
        json!({"updated": 1, "unread_count": 0})
    );

    // Chat: the member sends over the API and the web app's route, and reads both back.
    let sent = send("http-chat-send.json").await;
    let message = envelope(&sent, 201, "MESSAGE_SENT", "message stored; meta counts the open sockets it reached");
    let at = fresh(&message["created_at"]);
    assert_eq!(sent.body["meta"], json!({"delivered": 0, "failed": 0, "gone": 0}), "no socket open");
    assert_eq!(
        message,
        json!({"message_id": "web-1a2b3c", "project_id": 42, "user_id": MEMBER, "sender_name": "지민",
               "message": "내일 10시에 스탠드업 해요", "is_in_meeting": false, "edited_at": null, "deleted": false,
               "created_at": message["created_at"], "timestamp": message["created_at"], "cursor": message["cursor"]})
    );
    let history = send("http-chat-history.json").await;
    let mut listed = envelope(&history, 200, "MESSAGES_LISTED", "messages, oldest first");
    // The listed cursor is at the message's position and also carries the read that listed it.
    let listed_cursor = listed[0]["cursor"].take();
    let at_position = |c: &Value| ChatCursor::decode(c.as_str().unwrap()).unwrap().key().to_owned();
    assert_eq!(at_position(&listed_cursor), at_position(&message["cursor"]));
    let mut sent_without_cursor = message.clone();
    sent_without_cursor["cursor"] = Value::Null;
    assert_eq!(listed, json!([sent_without_cursor]));
    assert_eq!(
        history.body["meta"],
        json!({"count": 1, "has_more": false, "limit": 50, "before_cursor": null, "after_cursor": listed_cursor})
    );
    assert_eq!(
        envelope(
            &send("http-chat-rooms.json").await,
            200,
            "ROOMS_LISTED",
            "your chat rooms, most recent activity first"
        ),
        json!([{"project_id": 42, "updated_at": message["created_at"], "unread_count": 0, "unread_more": false,
                "last_read_at": null, "read_up_to": null}])
    );
    let kst = |at: chrono::DateTime<Utc>| (at + chrono::Duration::hours(9)).format("%H:%M").to_string();
    let web_send = send("http-chat-compat-send.json").await;
    assert_eq!(web_send.status, 200, "{}", web_send.body);
    let web_at = chrono::DateTime::from_timestamp_millis(web_send.body["timestamp"].as_i64().unwrap()).unwrap();
    assert!((web_at - at).num_seconds().abs() < 60);
    assert_eq!(
        web_send.body,
        json!({"user": "지민", "msg": "회의 시작합니다", "is_in_meeting": true, "time": kst(web_at), "timestamp": web_at.timestamp_millis()})
    );
    // The web app's history covers the sample's KST dates: today's messages are in it while
    // "today" is one of those dates.
    // Outside November 2026, the sample's range is moved to cover today (KST).
    let today = (at + chrono::Duration::hours(9)).date_naive().to_string();
    let in_range = ("2026-11-01".to_string()..="2026-11-30".to_string()).contains(&today);
    let moved = if in_range {
        vec![]
    } else {
        vec![("2026-11-01".to_owned(), today.clone()), ("2026-11-30".to_owned(), today.clone())]
    };
    let web_history = send_dated("http-chat-compat-history.json", moved).await;
    assert_eq!(web_history.status, 200, "{}", web_history.body);
    let expected = vec![
        json!({"user": "지민", "msg": "내일 10시에 스탠드업 해요", "isInMeeting": false, "time": kst(at), "timestamp": at.timestamp_millis()}),
        json!({"user": "지민", "msg": "회의 시작합니다", "isInMeeting": true, "time": kst(web_at), "timestamp": web_at.timestamp_millis()}),
    ];
    assert_eq!(web_history.body, json!({"count": expected.len(), "messages": expected}));
    // The teammate reads up to the first message (the sample's cursor carries the stamp the
    // server chose, so the real one replaces it): the web app's message is still unread.
    let sample_cursor = "bSMxNzk1NjA4MDAwMDAwI3dlYi0xYTJiM2M".to_owned();
    let real_cursor = message["cursor"].as_str().unwrap().to_owned();
    let read = send_dated("http-chat-read.json", vec![(sample_cursor, real_cursor.clone())]).await;
    let state = envelope(&read, 200, "READ_MARKED", "marker moved; your other sockets got the read frame");
    assert_eq!(
        state,
        json!({"project_id": 42, "read_up_to": real_cursor, "last_read_at": shared::domain::time::format_iso(&fresh(&state["last_read_at"])),
               "unread_count": 1, "unread_more": false})
    );
    assert_eq!(
        envelope(
            &send("http-chat-presence.json").await,
            200,
            "PRESENCE_LISTED",
            "members with an open socket into this chat, online longest first"
        ),
        json!([]),
        "no socket is open"
    );
    // The AI service reads team 3's log and a meeting window (the same KST dates, moved alike).
    let logs = send("http-chat-team-logs.json").await;
    assert_eq!(logs.status, 200, "{}", logs.body);
    let web_message_id = logs.body[1]["message_id"].clone();
    let iso = |at: chrono::DateTime<Utc>| shared::domain::time::format_iso(&at);
    assert_eq!(
        logs.body,
        json!([
            {"message_id": "web-1a2b3c", "user_id": MEMBER, "message": "내일 10시에 스탠드업 해요",
             "timestamp": iso(at), "created_at": iso(at)},
            {"message_id": web_message_id, "user_id": MEMBER, "message": "회의 시작합니다",
             "timestamp": iso(web_at), "created_at": iso(web_at)},
        ])
    );
    let (start, end, window) = if in_range {
        ("2026-11-01".to_owned(), "2026-11-30".to_owned(), vec![])
    } else {
        let moved =
            vec![("2026-11-01T".to_owned(), format!("{today}T")), ("2026-11-30T".to_owned(), format!("{today}T"))];
        (today.clone(), today.clone(), moved)
    };
    let minutes = send_dated("http-chat-meeting-logs.json", window).await;
    assert_eq!(minutes.status, 200, "{}", minutes.body);
    assert_eq!(
        minutes.body,
        json!({"team_id": 3, "message_count": 2,
        "start_time": iso(parse_instant(&format!("{start}T00:00:00+09:00")).unwrap()),
        "end_time": iso(parse_instant(&format!("{end}T23:59:59+09:00")).unwrap()),
        "messages": [
            {"user_id": MEMBER, "message": "내일 10시에 스탠드업 해요", "timestamp": iso(at)},
            {"user_id": MEMBER, "message": "회의 시작합니다", "timestamp": iso(web_at)},
        ]})
    );

    // Reports: the member reports project 42; an admin lists and warns.
    let report = envelope(&send("http-reports-create.json").await, 201, "REPORT_FILED", "report filed");
    fresh(&report["created_at"]);
    let content = "프로젝트 설명에 다른 팀의 결과물을 자기 것처럼 올려 두었습니다.";
    assert_eq!(
        report,
        json!({"report_id": 1, "user_id": MEMBER, "project_id": 42, "target": {"kind": "PROJECT", "project_id": 42},
               "title": null, "reply_count": 0,
               "type": "REPORT", "content": content, "status": "PENDING", "decision": null, "resolution_note": null, "created_at": report["created_at"], "updated_at": report["created_at"]})
    );
    let mut listed = report.clone();
    listed["open_reporters"] = json!(1);
    assert_eq!(
        envelope(
            &send("http-admin-reports-list.json").await,
            200,
            "REPORTS_LISTED",
            "reports, newest first, with the open reporters of each target"
        ),
        json!([listed])
    );
    let decided = envelope(
        &send("http-admin-reports-decide.json").await,
        200,
        "REPORT_DECIDED",
        "decision carried out; see notified for whom it told",
    );
    fresh(&decided["report"]["updated_at"]);
    let mut warned = report.clone();
    warned["status"] = json!("IN_PROGRESS");
    warned["decision"] = json!("warn");
    warned["resolution_note"] = json!("출처를 밝히도록 안내했습니다.");
    warned["updated_at"] = decided["report"]["updated_at"].clone();
    assert_eq!(
        decided,
        json!({"outcome": "APPLIED", "report": warned,
               // The stand-in's project has no other leader: the reporter is told once.
               "notified": {"reporter": true, "leader": false, "leader_problem": "the leader is the reporter, told once"}})
    );

    // Moderation of chat: the member corrects their message; a teammate reports it; an
    // administrator removes it, which the audit log keeps with the text it removed.
    let edited = envelope(
        &send("http-chat-edit.json").await,
        200,
        "MESSAGE_EDITED",
        "message edited; the project's sockets got message_edited",
    );
    let edited_at = fresh(&edited["edited_at"]);
    let mut expected = message.clone();
    expected["message"] = json!("내일 10시 30분에 스탠드업 해요");
    expected["edited_at"] = json!(iso(edited_at));
    assert_eq!(edited, expected);
    let on_message = envelope(&send("http-reports-create-message.json").await, 201, "REPORT_FILED", "report filed");
    assert_eq!(
        (on_message["user_id"].clone(), on_message["project_id"].clone(), on_message["target"].clone()),
        (
            json!(TEAMMATE),
            json!(42),
            json!({"kind": "MESSAGE", "project_id": 42, "message_id": "web-1a2b3c",
            "user_id": MEMBER, "sender_name": "지민", "message": "내일 10시 30분에 스탠드업 해요", "sent_at": iso(at)})
        )
    );
    let deleted = envelope(
        &send("http-chat-delete.json").await,
        200,
        "MESSAGE_DELETED",
        "message deleted; the project's sockets got message_deleted",
    );
    let deleted_at = fresh(&deleted["deleted_at"]);
    let mut tombstone = expected.clone();
    tombstone["message"] = json!("");
    tombstone["deleted"] = json!(true);
    tombstone["deleted_at"] = json!(iso(deleted_at));
    tombstone["deleted_by"] = json!("ADMIN");
    assert_eq!(deleted, tombstone);
    let removals = send("http-admin-chat-removals.json").await;
    let log = envelope(&removals, 200, "REMOVALS_LISTED", "chat messages removed by administrators, newest first");
    assert_eq!(
        log,
        json!([{"removal_id": log[0]["removal_id"], "project_id": 42, "message_id": "web-1a2b3c", "author": MEMBER,
                "sender_name": "지민", "message": "내일 10시 30분에 스탠드업 해요", "sent_at": iso(at),
                "removed_by": ADMIN, "removed_at": iso(deleted_at), "report_id": null}])
    );
    assert_eq!(removals.body["meta"], json!({"limit": 20, "count": 1, "has_more": false, "next_cursor": null}));

    // Support: the member asks through the web app's footer (no project); an administrator
    // answers; the member reads the conversation and the answer is in their bell.
    let ticket = envelope(&send("http-reports-create-inquiry.json").await, 201, "REPORT_FILED", "report filed");
    assert_eq!(
        ticket,
        json!({"report_id": 3, "user_id": MEMBER, "project_id": null, "target": {"kind": "NONE"},
               "title": "[광고/제휴 문의] 푸터 문의 접수", "reply_count": 0, "type": "INQUIRY",
               "content": "광고 및 제휴 관련해서 문의드립니다. 담당자 연락처를 알 수 있을까요?", "status": "PENDING",
               "decision": null, "resolution_note": null, "created_at": ticket["created_at"], "updated_at": ticket["created_at"]})
    );
    let answer = envelope(&send("http-reports-reply.json").await, 201, "REPLY_ADDED", "reply added");
    let answered_at = fresh(&answer["created_at"]);
    let answer_text = "제휴 제안은 partner@portforge.dev 로 보내 주세요. 영업일 기준 3일 안에 답변드립니다.";
    assert_eq!(
        answer,
        json!({"reply_id": answer["reply_id"], "author": "ADMIN", "admin_id": ADMIN, "message": answer_text,
               "created_at": iso(answered_at)})
    );
    let read =
        envelope(&send("http-reports-read.json").await, 200, "REPORT_FOUND", "report with its replies, oldest first");
    let mut expected = ticket.clone();
    expected["status"] = json!("IN_PROGRESS");
    expected["reply_count"] = json!(1);
    expected["updated_at"] = json!(iso(answered_at));
    expected["replies"] = json!([{"reply_id": answer["reply_id"], "author": "ADMIN", "message": answer_text,
                                   "created_at": iso(answered_at)}]);
    assert_eq!(read, expected, "the member never sees which administrator answered");
    let bell = envelope(
        &send("http-notifications-list.json").await,
        200,
        "NOTIFICATIONS_LISTED",
        "notifications, newest first",
    );
    assert_eq!(
        (bell[0]["message"].clone(), bell[0]["link"].clone()),
        (
            json!("문의하신 내용에 답변이 등록되었습니다: 제휴 제안은 partner@portforge.dev 로 보내 주세요. …"),
            json!("/mypage/reports/3")
        )
    );
}

#[test]
fn every_sample_is_asserted_somewhere() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let samples: BTreeSet<String> = std::fs::read_dir(dir.join("../events"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let tests: String = std::fs::read_dir(dir.join("api"))
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect();
    for name in samples {
        assert!(tests.contains(&format!("{name}\"")), "events/{name} is fed to no test");
    }
}

#[tokio::test]
async fn the_migrate_sample_gets_its_exact_answer() {
    use shared::migrate::{MigrateEvent, MigrateHandler};
    let db = TestDb::mariadb().await;
    let migrate = MigrateHandler::new(std::sync::Arc::new(db.sql_db())).unwrap();
    // CloudFormation's pre-signed S3 URL, answered by a loopback stand-in.
    let answers = std::sync::Arc::new(std::sync::Mutex::new(vec![]));
    let app = {
        let answers = answers.clone();
        axum::Router::new().route(
            "/{*path}",
            axum::routing::put(move |body: axum::body::Bytes| {
                let answers = answers.clone();
                async move { answers.lock().unwrap().push(serde_json::from_slice::<Value>(&body).unwrap()) }
            }),
        )
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/stack/SchemaMigration", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let mut event: Value = serde_json::from_str(&sample("migrate-custom-resource-create.json")).unwrap();
    event["ResponseURL"] = json!(url);
    let event: MigrateEvent = serde_json::from_value(event).unwrap();

    let report = migrate.handle(event).await.unwrap();
    let versions = db.sql_db().release_versions();
    assert_eq!(report, json!({"applied": versions, "schema_version": versions.last()}));
    let answers = answers.lock().unwrap().clone();
    assert_eq!(
        answers,
        vec![json!({
            "Status": "SUCCESS", "Reason": null, "PhysicalResourceId": "portforge-support-schema",
            "StackId": "arn:aws:cloudformation:ap-northeast-2:123456789012:stack/portforge-support-dev/1f2e3d4c-0000-11ef-8c1a-0a1b2c3d4e5f",
            "RequestId": "5d478c1a-6f2e-4b8c-9a1d-2e3f4a5b6c7d", "LogicalResourceId": "SchemaMigration", "NoEcho": false,
            "Data": {"SchemaVersion": versions.last().unwrap().to_string(), "Applied": format!("{versions:?}")}
        })]
    );
}
