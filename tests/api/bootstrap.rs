//! The bootstraps the Docker path and CI use: the chat tables as template.yaml declares them,
//! created once and then only checked; the MySQL database created and migrated.

use std::collections::BTreeSet;

use aws_sdk_dynamodb::types::{AttributeDefinition, KeySchemaElement, KeyType, ScalarAttributeType};
use serde_norway::Value;
use service_tests::{TestDb, emulator_config};
use shared::store::dynamo_tables::{BootstrapError, TableOutcome, bootstrap};

/// A client on the emulator and fresh table names for one test.
fn emulator() -> (aws_sdk_dynamodb::Client, shared::store::dynamo::DynamoTables) {
    let config = emulator_config();
    let aws = shared::aws::AwsContext::new(&config).unwrap();
    (aws.dynamodb(config.ddb_endpoint_url.as_deref()), shared::aws::dynamo_tables(&config))
}

/// One table's shape, as comparable text: billing, keys with their types, GSIs, TTL.
#[derive(Debug, PartialEq, Eq)]
struct Shape {
    billing: String,
    keys: BTreeSet<String>,
    indexes: BTreeSet<String>,
    ttl: Option<String>,
}

fn template_shape(table: &Value) -> Shape {
    let properties = &table["Properties"];
    let types: std::collections::HashMap<&str, &str> = properties["AttributeDefinitions"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|d| (d["AttributeName"].as_str().unwrap(), d["AttributeType"].as_str().unwrap()))
        .collect();
    let keys = |schema: &Value| -> Vec<String> {
        schema
            .as_sequence()
            .unwrap()
            .iter()
            .map(|k| {
                let name = k["AttributeName"].as_str().unwrap();
                format!("{name} {} {}", types[name], k["KeyType"].as_str().unwrap())
            })
            .collect()
    };
    let indexes = properties["GlobalSecondaryIndexes"]
        .as_sequence()
        .map(|all| {
            all.iter()
                .map(|i| {
                    format!(
                        "{} [{}] {}",
                        i["IndexName"].as_str().unwrap(),
                        keys(&i["KeySchema"]).join(", "),
                        i["Projection"]["ProjectionType"].as_str().unwrap()
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let ttl = properties["TimeToLiveSpecification"]
        .as_mapping()
        .filter(|t| t.get("Enabled").and_then(Value::as_bool) == Some(true))
        .and_then(|t| t.get("AttributeName")?.as_str().map(str::to_owned));
    Shape {
        billing: properties["BillingMode"].as_str().unwrap().to_owned(),
        keys: keys(&properties["KeySchema"]).into_iter().collect(),
        indexes,
        ttl,
    }
}

async fn emulator_shape(client: &aws_sdk_dynamodb::Client, name: &str) -> Shape {
    let table = client.describe_table().table_name(name).send().await.unwrap().table.unwrap();
    let types: std::collections::HashMap<String, String> = table
        .attribute_definitions()
        .iter()
        .map(|d| (d.attribute_name().to_owned(), d.attribute_type().as_str().to_owned()))
        .collect();
    let keys = |schema: &[KeySchemaElement]| -> Vec<String> {
        schema
            .iter()
            .map(|k| format!("{} {} {}", k.attribute_name(), types[k.attribute_name()], k.key_type().as_str()))
            .collect()
    };
    let indexes = table
        .global_secondary_indexes()
        .iter()
        .map(|i| {
            format!(
                "{} [{}] {}",
                i.index_name().unwrap(),
                keys(i.key_schema()).join(", "),
                i.projection().and_then(|p| p.projection_type()).unwrap().as_str()
            )
        })
        .collect();
    let ttl = client.describe_time_to_live().table_name(name).send().await.unwrap();
    let ttl = ttl
        .time_to_live_description()
        .filter(|d| d.time_to_live_status().is_some_and(|s| matches!(s.as_str(), "ENABLED" | "ENABLING")))
        .and_then(|d| d.attribute_name().map(str::to_owned));
    // moto reports on-demand billing in the summary only.
    let billing = table
        .billing_mode_summary()
        .and_then(|b| b.billing_mode())
        .map_or("PROVISIONED".to_owned(), |b| b.as_str().to_owned());
    Shape { billing, keys: keys(table.key_schema()).into_iter().collect(), indexes, ttl }
}

#[tokio::test]
async fn the_table_bootstrap_makes_what_the_template_declares_and_then_leaves_it_alone() {
    let (client, tables) = emulator();

    let first = bootstrap(&client, &tables).await.expect("first bootstrap");
    assert_eq!(first.len(), 3);
    assert!(first.iter().all(|(_, outcome)| *outcome == TableOutcome::Created), "{first:?}");

    let template = super::template::template();
    let resources = &template["Resources"];
    for (resource, name) in [
        ("ChatMessagesTable", &tables.messages),
        ("ChatRoomsTable", &tables.rooms),
        ("ConnectionsTable", &tables.connections),
    ] {
        assert_eq!(
            emulator_shape(&client, name).await,
            template_shape(&resources[resource]),
            "{resource} as bootstrapped differs from template.yaml"
        );
    }

    let second = bootstrap(&client, &tables).await.expect("second bootstrap");
    assert!(second.iter().all(|(_, outcome)| *outcome == TableOutcome::Existing), "{second:?}");
}

#[tokio::test]
async fn a_table_with_other_keys_is_an_error_that_names_the_difference() {
    let (client, tables) = emulator();
    // Someone made the messages table keyed by a string project id and a numeric sort key.
    let attribute = |name: &str, kind: ScalarAttributeType| {
        AttributeDefinition::builder().attribute_name(name).attribute_type(kind).build().unwrap()
    };
    let key =
        |name: &str, kind: KeyType| KeySchemaElement::builder().attribute_name(name).key_type(kind).build().unwrap();
    client
        .create_table()
        .table_name(&tables.messages)
        .billing_mode(aws_sdk_dynamodb::types::BillingMode::PayPerRequest)
        .attribute_definitions(attribute("project_id", ScalarAttributeType::S))
        .attribute_definitions(attribute("created", ScalarAttributeType::N))
        .key_schema(key("project_id", KeyType::Hash))
        .key_schema(key("created", KeyType::Range))
        .send()
        .await
        .unwrap();

    let error = bootstrap(&client, &tables).await.expect_err("a differing table is refused");
    let BootstrapError::Differs { table, difference } = &error else { panic!("{error}") };
    assert_eq!(table, &tables.messages);
    assert!(difference.contains("partition key is project_id (S), expected project_id (N)"), "{difference}");
    assert!(difference.contains("sort key is created (N), expected sk (S)"), "{difference}");
    // Nothing of it was changed.
    let described = client.describe_table().table_name(&tables.messages).send().await.unwrap();
    let sort = described.table().unwrap().key_schema().iter().find(|k| *k.key_type() == KeyType::Range).cloned();
    assert_eq!(sort.unwrap().attribute_name(), "created");
}

#[tokio::test]
async fn the_database_bootstrap_creates_the_database_and_migrates_it_once() {
    let db = TestDb::mariadb().await;
    let (server, name) = db.mariadb_name().expect("a MariaDB test database");
    let (server, name) = (server.to_owned(), name.to_owned());
    // The test database exists empty; drop it so the bootstrap has to create it.
    let mut admin = <sqlx::MySqlConnection as sqlx::Connection>::connect(&server).await.unwrap();
    sqlx::raw_sql(&format!("DROP DATABASE `{name}`")).execute(&mut admin).await.unwrap();

    let first = shared::store::sql::bootstrap_mysql(&db.url()).await.expect("bootstrap");
    assert!(first.created, "the database was missing");
    assert!(!first.migrations.applied.is_empty());
    let second = shared::store::sql::bootstrap_mysql(&db.url()).await.expect("bootstrap again");
    assert!(!second.created);
    assert!(second.migrations.applied.is_empty(), "{:?}", second.migrations.applied);
    assert_eq!(second.migrations.schema_version, first.migrations.schema_version);
    let status = db.sql_db().schema_status().await.unwrap();
    assert!(status.pending.is_empty() && status.interrupted.is_empty(), "{status:?}");
}
