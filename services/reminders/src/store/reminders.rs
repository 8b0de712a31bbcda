//! The `reminders` table.

use shangji_platform::db::BoundQuery;
use shangji_platform::{Db, Tx};

use crate::domain::{ReminderKind, ReminderState};

/// A stored reminder.
#[derive(Clone, Debug, PartialEq)]
pub struct ReminderRow {
    pub tenant_id: String,
    pub reminder_id: String,
    pub opportunity_id: String,
    pub owner_rep_id: String,
    pub kind: ReminderKind,
    pub due_at: i64,
    pub state: ReminderState,
    pub message: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub fired_at: Option<i64>,
    /// The policy that scheduled it ("" for the built-in default) and its version.
    pub policy_id: String,
    pub policy_version: u32,
    /// Ladder steps taken.
    pub escalation_step: u32,
    /// Where the ladder's clock starts.
    pub ladder_from: i64,
    /// When the timer next acts on it; None once nothing is left to do.
    pub next_fire_at: Option<i64>,
    /// The lead a first-contact reminder is for ('' when only the opportunity is known).
    pub lead_id: String,
}

#[derive(sqlx::FromRow)]
pub(super) struct RawRow {
    tenant_id: String,
    reminder_id: String,
    opportunity_id: String,
    owner_rep_id: String,
    kind: String,
    due_at: i64,
    state: String,
    message: String,
    created_at: i64,
    updated_at: i64,
    fired_at: Option<i64>,
    policy_id: String,
    policy_version: i64,
    escalation_step: i64,
    ladder_from: i64,
    next_fire_at: Option<i64>,
    lead_id: String,
}

pub(super) const COLUMNS: &str = "tenant_id, reminder_id, opportunity_id, owner_rep_id, kind, due_at, state, \
                       message, created_at, updated_at, fired_at, policy_id, policy_version, \
                       escalation_step, ladder_from, next_fire_at, lead_id";

impl TryFrom<RawRow> for ReminderRow {
    type Error = sqlx::Error;

    fn try_from(raw: RawRow) -> Result<Self, Self::Error> {
        let kind = ReminderKind::parse(&raw.kind).ok_or_else(|| {
            sqlx::Error::Decode(format!("unknown reminder kind `{}`", raw.kind).into())
        })?;
        let state = ReminderState::parse(&raw.state).ok_or_else(|| {
            sqlx::Error::Decode(format!("unknown reminder state `{}`", raw.state).into())
        })?;
        let small = |value: i64, what: &str| {
            u32::try_from(value)
                .map_err(|_| sqlx::Error::Decode(format!("{what} {value} out of range").into()))
        };
        Ok(ReminderRow {
            policy_version: small(raw.policy_version, "policy_version")?,
            escalation_step: small(raw.escalation_step, "escalation_step")?,
            tenant_id: raw.tenant_id,
            reminder_id: raw.reminder_id,
            opportunity_id: raw.opportunity_id,
            owner_rep_id: raw.owner_rep_id,
            kind,
            due_at: raw.due_at,
            state,
            message: raw.message,
            created_at: raw.created_at,
            updated_at: raw.updated_at,
            fired_at: raw.fired_at,
            policy_id: raw.policy_id,
            ladder_from: raw.ladder_from,
            next_fire_at: raw.next_fire_at,
            lead_id: raw.lead_id,
        })
    }
}

pub(super) fn rows(raw: Vec<RawRow>) -> Result<Vec<ReminderRow>, sqlx::Error> {
    raw.into_iter().map(ReminderRow::try_from).collect()
}

/// A reminder to create (or, for a policy rule, to reschedule).
#[derive(Clone, Debug)]
pub struct NewReminder<'a> {
    pub tenant_id: &'a str,
    pub reminder_id: &'a str,
    pub opportunity_id: &'a str,
    pub owner_rep_id: &'a str,
    pub kind: ReminderKind,
    pub due_at: i64,
    pub state: ReminderState,
    pub message: &'a str,
    pub policy_id: &'a str,
    pub policy_version: u32,
    pub now: i64,
}

