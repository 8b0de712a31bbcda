//! Imports, their per-row reports, and saved column mappings.

use shangji_platform::Tx;
use sqlx::AnyPool;

/// An import as stored.
#[derive(Debug, Clone, Default, sqlx::FromRow)]
pub struct ImportRow {
    pub import_id: String,
    pub file_name: String,
    pub format: i32,
    pub encoding: String,
    pub dry_run: i64,
    pub import_key: String,
    pub state: i32,
    pub rows_read: i64,
    pub accepted: i64,
    pub replayed: i64,
    pub rejected: i64,
    pub error: String,
    pub started_at: i64,
    pub finished_at: i64,
}

/// Counters after a chunk of rows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportCounts {
    pub rows_read: i64,
    pub accepted: i64,
    pub replayed: i64,
    pub rejected: i64,
}

/// One line of the report.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ProblemRow {
    pub seq: i64,
    pub row_number: i64,
    pub field: String,
    pub column_name: String,
    pub message: String,
}

/// `text` with each NUL written out as `\0`. Problems quote the cells and headers they
/// are about, and a file can hold any byte; PostgreSQL refuses NUL in text, which
/// would fail the whole chunk (and the report) over one bad cell.
fn storable(text: &str) -> String {
    text.replace('\0', "\\0")
}

pub async fn create_import(
    tx: &mut Tx,
    tenant_id: &str,
    import: &ImportRow,
    created_by: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO imports (tenant_id, import_id, file_name, format, encoding, dry_run,
                              import_key, state, created_by, started_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(tenant_id)
    .bind(&import.import_id)
    .bind(storable(&import.file_name))
    .bind(import.format)
    .bind(&import.encoding)
    .bind(import.dry_run)
    .bind(&import.import_key)
    .bind(import.state)
    .bind(created_by)
    .bind(import.started_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Stores the counters (and the encoding once known) with the chunk they count.
pub async fn save_counts(
    tx: &mut Tx,
    tenant_id: &str,
    import_id: &str,
    counts: ImportCounts,
    encoding: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE imports SET rows_read = $3, accepted = $4, replayed = $5, rejected = $6,
                            encoding = $7
         WHERE tenant_id = $1 AND import_id = $2",
    )
    .bind(tenant_id)
    .bind(import_id)
    .bind(counts.rows_read)
    .bind(counts.accepted)
    .bind(counts.replayed)
    .bind(counts.rejected)
    .bind(encoding)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn finish_import(
    tx: &mut Tx,
    tenant_id: &str,
    import_id: &str,
    state: i32,
    error: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE imports SET state = $3, error = $4, finished_at = $5
         WHERE tenant_id = $1 AND import_id = $2",
    )
    .bind(tenant_id)
    .bind(import_id)
    .bind(state)
    .bind(storable(error))
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn insert_problem(
    tx: &mut Tx,
    tenant_id: &str,
    import_id: &str,
    problem: &ProblemRow,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO import_problems (tenant_id, import_id, seq, row_number, field,
                                      column_name, message)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(tenant_id)
    .bind(import_id)
    .bind(problem.seq)
    .bind(problem.row_number)
    .bind(storable(&problem.field))
    .bind(storable(&problem.column_name))
    .bind(storable(&problem.message))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn load_import(
    pool: &AnyPool,
    tenant_id: &str,
    import_id: &str,
) -> Result<Option<ImportRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT import_id, file_name, format, encoding, dry_run, import_key, state, rows_read,
                accepted, replayed, rejected, error, started_at, finished_at
         FROM imports WHERE tenant_id = $1 AND import_id = $2",
    )
    .bind(tenant_id)
    .bind(import_id)
    .fetch_optional(pool)
    .await
}

/// Report lines with `seq > after`, in order, at most `limit`.
pub async fn load_problems(
    pool: &AnyPool,
    tenant_id: &str,
    import_id: &str,
    after: i64,
    limit: i64,
) -> Result<Vec<ProblemRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT seq, row_number, field, column_name, message FROM import_problems
         WHERE tenant_id = $1 AND import_id = $2 AND seq > $3 ORDER BY seq LIMIT $4",
    )
    .bind(tenant_id)
    .bind(import_id)
    .bind(after)
    .bind(limit)
    .fetch_all(pool)
    .await
}

pub async fn upsert_preset(
    tx: &mut Tx,
    tenant_id: &str,
    name: &str,
    preset: &[u8],
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO mapping_presets (tenant_id, name, preset, updated_at)
         VALUES ($1, $2, $3, $4)
         ON CONFLICT (tenant_id, name) DO UPDATE SET preset = excluded.preset,
                                                     updated_at = excluded.updated_at",
    )
    .bind(tenant_id)
    .bind(name)
    .bind(preset)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Encoded presets, by name.
pub async fn load_presets(pool: &AnyPool, tenant_id: &str) -> Result<Vec<Vec<u8>>, sqlx::Error> {
    let rows: Vec<(Vec<u8>,)> =
        sqlx::query_as("SELECT preset FROM mapping_presets WHERE tenant_id = $1 ORDER BY name")
            .bind(tenant_id)
            .fetch_all(pool)
            .await?;
    Ok(rows.into_iter().map(|(p,)| p).collect())
}

pub async fn load_preset(
    pool: &AnyPool,
    tenant_id: &str,
    name: &str,
) -> Result<Option<Vec<u8>>, sqlx::Error> {
    let row: Option<(Vec<u8>,)> =
        sqlx::query_as("SELECT preset FROM mapping_presets WHERE tenant_id = $1 AND name = $2")
            .bind(tenant_id)
            .bind(name)
            .fetch_optional(pool)
            .await?;
    Ok(row.map(|(p,)| p))
}
