//! The SQL adapter: one implementation of every relational port over MySQL (RDS) or the
//! embedded SQLite file. Each statement is written once in the dialect both engines share
//! (`?` placeholders, no `RETURNING`) and dispatched to whichever pool is configured.

mod chat;
mod content;
mod events;
mod notifications;

use std::{path::Path, str::FromStr, time::Duration};

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::{
    Arguments, Database, Encode, FromRow, MySql, Sqlite, Type,
    error::BoxDynError,
    migrate::Migrator,
    mysql::{MySqlConnectOptions, MySqlPool, MySqlPoolOptions, MySqlRow},
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow},
};
use tokio::sync::OnceCell;

use super::{HealthProbe, StoreError};
use crate::config::DatabaseSettings;

static MYSQL_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/mysql");
static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/sqlite");

#[derive(Clone)]
enum Pool {
    MySql(MySqlPool),
    Sqlite(SqlitePool),
}

/// A configured SQL database. Connects lazily and applies migrations before first use, so a
/// cold start never fails on a database that is briefly down: requests get 503 until it answers.
pub struct SqlDb {
    pool: Pool,
    migrated: OnceCell<()>,
}

/// One bound parameter. Nullable variants carry their type so NULL binds cleanly on both engines.
#[derive(Debug, Clone)]
pub enum SqlValue {
    Int(i64),
    Bool(bool),
    Text(Option<String>),
    Time(Option<DateTime<Utc>>),
    Date(NaiveDate),
}

impl From<i64> for SqlValue {
    fn from(v: i64) -> Self {
        Self::Int(v)
    }
}
impl From<i32> for SqlValue {
    fn from(v: i32) -> Self {
        Self::Int(v.into())
    }
}
impl From<bool> for SqlValue {
    fn from(v: bool) -> Self {
        Self::Bool(v)
    }
}
impl From<&str> for SqlValue {
    fn from(v: &str) -> Self {
        Self::Text(Some(v.to_owned()))
    }
}
impl From<Option<&str>> for SqlValue {
    fn from(v: Option<&str>) -> Self {
        Self::Text(v.map(str::to_owned))
    }
}
impl From<DateTime<Utc>> for SqlValue {
    fn from(v: DateTime<Utc>) -> Self {
        Self::Time(Some(v))
    }
}
impl From<Option<DateTime<Utc>>> for SqlValue {
    fn from(v: Option<DateTime<Utc>>) -> Self {
        Self::Time(v)
    }
}
impl From<NaiveDate> for SqlValue {
    fn from(v: NaiveDate) -> Self {
        Self::Date(v)
    }
}

/// A statement under construction: SQL text and its parameters, kept in step.
#[derive(Debug, Default)]
pub struct Statement {
    sql: String,
    values: Vec<SqlValue>,
}

impl Statement {
    pub fn new(sql: &str) -> Self {
        Self { sql: sql.to_owned(), values: Vec::new() }
    }

    /// Appends SQL text.
    pub fn push(mut self, sql: &str) -> Self {
        self.sql.push(' ');
        self.sql.push_str(sql);
        self
    }

    /// Adds the value for the next `?`.
    pub fn bind(mut self, value: impl Into<SqlValue>) -> Self {
        self.values.push(value.into());
        self
    }

    /// Appends `(?, ?, …)` binding every value.
    pub fn push_in_list(mut self, values: impl IntoIterator<Item = SqlValue>) -> Self {
        let start = self.values.len();
        self.values.extend(values);
        let marks = vec!["?"; self.values.len() - start].join(", ");
        self.push(&format!("({marks})"))
    }
}

/// What a write did.
#[derive(Debug, Clone, Copy)]
pub struct Executed {
    pub rows_affected: u64,
    pub last_insert_id: i64,
}

fn arguments<'q, DB>(values: &[SqlValue]) -> Result<DB::Arguments<'q>, StoreError>
where
    DB: Database,
    i64: Encode<'q, DB> + Type<DB>,
    bool: Encode<'q, DB> + Type<DB>,
    Option<String>: Encode<'q, DB> + Type<DB>,
    Option<DateTime<Utc>>: Encode<'q, DB> + Type<DB>,
    NaiveDate: Encode<'q, DB> + Type<DB>,
{
    let mut args = DB::Arguments::<'q>::default();
    for value in values {
        let added: Result<(), BoxDynError> = match value.clone() {
            SqlValue::Int(v) => args.add(v),
            SqlValue::Bool(v) => args.add(v),
            SqlValue::Text(v) => args.add(v),
            SqlValue::Time(v) => args.add(v),
            SqlValue::Date(v) => args.add(v),
        };
        added.map_err(|e| StoreError::Internal(format!("binding {value:?}: {e}")))?;
    }
    Ok(args)
}

