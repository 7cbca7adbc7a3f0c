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
