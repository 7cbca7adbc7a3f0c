//! Moderation of people and chat: messages their authors edit and delete and administrators
//! remove (tombstones, frames to every socket of the project, the audit log), and reports on
//! users and chat messages with each decision, through the chat and reports functions over one
//! environment (DynamoDB on the emulator, MariaDB or SQLite, loopback sockets and siblings).

use serde_json::{Value, json};
use service_tests::{
    Answer, Function, TestApi, TestDb, TestEnv, Who, admin, gateway_event, open_connection, send_event, user,
};
use shared::domain::{ProjectId, UserId, time::parse_instant};

const PROJECT: i64 = 61;

async fn api(db: TestDb) -> TestApi {
    TestApi::over(TestEnv::new(db).await).await
}

/// An open socket of `who` in the project, as `$connect` stores it.
async fn socket(api: &TestApi, id: &str, who: &str) {
    let connection = open_connection(id, &UserId::parse(who).unwrap(), ProjectId::new(PROJECT).unwrap(), false);
    api.env.chat().connections.put(&connection).await.unwrap();
    api.env.loopback.open(id);
}

async fn send(api: &TestApi, who: &Who, text: &str) -> Value {
    let sent = api.post(&format!("/chat/{PROJECT}/messages"), who, json!({"message": text})).await;
    sent.assert_ok(201, "MESSAGE_SENT").clone()
}

fn message_path(id: &Value) -> String {
    format!("/chat/{PROJECT}/messages/{}", id.as_str().unwrap())
}

/// The frames of one type a socket received.
fn frames(api: &TestApi, socket: &str, kind: &str) -> Vec<Value> {
    api.env.loopback.received(socket).into_iter().filter(|f| f["type"] == kind).collect()
}

async fn notifications_of(api: &TestApi, who: &str) -> Vec<(String, String)> {
    api.env.notifications_of(who).await
}

