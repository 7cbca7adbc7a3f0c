//! Test harness: a fresh database per test (MariaDB or an SQLite file), chat tables on the
//! DynamoDB emulator, a loopback `@connections` endpoint, each Lambda function's router built by
//! the same wiring its binary runs (`shared::lambda`), and requests shaped exactly like API
//! Gateway HTTP API (payload v2.0) events with the JWT authorizer's claims, decoded by
//! lambda_http as in AWS.

use std::{
    collections::{BTreeMap, HashMap},
    path::PathBuf,
    sync::Arc,
};

use axum::Router;
use http_body_util::BodyExt;
use serde_json::{Value, json};
use shared::{
    Config,
    config::DatabaseSettings,
    store::{ChatStores, Stores, sql::SqlDb},
};
use sqlx::{Connection, MySqlConnection};
use tower::ServiceExt;

/// Server URL without a database, for tests against MariaDB (`TEST_MYSQL_URL`).
pub fn mysql_server_url() -> String {
    std::env::var("TEST_MYSQL_URL").unwrap_or_else(|_| "mysql://root@127.0.0.1:3306".into())
}

/// A database that exists for one test and is dropped after it.
pub struct TestDb {
    pub settings: DatabaseSettings,
    cleanup: Cleanup,
}

enum Cleanup {
    MySql { server: String, name: String },
    Dir(PathBuf),
    Nothing,
}

fn unique_name() -> String {
    format!("pft_{}", uuid::Uuid::new_v4().simple())
}

impl TestDb {
    pub async fn mariadb() -> Self {
        Self::mariadb_on(&mysql_server_url()).await
    }

    /// A fresh database on the MariaDB server at `server` (a URL without a database).
    pub async fn mariadb_on(server: &str) -> Self {
        let server = server.to_owned();
        let name = unique_name();
        let mut conn = MySqlConnection::connect(&server)
            .await
            .unwrap_or_else(|e| panic!("MariaDB at {server} is required for these tests: {e}"));
        sqlx::raw_sql(&format!("CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"))
            .execute(&mut conn)
            .await
            .expect("create test database");
        let _ = conn.close().await;
        Self {
            settings: DatabaseSettings::MySql { url: format!("{server}/{name}") },
            cleanup: Cleanup::MySql { server, name },
        }
    }

    pub fn sqlite() -> Self {
        let dir = std::env::temp_dir().join(unique_name());
        Self { settings: DatabaseSettings::Sqlite { path: dir.join("portforge.db") }, cleanup: Cleanup::Dir(dir) }
    }

    /// A MySQL URL nothing listens on (loopback port 9): every query fails to connect.
    pub fn unreachable_mysql() -> Self {
        Self {
            settings: DatabaseSettings::MySql { url: "mysql://root@127.0.0.1:9/nothing".into() },
            cleanup: Cleanup::Nothing,
        }
    }

    pub fn sql_db(&self) -> SqlDb {
        SqlDb::connect_lazy(&self.settings, 4).expect("pool")
    }

    /// Applies the migrations as the deploy's migrate step does (nothing on an unreachable one).
    pub async fn migrate_as_deploy(&self) {
        if !matches!(self.cleanup, Cleanup::Nothing) {
            self.sql_db().migrate().await.expect("the deploy's migration");
        }
    }

    pub fn stores(&self) -> Stores {
        Stores::sql(Arc::new(self.sql_db()))
    }

    /// The database as `DATABASE_URL` names it.
    pub fn url(&self) -> String {
        match &self.settings {
            DatabaseSettings::MySql { url } => url.clone(),
            DatabaseSettings::Sqlite { path } => format!("sqlite://{}", path.display()),
            DatabaseSettings::MySqlSecret(_) => unreachable!("test databases are given by URL"),
        }
    }

    /// The MariaDB database's name and its server's URL (without a database).
    pub fn mariadb_name(&self) -> Option<(&str, &str)> {
        match &self.cleanup {
            Cleanup::MySql { server, name } => Some((server, name)),
            _ => None,
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        match &self.cleanup {
            Cleanup::Nothing => {}
            Cleanup::Dir(dir) => {
                let _ = std::fs::remove_dir_all(dir);
            }
            Cleanup::MySql { server, name } => {
                let (server, name) = (server.clone(), name.clone());
                // Drop runs inside the test's runtime: use a thread with its own.
                let _ = std::thread::spawn(move || {
                    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
                    rt.block_on(async {
                        let mut conn = MySqlConnection::connect(&server).await.ok()?;
                        sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS `{name}`")).execute(&mut conn).await.ok()
                    })
                })
                .join();
            }
        }
    }
}

/// Who sends a request: the claims the API Gateway JWT authorizer would pass on.
#[derive(Debug, Clone)]
pub enum Who {
    Anonymous,
    User(String),
    Admin(String),
    /// A sibling service's client-credentials token.
    Service {
        client_id: String,
        scopes: Vec<String>,
    },
    /// Arbitrary claims, for identity edge cases.
    Claims(BTreeMap<String, String>),
}

pub fn new_user_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

pub fn user() -> Who {
    Who::User(new_user_id())
}

pub fn admin() -> Who {
    Who::Admin(new_user_id())
}

pub fn notify_service() -> Who {
    Who::Service { client_id: "projectsvc7h3k2".into(), scopes: vec![Config::DEFAULT_NOTIFY_SCOPE.into()] }
}

impl Who {
    pub fn user_id(&self) -> &str {
        match self {
            Who::User(id) | Who::Admin(id) => id,
            Who::Claims(claims) if claims.contains_key("sub") => &claims["sub"],
            _ => panic!("{self:?} has no user id"),
        }
    }

    fn authorizer(&self) -> Value {
        let (claims, scopes): (Value, Option<Vec<String>>) = match self {
            Who::Anonymous => return Value::Null,
            Who::User(id) => {
                (json!({"sub": id, "cognito:groups": "[USER]", "token_use": "id", "email": "dev@portforge.dev"}), None)
            }
            Who::Admin(id) => (json!({"sub": id, "cognito:groups": "[ADMIN USER]", "token_use": "id"}), None),
            Who::Service { client_id, scopes } => (
                json!({"sub": client_id, "client_id": client_id, "token_use": "access", "scope": scopes.join(" ")}),
                Some(scopes.clone()),
            ),
            Who::Claims(claims) => (json!(claims), None),
        };
        json!({ "jwt": { "claims": claims, "scopes": scopes } })
    }
}

/// The API Gateway HTTP API (payload 2.0) event for one request.
pub fn gateway_event(method: &str, uri: &str, who: &Who, body: Option<&str>) -> Value {
    let (path, query) = uri.split_once('?').unwrap_or((uri, ""));
    let mut context = json!({
        "accountId": "123456789012",
        "apiId": "testapi",
        "domainName": "testapi.execute-api.ap-northeast-2.amazonaws.com",
        "domainPrefix": "testapi",
        "requestId": uuid::Uuid::new_v4().to_string(),
        "routeKey": "$default",
        "stage": "$default",
        "time": "26/Nov/2026:12:00:00 +0000",
        "timeEpoch": 1_795_000_000_000_i64,
        "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "service-tests"}
    });
    let authorizer = who.authorizer();
    if !authorizer.is_null() {
        context["authorizer"] = authorizer;
    }
    json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": query,
        "headers": {"content-type": "application/json", "host": "testapi.execute-api.ap-northeast-2.amazonaws.com"},
        "requestContext": context,
        "body": body,
        "isBase64Encoded": false
    })
}

