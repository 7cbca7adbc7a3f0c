use serde_json::{Value, json};
use service_tests::{Function, Reply, TestApp, Who, admin, new_user_id, notify_service, user};

async fn app() -> TestApp {
    TestApp::mariadb(Function::Notifications).await
}

async fn notify(app: &TestApp, to: &Who, message: &str) -> Value {
    let reply = app
        .post("/notifications", &admin(), json!({"user_id": to.user_id(), "message": message, "link": "/projects/7"}))
        .await;
    reply.assert_ok(201, "NOTIFICATION_CREATED").clone()
}

#[tokio::test]
async fn a_user_reads_counts_and_clears_their_notifications() {
    let app = app().await;
    let alice = user();
    let created = notify(&app, &alice, "팀 합류 요청이 승인되었습니다 🎉").await;
    assert_eq!(created["user_id"], alice.user_id());
    assert_eq!(created["message"], "팀 합류 요청이 승인되었습니다 🎉");
    assert_eq!(created["link"], "/projects/7");
    assert_eq!(created["is_read"], false);
    let created_at = created["created_at"].as_str().unwrap();
    assert!(created_at.ends_with('Z') && created_at.len() == 24, "{created_at}");

    let listed = app.get("/notifications", &alice).await;
    let data = listed.assert_ok(200, "NOTIFICATIONS_LISTED");
    assert_eq!(data.as_array().unwrap().len(), 1);
    assert_eq!(data[0], created);
    assert_eq!(listed.body["meta"]["has_more"], false);
    assert!(listed.body["meta"]["next_cursor"].is_null());

    let count = app.get("/notifications/unread-count", &alice).await;
    assert_eq!(count.assert_ok(200, "UNREAD_COUNT")["unread_count"], 1);

    let id = created["notification_id"].as_i64().unwrap();
    let read = app.post("/notifications/read", &alice, json!({"notification_ids": [id]})).await;
    assert_eq!(read.assert_ok(200, "NOTIFICATIONS_READ"), &json!({"updated": 1, "unread_count": 0}));
    let again = app.post("/notifications/read", &alice, json!({"notification_ids": [id]})).await;
    assert_eq!(again.assert_ok(200, "NOTIFICATIONS_READ"), &json!({"updated": 0, "unread_count": 0}));
    let listed = app.get("/notifications", &alice).await;
    assert_eq!(listed.assert_ok(200, "NOTIFICATIONS_LISTED")[0]["is_read"], true);
}

#[tokio::test]
async fn others_see_nothing_and_cannot_read_or_clear_them() {
    let app = app().await;
    let (alice, mallory) = (user(), user());
    let created = notify(&app, &alice, "for alice").await;
    let id = created["notification_id"].as_i64().unwrap();

    let theirs = app.get("/notifications", &mallory).await;
    assert_eq!(theirs.assert_ok(200, "NOTIFICATIONS_LISTED"), &json!([]));
    app.get(&format!("/notifications?user_id={}", alice.user_id()), &mallory).await.assert_error(403, "FORBIDDEN");
    app.get(&format!("/notifications?user_id={}", alice.user_id().to_uppercase()), &alice)
        .await
        .assert_ok(200, "NOTIFICATIONS_LISTED");

    let cleared = app.post("/notifications/read", &mallory, json!({"notification_ids": [id]})).await;
    assert_eq!(cleared.assert_ok(200, "NOTIFICATIONS_READ"), &json!({"updated": 0, "unread_count": 0}));
    let all = app.post("/notifications/read", &mallory, json!({"all": true})).await;
    assert_eq!(all.assert_ok(200, "NOTIFICATIONS_READ")["updated"], 0);
    let count = app.get("/notifications/unread-count", &alice).await;
    assert_eq!(count.assert_ok(200, "UNREAD_COUNT")["unread_count"], 1);
}

