//! The merged states: one JSON document per opportunity and per lead, per generation.

use std::collections::HashMap;

use shangji_platform::Tx;

use crate::domain::{LeadState, OpportunityState};

fn decode_error(what: &str, id: &str, err: serde_json::Error) -> sqlx::Error {
    sqlx::Error::Decode(format!("stored {what} state of `{id}` does not decode: {err}").into())
}

fn encode_error(err: serde_json::Error) -> sqlx::Error {
    sqlx::Error::Encode(Box::new(err))
}

pub async fn load_opportunity(
    tx: &mut Tx,
    tenant_id: &str,
    generation: i64,
    opportunity_id: &str,
) -> Result<Option<OpportunityState>, sqlx::Error> {
    let json: Option<String> = sqlx::query_scalar(
        "SELECT state FROM opportunity_states
         WHERE tenant_id = $1 AND generation = $2 AND opportunity_id = $3",
    )
    .bind(tenant_id)
    .bind(generation)
    .bind(opportunity_id)
    .fetch_optional(&mut **tx)
    .await?;
    json.map(|j| {
        serde_json::from_str(&j).map_err(|e| decode_error("opportunity", opportunity_id, e))
    })
    .transpose()
}

/// The states of several opportunities at once (ids not stored are absent).
pub async fn load_opportunities(
    tx: &mut Tx,
    tenant_id: &str,
    generation: i64,
    opportunity_ids: &[&str],
) -> Result<HashMap<String, OpportunityState>, sqlx::Error> {
    let mut out = HashMap::with_capacity(opportunity_ids.len());
    // Bounded IN lists keep every backend within its parameter limit.
    for chunk in opportunity_ids.chunks(500) {
        let params: Vec<String> = (0..chunk.len()).map(|i| format!("${}", i + 3)).collect();
        let sql = format!(
            "SELECT opportunity_id, state FROM opportunity_states
             WHERE tenant_id = $1 AND generation = $2 AND opportunity_id IN ({})",
            params.join(", ")
        );
        let mut q = sqlx::query_as::<_, (String, String)>(sqlx::AssertSqlSafe(sql))
            .bind(tenant_id)
            .bind(generation);
        for id in chunk {
            q = q.bind(*id);
        }
        for (id, json) in q.fetch_all(&mut **tx).await? {
            let state =
                serde_json::from_str(&json).map_err(|e| decode_error("opportunity", &id, e))?;
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
    let json = serde_json::to_string(state).map_err(encode_error)?;
    sqlx::query(
        "INSERT INTO opportunity_states (tenant_id, generation, opportunity_id, customer_id, owner_rep_id, status, state)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (tenant_id, generation, opportunity_id) DO UPDATE SET
           customer_id = excluded.customer_id, owner_rep_id = excluded.owner_rep_id,
           status = excluded.status, state = excluded.state",
    )
    .bind(tenant_id)
    .bind(generation)
    .bind(opportunity_id)
    .bind(&state.customer_id)
    .bind(&state.owner.value)
    .bind(state.status().as_str())
    .bind(json)
    .execute(&mut **tx)
    .await?;
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

pub async fn load_lead(
    tx: &mut Tx,
    tenant_id: &str,
    generation: i64,
    lead_id: &str,
) -> Result<Option<LeadState>, sqlx::Error> {
    let json: Option<String> = sqlx::query_scalar(
        "SELECT state FROM lead_states WHERE tenant_id = $1 AND generation = $2 AND lead_id = $3",
    )
    .bind(tenant_id)
    .bind(generation)
    .bind(lead_id)
    .fetch_optional(&mut **tx)
    .await?;
    json.map(|j| serde_json::from_str(&j).map_err(|e| decode_error("lead", lead_id, e)))
        .transpose()
}

pub async fn save_lead(
    tx: &mut Tx,
    tenant_id: &str,
    generation: i64,
    lead_id: &str,
    state: &LeadState,
) -> Result<(), sqlx::Error> {
    let json = serde_json::to_string(state).map_err(encode_error)?;
    sqlx::query(
        "INSERT INTO lead_states (tenant_id, generation, lead_id, state) VALUES ($1, $2, $3, $4)
         ON CONFLICT (tenant_id, generation, lead_id) DO UPDATE SET state = excluded.state",
    )
    .bind(tenant_id)
    .bind(generation)
    .bind(lead_id)
    .bind(json)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
