//! What the SQL asks of a database, said once.
//!
//! [`Backend`] is implemented for [`Sqlite`] and [`Postgres`]; the code of every aggregate
//! is generic over `DB: Backend` and needs no other bound. Rust hands a trait's users
//! its supertraits and the bounds on its associated types, but not the rest of its
//! `where` clause, so each requirement is a small trait on one of the associated types
//! of [`sqlx::Database`]: [`Bind`] on its arguments, [`Columns`] on its rows, [`Run`] on
//! its connections, [`RowsAffected`] on its query results.
//!
//! Statements are built with [`query`], as with `sqlx::query`, and run with
//! [`Query::execute`] or `fetch_*` on the pool of readers (`&Pool`) or on a write
//! transaction (`&mut Tx`, begun by `SqlStore::write`). Every database error becomes a
//! [`StoreError`] here, in [`unavailable`] or (a declared conflict) [`failure`], so the
//! SQL code only writes `?`.

use std::future::Future;
use std::ops::DerefMut;

use sqlx::error::BoxDynError;
use sqlx::postgres::{PgArguments, PgQueryResult, PgRow};
use sqlx::sqlite::{SqliteArguments, SqliteQueryResult, SqliteRow};
use sqlx::{
    ColumnIndex, Database, Decode, Encode, Executor, IntoArguments, Pool, Postgres, Row,
    SqlSafeStr, SqlStr, Sqlite, Transaction, Type,
};
use tessera_core::store::{RevocationNotice, StoreResult};
use tessera_core::{StoreError, Timestamp};
use tokio::sync::mpsc::Sender;

use super::{SqlStore, revocations};

/// A database the SQL of this crate runs on.
pub trait Backend:
    Database<Arguments: Bind<Self>, Connection: Run<Self>, QueryResult: RowsAffected, Row: Columns>
{
    /// Follows the revocations committed on `store` (`Store::follow_revocations`).
    fn follow_revocations(
        store: &SqlStore<Self>,
        notices: Sender<RevocationNotice>,
    ) -> impl Future<Output = ()> + Send;

    /// Deletes the feed's records older than `before` (`Store::purge_revocations`).
    fn purge_revocations(
        store: &SqlStore<Self>,
        before: Timestamp,
    ) -> impl Future<Output = StoreResult<u64>> + Send;
}

impl Backend for Sqlite {
    fn follow_revocations(
        store: &SqlStore<Self>,
        notices: Sender<RevocationNotice>,
    ) -> impl Future<Output = ()> + Send {
        revocations::follow_sqlite(store, notices)
    }

    fn purge_revocations(
        store: &SqlStore<Self>,
        before: Timestamp,
    ) -> impl Future<Output = StoreResult<u64>> + Send {
        revocations::purge_sqlite(store, before)
    }
}

impl Backend for Postgres {
    fn follow_revocations(
        store: &SqlStore<Self>,
        notices: Sender<RevocationNotice>,
    ) -> impl Future<Output = ()> + Send {
        revocations::follow_postgres(store, notices)
    }

    /// Notifications leave no record behind.
    async fn purge_revocations(_: &SqlStore<Self>, _: Timestamp) -> StoreResult<u64> {
        Ok(0)
    }
}

/// Arguments that take every type the SQL binds.
pub trait Bind<DB: Database>:
    IntoArguments<DB>
    + Push<i64>
    + Push<Option<i64>>
    + Push<bool>
    + Push<Option<String>>
    + for<'a> Push<&'a str>
    + for<'a> Push<&'a String>
    + for<'a> Push<&'a Option<String>>
    + for<'a> Push<&'a [u8]>
    + for<'a> Push<&'a Vec<u8>>
{
}

impl Bind<Sqlite> for SqliteArguments {}
impl Bind<Postgres> for PgArguments {}

/// Arguments that take a value of type `T`.
pub trait Push<T> {
    /// Appends `value`, or says why it cannot be encoded.
    fn push(&mut self, value: T) -> Result<(), BoxDynError>;
}

