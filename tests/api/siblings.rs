//! The platform as it really runs: the Project and Team services' real routes and bodies (their
//! soft errors included), team ids that drift from project ids, and the chat logs the AI service
//! reads for meeting minutes. Through the Lambda routers and the WebSocket handlers, on the
//! DynamoDB emulator, MariaDB and the embedded store.

use serde_json::{Value, json};
use service_tests::{
    Answer, Function, Route, TestApp, TestDb, TestEnv, Who, admin, connect_event, frame_event, new_user_id, user,
};
use shared::Config;

const PROJECT: i64 = 7;
/// The Team service's own id for project 7's team: not 7.
const TEAM: i64 = 31;

fn minutes_reader() -> Who {
    Who::Service { client_id: "aiservice4k2j9".into(), scopes: vec![Config::DEFAULT_CHAT_READ_SCOPE.into()] }
}

fn texts(messages: &Value) -> Vec<&str> {
    messages.as_array().expect("a list").iter().map(|m| m["message"].as_str().expect("text")).collect()
}

/// The calls the stand-in saw for one request, by path.
fn paths_since(app: &TestApp, before: usize) -> Vec<String> {
    app.siblings.calls()[before..].iter().map(|c| c.path.clone()).collect()
}

#[tokio::test]
async fn members_of_a_team_whose_id_drifted_chat_over_every_http_route() {
    let app = TestApp::sqlite(Function::Chat).await;
    let (leader, member, stranger) = (user(), user(), user());
    app.siblings.project_in_team(PROJECT, TEAM, "드리프트", leader.user_id(), &[member.user_id()]);

    // One sibling call per (uncached) membership check: the Team service's by-project route.
    let before = app.siblings.calls().len();
    app.post("/chat/7/messages", &leader, json!({"message": "하나"})).await.assert_ok(201, "MESSAGE_SENT");
    let paths = paths_since(&app, before);
    assert!(paths.iter().all(|p| p == "/api/v1/teams/by-project/7"), "{paths:?}");
    assert!(!paths.is_empty());

    // The web app sends its project id as the team id; the project decides.
    let app_send = json!({"team_id": PROJECT, "project_id": PROJECT, "user": "민수", "message": "둘"});
    let sent = app.post("/chat/message", &member, app_send).await;
    assert_eq!(sent.status, 200, "{}", sent.body);
    assert_eq!(sent.body["msg"], "둘");
    // So does any other well-formed team id, the real one included.
    for team in [PROJECT, TEAM, 999] {
        let history = app.get(&format!("/chat/messages/{team}/{PROJECT}"), &member).await;
        assert_eq!(history.status, 200, "team {team}: {}", history.body);
        assert_eq!(history.body["count"], 2, "team {team}");
    }
    let history = app.get("/chat/7/messages", &member).await;
    assert_eq!(texts(history.assert_ok(200, "MESSAGES_LISTED")), ["하나", "둘"]);

    // Outside the team: refused on every route, whatever team id is named.
    let stranger_send = json!({"team_id": TEAM, "project_id": PROJECT, "user": "x", "message": "끼어들기"});
    app.post("/chat/message", &stranger, stranger_send).await.assert_error(403, "FORBIDDEN");
    app.get("/chat/messages/31/7", &stranger).await.assert_error(403, "FORBIDDEN");
    app.get("/chat/7/messages", &stranger).await.assert_error(403, "FORBIDDEN");
    // The team id is still checked for its form.
    app.get("/chat/messages/0/7", &member).await.assert_error(400, "INVALID_PATH_PARAMETER");
    let bad_team = json!({"team_id": "abc", "project_id": PROJECT, "user": "x", "message": "m"});
    let refused = app.post("/chat/message", &member, bad_team).await;
    refused.assert_error(422, "VALIDATION_FAILED");
    assert_eq!(refused.fields(), ["team_id"]);
}

