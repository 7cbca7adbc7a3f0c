//! Who may take part in a chat, and the hardening around identity: membership on every chat entry
//! point (failing closed), its cache, invisible characters, withdrawn signing keys, and the local
//! gateway's guards.

use std::time::Duration;

use aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest;
use serde_json::{Value, json};
use service_tests::{Function, TestApp, TestDb, TestEnv, Who, admin, connection_id, new_user_id, user};

async fn chat(env: TestEnv) -> TestApp {
    TestApp::over(Function::Chat, env).await
}

fn connect_event(id: &str, project: &str, user: &str) -> ApiGatewayWebsocketProxyRequest {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../events/ws-connect.json");
    let mut e: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    e["requestContext"]["connectionId"] = json!(id);
    e["queryStringParameters"] = json!({ "project_id": project });
    e["requestContext"]["authorizer"] = json!({"principalId": user, "sub": user, "cognito:groups": "[USER]"});
    serde_json::from_value(e).unwrap()
}

#[tokio::test]
async fn only_the_projects_team_takes_part_in_its_chat() {
    let app = chat(TestEnv::new(TestDb::sqlite()).await).await;
    let (member, outsider, adm) = (user(), user(), admin());
    app.siblings.project_in_team(42, 7, "팀 채팅", member.user_id(), &[]);
    app.post("/chat/42/messages", &member, json!({"message": "팀원만 보세요"})).await.assert_ok(201, "MESSAGE_SENT");

    // Every entry point refuses someone outside the team, before reading the body.
    app.get("/chat/42/messages", &outsider).await.assert_error(403, "FORBIDDEN");
    app.post("/chat/42/messages", &outsider, json!({"message": "몰래"})).await.assert_error(403, "FORBIDDEN");
    app.send("POST", "/chat/42/messages", &outsider, Some("{not json")).await.assert_error(403, "FORBIDDEN");
    app.get("/chat/messages/7/42", &outsider).await.assert_error(403, "FORBIDDEN");
    let compat = json!({"team_id": 7, "project_id": 42, "user": "x", "message": "몰래"});
    app.post("/chat/message", &outsider, compat.clone()).await.assert_error(403, "FORBIDDEN");
    // The web app's routes name a team, which does not decide: the project does (the app sends
    // its project id there, PortForge's team ids are the Team service's own).
    app.get("/chat/messages/42/42", &member).await;
    // A project without a team (or unknown): nobody is a member; an admin learns it is unknown.
    app.get("/chat/99/messages", &member).await.assert_error(403, "FORBIDDEN");
    app.get("/chat/99/messages", &adm).await.assert_error(404, "NOT_FOUND");

    // Admins read any chat, and post as themselves.
    let read = app.get("/chat/42/messages", &adm).await;
    assert_eq!(read.assert_ok(200, "MESSAGES_LISTED").as_array().unwrap().len(), 1);
    let posted = app.post("/chat/42/messages", &adm, json!({"message": "운영자입니다"})).await;
    assert_eq!(posted.assert_ok(201, "MESSAGE_SENT")["user_id"], adm.user_id());

    // Nothing the outsider tried was stored.
    let history = app.get("/chat/42/messages", &member).await;
    let texts: Vec<_> =
        history.assert_ok(200, "MESSAGES_LISTED").as_array().unwrap().iter().map(|m| m["message"].clone()).collect();
    assert_eq!(texts, [json!("팀원만 보세요"), json!("운영자입니다")]);
}

#[tokio::test]
async fn rooms_list_only_projects_the_caller_still_belongs_to() {
    let app = chat(TestEnv::new(TestDb::sqlite()).await).await;
    let me = user();
    app.siblings.members(1, &[me.user_id()]);
    app.siblings.members(2, &[me.user_id()]);
    for project in [1, 2] {
        app.post(&format!("/chat/{project}/messages"), &me, json!({"message": "hi"}))
            .await
            .assert_ok(201, "MESSAGE_SENT");
    }
    app.siblings.remove_member(2, me.user_id());
    let rooms = app.get("/chat/rooms", &me).await;
    let projects: Vec<_> =
        rooms.assert_ok(200, "ROOMS_LISTED").as_array().unwrap().iter().map(|r| r["project_id"].clone()).collect();
    assert_eq!(projects, [json!(1)]);
}

