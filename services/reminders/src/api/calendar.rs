//! `UpsertCalendar` and `GetCalendar`: the tenant's business calendar.

use shangji_contracts::reminders::{
    self as pb, GetCalendarResponse, UpsertCalendarRequest, UpsertCalendarResponse,
};
use shangji_contracts::time::{from_millis, now_millis};
use shangji_platform::Db;
use shangji_platform::grpc::{ApiError, FieldViolation, RequestContext};

use crate::domain::{BusinessCalendar, CalendarSpec};
use crate::store::{self, StoredCalendar};
use shangji_platform::idempotency::Call;

const UPSERT_CALENDAR: &str = "UpsertCalendar";

fn spec_from_proto(c: &pb::Calendar) -> CalendarSpec {
    CalendarSpec {
        time_zone: c.time_zone.clone(),
        working_days: c.working_days.clone(),
        work_start: c.work_start.clone(),
        work_end: c.work_end.clone(),
        holidays: c.holidays.clone(),
        makeup_working_days: c.makeup_working_days.clone(),
    }
}

fn to_proto(spec: CalendarSpec, version: u32, updated_at: Option<i64>) -> pb::Calendar {
    pb::Calendar {
        time_zone: spec.time_zone,
        working_days: spec.working_days,
        work_start: spec.work_start,
        work_end: spec.work_end,
        holidays: spec.holidays,
        makeup_working_days: spec.makeup_working_days,
        version,
        updated_at: updated_at.map(from_millis),
    }
}

fn stored_to_proto(stored: StoredCalendar) -> pb::Calendar {
    to_proto(stored.spec, stored.version, Some(stored.updated_at))
}

pub async fn get(db: &Db, ctx: &RequestContext) -> Result<GetCalendarResponse, ApiError> {
    let calendar = match store::calendars::get(db, &ctx.tenant_id).await? {
        Some(stored) => stored_to_proto(stored),
        None => to_proto(BusinessCalendar::default().spec(), 0, None),
    };
    Ok(GetCalendarResponse {
        calendar: Some(calendar),
    })
}

pub async fn upsert(
    db: &Db,
    ctx: &RequestContext,
    req: UpsertCalendarRequest,
) -> Result<UpsertCalendarResponse, ApiError> {
    let call = Call::new(ctx, UPSERT_CALENDAR, req.idempotency_key.trim(), &req)?;
    let Some(calendar) = req.calendar.as_ref() else {
        return Err(ApiError::invalid_field("calendar", "is required"));
    };
    // Stored in its normal form (sorted, de-duplicated, trimmed) so reads are stable.
    let spec = spec_from_proto(calendar)
        .parse()
        .map_err(|violations| {
            ApiError::invalid(
                violations
                    .into_iter()
                    .map(|v| FieldViolation::new(v.field, v.description))
                    .collect(),
            )
        })?
        .spec();
    if let Some(earlier) = call.replay(db).await? {
        return Ok(earlier);
    }
    let result: Result<UpsertCalendarResponse, ApiError> = async {
        let mut tx = db.begin().await?;
        let stored = store::calendars::upsert(&mut tx, &ctx.tenant_id, &spec, now_millis()).await?;
        tracing::info!(
            tenant_id = %ctx.tenant_id,
            time_zone = %stored.spec.time_zone,
            version = stored.version,
            "business calendar stored"
        );
        let response = UpsertCalendarResponse {
            calendar: Some(stored_to_proto(stored)),
        };
        call.commit(db, tx, response).await
    }
    .await;
    call.or_replay(db, result).await
}