#[tokio::test]
async fn every_route_requires_identity_and_creation_requires_admin_or_service_scope() {
    let app = app().await;
    let anon = Who::Anonymous;
    app.get("/notifications", &anon).await.assert_error(401, "UNAUTHORIZED");
    app.get("/notifications/unread-count", &anon).await.assert_error(401, "UNAUTHORIZED");
    app.post("/notifications/read", &anon, json!({"all": true})).await.assert_error(401, "UNAUTHORIZED");
    let body = json!({"user_id": new_user_id(), "message": "hi"});
    app.post("/notifications", &anon, body.clone()).await.assert_error(401, "UNAUTHORIZED");

    // A user may not notify another user, even with a malformed body (403 before 422).
    app.post("/notifications", &user(), body.clone()).await.assert_error(403, "FORBIDDEN");
    app.post("/notifications", &user(), json!({"bad": 1})).await.assert_error(403, "FORBIDDEN");
    let wrong_scope = Who::Service { client_id: "other".into(), scopes: vec!["portforge-support/read".into()] };
    app.post("/notifications", &wrong_scope, body.clone()).await.assert_error(403, "FORBIDDEN");

    let by_service = app.post("/notifications", &notify_service(), body.clone()).await;
    assert_eq!(by_service.assert_ok(201, "NOTIFICATION_CREATED")["user_id"], body["user_id"]);
    // A service token is not a user: it has no inbox.
    app.get("/notifications", &notify_service()).await.assert_error(403, "FORBIDDEN");
}

#[tokio::test]
async fn pages_walk_every_notification_once_newest_first() {
    let app = app().await;
    let bob = user();
    let mut ids = Vec::new();
    for i in 0..25 {
        ids.push(notify(&app, &bob, &format!("n{i}")).await["notification_id"].as_i64().unwrap());
    }
    ids.reverse();

    let mut seen = Vec::new();
    let mut uri = "/notifications?limit=10".to_string();
    let mut sizes = Vec::new();
    loop {
        let page = app.get(&uri, &bob).await;
        let data = page.assert_ok(200, "NOTIFICATIONS_LISTED").as_array().unwrap().clone();
        sizes.push(data.len());
        seen.extend(data.iter().map(|n| n["notification_id"].as_i64().unwrap()));
        assert_eq!(page.body["meta"]["limit"], 10);
        match page.body["meta"]["next_cursor"].as_str() {
            Some(cursor) => uri = format!("/notifications?limit=10&cursor={cursor}"),
            None => {
                assert_eq!(page.body["meta"]["has_more"], false);
                break;
            }
        }
    }
    assert_eq!(sizes, [10, 10, 5]);
    assert_eq!(seen, ids, "newest first, no gap, no duplicate");

    // A page that ends exactly at the last row says so.
    let exact = app.get("/notifications?limit=25", &bob).await;
    assert_eq!(exact.body["meta"]["has_more"], false);
    let max = app.get("/notifications?limit=100", &bob).await;
    assert_eq!(max.assert_ok(200, "NOTIFICATIONS_LISTED").as_array().unwrap().len(), 25);

    for bad in ["limit=0", "limit=101", "limit=ten", "limit=-1"] {
        let reply = app.get(&format!("/notifications?{bad}"), &bob).await;
        reply.assert_error(400, "INVALID_QUERY");
        assert_eq!(reply.fields(), ["limit"]);
    }
    for bad in ["cursor=garbage", "cursor=djEuMS4y%3D%3D", "unread_only=maybe"] {
        app.get(&format!("/notifications?{bad}"), &bob).await.assert_error(400, "INVALID_QUERY");
    }
}

#[tokio::test]
async fn unread_only_and_mark_all() {
    let app = app().await;
    let carol = user();
    let first = notify(&app, &carol, "one").await["notification_id"].as_i64().unwrap();
    notify(&app, &carol, "two").await;
    notify(&app, &carol, "three").await;
    app.post("/notifications/read", &carol, json!({"notification_ids": [first]})).await;

    let unread = app.get("/notifications?unread_only=true", &carol).await;
    let messages: Vec<_> = unread
        .assert_ok(200, "NOTIFICATIONS_LISTED")
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["message"].clone())
        .collect();
    assert_eq!(messages, [json!("three"), json!("two")]);

    let all = app.post("/notifications/read", &carol, json!({"all": true})).await;
    assert_eq!(all.assert_ok(200, "NOTIFICATIONS_READ"), &json!({"updated": 2, "unread_count": 0}));
}

