//! The chat tables as data: what template.yaml declares (a test compares the two), created or
//! checked on any DynamoDB endpoint by [`bootstrap`]: the local gateway, `sam local` with
//! LocalStack, the tests and CI all make their tables this one way.

use aws_sdk_dynamodb::{
    Client,
    types::{
        AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection, ProjectionType,
        ScalarAttributeType, TableDescription, TimeToLiveSpecification, TimeToLiveStatus,
    },
};

use super::dynamo::{DynamoTables, MESSAGE_ID_INDEX, PROJECT_INDEX, USER_INDEX};

/// A key attribute: (name, type).
pub type KeyAttribute = (&'static str, &'static str);

/// One global secondary index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexSpec {
    pub name: &'static str,
    pub partition_key: KeyAttribute,
    pub sort_key: Option<KeyAttribute>,
    /// `true`: the table's keys only (`KEYS_ONLY`); `false`: every attribute (`ALL`).
    pub keys_only: bool,
}

impl IndexSpec {
    fn by(name: &'static str, partition_key: KeyAttribute) -> Self {
        Self { name, partition_key, sort_key: None, keys_only: false }
    }

    fn projection(&self) -> ProjectionType {
        if self.keys_only { ProjectionType::KeysOnly } else { ProjectionType::All }
    }
}

/// One table: keys as (attribute, type), its GSIs, the TTL attribute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableSpec {
    pub name: String,
    pub partition_key: KeyAttribute,
    pub sort_key: Option<KeyAttribute>,
    pub indexes: Vec<IndexSpec>,
    pub ttl_attribute: Option<&'static str>,
}

/// The three tables, named as configured. Billing is on demand (`PAY_PER_REQUEST`) for all.
pub fn specs(tables: &DynamoTables) -> [TableSpec; 3] {
    [
        TableSpec {
            name: tables.messages.clone(),
            partition_key: ("project_id", "N"),
            sort_key: Some(("sk", "S")),
            indexes: vec![IndexSpec {
                name: MESSAGE_ID_INDEX,
                partition_key: ("project_id", "N"),
                sort_key: Some(("message_id", "S")),
                keys_only: true,
            }],
            // Only idempotency markers carry it; messages are kept.
            ttl_attribute: Some("expires_at"),
        },
        TableSpec {
            name: tables.rooms.clone(),
            partition_key: ("user_id", "S"),
            sort_key: Some(("project_id", "N")),
            indexes: vec![],
            ttl_attribute: None,
        },
        TableSpec {
            name: tables.connections.clone(),
            partition_key: ("connection_id", "S"),
            sort_key: None,
            indexes: vec![
                IndexSpec::by(PROJECT_INDEX, ("project_id", "N")),
                IndexSpec::by(USER_INDEX, ("user_id", "S")),
            ],
            ttl_attribute: Some("expires_at"),
        },
    ]
}

/// What [`bootstrap`] did to one table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TableOutcome {
    Created,
    /// It was there with the same keys and indexes, and was left alone (TTL turned on if off).
    Existing,
}

#[derive(Debug, thiserror::Error)]
pub enum BootstrapError {
    /// The table exists with other keys or indexes: nothing is changed; the caller decides.
    #[error("table {table} exists but differs from template.yaml: {difference}")]
    Differs { table: String, difference: String },
    #[error("DynamoDB at the configured endpoint: {0}")]
    Dynamo(String),
}

