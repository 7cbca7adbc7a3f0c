//! AWS SDK clients, built once per cold start with one rustls (ring) HTTP client.

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};

use crate::config::Config;
#[cfg(feature = "dynamo")]
use crate::store::dynamo::{DynamoStore, DynamoTables};

/// The shared SDK configuration. Against an emulator (`DDB_ENDPOINT_URL`) or a local gateway's
/// management endpoint, without AWS credentials in the environment, fixed local credentials
/// are used: both accept any.
pub async fn sdk_config(config: &Config) -> SdkConfig {
    let http_client =
        aws_smithy_http_client::Builder::new().tls_provider(Provider::Rustls(CryptoMode::Ring)).build_https();
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .http_client(http_client)
        .region(Region::new(config.aws_region.clone()));
    let has_env_credentials = std::env::var_os("AWS_ACCESS_KEY_ID").is_some();
    let local_management = config
        .ws_management_endpoint
        .as_deref()
        .is_some_and(|e| e.starts_with("http://127.0.0.1") || e.starts_with("http://localhost"));
    if (config.ddb_endpoint_url.is_some() || local_management) && !has_env_credentials {
        loader = loader.credentials_provider(Credentials::new("local", "local", None, None, "portforge-local"));
    }
    loader.load().await
}

#[cfg(feature = "dynamo")]
pub fn dynamo_tables(config: &Config) -> DynamoTables {
    DynamoTables {
        messages: config.dynamodb_table_chats.clone(),
        rooms: config.dynamodb_table_rooms.clone(),
        connections: config.dynamodb_table_connections.clone(),
    }
}

/// The chat store on DynamoDB, or on the emulator at `DDB_ENDPOINT_URL`.
#[cfg(feature = "dynamo")]
pub fn dynamo_store(sdk: &SdkConfig, config: &Config) -> DynamoStore {
    let mut builder = aws_sdk_dynamodb::config::Builder::from(sdk);
    if let Some(endpoint) = &config.ddb_endpoint_url {
        builder = builder.endpoint_url(endpoint);
    }
    DynamoStore::new(aws_sdk_dynamodb::Client::from_conf(builder.build()), dynamo_tables(config))
}