impl NewReminder<'_> {
    /// A pending reminder is the timer's business at its due time.
    pub(super) fn next_fire_at(&self) -> Option<i64> {
        (self.state == ReminderState::Pending).then_some(self.due_at)
    }
}

/// Inserts the reminder; false when a unique key said it exists already (an
/// opportunity's single first-contact reminder).
pub async fn insert(tx: &mut Tx, r: &NewReminder<'_>) -> Result<bool, sqlx::Error> {
    let inserted = sqlx::query(
        "INSERT INTO reminders (tenant_id, reminder_id, opportunity_id, owner_rep_id, kind, due_at,
                                state, message, created_at, updated_at, fired_at, policy_id,
                                policy_version, escalation_step, ladder_from, next_fire_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, NULL, $10, $11, 0, $6, $12)
         ON CONFLICT DO NOTHING",
    )
    .bind(r.tenant_id)
    .bind(r.reminder_id)
    .bind(r.opportunity_id)
    .bind(r.owner_rep_id)
    .bind(r.kind.as_str())
    .bind(r.due_at)
    .bind(r.state.as_str())
    .bind(r.message)
    .bind(r.now)
    .bind(r.policy_id)
    .bind(i64::from(r.policy_version))
    .bind(r.next_fire_at())
    .execute(&mut **tx)
    .await?
    .rows_affected();
    Ok(inserted == 1)
}

/// Schedules a policy rule's reminder (no_activity, stage_age, close_overdue): each
/// opportunity has one row per rule, and a restarted clock reschedules it in place, as
/// pending with a fresh ladder (the row keeps its id).
pub async fn schedule_rule(tx: &mut Tx, r: &NewReminder<'_>) -> Result<(), sqlx::Error> {
    schedule_rule_statement(r).execute(&mut **tx).await?;
    Ok(())
}

/// The statement [`schedule_rule`] runs, for a [`Together`](shangji_platform::db::Together).
pub fn schedule_rule_statement(r: &NewReminder<'_>) -> BoundQuery<'static> {
    sqlx::query(
        "INSERT INTO reminders (tenant_id, reminder_id, opportunity_id, owner_rep_id, kind, due_at,
                                state, message, created_at, updated_at, fired_at, policy_id,
                                policy_version, escalation_step, ladder_from, next_fire_at)
         VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7, $8, $8, NULL, $9, $10, 0, $6, $6)
         ON CONFLICT (tenant_id, opportunity_id, kind)
             WHERE kind IN ('no_activity', 'stage_age', 'close_overdue')
         DO UPDATE SET owner_rep_id = excluded.owner_rep_id, due_at = excluded.due_at,
             state = 'pending', message = excluded.message, updated_at = excluded.updated_at,
             fired_at = NULL, policy_id = excluded.policy_id,
             policy_version = excluded.policy_version, escalation_step = 0,
             ladder_from = excluded.due_at, next_fire_at = excluded.due_at",
    )
    .bind(r.tenant_id.to_owned())
    .bind(r.reminder_id.to_owned())
    .bind(r.opportunity_id.to_owned())
    .bind(r.owner_rep_id.to_owned())
    .bind(r.kind.as_str())
    .bind(r.due_at)
    .bind(r.message.to_owned())
    .bind(r.now)
    .bind(r.policy_id.to_owned())
    .bind(i64::from(r.policy_version))
}

/// The opportunity's rule reminders (no activity, stage age, close overdue): kind,
/// state and the policy version that scheduled each.
pub async fn rule_reminders_of(
    tx: &mut Tx,
    tenant_id: &str,
    opportunity_id: &str,
) -> Result<Vec<(String, String, String, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT kind, state, policy_id, policy_version FROM reminders
         WHERE tenant_id = $1 AND opportunity_id = $2
           AND kind IN ('no_activity', 'stage_age', 'close_overdue')",
    )
    .bind(tenant_id)
    .bind(opportunity_id)
    .fetch_all(&mut **tx)
    .await
}