/// A decoded response: status and JSON body.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
}

impl Reply {
    /// Asserts an error reply: status, code, and the error envelope.
    #[track_caller]
    pub fn assert_error(&self, status: u16, code: &str) -> &Self {
        assert_eq!(self.status, status, "body: {}", self.body);
        assert_eq!(self.body["success"], false, "body: {}", self.body);
        assert_eq!(self.body["code"], code, "body: {}", self.body);
        assert!(self.body["message"].as_str().is_some_and(|m| !m.is_empty()), "body: {}", self.body);
        assert!(self.body["data"].is_null(), "body: {}", self.body);
        self
    }

    /// Asserts a success reply and returns its `data`.
    #[track_caller]
    pub fn assert_ok(&self, status: u16, code: &str) -> &Value {
        assert_eq!(self.status, status, "body: {}", self.body);
        assert_eq!(self.body["success"], true, "body: {}", self.body);
        assert_eq!(self.body["code"], code, "body: {}", self.body);
        &self.body["data"]
    }

    /// The `field` names of a validation error's details, in order.
    pub fn fields(&self) -> Vec<String> {
        self.body["details"]
            .as_array()
            .map(|d| d.iter().map(|e| e["field"].as_str().unwrap_or_default().to_owned()).collect())
            .unwrap_or_default()
    }
}

/// The HTTP functions of the template, each built by `shared::lambda` as its binary is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Function {
    Notifications,
    Content,
    Events,
    Admin,
    Chat,
    Reports,
}

impl Function {
    pub const ALL: [Function; 6] = [
        Function::Notifications,
        Function::Content,
        Function::Events,
        Function::Admin,
        Function::Chat,
        Function::Reports,
    ];

    pub async fn build(self, config: Config) -> Router {
        use shared::lambda;
        let built = match self {
            Function::Notifications => lambda::notifications(config).await,
            Function::Content => lambda::content(config).await,
            Function::Events => lambda::events(config).await,
            Function::Admin => lambda::admin(config).await,
            Function::Chat => lambda::chat(config).await,
            Function::Reports => lambda::reports(config).await,
        };
        built.unwrap_or_else(|e| panic!("{self:?} builds: {e}"))
    }

    /// The function API Gateway sends `path` to (template.yaml's routes).
    pub fn serving(path: &str) -> Function {
        let mut segments = path.trim_start_matches('/').split('/');
        match (segments.next().unwrap_or_default(), segments.next().unwrap_or_default()) {
            ("notifications", _) => Function::Notifications,
            ("events", _) => Function::Events,
            ("reports", _) | ("admin", "reports" | "projects") => Function::Reports,
            ("admin", "chat") => Function::Chat,
            ("admin", _) => Function::Admin,
            ("chat", _) => Function::Chat,
            _ => Function::Content,
        }
    }
}

/// What one test's functions run against: a fresh relational database, fresh chat tables on the
/// emulator, a loopback `@connections` endpoint and loopback Project and Team services.
pub struct TestEnv {
    pub db: TestDb,
    pub dynamo: TestDynamo,
    pub loopback: LoopbackConnections,
    pub siblings: SiblingStandIn,
    /// The user pool's keys (`COGNITO_JWKS_URL`): the test key of `tests/fixtures`.
    pub jwks_url: String,
    /// Extra or overriding environment variables for the functions.
    pub vars: HashMap<String, String>,
}

impl TestEnv {
    /// The functions over `db`, whose schema is migrated first, as a deploy does before the
    /// functions serve (they only check it).
    pub async fn new(db: TestDb) -> Self {
        db.migrate_as_deploy().await;
        Self::unmigrated(db).await
    }

    /// The functions over `db` as it is: a new database stays without a schema.
    pub async fn unmigrated(db: TestDb) -> Self {
        Self {
            db,
            dynamo: TestDynamo::new().await,
            loopback: LoopbackConnections::start().await,
            siblings: SiblingStandIn::start().await,
            jwks_url: cognito::jwks_server().await,
            vars: HashMap::new(),
        }
    }

    pub fn set(mut self, name: &str, value: &str) -> Self {
        self.vars.insert(name.to_owned(), value.to_owned());
        self
    }

    /// The functions' configuration, as the template's environment would give it.
    pub fn config(&self) -> Config {
        let mut vars: HashMap<String, String> = HashMap::from([
            ("DATABASE_URL".to_owned(), self.db.url()),
            ("DDB_ENDPOINT_URL".to_owned(), self.dynamo.endpoint.clone()),
            ("DYNAMODB_TABLE_CHATS".to_owned(), self.dynamo.tables().messages.clone()),
            ("DYNAMODB_TABLE_ROOMS".to_owned(), self.dynamo.tables().rooms.clone()),
            ("DYNAMODB_TABLE_CONNECTIONS".to_owned(), self.dynamo.tables().connections.clone()),
            ("WS_MANAGEMENT_ENDPOINT".to_owned(), self.loopback.endpoint.clone()),
            ("PROJECT_SERVICE_URL".to_owned(), self.siblings.url.clone()),
            ("TEAM_SERVICE_URL".to_owned(), self.siblings.url.clone()),
            // Short, so that "slower than the timeout" stays a quick test.
            ("SIBLING_TIMEOUT_MS".to_owned(), "300".to_owned()),
            // Memberships a test changes take effect at once; the cache has its own test.
            ("MEMBERSHIP_CACHE_SECONDS".to_owned(), "0".to_owned()),
            ("SIBLING_CONNECT_TIMEOUT_MS".to_owned(), "300".to_owned()),
            // The user pool whose tokens sockets renew themselves with (ws-message).
            ("COGNITO_ISSUER".to_owned(), cognito::ISSUER.to_owned()),
            ("COGNITO_AUDIENCES".to_owned(), cognito::WEB_CLIENT.to_owned()),
            ("COGNITO_JWKS_URL".to_owned(), self.jwks_url.clone()),
        ]);
        vars.extend(self.vars.clone());
        Config::from_lookup(|k| vars.get(k).cloned()).expect("test config")
    }

    /// The relational ports over the test database, for arranging and checking data.
    pub fn stores(&self) -> Stores {
        self.db.stores()
    }

    /// The chat ports over the test tables.
    pub fn chat(&self) -> ChatStores {
        self.dynamo.stores()
    }

    /// Every notification `user` has, as (message, link), oldest first.
    pub async fn notifications_of(&self, user: &str) -> Vec<(String, String)> {
        let user = shared::domain::UserId::parse(user).expect("a user id");
        let page = self
            .stores()
            .notifications
            .list(&user, false, shared::domain::Limit::new(100).expect("a limit"), None)
            .await;
        let mut items: Vec<_> =
            page.expect("notifications").items.into_iter().map(|n| (n.message, n.link.unwrap_or_default())).collect();
        items.reverse();
        items
    }
}

/// One Lambda function's router over a [`TestEnv`].
pub struct TestApp {
    pub router: Router,
    pub env: TestEnv,
}

