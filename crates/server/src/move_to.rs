//! `tessera migrate --to postgres://…`: copies the configured SQLite database, every
//! table Tessera keeps, into an empty PostgreSQL database in one transaction, then checks
//! that each table holds the same number of rows with the same contents on both sides.
//!
//! Columns are read by the types PostgreSQL declares for them (`BIGINT`, `BOOLEAN`,
//! `TEXT`, `BYTEA`): both schemas come from the same migrations, so a column that would
//! not convert is a failure here, before anything is committed.

use std::str::FromStr;

use anyhow::{Context, bail};
use sha2::{Digest, Sha256};
use sqlx::postgres::{PgConnection, PgPool, PgRow};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqliteRow};
use sqlx::{AssertSqlSafe, Connection, Row};
use tessera::Config;

use crate::backup::Progress;

/// Every table, parents before children. The SQLite-only `revocations` feed is not
/// copied: PostgreSQL announces revocations with `NOTIFY` instead.
const TABLES: [&str; 12] = [
    "users",
    "roles",
    "role_permissions",
    "user_roles",
    "api_keys",
    "sessions",
    "personal_tokens",
    "client_secrets",
    "audit_log",
    "login_failures",
    "invitations",
    "identity_links",
];

/// Tables whose ids PostgreSQL generates: their sequences continue after the copied ids.
const IDENTITIES: [(&str, &str); 2] = [("users", "id"), ("audit_log", "id")];

/// Rows per `INSERT` (at most 15 columns: well under PostgreSQL's 65535 parameters).
const BATCH: i64 = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Int,
    Bool,
    Text,
    Bytes,
}

/// A column value, typed by the PostgreSQL column.
enum Value {
    Null(Kind),
    Int(i64),
    Bool(bool),
    Text(String),
    Bytes(Vec<u8>),
}

struct Table {
    name: &'static str,
    columns: Vec<(String, Kind)>,
}

/// What was copied, per table: rows, and an order-independent digest of their contents.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Tally {
    rows: u64,
    digest: [u64; 4],
}

impl Tally {
    /// Adds a row: its SHA-256 summed lane by lane (the sum of a multiset does not depend
    /// on the order it is read in, which differs between the two databases).
    fn add(&mut self, row: &[Value]) {
        let mut h = Sha256::new();
        for v in row {
            match v {
                Value::Null(_) => h.update([0]),
                Value::Int(i) => {
                    h.update([1]);
                    h.update(i.to_le_bytes());
                }
                Value::Bool(b) => h.update([2, u8::from(*b)]),
                Value::Text(t) => {
                    h.update([3]);
                    h.update((t.len() as u64).to_le_bytes());
                    h.update(t.as_bytes());
                }
                Value::Bytes(b) => {
                    h.update([4]);
                    h.update((b.len() as u64).to_le_bytes());
                    h.update(b);
                }
            }
        }
        let out = h.finalize();
        for (lane, chunk) in self.digest.iter_mut().zip(out.chunks_exact(8)) {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            *lane = lane.wrapping_add(u64::from_le_bytes(word));
        }
        self.rows += 1;
    }
}

