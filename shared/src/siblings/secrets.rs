//! Secrets read once per cold start. In AWS they come from Secrets Manager through the AWS
//! Parameters and Secrets Lambda Extension (a loopback HTTP endpoint the function's layer runs,
//! so no Secrets Manager SDK is linked); locally, and in tests, a value may be given directly.

use serde::Deserialize;
use tokio::sync::OnceCell;

use super::SiblingError;

const EXTENSION: &str = "Secrets Manager (Lambda extension)";

/// Where a secret comes from.
#[derive(Debug)]
pub enum SecretSource {
    /// Given directly (local runs and tests only; never in a Lambda's environment).
    Value(String),
    /// A Secrets Manager secret (its ARN), read through the extension at `extension_url`
    /// (`http://localhost:2773` in Lambda) the first time it is needed.
    SecretsManager { arn: String, extension_url: String, cached: OnceCell<String> },
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
            cached: OnceCell::new(),
        }
    }

    /// The secret's text; the first read of a Secrets Manager secret fetches it, later reads
    /// reuse it for the life of the process.
    pub async fn read(&self, http: &reqwest::Client) -> Result<String, SiblingError> {
        let (arn, extension_url, cached) = match self {
            Self::Value(value) => return Ok(value.clone()),
            Self::SecretsManager { arn, extension_url, cached } => (arn, extension_url, cached),
        };
        cached
            .get_or_try_init(|| async {
                // The extension admits callers that prove they run in this sandbox.
                let session = std::env::var("AWS_SESSION_TOKEN").unwrap_or_default();
                let answer = http
                    .get(format!("{extension_url}/secretsmanager/get"))
                    .query(&[("secretId", arn.as_str())])
                    .header("X-Aws-Parameters-Secrets-Token", session)
                    .send()
                    .await
                    .map_err(|e| SiblingError::Unreachable { service: EXTENSION, detail: e.to_string() })?;
                if !answer.status().is_success() {
                    return Err(SiblingError::Refused { service: EXTENSION, status: answer.status().as_u16() });
                }
                let secret: SecretAnswer = answer
                    .json()
                    .await
                    .map_err(|e| SiblingError::Malformed { service: EXTENSION, detail: e.to_string() })?;
                secret.secret_string.ok_or(SiblingError::Malformed {
                    service: EXTENSION,
                    detail: "the secret has no SecretString".into(),
                })
            })
            .await
            .cloned()
    }
}