impl std::ops::Deref for TestApp {
    type Target = TestEnv;

    fn deref(&self) -> &TestEnv {
        &self.env
    }
}

impl TestApp {
    /// `function` over a fresh MariaDB database.
    pub async fn mariadb(function: Function) -> Self {
        Self::over(function, TestEnv::new(TestDb::mariadb().await).await).await
    }

    /// `function` over a fresh embedded SQLite file (the backend does not matter to the test).
    pub async fn sqlite(function: Function) -> Self {
        Self::over(function, TestEnv::new(TestDb::sqlite()).await).await
    }

    pub async fn over(function: Function, env: TestEnv) -> Self {
        Self { router: function.build(env.config()).await, env }
    }

    /// Sends one request as API Gateway would deliver it to the function.
    pub async fn send(&self, method: &str, uri: &str, who: &Who, body: Option<&str>) -> Reply {
        send_event(&self.router, &gateway_event(method, uri, who, body).to_string()).await
    }

    pub async fn send_event(&self, event_json: &str) -> Reply {
        send_event(&self.router, event_json).await
    }

    pub async fn get(&self, uri: &str, who: &Who) -> Reply {
        self.send("GET", uri, who, None).await
    }

    pub async fn post(&self, uri: &str, who: &Who, body: Value) -> Reply {
        self.send("POST", uri, who, Some(&body.to_string())).await
    }

    pub async fn patch(&self, uri: &str, who: &Who, body: Value) -> Reply {
        self.send("PATCH", uri, who, Some(&body.to_string())).await
    }

    pub async fn delete(&self, uri: &str, who: &Who) -> Reply {
        self.send("DELETE", uri, who, None).await
    }
}

/// Every HTTP function over one [`TestEnv`], each request sent to the function API Gateway
/// routes its path to.
pub struct TestApi {
    pub routers: HashMap<Function, Router>,
    pub env: TestEnv,
}

impl TestApi {
    pub async fn over(env: TestEnv) -> Self {
        let mut routers = HashMap::new();
        for function in Function::ALL {
            routers.insert(function, function.build(env.config()).await);
        }
        Self { routers, env }
    }

    pub async fn send_event(&self, event_json: &str) -> Reply {
        let event: Value = serde_json::from_str(event_json).expect("event JSON");
        let path = event["rawPath"].as_str().expect("rawPath");
        send_event(&self.routers[&Function::serving(path)], event_json).await
    }

    pub async fn get(&self, uri: &str, who: &Who) -> Reply {
        self.send_event(&gateway_event("GET", uri, who, None).to_string()).await
    }

    pub async fn post(&self, uri: &str, who: &Who, body: Value) -> Reply {
        self.send_event(&gateway_event("POST", uri, who, Some(&body.to_string())).to_string()).await
    }

    pub async fn patch(&self, uri: &str, who: &Who, body: Value) -> Reply {
        self.send_event(&gateway_event("PATCH", uri, who, Some(&body.to_string())).to_string()).await
    }

    pub async fn delete(&self, uri: &str, who: &Who) -> Reply {
        self.send_event(&gateway_event("DELETE", uri, who, None).to_string()).await
    }
}

/// Runs one API Gateway event through a function's router, decoded by lambda_http as in AWS.
pub async fn send_event(router: &Router, event_json: &str) -> Reply {
    let request = lambda_http::request::from_str(event_json).expect("a valid API Gateway event");
    let response = router.clone().oneshot(request).await.expect("infallible router");
    let status = response.status().as_u16();
    let content_type =
        response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let bytes = response.into_body().collect().await.expect("body").to_bytes();
    assert!(
        content_type.starts_with("application/json"),
        "every reply is JSON; got {content_type:?}: {}",
        String::from_utf8_lossy(&bytes)
    );
    let body = serde_json::from_slice(&bytes).expect("JSON body");
    Reply { status, body }
}

// ---------------------------------------------------------------------------------------------
// Chat: DynamoDB on the emulator, and a loopback management API.

pub use chat_support::*;

mod chat_support {
    use std::{
        collections::{HashMap, HashSet},
        sync::{Arc, Mutex},
    };

    use axum::{
        Json, Router,
        body::Bytes,
        extract::{Path, State},
        http::StatusCode,
        response::{IntoResponse, Response},
        routing::post,
    };
    use serde_json::{Value, json};
    use shared::{
        Config,
        domain::{
            ConnectionId, ProjectId, UserId,
            chat::Connection,
            time::{Calendar, now_ms},
        },
        push::{ApiGatewayPusher, FanOut},
        services::chat::ChatService,
        store::{
            ChatStores,
            dynamo::{DynamoStore, DynamoTables},
        },
    };

    /// The emulator the tests use (`TEST_DYNAMODB_URL`, started by `scripts/test`).
    pub fn dynamodb_url() -> String {
        std::env::var("TEST_DYNAMODB_URL")
            .expect("TEST_DYNAMODB_URL must name a DynamoDB emulator; run the tests through scripts/test")
    }

    /// Config pointing the AWS clients at the emulator, with fresh table names.
    pub fn emulator_config() -> Config {
        emulator_config_at(&dynamodb_url())
    }

    fn emulator_config_at(endpoint: &str) -> Config {
        let prefix = format!("t{}", &uuid::Uuid::new_v4().simple().to_string()[..10]);
        let vars: HashMap<&str, String> = HashMap::from([
            ("DDB_ENDPOINT_URL", endpoint.to_owned()),
            ("DYNAMODB_TABLE_CHATS", format!("{prefix}_team_chats")),
            ("DYNAMODB_TABLE_ROOMS", format!("{prefix}_chat_rooms")),
            ("DYNAMODB_TABLE_CONNECTIONS", format!("{prefix}_ws_connections")),
        ]);
        Config::from_lookup(|k| vars.get(k).cloned()).expect("emulator config")
    }

    /// Chat tables of one test on the emulator.
    pub struct TestDynamo {
        pub endpoint: String,
        pub config: Config,
        pub aws: shared::aws::AwsContext,
        pub store: DynamoStore,
    }

    impl TestDynamo {
        pub async fn new() -> Self {
            Self::at(&dynamodb_url()).await
        }

        /// Fresh tables on the emulator at `endpoint` (one a test may stop).
        pub async fn at(endpoint: &str) -> Self {
            let config = emulator_config_at(endpoint);
            let aws = shared::aws::AwsContext::new(&config).expect("emulator credentials");
            let store = shared::aws::dynamo_store(&aws, &config);
            store.create_tables().await.expect("create chat tables on the emulator");
            Self { endpoint: endpoint.to_owned(), config, aws, store }
        }

        pub fn tables(&self) -> &DynamoTables {
            self.store.tables()
        }

        /// The same tables reached through another endpoint (a [`super::FaultProxy`] in front of
        /// the emulator).
        pub fn stores_via(&self, endpoint: &str) -> ChatStores {
            ChatStores::dynamo(DynamoStore::new(self.aws.dynamodb(Some(endpoint)), self.tables().clone()))
        }

        /// A bare SDK client on the emulator, for what the store does not expose.
        pub fn client(&self) -> aws_sdk_dynamodb::Client {
            self.aws.dynamodb(Some(&self.endpoint))
        }

