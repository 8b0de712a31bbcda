//! `lead.customer_merged` -> every opportunity of each merged customer (open or closed)
//! now belongs to the survivor; `lead.customer_unmerged` -> exactly those go back.
//!
//! - Both open: the survivor's open opportunity stays primary, the merged customer's
//!   becomes a parallel deal of it (see `domain::merge` for why), flagged in both
//!   histories. The database's one-primary-open-per-customer index always holds.
//! - Each move is a history line `customer_id` (previous value, the merge, by whoever
//!   decided it) and an `opportunity.updated` (`changed_fields` customer_id, and
//!   parallel_of when that changed), so reminders and analytics see the new customer.
//! - While the merge stands the merged customer is an alias of the survivor: a late
//!   `lead.assigned` for it lands on the survivor's opportunity (`lead_assigned`).
//! - Unmerge restores each moved opportunity to its pre-merge customer unless its
//!   customer changed after the merge (a person, or a later merge of the survivor):
//!   that one stays, with a history line saying why. The survivor's remaining open
//!   opportunities are then settled so it has one primary again.
//!
//! Redelivery-safe: the inbox drops a repeated event id, and a merge re-published under
//! a new id finds its customers already recorded (`merged_customers`) and changes
//! nothing; an unmerge only touches moves it has not settled. An unmerge that arrives
//! before its merge leaves a record that makes the late merge a no-op.

use std::collections::BTreeSet;

use anyhow::anyhow;
use shangji_contracts::events::lead::{CustomerMerged, CustomerUnmerged};
use shangji_contracts::time::now_millis;
use shangji_platform::Tx;
use shangji_platform::bus::{self, Handler, HandlerError, IncomingEvent};
use shangji_platform::db::is_unique_violation;

use crate::bus::events;
use crate::domain::Status;
use crate::domain::merge::{self, Primary};
use crate::store::history;
use crate::store::merges::{self, MemberState, Move, Settled};
use crate::store::placements::{self, Placed};

/// Follows dedup's customer merges and unmerges.
#[derive(Clone, Debug, Default)]
pub struct CustomerMergesHandler;

impl Handler for CustomerMergesHandler {
    async fn handle(&self, tx: &mut Tx, event: &IncomingEvent) -> Result<(), HandlerError> {
        if event.is::<CustomerMerged>() {
            let merge: CustomerMerged = event.decode()?;
            apply_merge(tx, event, &merge).await
        } else if event.is::<CustomerUnmerged>() {
            let unmerge: CustomerUnmerged = event.decode()?;
            apply_unmerge(tx, event, &unmerge).await
        } else {
            // The consumer's filter names only these two; anything else is not ours.
            Ok(())
        }
    }
}

/// What every change of one merge (or unmerge) shares.
struct MergeContext<'e> {
    incoming: &'e IncomingEvent,
    tenant_id: &'e str,
    merge_id: &'e str,
    survivor: &'e str,
    user_id: &'e str,
    now: i64,
}

impl<'e> MergeContext<'e> {
    fn new(
        incoming: &'e IncomingEvent,
        merge_id: &'e str,
        survivor: &'e str,
        decided_by: &'e str,
    ) -> Result<MergeContext<'e>, HandlerError> {
        let required = [
            ("tenant_id", incoming.tenant_id()),
            ("merge_id", merge_id),
            ("survivor_customer_id", survivor),
        ];
        if let Some((field, _)) = required.iter().find(|(_, v)| v.trim().is_empty()) {
            return Err(HandlerError::Reject(anyhow!(
                "{} without {field}",
                incoming.envelope.event_type
            )));
        }
        Ok(MergeContext {
            incoming,
            tenant_id: incoming.tenant_id(),
            merge_id,
            survivor,
            user_id: merge::actor(decided_by, &incoming.envelope.user_id),
            now: now_millis(),
        })
    }
}

/// Distinct, non-empty customer ids other than the survivor, in the event's order.
fn others<'a>(ids: &'a [String], survivor: &str) -> Vec<&'a str> {
    let mut seen = BTreeSet::new();
    ids.iter()
        .map(|id| id.trim())
        .filter(|id| !id.is_empty() && *id != survivor && seen.insert(*id))
        .collect()
}

async fn apply_merge(
    tx: &mut Tx,
    incoming: &IncomingEvent,
    event: &CustomerMerged,
) -> Result<(), HandlerError> {
    let ctx = MergeContext::new(
        incoming,
        &event.merge_id,
        &event.survivor_customer_id,
        &event.decided_by,
    )?;
    let mut primary =
        Primary::new(placements::primary_open(tx, ctx.tenant_id, ctx.survivor).await?);
    let mut moved = 0;
    for merged in others(&event.merged_customer_ids, ctx.survivor) {
        if merges::member_state(tx, ctx.tenant_id, ctx.merge_id, merged)
            .await?
            .is_some()
        {
            tracing::debug!(
                merge_id = ctx.merge_id,
                customer_id = merged,
                "merge already applied (or undone first); nothing to do"
            );
            continue;
        }
        merges::record_merged(
            tx,
            ctx.tenant_id,
            ctx.merge_id,
            merged,
            ctx.survivor,
            ctx.now,
        )
        .await?;
        for placed in placements::of_customer(tx, ctx.tenant_id, merged).await? {
            move_to_survivor(tx, &ctx, merged, placed, &mut primary).await?;
            moved += 1;
        }
    }
    tracing::info!(
        tenant_id = ctx.tenant_id,
        merge_id = ctx.merge_id,
        survivor = ctx.survivor,
        moved,
        "followed a customer merge"
    );
    Ok(())
}