impl<A: sqlx::Arguments, T> Push<T> for A
where
    T: for<'t> Encode<'t, A::Database> + Type<A::Database>,
{
    fn push(&mut self, value: T) -> Result<(), BoxDynError> {
        self.add(value)
    }
}

/// Rows that give back every type the SQL reads.
pub trait Columns:
    Get<i64> + Get<Option<i64>> + Get<bool> + Get<String> + Get<Option<String>> + Get<Vec<u8>>
{
}

impl Columns for SqliteRow {}
impl Columns for PgRow {}

/// A row that gives back a `T`.
pub trait Get<T> {
    /// The value of the column named `name`.
    fn value(&self, name: &str) -> StoreResult<T>;

    /// The value of the column at `index`, from 0.
    fn value_at(&self, index: usize) -> StoreResult<T>;
}

impl<R: Row, T> Get<T> for R
where
    T: for<'r> Decode<'r, R::Database> + Type<R::Database>,
    for<'n> &'n str: ColumnIndex<R>,
    usize: ColumnIndex<R>,
{
    fn value(&self, name: &str) -> StoreResult<T> {
        self.try_get(name).map_err(unavailable)
    }

    fn value_at(&self, index: usize) -> StoreResult<T> {
        self.try_get(index).map_err(unavailable)
    }
}

/// A connection that executes queries (what sqlx says of `&mut` a connection).
pub trait Run<DB: Database>: Send {
    /// This connection as a sqlx executor.
    fn executor(&mut self) -> impl Executor<'_, Database = DB>;
}

impl<DB: Database, C: Send> Run<DB> for C
where
    for<'c> &'c mut C: Executor<'c, Database = DB>,
{
    fn executor(&mut self) -> impl Executor<'_, Database = DB> {
        self
    }
}

/// A query result that counts the rows a statement changed.
pub trait RowsAffected {
    /// How many rows the statement inserted, updated or deleted.
    fn count(&self) -> u64;
}

impl RowsAffected for SqliteQueryResult {
    fn count(&self) -> u64 {
        self.rows_affected()
    }
}

impl RowsAffected for PgQueryResult {
    fn count(&self) -> u64 {
        self.rows_affected()
    }
}

/// Any database error, as the store reports it: [`StoreError::Unavailable`], which every
/// caller turns into a refusal (fail closed).
pub(crate) fn unavailable(e: sqlx::Error) -> StoreError {
    metrics::counter!("tessera_store_errors_total").increment(1);
    StoreError::Unavailable(e.to_string())
}

/// Records how long a statement took (`tessera_store_query_duration_seconds`).
fn timed(started: std::time::Instant) {
    metrics::histogram!("tessera_store_query_duration_seconds")
        .record(started.elapsed().as_secs_f64());
}

/// The error of a statement: `conflict`, when the statement declared one, for a unique
/// violation, otherwise [`unavailable`].
fn failure(e: sqlx::Error, conflict: Option<String>) -> StoreError {
    match (e, conflict) {
        (sqlx::Error::Database(d), Some(what)) if d.is_unique_violation() => {
            StoreError::Conflict(what)
        }
        (e, _) => unavailable(e),
    }
}

