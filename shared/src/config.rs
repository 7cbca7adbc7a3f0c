//! Typed settings, read from the environment once per cold start.

use std::{env, path::PathBuf, time::Duration};

use crate::domain::time::Calendar;

/// Where relational data lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseSettings {
    /// `mysql://user:pass@host:3306/db[?ssl-mode=…&ssl-ca=…]`: local runs, tests, `sam local`.
    MySql { url: String },
    /// RDS in AWS: the credentials come from a Secrets Manager secret, never the environment.
    MySqlSecret(SecretDatabase),
    /// The embedded file used for local runs.
    Sqlite { path: PathBuf },
}

/// A MySQL database whose credentials are a Secrets Manager secret in the format RDS writes
/// (`{"username", "password", "host", "port", "dbname"}`), read once per cold start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretDatabase {
    /// `DATABASE_SECRET_ARN`.
    pub secret_arn: String,
    /// `DB_HOST`: overrides the secret's host, e.g. with an RDS Proxy endpoint.
    pub host: Option<String>,
    /// `DB_NAME`: overrides the secret's `dbname`.
    pub database: Option<String>,
    /// `DB_SSL_MODE` (`verify_identity` unless set).
    pub ssl_mode: DbSslMode,
    /// `DB_CA_BUNDLE`: the certificate authorities to trust (the RDS bundle the template ships
    /// as a layer at `/opt/rds-ca-bundle.pem`); required when the mode verifies.
    pub ca_bundle: Option<PathBuf>,
}

/// How the MySQL connection uses TLS (MySQL's own `--ssl-mode` names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DbSslMode {
    Disabled,
    Required,
    VerifyCa,
    VerifyIdentity,
}

impl DbSslMode {
    fn parse(raw: &str) -> Option<Self> {
        match raw.to_ascii_lowercase().replace('-', "_").as_str() {
            "disabled" => Some(Self::Disabled),
            "required" => Some(Self::Required),
            "verify_ca" => Some(Self::VerifyCa),
            "verify_identity" => Some(Self::VerifyIdentity),
            _ => None,
        }
    }