#[tokio::test]
async fn authors_edit_and_delete_their_messages_and_every_socket_hears_of_it() {
    let api = api(TestDb::sqlite()).await;
    let (jimin, minsu, outsider) = (user(), user(), user());
    api.env.siblings.members(PROJECT, &[jimin.user_id(), minsu.user_id()]);
    socket(&api, "jimin-tab=", jimin.user_id()).await;
    socket(&api, "minsu-tab=", minsu.user_id()).await;
    let sent = send(&api, &jimin, "회의는 3시에 합니닷").await;
    let id = sent["message_id"].clone();
    let rooms_before = api.get("/chat/rooms", &jimin).await.assert_ok(200, "ROOMS_LISTED").clone();

    // Only the author edits; the text follows a send's rules; membership comes first.
    let path = message_path(&id);
    api.patch(&path, &minsu, json!({"message": "남의 글"})).await.assert_error(403, "FORBIDDEN");
    api.patch(&path, &outsider, json!({"message": "x"})).await.assert_error(403, "FORBIDDEN");
    api.patch(&path, &outsider, json!({"nonsense": 1})).await.assert_error(403, "FORBIDDEN");
    for (body, field) in [
        (json!({"message": "   "}), "message"),
        (json!({"message": "가".repeat(2001)}), "message"),
        (json!({}), "message"),
        (json!({"message": "x", "is_in_meeting": true}), "is_in_meeting"),
    ] {
        let reply = api.patch(&path, &jimin, body.clone()).await;
        reply.assert_error(422, "VALIDATION_FAILED");
        assert_eq!(reply.fields(), [field], "{body}");
    }
    api.patch(&format!("/chat/{PROJECT}/messages/unknown"), &jimin, json!({"message": "x"}))
        .await
        .assert_error(404, "NOT_FOUND");
    api.patch(&format!("/chat/{PROJECT}/messages/a%20b"), &jimin, json!({"message": "x"}))
        .await
        .assert_error(400, "INVALID_PATH_PARAMETER");
    api.patch(&format!("/chat/0/messages/{}", id.as_str().unwrap()), &jimin, json!({"message": "x"}))
        .await
        .assert_error(400, "INVALID_PATH_PARAMETER");

    let edited = api.patch(&path, &jimin, json!({"message": "회의는 3시에 합니다"})).await;
    let edited = edited.assert_ok(200, "MESSAGE_EDITED").clone();
    assert_eq!((edited["message"].clone(), edited["deleted"].clone()), (json!("회의는 3시에 합니다"), json!(false)));
    let edited_at = parse_instant(edited["edited_at"].as_str().unwrap()).unwrap();
    assert!(edited_at >= parse_instant(sent["timestamp"].as_str().unwrap()).unwrap());
    assert_eq!(
        (edited["timestamp"].clone(), edited["cursor"].clone()),
        (sent["timestamp"].clone(), sent["cursor"].clone())
    );
    for tab in ["jimin-tab=", "minsu-tab="] {
        let seen = frames(&api, tab, "message_edited");
        assert_eq!(seen.len(), 1, "{tab}");
        assert_eq!(
            (seen[0]["message_id"].clone(), seen[0]["message"].clone()),
            (id.clone(), edited["message"].clone())
        );
        assert_eq!(seen[0]["senderName"], sent["sender_name"]);
    }
    let history = api.get(&format!("/chat/{PROJECT}/messages"), &minsu).await;
    assert_eq!(history.assert_ok(200, "MESSAGES_LISTED")[0]["message"], "회의는 3시에 합니다");

    // A teammate cannot delete it; its author can, once; then it cannot be edited.
    api.delete(&path, &minsu).await.assert_error(403, "FORBIDDEN");
    let deleted = api.delete(&path, &jimin).await;
    let tombstone = deleted.assert_ok(200, "MESSAGE_DELETED").clone();
    assert_eq!((tombstone["message"].clone(), tombstone["deleted"].clone()), (json!(""), json!(true)));
    assert_eq!((tombstone["deleted_by"].clone(), tombstone["message_id"].clone()), (json!("AUTHOR"), id.clone()));
    for tab in ["jimin-tab=", "minsu-tab="] {
        let seen = frames(&api, tab, "message_deleted");
        assert_eq!(seen.len(), 1, "{tab}");
        assert_eq!(
            (seen[0]["message_id"].clone(), seen[0]["project_id"].clone(), seen[0]["deleted_at"].clone()),
            (id.clone(), json!(PROJECT), tombstone["deleted_at"].clone())
        );
    }
    api.delete(&path, &jimin).await.assert_ok(200, "MESSAGE_ALREADY_DELETED");
    assert_eq!(frames(&api, "minsu-tab=", "message_deleted").len(), 1, "a repeat tells nobody again");
    api.patch(&path, &jimin, json!({"message": "되살리기"})).await.assert_error(409, "CONFLICT");

    // History keeps the tombstone in place; the web app's history leaves it out; rooms stay.
    let later = send(&api, &minsu, "확인했어요").await;
    let history = api.get(&format!("/chat/{PROJECT}/messages"), &minsu).await;
    let history = history.assert_ok(200, "MESSAGES_LISTED").as_array().unwrap().clone();
    assert_eq!(history.len(), 2);
    assert_eq!((history[0]["deleted"].clone(), history[0]["message"].clone()), (json!(true), json!("")));
    assert_eq!(history[1]["message_id"], later["message_id"]);
    let web = api.get(&format!("/chat/messages/{PROJECT}/{PROJECT}"), &minsu).await;
    assert_eq!(web.status, 200);
    let shown: Vec<_> = web.body["messages"].as_array().unwrap().iter().map(|m| m["msg"].clone()).collect();
    assert_eq!(shown, [json!("확인했어요")]);
    let rooms_after = api.get("/chat/rooms", &jimin).await;
    let rooms_after = rooms_after.assert_ok(200, "ROOMS_LISTED").clone();
    let activity = |rooms: &serde_json::Value| -> Vec<(serde_json::Value, serde_json::Value)> {
        rooms.as_array().unwrap().iter().map(|r| (r["project_id"].clone(), r["updated_at"].clone())).collect()
    };
    assert_eq!(activity(&rooms_after), activity(&rooms_before), "editing and deleting move no room");
    assert_eq!(rooms_after[0]["unread_count"], 1, "minsu's reply is unread to jimin");
    assert!(
        api.get("/admin/chat/removals", &admin())
            .await
            .assert_ok(200, "REMOVALS_LISTED")
            .as_array()
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn administrators_remove_messages_and_the_audit_log_keeps_the_text() {
    let api = api(TestDb::mariadb().await).await;
    let (jimin, minsu) = (user(), user());
    api.env.siblings.project(PROJECT, "해커톤 팀", jimin.user_id(), &[minsu.user_id()]);
    socket(&api, "minsu-tab=", minsu.user_id()).await;
    let abusive = send(&api, &jimin, "광고: 싸게 팝니다").await;
    let moderator = admin();
    // An administrator outside the team removes it; the audit log says who, what and when.
    let removed = api.delete(&message_path(&abusive["message_id"]), &moderator).await;
    let tombstone = removed.assert_ok(200, "MESSAGE_DELETED").clone();
    assert_eq!(tombstone["deleted_by"], "ADMIN", "members do not learn which administrator");
    assert_eq!(frames(&api, "minsu-tab=", "message_deleted").len(), 1);
    // An administrator may not edit someone else's words.
    let other = send(&api, &jimin, "다른 글").await;
    api.patch(&message_path(&other["message_id"]), &moderator, json!({"message": "x"}))
        .await
        .assert_error(403, "FORBIDDEN");

    let log = api.get("/admin/chat/removals", &moderator).await;
    let log = log.assert_ok(200, "REMOVALS_LISTED").as_array().unwrap().clone();
    assert_eq!(log.len(), 1);
    let entry = &log[0];
    assert_eq!(
        (entry["message"].clone(), entry["author"].clone(), entry["removed_by"].clone(), entry["report_id"].clone()),
        (json!("광고: 싸게 팝니다"), json!(jimin.user_id()), json!(moderator.user_id()), Value::Null)
    );
    assert_eq!(
        (entry["project_id"].clone(), entry["message_id"].clone()),
        (json!(PROJECT), abusive["message_id"].clone())
    );
    api.get("/admin/chat/removals", &jimin).await.assert_error(403, "FORBIDDEN");
    api.get("/admin/chat/removals?limit=0", &moderator).await.assert_error(400, "INVALID_QUERY");
    api.get("/admin/chat/removals?cursor=bogus", &moderator).await.assert_error(400, "INVALID_QUERY");
}

/// The reporter's text of each decision on a user or message report, and the reported
/// person's (None: they are not told).
fn person_texts(kind: &str, action: &str) -> (&'static str, Option<&'static str>) {
    match (kind, action) {
        ("USER", "warn") => (
            "신고하신 사용자에 대해 경고 조치가 취해졌습니다.",
            Some("회원님에 대한 신고가 확인되어 경고 조치가 취해졌습니다. 운영 정책을 확인해 주세요."),
        ),
        ("USER", "dismiss") => ("신고하신 사용자에 대한 검토 결과, 무혐의로 처리되었습니다.", None),
        ("USER", "resolve") => ("신고하신 사용자에 대한 신고가 처리 완료되었습니다.", None),
        ("MESSAGE", "warn") => (
            "신고하신 채팅 메시지의 작성자에게 경고 조치가 취해졌습니다.",
            Some(
                "회원님이 보낸 채팅 메시지에 대한 신고가 확인되어 경고 조치가 취해졌습니다. 운영 정책을 확인해 주세요.",
            ),
        ),
        ("MESSAGE", "delete") => (
            "신고하신 채팅 메시지에 대한 검토 결과, 해당 메시지가 삭제되었습니다.",
            Some("회원님이 보낸 채팅 메시지가 운영 정책 위반으로 삭제되었습니다."),
        ),
        ("MESSAGE", "dismiss") => ("신고하신 채팅 메시지에 대한 검토 결과, 무혐의로 처리되었습니다.", None),
        ("MESSAGE", "resolve") => ("신고하신 채팅 메시지에 대한 신고가 처리 완료되었습니다.", None),
        other => panic!("no texts for {other:?}"),
    }
}

#[tokio::test]
async fn users_and_messages_are_reported_with_their_refusals() {
    let api = api(TestDb::mariadb().await).await;
    let (jimin, minsu, outsider) = (user(), user(), user());
    api.env.siblings.project(PROJECT, "해커톤 팀", jimin.user_id(), &[minsu.user_id()]);
    let message = send(&api, &jimin, "바보 같은 소리").await;
    let id = message["message_id"].clone();
    let report = |body: Value| {
        let mut full = json!({"type": "REPORT", "content": "욕설입니다"});
        full.as_object_mut().unwrap().extend(body.as_object().unwrap().clone());
        full
    };

    // A message: by someone who can read its chat, as it stands, never by its author.
    let filed = api.post("/reports", &minsu, report(json!({"message_id": id, "project_id": PROJECT}))).await;
    let filed = filed.assert_ok(201, "REPORT_FILED").clone();
    let target = &filed["target"];
    assert_eq!(
        (target["kind"].clone(), target["message_id"].clone(), target["user_id"].clone(), target["message"].clone()),
        (json!("MESSAGE"), id.clone(), json!(jimin.user_id()), json!("바보 같은 소리"))
    );
    assert_eq!(
        (filed["project_id"].clone(), target["sent_at"].clone()),
        (json!(PROJECT), message["timestamp"].clone())
    );
    let again =
        api.post("/reports", &minsu, report(json!({"message_id": id, "project_id": PROJECT.to_string()}))).await;
    assert_eq!(
        again.assert_ok(200, "REPORT_ALREADY_OPEN")["report_id"],
        filed["report_id"],
        "one open report per target"
    );
    api.post("/reports", &outsider, report(json!({"message_id": id, "project_id": PROJECT})))
        .await
        .assert_error(403, "FORBIDDEN");
    api.post("/reports", &minsu, report(json!({"message_id": "unknown", "project_id": PROJECT})))
        .await
        .assert_error(404, "NOT_FOUND");
    let own = api.post("/reports", &jimin, report(json!({"message_id": id, "project_id": PROJECT}))).await;
    own.assert_error(422, "VALIDATION_FAILED");
    assert_eq!(own.fields(), ["message_id"]);
    // The evidence survives an edit and a deletion of the message.
    api.patch(&message_path(&id), &jimin, json!({"message": "수정했어요"})).await.assert_ok(200, "MESSAGE_EDITED");
    let detail = api.get(&format!("/admin/reports/{}", filed["report_id"]), &admin()).await;
    assert_eq!(detail.assert_ok(200, "REPORT_FOUND")["target"]["message"], "바보 같은 소리");
    let gone = send(&api, &jimin, "곧 지울 글").await;
    api.delete(&message_path(&gone["message_id"]), &jimin).await.assert_ok(200, "MESSAGE_DELETED");
    api.post("/reports", &minsu, report(json!({"message_id": gone["message_id"], "project_id": PROJECT})))
        .await
        .assert_error(404, "NOT_FOUND");

    // A user: anyone but themselves, with a project for context or none.
    let on_user = api.post("/reports", &minsu, report(json!({"reported_user_id": jimin.user_id()}))).await;
    let on_user = on_user.assert_ok(201, "REPORT_FILED").clone();
    assert_eq!(on_user["target"], json!({"kind": "USER", "user_id": jimin.user_id(), "project_id": null}));
    assert_eq!(on_user["project_id"], Value::Null);
    let with_context =
        api.post("/reports", &minsu, report(json!({"reported_user_id": jimin.user_id(), "project_id": PROJECT}))).await;
    assert_eq!(with_context.assert_ok(200, "REPORT_ALREADY_OPEN")["report_id"], on_user["report_id"]);
    for (body, field) in [
        (json!({"reported_user_id": minsu.user_id()}), "reported_user_id"),
        (json!({"reported_user_id": "not-a-user"}), "reported_user_id"),
        (json!({"reported_user_id": jimin.user_id(), "message_id": id}), "message_id"),
        (json!({"message_id": id}), "project_id"),
        (json!({"message_id": "a b", "project_id": PROJECT}), "message_id"),
        (json!({}), "project_id"),
    ] {
        let reply = api.post("/reports", &minsu, report(body.clone())).await;
        reply.assert_error(422, "VALIDATION_FAILED");
        assert_eq!(reply.fields(), [field], "{body}");
    }

    // The admins' list filters by target kind; each report shows its target.
    let kinds = |target: &str| {
        let api = &api;
        let target = target.to_owned();
        async move {
            let listed = api.get(&format!("/admin/reports?target={target}"), &admin()).await;
            let listed = listed.assert_ok(200, "REPORTS_LISTED").as_array().unwrap().clone();
            listed.iter().map(|r| r["target"]["kind"].as_str().unwrap().to_owned()).collect::<Vec<_>>()
        }
    };
    assert_eq!(kinds("message").await, ["MESSAGE"]);
    assert_eq!(kinds("USER").await, ["USER"]);
    assert!(kinds("PROJECT").await.is_empty());
    api.get("/admin/reports?target=TEAM", &admin()).await.assert_error(400, "INVALID_QUERY");
}

/// Every decision on a user report and on a message report: the report's status, who was told
/// what (exactly once), the action log, and for a deleted message its tombstone, frame and
/// audit record; a user cannot be deleted.
async fn decisions_on_people_and_messages(db: TestDb) {
    let api = api(db).await;
    let (jimin, minsu) = (user(), user());
    api.env.siblings.project(PROJECT, "해커톤 팀", jimin.user_id(), &[minsu.user_id()]);
    socket(&api, "minsu-tab=", minsu.user_id()).await;
    for (kind, action, status) in [
        ("USER", "warn", "IN_PROGRESS"),
        ("USER", "dismiss", "DISMISSED"),
        ("USER", "resolve", "RESOLVED"),
        ("MESSAGE", "warn", "IN_PROGRESS"),
        ("MESSAGE", "dismiss", "DISMISSED"),
        ("MESSAGE", "resolve", "RESOLVED"),
        ("MESSAGE", "delete", "RESOLVED"),
    ] {
        let reporter = user();
        api.env.siblings.members(PROJECT, &[jimin.user_id(), minsu.user_id(), reporter.user_id()]);
        let message = send(&api, &jimin, &format!("{kind} {action} 대상")).await;
        let body = match kind {
            "USER" => json!({"reported_user_id": jimin.user_id(), "type": "REPORT", "content": "비매너"}),
            _ => {
                json!({"message_id": message["message_id"], "project_id": PROJECT, "type": "REPORT", "content": "욕설"})
            }
        };
        let filed = api.post("/reports", &reporter, body).await.assert_ok(201, "REPORT_FILED").clone();
        let told_before = notifications_of(&api, jimin.user_id()).await.len();
        let mut decision = json!({"action": action});
        if action == "resolve" {
            decision["note"] = json!("처리했습니다");
        }
        let path = format!("/admin/reports/{}", filed["report_id"]);
        let decided = api.patch(&path, &admin(), decision.clone()).await;
        let data = decided.assert_ok(200, "REPORT_DECIDED").clone();
        assert_eq!(data["report"]["status"], status, "{kind} {action}");
        let (reporter_text, person_text) = person_texts(kind, action);
        assert_eq!(
            notifications_of(&api, reporter.user_id()).await,
            [(reporter_text.to_owned(), format!("/mypage/reports/{}", filed["report_id"]))],
            "{kind} {action}: the reporter hears once"
        );
        let person_told = &notifications_of(&api, jimin.user_id()).await[told_before..];
        match person_text {
            Some(text) => {
                let link = if kind == "USER" { "/mypage".to_owned() } else { format!("/projects/{PROJECT}") };
                assert_eq!(person_told, [(text.to_owned(), link)], "{kind} {action}");
            }
            None => assert!(person_told.is_empty(), "{kind} {action}: nobody else is told"),
        }
        let notified = &data["notified"];
        assert_eq!((notified["reporter"].clone(), notified["leader"].clone()), (json!(true), json!(false)));
        let key = if kind == "USER" { "reported_user" } else { "author" };
        assert_eq!(notified[key], json!(person_text.is_some()), "{kind} {action}");
        // The same decision again tells nobody.
        if action != "resolve" {
            api.patch(&path, &admin(), decision).await.assert_ok(200, "REPORT_UNCHANGED");
            assert_eq!(notifications_of(&api, reporter.user_id()).await.len(), 1);
        }
        let detail = api.get(&path, &admin()).await;
        let actions = detail.assert_ok(200, "REPORT_FOUND")["actions"].as_array().unwrap().clone();
        assert_eq!(actions[0]["action"], action.to_uppercase());
        assert_eq!(actions[0]["outcome"], "APPLIED");
        let history = api.get(&format!("/chat/{PROJECT}/messages"), &minsu).await;
        let history = history.assert_ok(200, "MESSAGES_LISTED").as_array().unwrap().clone();
        let shown = history.iter().find(|m| m["message_id"] == message["message_id"]).unwrap();
        assert_eq!(shown["deleted"], json!(kind == "MESSAGE" && action == "delete"), "{kind} {action}");
    }
    // The deleted message: its frame reached the project's sockets, the audit log names the report.
    assert_eq!(frames(&api, "minsu-tab=", "message_deleted").len(), 1);
    let log = api.get("/admin/chat/removals", &admin()).await;
    let log = log.assert_ok(200, "REMOVALS_LISTED").as_array().unwrap().clone();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0]["message"], "MESSAGE delete 대상");
    assert!(log[0]["report_id"].is_i64());

    // A user cannot be deleted here; nothing changes and nobody is told.
    let reporter = user();
    let body = json!({"reported_user_id": jimin.user_id(), "type": "REPORT", "content": "비매너"});
    let filed = api.post("/reports", &reporter, body).await.assert_ok(201, "REPORT_FILED").clone();
    let path = format!("/admin/reports/{}", filed["report_id"]);
    let refused = api.patch(&path, &admin(), json!({"action": "delete"})).await;
    refused.assert_error(422, "VALIDATION_FAILED");
    assert_eq!(refused.fields(), ["action"]);
    assert_eq!(api.get(&path, &admin()).await.assert_ok(200, "REPORT_FOUND")["status"], "PENDING");
    assert!(notifications_of(&api, reporter.user_id()).await.is_empty());
    // The lease was given back: the next decision goes through at once.
    api.patch(&path, &admin(), json!({"action": "dismiss"})).await.assert_ok(200, "REPORT_DECIDED");
}

