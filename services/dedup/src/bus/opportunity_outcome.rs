//! opportunity.created / won / lost / reopened -> what the learned lead score learns
//! from: which lead opened the opportunity, and how it ended. Every write is an upsert
//! that settles the counts, so the events may arrive in any order, and the inbox makes a
//! redelivered one a no-op.

use shangji_contracts::events::opportunity::{
    OpportunityCreated, OpportunityLost, OpportunityReopened, OpportunityWon,
};
use shangji_contracts::time::now_millis;
use shangji_platform::Tx;
use shangji_platform::bus::{self, HandlerError, IncomingEvent};

use crate::store::outcomes::{self, OpenedBy, Outcome};

/// The opportunity events dedup consumes (subject names).
pub const OUTCOME_EVENTS: &[&str] = &["created", "won", "lost", "reopened"];

pub struct OpportunityOutcomeHandler;

impl bus::BatchHandler for OpportunityOutcomeHandler {
    /// The leads that opened the batch's opportunities, recorded together at its end
    /// (the writes settle in any order, so recording them last changes nothing).
    type Batch = OpenedBy;

    fn new_batch(&self) -> OpenedBy {
        OpenedBy::default()
    }

    async fn finish(&self, tx: &mut Tx, opened: &mut OpenedBy) -> Result<(), HandlerError> {
        opened.record(tx, now_millis()).await?;
        Ok(())
    }

    async fn apply(
        &self,
        tx: &mut Tx,
        event: &IncomingEvent,
        opened: &mut OpenedBy,
    ) -> Result<(), HandlerError> {
        let tenant_id = event.tenant_id();
        if tenant_id.is_empty() {
            return Err(HandlerError::Reject(anyhow::anyhow!(
                "{} without a tenant",
                event.event_type()
            )));
        }
        let now = now_millis();
        let (opportunity_id, outcome) = if event.is::<OpportunityCreated>() {
            let created: OpportunityCreated = event.decode()?;
            // Opportunities not opened by a lead teach nothing about leads.
            if created.lead_id.is_empty() || created.opportunity_id.is_empty() {
                return Ok(());
            }
            opened.note(tenant_id, &created.opportunity_id, &created.lead_id);
            return Ok(());
        } else if event.is::<OpportunityWon>() {
            (
                event.decode::<OpportunityWon>()?.opportunity_id,
                Outcome::Won,
            )
        } else if event.is::<OpportunityLost>() {
            (
                event.decode::<OpportunityLost>()?.opportunity_id,
                Outcome::Lost,
            )
        } else if event.is::<OpportunityReopened>() {
            (
                event.decode::<OpportunityReopened>()?.opportunity_id,
                Outcome::Open,
            )
        } else {
            // The consumer filters on the events above; others are not ours to judge.
            return Ok(());
        };
        if opportunity_id.is_empty() {
            return Err(HandlerError::Reject(anyhow::anyhow!(
                "{} without an opportunity_id",
                event.event_type()
            )));
        }
        outcomes::record_outcome(tx, tenant_id, &opportunity_id, outcome, now).await?;
        tracing::debug!(tenant_id, opportunity_id = %opportunity_id, outcome = outcome.as_str(), "outcome noted for learning");
        Ok(())
    }
}
