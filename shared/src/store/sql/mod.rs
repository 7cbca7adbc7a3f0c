//! The SQL adapter: one implementation of every relational port over MySQL (RDS) or the
//! embedded SQLite file. Each statement is written once in the dialect both engines share
//! (`?` placeholders, no `RETURNING`) and dispatched to whichever pool is configured.

mod chat;
mod content;
mod events;
mod notifications;
mod reports;

#[cfg(not(any(feature = "mysql", feature = "sqlite")))]
compile_error!("the SQL adapter needs a backend: enable the `mysql` or `sqlite` feature");

use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
#[cfg(feature = "mysql")]
use sqlx::mysql::{MySqlConnectOptions, MySqlPool, MySqlPoolOptions, MySqlRow};
#[cfg(feature = "sqlite")]
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow};
use sqlx::{Arguments, Database, Encode, Type, error::BoxDynError, migrate::Migrator};
use tokio::sync::OnceCell;

use super::{HealthProbe, StoreError};
use crate::config::DatabaseSettings;
use crate::domain::{BannerId, EventId, NoticeId, NotificationId, ProjectId, ReportId, UserId};

#[cfg(feature = "mysql")]
static MYSQL_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/mysql");
#[cfg(feature = "sqlite")]
static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/sqlite");

#[derive(Clone)]
enum Pool {
    #[cfg(feature = "mysql")]
    MySql(MySqlPool),
    #[cfg(feature = "sqlite")]
    Sqlite(SqlitePool),
}

/// Runs `$body` once per configured engine, with `$pool` bound to the pool and the type `Db`
/// to its sqlx database: each statement is written once and dispatched to whichever pool exists.
macro_rules! on_pool {
    ($pool:expr, $p:ident => $body:expr) => {
        match $pool {
            #[cfg(feature = "mysql")]
            Pool::MySql($p) => {
                #[allow(dead_code)]
                type Db = sqlx::MySql;
                $body
            }
            #[cfg(feature = "sqlite")]
            Pool::Sqlite($p) => {
                #[allow(dead_code)]
                type Db = sqlx::Sqlite;
                $body
            }
        }
    };
}

/// Rows decodable by each engine this build has (one trait, whichever engines those are).
#[cfg(feature = "mysql")]
pub trait FromMySqlRow: for<'r> sqlx::FromRow<'r, MySqlRow> {}
#[cfg(feature = "mysql")]
impl<T: for<'r> sqlx::FromRow<'r, MySqlRow>> FromMySqlRow for T {}
#[cfg(not(feature = "mysql"))]
pub trait FromMySqlRow {}
#[cfg(not(feature = "mysql"))]
impl<T> FromMySqlRow for T {}
#[cfg(feature = "sqlite")]
pub trait FromSqliteRow: for<'r> sqlx::FromRow<'r, SqliteRow> {}
#[cfg(feature = "sqlite")]
impl<T: for<'r> sqlx::FromRow<'r, SqliteRow>> FromSqliteRow for T {}
#[cfg(not(feature = "sqlite"))]
pub trait FromSqliteRow {}
#[cfg(not(feature = "sqlite"))]
impl<T> FromSqliteRow for T {}