#[tokio::test]
async fn decisions_on_people_and_messages_on_mariadb() {
    decisions_on_people_and_messages(TestDb::mariadb().await).await;
}

#[tokio::test]
async fn decisions_on_people_and_messages_on_sqlite() {
    decisions_on_people_and_messages(TestDb::sqlite()).await;
}

/// A message deleted by a decision whose last step then failed: the retry finds the tombstone and
/// completes the decision (the report resolved, everyone told once, one audit record).
#[tokio::test]
async fn a_message_delete_decision_completes_on_retry() {
    let api = api(TestDb::mariadb().await).await;
    let (jimin, minsu) = (user(), user());
    api.env.siblings.project(PROJECT, "해커톤 팀", jimin.user_id(), &[minsu.user_id()]);
    let message = send(&api, &jimin, "지워질 글").await;
    let body = json!({"message_id": message["message_id"], "project_id": PROJECT, "type": "REPORT", "content": "욕설"});
    let filed = api.post("/reports", &minsu, body).await.assert_ok(201, "REPORT_FILED").clone();
    let path = format!("/admin/reports/{}", filed["report_id"]);
    // As if an earlier attempt deleted the message and then failed before the report changed.
    api.delete(&message_path(&message["message_id"]), &admin()).await.assert_ok(200, "MESSAGE_DELETED");
    let decided = api.patch(&path, &admin(), json!({"action": "delete"})).await;
    assert_eq!(decided.assert_ok(200, "REPORT_DECIDED")["report"]["status"], "RESOLVED");
    assert_eq!(notifications_of(&api, minsu.user_id()).await.len(), 1);
    assert_eq!(notifications_of(&api, jimin.user_id()).await.len(), 1);
    assert_eq!(
        api.get("/admin/chat/removals", &admin()).await.assert_ok(200, "REMOVALS_LISTED").as_array().unwrap().len(),
        1
    );
}