#[tokio::test]
async fn the_team_services_answers_fail_closed_with_honest_statuses() {
    let app = TestApp::sqlite(Function::Chat).await;
    let (member, adm) = (user(), admin());
    app.siblings.members(PROJECT, &[member.user_id()]);
    app.get("/chat/7/messages", &member).await.assert_ok(200, "MESSAGES_LISTED");

    // The soft "error" (200, data null): the project has no team, so nobody is a member.
    app.siblings.project_without_team(8, "팀 없는 프로젝트");
    app.get("/chat/8/messages", &member).await.assert_error(403, "FORBIDDEN");
    // An administrator reads it as one: the project exists.
    app.get("/chat/8/messages", &adm).await.assert_ok(200, "MESSAGES_LISTED");
    // A project neither service knows: 403 for users (one call, nothing to learn), 404 for admins.
    app.get("/chat/9/messages", &member).await.assert_error(403, "FORBIDDEN");
    app.get("/chat/9/messages", &adm).await.assert_error(404, "NOT_FOUND");

    for (answer, status, code) in [
        (Answer::Status(404), 403, "FORBIDDEN"),
        (Answer::Status(500), 503, "SERVICE_UNAVAILABLE"),
        (Answer::Status(503), 503, "SERVICE_UNAVAILABLE"),
        (Answer::Slow(std::time::Duration::from_millis(700)), 503, "SERVICE_UNAVAILABLE"),
        (Answer::Malformed, 502, "BAD_GATEWAY"),
        (Answer::Status(401), 502, "BAD_GATEWAY"),
    ] {
        app.siblings.answer_team(answer.clone());
        let reply = app.get("/chat/7/messages", &member).await;
        assert_eq!((reply.status, reply.body["code"].as_str()), (status, Some(code)), "{answer:?}: {}", reply.body);
        let send = app.post("/chat/message", &member, json!({"team_id": 7, "project_id": 7, "message": "m"})).await;
        assert_eq!(send.status, status, "{answer:?} on the web app's send: {}", send.body);
    }

    // Nobody listening: 503.
    let env = TestEnv::new(TestDb::sqlite()).await.set("TEAM_SERVICE_URL", "http://127.0.0.1:9");
    let refused = TestApp::over(Function::Chat, env).await;
    refused.get("/chat/7/messages", &member).await.assert_error(503, "SERVICE_UNAVAILABLE");
}

#[tokio::test]
async fn sockets_admit_the_drifted_team_and_refuse_the_rest() {
    let env = TestEnv::new(TestDb::sqlite()).await;
    let connect = shared::lambda::ws_connect(env.config()).await.expect("ws-connect builds");
    let message = shared::lambda::ws_message(env.config()).await.expect("ws-message builds");
    let (member, stranger) = (new_user_id(), new_user_id());
    env.siblings.project_in_team(PROJECT, TEAM, "소켓", &new_user_id(), &[&member]);

    let admitted = connect.handle(&connect_event("Drift01=", Some("7"), Some(&member))).await;
    assert_eq!(admitted.status_code, 200);
    env.loopback.open("Drift01=");
    let refused = connect.handle(&connect_event("Drift02=", Some("7"), Some(&stranger))).await;
    assert_eq!(refused.status_code, 403);

    let frame = json!({"action": "sendMessage", "message": "소켓으로 보냄"}).to_string();
    assert_eq!(message.handle(&frame_event("Drift01=", &frame)).await.status_code, 200);
    let received = env.loopback.received("Drift01=");
    assert!(received.iter().any(|f| f["type"] == "message" && f["message"] == "소켓으로 보냄"), "{received:?}");

    // A Team service failing on a frame: an error frame, nothing stored or broadcast.
    env.siblings.answer_team(Answer::Status(500));
    let frame = json!({"action": "sendMessage", "message": "못 보냄"}).to_string();
    assert_eq!(message.handle(&frame_event("Drift01=", &frame)).await.status_code, 200);
    let last = env.loopback.received("Drift01=").last().cloned().expect("a frame");
    assert_eq!(last["type"], "error", "{last}");
    assert_eq!(last["code"], "SERVICE_UNAVAILABLE", "{last}");
    // And on $connect: no silent admission.
    let failed = connect.handle(&connect_event("Drift03=", Some("7"), Some(&member))).await;
    assert_eq!(failed.status_code, 503);
}

async fn file_report(app: &TestApp, reporter: &Who, project: i64) -> Value {
    let body = json!({"project_id": project, "type": "REPORT", "content": "스팸 모집글입니다"});
    app.post("/reports", reporter, body).await.assert_ok(201, "REPORT_FILED").clone()
}

