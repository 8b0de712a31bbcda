//! The `calendars` table: each tenant's business calendar, versioned.

use shangji_platform::{Db, Tx};

use crate::domain::{BusinessCalendar, CalendarSpec};

/// A stored calendar.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredCalendar {
    pub spec: CalendarSpec,
    pub version: u32,
    pub updated_at: i64,
}

#[derive(sqlx::FromRow)]
struct CalendarRow {
    version: i64,
    spec: String,
    updated_at: i64,
}

impl TryFrom<CalendarRow> for StoredCalendar {
    type Error = sqlx::Error;

    fn try_from(row: CalendarRow) -> Result<Self, Self::Error> {
        Ok(StoredCalendar {
            spec: serde_json::from_str(&row.spec)
                .map_err(|e| sqlx::Error::Decode(format!("stored calendar: {e}").into()))?,
            version: u32::try_from(row.version)
                .map_err(|_| sqlx::Error::Decode("calendar version out of range".into()))?,
            updated_at: row.updated_at,
        })
    }
}

const SELECT: &str = "SELECT version, spec, updated_at FROM calendars WHERE tenant_id = $1";

/// The tenant's stored calendar, if it set one.
pub async fn get(db: &Db, tenant_id: &str) -> Result<Option<StoredCalendar>, sqlx::Error> {
    let row: Option<CalendarRow> = sqlx::query_as(SELECT)
        .bind(tenant_id)
        .fetch_optional(db.reader())
        .await?;
    row.map(StoredCalendar::try_from).transpose()
}

/// The calendar the tenant's reminders are counted by: its own, else the default. A
/// stored calendar is validated before it is stored, so one that no longer parses (a
/// time zone dropped from a newer tz database) falls back to the default, loudly.
pub async fn in_force(tx: &mut Tx, tenant_id: &str) -> Result<BusinessCalendar, sqlx::Error> {
    let row: Option<CalendarRow> = sqlx::query_as(SELECT)
        .bind(tenant_id)
        .fetch_optional(&mut **tx)
        .await?;
    let Some(stored) = row.map(StoredCalendar::try_from).transpose()? else {
        return Ok(BusinessCalendar::default());
    };
    Ok(stored.spec.parse().unwrap_or_else(|violations| {
        tracing::warn!(
            tenant_id,
            ?violations,
            "stored calendar no longer valid; using the default"
        );
        BusinessCalendar::default()
    }))
}

/// Stores the calendar as the tenant's next version.
pub async fn upsert(
    tx: &mut Tx,
    tenant_id: &str,
    spec: &CalendarSpec,
    now: i64,
) -> Result<StoredCalendar, sqlx::Error> {
    let json = serde_json::to_string(spec).map_err(|e| sqlx::Error::Encode(e.into()))?;
    sqlx::query(
        "INSERT INTO calendars (tenant_id, version, spec, updated_at) VALUES ($1, 1, $2, $3)
         ON CONFLICT (tenant_id) DO UPDATE
         SET version = calendars.version + 1, spec = excluded.spec, updated_at = excluded.updated_at",
    )
    .bind(tenant_id)
    .bind(&json)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    let row: CalendarRow = sqlx::query_as(SELECT)
        .bind(tenant_id)
        .fetch_one(&mut **tx)
        .await?;
    StoredCalendar::try_from(row)
}
