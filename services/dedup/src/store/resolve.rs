//! Finding or creating the customer of a lead, correct with several replicas at once.
//!
//! Match keys are unique per tenant in the database, so two transactions can never both
//! give one key to two customers. A transaction that finds no owner creates a customer
//! and claims the lead's keys with `INSERT … ON CONFLICT DO NOTHING`. If a claim did
//! nothing, someone else holds the key now (on PostgreSQL READ COMMITTED the insert
//! waited for the other transaction to commit), so the new customer is rolled back to a
//! savepoint and the lead is matched again, finding that owner: two replicas end with
//! one customer. The savepoint also keeps the consumer's batch transaction intact.

use sqlx::{AnyConnection, Connection as _};

use super::customers;
use crate::domain::MatchKey;
use crate::domain::matching::{attach_reasons, created_reasons, rank_candidates, unowned_keys};

/// Matching again after losing a key race finds the winner at once; a third loss in a
/// row means something keeps changing the keys, and the event is better retried later.
const MAX_ATTEMPTS: usize = 3;

/// What the lead brings to matching.
#[derive(Clone, Debug)]
pub struct LeadIdentity {
    pub lead_id: String,
    /// Its match keys in claiming order (see [`crate::domain::KeyKind`]).
    pub keys: Vec<MatchKey>,
    /// Cleaned contact name and company, for a customer created from this lead.
    pub name: String,
    pub company: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Resolution {
    /// A customer was created for the lead.
    Created {
        customer_id: String,
        reasons: Vec<String>,
    },
    /// The lead was attached to a customer already known.
    Attached {
        customer_id: String,
        reasons: Vec<String>,
    },
    /// The lead had been attached before (the same lead delivered again): nothing changed.
    AlreadyAttached { customer_id: String },
}

#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error("database error")]
    Database(#[from] sqlx::Error),
    #[error("lead {lead_id}: its match keys kept changing hands over {MAX_ATTEMPTS} attempts")]
    Contended { lead_id: String },
}

/// Attaches the lead to its customer, creating the customer when none holds its keys.
/// Runs inside the caller's transaction; everything it wrote is visible to the caller.
pub async fn resolve_customer(
    conn: &mut AnyConnection,
    tenant_id: &str,
    lead: &LeadIdentity,
    now: i64,
) -> Result<Resolution, ResolveError> {
    for attempt in 1..=MAX_ATTEMPTS {
        let mut savepoint = conn.begin().await?;
        match attempt_resolution(&mut savepoint, tenant_id, lead, now).await? {
            Some(resolution @ Resolution::AlreadyAttached { .. }) => {
                savepoint.rollback().await?;
                return Ok(resolution);
            }
            Some(resolution) => {
                savepoint.commit().await?;
                return Ok(resolution);
            }
            None => {
                savepoint.rollback().await?;
                tracing::debug!(lead_id = %lead.lead_id, attempt, "lost a match key to a concurrent lead; matching again");
                metrics::counter!("shangji_dedup_key_races_total").increment(1);
            }
        }
    }
    Err(ResolveError::Contended {
        lead_id: lead.lead_id.clone(),
    })
}

/// One try; `None` when a key was lost to a concurrent transaction and the savepoint
/// must be rolled back. Any `Some` other than `AlreadyAttached` is committed.
async fn attempt_resolution(
    conn: &mut AnyConnection,
    tenant_id: &str,
    lead: &LeadIdentity,
    now: i64,
) -> Result<Option<Resolution>, sqlx::Error> {
    if let Some(customer_id) = customers::lead_customer(conn, tenant_id, &lead.lead_id).await? {
        return Ok(Some(Resolution::AlreadyAttached { customer_id }));
    }
    let owners = customers::key_owners(conn, tenant_id, &lead.keys).await?;
    let mut ranked = rank_candidates(&owners);
    if !ranked.is_empty() {
        let chosen = ranked.remove(0);
        if !customers::attach_lead(conn, tenant_id, &chosen.customer_id, &lead.lead_id, now).await?
        {
            // Attached concurrently under another event id; that delivery did the work.
            return already_attached(conn, tenant_id, &lead.lead_id).await;
        }
        for key in unowned_keys(&lead.keys, &owners) {
            // Losing one of these is fine: the lead is attached either way, and the key
            // stays with whoever claimed it first.
            customers::claim_key(conn, tenant_id, &key, &chosen.customer_id, now).await?;
        }
        customers::count_lead(
            conn,
            tenant_id,
            &chosen.customer_id,
            &lead.name,
            &lead.company,
            now,
        )
        .await?;
        let reasons = attach_reasons(&chosen, &ranked);
        return Ok(Some(Resolution::Attached {
            customer_id: chosen.customer_id,
            reasons,
        }));
    }

    let customer_id = shangji_platform::ids::new_id("cus");
    customers::insert_customer(
        conn,
        tenant_id,
        &customer_id,
        &lead.name,
        &lead.company,
        now,
    )
    .await?;
    for key in &lead.keys {
        if !customers::claim_key(conn, tenant_id, key, &customer_id, now).await? {
            return Ok(None);
        }
    }
    if !customers::attach_lead(conn, tenant_id, &customer_id, &lead.lead_id, now).await? {
        return already_attached(conn, tenant_id, &lead.lead_id).await;
    }
    customers::count_lead(
        conn,
        tenant_id,
        &customer_id,
        &lead.name,
        &lead.company,
        now,
    )
    .await?;
    let reasons = created_reasons(&customer_id, &lead.keys);
    Ok(Some(Resolution::Created {
        customer_id,
        reasons,
    }))
}

/// The lead turned out to be attached by a concurrent transaction: report where, or
/// (should its row be invisible, which committed rows never are) match again.
async fn already_attached(
    conn: &mut AnyConnection,
    tenant_id: &str,
    lead_id: &str,
) -> Result<Option<Resolution>, sqlx::Error> {
    Ok(customers::lead_customer(conn, tenant_id, lead_id)
        .await?
        .map(|customer_id| Resolution::AlreadyAttached { customer_id }))
}
