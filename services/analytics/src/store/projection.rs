//! Applying changes to a generation of the read models: load the states, merge the
//! facts, and move the rollups by what the states contribute after minus before. A
//! batch merges every change first and writes each state and rollup row once.

use std::collections::HashMap;

use shangji_platform::Tx;

use super::{rollups, states};
use crate::domain::contribution::{self, Contributions};
use crate::domain::{LeadFacts, LeadState, OpportunityFacts, OpportunityState};

/// Applies facts about opportunities (in any order, several per opportunity allowed).
pub async fn apply_opportunities(
    tx: &mut Tx,
    tenant_id: &str,
    generation: i64,
    changes: &[(&str, &OpportunityFacts)],
) -> Result<(), sqlx::Error> {
    let mut ids: Vec<&str> = changes.iter().map(|(id, _)| *id).collect();
    ids.sort_unstable();
    ids.dedup();
    let mut stored = states::load_opportunities(tx, tenant_id, generation, &ids).await?;
    let mut touched: HashMap<&str, (Contributions, OpportunityState)> = HashMap::new();
    for (id, facts) in changes {
        let entry = touched
            .entry(id)
            .or_insert_with(|| match stored.remove(*id) {
                Some(state) => (contribution::of_opportunity(&state), state),
                None => (Contributions::new(), OpportunityState::new(facts.at)),
            });
        entry.1.merge(facts);
    }
    let mut delta = Contributions::new();
    let mut saved = Vec::with_capacity(touched.len());
    for (id, (before, state)) in &touched {
        contribution::accumulate(
            &mut delta,
            contribution::delta(before, &contribution::of_opportunity(state)),
        );
        saved.push((*id, state));
    }
    // Sorted, so concurrent writers touch rows in one order.
    saved.sort_unstable_by_key(|(id, _)| *id);
    states::save_opportunities(tx, tenant_id, generation, &saved).await?;
    rollups::add(tx, tenant_id, generation, &delta).await
}

/// Applies facts about one lead.
pub async fn apply_lead(
    tx: &mut Tx,
    tenant_id: &str,
    generation: i64,
    lead_id: &str,
    facts: &LeadFacts,
) -> Result<(), sqlx::Error> {
    apply_leads(tx, tenant_id, generation, &[(lead_id, facts)]).await
}

/// Applies facts about leads (in any order, several per lead allowed).
pub async fn apply_leads(
    tx: &mut Tx,
    tenant_id: &str,
    generation: i64,
    changes: &[(&str, &LeadFacts)],
) -> Result<(), sqlx::Error> {
    let mut ids: Vec<&str> = changes.iter().map(|(id, _)| *id).collect();
    ids.sort_unstable();
    ids.dedup();
    let mut stored = states::load_leads(tx, tenant_id, generation, &ids).await?;
    let mut touched: HashMap<&str, (Contributions, LeadState)> = HashMap::new();
    for (id, facts) in changes {
        let entry = touched
            .entry(id)
            .or_insert_with(|| match stored.remove(*id) {
                Some(state) => (contribution::of_lead(&state), state),
                None => (Contributions::new(), LeadState::new(facts.at)),
            });
        entry.1.merge(facts);
    }
    let mut delta = Contributions::new();
    let mut saved = Vec::with_capacity(touched.len());
    for (id, (before, state)) in &touched {
        contribution::accumulate(
            &mut delta,
            contribution::delta(before, &contribution::of_lead(state)),
        );
        saved.push((*id, state));
    }
    saved.sort_unstable_by_key(|(id, _)| *id);
    states::save_leads(tx, tenant_id, generation, &saved).await?;
    rollups::add(tx, tenant_id, generation, &delta).await
}
