//! AWS SDK clients, built once per cold start.
//!
//! No `aws-config`: a Lambda function's region and role credentials are in its environment
//! (`AWS_REGION`, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`), so the
//! provider chains it links (profiles, SSO, STS, IMDS) would be dead weight in every package and
//! work on every cold start. And no second HTTP stack: the SDK sends through reqwest, which the
//! functions that call the sibling services link anyway (see [`transport`]).

use aws_credential_types::Credentials;
use aws_smithy_runtime_api::client::http::SharedHttpClient;
use aws_types::region::Region;

use crate::config::{Config, ConfigError};
#[cfg(feature = "dynamo")]
use crate::store::dynamo::{DynamoStore, DynamoTables};

/// What every SDK client of a function shares: its region, its credentials and one HTTP client
/// (so one connection pool and one TLS configuration).
#[derive(Clone, Debug)]
pub struct AwsContext {
    region: Region,
    credentials: Credentials,
    http_client: SharedHttpClient,
}

impl AwsContext {
    /// The role's credentials from the configuration, as Lambda provides them. Against an
    /// emulator (`DDB_ENDPOINT_URL`) or a local gateway's management endpoint, without
    /// credentials, fixed local ones are used: both accept any.
    pub fn new(config: &Config) -> Result<Self, ConfigError> {
        let credentials = match &config.aws_keys {
            Some(keys) => Credentials::new(
                &keys.access_key_id,
                &keys.secret_access_key,
                keys.session_token.clone(),
                None,
                "lambda-environment",
            ),
            None if is_local(config) => Credentials::new("local", "local", None, None, "portforge-local"),
            _ => {
                return Err(ConfigError {
                    name: "AWS_ACCESS_KEY_ID",
                    problem: "and AWS_SECRET_ACCESS_KEY are required (Lambda sets them from the function's role)"
                        .into(),
                });
            }
        };
        let http_client = transport::ReqwestTransport::new().map_err(|e| ConfigError {
            name: "AWS_REGION",
            problem: format!("the SDK's HTTP client could not be built: {e}"),
        })?;
        Ok(Self {
            region: Region::new(config.aws_region.clone()),
            credentials,
            http_client: SharedHttpClient::new(http_client),
        })
    }

    /// A DynamoDB client, at `endpoint` when given (an emulator), else the region's.
    #[cfg(feature = "dynamo")]
    pub fn dynamodb(&self, endpoint: Option<&str>) -> aws_sdk_dynamodb::Client {
        use aws_sdk_dynamodb::config::{BehaviorVersion, Builder};
        let mut builder = Builder::new()
            .behavior_version(BehaviorVersion::latest())
            .region(self.region.clone())
            .credentials_provider(self.credentials.clone())
            .http_client(self.http_client.clone());
        if let Some(endpoint) = endpoint {
            builder = builder.endpoint_url(endpoint);
        }
        aws_sdk_dynamodb::Client::from_conf(builder.build())
    }

    /// A management API client for the WebSocket API at `endpoint`
    /// (`https://{apiId}.execute-api.{region}.amazonaws.com/{stage}`, or a local gateway's URL).
    /// Its own retries are off: [`crate::push::FanOut`] retries throttled posts under the
    /// broadcast's deadline, and two policies stacked would multiply attempts past it.
    #[cfg(feature = "management-api")]
    pub fn management_api(&self, endpoint: &str) -> aws_sdk_apigatewaymanagement::Client {
        use aws_sdk_apigatewaymanagement::config::{BehaviorVersion, Builder, retry::RetryConfig};
        let config = Builder::new()
            .behavior_version(BehaviorVersion::latest())
            .retry_config(RetryConfig::disabled())
            .region(self.region.clone())
            .credentials_provider(self.credentials.clone())
            .http_client(self.http_client.clone())
            .endpoint_url(endpoint.trim_end_matches('/'))
            .build();
        aws_sdk_apigatewaymanagement::Client::from_conf(config)
    }
}

pub mod transport {
    //! The SDK's HTTP transport over reqwest (rustls with ring and compiled-in roots, HTTP/1.1).
    //!
    //! The SDK's own client (`aws-smithy-http-client`) brings a second hyper client, HTTP/2 and
    //! a read of the system certificate bundle on the first call; DynamoDB and the management API
    //! speak HTTP/1.1 and every request body here is in memory, so this small adapter is enough.
    //! Errors are classified as the SDK's retry policy expects: timeouts and connection failures
    //! are transient, the rest are not retried.

    use std::time::Duration;

    use aws_smithy_runtime_api::client::{
        http::{HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpConnector},
        orchestrator::{HttpRequest, HttpResponse},
        result::ConnectorError,
        runtime_components::RuntimeComponents,
    };
    use aws_smithy_types::body::SdkBody;

