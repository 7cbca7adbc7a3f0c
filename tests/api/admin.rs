use serde_json::json;
use service_tests::{Function, TestApp, Who, admin, user};

async fn app() -> TestApp {
    TestApp::mariadb(Function::Admin).await
}

#[tokio::test]
async fn admins_manage_notices() {
    let app = app().await;
    let adm = admin();
    let created = app.post("/admin/notices", &adm, json!({"title": "공지", "content": "내용"})).await;
    let notice = created.assert_ok(201, "NOTICE_CREATED").clone();
    let uri = format!("/admin/notices/{}", notice["notice_id"]);

    let patched = app.patch(&uri, &adm, json!({"content": "수정된 내용 ✍️"})).await;
    let patched = patched.assert_ok(200, "NOTICE_UPDATED");
    assert_eq!(patched["title"], "공지");
    assert_eq!(patched["content"], "수정된 내용 ✍️");
    assert_eq!(patched["created_at"], notice["created_at"]);

    let listed = app.get("/admin/notices", &adm).await;
    assert_eq!(listed.assert_ok(200, "NOTICES_LISTED")[0]["content"], "수정된 내용 ✍️");

    let empty = app.patch(&uri, &adm, json!({})).await;
    empty.assert_error(422, "VALIDATION_FAILED");
    assert_eq!(empty.fields(), ["body"]);
    let long = app.patch(&uri, &adm, json!({"title": "x".repeat(101)})).await;
    long.assert_error(422, "VALIDATION_FAILED");
    assert_eq!(long.fields(), ["title"]);

    app.delete(&uri, &adm).await.assert_ok(200, "NOTICE_DELETED");
    app.delete(&uri, &adm).await.assert_error(404, "NOT_FOUND");
    app.patch(&uri, &adm, json!({"title": "gone"})).await.assert_error(404, "NOT_FOUND");
    app.patch("/admin/notices/nope", &adm, json!({"title": "x"})).await.assert_error(400, "INVALID_PATH_PARAMETER");
}

#[tokio::test]
async fn admin_routes_refuse_everyone_else() {
    let app = app().await;
    for who in [Who::Anonymous, user()] {
        let status = if matches!(who, Who::Anonymous) { (401, "UNAUTHORIZED") } else { (403, "FORBIDDEN") };
        app.get("/admin/notices", &who).await.assert_error(status.0, status.1);
        app.get("/admin/banners", &who).await.assert_error(status.0, status.1);
        app.post("/admin/notices", &who, json!({"title": "t", "content": "c"})).await.assert_error(status.0, status.1);
        app.post("/admin/banners", &who, json!({"title": "t", "image_url": "/i.png"}))
            .await
            .assert_error(status.0, status.1);
        app.patch("/admin/notices/1", &who, json!({"title": "t"})).await.assert_error(status.0, status.1);
        app.delete("/admin/banners/1", &who).await.assert_error(status.0, status.1);
    }
}

#[tokio::test]
async fn admin_banner_list_includes_inactive_and_patch_is_partial() {
    let app = app().await;
    let adm = admin();
    let on = app.post("/admin/banners", &adm, json!({"title": "on", "image_url": "/on.png", "sort_order": 1})).await;
    let off =
        app.post("/admin/banners", &adm, json!({"title": "off", "image_url": "/off.png", "is_active": false})).await;
    let off_id = off.assert_ok(201, "BANNER_CREATED")["banner_id"].clone();
    on.assert_ok(201, "BANNER_CREATED");

    let all = app.get("/admin/banners", &adm).await;
    let titles: Vec<_> =
        all.assert_ok(200, "BANNERS_LISTED").as_array().unwrap().iter().map(|b| b["title"].clone()).collect();
    assert_eq!(titles, [json!("off"), json!("on")]);

    let patched = app
        .patch(
            &format!("/admin/banners/{off_id}"),
            &adm,
            json!({"sort_order": 5, "end_at": "2030-01-01T09:00:00+09:00"}),
        )
        .await;
    let patched = patched.assert_ok(200, "BANNER_UPDATED");
    assert_eq!(patched["end_at"], "2030-01-01T00:00:00.000Z");
    assert_eq!(patched["is_active"], false);
    app.delete(&format!("/admin/banners/{off_id}"), &adm).await.assert_ok(200, "BANNER_DELETED");
    app.delete("/admin/banners/987654", &adm).await.assert_error(404, "NOT_FOUND");
}
