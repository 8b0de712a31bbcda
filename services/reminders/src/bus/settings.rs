//! The tenant settings a consumer batch reads, each read once per batch.
//!
//! Every opportunity or lead event needs the policy in force for its stage and the
//! tenant's business calendar. A batch is applied in one transaction and its handlers
//! never change either (policies and calendars change through the API), so the first
//! read of each stands for the whole batch: two statements per event fewer. A new batch,
//! or an event retried alone after its batch failed, reads them afresh.

use std::collections::HashMap;
use std::sync::Arc;

use shangji_platform::Tx;

use crate::domain::{BusinessCalendar, Policy};
use crate::store;

/// Policies and calendars read so far in one batch.
#[derive(Debug)]
pub struct BatchSettings {
    /// The built-in policy's first-contact hours, for tenants without a policy.
    first_contact_hours: u32,
    /// (tenant, stage) -> the policy in force for that stage.
    policies: HashMap<(String, String), Arc<Policy>>,
    /// tenant -> its calendar.
    calendars: HashMap<String, Arc<BusinessCalendar>>,
}

impl BatchSettings {
    pub fn new(first_contact_hours: u32) -> BatchSettings {
        BatchSettings {
            first_contact_hours,
            policies: HashMap::new(),
            calendars: HashMap::new(),
        }
    }

    /// The policy in force for an opportunity in `stage`: the tenant's, else the built-in.
    pub async fn policy(
        &mut self,
        tx: &mut Tx,
        tenant_id: &str,
        stage: &str,
    ) -> Result<Arc<Policy>, sqlx::Error> {
        let key = (tenant_id.to_owned(), stage.to_owned());
        if let Some(policy) = self.policies.get(&key) {
            return Ok(policy.clone());
        }
        let policy = Arc::new(
            store::policies::in_force(tx, tenant_id, stage)
                .await?
                .unwrap_or_else(|| Policy::builtin(self.first_contact_hours)),
        );
        self.policies.insert(key, policy.clone());
        Ok(policy)
    }

    /// The tenant's business calendar (the default one when it set none).
    pub async fn calendar(
        &mut self,
        tx: &mut Tx,
        tenant_id: &str,
    ) -> Result<Arc<BusinessCalendar>, sqlx::Error> {
        if let Some(calendar) = self.calendars.get(tenant_id) {
            return Ok(calendar.clone());
        }
        let calendar = Arc::new(store::calendars::in_force(tx, tenant_id).await?);
        self.calendars
            .insert(tenant_id.to_owned(), calendar.clone());
        Ok(calendar)
    }
}