    /// How long a TCP + TLS connect may take before the attempt is retried (the SDK's default).
    pub const CONNECT_TIMEOUT: Duration = Duration::from_millis(3100);

    #[derive(Clone, Debug)]
    pub struct ReqwestTransport {
        client: reqwest::Client,
    }

    impl ReqwestTransport {
        pub fn new() -> Result<Self, reqwest::Error> {
            // No redirects: the SDK must see AWS's answers as they are.
            let client = reqwest::Client::builder()
                .connect_timeout(CONNECT_TIMEOUT)
                .redirect(reqwest::redirect::Policy::none())
                .build()?;
            Ok(Self { client })
        }
    }

    impl HttpClient for ReqwestTransport {
        fn http_connector(&self, settings: &HttpConnectorSettings, _: &RuntimeComponents) -> SharedHttpConnector {
            SharedHttpConnector::new(ReqwestConnector {
                client: self.client.clone(),
                read_timeout: settings.read_timeout(),
            })
        }
    }

    #[derive(Debug)]
    struct ReqwestConnector {
        client: reqwest::Client,
        read_timeout: Option<Duration>,
    }

    impl HttpConnector for ReqwestConnector {
        fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
            let client = self.client.clone();
            let read_timeout = self.read_timeout;
            HttpConnectorFuture::new(async move {
                let request = to_reqwest(&client, request, read_timeout)?;
                let response = client.execute(request).await.map_err(classify)?;
                from_reqwest(response).await
            })
        }
    }

    fn to_reqwest(
        client: &reqwest::Client,
        request: HttpRequest,
        read_timeout: Option<Duration>,
    ) -> Result<reqwest::Request, ConnectorError> {
        let method =
            reqwest::Method::from_bytes(request.method().as_bytes()).map_err(|e| ConnectorError::user(Box::new(e)))?;
        // DynamoDB items and management API frames are built in memory; a streaming body would
        // be a new use of this adapter, refused rather than silently buffered.
        let body = request
            .body()
            .bytes()
            .ok_or_else(|| ConnectorError::user("streaming request bodies are not supported".into()))?
            .to_vec();
        let mut builder = client.request(method, request.uri());
        for (name, value) in request.headers() {
            builder = builder.header(name, value);
        }
        if let Some(timeout) = read_timeout {
            builder = builder.timeout(timeout);
        }
        builder.body(body).build().map_err(|e| ConnectorError::user(Box::new(e)))
    }

    async fn from_reqwest(response: reqwest::Response) -> Result<HttpResponse, ConnectorError> {
        let mut answer = http::Response::builder().status(response.status().as_u16());
        for (name, value) in response.headers() {
            answer = answer.header(name.as_str(), value.as_bytes());
        }
        let body = response.bytes().await.map_err(classify)?;
        let answer = answer.body(SdkBody::from(body)).map_err(|e| ConnectorError::other(Box::new(e), None))?;
        HttpResponse::try_from(answer).map_err(|e| ConnectorError::other(Box::new(e), None))
    }

    fn classify(error: reqwest::Error) -> ConnectorError {
        if error.is_timeout() {
            ConnectorError::timeout(Box::new(error))
        } else if error.is_connect() || error.is_request() || error.is_body() {
            ConnectorError::io(Box::new(error))
        } else {
            ConnectorError::other(Box::new(error), None)
        }
    }
}

fn is_local(config: &Config) -> bool {
    let loopback = |url: &str| url.starts_with("http://127.0.0.1") || url.starts_with("http://localhost");
    config.ddb_endpoint_url.is_some() || config.ws_management_endpoint.as_deref().is_some_and(loopback)
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
pub fn dynamo_store(aws: &AwsContext, config: &Config) -> DynamoStore {
    DynamoStore::new(aws.dynamodb(config.ddb_endpoint_url.as_deref()), dynamo_tables(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(vars: &[(&str, &str)]) -> Config {
        let vars: std::collections::HashMap<String, String> =
            vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Config::from_lookup(|k| vars.get(k).cloned()).expect("config")
    }

    #[test]
    fn credentials_come_from_the_environment_and_are_required_in_aws() {
        let err = AwsContext::new(&config(&[])).unwrap_err();
        assert_eq!(err.name, "AWS_ACCESS_KEY_ID");

        let role = config(&[
            ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
            ("AWS_SESSION_TOKEN", "token"),
        ]);
        assert!(!format!("{role:?}").contains("secret\""), "Debug hides the secret key");
        let context = AwsContext::new(&role).expect("role credentials");
        assert_eq!(context.credentials.access_key_id(), "AKIDEXAMPLE");
        assert_eq!(context.credentials.session_token(), Some("token"));

        let emulator = config(&[("DDB_ENDPOINT_URL", "http://127.0.0.1:8000")]);
        let local = AwsContext::new(&emulator).expect("local credentials");
        assert_eq!(local.credentials.access_key_id(), "local");
    }
}