        pub fn stores(&self) -> ChatStores {
            ChatStores::dynamo(self.store.clone())
        }
    }

    /// What the loopback management API saw and how it answers.
    #[derive(Default)]
    struct Connections {
        open: HashSet<String>,
        received: HashMap<String, Vec<Value>>,
        /// Posts to answer 429 before accepting, per connection.
        throttle: HashMap<String, u32>,
        /// Posts to answer 500 before accepting, per connection.
        fail: HashMap<String, u32>,
        posts: usize,
        posts_to: HashMap<String, usize>,
    }

    /// An error answer as API Gateway's management API gives it: the status, the error type in
    /// `x-amzn-ErrorType` (what the SDK reads the code from) and a JSON message.
    fn api_gateway_error(status: StatusCode, error_type: &str, message: &str) -> Response {
        (status, [("x-amzn-errortype", error_type)], Json(json!({ "message": message }))).into_response()
    }

    /// A real HTTP server on loopback implementing `POST/GET/DELETE /@connections/{id}` as API
    /// Gateway does: 410 Gone for ids it does not know.
    #[derive(Clone)]
    pub struct LoopbackConnections {
        pub endpoint: String,
        state: Arc<Mutex<Connections>>,
    }

    async fn post_frame(State(state): State<Arc<Mutex<Connections>>>, Path(id): Path<String>, body: Bytes) -> Response {
        let mut s = state.lock().expect("lock");
        s.posts += 1;
        *s.posts_to.entry(id.clone()).or_default() += 1;
        if !s.open.contains(&id) {
            return api_gateway_error(StatusCode::GONE, "GoneException", "");
        }
        if let Some(left) = s.throttle.get_mut(&id).filter(|left| **left > 0) {
            *left -= 1;
            return api_gateway_error(StatusCode::TOO_MANY_REQUESTS, "LimitExceededException", "Rate exceeded");
        }
        if let Some(left) = s.fail.get_mut(&id).filter(|left| **left > 0) {
            *left -= 1;
            return api_gateway_error(StatusCode::INTERNAL_SERVER_ERROR, "InternalServerErrorException", "failed");
        }
        let frame = serde_json::from_slice(&body).unwrap_or(Value::Null);
        s.received.entry(id).or_default().push(frame);
        StatusCode::OK.into_response()
    }

