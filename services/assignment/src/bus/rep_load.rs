//! Opportunity events -> each rep's open load, each opportunity's last follow-up (the
//! recycling clock), and the pool drain when capacity frees up.
//!
//! The facts go into `opportunity_owners` as order-independent upserts and the affected
//! reps are recounted (once per batch, or before a pool drain reads the counts), so a redelivered, duplicated or out-of-order event leaves the
//! same count, and a count can never go negative. An owner change also moves the
//! customer to the new owner, so the next lead of that customer follows the deal.

use prost_types::Timestamp;
use shangji_contracts::events::opportunity::{
    OpportunityActivityLogged, OpportunityCreated, OpportunityLost, OpportunityOwnerChanged,
    OpportunityWon,
};
use shangji_contracts::time::to_millis;
use shangji_platform::Tx;
use shangji_platform::bus::{BatchHandler, HandlerError, IncomingEvent};

use crate::clock::Clock;
use crate::placement::drain;
use crate::store::opportunities::{self, Opened};
use crate::store::owners;
use crate::store::reps::Recount;

/// Keeps reps' open loads and the recycling clocks.
#[derive(Debug, Default)]
pub struct RepLoadTracking {
    pub clock: Clock,
}

/// What an opportunity event says about ownership, openness and follow-up.
enum Fact {
    Opened {
        rep_id: String,
        customer_id: String,
        lead_id: String,
        team: String,
    },
    Closed {
        rep_id: String,
    },
    Moved {
        customer_id: String,
        from: String,
        to: String,
    },
    FollowedUp,
}

impl BatchHandler for RepLoadTracking {
    /// The reps whose load the batch changed, recounted once each: before a pool drain
    /// (which reads the counts) and when the batch ends.
    type Batch = Recount;

    fn new_batch(&self) -> Recount {
        Recount::default()
    }

    async fn finish(&self, tx: &mut Tx, recount: &mut Recount) -> Result<(), HandlerError> {
        recount.refresh(tx, self.clock.now()).await?;
        Ok(())
    }

    async fn apply(
        &self,
        tx: &mut Tx,
        event: &IncomingEvent,
        recount: &mut Recount,
    ) -> Result<(), HandlerError> {
        let Some((opportunity_id, at, fact)) = read_fact(event)? else {
            return Ok(());
        };
        let tenant_id = event.tenant_id();
        if tenant_id.is_empty() || opportunity_id.is_empty() {
            return Err(HandlerError::Reject(anyhow::anyhow!(
                "{} event needs a tenant_id and an opportunity_id",
                event.event_type()
            )));
        }
        let mut freed = false;
        let touched = match &fact {
            Fact::Opened {
                rep_id,
                customer_id,
                lead_id,
                team,
            } => {
                let opened = Opened {
                    opportunity_id: &opportunity_id,
                    rep_id,
                    customer_id,
                    lead_id,
                    team,
                    at,
                };
                opportunities::opened(tx, tenant_id, opened).await?
            }
            Fact::Closed { rep_id } => {
                freed = true;
                opportunities::closed(tx, tenant_id, &opportunity_id, rep_id, at).await?
            }
            Fact::Moved {
                customer_id,
                from,
                to,
            } => {
                let touched =
                    opportunities::owner_changed(tx, tenant_id, &opportunity_id, to, at).await?;
                if ![customer_id, from, to].iter().any(|s| s.is_empty())
                    && owners::follow_reassignment(tx, tenant_id, customer_id, from, to, at).await?
                {
                    tracing::info!(tenant_id, customer_id = %customer_id, from = %from, to = %to, "customer moved with its opportunity");
                }
                opportunities::touched(tx, tenant_id, &opportunity_id, at).await?;
                touched
            }
            Fact::FollowedUp => {
                opportunities::touched(tx, tenant_id, &opportunity_id, at).await?;
                Vec::new()
            }
        };
        if !matches!(fact, Fact::Opened { .. }) {
            // An opening schedules its recycling as it inserts the row (and a late one
            // changes nothing the schedule depends on).
            opportunities::reschedule_one(tx, tenant_id, &opportunity_id).await?;
        }
        for rep_id in &touched {
            recount.add(tenant_id, rep_id);
        }
        if freed {
            let now = self.clock.now();
            recount.refresh(tx, now).await?;
            drain::drain_pool(tx, &event.follow_on(), now).await?;
        }
        tracing::debug!(tenant_id, opportunity_id = %opportunity_id, event = event.event_type(), reps = ?touched, "rep load updated");
        Ok(())
    }
}

/// The opportunity, when it happened (the event's own time, else the envelope's), and
/// the fact; None for events this handler does not use.
fn read_fact(event: &IncomingEvent) -> Result<Option<(String, i64, Fact)>, HandlerError> {
    let at = |ts: Option<Timestamp>| {
        ts.as_ref()
            .map_or_else(|| event.occurred_at_millis(), to_millis)
    };
    let read = if event.is::<OpportunityCreated>() {
        let e: OpportunityCreated = event.decode()?;
        let fact = Fact::Opened {
            rep_id: e.owner_rep_id,
            customer_id: e.customer_id,
            lead_id: e.lead_id,
            team: e.team,
        };
        (e.opportunity_id, at(e.created_at), fact)
    } else if event.is::<OpportunityWon>() {
        let e: OpportunityWon = event.decode()?;
        let fact = Fact::Closed {
            rep_id: e.owner_rep_id,
        };
        (e.opportunity_id, at(e.closed_at), fact)
    } else if event.is::<OpportunityLost>() {
        let e: OpportunityLost = event.decode()?;
        let fact = Fact::Closed {
            rep_id: e.owner_rep_id,
        };
        (e.opportunity_id, at(e.closed_at), fact)
    } else if event.is::<OpportunityOwnerChanged>() {
        let e: OpportunityOwnerChanged = event.decode()?;
        let fact = Fact::Moved {
            customer_id: e.customer_id,
            from: e.from_rep_id,
            to: e.to_rep_id,
        };
        (e.opportunity_id, at(e.changed_at), fact)
    } else if event.is::<OpportunityActivityLogged>() {
        let e: OpportunityActivityLogged = event.decode()?;
        (e.opportunity_id, at(e.logged_at), Fact::FollowedUp)
    } else {
        return Ok(None);
    };
    Ok(Some(read))
}