#[tokio::test]
async fn membership_fails_closed_when_the_siblings_cannot_answer() {
    // Membership is the Team service's alone: with it out of reach, nobody is admitted.
    let env = TestEnv::new(TestDb::sqlite()).await.set("TEAM_SERVICE_URL", "http://127.0.0.1:9");
    let app = chat(env).await;
    let me = user();
    app.get("/chat/42/messages", &me).await.assert_error(503, "SERVICE_UNAVAILABLE");
    app.post("/chat/42/messages", &me, json!({"message": "x"})).await.assert_error(503, "SERVICE_UNAVAILABLE");
    app.get("/chat/rooms", &me).await.assert_ok(200, "ROOMS_LISTED");
    app.get("/chat/42/messages", &admin()).await.assert_error(503, "SERVICE_UNAVAILABLE");
    // The Project service is not asked for a member's check: its outage changes nothing there.
    let env = TestEnv::new(TestDb::sqlite()).await.set("PROJECT_SERVICE_URL", "http://127.0.0.1:9");
    let app = chat(env).await;
    app.siblings.members(42, &[me.user_id()]);
    app.get("/chat/42/messages", &me).await.assert_ok(200, "MESSAGES_LISTED");

    // A sibling that answers nonsense is refused too (502), never read as "member".
    let app = chat(TestEnv::new(TestDb::sqlite()).await).await;
    app.siblings.members(42, &[me.user_id()]);
    app.siblings.answer_team(service_tests::Answer::Malformed);
    app.get("/chat/42/messages", &me).await.assert_error(502, "BAD_GATEWAY");

    // The socket's upgrade is refused with 503.
    let env = TestEnv::new(TestDb::sqlite()).await.set("TEAM_SERVICE_URL", "http://127.0.0.1:9");
    env.siblings.members(42, &[me.user_id()]);
    let connect = shared::lambda::ws_connect(env.config()).await.unwrap();
    let refused = connect.handle(&connect_event("c1=", "42", me.user_id())).await;
    assert_eq!(refused.status_code, 503);
    assert_eq!(env.chat().connections.get(&connection_id("c1=")).await.unwrap(), None);
}

#[tokio::test]
async fn a_removed_member_loses_access_within_the_cache_time() {
    let env = TestEnv::new(TestDb::sqlite()).await.set("MEMBERSHIP_CACHE_SECONDS", "1");
    let app = chat(env).await;
    let me = user();
    app.siblings.members(5, &[me.user_id()]);
    app.get("/chat/5/messages", &me).await.assert_ok(200, "MESSAGES_LISTED");
    app.siblings.remove_member(5, me.user_id());
    // Still trusted from the cache...
    app.get("/chat/5/messages", &me).await.assert_ok(200, "MESSAGES_LISTED");
    let calls = app.siblings.calls().len();
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    // ...and asked again once it expires.
    app.get("/chat/5/messages", &me).await.assert_error(403, "FORBIDDEN");
    assert!(app.siblings.calls().len() > calls);
}

#[tokio::test]
async fn removed_members_stop_receiving_and_sending_on_their_open_sockets() {
    let env = TestEnv::new(TestDb::sqlite()).await;
    let (stays, leaves) = (new_user_id(), new_user_id());
    env.siblings.members(8, &[&stays, &leaves]);
    let connect = shared::lambda::ws_connect(env.config()).await.unwrap();
    let message = shared::lambda::ws_message(env.config()).await.unwrap();
    for (id, who) in [("stays=", &stays), ("leaves=", &leaves)] {
        assert_eq!(connect.handle(&connect_event(id, "8", who)).await.status_code, 200);
        env.loopback.open(id);
    }
    env.siblings.remove_member(8, &leaves);
    let frame = |id: &str, body: Value| {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../events/ws-default.json");
        let mut e: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        e["requestContext"]["connectionId"] = json!(id);
        e["body"] = json!(body.to_string());
        serde_json::from_value::<ApiGatewayWebsocketProxyRequest>(e).unwrap()
    };
    message.handle(&frame("stays=", json!({"message": "아직 있나요?"}))).await;
    assert_eq!(env.loopback.received("stays=").len(), 1);
    assert!(env.loopback.received("leaves=").is_empty(), "a removed member's socket is not posted to");
    message.handle(&frame("leaves=", json!({"message": "저 나갔어요"}))).await;
    let refused = env.loopback.received("leaves=");
    assert_eq!((refused[0]["type"].clone(), refused[0]["code"].clone()), (json!("error"), json!("FORBIDDEN")));
    assert_eq!(env.loopback.received("stays=").len(), 1, "nothing was broadcast");
}