async fn move_to_survivor(
    tx: &mut Tx,
    ctx: &MergeContext<'_>,
    merged: &str,
    placed: Placed,
    primary: &mut Primary,
) -> Result<(), HandlerError> {
    let Placed {
        mut opp,
        parallel_of: from_parallel_of,
    } = placed;
    // Closed opportunities keep their link: the index is about open ones only.
    let to_parallel_of = if opp.status == Status::Open {
        primary.place_open(&opp.opportunity_id)
    } else {
        from_parallel_of.clone()
    };
    let changes = merge::move_changes(
        merged,
        ctx.survivor,
        &from_parallel_of,
        &to_parallel_of,
        &merge::merged_note(ctx.survivor, ctx.merge_id),
    );
    place(tx, ctx, &mut opp, ctx.survivor, &to_parallel_of).await?;
    history::append(
        tx,
        ctx.tenant_id,
        &opp.opportunity_id,
        ctx.user_id,
        ctx.now,
        &changes,
    )
    .await?;
    let history_seq = history::last_seq(tx, ctx.tenant_id, &opp.opportunity_id).await?;
    merges::record_move(
        tx,
        ctx.tenant_id,
        &Move {
            merge_id: ctx.merge_id.to_owned(),
            opportunity_id: opp.opportunity_id.clone(),
            from_customer_id: merged.to_owned(),
            to_customer_id: ctx.survivor.to_owned(),
            from_parallel_of,
            history_seq,
            moved_at: ctx.now,
        },
    )
    .await?;
    if !to_parallel_of.is_empty() && opp.status == Status::Open {
        let joined = merge::joined_change(&opp.opportunity_id, merged, ctx.merge_id);
        history::append(
            tx,
            ctx.tenant_id,
            &to_parallel_of,
            ctx.user_id,
            ctx.now,
            &[joined],
        )
        .await?;
    }
    bus::enqueue(
        tx,
        &ctx.incoming.follow_on(),
        &events::updated(&opp, &changes),
    )
    .await?;
    tracing::info!(
        opportunity_id = %opp.opportunity_id,
        from_customer_id = merged,
        to_customer_id = ctx.survivor,
        parallel_of = %to_parallel_of,
        merge_id = ctx.merge_id,
        "moved an opportunity to the surviving customer"
    );
    Ok(())
}

async fn apply_unmerge(
    tx: &mut Tx,
    incoming: &IncomingEvent,
    event: &CustomerUnmerged,
) -> Result<(), HandlerError> {
    let ctx = MergeContext::new(
        incoming,
        &event.merge_id,
        &event.survivor_customer_id,
        &event.decided_by,
    )?;
    // No list means the whole merge is undone.
    let restored: Vec<String> = if event.restored_customer_ids.is_empty() {
        merges::merged_members(tx, ctx.tenant_id, ctx.merge_id).await?
    } else {
        others(&event.restored_customer_ids, ctx.survivor)
            .into_iter()
            .map(str::to_owned)
            .collect()
    };
    for customer in &restored {
        match merges::member_state(tx, ctx.tenant_id, ctx.merge_id, customer).await? {
            Some(MemberState::Unmerged) => continue,
            None => {
                tracing::warn!(merge_id = ctx.merge_id, customer_id = %customer, "unmerge before its merge; the merge will be ignored");
            }
            Some(MemberState::Merged) => {
                for mv in merges::unsettled_moves(tx, ctx.tenant_id, ctx.merge_id, customer).await?
                {
                    restore(tx, &ctx, &mv).await?;
                }
            }
        }
        merges::record_unmerged(
            tx,
            ctx.tenant_id,
            ctx.merge_id,
            customer,
            ctx.survivor,
            ctx.now,
        )
        .await?;
    }
    settle_survivor(tx, &ctx).await?;
    tracing::info!(
        tenant_id = ctx.tenant_id,
        merge_id = ctx.merge_id,
        survivor = ctx.survivor,
        restored = restored.len(),
        "followed a customer unmerge"
    );
    Ok(())
}

