use chrono::{Duration, Utc};
use serde_json::{Value, json};
use service_tests::{Function, TestApp, Who, admin, user};
use shared::domain::{BoundedText, content::NoticeDraft, time::now_ms};

async fn app() -> TestApp {
    TestApp::mariadb(Function::Content).await
}

fn iso(at: chrono::DateTime<Utc>) -> String {
    shared::domain::time::format_iso(&at)
}

#[tokio::test]
async fn notices_are_created_by_admins_and_read_by_anyone() {
    let app = app().await;
    let created = app
        .post("/notices", &admin(), json!({"title": "  서비스 점검 안내 🔧 ", "content": "3월 1일 02:00–04:00 점검"}))
        .await;
    let notice = created.assert_ok(201, "NOTICE_CREATED").clone();
    assert_eq!(notice["title"], "서비스 점검 안내 🔧", "trimmed");
    assert_eq!(notice["created_at"], notice["updated_at"]);
    let id = notice["notice_id"].as_i64().unwrap();
    // The names the web app's home page reads, beside the API's own.
    assert_eq!(notice["id"], notice["notice_id"]);
    let created_at = shared::domain::time::parse_instant(notice["created_at"].as_str().unwrap()).unwrap();
    let kst_day = shared::domain::time::Calendar::kst().date_of(&created_at).format("%Y-%m-%d").to_string();
    assert_eq!(notice["date"], kst_day.as_str(), "the KST day the home page prints");

    let fetched = app.get(&format!("/notices/{id}"), &Who::Anonymous).await;
    assert_eq!(fetched.assert_ok(200, "NOTICE_FOUND"), &notice);
    let latest = app.get("/notices/latest", &Who::Anonymous).await;
    assert_eq!(latest.assert_ok(200, "LATEST_NOTICE"), &notice);

    app.post("/notices", &Who::Anonymous, json!({"title": "t", "content": "c"}))
        .await
        .assert_error(401, "UNAUTHORIZED");
    app.post("/notices", &user(), json!({"title": "t", "content": "c"})).await.assert_error(403, "FORBIDDEN");
}

#[tokio::test]
async fn notice_lookups_and_validation() {
    let app = app().await;
    let empty = app.get("/notices/latest", &Who::Anonymous).await;
    assert!(empty.assert_ok(200, "LATEST_NOTICE").is_null());
    let none = app.get("/notices", &Who::Anonymous).await;
    assert_eq!(none.assert_ok(200, "NOTICES_LISTED"), &json!([]));

    app.get("/notices/999999", &Who::Anonymous).await.assert_error(404, "NOT_FOUND");
    for bad in ["abc", "0", "-3", "1.5", "99999999999999999999"] {
        let reply = app.get(&format!("/notices/{bad}"), &Who::Anonymous).await;
        reply.assert_error(400, "INVALID_PATH_PARAMETER");
        assert_eq!(reply.fields(), ["id"]);
    }

    let adm = admin();
    let cases: Vec<(Value, &str)> = vec![
        (json!({"content": "c"}), "title"),
        (json!({"title": "t"}), "content"),
        (json!({"title": "", "content": "c"}), "title"),
        (json!({"title": "가".repeat(101), "content": "c"}), "title"),
        (json!({"title": ["t"], "content": "c"}), "title"),
        (json!({"title": "t", "content": "c".repeat(20_001)}), "content"),
    ];
    for (body, field) in cases {
        let reply = app.post("/notices", &adm, body.clone()).await;
        reply.assert_error(422, "VALIDATION_FAILED");
        assert_eq!(reply.fields(), [field], "{body}");
    }
    let longest = app.post("/notices", &adm, json!({"title": "가".repeat(100), "content": "😀".repeat(20_000)})).await;
    assert_eq!(longest.assert_ok(201, "NOTICE_CREATED")["content"].as_str().unwrap().chars().count(), 20_000);
}