/// Creates each missing table as its spec says, checks existing ones against their spec, and
/// turns TTL on where the spec has it. Safe to run again: the second run changes nothing.
pub async fn bootstrap(client: &Client, tables: &DynamoTables) -> Result<Vec<(String, TableOutcome)>, BootstrapError> {
    let mut outcomes = vec![];
    for spec in specs(tables) {
        let described = client.describe_table().table_name(&spec.name).send().await;
        let (outcome, active) = match described {
            Ok(found) => {
                let table =
                    found.table.ok_or_else(|| BootstrapError::Dynamo("DescribeTable without a table".into()))?;
                if let Some(difference) = difference(&spec, &table) {
                    return Err(BootstrapError::Differs { table: spec.name.clone(), difference });
                }
                (TableOutcome::Existing, is_active(&table))
            }
            Err(e) if e.as_service_error().is_some_and(|s| s.is_resource_not_found_exception()) => {
                create(client, &spec).await?;
                (TableOutcome::Created, false)
            }
            Err(e) => return Err(BootstrapError::Dynamo(format!("describing {}: {e}", spec.name))),
        };
        if !active {
            wait_active(client, &spec.name).await?;
        }
        if let Some(attribute) = spec.ttl_attribute {
            enable_ttl(client, &spec.name, attribute).await?;
        }
        outcomes.push((spec.name.clone(), outcome));
    }
    Ok(outcomes)
}

fn scalar(kind: &str) -> ScalarAttributeType {
    ScalarAttributeType::from(kind)
}

fn key(name: &str, kind: KeyType) -> Result<KeySchemaElement, BootstrapError> {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(kind)
        .build()
        .map_err(|e| BootstrapError::Dynamo(e.to_string()))
}

async fn create(client: &Client, spec: &TableSpec) -> Result<(), BootstrapError> {
    let mut attributes = vec![spec.partition_key];
    attributes.extend(spec.sort_key);
    for key in spec.indexes.iter().flat_map(|index| std::iter::once(index.partition_key).chain(index.sort_key)) {
        if !attributes.contains(&key) {
            attributes.push(key);
        }
    }
    let mut request = client
        .create_table()
        .table_name(&spec.name)
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(key(spec.partition_key.0, KeyType::Hash)?);
    if let Some((name, _)) = spec.sort_key {
        request = request.key_schema(key(name, KeyType::Range)?);
    }
    for (name, kind) in attributes {
        let definition = AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(scalar(kind))
            .build()
            .map_err(|e| BootstrapError::Dynamo(e.to_string()))?;
        request = request.attribute_definitions(definition);
    }
    for index in &spec.indexes {
        let mut gsi = GlobalSecondaryIndex::builder()
            .index_name(index.name)
            .key_schema(key(index.partition_key.0, KeyType::Hash)?)
            .projection(Projection::builder().projection_type(index.projection()).build());
        if let Some((attribute, _)) = index.sort_key {
            gsi = gsi.key_schema(key(attribute, KeyType::Range)?);
        }
        request = request.global_secondary_indexes(gsi.build().map_err(|e| BootstrapError::Dynamo(e.to_string()))?);
    }
    match request.send().await {
        Ok(_) => Ok(()),
        // Created meanwhile by another run: the check on the next run compares it.
        Err(e) if e.as_service_error().is_some_and(|s| s.is_resource_in_use_exception()) => Ok(()),
        Err(e) => Err(BootstrapError::Dynamo(format!("creating {}: {e}", spec.name))),
    }
}

