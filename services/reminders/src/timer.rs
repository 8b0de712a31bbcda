//! The timer: fires reminders that fell due, and takes the steps of their escalation
//! ladders.
//!
//! Each round reads up to `batch` reminders whose `next_fire_at` has passed (oldest
//! first, across tenants, from a partial index: the cost follows what is due, not how
//! many reminders are open), and acts on each in its own transaction: a pending reminder
//! falls due (`reminder.due`), a fired one takes its next ladder step
//! (`reminder.escalated`). The update is guarded on the row as read, and the event is
//! enqueued only when that changed a row: replicas sharing one PostgreSQL may read the
//! same rows, and exactly one of them takes each step.
//!
//! The clock is a parameter (`now`) so that tests can move days ahead without sleeping.

use std::time::Duration;

use shangji_contracts::events::Event as _;
use shangji_contracts::events::reminder::{ReminderDue, ReminderEscalated};
use shangji_contracts::time::{from_millis, now_millis};
use shangji_platform::Db;
use shangji_platform::bus::{self, EventContext};
use tokio_util::sync::CancellationToken;

use crate::config::RemindersConfig;
use crate::domain::{EscalationStep, Notice, PolicyRules, ReminderState, TimeCount, next_fire_at};
use crate::store::{self, Advance, ReminderRow};

/// The user recorded on events the timer causes.
pub const TIMER_USER: &str = "reminders";

/// What one round did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Round {
    /// Reminders read whose time had come.
    pub due: usize,
    /// Reminders this process fired (the others were fired or closed meanwhile).
    pub fired: usize,
    /// Ladder steps this process took.
    pub escalated: usize,
}