    async fn get_connection(
        State(state): State<Arc<Mutex<Connections>>>,
        Path(id): Path<String>,
    ) -> (StatusCode, String) {
        if state.lock().expect("lock").open.contains(&id) {
            (StatusCode::OK, r#"{"identity":{"sourceIp":"127.0.0.1"}}"#.into())
        } else {
            (StatusCode::GONE, String::new())
        }
    }

    async fn delete_connection(State(state): State<Arc<Mutex<Connections>>>, Path(id): Path<String>) -> StatusCode {
        if state.lock().expect("lock").open.remove(&id) { StatusCode::NO_CONTENT } else { StatusCode::GONE }
    }

    impl LoopbackConnections {
        pub async fn start() -> Self {
            let state = Arc::new(Mutex::new(Connections::default()));
            let app = Router::new()
                .route("/@connections/{id}", post(post_frame).get(get_connection).delete(delete_connection))
                .with_state(state.clone());
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
            let endpoint = format!("http://{}", listener.local_addr().expect("addr"));
            tokio::spawn(async move {
                let _ = axum::serve(listener, app).await;
            });
            Self { endpoint, state }
        }

        pub fn open(&self, id: &str) {
            self.state.lock().expect("lock").open.insert(id.to_owned());
        }

        /// Closes a socket: posts to it answer 410 from now on.
        pub fn close(&self, id: &str) {
            self.state.lock().expect("lock").open.remove(id);
        }

        pub fn throttle(&self, id: &str, times: u32) {
            self.state.lock().expect("lock").throttle.insert(id.to_owned(), times);
        }

        /// Answers the next `times` posts to `id` with 500.
        pub fn fail(&self, id: &str, times: u32) {
            self.state.lock().expect("lock").fail.insert(id.to_owned(), times);
        }

        /// Whether the socket is open (not closed by a `DELETE /@connections/{id}`).
        pub fn is_open(&self, id: &str) -> bool {
            self.state.lock().expect("lock").open.contains(id)
        }

        pub fn received(&self, id: &str) -> Vec<Value> {
            self.state.lock().expect("lock").received.get(id).cloned().unwrap_or_default()
        }

        pub fn total_posts(&self) -> usize {
            self.state.lock().expect("lock").posts
        }

        /// The same connections reached at another endpoint (a [`super::FaultProxy`] in front).
        pub fn behind(&self, endpoint: &str) -> Self {
            Self { endpoint: endpoint.to_owned(), state: self.state.clone() }
        }

        /// Posts (answered or not) to one connection.
        pub fn posts_to(&self, id: &str) -> usize {
            self.state.lock().expect("lock").posts_to.get(id).copied().unwrap_or_default()
        }
    }

    /// The fan-out over `stores`' connection rows, posting through the real SDK client to
    /// `loopback`.
    pub async fn fanout(stores: &ChatStores, loopback: &LoopbackConnections) -> FanOut {
        let aws = shared::aws::AwsContext::new(&emulator_config()).expect("emulator credentials");
        let pusher = Arc::new(ApiGatewayPusher::new(&aws, &loopback.endpoint));
        FanOut::new(pusher, stores.connections.clone(), FanOut::DEFAULT_CONCURRENCY)
    }

    /// The chat service over `stores`, fanning out to `loopback`, with memberships from `siblings`.
    pub async fn chat_service(
        stores: &ChatStores,
        loopback: &LoopbackConnections,
        siblings: &super::SiblingStandIn,
    ) -> ChatService {
        let fanout = fanout(stores, loopback).await;
        let vars: HashMap<&str, String> =
            HashMap::from([("PROJECT_SERVICE_URL", siblings.url.clone()), ("TEAM_SERVICE_URL", siblings.url.clone())]);
        let config = Config::from_lookup(|k| vars.get(k).cloned()).expect("config");
        let membership = shared::lambda::membership(&config).expect("membership");
        let scope = &config.chat_read_scope;
        ChatService::new(stores.messages.clone(), stores.rooms.clone(), fanout, membership, Calendar::kst(), scope)
    }

    pub fn connection_id(raw: &str) -> ConnectionId {
        ConnectionId::parse(raw).expect("a connection id")
    }

    /// A connection row as `$connect` stores it: socket `id` of `user` in `project` (admitted as
    /// an admin or not), not subscribed to notifications, living two hours from now.
    pub fn open_connection(id: &str, user: &UserId, project: ProjectId, admin: bool) -> Connection {
        let now = now_ms();
        Connection {
            connection_id: connection_id(id),
            user_id: user.clone(),
            display_name: "tester".into(),
            project_id: Some(project),
            notifications: false,
            admin,
            connected_at: now,
            expires_at: now + chrono::Duration::hours(2),
            token_expires_at: None,
            member: !admin,
            live: false,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The Project and Team services: a real HTTP server on loopback whose answers each test sets.

pub use siblings_support::*;

mod siblings_support {
    use std::{
        collections::HashMap,
        sync::{Arc, Mutex},
        time::Duration,
    };

    use axum::{
        Router,
        extract::{Path, State},
        http::{HeaderMap, Method, StatusCode},
        response::{IntoResponse, Response},
        routing::get,
    };
    use serde_json::{Value, json};

    /// How the stand-in answers one kind of call.
    #[derive(Debug, Clone, PartialEq)]
    pub enum Answer {
        /// The normal answer (the stand-in's data).
        Normal,
        /// An error status with FastAPI's body, `{"detail": …}` (404, 500, 503, …).
        Status(u16),
        /// 200 with a body that is not JSON.
        Malformed,
        /// 404 as FastAPI answers a path no route serves (`{"detail": "Not Found"}`): a wrong
        /// base URL or prefix, which says nothing about the resource.
        RouteNotFound,
        /// The normal answer, after a pause (longer than the caller's timeout, to test it).
        Slow(Duration),
    }

    /// Which of the stand-in's routes an answer is for.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub enum Route {
        /// `GET /projects/{id}/basic`
        Project,
        /// Both Team service routes.
        Team,
        /// `DELETE /projects/{id}`
        Delete,
    }

    /// One call the stand-in received.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct Call {
        pub method: String,
        pub path: String,
        pub request_id: Option<String>,
        pub authorization: Option<String>,
    }

    #[derive(Default)]
    struct Siblings {
        /// project id → title (the Project service)
        projects: HashMap<i64, String>,
        /// team id → (project id, [(user id, role)]) (the Team service)
        teams: HashMap<i64, (i64, Vec<(String, String)>)>,
        project_answer: Option<Answer>,
        team_answer: Option<Answer>,
        delete_answer: Option<Answer>,
        /// Answers for the next calls of a route, before the standing ones (e.g. one 503 then normal).
        queued: HashMap<Route, Vec<Answer>>,
        calls: Vec<Call>,
    }

    impl Siblings {
        fn team_of(&self, project: i64) -> Option<(i64, &Vec<(String, String)>)> {
            self.teams.iter().find(|(_, (p, _))| *p == project).map(|(team, (_, members))| (*team, members))
        }
    }

    /// The Project and Team services on one loopback server (`PROJECT_SERVICE_URL` and
    /// `TEAM_SERVICE_URL` both name it), answering the routes and bodies PortForge's own services
    /// serve (`Project_Service/`, `Team-BE/`), from data and failure modes the test sets.
    #[derive(Clone)]
    pub struct SiblingStandIn {
        pub url: String,
        state: Arc<Mutex<Siblings>>,
    }

    fn lock(state: &Arc<Mutex<Siblings>>) -> std::sync::MutexGuard<'_, Siblings> {
        state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// FastAPI's `HTTPException`: the status with `{"detail": …}`.
    fn detail(status: StatusCode, text: &str) -> Response {
        (status, axum::Json(json!({ "detail": text }))).into_response()
    }

    /// The answer the next call of `route` gets: a queued one first, else the standing one.
    fn choose(state: &Arc<Mutex<Siblings>>, route: Route, standing: Option<Answer>) -> Answer {
        let mut s = lock(state);
        match s.queued.get_mut(&route) {
            Some(queue) if !queue.is_empty() => queue.remove(0),
            _ => standing.unwrap_or(Answer::Normal),
        }
    }

    async fn respond(answer: Answer, normal: impl FnOnce() -> Response) -> Response {
        match answer {
            Answer::Normal => normal(),
            Answer::Status(code) => {
                let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                detail(status, &format!("stand-in answered {code}"))
            }
            Answer::Malformed => {
                (StatusCode::OK, [("content-type", "application/json")], "{\"title\": ").into_response()
            }
            Answer::RouteNotFound => detail(StatusCode::NOT_FOUND, "Not Found"),
            Answer::Slow(pause) => {
                tokio::time::sleep(pause).await;
                normal()
            }
        }
    }

    async fn answer(
        state: &Arc<Mutex<Siblings>>,
        route: Route,
        standing: Option<Answer>,
        normal: impl FnOnce() -> Response,
    ) -> Response {
        respond(choose(state, route, standing), normal).await
    }

    fn record(state: &Arc<Mutex<Siblings>>, method: &Method, path: String, headers: &HeaderMap) {
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
        lock(state).calls.push(Call {
            method: method.to_string(),
            path,
            request_id: header("x-request-id"),
            authorization: header("authorization"),
        });
    }

    /// `GET /projects/{id}/basic`: the bare `ProjectResponse`, or 404 `{"detail": "Project not found"}`.
    async fn project(State(state): State<Arc<Mutex<Siblings>>>, Path(id): Path<i64>, headers: HeaderMap) -> Response {
        record(&state, &Method::GET, format!("/projects/{id}/basic"), &headers);
        let (standing, known) = {
            let s = lock(&state);
            (s.project_answer.clone(), s.projects.get(&id).cloned())
        };
        answer(&state, Route::Project, standing, || match known {
            Some(title) => axum::Json(json!({
                "project_id": id, "title": title, "description": "설명", "status": "RECRUITING",
                "start_date": "2026-01-05", "end_date": "2026-06-30",
            }))
            .into_response(),
            None => detail(StatusCode::NOT_FOUND, "Project not found"),
        })
        .await
    }

    /// `DELETE /projects/{id}`: 200 `{"status": "success", "message"}` (its team goes too), or
    /// 404. A slow answer deletes first and answers late, as a service whose reply is held up
    /// after the work is done: the caller gives up, the project is gone all the same.
    async fn delete_project(
        State(state): State<Arc<Mutex<Siblings>>>,
        Path(id): Path<i64>,
        headers: HeaderMap,
    ) -> Response {
        record(&state, &Method::DELETE, format!("/projects/{id}"), &headers);
        let standing = lock(&state).delete_answer.clone();
        let chosen = choose(&state, Route::Delete, standing);
        let deleted = matches!(chosen, Answer::Normal | Answer::Slow(_)) && {
            let mut s = lock(&state);
            let existed = s.projects.remove(&id).is_some();
            s.teams.retain(|_, (project, _)| *project != id);
            existed
        };
        respond(chosen, move || {
            if deleted {
                axum::Json(json!({"status": "success", "message": "프로젝트가 삭제되었습니다."})).into_response()
            } else {
                detail(StatusCode::NOT_FOUND, "프로젝트를 찾을 수 없습니다.")
            }
        })
        .await
    }

    fn team_json(team: i64, project: i64, members: &[(String, String)], by_project: bool) -> Value {
        let members: Vec<Value> = members
            .iter()
            .map(|(user, role)| {
                let mut member = json!({"user_id": user, "role": role, "position_type": "BACKEND"});
                if by_project {
                    member["updated_at"] = json!("2026-01-05T10:00:00");
                }
                member
            })
            .collect();
        json!({"team_id": team, "project_id": project, "name": format!("프로젝트 {project} 개발팀"),
               "s3_key": format!("teams/{project}/shared_files/"), "created_at": "2026-01-05T10:00:00",
               "members": members})
    }

    /// `GET /api/v1/teams/by-project/{id}`: the envelope with the team, or — still 200 — the
    /// soft error with `data: null` when the project has no team.
    async fn team_by_project(
        State(state): State<Arc<Mutex<Siblings>>>,
        Path(id): Path<i64>,
        headers: HeaderMap,
    ) -> Response {
        record(&state, &Method::GET, format!("/api/v1/teams/by-project/{id}"), &headers);
        let (standing, known) = {
            let s = lock(&state);
            (s.team_answer.clone(), s.team_of(id).map(|(team, members)| team_json(team, id, members, true)))
        };
        answer(&state, Route::Team, standing, || match known {
            Some(team) => axum::Json(json!({"status": "success", "data": team})).into_response(),
            None => axum::Json(json!({"status": "error", "message": "팀을 찾을 수 없습니다.", "data": null}))
                .into_response(),
        })
        .await
    }

    /// `GET /api/v1/teams/team/{id}`: the bare team, or 404.
    async fn team_by_id(
        State(state): State<Arc<Mutex<Siblings>>>,
        Path(id): Path<i64>,
        headers: HeaderMap,
    ) -> Response {
        record(&state, &Method::GET, format!("/api/v1/teams/team/{id}"), &headers);
        let (standing, known) = {
            let s = lock(&state);
            (s.team_answer.clone(), s.teams.get(&id).map(|(project, members)| team_json(id, *project, members, false)))
        };
        answer(&state, Route::Team, standing, || match known {
            Some(team) => axum::Json(team).into_response(),
            None => detail(StatusCode::NOT_FOUND, "팀을 찾을 수 없습니다."),
        })
        .await
    }

    impl SiblingStandIn {
        pub async fn start() -> Self {
            let state = Arc::new(Mutex::new(Siblings::default()));
            let app = Router::new()
                .route("/projects/{id}/basic", get(project))
                .route("/projects/{id}", axum::routing::delete(delete_project))
                .route("/api/v1/teams/by-project/{id}", get(team_by_project))
                .route("/api/v1/teams/team/{id}", get(team_by_id))
                .with_state(state.clone());
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
            let url = format!("http://{}", listener.local_addr().expect("addr"));
            tokio::spawn(async move {
                let _ = axum::serve(listener, app).await;
            });
            Self { url, state }
        }

        /// A project, its team (whose id is the project's × 10, as the Team service's own ids
        /// drift from project ids) with a leader and members.
        pub fn project(&self, id: i64, title: &str, leader: &str, members: &[&str]) {
            self.project_in_team(id, id * 10, title, leader, members);
        }

        /// A project of the given team, with a leader and members.
        pub fn project_in_team(&self, id: i64, team: i64, title: &str, leader: &str, members: &[&str]) {
            let mut s = lock(&self.state);
            s.projects.insert(id, title.to_owned());
            let mut list = vec![(leader.to_owned(), "LEADER".to_owned())];
            list.extend(members.iter().map(|m| ((*m).to_owned(), "MEMBER".to_owned())));
            s.teams.insert(team, (id, list));
        }

        /// A project the Project service knows, without a team (the Team service's soft error).
        pub fn project_without_team(&self, id: i64, title: &str) {
            let mut s = lock(&self.state);
            s.projects.insert(id, title.to_owned());
            s.teams.retain(|_, (project, _)| *project != id);
        }

        /// Puts `users` in `project`'s team (the project and a team × 10 are created if unknown).
        pub fn members(&self, project: i64, users: &[&str]) {
            let mut s = lock(&self.state);
            s.projects.entry(project).or_insert_with(|| format!("project {project}"));
            let team = s.team_of(project).map_or(project * 10, |(team, _)| team);
            let list = &mut s.teams.entry(team).or_insert_with(|| (project, Vec::new())).1;
            for user in users {
                if !list.iter().any(|(u, _)| u == user) {
                    list.push(((*user).to_owned(), "MEMBER".to_owned()));
                }
            }
        }

        /// Takes `user` out of `project`'s team.
        pub fn remove_member(&self, project: i64, user: &str) {
            let mut s = lock(&self.state);
            if let Some(team) = s.team_of(project).map(|(team, _)| team)
                && let Some((_, list)) = s.teams.get_mut(&team)
            {
                list.retain(|(u, _)| u != user);
            }
        }

        /// The id of `project`'s team, if it has one.
        pub fn team_of(&self, project: i64) -> Option<i64> {
            lock(&self.state).team_of(project).map(|(team, _)| team)
        }

        pub fn has_project(&self, id: i64) -> bool {
            lock(&self.state).projects.contains_key(&id)
        }

        /// How the Project service answers `GET /projects/{id}/basic` from now on.
        pub fn answer_project(&self, answer: Answer) {
            lock(&self.state).project_answer = Some(answer);
        }

        /// How the Team service answers both of its routes from now on.
        pub fn answer_team(&self, answer: Answer) {
            lock(&self.state).team_answer = Some(answer);
        }

        pub fn answer_delete(&self, answer: Answer) {
            lock(&self.state).delete_answer = Some(answer);
        }

        /// Answers the next call of `route` with `answer`, then goes back to the standing answers.
        pub fn answer_next(&self, route: Route, answer: Answer) {
            lock(&self.state).queued.entry(route).or_default().push(answer);
        }

        pub fn calls(&self) -> Vec<Call> {
            lock(&self.state).calls.clone()
        }
    }
}

pub use secrets_support::*;

mod secrets_support {
    //! A stand-in for the AWS Parameters and Secrets Lambda Extension: a loopback server
    //! answering `GET /secretsmanager/get?secretId=…` as the extension does.

    use std::{
        collections::HashMap,
        sync::{Arc, Mutex},
    };

    use axum::{
        Json, Router,
        extract::{Query, State},
        http::{HeaderMap, StatusCode},
        response::{IntoResponse, Response},
        routing::get,
    };

    #[derive(Default)]
    struct Secrets {
        values: HashMap<String, String>,
        reads: usize,
        tokens: Vec<Option<String>>,
    }

    #[derive(Clone)]
    pub struct SecretsExtensionStandIn {
        /// What `SECRETS_EXTENSION_URL` names.
        pub url: String,
        state: Arc<Mutex<Secrets>>,
    }

    impl SecretsExtensionStandIn {
        pub async fn start() -> Self {
            let state = Arc::new(Mutex::new(Secrets::default()));
            let app = Router::new().route("/secretsmanager/get", get(read)).with_state(state.clone());
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
            let url = format!("http://{}", listener.local_addr().expect("addr"));
            tokio::spawn(async move {
                let _ = axum::serve(listener, app).await;
            });
            Self { url, state }
        }

        pub fn put(&self, arn: &str, value: &str) {
            self.state.lock().expect("lock").values.insert(arn.to_owned(), value.to_owned());
        }

        /// How many reads reached the extension.
        pub fn reads(&self) -> usize {
            self.state.lock().expect("lock").reads
        }

        /// The `X-Aws-Parameters-Secrets-Token` of each read.
        pub fn tokens(&self) -> Vec<Option<String>> {
            self.state.lock().expect("lock").tokens.clone()
        }
    }

    async fn read(
        State(state): State<Arc<Mutex<Secrets>>>,
        Query(query): Query<HashMap<String, String>>,
        headers: HeaderMap,
    ) -> Response {
        let mut state = state.lock().expect("lock");
        state.reads += 1;
        let token = headers.get("x-aws-parameters-secrets-token").and_then(|v| v.to_str().ok()).map(str::to_owned);
        state.tokens.push(token);
        match query.get("secretId").and_then(|arn| state.values.get(arn)) {
            Some(value) => {
                Json(serde_json::json!({ "SecretString": value, "VersionStages": ["AWSCURRENT"] })).into_response()
            }
            None => (StatusCode::BAD_REQUEST, "ResourceNotFoundException").into_response(),
        }
    }
}

pub mod openapi {
    //! The HTTP API's description (`openapi.yaml`), and answers checked against it.

    use serde_json::{Value, json};

    /// `openapi.yaml` as JSON.
    pub fn document() -> Value {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../openapi.yaml");
        let yaml: serde_norway::Value =
            serde_norway::from_str(&std::fs::read_to_string(path).expect("openapi.yaml")).expect("YAML");
        serde_json::to_value(yaml).expect("JSON")
    }

    /// Asserts that `body` is what the description says `method` on the route `path` (a
    /// template, as in the description: `/notices/{id}`) answers with `status`.
    pub fn assert_conforms(document: &Value, method: &str, path: &str, status: u16, body: &Value) {
        let escape = |segment: &str| segment.replace('~', "~0").replace('/', "~1");
        let response = format!("/paths/{}/{}/responses/{status}", escape(path), method.to_ascii_lowercase());
        assert!(
            document.pointer(&response).is_some(),
            "openapi.yaml: {method} {path} does not list a {status} answer (it sent {body})"
        );
        let schema = format!("{response}/content/application~1json/schema");
        assert!(document.pointer(&schema).is_some(), "openapi.yaml: {method} {path} {status} has no JSON schema");
        // The whole document as the root, so that its internal references resolve.
        let mut root = document.clone();
        // A URI fragment: braces of path templates percent-encoded (RFC 6901, section 6).
        root["$ref"] = json!(format!("#{}", schema.replace('{', "%7B").replace('}', "%7D")));
        let validator = jsonschema::draft202012::new(&root).expect("openapi.yaml's schemas compile");
        let errors: Vec<String> =
            validator.iter_errors(body).map(|e| format!("{} at {}", e, e.instance_path())).collect();
        assert!(errors.is_empty(), "{method} {path} {status} does not match openapi.yaml: {errors:#?}\n{body}");
    }
}

// ---------------------------------------------------------------------------------------------
// A fault-injecting proxy on loopback, in front of a real endpoint (the DynamoDB emulator, the
// @connections stand-in): a fixed latency per call, served concurrently, and answers it loses.

pub use fault_proxy::*;

mod fault_proxy {
    use std::{
        sync::{Arc, Mutex},
        time::Duration,
    };

    use axum::{
        Router,
        body::Bytes,
        extract::{Request, State},
        http::{HeaderMap, StatusCode},
        response::{IntoResponse, Response},
    };
    use http_body_util::BodyExt;
    use serde_json::json;

    #[derive(Default)]
    struct Faults {
        /// Calls (by `X-Amz-Target` suffix, e.g. `PutItem`) whose answer is lost after the
        /// upstream applied them, as many times as given: the client sees a 500.
        lose_answer: Vec<(String, u32)>,
        /// Every call the proxy saw, by target (or path).
        seen: Vec<String>,
    }

    struct Inner {
        upstream: String,
        delay: Duration,
        client: reqwest::Client,
        faults: Mutex<Faults>,
    }

    /// A real HTTP proxy on loopback that forwards every request to `upstream` after `delay`
    /// (each call on its own task, so calls overlap as they do against AWS).
    #[derive(Clone)]
    pub struct FaultProxy {
        pub endpoint: String,
        inner: Arc<Inner>,
    }

    fn target_of(headers: &HeaderMap, path: &str) -> String {
        headers
            .get("x-amz-target")
            .and_then(|v| v.to_str().ok())
            .and_then(|t| t.rsplit('.').next())
            .map_or_else(|| path.to_owned(), str::to_owned)
    }

    async fn forward(State(inner): State<Arc<Inner>>, request: Request) -> Response {
        let (parts, body) = request.into_parts();
        let Ok(body) = body.collect().await.map(|b| b.to_bytes()) else {
            return StatusCode::BAD_REQUEST.into_response();
        };
        let target = target_of(&parts.headers, parts.uri.path());
        let lose = {
            let mut faults = inner.faults.lock().expect("lock");
            faults.seen.push(target.clone());
            match faults.lose_answer.iter_mut().find(|(t, left)| *t == target && *left > 0) {
                Some((_, left)) => {
                    *left -= 1;
                    true
                }
                None => false,
            }
        };
        tokio::time::sleep(inner.delay).await;
        let url = format!("{}{}", inner.upstream, parts.uri.path_and_query().map_or("/", |p| p.as_str()));
        let mut outgoing = inner.client.request(parts.method, url).body(body);
        for (name, value) in &parts.headers {
            if name != "host" && name != "content-length" {
                outgoing = outgoing.header(name, value);
            }
        }
        let answer = match outgoing.send().await {
            Ok(answer) => answer,
            Err(_) => return StatusCode::BAD_GATEWAY.into_response(),
        };
        if lose {
            // Applied upstream, answered as a server error: the SDK retries it.
            let body =
                json!({"__type": "com.amazonaws.dynamodb.v20120810#InternalServerError", "message": "answer lost"});
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                [("content-type", "application/x-amz-json-1.0")],
                body.to_string(),
            )
                .into_response();
        }
        let status = answer.status();
        let mut headers = answer.headers().clone();
        headers.remove("content-length");
        headers.remove("transfer-encoding");
        let bytes: Bytes = answer.bytes().await.unwrap_or_default();
        (status, headers, bytes).into_response()
    }

    impl FaultProxy {
        pub async fn start(upstream: &str, delay: Duration) -> Self {
            let inner = Arc::new(Inner {
                upstream: upstream.trim_end_matches('/').to_owned(),
                delay,
                client: reqwest::Client::builder().pool_max_idle_per_host(256).build().expect("client"),
                faults: Mutex::new(Faults::default()),
            });
            let app = Router::new().fallback(forward).with_state(inner.clone());
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
            let endpoint = format!("http://{}", listener.local_addr().expect("addr"));
            tokio::spawn(async move {
                let _ = axum::serve(listener, app).await;
            });
            Self { endpoint, inner }
        }

        /// Loses the answer of the next `times` calls of `target` after they were applied.
        pub fn lose_answer(&self, target: &str, times: u32) {
            self.inner.faults.lock().expect("lock").lose_answer.push((target.to_owned(), times));
        }

        /// How many calls of `target` went through the proxy.
        pub fn calls(&self, target: &str) -> usize {
            self.inner.faults.lock().expect("lock").seen.iter().filter(|t| *t == target).count()
        }
    }
}

// ---------------------------------------------------------------------------------------------
// WebSocket API events, from the samples in events/.

pub use ws_events::*;

mod ws_events {
    use aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest;
    use serde_json::{Value, json};