/// Sorts a driver error into what the caller can do about it.
pub(crate) fn classify(e: sqlx::Error) -> StoreError {
    use sqlx::Error as E;
    match e {
        E::Io(_) | E::Tls(_) | E::PoolTimedOut | E::PoolClosed | E::WorkerCrashed | E::Protocol(_) => {
            StoreError::Unavailable(e.to_string())
        }
        E::Database(db) => {
            if db.is_unique_violation() {
                return StoreError::Conflict(db.message().to_owned());
            }
            let transient = if let Some(my) = db.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>() {
                // Too many connections, shutdown in progress, lock wait timeout, deadlock,
                // read-only (during an RDS failover).
                matches!(my.number(), 1040 | 1053 | 1205 | 1213 | 1290 | 1836)
            } else {
                // SQLite: SQLITE_BUSY, SQLITE_LOCKED and their extended codes.
                matches!(db.code().as_deref(), Some("5" | "6" | "261" | "262" | "517"))
            };
            if transient { StoreError::Unavailable(db.to_string()) } else { StoreError::Internal(db.to_string()) }
        }
        E::Migrate(m) => match *m {
            sqlx::migrate::MigrateError::Execute(inner) => classify(inner),
            other => StoreError::Internal(other.to_string()),
        },
        other => StoreError::Internal(other.to_string()),
    }
}

