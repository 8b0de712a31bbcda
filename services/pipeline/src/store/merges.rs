//! Customer merges as the pipeline remembers them: which customers each merge folded
//! into its survivor (an alias while the merge stands), and every opportunity it moved,
//! so an unmerge restores exactly those.

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row as _};

/// How far an alias chain is followed (A merged into B, B later into C, ...). Real
/// chains are short; the bound keeps a corrupt cycle from looping forever.
const MAX_ALIAS_HOPS: usize = 8;

/// Where a merged customer stands in one merge.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemberState {
    /// Folded into the survivor; an alias of it.
    Merged,
    /// The merge was undone for this customer (or the unmerge came first).
    Unmerged,
}

impl MemberState {
    fn parse(s: &str) -> Result<MemberState, sqlx::Error> {
        match s {
            "merged" => Ok(MemberState::Merged),
            "unmerged" => Ok(MemberState::Unmerged),
            other => Err(super::corrupt("state", other)),
        }
    }
}

/// The survivor `customer_id` was last folded into and still is, as a scalar subquery
/// ($1 the tenant, $2 the customer). A macro so the statements stay static strings.
macro_rules! survivor_of {
    () => {
        "(SELECT survivor_customer_id FROM merged_customers
          WHERE tenant_id = $1 AND customer_id = $2 AND state = 'merged'
          ORDER BY merged_at DESC, merge_id DESC LIMIT 1)"
    };
}

/// The customer that `customer_id` is now: itself, or the survivor of the merges that
/// folded it (followed through later merges of the survivor).
pub async fn current_customer(
    conn: &mut AnyConnection,
    tenant_id: &str,
    customer_id: &str,
) -> Result<String, sqlx::Error> {
    follow_from(conn, tenant_id, customer_id, None).await
}

/// [`current_customer`], given the first survivor already read (None: not merged).
async fn follow_from(
    conn: &mut AnyConnection,
    tenant_id: &str,
    customer_id: &str,
    mut survivor: Option<Option<String>>,
) -> Result<String, sqlx::Error> {
    let mut current = customer_id.to_owned();
    for _ in 0..MAX_ALIAS_HOPS {
        let next = match survivor.take() {
            Some(read) => read,
            None => {
                sqlx::query_scalar(concat!("SELECT ", survivor_of!()))
                    .bind(tenant_id)
                    .bind(&current)
                    .fetch_one(&mut *conn)
                    .await?
            }
        };
        match next {
            Some(next) if next != current => current = next,
            _ => break,
        }
    }
    Ok(current)
}

/// What handling an assigned lead first needs: the opportunity the lead already led to
/// (if any) and the customer it belongs to now (see [`current_customer`]). One
/// statement when the customer was never merged, the usual case.
pub async fn lead_link_and_customer(
    conn: &mut AnyConnection,
    tenant_id: &str,
    customer_id: &str,
    lead_id: &str,
) -> Result<(Option<String>, String), sqlx::Error> {
    let (linked, survivor): (Option<String>, Option<String>) = sqlx::query_as(concat!(
        "SELECT (SELECT opportunity_id FROM lead_links WHERE tenant_id = $1 AND lead_id = $3), ",
        survivor_of!()
    ))
    .bind(tenant_id)
    .bind(customer_id)
    .bind(lead_id)
    .fetch_one(&mut *conn)
    .await?;
    let current = follow_from(conn, tenant_id, customer_id, Some(survivor)).await?;
    Ok((linked, current))
}

/// The customer's state in the merge, if the merge (or its undoing) was seen.
pub async fn member_state(
    conn: &mut AnyConnection,
    tenant_id: &str,
    merge_id: &str,
    customer_id: &str,
) -> Result<Option<MemberState>, sqlx::Error> {
    let state: Option<String> = sqlx::query_scalar(
        "SELECT state FROM merged_customers
         WHERE tenant_id = $1 AND merge_id = $2 AND customer_id = $3",
    )
    .bind(tenant_id)
    .bind(merge_id)
    .bind(customer_id)
    .fetch_optional(conn)
    .await?;
    state.as_deref().map(MemberState::parse).transpose()
}

/// The customers the merge still holds folded.
pub async fn merged_members(
    conn: &mut AnyConnection,
    tenant_id: &str,
    merge_id: &str,
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT customer_id FROM merged_customers
         WHERE tenant_id = $1 AND merge_id = $2 AND state = 'merged' ORDER BY customer_id",
    )
    .bind(tenant_id)
    .bind(merge_id)
    .fetch_all(conn)
    .await
}

