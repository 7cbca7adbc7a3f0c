use chrono::Days;
use serde_json::{Value, json};
use service_tests::{Function, TestApp, Who, admin, user};
use shared::domain::time::Calendar;

async fn app() -> TestApp {
    TestApp::mariadb(Function::Events).await
}

fn day(offset: i64) -> String {
    let today = Calendar::kst().today();
    let d = if offset >= 0 {
        today.checked_add_days(Days::new(offset as u64))
    } else {
        today.checked_sub_days(Days::new(offset.unsigned_abs()))
    };
    d.unwrap().format("%Y-%m-%d").to_string()
}

async fn create(app: &TestApp, title: &str, category: &str, start: i64, end: i64) -> Value {
    let body = json!({"title": title, "category": category, "start_date": day(start), "end_date": day(end)});
    app.post("/events", &admin(), body).await.assert_ok(201, "EVENT_CREATED").clone()
}

fn titles(reply: &service_tests::Reply) -> Vec<String> {
    reply
        .assert_ok(200, "EVENTS_LISTED")
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["title"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn events_carry_korean_labels_and_codes() {
    let app = app().await;
    let body = json!({
        "title": "PortForge 해커톤 2026 🚀", "category": "해커톤", "description": "48시간 동안",
        "image_url": "https://cdn.portforge.dev/h.png", "method": "오프라인", "location": "서울 강남구",
        "link": "https://portforge.dev/hack", "start_date": "2026-12-05", "end_date": "2026-12-06"
    });
    let created = app.post("/events", &admin(), body).await;
    let event = created.assert_ok(201, "EVENT_CREATED").clone();
    assert_eq!(event["category"], "해커톤");
    assert_eq!(event["category_code"], "HACKATHON");
    assert_eq!(event["start_date"], "2026-12-05");
    assert_eq!(event["method"], "오프라인");
    let fetched = app.get(&format!("/events/{}", event["event_id"]), &Who::Anonymous).await;
    assert_eq!(fetched.assert_ok(200, "EVENT_FOUND"), &event);
    app.get("/events/31337", &Who::Anonymous).await.assert_error(404, "NOT_FOUND");
    app.get("/events/x", &Who::Anonymous).await.assert_error(400, "INVALID_PATH_PARAMETER");
}

#[tokio::test]
async fn filters_by_category_status_and_date_range_sorted_by_start() {
    let app = app().await;
    create(&app, "past-conf", "CONFERENCE", -10, -8).await;
    create(&app, "ongoing-hack", "HACKATHON", -1, 1).await;
    create(&app, "today-only", "BOOTCAMP", 0, 0).await;
    create(&app, "upcoming-contest", "공모전", 5, 6).await;
    create(&app, "upcoming-hack", "hackathon", 3, 4).await;

    let all = app.get("/events", &Who::Anonymous).await;
    assert_eq!(titles(&all), ["past-conf", "ongoing-hack", "today-only", "upcoming-hack", "upcoming-contest"]);

    assert_eq!(
        titles(&app.get("/events?status=upcoming", &Who::Anonymous).await),
        ["upcoming-hack", "upcoming-contest"]
    );
    assert_eq!(titles(&app.get("/events?status=ongoing", &Who::Anonymous).await), ["ongoing-hack", "today-only"]);
    assert_eq!(titles(&app.get("/events?status=past", &Who::Anonymous).await), ["past-conf"]);
    assert_eq!(
        titles(&app.get("/events?category=HACKATHON", &Who::Anonymous).await),
        ["ongoing-hack", "upcoming-hack"]
    );
    let by_label = app.get("/events?category=%ED%95%B4%EC%BB%A4%ED%86%A4", &Who::Anonymous).await;
    assert_eq!(titles(&by_label), ["ongoing-hack", "upcoming-hack"]);
    assert_eq!(
        titles(&app.get("/events?category=hackathon&status=upcoming", &Who::Anonymous).await),
        ["upcoming-hack"]
    );
    // from/to keep events overlapping the range.
    let range = app.get(&format!("/events?from={}&to={}", day(1), day(3)), &Who::Anonymous).await;
    assert_eq!(titles(&range), ["ongoing-hack", "upcoming-hack"]);

    for (query, field) in [
        ("status=soon", "status"),
        ("category=MEETUP", "category"),
        ("from=2026-13-01", "from"),
        ("to=yesterday", "to"),
        ("from=2026-05-02&to=2026-05-01", "to"),
        ("cursor=%%%", "cursor"),
        ("limit=1000", "limit"),
    ] {
        let reply = app.get(&format!("/events?{query}"), &Who::Anonymous).await;
        reply.assert_error(400, "INVALID_QUERY");
        assert_eq!(reply.fields(), [field], "{query}");
    }
}

#[tokio::test]
async fn pages_break_ties_on_the_same_start_date() {
    let app = app().await;
    for i in 0..7 {
        create(&app, &format!("e{i}"), "CONTEST", 10, 12).await;
    }
    let mut seen = Vec::new();
    let mut uri = "/events?limit=3".to_owned();
    loop {
        let page = app.get(&uri, &Who::Anonymous).await;
        seen.extend(titles(&page));
        match page.body["meta"]["next_cursor"].as_str() {
            Some(c) => uri = format!("/events?limit=3&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen, (0..7).map(|i| format!("e{i}")).collect::<Vec<_>>());
}

#[tokio::test]
async fn admins_edit_and_delete_events_with_validation() {
    let app = app().await;
    let adm = admin();
    let event = create(&app, "editable", "BOOTCAMP", 20, 30).await;
    let uri = format!("/events/{}", event["event_id"]);

    let patched = app.patch(&uri, &adm, json!({"category": "컨퍼런스", "location": "부산", "end_date": day(25)})).await;
    let patched = patched.assert_ok(200, "EVENT_UPDATED");
    assert_eq!(patched["category_code"], "CONFERENCE");
    assert_eq!(patched["location"], "부산");
    assert_eq!(patched["title"], "editable");
    let cleared = app.patch(&uri, &adm, json!({"location": null})).await;
    assert!(cleared.assert_ok(200, "EVENT_UPDATED")["location"].is_null());

    let bad = app.patch(&uri, &adm, json!({"end_date": day(19)})).await;
    bad.assert_error(422, "VALIDATION_FAILED");
    assert_eq!(bad.fields(), ["end_date"]);
    let create_bad = app
        .post(
            "/events",
            &adm,
            json!({"title": "x", "category": "MEETUP", "start_date": "2026-01-02", "end_date": "2026-01-01"}),
        )
        .await;
    create_bad.assert_error(422, "VALIDATION_FAILED");
    assert_eq!(create_bad.fields(), ["category", "end_date"]);
    let missing =
        app.post("/events", &adm, json!({"title": "x", "category": "CONTEST", "start_date": "2026-01-02"})).await;
    assert_eq!(missing.fields(), ["end_date"]);

    app.patch(&uri, &user(), json!({"title": "mine"})).await.assert_error(403, "FORBIDDEN");
    app.post("/events", &Who::Anonymous, json!({})).await.assert_error(401, "UNAUTHORIZED");
    app.delete(&uri, &adm).await.assert_ok(200, "EVENT_DELETED");
    app.get(&uri, &Who::Anonymous).await.assert_error(404, "NOT_FOUND");
    app.delete(&uri, &adm).await.assert_error(404, "NOT_FOUND");
}

/// Admin tools send date-times, the original service sent dates: both are accepted, a time is
/// kept, and every event serves its days and its instants.
#[tokio::test]
async fn events_take_dates_or_date_times_and_serve_both() {
    let app = app().await;
    let timed = json!({"title": "해커톤 킥오프", "category": "HACKATHON",
                       "start_date": "2027-01-10T09:00:00+09:00", "end_date": "2027-01-11T18:30:00Z"});
    let event = app.post("/events", &admin(), timed).await.assert_ok(201, "EVENT_CREATED").clone();
    assert_eq!(event["start_at"], "2027-01-10T00:00:00.000Z");
    assert_eq!(event["end_at"], "2027-01-11T18:30:00.000Z");
    assert_eq!(event["start_date"], "2027-01-10");
    assert_eq!(event["end_date"], "2027-01-12", "18:30 UTC is past midnight in Korea");
    assert_eq!(event["all_day"], false);
    assert_eq!(event["id"], event["event_id"], "the alias the web app reads");

    let dated =
        json!({"title": "컨퍼런스", "category": "CONFERENCE", "start_date": "2027-01-10", "end_date": "2027-01-10"});
    let event = app.post("/events", &admin(), dated).await.assert_ok(201, "EVENT_CREATED").clone();
    assert_eq!(
        (event["start_at"].clone(), event["end_at"].clone()),
        (json!("2027-01-09T15:00:00.000Z"), json!("2027-01-10T14:59:59.999Z"))
    );
    assert_eq!(event["all_day"], true);

    // A patch keeps the stored bound it does not name.
    let uri = format!("/events/{}", event["event_id"]);
    let moved = app.patch(&uri, &admin(), json!({"end_date": "2027-01-10T20:00:00+09:00"})).await;
    let moved = moved.assert_ok(200, "EVENT_UPDATED");
    assert_eq!(
        (moved["start_at"].clone(), moved["end_at"].clone()),
        (json!("2027-01-09T15:00:00.000Z"), json!("2027-01-10T11:00:00.000Z"))
    );
    assert_eq!(moved["all_day"], false);

    // Both are listed, by start: the all-day one begins at midnight.
    let listed = app.get("/events?from=2027-01-10&to=2027-01-10", &Who::Anonymous).await;
    assert_eq!(titles(&listed), ["컨퍼런스", "해커톤 킥오프"]);
    let first = app.get("/events?from=2027-01-10&to=2027-01-10&limit=1", &Who::Anonymous).await;
    let cursor = first.body["meta"]["next_cursor"].as_str().unwrap().to_owned();
    let second =
        app.get(&format!("/events?from=2027-01-10&to=2027-01-10&limit=1&cursor={cursor}"), &Who::Anonymous).await;
    assert_eq!(titles(&second), ["해커톤 킥오프"]);

    for (start, end, field) in [
        ("2027-01-10T09:00:00", "2027-01-11", "start_date"),
        ("2027-01-10", "tomorrow", "end_date"),
        ("0999-12-31", "2027-01-01", "start_date"),
        ("2027-01-01", "9999-12-31", "end_date"),
        ("2027-01-10T10:00:00+09:00", "2027-01-10T09:00:00+09:00", "end_date"),
    ] {
        let body = json!({"title": "x", "category": "CONTEST", "start_date": start, "end_date": end});
        let reply = app.post("/events", &admin(), body).await;
        reply.assert_error(422, "VALIDATION_FAILED");
        assert_eq!(reply.fields(), [field], "{start} {end}");
    }
}
