//! Reports and moderation through the reports function's router, against loopback Project and
//! Team services whose answers each case sets: every decision × every way a sibling can fail,
//! asserting the reply, the report's status, its action log and exactly who was told what.

use serde_json::{Value, json};
use service_tests::{Answer, Function, Route, TestApp, TestDb, TestEnv, Who, admin, new_user_id, notify_service, user};
use shared::domain::UserId;

async fn reports(db: TestDb) -> TestApp {
    TestApp::over(Function::Reports, TestEnv::new(db).await).await
}

/// The texts a decision sends: (to the reporter, to the leader).
fn texts(action: &str, title: &str) -> (String, String) {
    match action {
        "warn" => (
            format!("신고하신 프로젝트 '{title}'에 대해 경고 조치가 취해졌습니다."),
            format!(
                "회원님의 프로젝트 '{title}'에 대한 신고가 확인되어 경고 조치가 취해졌습니다. 운영 정책을 확인해 주세요."
            ),
        ),
        "delete" => (
            format!("신고하신 프로젝트 '{title}'에 대한 검토 결과, 해당 프로젝트가 삭제되었습니다."),
            format!("운영 정책 위반 신고가 확인되어 회원님의 프로젝트 '{title}'가 삭제되었습니다."),
        ),
        "dismiss" => (
            format!("신고하신 프로젝트 '{title}'에 대한 검토 결과, 무혐의로 처리되었습니다."),
            format!("회원님의 프로젝트 '{title}'에 접수된 신고는 검토 결과 무혐의로 처리되었습니다."),
        ),
        _ => (
            format!("신고하신 프로젝트 '{title}'에 대한 신고가 처리 완료되었습니다."),
            format!("회원님의 프로젝트 '{title}'에 접수된 신고가 처리 완료되었습니다."),
        ),
    }
}

async fn notifications_of(app: &TestApp, user: &str) -> Vec<(String, String)> {
    app.env.notifications_of(user).await
}

async fn file(app: &TestApp, reporter: &Who, project: i64) -> Value {
    let body = json!({"project_id": project, "type": "REPORT", "content": "욕설과 광고 글이 계속 올라옵니다."});
    app.post("/reports", reporter, body).await.assert_ok(201, "REPORT_FILED").clone()
}

async fn outcomes(app: &TestApp, report_id: &Value) -> Vec<String> {
    let detail = app.get(&format!("/admin/reports/{report_id}"), &admin()).await;
    let actions = detail.assert_ok(200, "REPORT_FOUND")["actions"].as_array().unwrap().clone();
    actions.iter().map(|a| a["outcome"].as_str().unwrap().to_owned()).collect()
}

