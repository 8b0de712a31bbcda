//! Gathering a batch's opportunity and lead changes so each state and rollup row is
//! written once per batch, not once per event. Merging facts is commutative, so
//! applying the gathered changes together gives the same figures as one by one.

use shangji_platform::Tx;

use super::Change;
use crate::store::projection;

/// Changes waiting to be written, with the tenant and generation each goes to.
#[derive(Debug, Default)]
pub struct Gathered {
    changes: Vec<(String, i64, Change)>,
}

impl Gathered {
    /// Keeps an opportunity or lead change for [`Gathered::flush`]; other changes are
    /// applied by the caller in place (a transfer looks states up, so flush first).
    pub fn push(&mut self, tenant: &str, generation: i64, change: Change) {
        self.changes.push((tenant.to_owned(), generation, change));
    }

    /// Writes what was gathered, one batch per tenant and generation.
    pub async fn flush(&mut self, tx: &mut Tx) -> Result<(), sqlx::Error> {
        let mut changes = std::mem::take(&mut self.changes);
        // Stable: each opportunity's facts keep their order (not that merging needs it).
        changes.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
        for group in changes.chunk_by(|a, b| a.0 == b.0 && a.1 == b.1) {
            let (tenant, generation) = (&group[0].0, group[0].1);
            let mut opportunities = Vec::new();
            let mut leads = Vec::new();
            for (_, _, change) in group {
                match change {
                    Change::Opportunity(id, facts) => opportunities.push((id.as_str(), facts)),
                    Change::Lead(id, facts) => leads.push((id.as_str(), facts)),
                    _ => {}
                }
            }
            if !opportunities.is_empty() {
                projection::apply_opportunities(tx, tenant, generation, &opportunities).await?;
            }
            if !leads.is_empty() {
                projection::apply_leads(tx, tenant, generation, &leads).await?;
            }
        }
        Ok(())
    }
}