pub trait FromAnyRow: FromMySqlRow + FromSqliteRow + Send + Unpin {}
impl<T: FromMySqlRow + FromSqliteRow + Send + Unpin> FromAnyRow for T {}

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
    NullableInt(Option<i64>),
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
impl From<Option<i64>> for SqlValue {
    fn from(v: Option<i64>) -> Self {
        Self::NullableInt(v)
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

/// Ids bind as their integer.
macro_rules! bind_numeric_id {
    ($($id:ty),+) => {$(
        impl From<$id> for SqlValue {
            fn from(v: $id) -> Self {
                Self::Int(v.get())
            }
        }
    )+};
}
bind_numeric_id!(ProjectId, NotificationId, NoticeId, BannerId, EventId, ReportId);

impl From<&UserId> for SqlValue {
    fn from(v: &UserId) -> Self {
        Self::Text(Some(v.as_str().to_owned()))
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

/// One statement of a transaction. A guard must change at least one row, or the transaction is
/// rolled back: the way to make "only if it is still as I read it" part of a transaction.
#[derive(Debug)]
pub struct Step<'a> {
    pub statement: &'a Statement,
    pub guard: bool,
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
    Option<i64>: Encode<'q, DB> + Type<DB>,
    bool: Encode<'q, DB> + Type<DB>,
    Option<String>: Encode<'q, DB> + Type<DB>,
    Option<DateTime<Utc>>: Encode<'q, DB> + Type<DB>,
    NaiveDate: Encode<'q, DB> + Type<DB>,
{
    let mut args = DB::Arguments::<'q>::default();
    for value in values {
        let added: Result<(), BoxDynError> = match value.clone() {
            SqlValue::Int(v) => args.add(v),
            SqlValue::NullableInt(v) => args.add(v),
            SqlValue::Bool(v) => args.add(v),
            SqlValue::Text(v) => args.add(v),
            SqlValue::Time(v) => args.add(v),
            SqlValue::Date(v) => args.add(v),
        };
        added.map_err(|e| StoreError::Internal(format!("binding {value:?}: {e}")))?;
    }
    Ok(args)
}

/// Sorts a driver error into what the caller can do about it. The driver's text goes to the
/// log through `StoreError`'s detail, never to a client (see `AppError::from`).
pub(crate) fn classify(e: sqlx::Error) -> StoreError {
    use sqlx::Error as E;
    match e {
        E::Io(_) | E::Tls(_) | E::PoolTimedOut | E::PoolClosed | E::WorkerCrashed | E::Protocol(_) => {
            StoreError::Unavailable(e.to_string())
        }
        E::Database(db) if db.is_unique_violation() => StoreError::Conflict(db.message().to_owned()),
        E::Database(db) if is_transient(db.as_ref()) => StoreError::Unavailable(db.to_string()),
        E::Database(db) => StoreError::Internal(db.to_string()),
        E::Migrate(m) => match *m {
            sqlx::migrate::MigrateError::Execute(inner) => classify(inner),
            other => StoreError::Internal(other.to_string()),
        },
        other => StoreError::Internal(other.to_string()),
    }
}

/// Errors a retry may cure: too many connections, shutdown in progress, lock wait timeout,
/// deadlock, read-only during an RDS failover (MySQL); busy or locked (SQLite).
fn is_transient(db: &dyn sqlx::error::DatabaseError) -> bool {
    #[cfg(feature = "mysql")]
    if let Some(my) = db.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>() {
        return matches!(my.number(), 1040 | 1053 | 1205 | 1213 | 1290 | 1836);
    }
    #[cfg(feature = "sqlite")]
    if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
        // SQLITE_BUSY, SQLITE_LOCKED and their extended codes.
        return matches!(db.code().as_deref(), Some("5" | "6" | "261" | "262" | "517"));
    }
    false
}

impl SqlDb {
    /// Builds the pool without connecting; the first query connects and migrates.
    pub fn connect_lazy(settings: &DatabaseSettings, max_connections: u32) -> Result<Self, StoreError> {
        let acquire_timeout = Duration::from_secs(5);
        let pool = match settings {
            #[cfg(feature = "mysql")]
            DatabaseSettings::MySql { url } => {
                let options: MySqlConnectOptions =
                    url.parse().map_err(|e| StoreError::Internal(format!("DATABASE_URL: {e}")))?;
                Pool::MySql(
                    MySqlPoolOptions::new()
                        .max_connections(max_connections)
                        .acquire_timeout(acquire_timeout)
                        .idle_timeout(Duration::from_secs(300))
                        .connect_lazy_with(options),
                )
            }
            #[cfg(feature = "sqlite")]
            DatabaseSettings::Sqlite { path } => {
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir)
                        .map_err(|e| StoreError::Internal(format!("creating {}: {e}", dir.display())))?;
                }
                let options = SqliteConnectOptions::new()
                    .filename(path)
                    .create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    .busy_timeout(Duration::from_secs(5));
                Pool::Sqlite(
                    SqlitePoolOptions::new()
                        .max_connections(max_connections)
                        .acquire_timeout(acquire_timeout)
                        .connect_lazy_with(options),
                )
            }
            #[allow(unreachable_patterns)]
            other => {
                return Err(StoreError::Internal(format!("this build has no driver for {}", other.engine())));
            }
        };
        Ok(Self { pool, migrated: OnceCell::new() })
    }

    /// Applies pending migrations once per process. Safe when cold starts race: MySQL runs
    /// them under our own advisory lock (sqlx's `GET_LOCK(…, -1)` does not wait on MariaDB),
    /// SQLite retries after losing a race, and every DDL statement is `IF NOT EXISTS`.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        self.migrated
            .get_or_try_init(|| async {
                match &self.pool {
                    #[cfg(feature = "mysql")]
                    Pool::MySql(p) => Self::migrate_mysql_locked(p).await,
                    #[cfg(feature = "sqlite")]
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
    /// Each migration commits with its bookkeeping row, so the loser's attempt fails (on that
    /// row's key, or on DDL the winner already ran) and rolls back whole; running again then
    /// finds it applied. A migration that is truly broken fails every attempt.
    #[cfg(feature = "sqlite")]
    async fn migrate_sqlite(pool: &SqlitePool) -> Result<(), StoreError> {
        let mut attempt = 0;
        loop {
            match SQLITE_MIGRATIONS.run(pool).await.map_err(Self::migrate_error) {
                Err(e) if attempt < 5 => {
                    attempt += 1;
                    tracing::debug!(error = %e, attempt, "migration lost a race; running again");
                    tokio::time::sleep(Duration::from_millis(20 * attempt)).await;
                }
                done => return done,
            }
        }
    }

    #[cfg(feature = "mysql")]
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

    pub async fn fetch_all<T: FromAnyRow>(&self, stmt: &Statement) -> Result<Vec<T>, StoreError> {
        self.migrate().await?;
        on_pool!(&self.pool, p => {
            sqlx::query_as_with::<Db, T, _>(&stmt.sql, arguments::<Db>(&stmt.values)?).fetch_all(p).await
        })
        .map_err(classify)
    }

    pub async fn fetch_optional<T: FromAnyRow>(&self, stmt: &Statement) -> Result<Option<T>, StoreError> {
        Ok(self.fetch_all(stmt).await?.into_iter().next())
    }

    pub async fn fetch_count(&self, stmt: &Statement) -> Result<i64, StoreError> {
        let row: Option<(i64,)> = self.fetch_optional(stmt).await?;
        Ok(row.map_or(0, |(n,)| n))
    }

    pub async fn execute(&self, stmt: &Statement) -> Result<Executed, StoreError> {
        self.migrate().await?;
        on_pool!(&self.pool, p => {
            sqlx::query_with::<Db, _>(&stmt.sql, arguments::<Db>(&stmt.values)?)
                .execute(p)
                .await
                .map(|done| Executed::from(&done))
        })
        .map_err(classify)
    }

    /// Runs the statements in one transaction: all take effect or none.
    pub async fn execute_atomically(&self, stmts: &[Statement]) -> Result<(), StoreError> {
        let steps: Vec<Step<'_>> = stmts.iter().map(|statement| Step { statement, guard: false }).collect();
        self.transact(&steps).await.map(|_| ())
    }

    /// Runs the steps in one transaction and returns what each did; `None`, with nothing
    /// written, when a guard step changed no row.
    pub async fn transact(&self, steps: &[Step<'_>]) -> Result<Option<Vec<Executed>>, StoreError> {
        self.migrate().await?;
        on_pool!(&self.pool, p => {
            let mut tx = p.begin().await.map_err(classify)?;
            let mut done = Vec::with_capacity(steps.len());
            for step in steps {
                let executed = sqlx::query_with::<Db, _>(&step.statement.sql, arguments::<Db>(&step.statement.values)?)
                    .execute(&mut *tx)
                    .await
                    .map(|result| Executed::from(&result))
                    .map_err(classify)?;
                if step.guard && executed.rows_affected == 0 {
                    tx.rollback().await.map_err(classify)?;
                    return Ok(None);
                }
                done.push(executed);
            }
            tx.commit().await.map_err(classify)?;
            Ok(Some(done))
        })
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
        on_pool!(&self.pool, p => p.close().await)
    }

    pub fn backend(&self) -> &'static str {
        match self.pool {
            #[cfg(feature = "mysql")]
            Pool::MySql(_) => "mysql",
            #[cfg(feature = "sqlite")]
            Pool::Sqlite(_) => "sqlite",
        }
    }
}

#[cfg(feature = "mysql")]
impl From<&sqlx::mysql::MySqlQueryResult> for Executed {
    fn from(done: &sqlx::mysql::MySqlQueryResult) -> Self {
        Self {
            rows_affected: done.rows_affected(),
            last_insert_id: i64::try_from(done.last_insert_id()).unwrap_or(i64::MAX),
        }
    }
}

#[cfg(feature = "sqlite")]
impl From<&sqlx::sqlite::SqliteQueryResult> for Executed {
    fn from(done: &sqlx::sqlite::SqliteQueryResult) -> Self {
        Self { rows_affected: done.rows_affected(), last_insert_id: done.last_insert_rowid() }
    }
}

#[async_trait::async_trait]
impl HealthProbe for SqlDb {
    async fn ping(&self) -> Result<(), StoreError> {
        let one = self.fetch_count(&Statement::new("SELECT 1")).await?;
        if one == 1 { Ok(()) } else { Err(StoreError::Internal(format!("SELECT 1 returned {one}"))) }
    }
}