async fn status_of(app: &TestApp, report_id: &Value) -> String {
    let detail = app.get(&format!("/admin/reports/{report_id}"), &admin()).await;
    detail.assert_ok(200, "REPORT_FOUND")["status"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn users_file_reports_and_list_their_own() {
    let app = reports(TestDb::mariadb().await).await;
    let (alice, bob) = (user(), user());
    let first = file(&app, &alice, 7).await;
    assert_eq!((first["status"].clone(), first["type"].clone()), (json!("PENDING"), json!("REPORT")));
    assert_eq!(first["user_id"], alice.user_id());
    assert!(first["decision"].is_null() && first["resolution_note"].is_null());
    // A second open report on the same project returns the first.
    let again = app.post("/reports", &alice, json!({"project_id": "7", "type": "bug", "content": "또 신고"})).await;
    assert_eq!(again.assert_ok(200, "REPORT_ALREADY_OPEN"), &first);
    let other = app.post("/reports", &alice, json!({"project_id": 8, "type": "INQUIRY", "content": "문의"})).await;
    let other = other.assert_ok(201, "REPORT_FILED").clone();
    file(&app, &bob, 7).await;

    let mine = app.get("/reports/mine?limit=1", &alice).await;
    assert_eq!(mine.assert_ok(200, "REPORTS_LISTED")[0]["report_id"], other["report_id"], "newest first");
    let cursor = mine.body["meta"]["next_cursor"].as_str().unwrap().to_owned();
    let older = app.get(&format!("/reports/mine?limit=1&cursor={cursor}"), &alice).await;
    assert_eq!(older.assert_ok(200, "REPORTS_LISTED")[0]["report_id"], first["report_id"]);
    assert_eq!(older.body["meta"]["has_more"], false);

    for (body, field) in [
        (json!({"project_id": 0, "type": "REPORT", "content": "x"}), "project_id"),
        (json!({"project_id": "abc", "type": "REPORT", "content": "x"}), "project_id"),
        (json!({"project_id": 1, "type": "SPAM", "content": "x"}), "type"),
        (json!({"project_id": 1, "type": "REPORT", "content": "   "}), "content"),
        (json!({"project_id": 1, "type": "REPORT", "content": "가".repeat(2001)}), "content"),
        (json!({"project_id": 1, "type": "REPORT"}), "content"),
        (json!({"project_id": 1, "type": "REPORT", "content": "x", "user_id": "spoof"}), "user_id"),
        (json!({"project_id": 1, "type": 5, "content": "x"}), "type"),
    ] {
        let reply = app.post("/reports", &alice, body.clone()).await;
        reply.assert_error(422, "VALIDATION_FAILED");
        assert_eq!(reply.fields(), [field], "{body}");
    }
    let long = json!({"project_id": 1, "type": "REPORT", "content": "가".repeat(2000)});
    app.post("/reports", &alice, long).await.assert_ok(201, "REPORT_FILED");
    app.post("/reports", &Who::Anonymous, json!({})).await.assert_error(401, "UNAUTHORIZED");
    app.post("/reports", &notify_service(), json!({"project_id": 1, "type": "BUG", "content": "x"}))
        .await
        .assert_error(403, "FORBIDDEN");
    app.get("/reports/mine", &Who::Anonymous).await.assert_error(401, "UNAUTHORIZED");
}

#[tokio::test]
async fn admins_list_filter_and_read_reports() {
    let app = reports(TestDb::sqlite()).await;
    app.siblings.project(7, "포트폴리오", &new_user_id(), &[]);
    let (alice, bob, carol) = (user(), user(), user());
    let a = file(&app, &alice, 7).await;
    let b = file(&app, &bob, 7).await;
    let bug =
        app.post("/reports", &carol, json!({"project_id": 9, "type": "BUG", "content": "버튼이 안 눌려요"})).await;
    let bug = bug.assert_ok(201, "REPORT_FILED").clone();

    let all = app.get("/admin/reports", &admin()).await;
    let listed = all.assert_ok(200, "REPORTS_LISTED").as_array().unwrap().clone();
    let ids: Vec<_> = listed.iter().map(|r| r["report_id"].clone()).collect();
    assert_eq!(ids, [bug["report_id"].clone(), b["report_id"].clone(), a["report_id"].clone()], "newest first");
    assert_eq!((listed[1]["open_reporters"].clone(), listed[0]["open_reporters"].clone()), (json!(2), json!(1)));

    let by_project = app.get("/admin/reports?project_id=7&type=REPORT&status=PENDING", &admin()).await;
    assert_eq!(by_project.assert_ok(200, "REPORTS_LISTED").as_array().unwrap().len(), 2);
    let bugs = app.get("/admin/reports?type=bug", &admin()).await;
    assert_eq!(bugs.assert_ok(200, "REPORTS_LISTED")[0]["report_id"], bug["report_id"]);
    let paged = app.get("/admin/reports?limit=2", &admin()).await;
    let cursor = paged.body["meta"]["next_cursor"].as_str().unwrap().to_owned();
    let rest = app.get(&format!("/admin/reports?limit=2&cursor={cursor}"), &admin()).await;
    assert_eq!(rest.assert_ok(200, "REPORTS_LISTED")[0]["report_id"], a["report_id"]);

    // Dismissing one of project 7's reports leaves one open reporter there.
    let uri = format!("/admin/reports/{}", a["report_id"]);
    app.patch(&uri, &admin(), json!({"action": "dismiss", "note": "규정 위반 아님"}))
        .await
        .assert_ok(200, "REPORT_DECIDED");
    let after = app.get("/admin/reports?project_id=7", &admin()).await;
    let open: Vec<_> = after
        .assert_ok(200, "REPORTS_LISTED")
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["open_reporters"].clone())
        .collect();
    assert_eq!(open, [json!(1), json!(1)]);
    let detail = app.get(&uri, &admin()).await;
    let detail = detail.assert_ok(200, "REPORT_FOUND");
    assert_eq!(
        (detail["status"].clone(), detail["resolution_note"].clone()),
        (json!("DISMISSED"), json!("규정 위반 아님"))
    );
    assert_eq!(detail["actions"][0]["action"], "DISMISS");
    assert_eq!(detail["actions"][0]["note"], "규정 위반 아님");
    // A closed report no longer blocks a new one by the same user.
    file(&app, &alice, 7).await;

    for (query, field) in
        [("status=OPEN", "status"), ("type=SPAM", "type"), ("project_id=-1", "project_id"), ("limit=0", "limit")]
    {
        let reply = app.get(&format!("/admin/reports?{query}"), &admin()).await;
        reply.assert_error(400, "INVALID_QUERY");
        assert_eq!(reply.fields(), [field]);
    }
    app.get("/admin/reports", &alice).await.assert_error(403, "FORBIDDEN");
    app.get(&uri, &alice).await.assert_error(403, "FORBIDDEN");
    app.get("/admin/reports/424242", &admin()).await.assert_error(404, "NOT_FOUND");
    app.get("/admin/reports/x", &admin()).await.assert_error(400, "INVALID_PATH_PARAMETER");
    app.patch(&uri, &alice, json!({"action": "warn"})).await.assert_error(403, "FORBIDDEN");
    for (body, field) in
        [(json!({"action": "ban"}), "action"), (json!({}), "action"), (json!({"action": "resolve"}), "note")]
    {
        let reply = app.patch(&uri, &admin(), body).await;
        reply.assert_error(422, "VALIDATION_FAILED");
        assert_eq!(reply.fields(), [field]);
    }
}

/// Where a case breaks the siblings.
#[derive(Debug, Clone, Copy)]
enum Break {
    Nothing,
    Project(Failure),
    Members(Failure),
    Delete(Failure),
}

#[derive(Debug, Clone, Copy)]
enum Failure {
    NotFound,
    ServerError,
    Slow,
    Refused,
    Malformed,
}

impl Failure {
    fn answer(self) -> Answer {
        match self {
            Failure::NotFound => Answer::Status(404),
            Failure::ServerError => Answer::Status(500),
            Failure::Slow => Answer::Slow(std::time::Duration::from_millis(700)),
            Failure::Refused => unreachable!("refused is a URL nobody listens on"),
            Failure::Malformed => Answer::Malformed,
        }
    }
}

/// What a case must end in.
struct Expect {
    status: u16,
    code: &'static str,
    report_status: &'static str,
    log: &'static [&'static str],
    reporter_told: bool,
    leader_told: bool,
}

