//! The merged states: one JSON document per opportunity and per lead, per generation.

use std::collections::HashMap;

use shangji_platform::Tx;

use crate::domain::{LeadState, OpportunityState};
use shangji_platform::db::Params;

fn decode_error(what: &str, id: &str, err: serde_json::Error) -> sqlx::Error {
    sqlx::Error::Decode(format!("stored {what} state of `{id}` does not decode: {err}").into())
}

fn encode_error(err: serde_json::Error) -> sqlx::Error {
    sqlx::Error::Encode(Box::new(err))
}

/// Rows per statement when loading or saving states: keeps every backend well within
/// its bind-parameter limit.
const ROWS_PER_STATEMENT: usize = 200;

/// The states of several opportunities at once (ids not stored are absent).
pub async fn load_opportunities(
    tx: &mut Tx,
    tenant_id: &str,
    generation: i64,
    opportunity_ids: &[&str],
) -> Result<HashMap<String, OpportunityState>, sqlx::Error> {
    load_many(tx, "opportunity", tenant_id, generation, opportunity_ids).await
}

/// The states of several leads at once (ids not stored are absent).
pub async fn load_leads(
    tx: &mut Tx,
    tenant_id: &str,
    generation: i64,
    lead_ids: &[&str],
) -> Result<HashMap<String, LeadState>, sqlx::Error> {
    load_many(tx, "lead", tenant_id, generation, lead_ids).await
}

/// Serialises the transactions that read-modify-write these states. Each stream has its
/// own consumer (opportunities, leads, reminders, org), so two transactions can merge
/// events of one opportunity at once; on PostgreSQL (read committed) both would read the
/// same state and the later write would drop the other's change. A row lock cannot cover a
/// state not yet stored, so the lock is a transaction-scoped advisory lock on the state's
/// key, taken in sorted order so two transactions cannot deadlock on one kind of state.
/// SQLite has one writer at a time and needs none.
async fn lock(
    tx: &mut Tx,
    what: &str,
    tenant_id: &str,
    generation: i64,
    ids: &[&str],
) -> Result<(), sqlx::Error> {
    if tx.backend_name() == "SQLite" {
        return Ok(());
    }
    let mut sorted = ids.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    for id in sorted {
        // Selecting through a subquery: the lock function returns `void`, which the Any
        // driver cannot carry.
        sqlx::query(
            "SELECT 1 FROM (SELECT pg_advisory_xact_lock(hashtextextended($1, 0))) AS locked",
        )
        .bind(format!("analytics:{what}:{tenant_id}:{generation}:{id}"))
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

async fn load_many<S: serde::de::DeserializeOwned>(
    tx: &mut Tx,
    what: &str,
    tenant_id: &str,
    generation: i64,
    ids: &[&str],
) -> Result<HashMap<String, S>, sqlx::Error> {
    lock(tx, what, tenant_id, generation, ids).await?;
    let mut out = HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(ROWS_PER_STATEMENT) {
        let mut params = Params::new(tx);
        let sql = format!(
            "SELECT {what}_id, state FROM {what}_states
             WHERE tenant_id = {} AND generation = {} AND {what}_id IN ({})",
            params.one(),
            params.one(),
            params.list(chunk.len())
        );
        let mut q = sqlx::query_as::<_, (String, String)>(sqlx::AssertSqlSafe(sql))
            .bind(tenant_id)
            .bind(generation);
        for id in chunk {
            q = q.bind(*id);
        }
        for (id, json) in q.fetch_all(&mut **tx).await? {
            let state = serde_json::from_str(&json).map_err(|e| decode_error(what, &id, e))?;
            out.insert(id, state);
        }
    }
    Ok(out)
}

pub async fn save_opportunity(
    tx: &mut Tx,
    tenant_id: &str,
    generation: i64,
    opportunity_id: &str,
    state: &OpportunityState,
) -> Result<(), sqlx::Error> {
    save_opportunities(tx, tenant_id, generation, &[(opportunity_id, state)]).await
}

/// Writes several opportunities' states, a multi-row upsert per chunk.
pub async fn save_opportunities(
    tx: &mut Tx,
    tenant_id: &str,
    generation: i64,
    states: &[(&str, &OpportunityState)],
) -> Result<(), sqlx::Error> {
    for chunk in states.chunks(ROWS_PER_STATEMENT) {
        let mut params = Params::new(tx);
        let values: Vec<String> = chunk
            .iter()
            .map(|_| format!("({})", params.list(7)))
            .collect();
        let sql = format!(
            "INSERT INTO opportunity_states (tenant_id, generation, opportunity_id, customer_id, owner_rep_id, status, state)
             VALUES {}
             ON CONFLICT (tenant_id, generation, opportunity_id) DO UPDATE SET
               customer_id = excluded.customer_id, owner_rep_id = excluded.owner_rep_id,
               status = excluded.status, state = excluded.state",
            values.join(", ")
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for (id, state) in chunk {
            let json = serde_json::to_string(state).map_err(encode_error)?;
            q = q
                .bind(tenant_id)
                .bind(generation)
                .bind(*id)
                .bind(state.customer_id.as_str())
                .bind(state.owner.value.as_str())
                .bind(state.status().as_str())
                .bind(json);
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}

/// Open opportunities of a customer owned by `owner_rep_id` (for an ownership transfer
/// that names no opportunities).
pub async fn open_opportunities_of(
    tx: &mut Tx,
    tenant_id: &str,
    generation: i64,
    customer_id: &str,
    owner_rep_id: &str,
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT opportunity_id FROM opportunity_states
         WHERE tenant_id = $1 AND generation = $2 AND customer_id = $3 AND owner_rep_id = $4
           AND status = 'open'
         ORDER BY opportunity_id",
    )
    .bind(tenant_id)
    .bind(generation)
    .bind(customer_id)
    .bind(owner_rep_id)
    .fetch_all(&mut **tx)
    .await
}

pub async fn save_lead(
    tx: &mut Tx,
    tenant_id: &str,
    generation: i64,
    lead_id: &str,
    state: &LeadState,
) -> Result<(), sqlx::Error> {
    save_leads(tx, tenant_id, generation, &[(lead_id, state)]).await
}

/// Writes several leads' states, a multi-row upsert per chunk.
pub async fn save_leads(
    tx: &mut Tx,
    tenant_id: &str,
    generation: i64,
    states: &[(&str, &LeadState)],
) -> Result<(), sqlx::Error> {
    for chunk in states.chunks(ROWS_PER_STATEMENT) {
        let mut params = Params::new(tx);
        let values: Vec<String> = chunk
            .iter()
            .map(|_| format!("({})", params.list(4)))
            .collect();
        let sql = format!(
            "INSERT INTO lead_states (tenant_id, generation, lead_id, state) VALUES {}
             ON CONFLICT (tenant_id, generation, lead_id) DO UPDATE SET state = excluded.state",
            values.join(", ")
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for (id, state) in chunk {
            let json = serde_json::to_string(state).map_err(encode_error)?;
            q = q.bind(tenant_id).bind(generation).bind(*id).bind(json);
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}
