//! Rows a transaction writes at commit, each table's in one multi-row `INSERT`, the way
//! its outbox rows are: for append-only rows that nothing in the transaction reads back
//! and no constraint can refuse (an audit entry under a fresh id). A consumer batch of N
//! events then costs one statement for such a table instead of N round trips to the
//! database's thread.

use sqlx::any::AnyArguments;
use sqlx::query::Query;
use sqlx::{Any, AnyConnection};

/// A query being bound, as [`DeferredRow::bind`] receives and returns it.
pub type BoundQuery<'q> = Query<'q, Any, AnyArguments>;

/// A row to insert when its transaction commits.
pub trait DeferredRow: Send + Sync + 'static {
    /// The statement up to `VALUES`, e.g. `INSERT INTO decisions (tenant_id, ...)`; rows
    /// with the same text are written together, in the order they were deferred.
    fn insert(&self) -> &'static str;

    /// What follows the `VALUES` list, e.g. `ON CONFLICT (tenant_id, lead_id) DO
    /// NOTHING`; empty by default. Part of what groups rows into one statement.
    fn on_conflict(&self) -> &'static str {
        ""
    }

    /// How many values [`DeferredRow::bind`] binds.
    fn width(&self) -> usize;

    /// Binds the row's values, in the order of the columns `insert` names.
    fn bind<'q>(&'q self, query: BoundQuery<'q>) -> BoundQuery<'q>;
}

/// Most parameters one statement binds: below SQLite's limit (32,766) and PostgreSQL's
/// (65,535).
const MAX_PARAMETERS: usize = 30_000;
/// Most rows one statement writes, so a statement stays a sensible size.
const MAX_ROWS: usize = 500;

/// The statements that write `rows`, grouped by statement (groups in the order of their
/// first row).
pub(crate) fn statements<'q>(
    conn: &AnyConnection,
    rows: &'q [Box<dyn DeferredRow>],
) -> Vec<BoundQuery<'q>> {
    type Statement = (&'static str, &'static str);
    let mut groups: Vec<(Statement, Vec<&dyn DeferredRow>)> = Vec::new();
    for row in rows {
        let statement = (row.insert(), row.on_conflict());
        match groups.iter_mut().find(|(s, _)| *s == statement) {
            Some((_, members)) => members.push(row.as_ref()),
            None => groups.push((statement, vec![row.as_ref()])),
        }
    }
    let mut out = Vec::new();
    for ((head, tail), members) in groups {
        let width = members[0].width().max(1);
        let per_statement = (MAX_PARAMETERS / width).clamp(1, MAX_ROWS);
        for chunk in members.chunks(per_statement) {
            let values = super::Params::new(conn).rows(chunk.len(), width);
            let sql = format!("{head} VALUES {values} {tail}");
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
            for row in chunk {
                query = row.bind(query);
            }
            out.push(query);
        }
    }
    out
}
