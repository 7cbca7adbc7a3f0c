//! MySQL on RDS: connection options from a Secrets Manager secret in the format RDS writes, with
//! TLS verified against the RDS certificate authorities. The secret is read on the first query
//! (once per cold start) and read again when MySQL refuses what it said (it was rotated).

use std::sync::atomic::{AtomicBool, Ordering};

use serde::Deserialize;
use sqlx::mysql::{MySqlConnectOptions, MySqlPool, MySqlSslMode};

use crate::config::{DbSslMode, SecretDatabase};
use crate::secrets::SecretSource;
use crate::store::StoreError;

/// MySQL's "access denied" errors: bad password (1045), user may not use the database (1044).
pub(super) const ACCESS_DENIED: [u16; 2] = [1045, 1044];

/// What an RDS-managed (or rotation-managed) secret holds.
#[derive(Deserialize)]
struct RdsSecret {
    username: String,
    password: String,
    host: Option<String>,
    port: Option<u16>,
    dbname: Option<String>,
}

/// The pool's credentials, kept current from their secret.
pub(super) struct SecretCredentials {
    settings: SecretDatabase,
    source: SecretSource,
    /// Set when MySQL refused the credentials: the next query reads the secret again first.
    rejected: AtomicBool,
}

impl SecretCredentials {
    pub(super) fn new(settings: SecretDatabase, extension_url: &str) -> Self {
        let source = SecretSource::secrets_manager(&settings.secret_arn, extension_url);
        Self { settings, source, rejected: AtomicBool::new(false) }
    }

    /// Placeholder options for a pool that must not connect before the secret is read.
    pub(super) fn placeholder(&self) -> MySqlConnectOptions {
        MySqlConnectOptions::new().host(self.settings.host.as_deref().unwrap_or("localhost"))
    }

    /// Gives the pool the secret's credentials (reading it again when they were refused).
    /// Connections already open keep theirs; new ones use these.
    pub(super) async fn apply(&self, pool: &MySqlPool, first: bool) -> Result<(), StoreError> {
        let again = self.rejected.swap(false, Ordering::AcqRel);
        if !first && !again {
            return Ok(());
        }
        let read = if again { self.source.refresh().await } else { self.source.read().await };
        let secret = read.map_err(|e| StoreError::Unavailable(format!("database credentials: {e}")))?;
        pool.set_connect_options(self.options(&secret)?);
        Ok(())
    }

    pub(super) fn note_rejected(&self) {
        self.rejected.store(true, Ordering::Release);
    }

    fn options(&self, secret: &str) -> Result<MySqlConnectOptions, StoreError> {
        // A secret that does not parse is a deployment error, but the function can do nothing
        // about it either way: the request is refused as unavailable and the cause is logged.
        let unusable = |problem: String| StoreError::Unavailable(format!("database secret: {problem}"));
        let secret: RdsSecret =
            serde_json::from_str(secret).map_err(|e| unusable(format!("not the RDS secret format: {e}")))?;
        let host =
            self.settings.host.clone().or(secret.host).ok_or_else(|| unusable("no host and DB_HOST unset".into()))?;
        let database = self
            .settings
            .database
            .clone()
            .or(secret.dbname)
            .ok_or_else(|| unusable("no dbname and DB_NAME unset".into()))?;
        let mut options = MySqlConnectOptions::new()
            .host(&host)
            .port(secret.port.unwrap_or(3306))
            .username(&secret.username)
            .password(&secret.password)
            .database(&database)
            .ssl_mode(match self.settings.ssl_mode {
                DbSslMode::Disabled => MySqlSslMode::Disabled,
                DbSslMode::Required => MySqlSslMode::Required,
                DbSslMode::VerifyCa => MySqlSslMode::VerifyCa,
                DbSslMode::VerifyIdentity => MySqlSslMode::VerifyIdentity,
            });
        if let Some(bundle) = &self.settings.ca_bundle {
            options = options.ssl_ca(bundle);
        }
        Ok(options)
    }
}
