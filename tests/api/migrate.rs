//! Migrations owned by the deploy: the `migrate` function as CloudFormation's custom resource
//! and as a direct invocation, request-serving functions that only check the schema, re-running
//! an interrupted migration, and database credentials from Secrets Manager.

use std::sync::{Arc, Mutex};

use axum::{Router, body::Bytes, extract::State, http::HeaderMap, routing::put};
use serde_json::{Value, json};
use service_tests::{Function, SecretsExtensionStandIn, TestApp, TestDb, TestEnv, Who};
use shared::{
    migrate::{MigrateEvent, MigrateHandler, PHYSICAL_RESOURCE_ID},
    store::sql::SqlDb,
};
use sqlx::Connection;

/// CloudFormation's side of a custom resource: the pre-signed URL (S3 in AWS) it reads the
/// answer from.
/// The content type and body of each answer.
type Answers = Arc<Mutex<Vec<(Option<String>, Value)>>>;

#[derive(Clone, Default)]
struct ResponseUrlStandIn {
    answers: Answers,
}

impl ResponseUrlStandIn {
    async fn start() -> (Self, String) {
        let stand_in = Self::default();
        let app = Router::new()
            .route(
                "/cfn-response",
                put(|State(s): State<Self>, headers: HeaderMap, body: Bytes| async move {
                    let content_type = headers.get("content-type").and_then(|v| v.to_str().ok()).map(str::to_owned);
                    s.answers.lock().unwrap().push((content_type, serde_json::from_slice(&body).unwrap()));
                }),
            )
            .with_state(stand_in.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/cfn-response", listener.local_addr().unwrap());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        (stand_in, url)
    }

    fn answers(&self) -> Vec<(Option<String>, Value)> {
        self.answers.lock().unwrap().clone()
    }
}

fn custom_resource(request_type: &str, response_url: &str) -> MigrateEvent {
    serde_json::from_value(custom_resource_json(request_type, response_url)).unwrap()
}

fn custom_resource_json(request_type: &str, response_url: &str) -> Value {
    let mut event = json!({
        "RequestType": request_type,
        "ServiceToken": "arn:aws:lambda:ap-northeast-2:123456789012:function:portforge-support-dev-migrate",
        "ResponseURL": response_url,
        "StackId": "arn:aws:cloudformation:ap-northeast-2:123456789012:stack/portforge-support-dev/1f2e3d4c",
        "RequestId": format!("req-{request_type}"),
        "ResourceType": "Custom::SchemaMigration",
        "LogicalResourceId": "SchemaMigration",
        "ResourceProperties": {"ServiceToken": "arn:…", "MigrationsVersion": "20261204000005"}
    });
    if request_type != "Create" {
        event["PhysicalResourceId"] = json!(PHYSICAL_RESOURCE_ID);
    }
    if request_type == "Update" {
        event["OldResourceProperties"] = json!({"ServiceToken": "arn:…", "MigrationsVersion": "20261130000003"});
    }
    event
}

fn direct(action: &str) -> MigrateEvent {
    serde_json::from_value(json!({ "action": action })).unwrap()
}

async fn mysql(db: &TestDb) -> sqlx::MySqlConnection {
    sqlx::MySqlConnection::connect(&db.url()).await.unwrap()
}

#[tokio::test]
async fn functions_answer_503_until_the_deploy_has_migrated() {
    let db = TestDb::mariadb().await;
    let migrate = MigrateHandler::new(Arc::new(db.sql_db())).unwrap();
    let app = TestApp::over(Function::Content, TestEnv::unmigrated(db).await).await;

    let before = app.get("/notices", &Who::Anonymous).await;
    before.assert_error(503, "SCHEMA_NOT_READY");
    // The operator's status call, as events/ has it.
    let sample = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../events/migrate-status.json");
    let status =
        migrate.handle(serde_json::from_str(&std::fs::read_to_string(sample).unwrap()).unwrap()).await.unwrap();
    assert_eq!(status["interrupted"], json!([]));
    assert_eq!(status["applied"], json!([]));
    assert_eq!(
        status["pending"].as_array().unwrap().len(),
        SqlDb::connect_lazy(&app.env.db.settings, 1).unwrap().release_versions().len()
    );

    let report = migrate.handle(direct("migrate")).await.unwrap();
    assert_eq!(report["applied"], status["pending"]);
    // The same warm function serves as soon as the schema is there: it checked, not cached, the miss.
    app.get("/notices", &Who::Anonymous).await.assert_ok(200, "NOTICES_LISTED");
    let again = migrate.handle(direct("migrate")).await.unwrap();
    assert_eq!(again["applied"], json!([]), "nothing left to do");
    assert_eq!(again["schema_version"], report["schema_version"]);
}

#[tokio::test]
async fn cloudformation_creates_updates_and_deletes_the_schema_resource() {
    let db = TestDb::mariadb().await;
    let migrate = MigrateHandler::new(Arc::new(db.sql_db())).unwrap();
    let (cfn, url) = ResponseUrlStandIn::start().await;
    let latest = db.sql_db().release_versions().last().copied().unwrap();

    migrate.handle(custom_resource("Create", &url)).await.unwrap();
    migrate.handle(custom_resource("Update", &url)).await.unwrap();
    migrate.handle(custom_resource("Delete", &url)).await.unwrap();

    let answers = cfn.answers();
    assert_eq!(answers.len(), 3);
    for ((content_type, answer), request) in answers.iter().zip(["Create", "Update", "Delete"]) {
        assert_eq!(content_type, &None, "the pre-signed URL is signed without a content type");
        assert_eq!(answer["Status"], "SUCCESS", "{request}: {answer}");
        assert_eq!(answer["PhysicalResourceId"], PHYSICAL_RESOURCE_ID, "one id for the schema's life");
        assert_eq!(answer["RequestId"], format!("req-{request}"));
        assert_eq!(answer["LogicalResourceId"], "SchemaMigration");
        assert!(answer["StackId"].as_str().unwrap().starts_with("arn:aws:cloudformation:"));
    }
    assert_eq!(answers[0].1["Data"]["SchemaVersion"], latest.to_string());
    assert_eq!(answers[1].1["Data"]["Applied"], "[]", "the update found everything applied");
    // Deleting the stack keeps the schema and its data.
    let (tables,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = 'notices'",
    )
    .fetch_one(&mut mysql(&db).await)
    .await
    .unwrap();
    assert_eq!(tables, 1);
}

/// A failed deploy rolls back by sending the custom resource an update with the previous
/// release's `MigrationsVersion`: it succeeds without migrating, so the rollback cannot fail
/// on the migration that failed the deploy.
#[tokio::test]
async fn a_rollback_to_an_older_release_applies_nothing_and_succeeds() {
    let db = TestDb::mariadb().await;
    let migrate = MigrateHandler::new(Arc::new(db.sql_db())).unwrap();
    let (cfn, url) = ResponseUrlStandIn::start().await;
    let mut rollback = custom_resource_json("Update", &url);
    rollback["ResourceProperties"]["MigrationsVersion"] = json!("20261130000003");
    rollback["OldResourceProperties"]["MigrationsVersion"] = json!("20261204000005");

    let done = migrate.handle(serde_json::from_value(rollback).unwrap()).await.unwrap();
    assert_eq!(done, Value::Null, "nothing was run");
    let answers = cfn.answers();
    assert_eq!(answers.len(), 1);
    assert_eq!(answers[0].1["Status"], "SUCCESS", "{}", answers[0].1);
    let status = db.sql_db().schema_status().await.unwrap();
    assert!(status.applied.is_empty(), "the rollback migrated: {status:?}");

    // The same update with this release's version does migrate.
    migrate.handle(custom_resource("Update", &url)).await.unwrap();
    assert!(db.sql_db().schema_status().await.unwrap().pending.is_empty());
}

/// Rolling back a release that added a migration: CloudFormation first puts the previous
/// release's migrate code back, then sends it an update with that release's version, while the
/// database already holds the failed release's migration. The previous code answers SUCCESS
/// (nothing to apply, and no refusal of the version it does not know), migrates on demand
/// without complaint, and its functions accept the schema; on both engines.
#[tokio::test]
async fn the_previous_release_accepts_a_schema_one_migration_ahead() {
    for db in [TestDb::mariadb().await, TestDb::sqlite()] {
        db.sql_db().migrate().await.unwrap();
        let versions = db.sql_db().release_versions();
        let (previous, newest) = (versions[versions.len() - 2], versions[versions.len() - 1]);
        let old_code = Arc::new(db.sql_db().as_release(previous));
        assert_eq!(old_code.release_versions().last(), Some(&previous));
        let migrate = MigrateHandler::new(old_code.clone()).unwrap();
        let (cfn, url) = ResponseUrlStandIn::start().await;
        let mut rollback = custom_resource_json("Update", &url);
        rollback["ResourceProperties"]["MigrationsVersion"] = json!(previous.to_string());
        rollback["OldResourceProperties"]["MigrationsVersion"] = json!(newest.to_string());
        migrate.handle(serde_json::from_value(rollback).unwrap()).await.unwrap();
        let answers = cfn.answers();
        assert_eq!(answers[0].1["Status"], "SUCCESS", "{}", answers[0].1);
        // Run outright (a redeploy of the old release, or `migrate` by hand): nothing to do.
        let report = migrate.handle(direct("migrate")).await.unwrap();
        assert_eq!(report["applied"], json!([]));
        let status = old_code.schema_status().await.unwrap();
        assert!(status.pending.is_empty() && status.applied.contains(&newest), "{status:?}");
        // The control: sqlx alone refuses a database holding a version it does not carry.
        let strict = sqlx::migrate::Migrator {
            migrations: std::borrow::Cow::Owned(Vec::new()),
            ignore_missing: false,
            locking: true,
            no_tx: false,
        };
        let refused = if db.url().starts_with("mysql") {
            strict.run(&sqlx::MySqlPool::connect(&db.url()).await.unwrap()).await
        } else {
            strict.run(&sqlx::SqlitePool::connect(&db.url()).await.unwrap()).await
        };
        assert!(matches!(refused, Err(sqlx::migrate::MigrateError::VersionMissing(_))), "{refused:?}");
    }
}

#[tokio::test]
async fn a_failed_migration_is_reported_to_cloudformation_not_left_waiting() {
    let db = TestDb::unreachable_mysql();
    let migrate = MigrateHandler::new(Arc::new(db.sql_db())).unwrap();
    let (cfn, url) = ResponseUrlStandIn::start().await;

    let err = migrate.handle(custom_resource("Create", &url)).await.unwrap_err();
    assert!(err.to_string().contains("migration failed"), "{err}");
    let answers = cfn.answers();
    assert_eq!(answers.len(), 1);
    let answer = &answers[0].1;
    assert_eq!(answer["Status"], "FAILED");
    assert_eq!(answer["PhysicalResourceId"], PHYSICAL_RESOURCE_ID);
    let reason = answer["Reason"].as_str().unwrap();
    assert!(reason.contains("unavailable"), "{reason}");
    assert!(reason.len() <= 1_000);

    // Deleting a stack whose database never came up must not hang either.
    migrate.handle(custom_resource("Delete", &url)).await.unwrap();
    assert_eq!(cfn.answers()[1].1["Status"], "SUCCESS");
}

#[tokio::test]
async fn an_interrupted_migration_runs_again_without_hand_repair() {
    let db = TestDb::mariadb().await;
    db.migrate_as_deploy().await;
    let latest = db.sql_db().release_versions().last().copied().unwrap();
    // As if the last run had been cut off midway: sqlx's mark says unfinished, its ALTERs are
    // in, and the typing table it then creates is not there yet.
    let mut conn = mysql(&db).await;
    sqlx::query("UPDATE _sqlx_migrations SET success = 0 WHERE version = ?")
        .bind(latest)
        .execute(&mut conn)
        .await
        .unwrap();
    sqlx::query("DROP TABLE chat_typing").execute(&mut conn).await.unwrap();

    let app = TestApp::over(Function::Content, TestEnv::unmigrated(db).await).await;
    app.get("/notices", &Who::Anonymous).await.assert_error(503, "SCHEMA_NOT_READY");
    let migrate = MigrateHandler::new(Arc::new(app.env.db.sql_db())).unwrap();
    let status = migrate.handle(direct("status")).await.unwrap();
    assert_eq!(status["interrupted"], json!([latest]));

    let report = migrate.handle(direct("migrate")).await.unwrap();
    assert_eq!(report["applied"], json!([latest]));
    app.get("/notices", &Who::Anonymous).await.assert_ok(200, "NOTICES_LISTED");
    let (tables,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE() \
         AND table_name = 'chat_typing'",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(tables, 1, "the interrupted migration ran again");
}

/// The rule that makes re-running safe: every migration can run twice.
#[tokio::test]
async fn every_migration_can_run_twice() {
    let db = TestDb::mariadb().await;
    db.migrate_as_deploy().await;
    sqlx::query("DELETE FROM _sqlx_migrations").execute(&mut mysql(&db).await).await.unwrap();
    let report = db.sql_db().migrate().await.expect("running every migration again");
    assert_eq!(report.applied, db.sql_db().release_versions());
}

#[tokio::test]
async fn credentials_come_from_secrets_manager_and_are_read_again_after_rotation() {
    let db = TestDb::mariadb().await;
    db.migrate_as_deploy().await;
    let (server, name) = db.mariadb_name().unwrap();
    let (server, name) = (server.to_owned(), name.to_owned());
    let user = format!("app_{}", &name[4..16]);
    let mut root = sqlx::MySqlConnection::connect(&server).await.unwrap();
    for sql in [
        format!("CREATE USER '{user}'@'%' IDENTIFIED BY 'first-password'"),
        format!("CREATE USER '{user}'@'localhost' IDENTIFIED BY 'first-password'"),
        // What the README asks of the application user: data, never DDL.
        format!("GRANT SELECT, INSERT, UPDATE, DELETE ON `{name}`.* TO '{user}'@'%'"),
        format!("GRANT SELECT, INSERT, UPDATE, DELETE ON `{name}`.* TO '{user}'@'localhost'"),
    ] {
        sqlx::raw_sql(&sql).execute(&mut root).await.unwrap();
    }
    let extension = SecretsExtensionStandIn::start().await;
    let arn = "arn:aws:secretsmanager:ap-northeast-2:123456789012:secret:portforge-app-Xy12Zw";
    let secret = |password: &str| {
        json!({"username": user, "password": password, "engine": "mysql", "host": "127.0.0.1", "port": 3306, "dbname": name})
            .to_string()
    };
    extension.put(arn, &secret("first-password"));
    let vars = [
        ("DATABASE_SECRET_ARN", arn),
        ("DB_SSL_MODE", "disabled"),
        ("SECRETS_EXTENSION_URL", extension.url.as_str()),
        ("DB_MAX_CONNECTIONS", "1"),
    ];
    let mut env = TestEnv::unmigrated(TestDb::unreachable_mysql()).await;
    for (k, v) in vars {
        env = env.set(k, v);
    }
    // No DATABASE_URL: the secret is the only way in.
    let app = TestApp::over(Function::Content, env.set("DATABASE_URL", "")).await;

    app.get("/notices", &Who::Anonymous).await.assert_ok(200, "NOTICES_LISTED");
    app.get("/notices", &Who::Anonymous).await.assert_ok(200, "NOTICES_LISTED");
    assert_eq!(extension.reads(), 1, "read once per cold start");

    // Rotation: the password changes and the secret with it; the function's pooled connection
    // goes away, and the next one is refused with the old password.
    for sql in [
        format!("ALTER USER '{user}'@'%' IDENTIFIED BY 'second-password'"),
        format!("ALTER USER '{user}'@'localhost' IDENTIFIED BY 'second-password'"),
    ] {
        sqlx::raw_sql(&sql).execute(&mut root).await.unwrap();
    }
    extension.put(arn, &secret("second-password"));
    let ids: Vec<(i64,)> = sqlx::query_as("SELECT id FROM information_schema.processlist WHERE user = ?")
        .bind(&user)
        .fetch_all(&mut root)
        .await
        .unwrap();
    for (id,) in ids {
        let _ = sqlx::raw_sql(&format!("KILL {id}")).execute(&mut root).await;
    }
    let mut statuses = vec![];
    for _ in 0..4 {
        let reply = app.get("/notices", &Who::Anonymous).await;
        statuses.push(reply.status);
        if reply.status == 200 {
            break;
        }
        assert_eq!(reply.status, 503, "refused credentials are unavailable, never a 500: {:?}", reply.body);
    }
    assert_eq!(statuses.last(), Some(&200), "{statuses:?}");
    assert_eq!(extension.reads(), 2, "read again once, after MySQL refused the old password");
    for sql in [format!("DROP USER '{user}'@'%'"), format!("DROP USER '{user}'@'localhost'")] {
        sqlx::raw_sql(&sql).execute(&mut root).await.unwrap();
    }
}

#[tokio::test]
async fn an_unreadable_secret_is_unavailable_not_a_crash() {
    let extension = SecretsExtensionStandIn::start().await;
    let arn = "arn:aws:secretsmanager:ap-northeast-2:123456789012:secret:portforge-app-Xy12Zw";
    let env = TestEnv::unmigrated(TestDb::unreachable_mysql())
        .await
        .set("DATABASE_URL", "")
        .set("DATABASE_SECRET_ARN", arn)
        .set("DB_SSL_MODE", "disabled")
        .set("SECRETS_EXTENSION_URL", &extension.url);
    let app = TestApp::over(Function::Content, env).await;
    // Not there, then not in RDS's format.
    app.get("/notices", &Who::Anonymous).await.assert_error(503, "SERVICE_UNAVAILABLE");
    extension.put(arn, "plain text");
    app.get("/notices", &Who::Anonymous).await.assert_error(503, "SERVICE_UNAVAILABLE");
    assert!(extension.tokens().iter().all(|t| t.is_some()), "every read carries the session token header");
}

/// During a deploy (the migration applied, the old functions still serving) and after a
/// rollback, the previous release writes reports as it always did: its insert knows no target
/// column, the target is then its project, and its one-open-report rule still holds; this
/// release reads those rows as project reports.
#[tokio::test]
async fn the_previous_release_files_reports_into_this_schema_as_before() {
    let db = TestDb::mariadb().await;
    db.migrate_as_deploy().await;
    let mut conn = mysql(&db).await;
    let reporter = "3f2504e0-4f89-11d3-9a0c-0305e82c3301";
    // The previous release's statement, as it was written.
    let old_insert = "INSERT INTO project_reports (user_id, project_id, type, content, status, open_slot, created_at, \
                      updated_at) VALUES (?, 42, 'REPORT', '광고', 'PENDING', 1, NOW(3), NOW(3))";
    sqlx::query(old_insert).bind(reporter).execute(&mut conn).await.expect("the old insert works");
    let again = sqlx::query(old_insert).bind(reporter).execute(&mut conn).await;
    assert!(again.is_err(), "a second open report on the same project is still refused");
    let (key,): (String,) =
        sqlx::query_as("SELECT CAST(target_key AS CHAR(120)) FROM project_reports").fetch_one(&mut conn).await.unwrap();
    assert_eq!(key, "project:42");
    let reports = db.stores().reports;
    let mine = reports
        .mine(&shared::domain::UserId::parse(reporter).unwrap(), shared::domain::Limit::default(), None)
        .await
        .unwrap();
    assert_eq!(
        mine.items[0].target,
        shared::domain::report::ReportTarget::Project(shared::domain::ProjectId::new(42).unwrap())
    );
}
