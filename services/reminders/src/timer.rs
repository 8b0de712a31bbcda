//! The timer: fires pending reminders whose due time has passed.
//!
//! Each round reads up to `batch` pending reminders due by now (oldest first, across
//! tenants), and fires each in its own transaction: `pending -> fired` guarded by the
//! state, and only when that changed a row, `reminder.due` into the outbox. Replicas
//! sharing one PostgreSQL may read the same rows; the guarded update lets exactly one of
//! them fire each reminder, so every reminder is announced once.

use std::time::Duration;

use shangji_contracts::events::reminder::ReminderDue;
use shangji_contracts::time::{from_millis, now_millis};
use shangji_platform::Db;
use shangji_platform::bus::{self, EventContext};
use tokio_util::sync::CancellationToken;

use crate::config::RemindersConfig;
use crate::store::{self, ReminderRow};

/// The user recorded on events the timer causes.
pub const TIMER_USER: &str = "reminders";

/// What one round did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Round {
    /// Due reminders read.
    pub due: usize,
    /// Reminders this process fired (the others were fired or closed meanwhile).
    pub fired: usize,
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

/// One round: fires the pending reminders due by `now`, at most `batch`.
pub async fn fire_due(db: &Db, now: i64, batch: u32) -> anyhow::Result<Round> {
    let due = store::reminders::due(db, now, batch).await?;
    let mut round = Round {
        due: due.len(),
        fired: 0,
    };
    for reminder in &due {
        if fire(db, reminder, now).await? {
            round.fired += 1;
        }
    }
    if round.fired > 0 {
        metrics::counter!("shangji_reminders_fired_total").increment(round.fired as u64);
    }
    Ok(round)
}

/// Fires one reminder; false when it was no longer pending.
async fn fire(db: &Db, reminder: &ReminderRow, now: i64) -> anyhow::Result<bool> {
    let mut tx = db.begin().await?;
    if !store::reminders::mark_fired(&mut tx, &reminder.tenant_id, &reminder.reminder_id, now)
        .await?
    {
        tx.rollback().await?;
        return Ok(false);
    }
    let ctx = EventContext {
        tenant_id: reminder.tenant_id.clone(),
        user_id: TIMER_USER.to_owned(),
        causation_id: reminder.reminder_id.clone(),
        correlation_id: reminder.opportunity_id.clone(),
    };
    let event = ReminderDue {
        reminder_id: reminder.reminder_id.clone(),
        opportunity_id: reminder.opportunity_id.clone(),
        owner_rep_id: reminder.owner_rep_id.clone(),
        kind: reminder.kind.as_str().to_owned(),
        due_at: Some(from_millis(reminder.due_at)),
        message: reminder.message.clone(),
    };
    bus::enqueue(&mut tx, &ctx, &event).await?;
    tx.commit().await?;
    tracing::info!(
        tenant_id = %reminder.tenant_id,
        reminder_id = %reminder.reminder_id,
        opportunity_id = %reminder.opportunity_id,
        owner_rep_id = %reminder.owner_rep_id,
        kind = reminder.kind.as_str(),
        "reminder fired"
    );
    Ok(true)
}