fn expect(action: &str, broken: Break) -> Expect {
    use Failure::*;
    let target = match action {
        "warn" => "IN_PROGRESS",
        "delete" => "RESOLVED",
        _ => "DISMISSED",
    };
    let applied = |leader_told| Expect {
        status: 200,
        code: "REPORT_DECIDED",
        report_status: target,
        log: &["APPLIED"],
        reporter_told: true,
        leader_told,
    };
    let stopped = |status, code, log| Expect {
        status,
        code,
        report_status: "PENDING",
        log,
        reporter_told: false,
        leader_told: false,
    };
    match broken {
        Break::Nothing => applied(true),
        // A project the Project service does not know can be dismissed, not warned or deleted.
        Break::Project(NotFound) if action == "dismiss" => applied(false),
        Break::Project(NotFound) => stopped(409, "CONFLICT", &["PROJECT_NOT_FOUND"]),
        // A failing (5xx) or silent service is unavailable; one that answers nonsense is a bad gateway.
        Break::Project(Malformed) => stopped(502, "BAD_GATEWAY", &["PROJECT_SERVICE_REFUSED"]),
        Break::Project(ServerError | Slow | Refused) => {
            stopped(503, "SERVICE_UNAVAILABLE", &["PROJECT_SERVICE_UNAVAILABLE"])
        }
        // The leader cannot be found: the reporter is still told.
        Break::Members(_) => applied(false),
        Break::Delete(NotFound) => stopped(409, "CONFLICT", &["PROJECT_NOT_FOUND"]),
        Break::Delete(Malformed) => stopped(502, "BAD_GATEWAY", &["PROJECT_SERVICE_REFUSED"]),
        Break::Delete(ServerError | Slow | Refused) => {
            stopped(503, "SERVICE_UNAVAILABLE", &["PROJECT_SERVICE_UNAVAILABLE"])
        }
    }
}