    /// A sample event of events/, as JSON.
    pub fn fixture(name: &str) -> Value {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../events").join(name);
        serde_json::from_str(&std::fs::read_to_string(path).expect("fixture")).expect("fixture JSON")
    }

    pub fn event(value: Value) -> ApiGatewayWebsocketProxyRequest {
        serde_json::from_value(value).expect("a WebSocket event")
    }

    pub fn connect_event(
        connection_id: &str,
        project: Option<&str>,
        principal: Option<&str>,
    ) -> ApiGatewayWebsocketProxyRequest {
        let mut e = fixture("ws-connect.json");
        e["requestContext"]["connectionId"] = json!(connection_id);
        match project {
            Some(p) => e["queryStringParameters"] = json!({ "project_id": p }),
            None => e["queryStringParameters"] = json!({}),
        }
        match principal {
            Some(p) => {
                e["requestContext"]["authorizer"]["principalId"] = json!(p);
                e["requestContext"]["authorizer"]["sub"] = json!(p);
            }
            None => e["requestContext"]["authorizer"] = json!({}),
        }
        event(e)
    }

    pub fn frame_event(connection_id: &str, body: &str) -> ApiGatewayWebsocketProxyRequest {
        let mut e = fixture("ws-default.json");
        e["requestContext"]["connectionId"] = json!(connection_id);
        e["body"] = json!(body);
        event(e)
    }
}

// ---------------------------------------------------------------------------------------------
// Real server processes a test may stop and start: a private MariaDB and a private emulator.

pub use processes::*;

mod processes {
    use std::{
        path::PathBuf,
        process::{Child, Command, Stdio},
        time::Duration,
    };