    pub fn verifies(self) -> bool {
        matches!(self, Self::VerifyCa | Self::VerifyIdentity)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// From `DATABASE_URL` (`mysql://…` or `sqlite://path`) or, in AWS, `DATABASE_SECRET_ARN`
    /// with `DB_HOST`, `DB_NAME`, `DB_SSL_MODE` and `DB_CA_BUNDLE`; `None` when neither is set.
    pub database: Option<DatabaseSettings>,
    /// Most pooled connections per process (`DB_MAX_CONNECTIONS`, default 4). One Lambda
    /// sandbox serves one request at a time, so a few connections suffice and spare RDS.
    pub db_max_connections: u32,
    /// DynamoDB endpoint override (`DDB_ENDPOINT_URL`) for emulators; AWS's own when unset.
    pub ddb_endpoint_url: Option<String>,
    pub dynamodb_table_chats: String,
    pub dynamodb_table_rooms: String,
    pub dynamodb_table_connections: String,
    /// Where to post WebSocket frames (`WS_MANAGEMENT_ENDPOINT`): the API's
    /// `https://{apiId}.execute-api.{region}.amazonaws.com/{stage}` or a local gateway. The
    /// WebSocket handlers derive it from their event when unset.
    pub ws_management_endpoint: Option<String>,
    /// `AWS_REGION` (set by Lambda); `ap-northeast-2` for local runs.
    pub aws_region: String,
    /// The function role's credentials, which Lambda puts in the environment
    /// (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`).
    pub aws_keys: Option<AwsKeys>,
    /// Cognito user pool whose tokens the WebSocket authorizer accepts (`COGNITO_USER_POOL_ID`).
    pub cognito_user_pool_id: Option<String>,
    /// App client ids a token must be issued to (`COGNITO_AUDIENCES`, comma-separated).
    pub cognito_audiences: Vec<String>,
    /// Overrides the pool's JWKS and issuer (`COGNITO_JWKS_URL`, `COGNITO_ISSUER`): tests, local.
    pub cognito_jwks_url: Option<String>,
    pub cognito_issuer: Option<String>,
    /// How long the pool's keys are trusted before they are fetched again
    /// (`COGNITO_JWKS_MAX_AGE_SECONDS`, 3600).
    pub cognito_jwks_max_age: Duration,
    /// The Cognito domain that issues this service's own token for calls to its siblings
    /// (`AUTH_SERVICE_URL`, `https://{domain}.auth.{region}.amazoncognito.com`); without it
    /// those calls carry no token.
    pub auth_service_url: Option<String>,
    /// The Project and Team services (`PROJECT_SERVICE_URL`, `TEAM_SERVICE_URL`).
    pub project_service_url: Option<String>,
    pub team_service_url: Option<String>,
    /// The app client whose client-credentials token this service presents to its siblings
    /// (`SIBLING_CLIENT_ID`), its secret's Secrets Manager ARN (`SIBLING_CLIENT_SECRET_ARN`),
    /// or, for local runs only, the secret itself (`SIBLING_CLIENT_SECRET`), and the scopes it
    /// asks for (`SIBLING_SCOPES`, space-separated).
    pub sibling_client_id: Option<String>,
    pub sibling_client_secret_arn: Option<String>,
    pub sibling_client_secret: Option<String>,
    pub sibling_scopes: String,
    /// Per call to a sibling: connecting (`SIBLING_CONNECT_TIMEOUT_MS`, 500) and the whole
    /// attempt (`SIBLING_TIMEOUT_MS`, 1500); reads are tried again up to `SIBLING_RETRIES` (1)
    /// times when the failure may pass.
    pub sibling_connect_timeout: Duration,
    pub sibling_timeout: Duration,
    pub sibling_retries: u32,
    /// How long a project's team and a team's members are trusted once the sibling services
    /// said them (`MEMBERSHIP_CACHE_SECONDS`, 60): a member removed from a team loses access to
    /// its chat within that time.
    pub membership_cache: Duration,
    /// The AWS Parameters and Secrets Lambda Extension (`SECRETS_EXTENSION_URL`,
    /// `http://localhost:2773`).
    pub secrets_extension_url: String,
    /// OAuth scope a sibling service's client-credentials token must carry to create
    /// notifications for any user (`INTERNAL_NOTIFY_SCOPE`).
    pub internal_notify_scope: String,
    /// OAuth scope a sibling service's client-credentials token must carry to read a team's chat
    /// logs, as the AI service does for meeting minutes (`CHAT_READ_SCOPE`).
    pub chat_read_scope: String,
    /// Posts in flight at once per broadcast (`FANOUT_CONCURRENCY`, default
    /// [`crate::push::FanOut::DEFAULT_CONCURRENCY`], 1–1,000).
    pub fanout_concurrency: usize,
    /// The calendar the service speaks: event status (upcoming, ongoing, past), chat date
    /// filters and "HH:MM" times (`CALENDAR_UTC_OFFSET_MINUTES`, default 540 = KST).
    pub calendar: Calendar,
}

/// AWS credentials; `Debug` never shows the secret parts.
#[derive(Clone, PartialEq, Eq)]
pub struct AwsKeys {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
}

impl std::fmt::Debug for AwsKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AwsKeys").field("access_key_id", &self.access_key_id).finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
#[error("configuration error: {name} {problem}")]
pub struct ConfigError {
    pub name: &'static str,
    pub problem: String,
}

impl Config {
    pub const DEFAULT_NOTIFY_SCOPE: &'static str = "portforge-support/notifications.write";
    pub const DEFAULT_CHAT_READ_SCOPE: &'static str = "portforge-support/chat.read";
    /// API Gateway's default account rate is 10,000 requests/s; a post to a socket takes about
    /// 20 ms from a Lambda function, so 200 posts in flight are what that rate allows: 1,000
    /// connections in about 100 ms. More would only meet throttling (429, retried).
    pub const DEFAULT_FANOUT_CONCURRENCY: usize = 200;

    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| env::var(name).ok())
    }

    /// Reads settings through `lookup`, so tests can supply them without touching the process env.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| lookup(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        let url = |name: &'static str| -> Result<Option<String>, ConfigError> {
            match get(name) {
                Some(v) if v.starts_with("http://") || v.starts_with("https://") => {
                    Ok(Some(v.trim_end_matches('/').to_owned()))
                }
                Some(_) => Err(ConfigError { name, problem: "must be an http:// or https:// URL".into() }),
                None => Ok(None),
            }
        };
        let number = |name: &'static str, default: i64, range: std::ops::RangeInclusive<i64>| match get(name) {
            None => Ok(default),
            Some(v) => v.parse::<i64>().ok().filter(|n| range.contains(n)).ok_or(ConfigError {
                name,
                problem: format!("must be an integer in {}..={}", range.start(), range.end()),
            }),
        };
        let database = match (get("DATABASE_URL"), get("DATABASE_SECRET_ARN")) {
            (Some(_), Some(_)) => {
                return Err(ConfigError {
                    name: "DATABASE_URL",
                    problem: "and DATABASE_SECRET_ARN are both set; set one".into(),
                });
            }
            (Some(url), None) => Some(DatabaseSettings::parse(&url)?),
            (None, Some(secret_arn)) => {
                Some(DatabaseSettings::MySqlSecret(SecretDatabase::from_lookup(secret_arn, &get)?))
            }
            (None, None) => None,
        };
        Ok(Self {
            database,
            db_max_connections: number("DB_MAX_CONNECTIONS", 4, 1..=100)? as u32,
            ddb_endpoint_url: url("DDB_ENDPOINT_URL")?,
            dynamodb_table_chats: get("DYNAMODB_TABLE_CHATS").unwrap_or_else(|| "team_chats_ddb".into()),
            dynamodb_table_rooms: get("DYNAMODB_TABLE_ROOMS").unwrap_or_else(|| "chat_rooms_ddb".into()),
            dynamodb_table_connections: get("DYNAMODB_TABLE_CONNECTIONS")
                .unwrap_or_else(|| "ws_connections_ddb".into()),
            ws_management_endpoint: url("WS_MANAGEMENT_ENDPOINT")?,
            aws_region: get("AWS_REGION").unwrap_or_else(|| "ap-northeast-2".into()),
            aws_keys: match (get("AWS_ACCESS_KEY_ID"), get("AWS_SECRET_ACCESS_KEY")) {
                (Some(access_key_id), Some(secret_access_key)) => {
                    Some(AwsKeys { access_key_id, secret_access_key, session_token: get("AWS_SESSION_TOKEN") })
                }
                _ => None,
            },
            cognito_user_pool_id: get("COGNITO_USER_POOL_ID"),
            cognito_audiences: get("COGNITO_AUDIENCES")
                .map(|v| v.split(',').map(|a| a.trim().to_owned()).filter(|a| !a.is_empty()).collect())
                .unwrap_or_default(),
            cognito_jwks_url: url("COGNITO_JWKS_URL")?,
            cognito_issuer: get("COGNITO_ISSUER"),
            cognito_jwks_max_age: Duration::from_secs(number("COGNITO_JWKS_MAX_AGE_SECONDS", 3_600, 1..=86_400)? as u64),
            auth_service_url: url("AUTH_SERVICE_URL")?,
            project_service_url: url("PROJECT_SERVICE_URL")?,
            team_service_url: url("TEAM_SERVICE_URL")?,
            sibling_client_id: get("SIBLING_CLIENT_ID"),
            sibling_client_secret_arn: get("SIBLING_CLIENT_SECRET_ARN"),
            sibling_client_secret: get("SIBLING_CLIENT_SECRET"),
            sibling_scopes: get("SIBLING_SCOPES").unwrap_or_default(),
            sibling_connect_timeout: Duration::from_millis(
                number("SIBLING_CONNECT_TIMEOUT_MS", 500, 1..=10_000)? as u64
            ),
            sibling_timeout: Duration::from_millis(number("SIBLING_TIMEOUT_MS", 1_500, 1..=30_000)? as u64),
            sibling_retries: number("SIBLING_RETRIES", 1, 0..=5)? as u32,
            membership_cache: Duration::from_secs(number("MEMBERSHIP_CACHE_SECONDS", 60, 0..=3_600)? as u64),
            secrets_extension_url: url("SECRETS_EXTENSION_URL")?.unwrap_or_else(|| "http://localhost:2773".into()),
            internal_notify_scope: get("INTERNAL_NOTIFY_SCOPE").unwrap_or_else(|| Self::DEFAULT_NOTIFY_SCOPE.into()),
            chat_read_scope: get("CHAT_READ_SCOPE").unwrap_or_else(|| Self::DEFAULT_CHAT_READ_SCOPE.into()),
            fanout_concurrency: number("FANOUT_CONCURRENCY", Self::DEFAULT_FANOUT_CONCURRENCY as i64, 1..=1_000)?
                as usize,
            calendar: Calendar::from_offset_minutes(number(
                "CALENDAR_UTC_OFFSET_MINUTES",
                Calendar::KST_OFFSET_MINUTES.into(),
                -720..=840,
            )? as i32)
            .unwrap_or_else(Calendar::kst),
        })
    }

    /// The database a Lambda function must have: without one it is a deployment error.
    pub fn require_database(&self) -> Result<DatabaseSettings, ConfigError> {
        self.database.clone().ok_or(ConfigError {
            name: "DATABASE_SECRET_ARN",
            problem: "is required (or DATABASE_URL=mysql://user:password@host:3306/database outside AWS)".into(),
        })
    }
}