/// Cancels the opportunity's open reminders of the given rule kinds; returns rows changed.
/// One statement for up to three kinds (all the rule kinds there are), so restarting an
/// opportunity's rules costs one statement however many the policy switches off.
pub async fn cancel_rules(
    tx: &mut Tx,
    tenant_id: &str,
    opportunity_id: &str,
    kinds: &[ReminderKind],
    now: i64,
) -> Result<u64, sqlx::Error> {
    let mut changed = 0;
    for statement in cancel_rules_statements(tenant_id, opportunity_id, kinds, now) {
        changed += statement.execute(&mut **tx).await?.rows_affected();
    }
    Ok(changed)
}

/// The statements [`cancel_rules`] runs (none for no kinds), for a [`Together`](shangji_platform::db::Together).
pub fn cancel_rules_statements(
    tenant_id: &str,
    opportunity_id: &str,
    kinds: &[ReminderKind],
    now: i64,
) -> Vec<BoundQuery<'static>> {
    kinds
        .chunks(3)
        .map(|chunk| {
            // Padded with the chunk's first kind: one statement text for any number.
            let kind = |i: usize| chunk.get(i).unwrap_or(&chunk[0]).as_str();
            sqlx::query(
                "UPDATE reminders SET state = 'cancelled', next_fire_at = NULL, updated_at = $6
                 WHERE tenant_id = $1 AND opportunity_id = $2 AND kind IN ($3, $4, $5)
                   AND state IN ('pending', 'fired')",
            )
            .bind(tenant_id.to_owned())
            .bind(opportunity_id.to_owned())
            .bind(kind(0))
            .bind(kind(1))
            .bind(kind(2))
            .bind(now)
        })
        .collect()
}

/// Marks the opportunity's open first-contact reminder done; returns rows changed.
pub async fn complete_first_contact(
    tx: &mut Tx,
    tenant_id: &str,
    opportunity_id: &str,
    now: i64,
) -> Result<u64, sqlx::Error> {
    Ok(
        complete_first_contact_statement(tenant_id, opportunity_id, now)
            .execute(&mut **tx)
            .await?
            .rows_affected(),
    )
}

/// The statement [`complete_first_contact`] runs, for a [`Together`](shangji_platform::db::Together).
pub fn complete_first_contact_statement(
    tenant_id: &str,
    opportunity_id: &str,
    now: i64,
) -> BoundQuery<'static> {
    sqlx::query(
        "UPDATE reminders SET state = 'done', next_fire_at = NULL, updated_at = $3
         WHERE tenant_id = $1 AND opportunity_id = $2 AND kind = 'first_contact'
           AND state IN ('pending', 'fired')",
    )
    .bind(tenant_id.to_owned())
    .bind(opportunity_id.to_owned())
    .bind(now)
}

/// Marks the opportunity's open follow-ups that were due by `due_by` done.
pub async fn complete_follow_ups_due_by(
    tx: &mut Tx,
    tenant_id: &str,
    opportunity_id: &str,
    due_by: i64,
    now: i64,
) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query(
        "UPDATE reminders SET state = 'done', next_fire_at = NULL, updated_at = $4
         WHERE tenant_id = $1 AND opportunity_id = $2 AND kind = 'follow_up'
           AND state IN ('pending', 'fired') AND due_at <= $3",
    )
    .bind(tenant_id)
    .bind(opportunity_id)
    .bind(due_by)
    .bind(now)
    .execute(&mut **tx)
    .await?
    .rows_affected())
}

/// Cancels the opportunity's pending follow-ups (a newly planned one replaces them).
pub async fn cancel_pending_follow_ups(
    tx: &mut Tx,
    tenant_id: &str,
    opportunity_id: &str,
    now: i64,
) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query(
        "UPDATE reminders SET state = 'cancelled', next_fire_at = NULL, updated_at = $3
         WHERE tenant_id = $1 AND opportunity_id = $2 AND kind = 'follow_up' AND state = 'pending'",
    )
    .bind(tenant_id)
    .bind(opportunity_id)
    .bind(now)
    .execute(&mut **tx)
    .await?
    .rows_affected())
}