/// Fires due reminders every `tick_ms` until `shutdown`.
pub async fn run(
    db: Db,
    config: RemindersConfig,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let tick = Duration::from_millis(config.tick_ms);
    tracing::info!(
        tick_ms = config.tick_ms,
        batch = config.batch,
        "reminder timer started"
    );
    loop {
        let pause = match fire_due(&db, now_millis(), config.batch).await {
            // A full round: more may be waiting, go again at once.
            Ok(round) if round.due >= config.batch as usize => Duration::ZERO,
            Ok(_) => tick,
            Err(err) => {
                tracing::warn!(
                    error = format!("{err:#}"),
                    "reminder timer round failed; retrying next tick"
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

/// One round: acts on the reminders whose time came by `now`, at most `batch`.
pub async fn fire_due(db: &Db, now: i64, batch: u32) -> anyhow::Result<Round> {
    let due = store::reminders::due(db, now, batch).await?;
    let mut round = Round {
        due: due.len(),
        ..Round::default()
    };
    for reminder in &due {
        match act(db, reminder, now).await? {
            Acted::Fired => round.fired += 1,
            Acted::Escalated => round.escalated += 1,
            Acted::Nothing => {}
        }
    }
    if round.fired > 0 {
        metrics::counter!("shangji_reminders_fired_total").increment(round.fired as u64);
    }
    if round.escalated > 0 {
        metrics::counter!("shangji_reminders_escalated_total").increment(round.escalated as u64);
    }
    Ok(round)
}

enum Acted {
    Fired,
    Escalated,
    /// Someone else acted first, or the ladder was climbed already.
    Nothing,
}

/// Fires one reminder or takes its next ladder step.
async fn act(db: &Db, reminder: &ReminderRow, now: i64) -> anyhow::Result<Acted> {
    let mut tx = db.begin().await?;
    let rules = ladder_rules(&mut tx, reminder).await?;
    let calendar = if rules.escalation.is_empty() {
        // No ladder, nothing to count: spare the read.
        Default::default()
    } else {
        store::calendars::in_force(&mut tx, &reminder.tenant_id).await?
    };
    let count = TimeCount {
        calendar: &calendar,
        business_time: rules.business_time,
    };
    let acted = match reminder.state {
        ReminderState::Pending => {
            let to = Advance {
                state: ReminderState::Fired,
                escalation_step: 0,
                next_fire_at: next_fire_at(
                    ReminderState::Fired,
                    reminder.due_at,
                    reminder.ladder_from,
                    0,
                    &rules,
                    &count,
                ),
            };
            if store::reminders::advance(&mut tx, reminder, to, now).await? {
                announce_due(&mut tx, reminder, now).await?;
                Acted::Fired
            } else {
                Acted::Nothing
            }
        }
        ReminderState::Fired => match rules.next_step(reminder.escalation_step) {
            Some(step) => {
                let taken = reminder.escalation_step + 1;
                let to = Advance {
                    state: ReminderState::Fired,
                    escalation_step: taken,
                    next_fire_at: next_fire_at(
                        ReminderState::Fired,
                        reminder.due_at,
                        reminder.ladder_from,
                        taken,
                        &rules,
                        &count,
                    ),
                };
                if store::reminders::advance(&mut tx, reminder, to, now).await? {
                    escalate(&mut tx, reminder, step, taken, now).await?;
                    Acted::Escalated
                } else {
                    Acted::Nothing
                }
            }
            None => {
                // The ladder is climbed (or the policy version lost steps): nothing left.
                let to = Advance {
                    state: ReminderState::Fired,
                    escalation_step: reminder.escalation_step,
                    next_fire_at: None,
                };
                store::reminders::advance(&mut tx, reminder, to, now).await?;
                Acted::Nothing
            }
        },
        ReminderState::Done | ReminderState::Cancelled => {
            let to = Advance {
                state: reminder.state,
                escalation_step: reminder.escalation_step,
                next_fire_at: None,
            };
            store::reminders::advance(&mut tx, reminder, to, now).await?;
            Acted::Nothing
        }
    };
    tx.commit().await?;
    Ok(acted)
}

/// The rules of the policy version that scheduled the reminder (none for the built-in).
async fn ladder_rules(
    tx: &mut shangji_platform::Tx,
    reminder: &ReminderRow,
) -> anyhow::Result<PolicyRules> {
    if reminder.policy_id.is_empty() {
        return Ok(PolicyRules::default());
    }
    Ok(store::policies::rules_of_version(
        tx,
        &reminder.tenant_id,
        &reminder.policy_id,
        reminder.policy_version,
    )
    .await?
    .unwrap_or_default())
}

fn event_context(reminder: &ReminderRow) -> EventContext {
    EventContext {
        tenant_id: reminder.tenant_id.clone(),
        user_id: TIMER_USER.to_owned(),
        causation_id: reminder.reminder_id.clone(),
        correlation_id: reminder.opportunity_id.clone(),
    }
}

/// `reminder.due` on the bus, and a delivery to each of the tenant's webhooks.
async fn announce_due(
    tx: &mut shangji_platform::Tx,
    reminder: &ReminderRow,
    now: i64,
) -> anyhow::Result<()> {
    let event = ReminderDue {
        reminder_id: reminder.reminder_id.clone(),
        opportunity_id: reminder.opportunity_id.clone(),
        owner_rep_id: reminder.owner_rep_id.clone(),
        kind: reminder.kind.as_str().to_owned(),
        due_at: Some(from_millis(reminder.due_at)),
        message: reminder.message.clone(),
        lead_id: reminder.lead_id.clone(),
    };
    bus::enqueue(tx, &event_context(reminder), &event).await?;
    let notice = Notice {
        event_type: ReminderDue::TYPE.to_owned(),
        tenant_id: reminder.tenant_id.clone(),
        reminder_id: reminder.reminder_id.clone(),
        opportunity_id: reminder.opportunity_id.clone(),
        kind: reminder.kind.as_str().to_owned(),
        owner_rep_id: reminder.owner_rep_id.clone(),
        notify_rep_ids: vec![reminder.owner_rep_id.clone()],
        message: reminder.message.clone(),
        due_at: reminder.due_at,
        step: 0,
        action: String::new(),
    };
    store::webhooks::enqueue_deliveries(tx, &notice, now).await?;
    tracing::info!(
        tenant_id = %reminder.tenant_id,
        reminder_id = %reminder.reminder_id,
        opportunity_id = %reminder.opportunity_id,
        owner_rep_id = %reminder.owner_rep_id,
        kind = reminder.kind.as_str(),
        "reminder fired"
    );
    Ok(())
}

/// Takes ladder step `taken` (1-based): notifies the owner (and the manager when the
/// step says so), marks the opportunity high-risk when it says so, and tells assignment
/// to return it to the pool when it says that.
async fn escalate(
    tx: &mut shangji_platform::Tx,
    reminder: &ReminderRow,
    step: &EscalationStep,
    taken: u32,
    now: i64,
) -> anyhow::Result<()> {
    let tenant_id = reminder.tenant_id.as_str();
    let opportunity_id = reminder.opportunity_id.as_str();
    let mut notify = vec![reminder.owner_rep_id.clone()];
    if step.notify_manager {
        match store::org::manager_of(tx, tenant_id, &reminder.owner_rep_id).await? {
            Some(manager) => notify.push(manager),
            None => tracing::warn!(
                tenant_id,
                owner_rep_id = %reminder.owner_rep_id,
                "no manager known for the owner; escalating to the owner only"
            ),
        }
    }
    if step.action.marks_high_risk() {
        store::opportunities::mark_high_risk(tx, tenant_id, opportunity_id, now).await?;
    }
    let facts = store::opportunities::facts(tx, tenant_id, opportunity_id)
        .await?
        .unwrap_or_default();
    let notice = Notice {
        event_type: ReminderEscalated::TYPE.to_owned(),
        tenant_id: tenant_id.to_owned(),
        reminder_id: reminder.reminder_id.clone(),
        opportunity_id: opportunity_id.to_owned(),
        kind: reminder.kind.as_str().to_owned(),
        owner_rep_id: reminder.owner_rep_id.clone(),
        notify_rep_ids: notify.clone(),
        message: reminder.message.clone(),
        due_at: reminder.due_at,
        step: taken,
        action: step.action.as_str().to_owned(),
    };
    store::webhooks::enqueue_deliveries(tx, &notice, now).await?;
    let event = ReminderEscalated {
        reminder_id: reminder.reminder_id.clone(),
        opportunity_id: opportunity_id.to_owned(),
        owner_rep_id: reminder.owner_rep_id.clone(),
        level: taken,
        notify_rep_ids: notify,
        reason: reminder.message.clone(),
        escalated_at: Some(from_millis(now)),
        action: step.action.as_str().to_owned(),
        customer_id: facts.customer_id,
        team: facts.team,
        policy_id: reminder.policy_id.clone(),
        step: taken,
        lead_id: reminder.lead_id.clone(),
    };
    bus::enqueue(tx, &event_context(reminder), &event).await?;
    tracing::info!(
        tenant_id,
        reminder_id = %reminder.reminder_id,
        opportunity_id,
        step = taken,
        action = step.action.as_str(),
        "reminder escalated"
    );
    Ok(())
}
