//! `lead.customer_merged` -> the survivor keeps one owner (its own, else the first
//! merged customer's that had one) and the other owners' open work moves to that owner
//! (`lead.ownership_transferred`, reason merge).
//!
//! Redelivery-safe: the inbox drops a redelivery, and applying a merge twice finds the
//! merged customers already pointing at the survivor with nothing left to move.

use shangji_contracts::events::lead::CustomerMerged;
use shangji_platform::Tx;
use shangji_platform::bus::{Handler, HandlerError, IncomingEvent};

use crate::clock::Clock;
use crate::placement::transfer::{self, Move};
use crate::store::{opportunities, owners};

#[derive(Debug, Default)]
pub struct CustomerMerges {
    pub clock: Clock,
}

impl Handler for CustomerMerges {
    async fn handle(&self, tx: &mut Tx, event: &IncomingEvent) -> Result<(), HandlerError> {
        if !event.is::<CustomerMerged>() {
            return Ok(());
        }
        let merge: CustomerMerged = event.decode()?;
        let tenant_id = event.tenant_id();
        let survivor = merge.survivor_customer_id.as_str();
        if tenant_id.is_empty() || survivor.is_empty() {
            return Err(HandlerError::Reject(anyhow::anyhow!(
                "lead.customer_merged needs a tenant_id and a survivor_customer_id"
            )));
        }
        let now = self.clock.now();
        let mut keeper = owners::owner_of(&mut **tx, tenant_id, survivor).await?;
        let mut merged_owners = Vec::new();
        for merged in merge.merged_customer_ids.iter().filter(|m| *m != survivor) {
            let owner = owners::owner_of(&mut **tx, tenant_id, merged).await?;
            if keeper.is_none() {
                keeper.clone_from(&owner);
            }
            merged_owners.push((merged.clone(), owner));
        }
        let Some(keeper) = keeper else {
            for (merged, _) in &merged_owners {
                opportunities::repoint_customer(tx, tenant_id, merged, survivor).await?;
            }
            tracing::info!(tenant_id, survivor, "customers merged; nobody owned them");
            return Ok(());
        };
        owners::set(tx, tenant_id, survivor, &keeper, now).await?;
        for (merged, owner) in merged_owners {
            let open = opportunities::open_of_customer(&mut **tx, tenant_id, &merged).await?;
            opportunities::repoint_customer(tx, tenant_id, &merged, survivor).await?;
            owners::release(tx, tenant_id, &merged).await?;
            let Some(owner) = owner.filter(|o| *o != keeper) else {
                continue;
            };
            let moving: Vec<String> = open
                .into_iter()
                .filter(|o| o.rep_id == owner)
                .map(|o| o.opportunity_id)
                .collect();
            let mv = Move {
                customer_id: survivor.to_owned(),
                from_rep_id: owner,
                to_rep_id: keeper.clone(),
                team: String::new(),
                reason: "merge".to_owned(),
                rule: format!("merge:{}", merge.merge_id),
                note: format!("customer {merged} was merged into {survivor}"),
                opportunity_ids: moving,
                lead_ids: Vec::new(),
            };
            transfer::transfer(tx, &event.follow_on(), mv, now).await?;
        }
        tracing::info!(tenant_id, survivor, owner = %keeper, "customers merged; the survivor has one owner");
        Ok(())
    }
}
