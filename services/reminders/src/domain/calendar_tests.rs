use chrono::{TimeZone, Utc};

use super::*;

fn utc(y: i32, m: u32, d: u32, h: u32, min: u32) -> i64 {
    Utc.with_ymd_and_hms(y, m, d, h, min, 0)
        .single()
        .expect("valid time")
        .timestamp_millis()
}

fn calendar(tz: &str) -> BusinessCalendar {
    CalendarSpec {
        time_zone: tz.to_owned(),
        working_days: vec![1, 2, 3, 4, 5],
        work_start: "09:00".to_owned(),
        work_end: "18:00".to_owned(),
        ..Default::default()
    }
    .parse()
    .expect("valid calendar")
}

#[test]
fn new_york_days_keep_the_wall_clock_across_the_spring_change() {
    let ny = calendar("America/New_York");
    // Friday 2026-03-06 10:00 EST; clocks go forward on Sunday 2026-03-08.
    let friday = utc(2026, 3, 6, 15, 0);
    assert_eq!(
        ny.add_days(friday, 3),
        utc(2026, 3, 9, 14, 0),
        "Monday 10:00 EDT"
    );
    assert_eq!(ny.add_days(friday, 3) - friday, 3 * 86_400_000 - 3_600_000);
    assert_eq!(ny.add_working_days(friday, 1), utc(2026, 3, 9, 14, 0));
    // Saturday 02:30 + 1 day is a time that does not exist: the first instant after the gap.
    assert_eq!(
        ny.add_days(utc(2026, 3, 7, 7, 30), 1),
        utc(2026, 3, 8, 7, 0)
    );
}

#[test]
fn berlin_working_hours_span_the_autumn_change() {
    let berlin = calendar("Europe/Berlin");
    // Friday 2026-10-23 17:00 CEST; clocks go back on Sunday 2026-10-25.
    let friday = utc(2026, 10, 23, 15, 0);
    // One hour left on Friday, one more on Monday from 09:00 CET.
    assert_eq!(berlin.add_working_hours(friday, 2), utc(2026, 10, 26, 9, 0));
    // A full working day is 9 hours: Friday 17:00 + 9h = Monday 17:00 CET.
    assert_eq!(
        berlin.add_working_hours(friday, 9),
        utc(2026, 10, 26, 16, 0)
    );
    // Calendar days keep 17:00 local: 25 hours between Saturday and Sunday evenings.
    assert_eq!(berlin.add_days(friday, 3), utc(2026, 10, 26, 16, 0));
}

#[test]
fn shanghai_holidays_and_makeup_working_days() {
    // National Day week off, paid for by working Sunday 09-27 and Saturday 10-10.
    let shanghai = CalendarSpec {
        time_zone: "Asia/Shanghai".to_owned(),
        working_days: vec![1, 2, 3, 4, 5],
        work_start: "09:00".to_owned(),
        work_end: "18:00".to_owned(),
        holidays: (1..=7).map(|d| format!("2026-10-{d:02}")).collect(),
        makeup_working_days: vec!["2026-09-27".to_owned(), "2026-10-10".to_owned()],
    }
    .parse()
    .expect("valid calendar");
    // Wednesday 2026-09-30 10:00 CST (UTC+8).
    let before_holiday = utc(2026, 9, 30, 2, 0);
    assert_eq!(
        shanghai.add_working_days(before_holiday, 1),
        utc(2026, 10, 8, 2, 0)
    );
    assert_eq!(
        shanghai.add_working_days(before_holiday, 3),
        utc(2026, 10, 10, 2, 0),
        "the make-up Saturday counts"
    );
    assert_eq!(
        shanghai.add_working_days(before_holiday, 4),
        utc(2026, 10, 12, 2, 0),
        "Sunday 10-11 does not"
    );
    // A lead on Saturday 09-26: the make-up Sunday is its first working day.
    assert_eq!(
        shanghai.add_working_hours(utc(2026, 9, 26, 2, 0), 1),
        utc(2026, 9, 27, 2, 0)
    );
    assert!(shanghai.is_working_day(NaiveDate::from_ymd_opt(2026, 9, 27).expect("date")));
    assert!(!shanghai.is_working_day(NaiveDate::from_ymd_opt(2026, 10, 5).expect("date")));
}

#[test]
fn the_default_calendar_keeps_24_hour_days() {
    let c = BusinessCalendar::default();
    let at = utc(2026, 11, 23, 12, 0);
    assert_eq!(c.add_days(at, 3), at + 3 * 86_400_000);
    let plain = TimeCount {
        calendar: &c,
        business_time: false,
    };
    assert_eq!(plain.add_hours(at, 30), at + 30 * 3_600_000);
    let business = TimeCount {
        calendar: &c,
        business_time: true,
    };
    // Monday 12:00 UTC + 30 working hours = 6 + 9 + 9 + 6: Thursday 15:00.
    assert_eq!(business.add_hours(at, 30), utc(2026, 11, 26, 15, 0));
    assert_eq!(business.add_days(at, 5), utc(2026, 11, 30, 12, 0));
}

#[test]
fn a_bad_calendar_names_every_field() {
    let err = CalendarSpec {
        time_zone: "Mars/Olympus".to_owned(),
        working_days: vec![0, 8],
        work_start: "18:00".to_owned(),
        work_end: "9am".to_owned(),
        holidays: vec!["2026-13-01".to_owned()],
        makeup_working_days: vec![],
    }
    .parse()
    .unwrap_err();
    let fields: Vec<&str> = err.iter().map(|v| v.field.as_str()).collect();
    assert_eq!(
        fields,
        vec![
            "calendar.time_zone",
            "calendar.working_days[0]",
            "calendar.working_days[1]",
            "calendar.working_days",
            "calendar.work_end",
            "calendar.work_end",
            "calendar.holidays[0]",
        ]
    );
}

#[test]
fn a_calendar_round_trips_its_wire_form() {
    let c = calendar("Asia/Shanghai");
    assert_eq!(c.spec().parse(), Ok(c.clone()));
    assert_eq!(c.spec().working_days, vec![1, 2, 3, 4, 5]);
}
