//! Lead events -> the `leads` read model.

use shangji_contracts::events::lead::LeadReceived;
use shangji_platform::Tx;
use shangji_platform::bus::{Handler, HandlerError, IncomingEvent};

use super::{reject, time_of};
use crate::store;

/// Counts received leads; other lead events are not used yet.
#[derive(Clone, Copy, Debug, Default)]
pub struct LeadEvents;

impl Handler for LeadEvents {
    async fn handle(&self, tx: &mut Tx, event: &IncomingEvent) -> Result<(), HandlerError> {
        if !event.is::<LeadReceived>() {
            return Ok(());
        }
        let tenant_id = event.tenant_id();
        if tenant_id.is_empty() {
            return Err(reject("the envelope names no tenant"));
        }
        let e: LeadReceived = event.decode()?;
        if e.lead_id.is_empty() {
            return Err(reject("lead.received names no lead_id"));
        }
        let received_at = time_of(e.received_at.as_ref(), event);
        // The lead's own source ("trade show 2024"), else the channel it came through.
        let source = e
            .lead
            .as_ref()
            .map(|l| l.source.trim())
            .filter(|s| !s.is_empty())
            .unwrap_or(e.channel.as_str());
        let new =
            store::leads::record_received(tx, tenant_id, &e.lead_id, received_at, source).await?;
        tracing::debug!(tenant_id, lead_id = %e.lead_id, new, "lead received");
        Ok(())
    }
}