#[tokio::test]
async fn invisible_formatting_is_refused_in_text_and_stripped_from_names() {
    let app = chat(TestEnv::new(TestDb::sqlite()).await).await;
    let sub = new_user_id();
    let claims = [("sub", sub.clone()), ("nickname", "지\u{200B}민\u{202E}".to_owned())];
    let me = Who::Claims(claims.into_iter().map(|(k, v)| (k.to_owned(), v)).collect());
    app.siblings.members(3, &[&sub]);
    let reversed = app.post("/chat/3/messages", &me, json!({"message": "abc\u{202E}gpj.exe"})).await;
    reversed.assert_error(422, "VALIDATION_FAILED");
    assert_eq!(reversed.fields(), ["message"]);
    let sent = app.post("/chat/3/messages", &me, json!({"message": "가족 👨\u{200D}👩\u{200D}👧"})).await;
    let sent = sent.assert_ok(201, "MESSAGE_SENT");
    assert_eq!(sent["sender_name"], "지민", "the name is cleaned, not refused");
}

#[test]
fn database_words_never_reach_a_client() {
    use shared::{AppError, store::StoreError};
    let conflict =
        AppError::from(StoreError::Conflict("Duplicate entry '5-1' for key 'uq_project_reports_open'".into()));
    assert!(!conflict.to_string().contains("Duplicate") && !conflict.to_string().contains("uq_"), "{conflict}");
    let internal = AppError::from(StoreError::Internal("syntax error near SELECT".into()));
    assert_eq!(internal.to_string(), "internal error");
    let down = AppError::from(StoreError::Unavailable("connection refused (os error 111) to 10.0.3.7:3306".into()));
    assert!(!down.to_string().contains("10.0.3.7"), "{down}");
}