#[tokio::test]
async fn latest_notice_is_deterministic_on_ties_and_lists_page() {
    let app = app().await;
    let at = now_ms();
    let draft = |t: &str| NoticeDraft {
        title: BoundedText::parse(t, 1, 100).unwrap(),
        content: BoundedText::parse("body", 1, 100).unwrap(),
    };
    let stores = app.stores();
    let first = stores.notices.create(&draft("first"), at).await.unwrap();
    let second = stores.notices.create(&draft("second"), at).await.unwrap();
    assert!(second.notice_id > first.notice_id);
    let latest = app.get("/notices/latest", &Who::Anonymous).await;
    assert_eq!(latest.assert_ok(200, "LATEST_NOTICE")["title"], "second");

    let page = app.get("/notices?limit=1", &Who::Anonymous).await;
    assert_eq!(page.assert_ok(200, "NOTICES_LISTED")[0]["title"], "second");
    let cursor = page.body["meta"]["next_cursor"].as_str().unwrap().to_owned();
    let next = app.get(&format!("/notices?limit=1&cursor={cursor}"), &Who::Anonymous).await;
    assert_eq!(next.assert_ok(200, "NOTICES_LISTED")[0]["title"], "first");
    assert_eq!(next.body["meta"]["has_more"], false);
}

#[tokio::test]
async fn public_banners_are_active_and_in_window_in_display_order() {
    let app = app().await;
    let adm = admin();
    let now = Utc::now();
    let banner = |title: &str, extra: Value| {
        let mut body = json!({"title": title, "image_url": "https://cdn.portforge.dev/b.png"});
        body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        body
    };
    let mut ids = std::collections::HashMap::new();
    for (title, extra) in [
        ("second-by-order", json!({"sort_order": 2})),
        ("first-by-order", json!({"sort_order": 1, "link": "/events/3"})),
        ("inactive", json!({"is_active": false})),
        ("future", json!({"start_at": iso(now + Duration::days(1))})),
        ("expired", json!({"start_at": iso(now - Duration::days(3)), "end_at": iso(now - Duration::days(1))})),
        (
            "open-window",
            json!({"sort_order": 2, "start_at": iso(now - Duration::days(1)), "end_at": iso(now + Duration::days(1))}),
        ),
    ] {
        let reply = app.post("/banners", &adm, banner(title, extra)).await;
        let data = reply.assert_ok(201, "BANNER_CREATED");
        ids.insert(title, data["banner_id"].as_i64().unwrap());
    }
    let listed = app.get("/banners", &Who::Anonymous).await;
    let titles: Vec<_> = listed
        .assert_ok(200, "BANNERS_LISTED")
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["title"].as_str().unwrap().to_owned())
        .collect();
    // Same sort_order: newest first.
    assert_eq!(titles, ["first-by-order", "open-window", "second-by-order"]);
    assert_eq!(listed.body["meta"]["count"], 3);

    let defaults = &listed.body["data"][2];
    assert_eq!(defaults["is_active"], true);
    assert!(defaults["link"].is_null() && defaults["start_at"].is_null() && defaults["end_at"].is_null());

    // Turning a banner off hides it; deleting removes it.
    let off = app.patch(&format!("/banners/{}", ids["first-by-order"]), &adm, json!({"is_active": false})).await;
    let off = off.assert_ok(200, "BANNER_UPDATED");
    assert_eq!(off["is_active"], false);
    assert_eq!(off["link"], "/events/3", "absent fields keep their value");
    app.delete(&format!("/banners/{}", ids["open-window"]), &adm).await.assert_ok(200, "BANNER_DELETED");
    app.delete(&format!("/banners/{}", ids["open-window"]), &adm).await.assert_error(404, "NOT_FOUND");
    let listed = app.get("/banners", &Who::Anonymous).await;
    assert_eq!(listed.body["meta"]["count"], 1);
}