/// Every decision × every way the Project and Team services can fail, on one backend.
async fn decisions_hold_under_every_sibling_failure(db: TestDb) {
    use Failure::*;
    let healthy = reports(db).await;
    // The same functions with the siblings' address pointing where nothing listens.
    let refused_env = TestEnv::new(TestDb::sqlite()).await.set("PROJECT_SERVICE_URL", "http://127.0.0.1:9");
    let refused_env = refused_env.set("TEAM_SERVICE_URL", "http://127.0.0.1:9");
    let refusing = TestApp::over(Function::Reports, refused_env).await;
    let mut project = 100;
    for action in ["warn", "delete", "dismiss"] {
        let mut breaks = vec![Break::Nothing];
        for failure in [NotFound, ServerError, Slow, Refused, Malformed] {
            breaks.push(Break::Project(failure));
            if !matches!(failure, Refused) {
                breaks.push(Break::Members(failure));
            }
            if action == "delete" && !matches!(failure, Malformed | Refused) {
                breaks.push(Break::Delete(failure));
            }
        }
        for broken in breaks {
            project += 1;
            let app = if matches!(broken, Break::Project(Refused)) { &refusing } else { &healthy };
            let case = format!("{action} with {broken:?}");
            let (reporter, leader) = (user(), new_user_id());
            // Ends in a vowel: the leader's delete text reads '…'가 삭제되었습니다.
            let title = format!("{project}번 스터디");
            app.siblings.project(project, &title, &leader, &[]);
            app.siblings.answer_project(Answer::Normal);
            app.siblings.answer_team(Answer::Normal);
            app.siblings.answer_delete(Answer::Normal);
            match broken {
                Break::Project(failure) if !matches!(failure, Refused) => app.siblings.answer_project(failure.answer()),
                Break::Members(failure) => app.siblings.answer_team(failure.answer()),
                Break::Delete(failure) => app.siblings.answer_delete(failure.answer()),
                _ => {}
            }
            let report = file(app, &reporter, project).await;
            let uri = format!("/admin/reports/{}", report["report_id"]);
            let reply = app.patch(&uri, &admin(), json!({"action": action, "note": "검토 완료"})).await;
            let wanted = expect(action, broken);
            assert_eq!(reply.status, wanted.status, "{case}: {}", reply.body);
            assert_eq!(reply.body["code"], wanted.code, "{case}: {}", reply.body);
            assert_eq!(status_of(app, &report["report_id"]).await, wanted.report_status, "{case}");
            // A delete that got as far as asking the Project service logged that first.
            let mut log = wanted.log.to_vec();
            if action == "delete" && matches!(broken, Break::Nothing | Break::Members(_) | Break::Delete(_)) {
                log.insert(0, "DELETE_REQUESTED");
            }
            assert_eq!(outcomes(app, &report["report_id"]).await, log, "{case}");

            let shown_title =
                if matches!(broken, Break::Project(NotFound)) { format!("#{project}") } else { title.clone() };
            let (to_reporter, to_leader) = texts(action, &shown_title);
            let reporter_link = format!("/mypage/reports/{}", report["report_id"]);
            let expected_reporter = if wanted.reporter_told { vec![(to_reporter, reporter_link)] } else { vec![] };
            assert_eq!(notifications_of(app, reporter.user_id()).await, expected_reporter, "{case}");
            let leader_link =
                if action == "delete" { "/mypage/projects".to_owned() } else { format!("/projects/{project}") };
            let expected_leader = if wanted.leader_told { vec![(to_leader, leader_link)] } else { vec![] };
            assert_eq!(notifications_of(app, &leader).await, expected_leader, "{case}");
            if reply.status == 200 {
                let notified = &reply.body["data"]["notified"];
                assert_eq!(notified["reporter"], true, "{case}");
                assert_eq!(notified["leader"], wanted.leader_told, "{case}");
                assert_eq!(notified["leader_problem"].is_string(), !wanted.leader_told, "{case}: the reply says why");
                assert_eq!(reply.body["data"]["report"]["resolution_note"], "검토 완료", "{case}");
            } else {
                assert_eq!(reply.body["success"], false, "{case}");
            }
            // The Project service deleted the project exactly when the decision says so (a delete
            // that timed out may still land there later: the decision says "unavailable", not done).
            if !matches!(broken, Break::Delete(Slow) | Break::Project(Refused)) {
                let deleted = action == "delete" && matches!(broken, Break::Nothing | Break::Members(_));
                assert_eq!(healthy.siblings.has_project(project), !deleted, "{case}");
            }
        }
    }
}

#[tokio::test]
async fn decisions_hold_under_every_sibling_failure_on_mariadb() {
    decisions_hold_under_every_sibling_failure(TestDb::mariadb().await).await;
}

