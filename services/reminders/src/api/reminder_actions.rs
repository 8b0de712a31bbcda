//! `Snooze` and `Acknowledge`: what a rep does to a reminder.

use shangji_contracts::reminders::{
    AcknowledgeRequest, AcknowledgeResponse, SnoozeRequest, SnoozeResponse,
};
use shangji_contracts::time::{now_millis, to_millis};
use shangji_platform::Db;
use shangji_platform::grpc::{ApiError, FieldViolation, RequestContext};

use super::access;
use super::convert::reminder_to_proto;
use crate::domain::{MILLIS_PER_DAY, ReminderState};
use crate::store::{self, ReminderRow};
use shangji_platform::idempotency::Call;

const SNOOZE: &str = "Snooze";
const ACKNOWLEDGE: &str = "Acknowledge";
/// The furthest a reminder can be snoozed.
const MAX_SNOOZE_MILLIS: i64 = 366 * MILLIS_PER_DAY;
const MAX_ID_LEN: usize = 128;

fn check_reminder_id(id: &str, violations: &mut Vec<FieldViolation>) {
    if id.is_empty() {
        violations.push(FieldViolation::new("reminder_id", "is required"));
    } else if id.len() > MAX_ID_LEN {
        violations.push(FieldViolation::new(
            "reminder_id",
            format!("must be at most {MAX_ID_LEN} characters"),
        ));
    }
}

fn not_open(row: &ReminderRow) -> ApiError {
    ApiError::FailedPrecondition {
        message: format!(
            "reminder {} is {}; only pending or fired reminders can change",
            row.reminder_id,
            row.state.as_str()
        ),
        missing: vec!["an open reminder".to_owned()],
    }
}

async fn reload(
    tx: &mut shangji_platform::Tx,
    ctx: &RequestContext,
    reminder_id: &str,
) -> Result<ReminderRow, ApiError> {
    store::reminders::get(tx, &ctx.tenant_id, reminder_id)
        .await?
        .ok_or_else(|| access::not_found(reminder_id))
}

pub async fn snooze(
    db: &Db,
    ctx: &RequestContext,
    req: SnoozeRequest,
) -> Result<SnoozeResponse, ApiError> {
    let reminder_id = req.reminder_id.trim();
    let now = now_millis();
    let mut violations = Vec::new();
    check_reminder_id(reminder_id, &mut violations);
    let until = req.until.as_ref().map(to_millis);
    match until {
        None => violations.push(FieldViolation::new("until", "is required")),
        Some(until) if until <= now => {
            violations.push(FieldViolation::new("until", "must be in the future"))
        }
        Some(until) if until - now > MAX_SNOOZE_MILLIS => violations.push(FieldViolation::new(
            "until",
            "must be at most 366 days ahead",
        )),
        Some(_) => {}
    }
    let call = Call::new(ctx, SNOOZE, req.idempotency_key.trim(), &req)?;
    if !violations.is_empty() {
        return Err(ApiError::invalid(violations));
    }
    // Before the replay: a key does not open someone else's reminder.
    access::require_visible(&mut *db.reader().acquire().await?, ctx, reminder_id).await?;
    if let Some(earlier) = call.replay(db).await? {
        return Ok(earlier);
    }
    let result: Result<SnoozeResponse, ApiError> = async {
        let until = until.unwrap_or(now);
        let mut tx = db.begin().await?;
        let before = reload(&mut tx, ctx, reminder_id).await?;
        if !store::reminders::snooze(&mut tx, &ctx.tenant_id, reminder_id, until, now).await? {
            return Err(not_open(&before));
        }
        let after = reload(&mut tx, ctx, reminder_id).await?;
        tracing::info!(tenant_id = %ctx.tenant_id, reminder_id, until, user_id = %ctx.user_id, "reminder snoozed");
        let response = SnoozeResponse {
            reminder: Some(reminder_to_proto(&after)),
        };
        call.commit(db, tx, response).await
    }
    .await;
    call.or_replay(db, result).await
}

/// Acknowledging a reminder that is done already answers as the first time did; a
/// cancelled one is refused (there is nothing left to acknowledge).
pub async fn acknowledge(
    db: &Db,
    ctx: &RequestContext,
    req: AcknowledgeRequest,
) -> Result<AcknowledgeResponse, ApiError> {
    let reminder_id = req.reminder_id.trim();
    let mut violations = Vec::new();
    check_reminder_id(reminder_id, &mut violations);
    let call = Call::new(ctx, ACKNOWLEDGE, req.idempotency_key.trim(), &req)?;
    if !violations.is_empty() {
        return Err(ApiError::invalid(violations));
    }
    // Before the replay: a key does not open someone else's reminder.
    access::require_visible(&mut *db.reader().acquire().await?, ctx, reminder_id).await?;
    if let Some(earlier) = call.replay(db).await? {
        return Ok(earlier);
    }
    let result: Result<AcknowledgeResponse, ApiError> = async {
        let mut tx = db.begin().await?;
        let before = reload(&mut tx, ctx, reminder_id).await?;
        match before.state {
            ReminderState::Pending | ReminderState::Fired => {
                store::reminders::acknowledge(&mut tx, &ctx.tenant_id, reminder_id, now_millis())
                    .await?;
            }
            ReminderState::Done => {}
            ReminderState::Cancelled => return Err(not_open(&before)),
        }
        let after = reload(&mut tx, ctx, reminder_id).await?;
        tracing::info!(tenant_id = %ctx.tenant_id, reminder_id, user_id = %ctx.user_id, "reminder acknowledged");
        let response = AcknowledgeResponse {
            reminder: Some(reminder_to_proto(&after)),
        };
        call.commit(db, tx, response).await
    }
    .await;
    call.or_replay(db, result).await
}
