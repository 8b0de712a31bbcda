//! The append-only history of each opportunity.

use shangji_platform::Tx;
use shangji_platform::db::{BoundQuery, DeferredRow, Params};
use sqlx::{AnyConnection, Row as _};

use crate::domain::{Change, HistoryEntry};

/// Appends `changes`, made by `user_id` at `at`, in order: one statement for all of
/// them (an opportunity opens with three), rows inserted in the order given so their
/// sequence numbers keep it.
pub async fn append(
    conn: &mut AnyConnection,
    tenant_id: &str,
    opportunity_id: &str,
    user_id: &str,
    at: i64,
    changes: &[Change],
) -> Result<(), sqlx::Error> {
    // Eight parameters a row keeps a statement far below the bind limits.
    for chunk in changes.chunks(500) {
        let mut params = Params::new(conn);
        let values = params.rows(chunk.len(), 8);
        let sql = format!("{INSERT_HISTORY} VALUES {values}");
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for change in chunk {
            query = query
                .bind(tenant_id)
                .bind(opportunity_id)
                .bind(&change.field)
                .bind(&change.old_value)
                .bind(&change.new_value)
                .bind(user_id)
                .bind(at)
                .bind(&change.note);
        }
        query.execute(&mut *conn).await?;
    }
    Ok(())
}

const INSERT_HISTORY: &str = "INSERT INTO opportunity_history
     (tenant_id, opportunity_id, field, old_value, new_value, user_id, at, note)";

/// [`append`] when `tx` commits, in one statement with the transaction's other deferred
/// history rows (in the order deferred), for a caller that does not read the
/// opportunity's history back before then: a consumer batch opening many opportunities.
pub fn defer(
    tx: &mut Tx,
    tenant_id: &str,
    opportunity_id: &str,
    user_id: &str,
    at: i64,
    changes: &[Change],
) {
    for change in changes {
        tx.defer(HistoryRow {
            tenant_id: tenant_id.to_owned(),
            opportunity_id: opportunity_id.to_owned(),
            user_id: user_id.to_owned(),
            at,
            change: change.clone(),
        });
    }
}

/// A change waiting in its transaction to be appended.
struct HistoryRow {
    tenant_id: String,
    opportunity_id: String,
    user_id: String,
    at: i64,
    change: Change,
}

impl DeferredRow for HistoryRow {
    fn insert(&self) -> &'static str {
        INSERT_HISTORY
    }

    fn width(&self) -> usize {
        8
    }

    fn bind<'q>(&'q self, query: BoundQuery<'q>) -> BoundQuery<'q> {
        query
            .bind(&self.tenant_id)
            .bind(&self.opportunity_id)
            .bind(&self.change.field)
            .bind(&self.change.old_value)
            .bind(&self.change.new_value)
            .bind(&self.user_id)
            .bind(self.at)
            .bind(&self.change.note)
    }
}

/// The opportunity's history, oldest first.
pub async fn list_for(
    conn: &mut AnyConnection,
    tenant_id: &str,
    opportunity_id: &str,
) -> Result<Vec<HistoryEntry>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT field, old_value, new_value, user_id, at, note FROM opportunity_history
         WHERE tenant_id = $1 AND opportunity_id = $2 ORDER BY seq",
    )
    .bind(tenant_id)
    .bind(opportunity_id)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(HistoryEntry {
                field: row.try_get("field")?,
                old_value: row.try_get("old_value")?,
                new_value: row.try_get("new_value")?,
                user_id: row.try_get("user_id")?,
                at: row.try_get("at")?,
                note: row.try_get("note")?,
            })
        })
        .collect()
}

/// The sequence number of the opportunity's newest history line (0: none).
pub async fn last_seq(
    conn: &mut AnyConnection,
    tenant_id: &str,
    opportunity_id: &str,
) -> Result<i64, sqlx::Error> {
    let seq: Option<i64> = sqlx::query_scalar(
        "SELECT MAX(seq) FROM opportunity_history WHERE tenant_id = $1 AND opportunity_id = $2",
    )
    .bind(tenant_id)
    .bind(opportunity_id)
    .fetch_one(conn)
    .await?;
    Ok(seq.unwrap_or(0))
}

/// Whether `field` of the opportunity changed in a history line after `seq`.
pub async fn changed_since(
    conn: &mut AnyConnection,
    tenant_id: &str,
    opportunity_id: &str,
    field: &str,
    seq: i64,
) -> Result<bool, sqlx::Error> {
    let later: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM opportunity_history
         WHERE tenant_id = $1 AND opportunity_id = $2 AND field = $3 AND seq > $4",
    )
    .bind(tenant_id)
    .bind(opportunity_id)
    .bind(field)
    .bind(seq)
    .fetch_one(conn)
    .await?;
    Ok(later > 0)
}