#[tokio::test]
async fn decisions_hold_under_every_sibling_failure_on_sqlite() {
    decisions_hold_under_every_sibling_failure(TestDb::sqlite()).await;
}

#[tokio::test]
async fn later_decisions_change_earlier_ones_and_repeats_tell_nobody_twice() {
    let app = reports(TestDb::mariadb().await).await;
    let (reporter, leader) = (user(), new_user_id());
    app.siblings.project(5, "스터디 모임", &leader, &[reporter.user_id()]);
    let report = file(&app, &reporter, 5).await;
    let uri = format!("/admin/reports/{}", report["report_id"]);

    app.patch(&uri, &admin(), json!({"action": "warn"})).await.assert_ok(200, "REPORT_DECIDED");
    let again = app.patch(&uri, &admin(), json!({"action": "WARN", "note": "두 번째 경고 시도"})).await;
    let again = again.assert_ok(200, "REPORT_UNCHANGED");
    assert_eq!((again["outcome"].clone(), again["notified"]["reporter"].clone()), (json!("UNCHANGED"), json!(false)));
    assert_eq!(notifications_of(&app, reporter.user_id()).await.len(), 1);
    assert_eq!(notifications_of(&app, &leader).await.len(), 1);

    let deleted = app.patch(&uri, &admin(), json!({"action": "delete", "note": "반복 위반"})).await;
    let deleted = deleted.assert_ok(200, "REPORT_DECIDED");
    assert_eq!(
        (deleted["report"]["status"].clone(), deleted["report"]["decision"].clone()),
        (json!("RESOLVED"), json!("delete"))
    );
    assert!(!app.siblings.has_project(5));
    assert_eq!(outcomes(&app, &report["report_id"]).await, ["APPLIED", "UNCHANGED", "DELETE_REQUESTED", "APPLIED"]);
    assert_eq!(notifications_of(&app, reporter.user_id()).await.len(), 2);
    app.patch(&uri, &admin(), json!({"action": "delete"})).await.assert_ok(200, "REPORT_UNCHANGED");
    assert_eq!(notifications_of(&app, &leader).await.len(), 2, "a repeated delete tells nobody");

    // Another report on the now deleted project: delete says it is gone; resolve closes it.
    let other = file(&app, &user(), 5).await;
    let other_uri = format!("/admin/reports/{}", other["report_id"]);
    app.patch(&other_uri, &admin(), json!({"action": "delete"})).await.assert_error(409, "CONFLICT");
    let resolved = app.patch(&other_uri, &admin(), json!({"action": "resolve", "note": "이미 삭제된 프로젝트"})).await;
    let resolved = resolved.assert_ok(200, "REPORT_DECIDED");
    assert_eq!(resolved["report"]["status"], "RESOLVED");
    assert_eq!(outcomes(&app, &other["report_id"]).await, ["PROJECT_NOT_FOUND", "APPLIED"]);
}

#[tokio::test]
async fn two_admins_deciding_at_once_get_one_decision() {
    let app = reports(TestDb::mariadb().await).await;
    let (reporter, leader) = (user(), new_user_id());
    app.siblings.project(3, "경쟁 프로젝트", &leader, &[]);
    let report = file(&app, &reporter, 3).await;
    let uri = format!("/admin/reports/{}", report["report_id"]);
    // The first decision waits on the Project service; the second arrives meanwhile.
    app.siblings.answer_next(Route::Project, Answer::Slow(std::time::Duration::from_millis(150)));
    let (one, other) = (admin(), admin());
    let (first, second) = tokio::join!(app.patch(&uri, &one, json!({"action": "warn"})), async {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        app.patch(&uri, &other, json!({"action": "dismiss"})).await
    });
    first.assert_ok(200, "REPORT_DECIDED");
    second.assert_error(409, "CONFLICT");
    assert_eq!(status_of(&app, &report["report_id"]).await, "IN_PROGRESS");
    assert_eq!(outcomes(&app, &report["report_id"]).await, ["APPLIED"]);
    assert_eq!(notifications_of(&app, reporter.user_id()).await.len(), 1);
    // Once the first is done, the second may decide.
    app.patch(&uri, &admin(), json!({"action": "dismiss"})).await.assert_ok(200, "REPORT_DECIDED");
}