#[tokio::test]
async fn a_withdrawn_signing_key_stops_being_trusted() {
    use std::{
        collections::HashMap,
        sync::{Arc, Mutex},
    };

    use axum::{Router, extract::State, routing::get};
    use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
    use shared::{Config, cognito::CognitoVerifier};

    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let jwks = Arc::new(Mutex::new(std::fs::read_to_string(fixtures.join("test-cognito-jwks.json")).unwrap()));
    let app = Router::new()
        .route(
            "/.well-known/jwks.json",
            get(|State(keys): State<Arc<Mutex<String>>>| async move { keys.lock().unwrap().clone() }),
        )
        .with_state(jwks.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/.well-known/jwks.json", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let issuer = "https://cognito-idp.ap-northeast-2.amazonaws.com/ap-northeast-2_TEST";
    let vars: HashMap<&str, String> = HashMap::from([
        ("COGNITO_ISSUER", issuer.to_owned()),
        ("COGNITO_AUDIENCES", "webclient123".to_owned()),
        ("COGNITO_JWKS_URL", url),
        ("COGNITO_JWKS_MAX_AGE_SECONDS", "1".to_owned()),
    ]);
    let verifier = CognitoVerifier::from_config(&Config::from_lookup(|k| vars.get(k).cloned()).unwrap()).unwrap();
    let now = chrono::Utc::now().timestamp();
    let claims = json!({"sub": new_user_id(), "aud": "webclient123", "iss": issuer, "token_use": "id", "iat": now, "exp": now + 600});
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some("test-key-1".into());
    let key = EncodingKey::from_rsa_pem(&std::fs::read(fixtures.join("test-cognito-key.pem")).unwrap()).unwrap();
    let token = encode(&header, &claims, &key).unwrap();
    assert!(verifier.verify(&token).await.is_ok());
    // The pool withdraws the key: within the keys' maximum age, the token stops verifying.
    *jwks.lock().unwrap() = r#"{"keys": []}"#.to_owned();
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    assert!(verifier.verify(&token).await.is_err(), "a withdrawn key is not trusted after the keys' maximum age");
}

#[tokio::test]
async fn the_local_gateway_guards_its_secret_and_its_management_endpoint() {
    use std::net::SocketAddr;

    use local_gateway::{Gateway, Options, token};

    let db = TestDb::sqlite();
    let options = |addr: SocketAddr, secret: &[u8]| Options {
        config: shared::Config::from_lookup(|_| None).unwrap(),
        database: db.settings.clone(),
        secret: secret.to_vec(),
        addr,
    };
    let open = SocketAddr::from(([0, 0, 0, 0], 0));
    let refused = Gateway::start(options(open, token::DEFAULT_SECRET.as_bytes())).await;
    assert!(refused.is_err(), "a gateway others can reach must not use the published secret");

    let gateway = Gateway::start(options(open, b"a-secret-of-our-own")).await.unwrap();
    let port = gateway.addr.port();
    let http = reqwest::Client::new();
    let local = http.post(format!("http://127.0.0.1:{port}/@connections/nobody=")).body("{}").send().await.unwrap();
    assert_eq!(local.status().as_u16(), 410, "this machine may post (no such socket here)");
    // From another address of this machine, as another machine on the network would.
    let outside = local_address().expect("a non-loopback address to test from");
    let remote = http.post(format!("http://{outside}:{port}/@connections/nobody=")).body("{}").send().await.unwrap();
    assert_eq!(remote.status().as_u16(), 403);
    let api = http.get(format!("http://{outside}:{port}/notices")).send().await.unwrap();
    assert_eq!(api.status().as_u16(), 200, "the API itself answers other machines");
    gateway.stop().await.unwrap();

    fn local_address() -> Option<std::net::IpAddr> {
        // The address this machine would use to reach others (nothing is sent).
        let socket = std::net::UdpSocket::bind("0.0.0.0:0").ok()?;
        ["203.0.113.1:9", "192.0.2.1:9", "10.0.0.1:9"].iter().find(|peer| socket.connect(peer).is_ok())?;
        socket.local_addr().ok().map(|a| a.ip()).filter(|ip| !ip.is_loopback())
    }
}

#[tokio::test]
async fn a_non_member_gets_403_on_every_send_route_whatever_the_body() {
    let app = chat(TestEnv::new(TestDb::sqlite()).await).await;
    let (member, outsider) = (user(), user());
    app.siblings.members(42, &[member.user_id()]);
    for body in [
        json!({"team_id": 42, "project_id": 42}),
        json!({"team_id": 42, "project_id": 42, "message": ""}),
        json!({"team_id": 42, "project_id": 42, "message": "x".repeat(2_001)}),
        json!({"team_id": 42, "project_id": 42, "message": "hi", "message_id": "not ok!"}),
    ] {
        app.post("/chat/message", &outsider, body.clone()).await.assert_error(403, "FORBIDDEN");
        // A member gets the validation answer instead.
        app.post("/chat/message", &member, body).await.assert_error(422, "VALIDATION_FAILED");
    }
    for body in [json!({}), json!({"message": ""}), json!({"message": 5})] {
        app.post("/chat/42/messages", &outsider, body).await.assert_error(403, "FORBIDDEN");
    }

    // On the socket: a removed member's frame without a message is refused for membership.
    let env = TestEnv::new(TestDb::sqlite()).await;
    let gone = new_user_id();
    env.siblings.members(8, &[&gone]);
    let connect = shared::lambda::ws_connect(env.config()).await.unwrap();
    let message = shared::lambda::ws_message(env.config()).await.unwrap();
    assert_eq!(connect.handle(&connect_event("Gone01=", "8", &gone)).await.status_code, 200);
    env.loopback.open("Gone01=");
    env.siblings.remove_member(8, &gone);
    message.handle(&service_tests::frame_event("Gone01=", r#"{"action": "sendMessage"}"#)).await;
    let frames = env.loopback.received("Gone01=");
    assert_eq!(frames.last().map(|f| f["code"].clone()), Some(json!("FORBIDDEN")), "{frames:?}");
}