    use sqlx::{Connection, MySqlConnection};

    fn free_port() -> u16 {
        std::net::TcpListener::bind("127.0.0.1:0").expect("a free port").local_addr().expect("addr").port()
    }

    /// A MariaDB server of its own (the machine's `mariadbd`, a fresh data directory, a free
    /// port), so a test can stop it mid-load without touching the server other tests use.
    pub struct PrivateMariaDb {
        dir: PathBuf,
        port: u16,
        child: Option<Child>,
    }

    impl PrivateMariaDb {
        pub async fn start() -> Self {
            let dir = std::env::temp_dir().join(format!("pft-mariadb-{}", uuid::Uuid::new_v4().simple()));
            std::fs::create_dir_all(&dir).expect("data directory");
            let installed = Command::new("mariadb-install-db")
                .args(["--no-defaults", "--user=root", "--auth-root-authentication-method=normal", "--skip-test-db"])
                .arg(format!("--datadir={}", dir.join("data").display()))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .expect("mariadb-install-db runs");
            assert!(installed.success(), "mariadb-install-db failed");
            let mut server = Self { dir, port: free_port(), child: None };
            server.restart().await;
            server
        }

        /// The server's URL, without a database.
        pub fn url(&self) -> String {
            format!("mysql://root@127.0.0.1:{}", self.port)
        }