/// `customer_id` was folded into `survivor` by the merge at `at`.
pub async fn record_merged(
    conn: &mut AnyConnection,
    tenant_id: &str,
    merge_id: &str,
    customer_id: &str,
    survivor: &str,
    at: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO merged_customers
             (tenant_id, merge_id, customer_id, survivor_customer_id, state, merged_at)
         VALUES ($1, $2, $3, $4, 'merged', $5)",
    )
    .bind(tenant_id)
    .bind(merge_id)
    .bind(customer_id)
    .bind(survivor)
    .bind(at)
    .execute(conn)
    .await?;
    Ok(())
}

/// The merge no longer holds `customer_id` (a row is created when the unmerge arrives
/// first, so the late merge is ignored).
pub async fn record_unmerged(
    conn: &mut AnyConnection,
    tenant_id: &str,
    merge_id: &str,
    customer_id: &str,
    survivor: &str,
    at: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO merged_customers
             (tenant_id, merge_id, customer_id, survivor_customer_id, state, unmerged_at)
         VALUES ($1, $2, $3, $4, 'unmerged', $5)
         ON CONFLICT (tenant_id, merge_id, customer_id)
         DO UPDATE SET state = 'unmerged', unmerged_at = excluded.unmerged_at",
    )
    .bind(tenant_id)
    .bind(merge_id)
    .bind(customer_id)
    .bind(survivor)
    .bind(at)
    .execute(conn)
    .await?;
    Ok(())
}

/// One opportunity a merge moved to the survivor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Move {
    pub merge_id: String,
    pub opportunity_id: String,
    pub from_customer_id: String,
    pub to_customer_id: String,
    /// Its parallel-deal link before the merge ('' = none).
    pub from_parallel_of: String,
    /// The sequence number of the merge's own `customer_id` history line.
    pub history_seq: i64,
    pub moved_at: i64,
}

/// What an unmerge did with a move.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Settled {
    /// Back with its pre-merge customer.
    Restored,
    /// Left where it is: its customer was changed after the merge.
    Kept,
}

impl Settled {
    fn as_str(self) -> &'static str {
        match self {
            Settled::Restored => "restored",
            Settled::Kept => "kept",
        }
    }
}

pub async fn record_move(
    conn: &mut AnyConnection,
    tenant_id: &str,
    mv: &Move,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO merge_moves
             (tenant_id, merge_id, opportunity_id, from_customer_id, to_customer_id,
              from_parallel_of, history_seq, moved_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(tenant_id)
    .bind(&mv.merge_id)
    .bind(&mv.opportunity_id)
    .bind(&mv.from_customer_id)
    .bind(&mv.to_customer_id)
    .bind(&mv.from_parallel_of)
    .bind(mv.history_seq)
    .bind(mv.moved_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// The moves of the merge away from `from_customer_id` that no unmerge has settled yet;
/// the customer's primary open opportunity before the merge first, so it is primary
/// again once back.
pub async fn unsettled_moves(
    conn: &mut AnyConnection,
    tenant_id: &str,
    merge_id: &str,
    from_customer_id: &str,
) -> Result<Vec<Move>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT merge_id, opportunity_id, from_customer_id, to_customer_id, from_parallel_of,
                history_seq, moved_at
         FROM merge_moves
         WHERE tenant_id = $1 AND merge_id = $2 AND from_customer_id = $3 AND outcome IS NULL
         ORDER BY CASE WHEN from_parallel_of = '' THEN 0 ELSE 1 END, opportunity_id",
    )
    .bind(tenant_id)
    .bind(merge_id)
    .bind(from_customer_id)
    .fetch_all(conn)
    .await?;
    rows.iter().map(move_from_row).collect()
}

fn move_from_row(row: &AnyRow) -> Result<Move, sqlx::Error> {
    Ok(Move {
        merge_id: row.try_get("merge_id")?,
        opportunity_id: row.try_get("opportunity_id")?,
        from_customer_id: row.try_get("from_customer_id")?,
        to_customer_id: row.try_get("to_customer_id")?,
        from_parallel_of: row.try_get("from_parallel_of")?,
        history_seq: row.try_get("history_seq")?,
        moved_at: row.try_get("moved_at")?,
    })
}

pub async fn settle_move(
    conn: &mut AnyConnection,
    tenant_id: &str,
    merge_id: &str,
    opportunity_id: &str,
    outcome: Settled,
    at: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE merge_moves SET outcome = $4, settled_at = $5
         WHERE tenant_id = $1 AND merge_id = $2 AND opportunity_id = $3",
    )
    .bind(tenant_id)
    .bind(merge_id)
    .bind(opportunity_id)
    .bind(outcome.as_str())
    .bind(at)
    .execute(conn)
    .await?;
    Ok(())
}