async fn decide_reports_with_real_sibling_shapes(db: TestDb) {
    let app = TestApp::over(Function::Reports, TestEnv::new(db).await).await;
    let (reporter, leader) = (user(), new_user_id());
    app.siblings.project_in_team(PROJECT, TEAM, "드리프트 스터디", &leader, &[&new_user_id()]);
    let report = file_report(&app, &reporter, PROJECT).await;
    let uri = format!("/admin/reports/{}", report["report_id"]);
    let decided = app.patch(&uri, &admin(), json!({"action": "warn"})).await;
    let notified = &decided.assert_ok(200, "REPORT_DECIDED")["notified"];
    assert_eq!(notified, &json!({"reporter": true, "leader": true}));
    let leaders = app.stores().notifications.unread_count(&shared::domain::UserId::parse(&leader).unwrap()).await;
    assert_eq!(leaders.unwrap(), 1, "the leader of the drifted team heard the warning");

    // A project without a team: the decision goes through, the reply says why no leader heard.
    app.siblings.project_without_team(8, "팀 없음");
    let report = file_report(&app, &reporter, 8).await;
    let uri = format!("/admin/reports/{}", report["report_id"]);
    let decided = app.patch(&uri, &admin(), json!({"action": "warn"})).await;
    let notified = &decided.assert_ok(200, "REPORT_DECIDED")["notified"];
    assert_eq!(notified["leader"], false);
    assert_eq!(notified["leader_problem"], "the project has no team");

    // Deleting goes through the Project service, which takes the team with it.
    let report = file_report(&app, &user(), PROJECT).await;
    let uri = format!("/admin/reports/{}", report["report_id"]);
    app.patch(&uri, &admin(), json!({"action": "delete"})).await.assert_ok(200, "REPORT_DECIDED");
    assert!(!app.siblings.has_project(PROJECT));
    assert_eq!(app.siblings.team_of(PROJECT), None);
}

#[tokio::test]
async fn leaders_of_drifted_teams_hear_decisions_on_mariadb() {
    decide_reports_with_real_sibling_shapes(TestDb::mariadb().await).await;
}

#[tokio::test]
async fn leaders_of_drifted_teams_hear_decisions_on_the_embedded_store() {
    decide_reports_with_real_sibling_shapes(TestDb::sqlite()).await;
}

/// Sends three messages in project 7 (team 31) a moment apart; returns their timestamps.
async fn three_messages(app: &TestApp) -> Vec<String> {
    let member = user();
    app.siblings.project_in_team(PROJECT, TEAM, "회의", member.user_id(), &[]);
    let mut stamps = Vec::new();
    for text in ["회의 시작", "안건 하나", "회의 끝"] {
        let sent = app.post("/chat/7/messages", &member, json!({"message": text, "is_in_meeting": true})).await;
        stamps.push(sent.assert_ok(201, "MESSAGE_SENT")["timestamp"].as_str().unwrap().to_owned());
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    stamps
}

#[tokio::test]
async fn the_ai_service_reads_a_teams_chat_log_and_meeting_window() {
    let app = TestApp::sqlite(Function::Chat).await;
    let stamps = three_messages(&app).await;
    let ai = minutes_reader();

    let logs = app.get("/chat/team/31/logs", &ai).await;
    assert_eq!(logs.status, 200, "{}", logs.body);
    assert_eq!(texts(&logs.body), ["회의 시작", "안건 하나", "회의 끝"], "a bare list, oldest first");
    let first = &logs.body[0];
    let keys: Vec<&str> = first.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, ["created_at", "message", "message_id", "timestamp", "user_id"]);
    assert_eq!(first["timestamp"], stamps[0].as_str());

    // The window's bounds are inclusive; `limit` takes the first messages of the window.
    let window = format!("/chat/team/31/logs?start_time={}&end_time={}", stamps[1], stamps[2]);
    assert_eq!(texts(&app.get(&window, &ai).await.body), ["안건 하나", "회의 끝"]);
    assert_eq!(texts(&app.get("/chat/team/31/logs?limit=2", &ai).await.body), ["회의 시작", "안건 하나"]);
    let after = format!("/chat/team/31/logs?start_time={}", stamps[2]);
    assert_eq!(texts(&app.get(&after, &ai).await.body), ["회의 끝"]);

    let body = json!({"start_time": stamps[0], "end_time": stamps[1]});
    let minutes = app.post("/chat/team/31/meeting-logs", &ai, body).await;
    assert_eq!(minutes.status, 200, "{}", minutes.body);
    assert_eq!(minutes.body["team_id"], TEAM);
    assert_eq!(minutes.body["start_time"], stamps[0].as_str());
    assert_eq!(minutes.body["end_time"], stamps[1].as_str());
    assert_eq!(minutes.body["message_count"], 2);
    let entry = &minutes.body["messages"][0];
    let keys: Vec<&str> = entry.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, ["message", "timestamp", "user_id"]);
    assert_eq!(texts(&minutes.body["messages"]), ["회의 시작", "안건 하나"]);

    // Python's naive isoformat() is a time on the service's calendar (KST).
    let naive_window = json!({"start_time": "2000-01-01T09:00:00", "end_time": "2000-01-01T09:30:00.250000"});
    let empty = app.post("/chat/team/31/meeting-logs", &ai, naive_window).await;
    assert_eq!(empty.status, 200, "{}", empty.body);
    assert_eq!(empty.body["start_time"], "2000-01-01T00:00:00.000Z");
    assert_eq!(empty.body["end_time"], "2000-01-01T00:30:00.250Z");
    assert_eq!(empty.body["message_count"], 0);
}

