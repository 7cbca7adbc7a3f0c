//! Secrets read once per cold start. In AWS they come from Secrets Manager through the AWS
//! Parameters and Secrets Lambda Extension, a loopback HTTP endpoint its layer runs beside the
//! function: no Secrets Manager SDK and no TLS are linked for it, only a bare HTTP/1.1 exchange
//! over hyper, which the Lambda runtime client already brings. Locally, and in tests, a value
//! may be given directly.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use serde::Deserialize;
use tokio::sync::Mutex;

/// How long the extension may take: its first read of a secret goes to Secrets Manager.
const EXTENSION_TIMEOUT: Duration = Duration::from_secs(3);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    #[error("the secrets extension did not answer: {0}")]
    Unreachable(String),
    #[error("the secrets extension refused the read with HTTP {0}")]
    Refused(u16),
    #[error("the secret could not be read: {0}")]
    Malformed(String),
}

/// Where a secret comes from.
#[derive(Debug)]
pub enum SecretSource {
    /// Given directly (local runs and tests only; never in a Lambda's environment).
    Value(String),
    /// A Secrets Manager secret (its ARN), read through the extension at `extension_url`
    /// (`http://localhost:2773` in Lambda) the first time it is needed.
    SecretsManager { arn: String, extension_url: String, cached: Mutex<Option<String>> },
}

#[derive(Deserialize)]
struct SecretAnswer {
    #[serde(rename = "SecretString")]
    secret_string: Option<String>,
}

impl SecretSource {
    pub fn secrets_manager(arn: &str, extension_url: &str) -> Self {
        Self::SecretsManager {
            arn: arn.to_owned(),
            extension_url: extension_url.trim_end_matches('/').to_owned(),
            cached: Mutex::new(None),
        }
    }

    /// The secret's text; the first read fetches it, later reads reuse it for the life of the
    /// process.
    pub async fn read(&self) -> Result<String, SecretError> {
        self.fetch(false).await
    }

    /// Fetches the secret again, for when what was read stopped working (it was rotated).
    pub async fn refresh(&self) -> Result<String, SecretError> {
        self.fetch(true).await
    }

    async fn fetch(&self, again: bool) -> Result<String, SecretError> {
        let (arn, extension_url, cached) = match self {
            Self::Value(value) => return Ok(value.clone()),
            Self::SecretsManager { arn, extension_url, cached } => (arn, extension_url, cached),
        };
        let mut cached = cached.lock().await;
        if let Some(secret) = cached.as_ref().filter(|_| !again) {
            return Ok(secret.clone());
        }
        let secret = read_from_extension(extension_url, arn).await?;
        *cached = Some(secret.clone());
        Ok(secret)
    }
}

async fn read_from_extension(extension_url: &str, arn: &str) -> Result<String, SecretError> {
    let secret_id: String = form_urlencoded::byte_serialize(arn.as_bytes()).collect();
    let uri: http::Uri = format!("{extension_url}/secretsmanager/get?secretId={secret_id}")
        .parse()
        .map_err(|e| SecretError::Malformed(format!("SECRETS_EXTENSION_URL: {e}")))?;
    let authority = uri.authority().map(|a| a.as_str().to_owned()).unwrap_or_default();
    let address = if uri.port().is_some() { authority.clone() } else { format!("{authority}:80") };
    let request = http::Request::get(uri.path_and_query().map_or("/", |p| p.as_str()))
        .header(http::header::HOST, &authority)
        // The extension admits callers that prove they run in this sandbox.
        .header("X-Aws-Parameters-Secrets-Token", std::env::var("AWS_SESSION_TOKEN").unwrap_or_default())
        .body(Empty::<Bytes>::new())
        .map_err(|e| SecretError::Malformed(format!("SECRETS_EXTENSION_URL: {e}")))?;
    let unreachable = |e: &dyn std::fmt::Display| SecretError::Unreachable(e.to_string());
    // One request on one connection to a loopback server: no pool, no TLS.
    let answer = async {
        let stream = tokio::net::TcpStream::connect(&address).await.map_err(|e| unreachable(&e))?;
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.map_err(|e| unreachable(&e))?;
        tokio::spawn(connection);
        let response = sender.send_request(request).await.map_err(|e| unreachable(&e))?;
        let status = response.status();
        let body = response.into_body().collect().await.map_err(|e| unreachable(&e))?;
        Ok::<_, SecretError>((status, body.to_bytes()))
    };
    let (status, body) = tokio::time::timeout(EXTENSION_TIMEOUT, answer)
        .await
        .map_err(|_| SecretError::Unreachable(format!("no answer within {EXTENSION_TIMEOUT:?}")))??;
    if !status.is_success() {
        return Err(SecretError::Refused(status.as_u16()));
    }
    let answer: SecretAnswer = serde_json::from_slice(&body).map_err(|e| SecretError::Malformed(e.to_string()))?;
    answer.secret_string.ok_or_else(|| SecretError::Malformed("the secret has no SecretString".into()))
}
