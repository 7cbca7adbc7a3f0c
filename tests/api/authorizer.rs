//! The WebSocket `$connect` authorizer against a real loopback JWKS endpoint, with tokens
//! signed by a test-only RSA key (tests/fixtures; never used anywhere else).

use std::collections::HashMap;

use aws_lambda_events::apigw::{ApiGatewayCustomAuthorizerRequestTypeRequest, ApiGatewayWebsocketProxyRequest};
use axum::{Router, routing::get};
use chrono::Utc;
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use serde_json::{Value, json};
use shared::{
    Config,
    cognito::CognitoVerifier,
    ws::authorizer::{AuthorizerFailure, authorize},
};

const ISSUER: &str = "https://cognito-idp.ap-northeast-2.amazonaws.com/ap-northeast-2_TEST";
const WEB_CLIENT: &str = "webclient123";
const USER: &str = "3f2504e0-4f89-11d3-9a0c-0305e82c3301";

fn fixture(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures").join(name);
    std::fs::read_to_string(path).expect("fixture")
}

async fn jwks_server() -> String {
    let jwks = fixture("test-cognito-jwks.json");
    let app = Router::new().route("/.well-known/jwks.json", get(move || async move { jwks.clone() }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/.well-known/jwks.json", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    url
}

fn verifier(jwks_url: &str) -> CognitoVerifier {
    let vars: HashMap<&str, String> = HashMap::from([
        ("COGNITO_ISSUER", ISSUER.to_owned()),
        ("COGNITO_AUDIENCES", format!("{WEB_CLIENT}, projectsvc")),
        ("COGNITO_JWKS_URL", jwks_url.to_owned()),
    ]);
    CognitoVerifier::from_config(&Config::from_lookup(|k| vars.get(k).cloned()).unwrap()).unwrap()
}

fn id_claims() -> Value {
    json!({
        "sub": USER, "aud": WEB_CLIENT, "iss": ISSUER, "token_use": "id",
        "cognito:groups": ["ADMIN", "USER"], "nickname": "지민",
        "iat": Utc::now().timestamp(), "exp": Utc::now().timestamp() + 600,
    })
}

fn sign(claims: &Value, key_file: &str, kid: &str) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(kid.to_owned());
    let key = EncodingKey::from_rsa_pem(fixture(key_file).as_bytes()).unwrap();
    encode(&header, claims, &key).unwrap()
}

fn event(token: Option<&str>) -> ApiGatewayCustomAuthorizerRequestTypeRequest {
    let query = token.map_or_else(|| json!({"project_id": "42"}), |t| json!({"project_id": "42", "token": t}));
    serde_json::from_value(json!({
        "type": "REQUEST",
        "methodArn": "arn:aws:execute-api:ap-northeast-2:123456789012:a1b2c3d4e5/dev/$connect",
        "headers": {"Host": "a1b2c3d4e5.execute-api.ap-northeast-2.amazonaws.com"},
        "queryStringParameters": query,
        "requestContext": {"routeKey": "$connect", "eventType": "CONNECT", "apiId": "a1b2c3d4e5", "stage": "dev", "connectionId": "L0SM9cOFvHcCIhw="}
    }))
    .unwrap()
}

#[tokio::test]
async fn a_valid_cognito_token_is_allowed_with_its_claims_as_context() {
    let v = verifier(&jwks_server().await);
    let token = sign(&id_claims(), "test-cognito-key.pem", "test-key-1");
    let policy = authorize(&v, &event(Some(&token))).await.unwrap();
    assert_eq!(policy["principalId"], USER);
    assert_eq!(policy["policyDocument"]["Statement"][0]["Effect"], "Allow");
    assert_eq!(
        policy["policyDocument"]["Statement"][0]["Resource"],
        "arn:aws:execute-api:ap-northeast-2:123456789012:a1b2c3d4e5/dev/$connect"
    );
    assert_eq!(policy["context"]["cognito:groups"], "[ADMIN USER]");

    // What API Gateway then hands $connect: the context plus principalId, read as the identity.
    let mut authorizer = policy["context"].clone();
    authorizer["principalId"] = policy["principalId"].clone();
    let connect: ApiGatewayWebsocketProxyRequest = serde_json::from_value(json!({
        "requestContext": {"routeKey": "$connect", "eventType": "CONNECT", "connectionId": "c=", "connectedAt": 0, "requestTimeEpoch": 0, "authorizer": authorizer},
        "isBase64Encoded": false
    }))
    .unwrap();
    let identity = shared::ws::identity_of(&connect).unwrap();
    assert_eq!(
        (identity.subject.as_str(), identity.is_admin, identity.display_name.as_deref()),
        (USER, true, Some("지민"))
    );

    // A sibling service's access token is accepted by its client id.
    let mut access = id_claims();
    let access = access.as_object_mut().unwrap();
    access.remove("aud");
    access.insert("token_use".into(), json!("access"));
    access.insert("client_id".into(), json!("projectsvc"));
    let token = sign(&json!(access), "test-cognito-key.pem", "test-key-1");
    assert!(authorize(&v, &event(Some(&token))).await.is_ok());
}

#[tokio::test]
async fn forged_expired_foreign_and_missing_tokens_are_refused() {
    let v = verifier(&jwks_server().await);
    let mut cases: Vec<(String, &str)> = vec![
        (sign(&id_claims(), "test-other-key.pem", "test-key-1"), "signed by another key"),
        (sign(&id_claims(), "test-cognito-key.pem", "rotated-away"), "unknown key id"),
        ("not.a.jwt".into(), "malformed"),
    ];
    for (field, value, why) in [
        ("exp", json!(Utc::now().timestamp() - 120), "expired"),
        ("iss", json!("https://cognito-idp.ap-northeast-2.amazonaws.com/other-pool"), "another pool"),
        ("aud", json!("some-other-app"), "another app client"),
        ("token_use", json!("refresh"), "not an id or access token"),
    ] {
        let mut claims = id_claims();
        claims[field] = value;
        cases.push((sign(&claims, "test-cognito-key.pem", "test-key-1"), why));
    }
    let mut no_exp = id_claims();
    no_exp.as_object_mut().unwrap().remove("exp");
    cases.push((sign(&no_exp, "test-cognito-key.pem", "test-key-1"), "no expiry"));
    let hs256 = encode(&Header::new(Algorithm::HS256), &id_claims(), &EncodingKey::from_secret(b"guess")).unwrap();
    cases.push((hs256, "HS256 instead of RS256"));
    for (token, why) in cases {
        let refused = authorize(&v, &event(Some(&token))).await;
        assert!(matches!(refused, Err(AuthorizerFailure::Unauthorized)), "{why}: {refused:?}");
    }
    let missing = authorize(&v, &event(None)).await;
    assert!(matches!(missing, Err(AuthorizerFailure::Unauthorized)));
    // A valid token in a header is not looked at: API Gateway passes only the identity source.
    let mut in_header = event(None);
    in_header.headers.insert(
        "authorization",
        format!("Bearer {}", sign(&id_claims(), "test-cognito-key.pem", "test-key-1")).parse().unwrap(),
    );
    assert!(matches!(authorize(&v, &in_header).await, Err(AuthorizerFailure::Unauthorized)));
    assert_eq!(AuthorizerFailure::Unauthorized.to_string(), "Unauthorized", "the message API Gateway maps to 401");
}

#[tokio::test]
async fn the_sample_event_decodes_and_its_placeholder_token_is_refused() {
    let v = verifier(&jwks_server().await);
    let sample: ApiGatewayCustomAuthorizerRequestTypeRequest = serde_json::from_str(
        &std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../events/ws-authorize.json"))
            .unwrap(),
    )
    .unwrap();
    assert!(matches!(authorize(&v, &sample).await, Err(AuthorizerFailure::Unauthorized)));
}

#[tokio::test]
async fn unreachable_keys_fail_the_check_instead_of_deciding() {
    let v = verifier("http://127.0.0.1:9/.well-known/jwks.json");
    let token = sign(&id_claims(), "test-cognito-key.pem", "test-key-1");
    let failed = authorize(&v, &event(Some(&token))).await;
    assert!(matches!(failed, Err(AuthorizerFailure::Failed(_))), "{failed:?}");
}
