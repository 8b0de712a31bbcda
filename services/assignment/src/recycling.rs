//! The recycling timer: open opportunities without follow-up for the tenant's N days
//! return to the pool (`lead.ownership_transferred`, to nobody, reason recycled).
//!
//! Due times are kept per opportunity (`opportunity_owners.recycle_due_at`, indexed), so
//! a round reads only what is due. Each opportunity is recycled in its own transaction,
//! guarded by its due time, so a follow-up that arrived meanwhile or another replica
//! wins and nothing is recycled twice.

use std::time::Duration;

use shangji_platform::Db;
use shangji_platform::bus::EventContext;
use tokio_util::sync::CancellationToken;

use crate::clock::Clock;
use crate::placement::transfer::{self, Move};
use crate::store::opportunities;

/// The user recorded on events the timer causes.
pub const TIMER_USER: &str = "assignment-recycling";

/// Recycles due opportunities every `tick` until `shutdown`.
pub async fn run(
    db: Db,
    clock: Clock,
    tick: Duration,
    batch: u32,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    loop {
        let pause = match recycle_due(&db, clock.now(), batch).await {
            Ok(n) if n >= batch as usize => Duration::ZERO,
            Ok(_) => tick,
            Err(err) => {
                tracing::warn!(
                    error = format!("{err:#}"),
                    "recycling round failed; retrying next tick"
                );
                tick
            }
        };
        tokio::select! {
            _ = shutdown.cancelled() => return Ok(()),
            _ = tokio::time::sleep(pause) => {}
        }
    }
}

/// One round: returns to the pool what is due by `now`, at most `batch`; how many.
pub async fn recycle_due(db: &Db, now: i64, batch: u32) -> anyhow::Result<usize> {
    let due = opportunities::recycle_due(db.reader(), now, batch).await?;
    let mut recycled = 0;
    for open in due {
        let mut tx = db.begin().await?;
        if !opportunities::take_due(&mut tx, &open.tenant_id, &open.opportunity_id, now).await? {
            tx.rollback().await?;
            continue;
        }
        let ctx = EventContext {
            tenant_id: open.tenant_id.clone(),
            user_id: TIMER_USER.to_owned(),
            causation_id: open.opportunity_id.clone(),
            correlation_id: open.lead_id.clone(),
        };
        let mv = Move {
            customer_id: open.customer_id.clone(),
            from_rep_id: open.rep_id.clone(),
            to_rep_id: String::new(),
            team: open.team.clone(),
            reason: "recycled".to_owned(),
            rule: "recycling-policy".to_owned(),
            note: "no follow-up within the tenant's recycling period".to_owned(),
            opportunity_ids: vec![open.opportunity_id.clone()],
            lead_ids: Vec::new(),
        };
        transfer::transfer(&mut tx, &ctx, mv, now).await?;
        tx.commit().await?;
        recycled += 1;
    }
    if recycled > 0 {
        metrics::counter!("shangji_assignment_recycled_total").increment(recycled as u64);
    }
    Ok(recycled)
}