/// Failures stop a decision or a report whole: chat storage unreachable from the reports
/// function is 503 with the report pending, the message live and nobody told; the Team service
/// down makes a message report 503 (membership fails closed); a busy report is 409.
#[tokio::test]
async fn failed_dependencies_leave_message_reports_and_decisions_as_they_were() {
    let mut api = api(TestDb::sqlite()).await;
    let (jimin, minsu) = (user(), user());
    api.env.siblings.project(PROJECT, "해커톤 팀", jimin.user_id(), &[minsu.user_id()]);
    let message = send(&api, &jimin, "남을 글").await;
    let body = json!({"message_id": message["message_id"], "project_id": PROJECT, "type": "REPORT", "content": "도배"});
    api.env.siblings.answer_team(Answer::Status(503));
    api.post("/reports", &minsu, body.clone()).await.assert_error(503, "SERVICE_UNAVAILABLE");
    api.env.siblings.answer_team(Answer::Normal);
    let filed = api.post("/reports", &minsu, body).await.assert_ok(201, "REPORT_FILED").clone();
    let path = format!("/admin/reports/{}", filed["report_id"]);

    // The reports function with its DynamoDB endpoint gone (nothing listens on port 9).
    api.env.vars.insert("DDB_ENDPOINT_URL".into(), "http://127.0.0.1:9".into());
    let cut_off = Function::Reports.build(api.env.config()).await;
    let event = gateway_event("PATCH", &path, &admin(), Some(&json!({"action": "delete"}).to_string()));
    let failed = send_event(&cut_off, &event.to_string()).await;
    failed.assert_error(503, "SERVICE_UNAVAILABLE");
    assert_eq!(api.get(&path, &admin()).await.assert_ok(200, "REPORT_FOUND")["status"], "PENDING");
    assert!(notifications_of(&api, minsu.user_id()).await.is_empty(), "nobody told");
    let history = api.get(&format!("/chat/{PROJECT}/messages"), &minsu).await;
    assert_eq!(history.assert_ok(200, "MESSAGES_LISTED")[0]["deleted"], false, "the message is live");
    // With storage back, the same decision goes through at once (the lease was given back).
    let decided = api.patch(&path, &admin(), json!({"action": "delete"})).await;
    assert_eq!(decided.assert_ok(200, "REPORT_DECIDED")["report"]["status"], "RESOLVED");
    assert_eq!(notifications_of(&api, minsu.user_id()).await.len(), 1);
}