/// `tessera migrate --to URL`.
pub async fn migrate_to(config: &Config, target: &str) -> anyhow::Result<()> {
    let source = config.database_url();
    if !source.starts_with("sqlite:") {
        bail!(
            "database.url is not SQLite: `migrate --to` copies the SQLite database into PostgreSQL"
        );
    }
    if !(target.starts_with("postgres://") || target.starts_with("postgresql://")) {
        bail!("--to: expected postgres://USER:PASSWORD@HOST:PORT/DB");
    }
    let shown = tessera_store::redact_url(target);
    let options = tessera_store::OpenOptions {
        migrate: true,
        connect_timeout: config.database.connect_timeout.0,
        max_connections: 2,
    };
    // Both schemas current: the source migrated (a newer one refused), the target created.
    tessera_store::open(&source, &options)
        .await
        .context("the SQLite database")?;
    tessera_store::open(target, &options)
        .await
        .with_context(|| format!("--to {shown}"))?;
    let src = SqlitePool::connect_with(
        SqliteConnectOptions::from_str(&source)
            .map_err(|e| anyhow::anyhow!("database.url: {e}"))?
            .read_only(true),
    )
    .await
    .context("cannot open the SQLite database")?;
    let dst = PgPool::connect(target)
        .await
        .with_context(|| format!("--to {shown}"))?;
    for table in ["users", "sessions", "personal_tokens", "api_keys"] {
        let rows: i64 = sqlx::query_scalar(AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}")))
            .fetch_one(&dst)
            .await?;
        if rows > 0 {
            bail!(
                "--to {shown}: its {table} table already holds {rows} rows; migrate into an empty database"
            );
        }
    }
    let mut tables = Vec::new();
    for name in TABLES {
        tables.push(Table {
            name,
            columns: columns(&dst, name).await?,
        });
    }

    // Held for the whole copy: a consistent snapshot even while a server writes.
    let mut read = src.begin().await?;
    let mut copied = Vec::new();
    let mut conn = dst.acquire().await?;
    let mut tx = conn.begin().await?;
    let names = TABLES.join(", ");
    sqlx::query(AssertSqlSafe(format!("TRUNCATE {names}")))
        .execute(&mut *tx)
        .await?;
    let total: i64 = {
        let mut sum = 0;
        for t in &tables {
            let n: i64 =
                sqlx::query_scalar(AssertSqlSafe(format!("SELECT COUNT(*) FROM {}", t.name)))
                    .fetch_one(&mut *read)
                    .await?;
            sum += n;
        }
        sum
    };
    let progress = Progress::rows("rows copied", u64::try_from(total).unwrap_or(0));
    let mut done = 0u64;
    for table in &tables {
        let tally = copy_table(&mut read, &mut tx, table, &progress, &mut done).await?;
        copied.push((table.name, tally));
    }
    progress.finish();
    for (table, column) in IDENTITIES {
        sqlx::query(AssertSqlSafe(format!(
            "SELECT setval(pg_get_serial_sequence('{table}', '{column}'), \
             COALESCE((SELECT MAX({column}) FROM {table}), 0) + 1, false)"
        )))
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await.context("cannot commit the copy")?;
    read.rollback().await.ok();

    // Read back from PostgreSQL and compared with what was read from SQLite.
    let mut check = dst.acquire().await?;
    println!("{:<18} {:>10}  digest", "table", "rows");
    // `copied` is in the order of `tables`.
    for (spec, (table, tally)) in tables.iter().zip(&copied) {
        let landed = tally_postgres(&mut check, spec).await?;
        if landed != *tally {
            bail!(
                "the copy of {table} differs ({} rows read, {} in PostgreSQL): the SQLite database is unchanged; empty {shown} before trying again",
                tally.rows,
                landed.rows
            );
        }
        println!(
            "{table:<18} {:>10}  {:016x} same",
            tally.rows, tally.digest[0]
        );
    }
    println!();
    println!("copied into {shown}; counts and contents checked.");
    println!("To switch, set in the configuration and restart every instance:");
    println!();
    println!("  [database]");
    println!("  url = \"{shown}\"");
    println!();
    println!(
        "(or TESSERA_DATABASE__URL), and keep the key file {}: sessions, CSRF tokens and client secrets need it.",
        tessera::keyfile::key_path(config).display()
    );
    println!("The SQLite database is left as it is; writes made to it from now on are not copied.");
    Ok(())
}

/// The table's columns in PostgreSQL, in order, with the kind each is read as.
async fn columns(dst: &PgPool, table: &str) -> anyhow::Result<Vec<(String, Kind)>> {
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT column_name::text, data_type::text FROM information_schema.columns \
         WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position",
    )
    .bind(table)
    .fetch_all(dst)
    .await?;
    if rows.is_empty() {
        bail!("PostgreSQL has no table {table}: is its schema Tessera's?");
    }
    rows.into_iter()
        .map(|(name, ty)| {
            let kind = match ty.as_str() {
                "bigint" | "integer" | "smallint" => Kind::Int,
                "boolean" => Kind::Bool,
                "text" | "character varying" => Kind::Text,
                "bytea" => Kind::Bytes,
                other => bail!("{table}.{name}: no copy for the type {other}"),
            };
            Ok((name, kind))
        })
        .collect()
}

