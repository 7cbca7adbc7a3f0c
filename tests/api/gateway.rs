//! What every function shares: health, JSON answers for unknown routes and methods, identity
//! edge cases, an unreachable database, and the sample events shipped in `events/`.

use std::collections::BTreeMap;

use serde_json::json;
use service_tests::{Function, TestApi, TestApp, TestDb, TestEnv, Who, admin};

#[tokio::test]
async fn each_health_route_checks_only_what_its_function_reaches() {
    let api = TestApi::over(TestEnv::new(TestDb::mariadb().await).await).await;
    for (uri, backends) in [
        ("/health", json!({"database": "ok"})),
        ("/content/health", json!({"database": "ok"})),
        ("/events/health", json!({"database": "ok"})),
        ("/admin/health", json!({"database": "ok"})),
        ("/notifications/health", json!({"database": "ok", "connections": "ok"})),
        ("/chat/health", json!({"chat_storage": "ok"})),
        ("/reports/health", json!({"database": "ok", "connections": "ok"})),
    ] {
        let reply = api.get(uri, &Who::Anonymous).await;
        assert_eq!(reply.assert_ok(200, "HEALTHY"), &backends, "{uri}");
    }
}

#[tokio::test]
async fn an_unreachable_database_is_503_never_a_fake_success() {
    let app = TestApp::over(Function::Content, TestEnv::new(TestDb::unreachable_mysql()).await).await;
    app.get("/health", &Who::Anonymous).await.assert_error(503, "SERVICE_UNAVAILABLE");
    app.get("/notices", &Who::Anonymous).await.assert_error(503, "SERVICE_UNAVAILABLE");
    app.post("/notices", &admin(), json!({"title": "t", "content": "c"}))
        .await
        .assert_error(503, "SERVICE_UNAVAILABLE");
}

#[tokio::test]
async fn unknown_routes_and_methods_get_json_errors() {
    let app = TestApp::sqlite(Function::Notifications).await;
    app.get("/nope", &Who::Anonymous).await.assert_error(404, "ROUTE_NOT_FOUND");
    // Each function serves only its own group.
    app.get("/events", &Who::Anonymous).await.assert_error(404, "ROUTE_NOT_FOUND");
    app.delete("/notifications", &Who::Anonymous).await.assert_error(405, "METHOD_NOT_ALLOWED");
}

#[tokio::test]
async fn identity_comes_only_from_authorizer_claims() {
    let app = TestApp::sqlite(Function::Content).await;
    let claims = |pairs: &[(&str, &str)]| {
        Who::Claims(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<BTreeMap<_, _>>())
    };
    let body = json!({"title": "t", "content": "c"});
    // No subject: anonymous, whatever else the claims say.
    app.post("/notices", &claims(&[("custom:role", "ADMIN")]), body.clone()).await.assert_error(401, "UNAUTHORIZED");
    let sub = ("sub", "3f2504e0-4f89-11d3-9a0c-0305e82c3301");
    // Only the user pool's groups grant ADMIN; attributes an app client may write grant nothing.
    app.post("/notices", &claims(&[sub, ("custom:role", "ADMIN")]), body.clone()).await.assert_error(403, "FORBIDDEN");
    app.post("/notices", &claims(&[sub, ("role", "ADMIN")]), body.clone()).await.assert_error(403, "FORBIDDEN");
    app.post("/notices", &claims(&[sub, ("cognito:groups", "[ADMIN]")]), body.clone())
        .await
        .assert_ok(201, "NOTICE_CREATED");
    app.post("/notices", &claims(&[sub, ("cognito:groups", "[USER]")]), body.clone())
        .await
        .assert_error(403, "FORBIDDEN");
    // A role smuggled in the body or the query changes nothing.
    let smuggled = app.post("/notices?role=ADMIN", &claims(&[sub]), json!({"title": "t", "content": "c"})).await;
    smuggled.assert_error(403, "FORBIDDEN");
}

#[tokio::test]
async fn only_a_body_past_the_limit_is_413_one_that_breaks_off_is_400() {
    use axum::extract::FromRequest;
    use shared::http::extract::{JsonBody, MAX_BODY_BYTES};

    let request = |body: axum::body::Body| axum::http::Request::post("/").body(body).unwrap();
    let broken = futures::stream::iter([
        Ok::<_, std::io::Error>(bytes::Bytes::from_static(b"{\"message\": ")),
        Err(std::io::Error::new(std::io::ErrorKind::ConnectionReset, "client went away")),
    ]);
    let read = JsonBody::<serde_json::Value>::from_request(request(axum::body::Body::from_stream(broken)), &()).await;
    let status = read.err().map(|e| e.status().as_u16());
    assert_eq!(status, Some(400), "a body that broke off is not JSON");
    let large = axum::body::Body::from(vec![b' '; MAX_BODY_BYTES + 1]);
    let read = JsonBody::<serde_json::Value>::from_request(request(large), &()).await;
    assert_eq!(read.err().map(|e| e.status().as_u16()), Some(413));
}

#[tokio::test]
async fn a_burst_of_health_checks_probes_each_backend_once() {
    use std::sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    };
    use tower::ServiceExt;

    struct Counting(AtomicUsize);
    #[async_trait::async_trait]
    impl shared::store::HealthProbe for Counting {
        async fn ping(&self) -> Result<(), shared::store::StoreError> {
            self.0.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            Ok(())
        }
    }
    let probe = Arc::new(Counting(AtomicUsize::new(0)));
    let router = shared::http::Health::new().probe("chat_storage", probe.clone()).routes(&["chat"]);
    let request = |uri: &str| axum::http::Request::get(uri).body(axum::body::Body::empty()).unwrap();
    let burst = (0..200).map(|i| router.clone().oneshot(request(if i % 2 == 0 { "/health" } else { "/chat/health" })));
    let answers = futures::future::join_all(burst).await;
    assert!(answers.iter().all(|a| a.as_ref().is_ok_and(|r| r.status() == 200)));
    assert_eq!(probe.0.load(Ordering::SeqCst), 1, "one probe for the whole burst");
}

#[tokio::test]
async fn a_path_id_on_a_route_with_two_parameters_is_a_wiring_error_not_a_guess() {
    use shared::{domain::ProjectId, http::extract::PathId};
    use tower::ServiceExt;

    async fn one(PathId(id): PathId<ProjectId>) -> String {
        id.to_string()
    }
    let router = axum::Router::new()
        .route("/one/{id}", axum::routing::get(one))
        .route("/two/{team}/{id}", axum::routing::get(one));
    let get = |uri: &str| axum::http::Request::get(uri).body(axum::body::Body::empty()).unwrap();
    let single = router.clone().oneshot(get("/one/42")).await.unwrap();
    assert_eq!(single.status(), 200);
    let double = router.oneshot(get("/two/7/42")).await.unwrap();
    assert_eq!(double.status(), 500, "never silently the last parameter");
}
