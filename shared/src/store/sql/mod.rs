//! The SQL adapter: one implementation of every relational port over MySQL (RDS) or the
//! embedded SQLite file. Each statement is written once in the dialect both engines share
//! (`?` placeholders, no `RETURNING`) and dispatched to whichever pool is configured.

mod chat;
mod content;
mod events;
mod notifications;
#[cfg(feature = "mysql")]
mod rds;
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
use crate::config::{Config, DatabaseSettings};
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

/// A configured SQL database. Connects lazily and, before its first query, makes sure of the
/// schema (see [`SchemaPolicy`]), so a cold start never fails on a database that is briefly
/// down: requests get 503 until it answers.
pub struct SqlDb {
    pool: Pool,
    schema: SchemaPolicy,
    ready: OnceCell<()>,
    /// Until when requests answer "unavailable" at once: set when the server could not be
    /// reached (see [`UNREACHABLE_COOLDOWN`]).
    unreachable_until: std::sync::Mutex<Option<std::time::Instant>>,
    /// One request at a time checks whether an unreachable server is back; the others answer
    /// "unavailable" at once meanwhile.
    probing: std::sync::atomic::AtomicBool,
    #[cfg(feature = "mysql")]
    credentials: Option<rds::SecretCredentials>,
    /// The newest migration of the release this code is: all it carries, unless a test plays
    /// an earlier release (see [`SqlDb::as_release`]).
    release_cap: Option<i64>,
}

/// After the server could not be reached, requests answer 503 at once for this long instead of
/// each waiting out a connection attempt (up to the pool's 5 s acquire timeout); then one
/// request checks the server while the others still answer 503 at once.
const UNREACHABLE_COOLDOWN: std::time::Duration = std::time::Duration::from_secs(1);

/// Who brings the schema up to date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchemaPolicy {
    /// This process applies pending migrations before its first query: the local gateway, the
    /// tests, and the deploy's `migrate` function.
    Migrate,
    /// The deploy migrates; this process only checks, once per cold start, that every migration
    /// of this release is applied, and answers 503 `SCHEMA_NOT_READY` until it is. The Lambda
    /// functions that serve requests: their database user needs no DDL rights.
    RequireCurrent,
}

/// Where the database's schema stands against this release.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SchemaStatus {
    pub applied: Vec<i64>,
    pub pending: Vec<i64>,
    /// Started by a run that was cut off; the next run applies them again.
    pub interrupted: Vec<i64>,
}

/// What a migration run did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MigrationReport {
    /// Versions this run applied (re-applied, for one an interrupted run had left behind).
    pub applied: Vec<i64>,
    /// The newest version of this release, now in place.
    pub schema_version: i64,
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

/// How an instant is bound. MySQL: as a `DATETIME` (sqlx sends `DateTime<Utc>` as a
/// `TIMESTAMP`, which MariaDB turns into NULL outside 1970–2038, though the columns hold
/// 1000–9999). SQLite: as the RFC 3339 text its rows hold.
trait BindInstant<'q>: Database {
    fn add_instant(args: &mut Self::Arguments<'q>, at: Option<DateTime<Utc>>) -> Result<(), BoxDynError>;
}

#[cfg(feature = "mysql")]
impl<'q> BindInstant<'q> for sqlx::MySql {
    fn add_instant(args: &mut Self::Arguments<'q>, at: Option<DateTime<Utc>>) -> Result<(), BoxDynError> {
        args.add(at.map(|at| at.naive_utc()))
    }
}

#[cfg(feature = "sqlite")]
impl<'q> BindInstant<'q> for sqlx::Sqlite {
    fn add_instant(args: &mut Self::Arguments<'q>, at: Option<DateTime<Utc>>) -> Result<(), BoxDynError> {
        args.add(at)
    }
}