/// Moves one opportunity back to its pre-merge customer, unless its customer changed
/// after the merge.
async fn restore(tx: &mut Tx, ctx: &MergeContext<'_>, mv: &Move) -> Result<(), HandlerError> {
    let Some(Placed {
        mut opp,
        parallel_of,
    }) = placements::get(tx, ctx.tenant_id, &mv.opportunity_id).await?
    else {
        // Opportunities are never deleted; a missing one is nothing to restore.
        merges::settle_move(
            tx,
            ctx.tenant_id,
            ctx.merge_id,
            &mv.opportunity_id,
            Settled::Kept,
            ctx.now,
        )
        .await?;
        return Ok(());
    };
    let changed_since = opp.customer_id != mv.to_customer_id
        || history::changed_since(
            tx,
            ctx.tenant_id,
            &opp.opportunity_id,
            "customer_id",
            mv.history_seq,
        )
        .await?;
    if changed_since {
        let kept = merge::kept_change(&opp.customer_id, &mv.from_customer_id, ctx.merge_id);
        history::append(
            tx,
            ctx.tenant_id,
            &opp.opportunity_id,
            ctx.user_id,
            ctx.now,
            &[kept],
        )
        .await?;
        merges::settle_move(
            tx,
            ctx.tenant_id,
            ctx.merge_id,
            &opp.opportunity_id,
            Settled::Kept,
            ctx.now,
        )
        .await?;
        tracing::info!(opportunity_id = %opp.opportunity_id, customer_id = %opp.customer_id, merge_id = ctx.merge_id, "customer changed since the merge; not restored");
        return Ok(());
    }
    let to_parallel_of = if opp.status == Status::Open {
        let primary = placements::primary_open(tx, ctx.tenant_id, &mv.from_customer_id).await?;
        Primary::new(primary).place_open(&opp.opportunity_id)
    } else {
        mv.from_parallel_of.clone()
    };
    let from_customer = opp.customer_id.clone();
    let changes = merge::move_changes(
        &from_customer,
        &mv.from_customer_id,
        &parallel_of,
        &to_parallel_of,
        &merge::restored_note(&mv.from_customer_id, ctx.merge_id),
    );
    place(tx, ctx, &mut opp, &mv.from_customer_id, &to_parallel_of).await?;
    history::append(
        tx,
        ctx.tenant_id,
        &opp.opportunity_id,
        ctx.user_id,
        ctx.now,
        &changes,
    )
    .await?;
    merges::settle_move(
        tx,
        ctx.tenant_id,
        ctx.merge_id,
        &opp.opportunity_id,
        Settled::Restored,
        ctx.now,
    )
    .await?;
    bus::enqueue(
        tx,
        &ctx.incoming.follow_on(),
        &events::updated(&opp, &changes),
    )
    .await?;
    tracing::info!(
        opportunity_id = %opp.opportunity_id,
        from_customer_id = %from_customer,
        to_customer_id = %mv.from_customer_id,
        merge_id = ctx.merge_id,
        "restored an opportunity to its customer"
    );
    Ok(())
}

/// After an unmerge the survivor's primary may have left with its customer: the oldest
/// remaining open one becomes primary and the others parallel deals of it.
async fn settle_survivor(tx: &mut Tx, ctx: &MergeContext<'_>) -> Result<(), HandlerError> {
    let mut primary =
        Primary::new(placements::primary_open(tx, ctx.tenant_id, ctx.survivor).await?);
    for placed in placements::of_customer(tx, ctx.tenant_id, ctx.survivor).await? {
        let Placed {
            mut opp,
            parallel_of,
        } = placed;
        if opp.status != Status::Open {
            continue;
        }
        let to_parallel_of = primary.place_open(&opp.opportunity_id);
        if to_parallel_of == parallel_of {
            continue;
        }
        let changes = merge::move_changes(
            ctx.survivor,
            ctx.survivor,
            &parallel_of,
            &to_parallel_of,
            "",
        );
        place(tx, ctx, &mut opp, ctx.survivor, &to_parallel_of).await?;
        history::append(
            tx,
            ctx.tenant_id,
            &opp.opportunity_id,
            ctx.user_id,
            ctx.now,
            &changes,
        )
        .await?;
        bus::enqueue(
            tx,
            &ctx.incoming.follow_on(),
            &events::updated(&opp, &changes),
        )
        .await?;
    }
    Ok(())
}

/// Writes the new placement of `opp` (compare-and-set on its version) and updates the
/// in-memory copy for the event.
async fn place(
    tx: &mut Tx,
    ctx: &MergeContext<'_>,
    opp: &mut crate::domain::Opportunity,
    customer_id: &str,
    parallel_of: &str,
) -> Result<(), HandlerError> {
    match placements::place(tx, opp, customer_id, parallel_of, ctx.now).await {
        Ok(true) => {}
        // Changed since we read it: the redelivery reads it again and decides anew.
        Ok(false) => {
            return Err(HandlerError::Retry(anyhow!(
                "opportunity {} changed while following merge {}",
                opp.opportunity_id,
                ctx.merge_id
            )));
        }
        // Another replica opened the customer's primary concurrently: on redelivery
        // this one becomes a parallel deal of it.
        Err(err) if is_unique_violation(&err) => {
            return Err(HandlerError::Retry(anyhow::Error::new(err).context(
                format!("customer {customer_id} got an open opportunity concurrently"),
            )));
        }
        Err(err) => return Err(err.into()),
    }
    opp.customer_id = customer_id.to_owned();
    opp.updated_at = ctx.now;
    opp.version += 1;
    Ok(())
}