        /// Kills the server at once, as a crash or a failover would.
        pub fn stop(&mut self) {
            if let Some(mut child) = self.child.take() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }

        /// Starts the server again on the same data and port, and waits until it answers.
        pub async fn restart(&mut self) {
            let child = Command::new("/usr/sbin/mariadbd")
                .args(["--no-defaults", "--user=root", "--bind-address=127.0.0.1", "--skip-log-bin"])
                .arg(format!("--port={}", self.port))
                .arg(format!("--datadir={}", self.dir.join("data").display()))
                .arg(format!("--socket={}", self.dir.join("mysqld.sock").display()))
                .arg(format!("--pid-file={}", self.dir.join("mysqld.pid").display()))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("mariadbd starts");
            self.child = Some(child);
            // Crash recovery on a loaded machine can take a while.
            for _ in 0..600 {
                if let Ok(conn) = MySqlConnection::connect(&self.url()).await {
                    let _ = conn.close().await;
                    return;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            panic!("the private MariaDB did not answer within 30 s");
        }
    }

    impl Drop for PrivateMariaDb {
        fn drop(&mut self) {
            self.stop();
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    /// A DynamoDB emulator of its own (`scripts/dynamodb-emulator`), to stop mid-test.
    pub struct PrivateEmulator {
        pub url: String,
        pid: Option<u32>,
    }

    impl PrivateEmulator {
        pub fn start() -> Self {
            let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/dynamodb-emulator");
            let out =
                Command::new(script).arg("start").stderr(Stdio::inherit()).output().expect("the emulator script runs");
            assert!(out.status.success(), "the emulator did not start");
            // `export TEST_DYNAMODB_URL=http://127.0.0.1:PORT MOTO_PID=PID`
            let line = String::from_utf8(out.stdout).expect("UTF-8");
            let value =
                |key: &str| line.split_whitespace().find_map(|kv| kv.strip_prefix(key)).map(str::to_owned).expect(key);
            Self { url: value("TEST_DYNAMODB_URL="), pid: Some(value("MOTO_PID=").parse().expect("a pid")) }
        }

        pub fn stop(&mut self) {
            if let Some(pid) = self.pid.take() {
                let _ = Command::new("kill").arg(pid.to_string()).status();
                // Until the port refuses connections.
                let addr = self.url.trim_start_matches("http://").to_owned();
                for _ in 0..100 {
                    if std::net::TcpStream::connect(&addr).is_err() {
                        return;
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
        }
    }

    impl Drop for PrivateEmulator {
        fn drop(&mut self) {
            self.stop();
        }
    }
}

pub mod cognito {
    //! A user pool for the tests: its keys served on loopback (the test-only RSA key of
    //! `tests/fixtures`, never used anywhere else) and ID tokens signed with it.

    use axum::{Router, routing::get};
    use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
    use serde_json::json;

    pub const ISSUER: &str = "https://cognito-idp.ap-northeast-2.amazonaws.com/ap-northeast-2_TEST";
    pub const WEB_CLIENT: &str = "webclient123";

    fn fixture(name: &str) -> String {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures").join(name);
        std::fs::read_to_string(path).expect("fixture")
    }

    /// Serves the pool's JWKS; returns its URL.
    pub async fn jwks_server() -> String {
        let jwks = fixture("test-cognito-jwks.json");
        let app = Router::new().route("/.well-known/jwks.json", get(move || async move { jwks.clone() }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
        let url = format!("http://{}/.well-known/jwks.json", listener.local_addr().expect("addr"));
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        url
    }

    /// An ID token of the pool for `user`, valid for `valid_seconds` (negative: expired), in the
    /// ADMIN group or not.
    pub fn id_token(user: &str, valid_seconds: i64, admin: bool) -> String {
        let now = chrono::Utc::now().timestamp();
        let groups = if admin { json!(["ADMIN", "USER"]) } else { json!(["USER"]) };
        let claims = json!({
            "sub": user, "aud": WEB_CLIENT, "iss": ISSUER, "token_use": "id", "cognito:groups": groups,
            "nickname": "tester", "iat": now, "exp": now + valid_seconds,
        });
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some("test-key-1".to_owned());
        let key = EncodingKey::from_rsa_pem(fixture("test-cognito-key.pem").as_bytes()).expect("test key");
        encode(&header, &claims, &key).expect("signs")
    }
}
