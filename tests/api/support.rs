//! Customer support: inquiries and bug reports without a project, answered in a thread by
//! administrators, through the reports function over MariaDB and SQLite.

use serde_json::{Value, json};
use service_tests::{Function, TestApp, TestDb, TestEnv, Who, admin, gateway_event, notify_service, send_event, user};
use shared::domain::UserId;

async fn reports(db: TestDb) -> TestApp {
    TestApp::over(Function::Reports, TestEnv::new(db).await).await
}

async fn bell(app: &TestApp, who: &Who) -> Vec<(String, String)> {
    app.env.notifications_of(who.user_id()).await
}

fn inquiry() -> Value {
    json!({"type": "INQUIRY", "title": "[광고/제휴 문의] 푸터 문의 접수", "content": "광고 제휴 문의드립니다"})
}

async fn reply(app: &TestApp, id: &Value, who: &Who, message: &str) -> Value {
    let sent = app.post(&format!("/reports/{id}/replies"), who, json!({"message": message})).await;
    sent.assert_ok(201, "REPLY_ADDED").clone()
}

async fn status(app: &TestApp, id: &Value) -> String {
    let detail = app.get(&format!("/admin/reports/{id}"), &admin()).await;
    detail.assert_ok(200, "REPORT_FOUND")["status"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn inquiries_and_bug_reports_need_no_project_and_reports_still_need_a_target() {
    let app = reports(TestDb::mariadb().await).await;
    let reporter = user();
    let filed = app.post("/reports", &reporter, inquiry()).await.assert_ok(201, "REPORT_FILED").clone();
    assert_eq!(
        (filed["target"].clone(), filed["project_id"].clone(), filed["title"].clone(), filed["reply_count"].clone()),
        (json!({"kind": "NONE"}), Value::Null, json!("[광고/제휴 문의] 푸터 문의 접수"), json!(0))
    );
    // Several questions may be open at once; a bug report needs no title.
    let bug = app.post("/reports", &reporter, json!({"type": "bug", "content": "알림이 두 번 와요"})).await;
    let bug = bug.assert_ok(201, "REPORT_FILED").clone();
    assert_eq!((bug["title"].clone(), bug["type"].clone()), (Value::Null, json!("BUG")));
    app.post("/reports", &reporter, inquiry()).await.assert_ok(201, "REPORT_FILED");
    let mine = app.get("/reports/mine", &reporter).await;
    assert_eq!(mine.assert_ok(200, "REPORTS_LISTED").as_array().unwrap().len(), 3);
    // A project for context makes it a report on that project, as before.
    let on_project =
        app.post("/reports", &reporter, json!({"type": "INQUIRY", "project_id": 7, "content": "문의"})).await;
    assert_eq!(on_project.assert_ok(201, "REPORT_FILED")["target"], json!({"kind": "PROJECT", "project_id": 7}));
    for (body, field) in [
        (json!({"type": "REPORT", "content": "신고"}), "project_id"),
        (json!({"type": "INQUIRY", "title": "가".repeat(101), "content": "x"}), "title"),
        (json!({"type": "INQUIRY", "title": "   ", "content": "x"}), "title"),
        (json!({"type": "INQUIRY", "content": ""}), "content"),
    ] {
        let refused = app.post("/reports", &reporter, body.clone()).await;
        refused.assert_error(422, "VALIDATION_FAILED");
        assert_eq!(refused.fields(), [field], "{body}");
    }
    let listed = app.get("/admin/reports?target=none&type=INQUIRY", &admin()).await;
    assert_eq!(listed.assert_ok(200, "REPORTS_LISTED").as_array().unwrap().len(), 2);
}

/// The life of a ticket: an answer moves it on and tells the reporter; the reporter's reply
/// reopens it once closed; "answer and close" is one step; a ticket about nothing can be neither
/// warned nor deleted.
async fn a_ticket_is_a_conversation(db: TestDb) {
    let app = reports(db).await;
    let (reporter, moderator) = (user(), admin());
    let filed = app.post("/reports", &reporter, inquiry()).await.assert_ok(201, "REPORT_FILED").clone();
    let id = filed["report_id"].clone();

    let answer = reply(
        &app,
        &id,
        &moderator,
        "안녕하세요. 제휴 제안서를 partner@portforge.dev 로 보내 주시면 검토 후 연락드리겠습니다.",
    )
    .await;
    assert_eq!((answer["author"].clone(), answer["admin_id"].clone()), (json!("ADMIN"), json!(moderator.user_id())));
    assert_eq!(status(&app, &id).await, "IN_PROGRESS", "an answer moves a pending ticket on");
    let link = format!("/mypage/reports/{id}");
    assert_eq!(
        bell(&app, &reporter).await,
        [(
            "문의하신 내용에 답변이 등록되었습니다: 안녕하세요. 제휴 제안서를 partner@portforge.dev 로 …".to_owned(),
            link.clone()
        )]
    );
    let question = reply(&app, &id, &reporter, "제안서 양식이 따로 있나요?").await;
    assert_eq!(question["author"], "USER");
    assert_eq!(status(&app, &id).await, "PENDING", "a question sends it back to the administrators");
    assert!(question.get("admin_id").is_none());

    // The reporter sees who wrote by role only; an administrator sees which administrator.
    let seen = app.get(&format!("/reports/{id}"), &reporter).await;
    let seen = seen.assert_ok(200, "REPORT_FOUND").clone();
    let authors: Vec<_> = seen["replies"].as_array().unwrap().iter().map(|r| r["author"].clone()).collect();
    assert_eq!(authors, [json!("ADMIN"), json!("USER")]);
    assert!(seen["replies"][0].get("admin_id").is_none(), "never the administrator's id: {seen}");
    assert_eq!(seen["reply_count"], 2);
    let admin_view = app.get(&format!("/reports/{id}"), &moderator).await;
    assert_eq!(admin_view.assert_ok(200, "REPORT_FOUND")["replies"][0]["admin_id"], moderator.user_id());

    // A ticket about nothing: nobody to warn, nothing to delete.
    for action in ["warn", "delete"] {
        let refused = app.patch(&format!("/admin/reports/{id}"), &moderator, json!({"action": action})).await;
        refused.assert_error(422, "VALIDATION_FAILED");
        assert_eq!(refused.fields(), ["action"]);
    }
    // Answer and close in one step: the note is the answer, the reporter is told once.
    let closed = app
        .patch(&format!("/admin/reports/{id}"), &moderator, json!({"action": "resolve", "note": "양식은 자유입니다."}))
        .await;
    let closed = closed.assert_ok(200, "REPORT_DECIDED").clone();
    assert_eq!(
        (closed["report"]["status"].clone(), closed["report"]["reply_count"].clone()),
        (json!("RESOLVED"), json!(3))
    );
    assert_eq!(closed["notified"], json!({"reporter": true, "leader": false}));
    let told = bell(&app, &reporter).await;
    assert_eq!(told.len(), 2);
    assert_eq!(
        told[1],
        ("문의하신 내용에 답변이 등록되고 처리가 완료되었습니다: 양식은 자유입니다.".to_owned(), link.clone())
    );
    let detail = app.get(&format!("/admin/reports/{id}"), &moderator).await;
    let detail = detail.assert_ok(200, "REPORT_FOUND").clone();
    assert_eq!(detail["replies"][2]["message"], "양식은 자유입니다.");
    assert_eq!(detail["actions"][0]["action"], "RESOLVE", "replies are not actions; refusals changed nothing");

    // The reporter's reply reopens it, its decision cleared; an answer moves it on again.
    reply(&app, &id, &reporter, "하나 더 여쭤볼게요.").await;
    let reopened = app.get(&format!("/admin/reports/{id}"), &moderator).await;
    let reopened = reopened.assert_ok(200, "REPORT_FOUND").clone();
    assert_eq!((reopened["status"].clone(), reopened["decision"].clone()), (json!("PENDING"), Value::Null));
    let dismissed = app.patch(&format!("/admin/reports/{id}"), &moderator, json!({"action": "dismiss"})).await;
    assert_eq!(dismissed.assert_ok(200, "REPORT_DECIDED")["report"]["status"], "DISMISSED");
    assert_eq!(bell(&app, &reporter).await[2].0, "문의하신 내용이 검토 후 종료되었습니다.");
    reply(&app, &id, &reporter, "아직 답을 못 받았어요.").await;
    assert_eq!(status(&app, &id).await, "PENDING");
    reply(&app, &id, &moderator, "확인하겠습니다.").await;
    assert_eq!(status(&app, &id).await, "IN_PROGRESS");
    assert_eq!(bell(&app, &reporter).await.len(), 4, "every answer told once, the reporter's own replies never");
}

#[tokio::test]
async fn a_ticket_is_a_conversation_on_mariadb() {
    a_ticket_is_a_conversation(TestDb::mariadb().await).await;
}

#[tokio::test]
async fn a_ticket_is_a_conversation_on_sqlite() {
    a_ticket_is_a_conversation(TestDb::sqlite()).await;
}

/// Replies and tickets are their reporter's: every route with another user's token is 404 (as
/// for no report), a service token 403, no token 401; a retried reply stores one; the bound.
async fn tickets_are_their_reporters_and_replies_are_bounded(db: TestDb) {
    let app = reports(db).await;
    let (reporter, stranger) = (user(), user());
    let id = app.post("/reports", &reporter, inquiry()).await.assert_ok(201, "REPORT_FILED")["report_id"].clone();
    app.get(&format!("/reports/{id}"), &stranger).await.assert_error(404, "NOT_FOUND");
    app.post(&format!("/reports/{id}/replies"), &stranger, json!({"message": "끼어들기"}))
        .await
        .assert_error(404, "NOT_FOUND");
    app.post(&format!("/reports/{id}/replies"), &stranger, json!({"bogus": 1})).await.assert_error(404, "NOT_FOUND");
    app.get(&format!("/reports/{id}"), &notify_service()).await.assert_error(403, "FORBIDDEN");
    app.get(&format!("/reports/{id}"), &Who::Anonymous).await.assert_error(401, "UNAUTHORIZED");
    app.get("/reports/999999", &reporter).await.assert_error(404, "NOT_FOUND");
    app.get("/reports/0", &reporter).await.assert_error(400, "INVALID_PATH_PARAMETER");
    for (body, field) in [
        (json!({"message": "  "}), "message"),
        (json!({"message": "가".repeat(2001)}), "message"),
        (json!({}), "message"),
    ] {
        let refused = app.post(&format!("/reports/{id}/replies"), &reporter, body).await;
        refused.assert_error(422, "VALIDATION_FAILED");
        assert_eq!(refused.fields(), [field]);
    }
    let seen = app.get(&format!("/reports/{id}"), &reporter).await;
    assert!(seen.assert_ok(200, "REPORT_FOUND")["replies"].as_array().unwrap().is_empty(), "refusals stored nothing");

    // A retry with the same Idempotency-Key stores one reply.
    let keyed = |key: &str, message: &str| {
        let mut event = gateway_event(
            "POST",
            &format!("/reports/{id}/replies"),
            &reporter,
            Some(&json!({"message": message}).to_string()),
        );
        event["headers"]["idempotency-key"] = json!(key);
        event.to_string()
    };
    let first = send_event(&app.router, &keyed("retry-1", "첫 질문")).await;
    let first = first.assert_ok(201, "REPLY_ADDED").clone();
    let again = send_event(&app.router, &keyed("retry-1", "첫 질문")).await;
    assert_eq!(again.assert_ok(200, "REPLY_ALREADY_STORED"), &first);
    send_event(&app.router, &keyed("bad key!", "x")).await.assert_error(422, "VALIDATION_FAILED");

    // The bound: 200 replies, then 409 with nothing stored.
    for i in 1..200 {
        reply(&app, &id, &reporter, &format!("추가 {i}")).await;
    }
    let full = app.post(&format!("/reports/{id}/replies"), &admin(), json!({"message": "하나 더"})).await;
    full.assert_error(409, "CONFLICT");
    let note = json!({"action": "resolve", "note": "답변"});
    app.patch(&format!("/admin/reports/{id}"), &admin(), note).await.assert_error(409, "CONFLICT");
    let seen = app.get(&format!("/reports/{id}"), &reporter).await;
    let seen = seen.assert_ok(200, "REPORT_FOUND").clone();
    assert_eq!((seen["reply_count"].clone(), seen["replies"].as_array().unwrap().len()), (json!(200), 200));
    assert_eq!(seen["status"], "PENDING");
}

#[tokio::test]
async fn tickets_are_their_reporters_and_replies_are_bounded_on_mariadb() {
    tickets_are_their_reporters_and_replies_are_bounded(TestDb::mariadb().await).await;
}

#[tokio::test]
async fn tickets_are_their_reporters_and_replies_are_bounded_on_sqlite() {
    tickets_are_their_reporters_and_replies_are_bounded(TestDb::sqlite()).await;
}

/// `sort=waiting`: pending reports only, the one waiting longest first (a reopened ticket waits
/// from its reopening); cursor paging in that order.
#[tokio::test]
async fn admins_see_the_oldest_waiting_first() {
    let app = reports(TestDb::sqlite()).await;
    let (a, b, c) = (user(), user(), user());
    let first = app.post("/reports", &a, inquiry()).await.assert_ok(201, "REPORT_FILED")["report_id"].clone();
    let second = app.post("/reports", &b, inquiry()).await.assert_ok(201, "REPORT_FILED")["report_id"].clone();
    let third = app.post("/reports", &c, inquiry()).await.assert_ok(201, "REPORT_FILED")["report_id"].clone();
    // The first is answered (in progress: not waiting), then closed, then reopened: it now
    // waits from its reopening, after the other two.
    let note = json!({"action": "resolve", "note": "답변드립니다"});
    app.patch(&format!("/admin/reports/{first}"), &admin(), note).await.assert_ok(200, "REPORT_DECIDED");
    reply(&app, &first, &a, "아직 궁금해요").await;
    let page = app.get("/admin/reports?sort=waiting&limit=2", &admin()).await;
    let ids: Vec<_> =
        page.assert_ok(200, "REPORTS_LISTED").as_array().unwrap().iter().map(|r| r["report_id"].clone()).collect();
    assert_eq!(ids, [second.clone(), third.clone()]);
    let cursor = page.body["meta"]["next_cursor"].as_str().unwrap().to_owned();
    let rest = app.get(&format!("/admin/reports?sort=waiting&limit=2&cursor={cursor}"), &admin()).await;
    let rest: Vec<_> =
        rest.assert_ok(200, "REPORTS_LISTED").as_array().unwrap().iter().map(|r| r["report_id"].clone()).collect();
    assert_eq!(rest, [first]);
    app.get("/admin/reports?sort=oldest", &admin()).await.assert_error(400, "INVALID_QUERY");
    app.get("/admin/reports?sort=waiting&status=RESOLVED", &admin()).await.assert_error(400, "INVALID_QUERY");
    // A further question while pending keeps the ticket's place in the queue.
    reply(&app, &second, &b, "혹시 소식 있나요?").await;
    let page = app.get("/admin/reports?sort=waiting", &admin()).await;
    let ids: Vec<_> =
        page.assert_ok(200, "REPORTS_LISTED").as_array().unwrap().iter().map(|r| r["report_id"].clone()).collect();
    assert_eq!(ids[0], second);
}

/// A reply that lands while an administrator is deciding is not closed over: the decision that
/// read the report before it is refused (nothing written), on both SQL engines.
#[tokio::test]
async fn a_decision_never_closes_over_a_reply_it_did_not_see() {
    use shared::{
        domain::{
            BoundedText, ReportId,
            report::{Decision, NewAction, NewReply, ReplyAuthor, ReportStatus},
            time::now_ms,
        },
        store::{Claim, Replied, ReportChange},
    };
    for db in [TestDb::mariadb().await, TestDb::sqlite()] {
        let app = reports(db).await;
        let (reporter, moderator) = (user(), admin());
        let id = app.post("/reports", &reporter, inquiry()).await.assert_ok(201, "REPORT_FILED")["report_id"]
            .as_i64()
            .unwrap();
        let id = ReportId::new(id).unwrap();
        let store = app.stores().reports;
        let until = now_ms() + chrono::Duration::seconds(30);
        let Claim::Claimed(seen) = store.claim(id, "lease", until, now_ms()).await.unwrap() else { panic!("claimed") };
        // The reporter adds a detail while the administrator decides.
        let detail = NewReply {
            report_id: id,
            author: ReplyAuthor::User,
            author_id: UserId::parse(reporter.user_id()).unwrap(),
            message: BoundedText::parse("추가 정보입니다", 1, 2000).unwrap(),
            idempotency_key: None,
        };
        assert!(matches!(store.reply(&detail, None, now_ms()).await.unwrap(), Replied::Added { .. }));
        let change = ReportChange {
            status: ReportStatus::Dismissed,
            decision: Decision::Dismiss,
            note: None,
            answer: None,
            replies_seen: seen.reply_count,
        };
        let log = NewAction {
            report_id: Some(id),
            project_id: None,
            admin_id: UserId::parse(moderator.user_id()).unwrap(),
            action: Decision::Dismiss.into(),
            note: None,
            outcome: shared::domain::report::Outcome::Applied,
            subject: None,
        };
        assert_eq!(store.apply(id, "lease", &change, &log, &[], now_ms()).await.unwrap(), None);
        let now = store.get(id).await.unwrap().unwrap();
        assert_eq!((now.status, now.reply_count), (ReportStatus::Pending, 1));
        assert!(store.actions(id).await.unwrap().is_empty(), "nothing written");
    }
}
