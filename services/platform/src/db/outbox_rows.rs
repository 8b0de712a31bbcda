//! Writing buffered outbox rows: many events in one multi-row `INSERT`.

use sqlx::AnyConnection;

use super::BoundQuery;

/// One event waiting in a transaction to be written to the outbox at commit.
pub(crate) struct OutboxRow {
    pub event_id: String,
    pub subject: String,
    pub envelope: Vec<u8>,
    /// Trace context of the work that caused the event, as JSON.
    pub headers: String,
    pub created_at: i64,
}

/// Rows per statement: 5 parameters each stays far below the bind limits of SQLite
/// (32,766) and PostgreSQL (65,535).
const ROWS_PER_STATEMENT: usize = 200;

/// The statements that insert `rows` in order (their outbox `seq` follows the order they
/// were enqueued).
pub(crate) fn statements<'q>(conn: &AnyConnection, rows: &'q [OutboxRow]) -> Vec<BoundQuery<'q>> {
    rows.chunks(ROWS_PER_STATEMENT)
        .map(|chunk| {
            let mut params = super::Params::new(conn);
            let values = params.rows(chunk.len(), 5);
            let sql = format!(
                "INSERT INTO outbox (event_id, subject, envelope, headers, created_at) VALUES {values}"
            );
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
            for row in chunk {
                query = query
                    .bind(row.event_id.as_str())
                    .bind(row.subject.as_str())
                    .bind(row.envelope.as_slice())
                    .bind(row.headers.as_str())
                    .bind(row.created_at);
            }
            query
        })
        .collect()
}