#[tokio::test]
async fn chat_logs_are_for_sibling_services_with_the_scope_and_bounds_are_checked() {
    let app = TestApp::sqlite(Function::Chat).await;
    three_messages(&app).await;
    let ai = minutes_reader();
    let window = json!({"start_time": "2026-01-01T00:00:00Z", "end_time": "2026-01-02T00:00:00Z"});

    // Users, administrators and members included, are refused; so is a token without the scope.
    let notify_only = service_tests::notify_service();
    for who in [user(), admin(), notify_only] {
        app.get("/chat/team/31/logs", &who).await.assert_error(403, "FORBIDDEN");
        app.post("/chat/team/31/meeting-logs", &who, window.clone()).await.assert_error(403, "FORBIDDEN");
    }
    app.get("/chat/team/31/logs", &Who::Anonymous).await.assert_error(401, "UNAUTHORIZED");

    // A team the Team service does not know: 404; its failure: 503.
    app.get("/chat/team/32/logs", &ai).await.assert_error(404, "NOT_FOUND");
    app.post("/chat/team/32/meeting-logs", &ai, window.clone()).await.assert_error(404, "NOT_FOUND");
    app.get("/chat/team/0/logs", &ai).await.assert_error(400, "INVALID_PATH_PARAMETER");
    app.siblings.answer_next(Route::Team, Answer::Status(500));
    app.siblings.answer_next(Route::Team, Answer::Status(500));
    app.get("/chat/team/31/logs", &ai).await.assert_error(503, "SERVICE_UNAVAILABLE");

    for query in [
        "start_time=yesterday",
        "end_time=2026-13-01T00:00:00Z",
        "start_time=2026-01-02T00:00:00Z&end_time=2026-01-01T00:00:00Z",
        "limit=0",
        "limit=1001",
        "limit=ten",
        "start_time=0999-12-31T00:00:00Z",
    ] {
        let reply = app.get(&format!("/chat/team/31/logs?{query}"), &ai).await;
        reply.assert_error(400, "INVALID_TIME_WINDOW");
        assert!(!reply.fields().is_empty(), "{query}: details name the bound");
    }
    for body in [
        json!({}),
        json!({"start_time": "2026-01-01T00:00:00Z"}),
        json!({"start_time": "nope", "end_time": "2026-01-01T00:00:00Z"}),
        json!({"start_time": "2026-01-02T00:00:00Z", "end_time": "2026-01-01T00:00:00Z"}),
    ] {
        let reply = app.post("/chat/team/31/meeting-logs", &ai, body.clone()).await;
        reply.assert_error(400, "INVALID_TIME_WINDOW");
        assert!(!reply.fields().is_empty(), "{body}");
    }
    let wrong_type = app.post("/chat/team/31/meeting-logs", &ai, json!({"start_time": 5, "end_time": 6})).await;
    wrong_type.assert_error(422, "VALIDATION_FAILED");
}

