//! First-contact reminders of leads: one per lead (unique index
//! `reminders_one_first_contact_per_lead`), whichever of `lead.assigned` and
//! `opportunity.created` comes first; linked to the lead's opportunity once it is known.
//! Queries by lead repeat the index's `lead_id <> ''` so that SQLite and PostgreSQL
//! (with a generic plan) can use the partial index.

use shangji_platform::Tx;

use super::reminders::{COLUMNS, NewReminder, RawRow, ReminderRow};

/// Inserts a first-contact reminder for `lead_id` ('' for one that only the opportunity
/// names); false when the lead (or the lead-less opportunity) has one already.
pub async fn insert(tx: &mut Tx, r: &NewReminder<'_>, lead_id: &str) -> Result<bool, sqlx::Error> {
    let inserted = sqlx::query(
        "INSERT INTO reminders (tenant_id, reminder_id, opportunity_id, owner_rep_id, kind, due_at,
                                state, message, created_at, updated_at, fired_at, policy_id,
                                policy_version, escalation_step, ladder_from, next_fire_at, lead_id)
         VALUES ($1, $2, $3, $4, 'first_contact', $5, $6, $7, $8, $8, NULL, $9, $10, 0, $5,
                 $11, $12)
         ON CONFLICT DO NOTHING",
    )
    .bind(r.tenant_id)
    .bind(r.reminder_id)
    .bind(r.opportunity_id)
    .bind(r.owner_rep_id)
    .bind(r.due_at)
    .bind(r.state.as_str())
    .bind(r.message)
    .bind(r.now)
    .bind(r.policy_id)
    .bind(i64::from(r.policy_version))
    .bind(r.next_fire_at())
    .bind(lead_id)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    Ok(inserted == 1)
}

/// The lead's first-contact reminder, if it has one.
pub async fn of_lead(
    tx: &mut Tx,
    tenant_id: &str,
    lead_id: &str,
) -> Result<Option<ReminderRow>, sqlx::Error> {
    let sql = format!(
        "SELECT {COLUMNS} FROM reminders
         WHERE tenant_id = $1 AND lead_id = $2 AND lead_id <> '' AND kind = 'first_contact'"
    );
    let raw: Option<RawRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(tenant_id)
        .bind(lead_id)
        .fetch_optional(&mut **tx)
        .await?;
    raw.map(ReminderRow::try_from).transpose()
}

/// Points the lead's first-contact reminder at its opportunity, once that is known, so
/// the opportunity's activities, owner changes and closing act on it. Returns rows changed.
pub async fn link_to_opportunity(
    tx: &mut Tx,
    tenant_id: &str,
    lead_id: &str,
    opportunity_id: &str,
    now: i64,
) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query(
        "UPDATE reminders SET opportunity_id = $3, updated_at = $4
         WHERE tenant_id = $1 AND lead_id = $2 AND lead_id <> '' AND kind = 'first_contact' AND opportunity_id = ''",
    )
    .bind(tenant_id)
    .bind(lead_id)
    .bind(opportunity_id)
    .bind(now)
    .execute(&mut **tx)
    .await?
    .rows_affected())
}

/// A contact logged before `opportunity.created` left a done first-contact row without a
/// lead; the opening lead takes it over (when it has none of its own), so one lead ends
/// with one row.
pub async fn adopt_lead_less(
    tx: &mut Tx,
    tenant_id: &str,
    opportunity_id: &str,
    lead_id: &str,
    now: i64,
) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query(
        "UPDATE reminders SET lead_id = $3, updated_at = $4
         WHERE tenant_id = $1 AND opportunity_id = $2 AND kind = 'first_contact' AND lead_id = ''
           AND NOT EXISTS (SELECT 1 FROM reminders mine
                           WHERE mine.tenant_id = $1 AND mine.lead_id = $3
                             AND mine.lead_id <> '' AND mine.kind = 'first_contact')",
    )
    .bind(tenant_id)
    .bind(opportunity_id)
    .bind(lead_id)
    .bind(now)
    .execute(&mut **tx)
    .await?
    .rows_affected())
}

/// Gives the lead's open first-contact reminder to `owner_rep_id`; rows changed.
pub async fn reassign(
    tx: &mut Tx,
    tenant_id: &str,
    lead_id: &str,
    owner_rep_id: &str,
    now: i64,
) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query(
        "UPDATE reminders SET owner_rep_id = $3, updated_at = $4
         WHERE tenant_id = $1 AND lead_id = $2 AND lead_id <> '' AND kind = 'first_contact'
           AND state IN ('pending', 'fired') AND owner_rep_id <> $3",
    )
    .bind(tenant_id)
    .bind(lead_id)
    .bind(owner_rep_id)
    .bind(now)
    .execute(&mut **tx)
    .await?
    .rows_affected())
}

/// Whether the opportunity has any first-contact reminder (its opening lead's, or one
/// recorded without a lead).
pub async fn exists_for_opportunity(
    tx: &mut Tx,
    tenant_id: &str,
    opportunity_id: &str,
) -> Result<bool, sqlx::Error> {
    let found: Option<i64> = sqlx::query_scalar(
        "SELECT 1 FROM reminders
         WHERE tenant_id = $1 AND opportunity_id = $2 AND kind = 'first_contact' LIMIT 1",
    )
    .bind(tenant_id)
    .bind(opportunity_id)
    .fetch_optional(&mut **tx)
    .await?;
    Ok(found.is_some())
}