#[tokio::test]
async fn bad_create_bodies_get_exact_errors() {
    let app = app().await;
    let adm = admin();
    let to = new_user_id();
    let cases: Vec<(Value, &str)> = vec![
        (json!({"user_id": to}), "message"),
        (json!({"message": "hi"}), "user_id"),
        (json!({"user_id": 5, "message": "hi"}), "user_id"),
        (json!({"user_id": "not-a-uuid", "message": "hi"}), "user_id"),
        (json!({"user_id": to, "message": ""}), "message"),
        (json!({"user_id": to, "message": "가".repeat(501)}), "message"),
        (json!({"user_id": to, "message": "hi", "link": "javascript:alert(1)"}), "link"),
        (json!({"user_id": to, "message": "hi", "link": "http://insecure.example"}), "link"),
        (json!({"user_id": to, "message": "hi", "is_read": true}), "is_read"),
    ];
    for (body, field) in cases {
        let reply = app.post("/notifications", &adm, body.clone()).await;
        reply.assert_error(422, "VALIDATION_FAILED");
        assert_eq!(reply.fields(), [field], "{body}");
    }
    let ok = app
        .post(
            "/notifications",
            &adm,
            json!({"user_id": to, "message": "가".repeat(500), "link": "https://portforge.dev/p/1"}),
        )
        .await;
    ok.assert_ok(201, "NOTIFICATION_CREATED");

    let raw = |body: &'static str| app.send("POST", "/notifications", &adm, Some(body));
    raw("{\"user_id\": ").await.assert_error(400, "MALFORMED_JSON");
    raw("").await.assert_error(400, "MALFORMED_JSON");
    let array: Reply = raw("[1,2]").await;
    array.assert_error(422, "VALIDATION_FAILED");
    assert_eq!(array.fields(), ["body"]);
}

#[tokio::test]
async fn bad_mark_read_bodies_get_exact_errors() {
    let app = app().await;
    let dave = user();
    let cases: Vec<(Value, &str)> = vec![
        (json!({}), "body"),
        (json!({"all": false}), "all"),
        (json!({"all": true, "notification_ids": [1]}), "body"),
        (json!({"notification_ids": []}), "notification_ids"),
        (json!({"notification_ids": [0]}), "notification_ids"),
        (json!({"notification_ids": ["1"]}), "notification_ids[0]"),
        (json!({"notification_ids": (1..=101).collect::<Vec<_>>()}), "notification_ids"),
        (json!({"all": "yes"}), "all"),
    ];
    for (body, field) in cases {
        let reply = app.post("/notifications/read", &dave, body.clone()).await;
        reply.assert_error(422, "VALIDATION_FAILED");
        assert_eq!(reply.fields(), [field], "{body}");
    }
}

/// Read-all racing new notifications: each notification is either marked by one of the
/// read-alls or still unread, never lost nor counted twice, and the counts agree.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn read_all_racing_new_notifications_keeps_exact_counts() {
    let app = std::sync::Arc::new(app().await);
    let dana = user();
    for i in 0..50 {
        notify(&app, &dana, &format!("before {i}")).await;
    }
    let creators = (0..50).map(|i| {
        let (app, dana) = (app.clone(), dana.clone());
        tokio::spawn(async move { notify(&app, &dana, &format!("during {i}")).await })
    });
    let readers = (0..5).map(|_| {
        let (app, dana) = (app.clone(), dana.clone());
        tokio::spawn(async move {
            let read = app.post("/notifications/read", &dana, json!({"all": true})).await;
            read.assert_ok(200, "NOTIFICATIONS_READ")["updated"].as_i64().unwrap()
        })
    });
    let (created, marked) = tokio::join!(futures::future::join_all(creators), futures::future::join_all(readers));
    assert!(created.iter().all(Result::is_ok));
    let marked: i64 = marked.into_iter().map(Result::unwrap).sum();
    let unread = app.get("/notifications/unread-count", &dana).await;
    let unread = unread.assert_ok(200, "UNREAD_COUNT")["unread_count"].as_i64().unwrap();
    assert_eq!(marked + unread, 100, "marked {marked}, unread {unread}");
    assert!(marked >= 50, "every notification made before the read-alls was marked");
    let listed = app.get("/notifications?unread_only=true&limit=100", &dana).await;
    assert_eq!(listed.assert_ok(200, "NOTIFICATIONS_LISTED").as_array().unwrap().len() as i64, unread);
}