#[tokio::test]
async fn a_404_from_a_wrong_route_is_a_bad_gateway_never_no_team_or_project_gone() {
    let app = TestApp::sqlite(Function::Chat).await;
    let member = user();
    app.siblings.members(PROJECT, &[member.user_id()]);
    app.siblings.answer_team(Answer::RouteNotFound);
    app.get("/chat/7/messages", &member).await.assert_error(502, "BAD_GATEWAY");
    app.get("/chat/team/70/logs", &minutes_reader()).await.assert_error(502, "BAD_GATEWAY");
    // The sibling's own 404 is "not found".
    app.siblings.answer_team(Answer::Status(404));
    app.get("/chat/team/70/logs", &minutes_reader()).await.assert_error(404, "NOT_FOUND");

    // A decision meeting such a 404 at the Project service is stopped and logged as refused,
    // not "project gone".
    let reports = TestApp::sqlite(Function::Reports).await;
    reports.siblings.project(PROJECT, "경로", &new_user_id(), &[]);
    let report = file_report(&reports, &user(), PROJECT).await;
    let uri = format!("/admin/reports/{}", report["report_id"]);
    reports.siblings.answer_project(Answer::RouteNotFound);
    reports.patch(&uri, &admin(), json!({"action": "warn"})).await.assert_error(502, "BAD_GATEWAY");
    reports.siblings.answer_project(Answer::Normal);
    reports.siblings.answer_delete(Answer::RouteNotFound);
    reports.patch(&uri, &admin(), json!({"action": "delete"})).await.assert_error(502, "BAD_GATEWAY");
    let detail = reports.get(&uri, &admin()).await;
    let outcomes: Vec<&str> = detail.assert_ok(200, "REPORT_FOUND")["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(outcomes, ["PROJECT_SERVICE_REFUSED", "DELETE_REQUESTED", "PROJECT_SERVICE_REFUSED"]);
}

#[tokio::test]
async fn members_of_a_team_formed_a_moment_ago_are_admitted_within_five_seconds() {
    let env = TestEnv::new(TestDb::sqlite()).await.set("MEMBERSHIP_CACHE_SECONDS", "60");
    let app = TestApp::over(Function::Chat, env).await;
    let member = user();
    app.siblings.project_without_team(PROJECT, "모집 중");
    app.get("/chat/7/messages", &member).await.assert_error(403, "FORBIDDEN");
    // Recruiting ends: the team is formed with the member in it.
    app.siblings.project_in_team(PROJECT, TEAM, "모집 완료", &new_user_id(), &[member.user_id()]);
    tokio::time::sleep(shared::services::membership::NO_TEAM_CACHE_MAX + std::time::Duration::from_millis(200)).await;
    app.get("/chat/7/messages", &member).await.assert_ok(200, "MESSAGES_LISTED");
    // A team, once seen, is trusted for the whole cache time: no further call.
    let before = app.siblings.calls().len();
    app.get("/chat/7/messages", &member).await.assert_ok(200, "MESSAGES_LISTED");
    assert_eq!(app.siblings.calls().len(), before);
}

/// The notifications one user holds: their texts, oldest first.
async fn texts_of(app: &TestApp, user: &str) -> Vec<String> {
    let user = shared::domain::UserId::parse(user).unwrap();
    let limit = shared::domain::Limit::new(100).unwrap();
    let page = app.stores().notifications.list(&user, false, limit, None).await.unwrap();
    page.items.into_iter().rev().map(|n| n.message).collect()
}

#[tokio::test]
async fn titles_with_invisible_and_control_characters_never_stop_a_decision() {
    let app = TestApp::sqlite(Function::Reports).await;
    let long = "가".repeat(200);
    let titles = [
        ("제로\u{200B}폭", "제로폭"),
        ("\u{202E}역방향\u{202C} 제목", "역방향 제목"),
        ("벨\u{0007}소리\u{0000}끝", "벨 소리 끝"),
        ("\u{200B}\u{2060}", "#"),
        (long.as_str(), ""),
    ];
    let mut project = 300;
    for action in ["warn", "delete", "dismiss"] {
        for (title, shown) in titles {
            project += 1;
            let (reporter, leader) = (user(), new_user_id());
            app.siblings.project(project, title, &leader, &[]);
            let report = file_report(&app, &reporter, project).await;
            let uri = format!("/admin/reports/{}", report["report_id"]);
            let decided = app.patch(&uri, &admin(), json!({"action": action})).await;
            let case = format!("{action} on {title:?}");
            assert_eq!(decided.status, 200, "{case}: {}", decided.body);
            let told = texts_of(&app, reporter.user_id()).await;
            assert_eq!(told.len(), 1, "{case}");
            let expected = match shown {
                "#" => format!("'#{project}'"),
                "" => format!("'{}…'", "가".repeat(99)),
                shown => format!("'{shown}'"),
            };
            assert!(told[0].contains(&expected), "{case}: {}", told[0]);
            assert_eq!(texts_of(&app, &leader).await.len(), 1, "{case}: the leader heard too");
        }
    }
}

/// Makes every insert into `notifications` fail (a database fault after the Project service has
/// deleted), or lifts it again.
async fn fault_on_notifications(db: &TestDb, on: bool) {
    use sqlx::Connection;
    let sql = match (db.mariadb_name().is_some(), on) {
        (true, true) => {
            "CREATE TRIGGER pf_fault BEFORE INSERT ON notifications FOR EACH ROW \
                         SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'injected fault'"
        }
        (false, true) => {
            "CREATE TRIGGER pf_fault BEFORE INSERT ON notifications \
                          BEGIN SELECT RAISE(ABORT, 'injected fault'); END"
        }
        (_, false) => "DROP TRIGGER pf_fault",
    };
    if db.mariadb_name().is_some() {
        let mut conn = sqlx::MySqlConnection::connect(&db.url()).await.unwrap();
        sqlx::raw_sql(sql).execute(&mut conn).await.unwrap();
    } else {
        let mut conn = sqlx::SqliteConnection::connect(&db.url()).await.unwrap();
        sqlx::raw_sql(sql).execute(&mut conn).await.unwrap();
    }
}

async fn a_delete_that_failed_after_the_project_service_deleted_completes_on_retry(db: TestDb) {
    let env = TestEnv::new(db).await;
    let app = TestApp::over(Function::Reports, env).await;
    let (reporter, leader) = (user(), new_user_id());
    app.siblings.project_in_team(PROJECT, TEAM, "반쯤\u{200B} 삭제", &leader, &[]);
    let report = file_report(&app, &reporter, PROJECT).await;
    let uri = format!("/admin/reports/{}", report["report_id"]);

    fault_on_notifications(&app.env.db, true).await;
    let failed = app.patch(&uri, &admin(), json!({"action": "delete", "note": "삭제"})).await;
    assert!(failed.status >= 500, "{}", failed.body);
    assert_eq!(failed.body["success"], false);
    assert!(!app.siblings.has_project(PROJECT), "the Project service did delete it");
    let detail = app.get(&uri, &admin()).await;
    assert_eq!(detail.assert_ok(200, "REPORT_FOUND")["status"], "PENDING");
    fault_on_notifications(&app.env.db, false).await;

    // The retry finds the project gone and an unfinished delete: it completes, telling both.
    let retried = app.patch(&uri, &admin(), json!({"action": "delete", "note": "삭제"})).await;
    let data = retried.assert_ok(200, "REPORT_DECIDED");
    assert_eq!(data["outcome"], "APPLIED");
    assert_eq!(data["report"]["status"], "RESOLVED");
    assert_eq!(data["notified"], json!({"reporter": true, "leader": true}));
    let to_leader = texts_of(&app, &leader).await;
    assert_eq!(to_leader.len(), 1);
    assert!(to_leader[0].contains("'반쯤 삭제'"), "{}", to_leader[0]);
    assert_eq!(texts_of(&app, reporter.user_id()).await.len(), 1);
    let outcomes: Vec<String> = app.get(&uri, &admin()).await.body["data"]["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["outcome"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(outcomes, ["DELETE_REQUESTED", "APPLIED"]);
    // Only one DELETE reached the Project service.
    assert_eq!(app.siblings.calls().iter().filter(|c| c.method == "DELETE").count(), 1);

    // A timed-out delete that landed later completes the same way.
    let (reporter, leader) = (user(), new_user_id());
    app.siblings.project(8, "늦은 삭제", &leader, &[]);
    let report = file_report(&app, &reporter, 8).await;
    let uri = format!("/admin/reports/{}", report["report_id"]);
    app.siblings.answer_next(Route::Delete, Answer::Slow(std::time::Duration::from_millis(700)));
    app.patch(&uri, &admin(), json!({"action": "delete"})).await.assert_error(503, "SERVICE_UNAVAILABLE");
    tokio::time::sleep(std::time::Duration::from_millis(600)).await;
    assert!(!app.siblings.has_project(8), "the slow delete went through after all");
    app.patch(&uri, &admin(), json!({"action": "delete"})).await.assert_ok(200, "REPORT_DECIDED");
    assert_eq!(texts_of(&app, &leader).await.len(), 1);
}

#[tokio::test]
async fn an_interrupted_delete_completes_on_retry_on_mariadb() {
    a_delete_that_failed_after_the_project_service_deleted_completes_on_retry(TestDb::mariadb().await).await;
}

#[tokio::test]
async fn an_interrupted_delete_completes_on_retry_on_the_embedded_store() {
    a_delete_that_failed_after_the_project_service_deleted_completes_on_retry(TestDb::sqlite()).await;
}