/// Cancels every open reminder of the opportunity (it closed).
pub async fn cancel_open(
    tx: &mut Tx,
    tenant_id: &str,
    opportunity_id: &str,
    now: i64,
) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query(
        "UPDATE reminders SET state = 'cancelled', next_fire_at = NULL, updated_at = $3
         WHERE tenant_id = $1 AND opportunity_id = $2 AND state IN ('pending', 'fired')",
    )
    .bind(tenant_id)
    .bind(opportunity_id)
    .bind(now)
    .execute(&mut **tx)
    .await?
    .rows_affected())
}

/// Gives every open reminder of the opportunity to `owner_rep_id`.
pub async fn reassign_open(
    tx: &mut Tx,
    tenant_id: &str,
    opportunity_id: &str,
    owner_rep_id: &str,
    now: i64,
) -> Result<u64, sqlx::Error> {
    Ok(
        reassign_open_statement(tenant_id, opportunity_id, owner_rep_id, now)
            .execute(&mut **tx)
            .await?
            .rows_affected(),
    )
}

/// The statement [`reassign_open`] runs, for a [`Together`](shangji_platform::db::Together).
pub fn reassign_open_statement(
    tenant_id: &str,
    opportunity_id: &str,
    owner_rep_id: &str,
    now: i64,
) -> BoundQuery<'static> {
    sqlx::query(
        "UPDATE reminders SET owner_rep_id = $3, updated_at = $4
         WHERE tenant_id = $1 AND opportunity_id = $2 AND state IN ('pending', 'fired')
           AND owner_rep_id <> $3",
    )
    .bind(tenant_id.to_owned())
    .bind(opportunity_id.to_owned())
    .bind(owner_rep_id.to_owned())
    .bind(now)
}

/// The opportunity's fired reminders (a ladder may be climbing), for restarting their
/// ladder clocks.
pub async fn fired_of_opportunity(
    tx: &mut Tx,
    tenant_id: &str,
    opportunity_id: &str,
) -> Result<Vec<ReminderRow>, sqlx::Error> {
    let sql = format!(
        "SELECT {COLUMNS} FROM reminders
         WHERE tenant_id = $1 AND opportunity_id = $2 AND state = 'fired'"
    );
    let raw: Vec<RawRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(tenant_id)
        .bind(opportunity_id)
        .fetch_all(&mut **tx)
        .await?;
    rows(raw)
}

/// Restarts a fired reminder's ladder at `from`: no steps taken, next step as given.
/// Only if its ladder clock started earlier (a late, older event does not move it back).
pub async fn restart_ladder(
    tx: &mut Tx,
    tenant_id: &str,
    reminder_id: &str,
    from: i64,
    next_fire_at: Option<i64>,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let changed = sqlx::query(
        "UPDATE reminders SET ladder_from = $3, escalation_step = 0, next_fire_at = $4,
                              updated_at = $5
         WHERE tenant_id = $1 AND reminder_id = $2 AND state = 'fired' AND ladder_from < $3",
    )
    .bind(tenant_id)
    .bind(reminder_id)
    .bind(from)
    .bind(next_fire_at)
    .bind(now)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    Ok(changed == 1)
}

/// Open (pending or fired) reminders of the tenant due by `due_by`, oldest due first,
/// optionally only `owner_rep_id`'s, regardless of who asks (see [`super::visible`]).
pub async fn list_open_due_by(
    db: &Db,
    tenant_id: &str,
    owner_rep_id: Option<&str>,
    due_by: i64,
    limit: u32,
) -> Result<Vec<ReminderRow>, sqlx::Error> {
    super::visible::list_open_due(db, tenant_id, owner_rep_id, None, due_by, limit).await
}

/// Every reminder of one opportunity, oldest first (for tests and diagnostics).
pub async fn of_opportunity(
    db: &Db,
    tenant_id: &str,
    opportunity_id: &str,
) -> Result<Vec<ReminderRow>, sqlx::Error> {
    let sql = format!(
        "SELECT {COLUMNS} FROM reminders WHERE tenant_id = $1 AND opportunity_id = $2
         ORDER BY created_at, reminder_id"
    );
    let raw: Vec<RawRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(tenant_id)
        .bind(opportunity_id)
        .fetch_all(db.reader())
        .await?;
    rows(raw)
}