impl SqlDb {
    /// Builds the pool without connecting; the first query connects and migrates.
    pub fn connect_lazy(settings: &DatabaseSettings, max_connections: u32) -> Result<Self, StoreError> {
        let acquire_timeout = Duration::from_secs(5);
        let pool = match settings {
            DatabaseSettings::MySql { url } => {
                let options = MySqlConnectOptions::from_str(url)
                    .map_err(|e| StoreError::Internal(format!("DATABASE_URL: {e}")))?;
                Pool::MySql(
                    MySqlPoolOptions::new()
                        .max_connections(max_connections)
                        .acquire_timeout(acquire_timeout)
                        .idle_timeout(Duration::from_secs(300))
                        .connect_lazy_with(options),
                )
            }
            DatabaseSettings::Sqlite { path } => {
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir)
                        .map_err(|e| StoreError::Internal(format!("creating {}: {e}", dir.display())))?;
                }
                Pool::Sqlite(
                    SqlitePoolOptions::new()
                        .max_connections(max_connections)
                        .acquire_timeout(acquire_timeout)
                        .connect_lazy_with(Self::sqlite_options(path)),
                )
            }
        };
        Ok(Self { pool, migrated: OnceCell::new() })
    }

    fn sqlite_options(path: &Path) -> SqliteConnectOptions {
        SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .busy_timeout(Duration::from_secs(5))
    }

    /// Applies pending migrations once per process. Safe when cold starts race: MySQL runs
    /// them under our own advisory lock (sqlx's `GET_LOCK(…, -1)` does not wait on MariaDB),
    /// SQLite retries after losing a race, and every DDL statement is `IF NOT EXISTS`.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        self.migrated
            .get_or_try_init(|| async {
                match &self.pool {
                    Pool::MySql(p) => Self::migrate_mysql_locked(p).await,
                    Pool::Sqlite(p) => Self::migrate_sqlite(p).await,
                }
            })
            .await
            .map(|_| ())
    }

    fn migrate_error(e: sqlx::migrate::MigrateError) -> StoreError {
        classify(sqlx::Error::Migrate(Box::new(e)))
    }

    /// sqlx takes no lock on SQLite: two processes opening a new file may both try a migration.
    /// Each migration commits with its bookkeeping row, so the loser's attempt rolls back on
    /// that row's key; running again then finds it applied.
    async fn migrate_sqlite(pool: &SqlitePool) -> Result<(), StoreError> {
        let mut attempt = 0;
        loop {
            match SQLITE_MIGRATIONS.run(pool).await.map_err(Self::migrate_error) {
                Err(StoreError::Conflict(_)) if attempt < 5 => {
                    attempt += 1;
                    tokio::time::sleep(Duration::from_millis(20 * attempt)).await;
                }
                done => return done,
            }
        }
    }

    async fn migrate_mysql_locked(pool: &MySqlPool) -> Result<(), StoreError> {
        const LOCK: &str = "CONCAT('portforge_migrate_', DATABASE())";
        let mut conn = pool.acquire().await.map_err(classify)?;
        let (granted,): (Option<i64>,) =
            sqlx::query_as(&format!("SELECT GET_LOCK({LOCK}, 60)")).fetch_one(&mut *conn).await.map_err(classify)?;
        if granted != Some(1) {
            return Err(StoreError::Unavailable("timed out waiting for the migration lock".into()));
        }
        let migrated = MYSQL_MIGRATIONS.run_direct(&mut *conn).await.map_err(Self::migrate_error);
        // The lock also ends with the session; releasing it now lets the next cold start go on.
        let released = sqlx::query(&format!("DO RELEASE_LOCK({LOCK})")).execute(&mut *conn).await;
        migrated?;
        released.map(|_| ()).map_err(classify)
    }

    pub async fn fetch_all<T>(&self, stmt: &Statement) -> Result<Vec<T>, StoreError>
    where
        T: for<'r> FromRow<'r, MySqlRow> + for<'r> FromRow<'r, SqliteRow> + Send + Unpin,
    {
        self.migrate().await?;
        match &self.pool {
            Pool::MySql(p) => {
                sqlx::query_as_with::<MySql, T, _>(&stmt.sql, arguments::<MySql>(&stmt.values)?).fetch_all(p).await
            }
            Pool::Sqlite(p) => {
                sqlx::query_as_with::<Sqlite, T, _>(&stmt.sql, arguments::<Sqlite>(&stmt.values)?).fetch_all(p).await
            }
        }
        .map_err(classify)
    }

    pub async fn fetch_optional<T>(&self, stmt: &Statement) -> Result<Option<T>, StoreError>
    where
        T: for<'r> FromRow<'r, MySqlRow> + for<'r> FromRow<'r, SqliteRow> + Send + Unpin,
    {
        Ok(self.fetch_all(stmt).await?.into_iter().next())
    }

    pub async fn fetch_count(&self, stmt: &Statement) -> Result<i64, StoreError> {
        let row: Option<(i64,)> = self.fetch_optional(stmt).await?;
        Ok(row.map_or(0, |(n,)| n))
    }

    pub async fn execute(&self, stmt: &Statement) -> Result<Executed, StoreError> {
        self.migrate().await?;
        match &self.pool {
            Pool::MySql(p) => sqlx::query_with::<MySql, _>(&stmt.sql, arguments::<MySql>(&stmt.values)?)
                .execute(p)
                .await
                .map(|r| Executed {
                    rows_affected: r.rows_affected(),
                    last_insert_id: i64::try_from(r.last_insert_id()).unwrap_or(i64::MAX),
                }),
            Pool::Sqlite(p) => sqlx::query_with::<Sqlite, _>(&stmt.sql, arguments::<Sqlite>(&stmt.values)?)
                .execute(p)
                .await
                .map(|r| Executed { rows_affected: r.rows_affected(), last_insert_id: r.last_insert_rowid() }),
        }
        .map_err(classify)
    }

    /// Runs the statements in one transaction: all take effect or none.
    pub async fn execute_atomically(&self, stmts: &[Statement]) -> Result<(), StoreError> {
        self.migrate().await?;
        match &self.pool {
            Pool::MySql(p) => {
                let mut tx = p.begin().await.map_err(classify)?;
                for stmt in stmts {
                    sqlx::query_with::<MySql, _>(&stmt.sql, arguments::<MySql>(&stmt.values)?)
                        .execute(&mut *tx)
                        .await
                        .map_err(classify)?;
                }
                tx.commit().await.map_err(classify)
            }
            Pool::Sqlite(p) => {
                let mut tx = p.begin().await.map_err(classify)?;
                for stmt in stmts {
                    sqlx::query_with::<Sqlite, _>(&stmt.sql, arguments::<Sqlite>(&stmt.values)?)
                        .execute(&mut *tx)
                        .await
                        .map_err(classify)?;
                }
                tx.commit().await.map_err(classify)
            }
        }
    }

    /// Finishes an update guarded by `updated_at`: no row changed means gone or changed meanwhile.
    async fn guarded<T>(
        &self,
        rows_affected: u64,
        reread: impl std::future::Future<Output = Result<Option<T>, StoreError>>,
    ) -> Result<super::Guarded<T>, StoreError> {
        use super::Guarded;
        Ok(match (rows_affected, reread.await?) {
            (_, None) => Guarded::Missing,
            (0, Some(_)) => Guarded::Stale,
            (_, Some(row)) => Guarded::Updated(row),
        })
    }

    /// Closes every pooled connection (SQLite checkpoints its WAL), for graceful shutdown.
    pub async fn close(&self) {
        match &self.pool {
            Pool::MySql(p) => p.close().await,
            Pool::Sqlite(p) => p.close().await,
        }
    }

    pub fn backend(&self) -> &'static str {
        match self.pool {
            Pool::MySql(_) => "mysql",
            Pool::Sqlite(_) => "sqlite",
        }
    }
}

#[async_trait::async_trait]
impl HealthProbe for SqlDb {
    async fn ping(&self) -> Result<(), StoreError> {
        let one = self.fetch_count(&Statement::new("SELECT 1")).await?;
        if one == 1 { Ok(()) } else { Err(StoreError::Internal(format!("SELECT 1 returned {one}"))) }
    }
}
