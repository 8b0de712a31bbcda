//! Business calendars end to end: set and read over gRPC, and a policy counting working
//! hours across a Chinese holiday week.

mod support;

use shangji_contracts::events::Domain;
use shangji_contracts::events::opportunity::OpportunityCreated;
use shangji_contracts::reminders::{
    Calendar, GetCalendarRequest, ListDueRequest, Policy, UpsertCalendarRequest,
    UpsertPolicyRequest,
};
use shangji_contracts::time::{from_millis, to_millis};
use shangji_reminders::RemindersConfig;
use support::{Harness, request};
use tonic::Code;

/// UTC ms of a UTC wall time.
fn utc(y: i32, m: u32, d: u32, h: u32) -> i64 {
    use chrono::TimeZone as _;
    chrono::Utc
        .with_ymd_and_hms(y, m, d, h, 0, 0)
        .single()
        .expect("valid time")
        .timestamp_millis()
}

fn shanghai() -> Calendar {
    Calendar {
        time_zone: "Asia/Shanghai".to_owned(),
        working_days: vec![5, 4, 3, 2, 1],
        work_start: "09:00".to_owned(),
        work_end: "18:00".to_owned(),
        holidays: (1..=7).map(|d| format!("2026-10-{d:02}")).collect(),
        makeup_working_days: vec!["2026-09-27".to_owned(), "2026-10-10".to_owned()],
        ..Default::default()
    }
}

async fn get_calendar(h: &Harness) -> Calendar {
    h.grpc
        .clone()
        .get_calendar(request("acme", GetCalendarRequest {}))
        .await
        .expect("GetCalendar answers")
        .into_inner()
        .calendar
        .expect("calendar")
}

async fn upsert_calendar(
    h: &Harness,
    calendar: Calendar,
    key: &str,
) -> Result<Calendar, tonic::Status> {
    h.grpc
        .clone()
        .upsert_calendar(request(
            "acme",
            UpsertCalendarRequest {
                calendar: Some(calendar),
                idempotency_key: key.to_owned(),
            },
        ))
        .await
        .map(|r| r.into_inner().calendar.expect("calendar"))
}

#[tokio::test]
async fn calendars_are_set_read_and_validated() {
    let h = Harness::start(RemindersConfig::default()).await;
    let default = get_calendar(&h).await;
    assert_eq!(
        (
            default.time_zone.as_str(),
            default.version,
            default.working_days.clone()
        ),
        ("UTC", 0, vec![1, 2, 3, 4, 5])
    );

    let stored = upsert_calendar(&h, shanghai(), "c1").await.expect("stored");
    assert_eq!(stored.version, 1);
    assert_eq!(
        stored.working_days,
        vec![1, 2, 3, 4, 5],
        "stored in normal form"
    );
    assert_eq!(
        upsert_calendar(&h, shanghai(), "c1")
            .await
            .expect("replayed"),
        stored
    );
    assert_eq!(get_calendar(&h).await, stored);

    let err = upsert_calendar(
        &h,
        Calendar {
            time_zone: "Asia/Beijing".to_owned(),
            work_end: "08:00".to_owned(),
            ..shanghai()
        },
        "",
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(
        err.message().contains("calendar.time_zone"),
        "{}",
        err.message()
    );
    assert!(
        err.message().contains("calendar.work_end"),
        "{}",
        err.message()
    );
    assert_eq!(
        get_calendar(&h).await.version,
        1,
        "a refused calendar changes nothing"
    );
    h.stop().await;
}

#[tokio::test]
async fn first_contact_counts_working_hours_across_the_holiday_week() {
    let h = Harness::start(RemindersConfig::default()).await;
    upsert_calendar(&h, shanghai(), "").await.expect("calendar");
    h.grpc
        .clone()
        .upsert_policy(request(
            "acme",
            UpsertPolicyRequest {
                policy: Some(Policy {
                    first_contact_hours: 4,
                    business_time: true,
                    ..Default::default()
                }),
                ..Default::default()
            },
        ))
        .await
        .expect("policy");
    // Wednesday 2026-09-30 16:00 in Shanghai: two working hours left before the holiday.
    let (_, seq) = h
        .publish(
            "acme",
            &OpportunityCreated {
                opportunity_id: "opp_1".to_owned(),
                owner_rep_id: "rep_a".to_owned(),
                stage: "lead".to_owned(),
                created_at: Some(from_millis(utc(2026, 9, 30, 8))),
                ..Default::default()
            },
        )
        .await;
    h.consumed(Domain::Opportunity, seq).await;
    let due = h
        .grpc
        .clone()
        .list_due(request("acme", ListDueRequest::default()))
        .await
        .expect("ListDue")
        .into_inner()
        .reminders;
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].kind, "first_contact");
    // The other two hours on Thursday 10-08 after the holiday: 11:00 in Shanghai.
    assert_eq!(
        to_millis(due[0].due_at.as_ref().expect("due_at")),
        utc(2026, 10, 8, 3)
    );
    h.stop().await;
}
