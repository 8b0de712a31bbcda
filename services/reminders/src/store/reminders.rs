//! The `reminders` table.

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
}

type RawRow = (
    String,
    String,
    String,
    String,
    String,
    i64,
    String,
    String,
    i64,
    i64,
    Option<i64>,
);

const COLUMNS: &str = "tenant_id, reminder_id, opportunity_id, owner_rep_id, kind, due_at, state, \
                       message, created_at, updated_at, fired_at";

impl TryFrom<RawRow> for ReminderRow {
    type Error = sqlx::Error;

    fn try_from(raw: RawRow) -> Result<Self, Self::Error> {
        let (
            tenant_id,
            reminder_id,
            opportunity_id,
            owner_rep_id,
            kind,
            due_at,
            state,
            message,
            created_at,
            updated_at,
            fired_at,
        ) = raw;
        let kind = ReminderKind::parse(&kind)
            .ok_or_else(|| sqlx::Error::Decode(format!("unknown reminder kind `{kind}`").into()))?;
        let state = ReminderState::parse(&state).ok_or_else(|| {
            sqlx::Error::Decode(format!("unknown reminder state `{state}`").into())
        })?;
        Ok(ReminderRow {
            tenant_id,
            reminder_id,
            opportunity_id,
            owner_rep_id,
            kind,
            due_at,
            state,
            message,
            created_at,
            updated_at,
            fired_at,
        })
    }
}

fn rows(raw: Vec<RawRow>) -> Result<Vec<ReminderRow>, sqlx::Error> {
    raw.into_iter().map(ReminderRow::try_from).collect()
}

/// A reminder to create.
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
    pub now: i64,
}

/// Inserts the reminder; false when a unique key said it exists already (an
/// opportunity's single first-contact reminder).
pub async fn insert(tx: &mut Tx, r: &NewReminder<'_>) -> Result<bool, sqlx::Error> {
    let inserted = sqlx::query(
        "INSERT INTO reminders (tenant_id, reminder_id, opportunity_id, owner_rep_id, kind, due_at,
                                state, message, created_at, updated_at, fired_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, NULL)
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
    .execute(&mut **tx)
    .await?
    .rows_affected();
    Ok(inserted == 1)
}

/// Marks the opportunity's open first-contact reminder done; returns rows changed.
pub async fn complete_first_contact(
    tx: &mut Tx,
    tenant_id: &str,
    opportunity_id: &str,
    now: i64,
) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query(
        "UPDATE reminders SET state = 'done', updated_at = $3
         WHERE tenant_id = $1 AND opportunity_id = $2 AND kind = 'first_contact'
           AND state IN ('pending', 'fired')",
    )
    .bind(tenant_id)
    .bind(opportunity_id)
    .bind(now)
    .execute(&mut **tx)
    .await?
    .rows_affected())
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
        "UPDATE reminders SET state = 'done', updated_at = $4
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
        "UPDATE reminders SET state = 'cancelled', updated_at = $3
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
        "UPDATE reminders SET state = 'cancelled', updated_at = $3
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
    Ok(sqlx::query(
        "UPDATE reminders SET owner_rep_id = $3, updated_at = $4
         WHERE tenant_id = $1 AND opportunity_id = $2 AND state IN ('pending', 'fired')
           AND owner_rep_id <> $3",
    )
    .bind(tenant_id)
    .bind(opportunity_id)
    .bind(owner_rep_id)
    .bind(now)
    .execute(&mut **tx)
    .await?
    .rows_affected())
}

/// Open (pending or fired) reminders of the tenant due by `due_by`, oldest due first,
/// optionally only `owner_rep_id`'s.
pub async fn list_open_due_by(
    db: &Db,
    tenant_id: &str,
    owner_rep_id: Option<&str>,
    due_by: i64,
    limit: u32,
) -> Result<Vec<ReminderRow>, sqlx::Error> {
    // Two fixed statements rather than `($2 = '' OR owner = $2)`, so each can use its index.
    let raw: Vec<RawRow> = match owner_rep_id {
        Some(owner) => {
            let sql = format!(
                "SELECT {COLUMNS} FROM reminders
                 WHERE tenant_id = $1 AND owner_rep_id = $2 AND state IN ('pending', 'fired') AND due_at <= $3
                 ORDER BY due_at, reminder_id LIMIT $4"
            );
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(tenant_id)
                .bind(owner)
                .bind(due_by)
                .bind(i64::from(limit))
                .fetch_all(db.reader())
                .await?
        }
        None => {
            let sql = format!(
                "SELECT {COLUMNS} FROM reminders
                 WHERE tenant_id = $1 AND state IN ('pending', 'fired') AND due_at <= $2
                 ORDER BY due_at, reminder_id LIMIT $3"
            );
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(tenant_id)
                .bind(due_by)
                .bind(i64::from(limit))
                .fetch_all(db.reader())
                .await?
        }
    };
    rows(raw)
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

/// Pending reminders due by `now`, oldest first, across all tenants: the timer is a
/// system job and fires each one under its own tenant. Uses `reminders_state_due`.
pub async fn due(db: &Db, now: i64, limit: u32) -> Result<Vec<ReminderRow>, sqlx::Error> {
    let sql = format!(
        "SELECT {COLUMNS} FROM reminders WHERE state = 'pending' AND due_at <= $1
         ORDER BY due_at LIMIT $2"
    );
    let raw: Vec<RawRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(now)
        .bind(i64::from(limit))
        .fetch_all(db.reader())
        .await?;
    rows(raw)
}

/// pending -> fired. False when it was no longer pending: another replica fired it, or
/// an event completed or cancelled it since it was read. The row lock this UPDATE takes
/// makes a concurrent replica's UPDATE wait and then find the state changed.
pub async fn mark_fired(
    tx: &mut Tx,
    tenant_id: &str,
    reminder_id: &str,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let changed = sqlx::query(
        "UPDATE reminders SET state = 'fired', fired_at = $3, updated_at = $3
         WHERE tenant_id = $1 AND reminder_id = $2 AND state = 'pending'",
    )
    .bind(tenant_id)
    .bind(reminder_id)
    .bind(now)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    Ok(changed == 1)
}