fn select_list(table: &Table) -> String {
    table
        .columns
        .iter()
        .map(|(c, _)| format!("\"{c}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

async fn copy_table(
    read: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    table: &Table,
    progress: &Progress,
    done: &mut u64,
) -> anyhow::Result<Tally> {
    let mut tally = Tally::default();
    let mut after = i64::MIN;
    let list = select_list(table);
    loop {
        let rows: Vec<SqliteRow> = sqlx::query(AssertSqlSafe(format!(
            "SELECT rowid AS tessera_rowid, {list} FROM {} WHERE rowid > $1 ORDER BY rowid LIMIT {BATCH}",
            table.name
        )))
        .bind(after)
        .fetch_all(&mut **read)
        .await
        .with_context(|| format!("cannot read {}", table.name))?;
        let Some(last) = rows.last() else { break };
        after = last.try_get("tessera_rowid")?;
        let mut values = Vec::with_capacity(rows.len());
        for row in &rows {
            let mut out = Vec::with_capacity(table.columns.len());
            for (i, (name, kind)) in table.columns.iter().enumerate() {
                out.push(
                    sqlite_value(row, i + 1, *kind)
                        .with_context(|| format!("{}.{name}", table.name))?,
                );
            }
            tally.add(&out);
            values.push(out);
        }
        insert(tx, table, &list, values).await?;
        *done += rows.len() as u64;
        progress.show(*done);
    }
    Ok(tally)
}

fn sqlite_value(row: &SqliteRow, i: usize, kind: Kind) -> Result<Value, sqlx::Error> {
    Ok(match kind {
        Kind::Int => row
            .try_get::<Option<i64>, _>(i)?
            .map_or(Value::Null(kind), Value::Int),
        Kind::Bool => row
            .try_get::<Option<bool>, _>(i)?
            .map_or(Value::Null(kind), Value::Bool),
        Kind::Text => row
            .try_get::<Option<String>, _>(i)?
            .map_or(Value::Null(kind), Value::Text),
        Kind::Bytes => row
            .try_get::<Option<Vec<u8>>, _>(i)?
            .map_or(Value::Null(kind), Value::Bytes),
    })
}

fn postgres_value(row: &PgRow, i: usize, kind: Kind) -> Result<Value, sqlx::Error> {
    Ok(match kind {
        Kind::Int => row
            .try_get::<Option<i64>, _>(i)?
            .map_or(Value::Null(kind), Value::Int),
        Kind::Bool => row
            .try_get::<Option<bool>, _>(i)?
            .map_or(Value::Null(kind), Value::Bool),
        Kind::Text => row
            .try_get::<Option<String>, _>(i)?
            .map_or(Value::Null(kind), Value::Text),
        Kind::Bytes => row
            .try_get::<Option<Vec<u8>>, _>(i)?
            .map_or(Value::Null(kind), Value::Bytes),
    })
}

async fn insert(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    table: &Table,
    list: &str,
    rows: Vec<Vec<Value>>,
) -> anyhow::Result<()> {
    let width = table.columns.len();
    let mut sql = format!("INSERT INTO {} ({list}) VALUES ", table.name);
    for r in 0..rows.len() {
        if r > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        for c in 0..width {
            if c > 0 {
                sql.push_str(", ");
            }
            sql.push_str(&format!("${}", r * width + c + 1));
        }
        sql.push(')');
    }
    let mut query = sqlx::query(AssertSqlSafe(sql));
    for value in rows.into_iter().flatten() {
        query = match value {
            Value::Null(Kind::Int) => query.bind(None::<i64>),
            Value::Null(Kind::Bool) => query.bind(None::<bool>),
            Value::Null(Kind::Text) => query.bind(None::<String>),
            Value::Null(Kind::Bytes) => query.bind(None::<Vec<u8>>),
            Value::Int(v) => query.bind(v),
            Value::Bool(v) => query.bind(v),
            Value::Text(v) => query.bind(v),
            Value::Bytes(v) => query.bind(v),
        };
    }
    query
        .execute(&mut **tx)
        .await
        .with_context(|| format!("cannot write {}", table.name))?;
    Ok(())
}

/// Counts and digests a table as PostgreSQL now holds it, through a cursor.
async fn tally_postgres(conn: &mut PgConnection, table: &Table) -> anyhow::Result<Tally> {
    let mut tx = conn.begin().await?;
    // A cursor named after the table: sqlx caches a statement's row description by its
    // text, so `FETCH` must read differently for each table.
    let cursor = format!("tessera_check_{}", table.name);
    sqlx::query(AssertSqlSafe(format!(
        "DECLARE {cursor} NO SCROLL CURSOR FOR SELECT {} FROM {}",
        select_list(table),
        table.name
    )))
    .execute(&mut *tx)
    .await?;
    let mut tally = Tally::default();
    loop {
        let rows: Vec<PgRow> = sqlx::query(AssertSqlSafe(format!("FETCH {BATCH} FROM {cursor}")))
            .fetch_all(&mut *tx)
            .await?;
        if rows.is_empty() {
            break;
        }
        for row in &rows {
            let mut out = Vec::with_capacity(table.columns.len());
            for (i, (_, kind)) in table.columns.iter().enumerate() {
                out.push(postgres_value(row, i, *kind)?);
            }
            tally.add(&out);
        }
    }
    tx.rollback().await.ok();
    Ok(tally)
}