impl SecretDatabase {
    fn from_lookup(secret_arn: String, get: &impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let ssl_mode = match get("DB_SSL_MODE") {
            None => DbSslMode::VerifyIdentity,
            Some(raw) => DbSslMode::parse(&raw).ok_or(ConfigError {
                name: "DB_SSL_MODE",
                problem: "must be disabled, required, verify_ca or verify_identity".into(),
            })?,
        };
        let ca_bundle = get("DB_CA_BUNDLE").map(PathBuf::from);
        if ssl_mode.verifies() && ca_bundle.is_none() {
            return Err(ConfigError {
                name: "DB_CA_BUNDLE",
                problem: "is required to verify the server (the RDS CA bundle, /opt/rds-ca-bundle.pem in AWS)".into(),
            });
        }
        Ok(Self { secret_arn, host: get("DB_HOST"), database: get("DB_NAME"), ssl_mode, ca_bundle })
    }
}

impl DatabaseSettings {
    /// The engine's name, for messages.
    pub fn engine(&self) -> &'static str {
        match self {
            Self::MySql { .. } | Self::MySqlSecret(_) => "MySQL",
            Self::Sqlite { .. } => "SQLite",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, ConfigError> {
        if raw.starts_with("mysql://") {
            Ok(Self::MySql { url: raw.to_owned() })
        } else if let Some(path) = raw.strip_prefix("sqlite://").or_else(|| raw.strip_prefix("sqlite:")) {
            Ok(Self::Sqlite { path: PathBuf::from(path) })
        } else {
            Err(ConfigError { name: "DATABASE_URL", problem: "must start with mysql:// or sqlite://".into() })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults_match_the_seed_names() {
        let c = config(&[]).unwrap();
        assert_eq!(c.database, None);
        assert_eq!(c.dynamodb_table_chats, "team_chats_ddb");
        assert_eq!(c.dynamodb_table_rooms, "chat_rooms_ddb");
        assert_eq!(c.db_max_connections, 4);
        assert!(c.require_database().is_err());
    }

    #[test]
    fn bad_values_name_the_variable() {
        assert_eq!(config(&[("DATABASE_URL", "postgres://x")]).unwrap_err().name, "DATABASE_URL");
        assert_eq!(config(&[("PROJECT_SERVICE_URL", "ftp://x")]).unwrap_err().name, "PROJECT_SERVICE_URL");
        assert_eq!(config(&[("DB_MAX_CONNECTIONS", "0")]).unwrap_err().name, "DB_MAX_CONNECTIONS");
        let c = config(&[("DATABASE_URL", "sqlite://data/x.db"), ("TEAM_SERVICE_URL", "http://team:8080/")]).unwrap();
        assert_eq!(c.database, Some(DatabaseSettings::Sqlite { path: "data/x.db".into() }));
        assert_eq!(c.team_service_url.as_deref(), Some("http://team:8080"));
    }

    #[test]
    fn rds_credentials_come_from_a_secret_and_tls_verifies_by_default() {
        let arn = "arn:aws:secretsmanager:ap-northeast-2:123456789012:secret:portforge-db-AbCdEf";
        assert_eq!(config(&[("DATABASE_SECRET_ARN", arn)]).unwrap_err().name, "DB_CA_BUNDLE");
        let both = config(&[("DATABASE_SECRET_ARN", arn), ("DATABASE_URL", "mysql://u:p@h/db")]);
        assert_eq!(both.unwrap_err().name, "DATABASE_URL");
        assert_eq!(config(&[("DATABASE_SECRET_ARN", arn), ("DB_SSL_MODE", "loose")]).unwrap_err().name, "DB_SSL_MODE");

        let c = config(&[
            ("DATABASE_SECRET_ARN", arn),
            ("DB_CA_BUNDLE", "/opt/rds-ca-bundle.pem"),
            ("DB_HOST", "proxy.example"),
        ])
        .unwrap();
        let Some(DatabaseSettings::MySqlSecret(db)) = c.database else { panic!("{:?}", c.database) };
        assert_eq!(db.ssl_mode, DbSslMode::VerifyIdentity);
        assert_eq!(db.host.as_deref(), Some("proxy.example"));
        assert_eq!(db.database, None);

        let plain = config(&[("DATABASE_SECRET_ARN", arn), ("DB_SSL_MODE", "DISABLED")]).unwrap();
        let Some(DatabaseSettings::MySqlSecret(db)) = plain.database else { panic!() };
        assert_eq!(db.ssl_mode, DbSslMode::Disabled);
    }
}
