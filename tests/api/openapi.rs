//! openapi.yaml describes exactly the routes the routers serve, with exactly the public ones
//! open, and the local gateway serves it; answers are checked against it in `samples.rs`.

use std::collections::BTreeSet;

use serde_json::Value;
use service_tests::openapi::document;
use shared::http::{PUBLIC_ROUTES, RouteSpec, admin, chat, content, events, notifications, reports};

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

fn described() -> BTreeSet<(String, String, bool)> {
    let doc = document();
    let mut operations = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in METHODS {
            let Some(operation) = item.get(method) else { continue };
            let public = operation.get("security") == Some(&Value::Array(vec![]));
            operations.insert((method.to_owned(), path.clone(), public));
        }
    }
    operations
}

fn served() -> BTreeSet<(String, String, bool)> {
    let public = |method: &str, path: &str| {
        PUBLIC_ROUTES.iter().any(|r| r.method == method && r.path == path)
            || path.ends_with("/health")
            || path == "/health"
    };
    let groups: [&[RouteSpec]; 6] =
        [notifications::ROUTES, content::ROUTES, events::ROUTES, admin::ROUTES, chat::ROUTES, reports::ROUTES];
    let mut routes: BTreeSet<(String, String, bool)> = groups
        .iter()
        .flat_map(|g| g.iter())
        .map(|r| (r.method.to_owned(), r.path.to_owned(), public(r.method, r.path)))
        .collect();
    for group in ["notifications", "content", "events", "admin", "chat", "reports"] {
        routes.insert(("get".into(), format!("/{group}/health"), true));
    }
    routes.insert(("get".into(), "/health".into(), true));
    routes
}

#[test]
fn the_description_lists_every_route_served_and_no_other() {
    let (described, served) = (described(), served());
    let missing: Vec<_> = served.difference(&described).collect();
    let extra: Vec<_> = described.difference(&served).collect();
    assert!(missing.is_empty() && extra.is_empty(), "not described: {missing:?}\ndescribed, not served: {extra:?}");
}

#[test]
fn the_description_is_openapi_3_1_with_unique_operation_ids() {
    let doc = document();
    assert_eq!(doc["openapi"], "3.1.0");
    let mut ids = BTreeSet::new();
    for item in doc["paths"].as_object().unwrap().values() {
        for method in METHODS {
            if let Some(operation) = item.get(method) {
                let id = operation["operationId"].as_str().expect("every operation has an operationId");
                assert!(ids.insert(id.to_owned()), "operationId {id} twice");
            }
        }
    }
}

#[tokio::test]
async fn the_local_gateway_serves_it() {
    let db = service_tests::TestDb::sqlite();
    let options = local_gateway::Options {
        config: shared::Config::from_lookup(|_| None).unwrap(),
        database: db.settings.clone(),
        secret: b"openapi-test-secret".to_vec(),
        addr: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
    };
    let gateway = local_gateway::Gateway::start(options).await.unwrap();
    let answer = reqwest::get(format!("http://{}/openapi.json", gateway.addr)).await.unwrap();
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.headers()["content-type"], "application/json");
    assert_eq!(answer.json::<Value>().await.unwrap(), document());
    gateway.stop().await.unwrap();
}

#[test]
fn answers_that_break_the_description_are_caught() {
    use service_tests::openapi::assert_conforms;
    let doc = document();
    let good = serde_json::json!({"success": true, "code": "LATEST_NOTICE", "message": "m", "data": null});
    assert_conforms(&doc, "GET", "/notices/latest", 200, &good);
    for bad in [
        serde_json::json!({"success": true, "code": "LATEST_NOTICE", "message": "m", "data": {"notice_id": "one"}}),
        serde_json::json!({"code": "LATEST_NOTICE"}),
    ] {
        let caught = std::panic::catch_unwind(|| assert_conforms(&doc, "GET", "/notices/latest", 200, &bad));
        assert!(caught.is_err(), "{bad} passed as a notice");
    }
    let undescribed = std::panic::catch_unwind(|| assert_conforms(&doc, "GET", "/notices/latest", 418, &good));
    assert!(undescribed.is_err(), "a status the description does not list");
}