/// A write transaction. Dropped without [`Tx::commit`], it rolls back.
pub(crate) struct Tx<DB: Database>(pub(super) Transaction<'static, DB>);

impl<DB: Database> Tx<DB> {
    /// Commits what the transaction wrote.
    pub(crate) async fn commit(self) -> StoreResult<()> {
        self.0.commit().await.map_err(unavailable)
    }
}

/// Where a query runs: the pool of readers (`&Pool`) or a write transaction (`&mut Tx`).
pub trait On<DB: Database>: Send {
    /// The connection to run on: one from the pool, or the transaction's.
    fn connection(
        self,
    ) -> impl Future<Output = StoreResult<impl DerefMut<Target = DB::Connection> + Send>> + Send;
}

impl<DB: Database> On<DB> for &Pool<DB> {
    fn connection(
        self,
    ) -> impl Future<Output = StoreResult<impl DerefMut<Target = DB::Connection> + Send>> + Send
    {
        let acquire = self.acquire();
        async move { acquire.await.map_err(unavailable) }
    }
}

impl<DB: Database> On<DB> for &mut Tx<DB> {
    fn connection(
        self,
    ) -> impl Future<Output = StoreResult<impl DerefMut<Target = DB::Connection> + Send>> + Send
    {
        std::future::ready(Ok(&mut *self.0))
    }
}

/// A statement and its arguments, built like `sqlx::query(sql).bind(..)`.
pub(crate) struct Query<DB: Database> {
    sql: SqlStr,
    arguments: Result<DB::Arguments, BoxDynError>,
    conflict: Option<String>,
}

/// The statement `sql`, with `$1`, `$2`, ... for the arguments bound next.
pub(crate) fn query<DB: Database>(sql: impl SqlSafeStr) -> Query<DB> {
    Query {
        sql: sql.into_sql_str(),
        arguments: Ok(DB::Arguments::default()),
        conflict: None,
    }
}

impl<DB: Backend> Query<DB> {
    /// Binds the next argument. An encoding error is kept and reported on execution.
    pub(crate) fn bind<T>(mut self, value: T) -> Self
    where
        DB::Arguments: Push<T>,
    {
        if let Ok(arguments) = &mut self.arguments {
            let number = sqlx::Arguments::len(arguments) + 1;
            if let Err(e) = arguments.push(value) {
                self.arguments = Err(format!("Encoding argument ${number} failed: {e}").into());
            }
        }
        self
    }

    /// Reports a unique violation by this statement as `Conflict(what)`, not as
    /// `Unavailable`.
    pub(crate) fn conflict(mut self, what: String) -> Self {
        self.conflict = Some(what);
        self
    }

    /// Runs the statement; returns how many rows it changed.
    pub(crate) async fn execute(self, on: impl On<DB>) -> StoreResult<u64> {
        let (statement, conflict) = self.prepare()?;
        let mut conn = on.connection().await?;
        let started = std::time::Instant::now();
        let done = statement.execute(conn.executor()).await;
        timed(started);
        done.map(|r| r.count()).map_err(|e| failure(e, conflict))
    }

    /// The first row the statement returns, if any.
    pub(crate) async fn fetch_optional(self, on: impl On<DB>) -> StoreResult<Option<DB::Row>> {
        let (statement, conflict) = self.prepare()?;
        let mut conn = on.connection().await?;
        let started = std::time::Instant::now();
        let row = statement.fetch_optional(conn.executor()).await;
        timed(started);
        row.map_err(|e| failure(e, conflict))
    }

    /// The first row the statement returns; none is an error.
    pub(crate) async fn fetch_one(self, on: impl On<DB>) -> StoreResult<DB::Row> {
        let row = self.fetch_optional(on).await?;
        row.ok_or_else(|| unavailable(sqlx::Error::RowNotFound))
    }

    /// Every row the statement returns, decoded by `decode`.
    pub(crate) async fn fetch_all<T>(
        self,
        on: impl On<DB>,
        decode: impl FnMut(&DB::Row) -> StoreResult<T>,
    ) -> StoreResult<Vec<T>> {
        let (statement, conflict) = self.prepare()?;
        let mut conn = on.connection().await?;
        let started = std::time::Instant::now();
        let rows = statement.fetch_all(conn.executor()).await;
        timed(started);
        rows.map_err(|e| failure(e, conflict))?
            .iter()
            .map(decode)
            .collect()
    }

    /// The sqlx query, and the conflict it declared; an argument that could not be
    /// encoded fails here, before the database is asked.
    fn prepare(self) -> StoreResult<(SqlxQuery<DB>, Option<String>)> {
        let arguments = self
            .arguments
            .map_err(|e| unavailable(sqlx::Error::Encode(e)))?;
        Ok((sqlx::query_with(self.sql, arguments), self.conflict))
    }
}

type SqlxQuery<DB> = sqlx::query::Query<'static, DB, <DB as Database>::Arguments>;