/// One reminder of the tenant, read inside a transaction.
pub async fn get(
    tx: &mut Tx,
    tenant_id: &str,
    reminder_id: &str,
) -> Result<Option<ReminderRow>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM reminders WHERE tenant_id = $1 AND reminder_id = $2");
    let raw: Option<RawRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(tenant_id)
        .bind(reminder_id)
        .fetch_optional(&mut **tx)
        .await?;
    raw.map(ReminderRow::try_from).transpose()
}

/// Reminders the timer must act on by `now` (due, or at a ladder step), oldest first,
/// across all tenants: the timer is a system job and acts on each under its own tenant.
/// Reads the partial index `reminders_next_fire`, so the cost follows what is due, not
/// how many reminders are open.
pub async fn due(db: &Db, now: i64, limit: u32) -> Result<Vec<ReminderRow>, sqlx::Error> {
    let sql = format!(
        "SELECT {COLUMNS} FROM reminders WHERE next_fire_at IS NOT NULL AND next_fire_at <= $1
         ORDER BY next_fire_at LIMIT $2"
    );
    let raw: Vec<RawRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(now)
        .bind(i64::from(limit))
        .fetch_all(db.reader())
        .await?;
    rows(raw)
}

/// What the timer did to a reminder it read: the state and ladder afterwards.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Advance {
    pub state: ReminderState,
    pub escalation_step: u32,
    pub next_fire_at: Option<i64>,
}

/// Moves a reminder the timer read on, only if nobody else did meanwhile (another
/// replica's timer, an event, Snooze or Acknowledge): the row must still be as read.
/// The row lock this UPDATE takes makes a concurrent replica's UPDATE wait and then
/// find the row changed, so each step is taken once.
pub async fn advance(
    tx: &mut Tx,
    read: &ReminderRow,
    to: Advance,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let fired_at = if read.state == ReminderState::Pending && to.state == ReminderState::Fired {
        Some(now)
    } else {
        read.fired_at
    };
    let changed = sqlx::query(
        "UPDATE reminders SET state = $3, escalation_step = $4, next_fire_at = $5, fired_at = $6,
                              updated_at = $7
         WHERE tenant_id = $1 AND reminder_id = $2 AND state = $8 AND escalation_step = $9
           AND next_fire_at = $10 AND updated_at = $11",
    )
    .bind(&read.tenant_id)
    .bind(&read.reminder_id)
    .bind(to.state.as_str())
    .bind(i64::from(to.escalation_step))
    .bind(to.next_fire_at)
    .bind(fired_at)
    .bind(now)
    .bind(read.state.as_str())
    .bind(i64::from(read.escalation_step))
    .bind(read.next_fire_at)
    .bind(read.updated_at)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    Ok(changed == 1)
}

/// Snooze: an open reminder falls due again at `until`, its ladder starting afresh.
pub async fn snooze(
    tx: &mut Tx,
    tenant_id: &str,
    reminder_id: &str,
    until: i64,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let changed = sqlx::query(
        "UPDATE reminders SET state = 'pending', due_at = $3, ladder_from = $3, next_fire_at = $3,
                              escalation_step = 0, fired_at = NULL, updated_at = $4
         WHERE tenant_id = $1 AND reminder_id = $2 AND state IN ('pending', 'fired')",
    )
    .bind(tenant_id)
    .bind(reminder_id)
    .bind(until)
    .bind(now)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    Ok(changed == 1)
}

/// Acknowledge: an open reminder is done and escalates no further.
pub async fn acknowledge(
    tx: &mut Tx,
    tenant_id: &str,
    reminder_id: &str,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let changed = sqlx::query(
        "UPDATE reminders SET state = 'done', next_fire_at = NULL, updated_at = $3
         WHERE tenant_id = $1 AND reminder_id = $2 AND state IN ('pending', 'fired')",
    )
    .bind(tenant_id)
    .bind(reminder_id)
    .bind(now)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    Ok(changed == 1)
}