fn arguments<'q, DB>(values: &[SqlValue]) -> Result<DB::Arguments<'q>, StoreError>
where
    DB: BindInstant<'q>,
    i64: Encode<'q, DB> + Type<DB>,
    Option<i64>: Encode<'q, DB> + Type<DB>,
    bool: Encode<'q, DB> + Type<DB>,
    Option<String>: Encode<'q, DB> + Type<DB>,
    NaiveDate: Encode<'q, DB> + Type<DB>,
{
    let mut args = DB::Arguments::<'q>::default();
    for value in values {
        let added: Result<(), BoxDynError> = match value.clone() {
            SqlValue::Int(v) => args.add(v),
            SqlValue::NullableInt(v) => args.add(v),
            SqlValue::Bool(v) => args.add(v),
            SqlValue::Text(v) => args.add(v),
            SqlValue::Time(v) => DB::add_instant(&mut args, v),
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

/// The table does not exist: MySQL 1146, SQLite's "no such table".
fn is_missing_table(db: &dyn sqlx::error::DatabaseError) -> bool {
    #[cfg(feature = "mysql")]
    if let Some(my) = db.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>() {
        return my.number() == 1146;
    }
    db.message().contains("no such table")
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
    /// Builds the pool without connecting; the first query connects and migrates. For local
    /// runs and tests (a database given by URL).
    pub fn connect_lazy(settings: &DatabaseSettings, max_connections: u32) -> Result<Self, StoreError> {
        Self::build(settings, max_connections, SchemaPolicy::Migrate, None)
    }

    /// The database of a Lambda function, from its configuration: credentials from Secrets
    /// Manager when `DATABASE_SECRET_ARN` is set; the schema checked, or migrated by the deploy's
    /// `migrate` function, as `schema` says.
    pub fn for_lambda(config: &Config, schema: SchemaPolicy) -> Result<Self, StoreError> {
        let settings = config.require_database().map_err(|e| StoreError::Internal(e.to_string()))?;
        Self::build(&settings, config.db_max_connections, schema, Some(&config.secrets_extension_url))
    }

    fn build(
        settings: &DatabaseSettings,
        max_connections: u32,
        schema: SchemaPolicy,
        secrets_extension_url: Option<&str>,
    ) -> Result<Self, StoreError> {
        let acquire_timeout = Duration::from_secs(5);
        #[cfg(feature = "mysql")]
        let mut credentials = None;
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
            #[cfg(feature = "mysql")]
            DatabaseSettings::MySqlSecret(secret) => {
                let secret = rds::SecretCredentials::new(
                    secret.clone(),
                    secrets_extension_url.unwrap_or("http://localhost:2773"),
                );
                let pool = MySqlPoolOptions::new()
                    .max_connections(max_connections)
                    .acquire_timeout(acquire_timeout)
                    .idle_timeout(Duration::from_secs(300))
                    .connect_lazy_with(secret.placeholder());
                credentials = Some(secret);
                Pool::MySql(pool)
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
        #[cfg(not(feature = "mysql"))]
        let _ = secrets_extension_url;
        Ok(Self {
            pool,
            schema,
            ready: OnceCell::new(),
            unreachable_until: std::sync::Mutex::new(None),
            probing: std::sync::atomic::AtomicBool::new(false),
            #[cfg(feature = "mysql")]
            credentials,
            release_cap: None,
        })
    }

    /// This database as the release whose newest migration is `newest` handles it: what a
    /// rollback runs, that release's code against a schema that may be ahead of it.
    pub fn as_release(self, newest: i64) -> Self {
        Self { release_cap: Some(newest), ..self }
    }

    /// This release's migrator. It minds no version the database holds beyond its own
    /// (`ignore_missing`): a rollback runs the previous release's code against the schema the
    /// failed release already migrated, and sqlx would otherwise refuse it (`VersionMissing`),
    /// failing the rollback too. Every migration is additive and safe to run again, so the
    /// older code works with the newer schema.
    fn migrator(&self) -> Migrator {
        let all = self.all_migrations();
        let migrations = self.release_migrations().cloned().collect();
        // sqlx's own `migrate!` fills these fields the same way (they are public for it).
        Migrator {
            migrations: std::borrow::Cow::Owned(migrations),
            ignore_missing: true,
            locking: all.locking,
            no_tx: all.no_tx,
        }
    }

    /// Before each query: the server not known to be unreachable, credentials in place (read
    /// again after MySQL refused them), and, once per process, the schema as [`SchemaPolicy`] says.
    async fn ready(&self) -> Result<(), StoreError> {
        use std::sync::atomic::Ordering;
        let until = *self.unreachable_until.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(until) = until {
            let unavailable = || Err(StoreError::Unavailable("the database was unreachable a moment ago".into()));
            if std::time::Instant::now() < until || self.probing.swap(true, Ordering::AcqRel) {
                return unavailable();
            }
            // This request checks whether the server is back; a failure sets the cooldown again.
            // The flag is cleared however the check ends, a dropped request included.
            struct Probing<'a>(&'a std::sync::atomic::AtomicBool);
            impl Drop for Probing<'_> {
                fn drop(&mut self) {
                    self.0.store(false, Ordering::Release);
                }
            }
            let _probing = Probing(&self.probing);
            let pinged = on_pool!(&self.pool, p => sqlx::query("SELECT 1").execute(p).await.map(|_| ()));
            pinged.map_err(|e| self.classify(e))?;
            *self.unreachable_until.lock().unwrap_or_else(|e| e.into_inner()) = None;
        }
        #[cfg(feature = "mysql")]
        if let (Some(credentials), Pool::MySql(pool)) = (&self.credentials, &self.pool) {
            credentials.apply(pool, !self.ready.initialized()).await?;
        }
        self.ready
            .get_or_try_init(|| async {
                match self.schema {
                    SchemaPolicy::Migrate => self.run_migrations().await.map(|_| ()),
                    SchemaPolicy::RequireCurrent => self.check_schema().await,
                }
            })
            .await
            .map(|_| ())
    }

    /// Applies pending migrations now, whatever the policy: the deploy's `migrate` step and the
    /// local `migrate` command. Safe when runs race (see `run_migrations`).
    pub async fn migrate(&self) -> Result<MigrationReport, StoreError> {
        #[cfg(feature = "mysql")]
        if let (Some(credentials), Pool::MySql(pool)) = (&self.credentials, &self.pool) {
            credentials.apply(pool, true).await?;
        }
        self.run_migrations().await
    }

    /// The versions of this release's migrations, oldest first.
    pub fn release_versions(&self) -> Vec<i64> {
        self.release_migrations().filter(|m| m.migration_type.is_up_migration()).map(|m| m.version).collect()
    }

    /// Every migration this build carries for its engine.
    fn all_migrations(&self) -> &'static Migrator {
        match &self.pool {
            #[cfg(feature = "mysql")]
            Pool::MySql(_) => &MYSQL_MIGRATIONS,
            #[cfg(feature = "sqlite")]
            Pool::Sqlite(_) => &SQLITE_MIGRATIONS,
        }
    }

    /// This release's migrations (all of them, unless a test plays an earlier release).
    fn release_migrations(&self) -> impl Iterator<Item = &'static sqlx::migrate::Migration> + '_ {
        self.all_migrations().iter().filter(|m| self.release_cap.is_none_or(|cap| m.version <= cap))
    }

    /// Versions recorded as applied, and those an interrupted run left half done.
    async fn recorded_versions(&self) -> Result<(Vec<i64>, Vec<i64>), StoreError> {
        let rows: Result<Vec<(i64, bool)>, sqlx::Error> = on_pool!(&self.pool, p => {
            sqlx::query_as::<Db, (i64, bool)>("SELECT version, success FROM _sqlx_migrations").fetch_all(p).await
        });
        match rows {
            Ok(rows) => Ok((
                rows.iter().filter(|(_, ok)| *ok).map(|(v, _)| *v).collect(),
                rows.iter().filter(|(_, ok)| !*ok).map(|(v, _)| *v).collect(),
            )),
            // No bookkeeping table: nothing was ever applied.
            Err(sqlx::Error::Database(db)) if is_missing_table(db.as_ref()) => Ok((vec![], vec![])),
            Err(e) => Err(self.classify(e)),
        }
    }

    /// Which of this release's migrations are applied, pending or left unfinished.
    pub async fn schema_status(&self) -> Result<SchemaStatus, StoreError> {
        #[cfg(feature = "mysql")]
        if let (Some(credentials), Pool::MySql(pool)) = (&self.credentials, &self.pool) {
            credentials.apply(pool, true).await?;
        }
        let (applied, interrupted) = self.recorded_versions().await?;
        let pending = self.release_versions().into_iter().filter(|v| !applied.contains(v)).collect();
        Ok(SchemaStatus { applied, pending, interrupted })
    }

    async fn check_schema(&self) -> Result<(), StoreError> {
        let (applied, interrupted) = self.recorded_versions().await?;
        let missing: Vec<i64> = self.release_versions().into_iter().filter(|v| !applied.contains(v)).collect();
        if missing.is_empty() {
            return Ok(());
        }
        Err(StoreError::SchemaBehind(format!(
            "migrations {missing:?} are not applied{}; run the deploy's migrate step",
            if interrupted.is_empty() { String::new() } else { format!(" ({interrupted:?} interrupted)") }
        )))
    }

    async fn run_migrations(&self) -> Result<MigrationReport, StoreError> {
        let (before, _) = self.recorded_versions().await?;
        match &self.pool {
            #[cfg(feature = "mysql")]
            Pool::MySql(p) => self.migrate_mysql_locked(p).await?,
            #[cfg(feature = "sqlite")]
            Pool::Sqlite(p) => self.migrate_sqlite(p).await?,
        }
        let release = self.release_versions();
        Ok(MigrationReport {
            applied: release.iter().copied().filter(|v| !before.contains(v)).collect(),
            schema_version: release.last().copied().unwrap_or(0),
        })
    }

    /// Classifies a driver error, and notes a refusal of the credentials so that the next
    /// query reads the secret again.
    fn classify(&self, e: sqlx::Error) -> StoreError {
        if matches!(e, sqlx::Error::Io(_) | sqlx::Error::Tls(_) | sqlx::Error::PoolTimedOut) {
            let mut until = self.unreachable_until.lock().unwrap_or_else(|e| e.into_inner());
            *until = Some(std::time::Instant::now() + UNREACHABLE_COOLDOWN);
        }
        #[cfg(feature = "mysql")]
        if let (Some(credentials), sqlx::Error::Database(db)) = (&self.credentials, &e)
            && let Some(my) = db.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>()
            && rds::ACCESS_DENIED.contains(&my.number())
        {
            credentials.note_rejected();
            return StoreError::Unavailable(format!("MySQL refused the credentials: {e}"));
        }
        classify(e)
    }

    fn migrate_error(e: sqlx::migrate::MigrateError) -> StoreError {
        classify(sqlx::Error::Migrate(Box::new(e)))
    }

    /// sqlx takes no lock on SQLite: two processes opening a new file may both try a migration.
    /// Each migration commits with its bookkeeping row, so the loser's attempt fails (on that
    /// row's key, or on DDL the winner already ran) and rolls back whole; running again then
    /// finds it applied. A migration that is truly broken fails every attempt.
    #[cfg(feature = "sqlite")]
    async fn migrate_sqlite(&self, pool: &SqlitePool) -> Result<(), StoreError> {
        let migrator = self.migrator();
        let mut attempt = 0;
        loop {
            match migrator.run(pool).await.map_err(Self::migrate_error) {
                Err(e) if attempt < 5 => {
                    attempt += 1;
                    tracing::debug!(error = %e, attempt, "migration lost a race; running again");
                    tokio::time::sleep(Duration::from_millis(20 * attempt)).await;
                }
                done => return done,
            }
        }
    }

    /// Runs MySQL's migrations under our own advisory lock (sqlx's `GET_LOCK(…, -1)` does not
    /// wait on MariaDB), so racing runs take turns. MySQL cannot roll DDL back, so sqlx marks a
    /// migration it started as unfinished until it ends; a run that was cut off (a timeout, a
    /// lost connection) leaves that mark behind and sqlx then refuses to go on. Every migration
    /// here is written to be re-run safely (guarded DDL, idempotent data changes: a test runs
    /// them all twice), so the mark is cleared and the migration simply runs again.
    #[cfg(feature = "mysql")]
    async fn migrate_mysql_locked(&self, pool: &MySqlPool) -> Result<(), StoreError> {
        const LOCK: &str = "CONCAT('portforge_migrate_', DATABASE())";
        let mut conn = pool.acquire().await.map_err(|e| self.classify(e))?;
        let (granted,): (Option<i64>,) = sqlx::query_as(&format!("SELECT GET_LOCK({LOCK}, 60)"))
            .fetch_one(&mut *conn)
            .await
            .map_err(|e| self.classify(e))?;
        if granted != Some(1) {
            return Err(StoreError::Unavailable("timed out waiting for the migration lock".into()));
        }
        let migrated = async {
            let cleared = sqlx::query("DELETE FROM _sqlx_migrations WHERE success = 0").execute(&mut *conn).await;
            match cleared {
                Ok(done) if done.rows_affected() > 0 => {
                    tracing::warn!(
                        count = done.rows_affected(),
                        "re-running migrations an earlier run left unfinished"
                    );
                }
                Ok(_) => {}
                Err(sqlx::Error::Database(db)) if is_missing_table(db.as_ref()) => {}
                Err(e) => return Err(self.classify(e)),
            }
            self.migrator().run_direct(&mut *conn).await.map_err(Self::migrate_error)
        }
        .await;
        // The lock also ends with the session; releasing it now lets the next run go on.
        let released = sqlx::query(&format!("DO RELEASE_LOCK({LOCK})")).execute(&mut *conn).await;
        migrated?;
        released.map(|_| ()).map_err(|e| self.classify(e))
    }

    pub async fn fetch_all<T: FromAnyRow>(&self, stmt: &Statement) -> Result<Vec<T>, StoreError> {
        self.ready().await?;
        on_pool!(&self.pool, p => {
            sqlx::query_as_with::<Db, T, _>(&stmt.sql, arguments::<Db>(&stmt.values)?).fetch_all(p).await
        })
        .map_err(|e| self.classify(e))
    }

    /// The first row, read alone: the rest are never fetched.
    pub async fn fetch_optional<T: FromAnyRow>(&self, stmt: &Statement) -> Result<Option<T>, StoreError> {
        self.ready().await?;
        on_pool!(&self.pool, p => {
            sqlx::query_as_with::<Db, T, _>(&stmt.sql, arguments::<Db>(&stmt.values)?).fetch_optional(p).await
        })
        .map_err(|e| self.classify(e))
    }

    pub async fn fetch_count(&self, stmt: &Statement) -> Result<i64, StoreError> {
        let row: Option<(i64,)> = self.fetch_optional(stmt).await?;
        Ok(row.map_or(0, |(n,)| n))
    }

    pub async fn execute(&self, stmt: &Statement) -> Result<Executed, StoreError> {
        self.ready().await?;
        on_pool!(&self.pool, p => {
            sqlx::query_with::<Db, _>(&stmt.sql, arguments::<Db>(&stmt.values)?)
                .execute(p)
                .await
                .map(|done| Executed::from(&done))
        })
        .map_err(|e| self.classify(e))
    }

    /// Runs the statements in one transaction: all take effect or none.
    pub async fn execute_atomically(&self, stmts: &[Statement]) -> Result<(), StoreError> {
        let steps: Vec<Step<'_>> = stmts.iter().map(|statement| Step { statement, guard: false }).collect();
        self.transact(&steps).await.map(|_| ())
    }

    /// Runs the steps in one transaction and returns what each did; `None`, with nothing
    /// written, when a guard step changed no row.
    pub async fn transact(&self, steps: &[Step<'_>]) -> Result<Option<Vec<Executed>>, StoreError> {
        self.ready().await?;
        on_pool!(&self.pool, p => {
            let mut tx = p.begin().await.map_err(|e| self.classify(e))?;
            let mut done = Vec::with_capacity(steps.len());
            for step in steps {
                let executed = sqlx::query_with::<Db, _>(&step.statement.sql, arguments::<Db>(&step.statement.values)?)
                    .execute(&mut *tx)
                    .await
                    .map(|result| Executed::from(&result))
                    .map_err(|e| self.classify(e))?;
                if step.guard && executed.rows_affected == 0 {
                    tx.rollback().await.map_err(|e| self.classify(e))?;
                    return Ok(None);
                }
                done.push(executed);
            }
            tx.commit().await.map_err(|e| self.classify(e))?;
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

/// What [`bootstrap_mysql`] did.
#[cfg(feature = "mysql")]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabaseBootstrap {
    pub database: String,
    /// The database was missing and is now created (utf8mb4, `utf8mb4_unicode_ci`).
    pub created: bool,
    pub migrations: MigrationReport,
}

/// Brings a MySQL server to this release's schema, as the Docker path and CI start it: creates
/// the database `url` names if it is missing, then applies the migrations through the same
/// [`SqlDb::migrate`] the deploy's `migrate` function runs. Safe to run again.
#[cfg(feature = "mysql")]
pub async fn bootstrap_mysql(url: &str) -> Result<DatabaseBootstrap, StoreError> {
    use sqlx::{ConnectOptions, Connection, mysql::MySqlConnectOptions};
    let options: MySqlConnectOptions =
        url.parse().map_err(|e| StoreError::Internal(format!("the database URL does not parse: {e}")))?;
    let database = options
        .get_database()
        .ok_or_else(|| StoreError::Internal("the database URL names no database".into()))?
        .to_owned();
    // It goes into DDL as an identifier: keep it to what needs no quoting rules.
    if database.is_empty() || !database.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(StoreError::Internal(format!("database name {database:?}: letters, digits and _ only")));
    }
    let mut server = options.database("").connect().await.map_err(classify)?;
    let exists: Option<String> =
        sqlx::query_scalar("SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?")
            .bind(&database)
            .fetch_optional(&mut server)
            .await
            .map_err(classify)?;
    if exists.is_none() {
        let create =
            format!("CREATE DATABASE IF NOT EXISTS `{database}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci");
        sqlx::raw_sql(&create).execute(&mut server).await.map_err(classify)?;
    }
    server.close().await.map_err(classify)?;
    let db = SqlDb::connect_lazy(&DatabaseSettings::MySql { url: url.to_owned() }, 1)?;
    let migrations = db.migrate().await;
    db.close().await;
    Ok(DatabaseBootstrap { database, created: exists.is_none(), migrations: migrations? })
}