#[tokio::test]
async fn banner_writes_validate_and_authorize() {
    let app = app().await;
    let adm = admin();
    let created = app
        .post(
            "/banners",
            &adm,
            json!({"title": "Spring", "image_url": "/img/spring.png", "link": "https://portforge.dev/e/1"}),
        )
        .await;
    let id = created.assert_ok(201, "BANNER_CREATED")["banner_id"].as_i64().unwrap();
    let uri = format!("/banners/{id}");

    let cleared = app.patch(&uri, &adm, json!({"link": null, "title": "봄 해커톤"})).await;
    let cleared = cleared.assert_ok(200, "BANNER_UPDATED");
    assert!(cleared["link"].is_null());
    assert_eq!(cleared["title"], "봄 해커톤");
    assert_eq!(cleared["image_url"], "/img/spring.png");
    assert_ne!(cleared["updated_at"], cleared["created_at"]);

    let cases: Vec<(Value, &str)> = vec![
        (json!({}), "body"),
        (json!({"end_at": "2026-01-01T00:00:00Z", "start_at": "2026-02-01T00:00:00Z"}), "end_at"),
        (json!({"start_at": "yesterday"}), "start_at"),
        (json!({"sort_order": "1"}), "sort_order"),
        (json!({"sort_order": 2_000_000}), "sort_order"),
        (json!({"image_url": "ftp://x/y.png"}), "image_url"),
        (json!({"title": null}), "title"),
        (json!({"colour": "red"}), "colour"),
    ];
    for (body, field) in cases {
        let reply = app.patch(&uri, &adm, body.clone()).await;
        reply.assert_error(422, "VALIDATION_FAILED");
        assert_eq!(reply.fields(), [field], "{body}");
    }
    let create_missing = app.post("/banners", &adm, json!({"image_url": "/img/x.png"})).await;
    create_missing.assert_error(422, "VALIDATION_FAILED");
    assert_eq!(create_missing.fields(), ["title"]);

    app.patch("/banners/424242", &adm, json!({"title": "x"})).await.assert_error(404, "NOT_FOUND");
    app.patch(&uri, &user(), json!({"title": "x"})).await.assert_error(403, "FORBIDDEN");
    app.delete(&uri, &user()).await.assert_error(403, "FORBIDDEN");
    app.delete(&uri, &Who::Anonymous).await.assert_error(401, "UNAUTHORIZED");
    app.send("PATCH", &uri, &adm, Some("{title: 'x'}")).await.assert_error(400, "MALFORMED_JSON");
}

/// Banners as the original service stored them (title, link, is_active; no image) are accepted
/// and listed; an image, when set, is served and can be cleared.
#[tokio::test]
async fn banners_without_an_image_and_the_id_alias() {
    let app = app().await;
    let adm = admin();
    let plain = app.post("/banners", &adm, json!({"title": "팀원 모집", "link": "/", "is_active": true})).await;
    let plain = plain.assert_ok(201, "BANNER_CREATED").clone();
    assert!(plain["image_url"].is_null());
    assert_eq!(plain["id"], plain["banner_id"]);
    let pictured =
        app.post("/banners", &adm, json!({"title": "해커톤", "image_url": "/img/h.png", "link": "/events"})).await;
    let pictured = pictured.assert_ok(201, "BANNER_CREATED").clone();
    let listed = app.get("/banners", &Who::Anonymous).await;
    let listed = listed.assert_ok(200, "BANNERS_LISTED").as_array().unwrap().clone();
    assert_eq!(listed.len(), 2);
    assert!(listed.iter().any(|b| b["image_url"] == "/img/h.png" && b["id"] == pictured["banner_id"]));
    let cleared = app.patch(&format!("/banners/{}", pictured["banner_id"]), &adm, json!({"image_url": null})).await;
    assert!(cleared.assert_ok(200, "BANNER_UPDATED")["image_url"].is_null());
}