#[tokio::test]
async fn admins_delete_projects_through_the_project_service() {
    let app = reports(TestDb::sqlite()).await;
    app.siblings.project(11, "삭제될 프로젝트", &new_user_id(), &[]);
    let adm = admin();
    let deleted = app.delete("/admin/projects/11", &adm).await;
    assert_eq!(deleted.assert_ok(200, "PROJECT_DELETED"), &json!({"project_id": 11, "deleted": true}));
    assert!(!app.siblings.has_project(11));
    app.delete("/admin/projects/11", &adm).await.assert_error(409, "CONFLICT");
    app.siblings.project(12, "x", &new_user_id(), &[]);
    app.siblings.answer_delete(Answer::Status(503));
    app.delete("/admin/projects/12", &adm).await.assert_error(503, "SERVICE_UNAVAILABLE");
    assert!(app.siblings.has_project(12));
    app.siblings.answer_delete(Answer::Status(403));
    app.delete("/admin/projects/12", &adm).await.assert_error(502, "BAD_GATEWAY");
    assert!(app.siblings.has_project(12));
    app.delete("/admin/projects/12", &user()).await.assert_error(403, "FORBIDDEN");
    app.delete("/admin/projects/0", &adm).await.assert_error(400, "INVALID_PATH_PARAMETER");
    // The call carried the request id of the request that caused it.
    let calls = app.siblings.calls();
    assert_eq!(calls[0].method, "DELETE");
    assert_eq!(calls[0].path, "/projects/11");
    assert!(calls.iter().all(|c| c.request_id.as_deref().is_some_and(|id| id.len() == 36)), "{calls:?}");
}

#[tokio::test]
async fn reads_are_retried_once_and_deletes_never() {
    let app = reports(TestDb::sqlite()).await;
    let (reporter, leader) = (user(), new_user_id());
    app.siblings.project(21, "재시도", &leader, &[]);
    let report = file(&app, &reporter, 21).await;
    let uri = format!("/admin/reports/{}", report["report_id"]);
    // One 503 on the project lookup, then normal answers: the retry carries the decision.
    app.siblings.answer_next(Route::Project, Answer::Status(503));
    app.patch(&uri, &admin(), json!({"action": "warn"})).await.assert_ok(200, "REPORT_DECIDED");
    let gets = app.siblings.calls().iter().filter(|c| c.path == "/projects/21/basic").count();
    assert_eq!(gets, 2);
    // A failing delete is not repeated.
    app.siblings.answer_delete(Answer::Status(500));
    app.patch(&uri, &admin(), json!({"action": "delete"})).await.assert_error(503, "SERVICE_UNAVAILABLE");
    let deletes = app.siblings.calls().iter().filter(|c| c.method == "DELETE").count();
    assert_eq!(deletes, 1);
    assert_eq!(status_of(&app, &report["report_id"]).await, "IN_PROGRESS", "the earlier decision stands");
}

#[tokio::test]
async fn decision_notifications_are_pushed_live_to_subscribed_sockets() {
    use shared::domain::{ProjectId, chat::Connection, time::now_ms};
    let app = reports(TestDb::mariadb().await).await;
    let (reporter, leader) = (user(), new_user_id());
    app.siblings.project(31, "실시간", &leader, &[]);
    let now = now_ms();
    for (id, who, notifications) in [
        ("rep-bell=", reporter.user_id(), true),
        ("rep-chat=", reporter.user_id(), false),
        ("lead-bell=", leader.as_str(), true),
    ] {
        let connection = Connection {
            connection_id: service_tests::connection_id(id),
            user_id: UserId::parse(who).unwrap(),
            display_name: "x".into(),
            project_id: Some(ProjectId::new(31).unwrap()),
            notifications,
            admin: false,
            connected_at: now,
            expires_at: now + chrono::Duration::hours(2),
            token_expires_at: None,
            member: true,
            live: false,
        };
        app.chat().connections.put(&connection).await.unwrap();
        app.loopback.open(id);
    }
    let report = file(&app, &reporter, 31).await;
    app.patch(&format!("/admin/reports/{}", report["report_id"]), &admin(), json!({"action": "dismiss"}))
        .await
        .assert_ok(200, "REPORT_DECIDED");
    let (to_reporter, to_leader) = texts("dismiss", "실시간");
    let frames = app.loopback.received("rep-bell=");
    assert_eq!(
        (frames.len(), frames[0]["type"].clone(), frames[0]["message"].clone()),
        (1, json!("notification"), json!(to_reporter))
    );
    assert_eq!(app.loopback.received("lead-bell=")[0]["message"], to_leader);
    assert!(app.loopback.received("rep-chat=").is_empty());
}