/// How an existing table differs from its spec, in words; `None` when it matches.
fn difference(spec: &TableSpec, table: &TableDescription) -> Option<String> {
    let type_of = |attribute: &str| {
        table
            .attribute_definitions()
            .iter()
            .find(|d| d.attribute_name() == attribute)
            .map(|d| d.attribute_type().as_str().to_owned())
    };
    let key_of = |schema: &[KeySchemaElement], kind: KeyType| {
        schema.iter().find(|k| *k.key_type() == kind).map(|k| k.attribute_name().to_owned())
    };
    let show = |key: Option<(&str, &str)>| key.map_or("none".to_owned(), |(n, t)| format!("{n} ({t})"));
    let actual = |name: Option<String>| name.map(|n| (type_of(&n).unwrap_or_else(|| "?".into()), n));
    let found = |name: Option<String>| actual(name).map_or("none".to_owned(), |(t, n)| format!("{n} ({t})"));
    let matches = |want: Option<(&str, &str)>, got: Option<String>| match (want, actual(got)) {
        (None, None) => true,
        (Some((n, t)), Some((gt, gn))) => n == gn && t == gt,
        _ => false,
    };
    let mut differences = vec![];
    let (partition, sort) = (key_of(table.key_schema(), KeyType::Hash), key_of(table.key_schema(), KeyType::Range));
    if !matches(Some(spec.partition_key), partition.clone()) {
        differences.push(format!("partition key is {}, expected {}", found(partition), show(Some(spec.partition_key))));
    }
    if !matches(spec.sort_key, sort.clone()) {
        differences.push(format!("sort key is {}, expected {}", found(sort), show(spec.sort_key)));
    }
    let indexes = table.global_secondary_indexes();
    for want in &spec.indexes {
        let name = want.name;
        match indexes.iter().find(|i| i.index_name() == Some(name)) {
            None => differences.push(format!("index {name} is missing")),
            Some(index) => {
                let partition = key_of(index.key_schema(), KeyType::Hash);
                let sort = key_of(index.key_schema(), KeyType::Range);
                if !matches(Some(want.partition_key), partition.clone()) || !matches(want.sort_key, sort.clone()) {
                    differences.push(format!(
                        "index {name} is keyed by {} / {}, expected {} / {}",
                        found(partition),
                        found(sort),
                        show(Some(want.partition_key)),
                        show(want.sort_key)
                    ));
                }
                let projection = index.projection().and_then(|p| p.projection_type()).map(|p| p.as_str().to_owned());
                let expected = want.projection();
                if projection.as_deref() != Some(expected.as_str()) {
                    differences.push(format!(
                        "index {name} projects {}, expected {}",
                        projection.unwrap_or_default(),
                        expected.as_str()
                    ));
                }
            }
        }
    }
    for index in indexes {
        let name = index.index_name().unwrap_or_default();
        if !spec.indexes.iter().any(|want| want.name == name) {
            differences.push(format!("index {name} is not in template.yaml"));
        }
    }
    (!differences.is_empty()).then(|| differences.join("; "))
}

fn is_active(table: &TableDescription) -> bool {
    table.table_status().is_some_and(|s| s.as_str() == "ACTIVE")
}

async fn wait_active(client: &Client, table: &str) -> Result<(), BootstrapError> {
    for _ in 0..100 {
        let described = client
            .describe_table()
            .table_name(table)
            .send()
            .await
            .map_err(|e| BootstrapError::Dynamo(format!("describing {table}: {e}")))?;
        if described.table().is_some_and(is_active) {
            return Ok(());
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    Err(BootstrapError::Dynamo(format!("table {table} did not become ACTIVE")))
}

/// Turns TTL on unless it already is (DynamoDB refuses to enable it twice).
async fn enable_ttl(client: &Client, table: &str, attribute: &str) -> Result<(), BootstrapError> {
    let current = client
        .describe_time_to_live()
        .table_name(table)
        .send()
        .await
        .map_err(|e| BootstrapError::Dynamo(format!("reading {table}'s TTL: {e}")))?;
    let description = current.time_to_live_description();
    let status = description.and_then(|d| d.time_to_live_status());
    if matches!(status, Some(TimeToLiveStatus::Enabled | TimeToLiveStatus::Enabling)) {
        let on = description.and_then(|d| d.attribute_name());
        if on == Some(attribute) {
            return Ok(());
        }
        return Err(BootstrapError::Differs {
            table: table.to_owned(),
            difference: format!("TTL is on {}, expected {attribute}", on.unwrap_or("?")),
        });
    }
    let spec = TimeToLiveSpecification::builder()
        .attribute_name(attribute)
        .enabled(true)
        .build()
        .map_err(|e| BootstrapError::Dynamo(e.to_string()))?;
    client
        .update_time_to_live()
        .table_name(table)
        .time_to_live_specification(spec)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| BootstrapError::Dynamo(format!("turning on {table}'s TTL: {e}")))
}
