//! template.yaml agrees with the code: the browser rules API Gateway applies, and the WebSocket
//! routes the handlers serve.

use std::collections::BTreeSet;

use serde_norway::Value;

fn template() -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../template.yaml");
    serde_norway::from_str(&std::fs::read_to_string(path).expect("template.yaml")).expect("YAML")
}

fn strings(value: &Value) -> BTreeSet<String> {
    value.as_sequence().expect("a list").iter().map(|v| v.as_str().expect("a string").to_ascii_lowercase()).collect()
}

#[test]
fn cors_in_aws_is_the_list_the_local_gateway_uses() {
    let template = template();
    let cors = &template["Resources"]["HttpApi"]["Properties"]["CorsConfiguration"];
    let lower = |list: &[&str]| list.iter().map(|s| s.to_ascii_lowercase()).collect::<BTreeSet<_>>();
    assert_eq!(strings(&cors["AllowHeaders"]), lower(&shared::http::cors::ALLOWED_HEADERS));
    assert_eq!(strings(&cors["AllowMethods"]), lower(&shared::http::cors::ALLOWED_METHODS));
    assert_eq!(cors["MaxAge"].as_u64(), Some(shared::http::cors::MAX_AGE_SECONDS));
}

#[test]
fn every_client_action_has_a_websocket_route() {
    let template = template();
    let routes: BTreeSet<String> = template["Resources"]
        .as_mapping()
        .expect("resources")
        .values()
        .filter(|r| r["Type"].as_str() == Some("AWS::ApiGatewayV2::Route"))
        .map(|r| r["Properties"]["RouteKey"].as_str().expect("a route key").to_owned())
        .collect();
    let expected: BTreeSet<String> =
        ["$connect", "$disconnect", "$default", "sendMessage", "ping", "history", "subscribe"].map(String::from).into();
    assert_eq!(routes, expected);
}

/// The HTTP routes of each function as the template routes them: (method, path, public).
fn template_routes() -> std::collections::BTreeMap<String, BTreeSet<(String, String, bool)>> {
    let template = template();
    let mut by_function = std::collections::BTreeMap::new();
    for resource in template["Resources"].as_mapping().expect("resources").values() {
        if resource["Type"].as_str() != Some("AWS::Serverless::Function") {
            continue;
        }
        let binary =
            resource["Metadata"]["BuildProperties"]["Binary"].as_str().expect("every function names its binary");
        let routes: BTreeSet<(String, String, bool)> = resource["Properties"]["Events"]
            .as_mapping()
            .map(|events| {
                events
                    .values()
                    .filter(|e| e["Type"].as_str() == Some("HttpApi"))
                    .map(|e| {
                        let p = &e["Properties"];
                        let public = p["Auth"]["Authorizer"].as_str() == Some("NONE");
                        (
                            p["Method"].as_str().unwrap().to_ascii_lowercase(),
                            p["Path"].as_str().unwrap().to_owned(),
                            public,
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        by_function.insert(binary.to_owned(), routes);
    }
    by_function
}

/// What each HTTP function's router serves: its groups' routes and its health checks.
fn router_routes() -> std::collections::BTreeMap<String, BTreeSet<(String, String)>> {
    use shared::http::{RouteSpec, admin, chat, content, events, notifications, reports};
    let function = |group: &str, routes: &[RouteSpec], service_health: bool| {
        let mut all: BTreeSet<(String, String)> =
            routes.iter().map(|r| (r.method.to_owned(), r.path.to_owned())).collect();
        all.insert(("get".into(), format!("/{group}/health")));
        if service_health {
            all.insert(("get".into(), "/health".into()));
        }
        (group.to_owned(), all)
    };
    [
        function("notifications", notifications::ROUTES, false),
        function("content", content::ROUTES, true),
        function("events", events::ROUTES, false),
        function("admin", admin::ROUTES, false),
        function("chat", chat::ROUTES, false),
        function("reports", reports::ROUTES, false),
    ]
    .into()
}

#[test]
fn every_template_function_is_a_workspace_binary_and_back() {
    let template: BTreeSet<String> = template_routes().into_keys().collect();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../functions");
    let binaries: BTreeSet<String> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert_eq!(template, binaries);
}

#[test]
fn the_template_routes_each_http_route_to_the_function_that_serves_it_and_no_other() {
    let template = template_routes();
    for (function, served) in router_routes() {
        let routed: BTreeSet<(String, String)> =
            template[&function].iter().map(|(method, path, _)| (method.clone(), path.clone())).collect();
        assert_eq!(routed, served, "{function}: template routes vs. what its router serves");
    }
    let http_functions: BTreeSet<String> = router_routes().into_keys().collect();
    for (function, routes) in &template {
        if !http_functions.contains(function) {
            assert!(routes.is_empty(), "{function} has HTTP routes but serves none");
        }
    }
}

/// A browser's preflight (OPTIONS, no token) must reach API Gateway's CORS answer, not an
/// authorized route, which would refuse it 401 and fail every signed-in call from the web app.
#[test]
fn no_authorized_route_catches_a_preflight() {
    for (function, routes) in template_routes() {
        for (method, path, public) in routes {
            assert!(method != "any" && method != "options", "{function}: {method} {path} would catch preflights");
            assert!(!path.contains("{proxy+}") || public, "{function}: {path} is a catch-all");
        }
    }
}

/// The routes API Gateway lets through without a token are exactly the ones the code treats
/// as public (the local gateway reads the same list).
#[test]
fn public_routes_are_the_ones_the_code_knows_as_public() {
    let template: BTreeSet<(String, String)> = template_routes()
        .into_values()
        .flatten()
        .filter(|(_, _, public)| *public)
        .map(|(method, path, _)| (method, path))
        .collect();
    for (method, path) in &template {
        assert!(shared::http::is_public(method, &path.replace("{id}", "7")), "{method} {path}");
    }
    let code: BTreeSet<(String, String)> = shared::http::PUBLIC_ROUTES
        .iter()
        .map(|r| (r.method.to_owned(), r.path.to_owned()))
        .chain(router_routes().into_values().flatten().filter(|(_, path)| path.ends_with("/health")))
        .collect();
    assert_eq!(template, code);
}
