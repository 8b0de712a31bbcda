//! A tenant's business calendar: time zone, working days and hours, holidays and the
//! make-up working days that move them (调休: a Saturday worked so that a holiday can
//! run longer). Day and hour counts of the policies go through it.
//!
//! Counting happens on local wall-clock time and is converted to UTC at the end, so a
//! reminder "3 days later at 10:00" stays at 10:00 across a daylight-saving change.

use std::collections::BTreeSet;

use chrono::{
    DateTime, Datelike, Duration, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc,
};
use chrono_tz::Tz;

/// How far ahead a working-time count looks before giving up (a calendar with no working
/// day at all is refused at validation; this bounds a pathological one).
const MAX_SCAN_DAYS: u32 = 3 * 366;
/// Holidays and make-up days accepted per calendar at most.
pub const MAX_SPECIAL_DAYS: usize = 1000;

/// A validated calendar.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BusinessCalendar {
    pub time_zone: Tz,
    /// Indexed by `Weekday::num_days_from_monday()`.
    pub working_weekdays: [bool; 7],
    pub work_start: NaiveTime,
    pub work_end: NaiveTime,
    pub holidays: BTreeSet<NaiveDate>,
    /// Days worked although their weekday is not (they win over `holidays`).
    pub makeup_working_days: BTreeSet<NaiveDate>,
}

/// What a tenant without a stored calendar gets: UTC, Monday to Friday, 09:00-18:00.
/// With it, calendar days are exactly 24 hours, as before calendars existed.
impl Default for BusinessCalendar {
    fn default() -> Self {
        BusinessCalendar {
            time_zone: Tz::UTC,
            working_weekdays: [true, true, true, true, true, false, false],
            work_start: NaiveTime::from_hms_opt(9, 0, 0).unwrap_or_default(),
            work_end: NaiveTime::from_hms_opt(18, 0, 0).unwrap_or_default(),
            holidays: BTreeSet::new(),
            makeup_working_days: BTreeSet::new(),
        }
    }
}

/// The calendar as given on the wire (and stored), before validation.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CalendarSpec {
    pub time_zone: String,
    /// ISO weekdays, 1 = Monday .. 7 = Sunday.
    pub working_days: Vec<u32>,
    /// "HH:MM".
    pub work_start: String,
    pub work_end: String,
    /// "YYYY-MM-DD".
    pub holidays: Vec<String>,
    pub makeup_working_days: Vec<String>,
}

/// A calendar field and what is wrong with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CalendarViolation {
    pub field: String,
    pub description: String,
}

fn violation(field: impl Into<String>, description: impl Into<String>) -> CalendarViolation {
    CalendarViolation {
        field: field.into(),
        description: description.into(),
    }
}

fn parse_dates(
    field: &str,
    values: &[String],
    out: &mut Vec<CalendarViolation>,
) -> BTreeSet<NaiveDate> {
    if values.len() > MAX_SPECIAL_DAYS {
        out.push(violation(
            field,
            format!(
                "has {} dates; at most {MAX_SPECIAL_DAYS} are allowed",
                values.len()
            ),
        ));
    }
    let mut dates = BTreeSet::new();
    for (i, value) in values.iter().enumerate() {
        match NaiveDate::parse_from_str(value.trim(), "%Y-%m-%d") {
            Ok(date) => {
                dates.insert(date);
            }
            Err(_) => out.push(violation(
                format!("{field}[{i}]"),
                format!("`{value}` is not a date like 2026-10-01"),
            )),
        }
    }
    dates
}

fn parse_time(field: &str, value: &str, out: &mut Vec<CalendarViolation>) -> NaiveTime {
    NaiveTime::parse_from_str(value.trim(), "%H:%M").unwrap_or_else(|_| {
        out.push(violation(
            field,
            format!("`{value}` is not a time like 09:00"),
        ));
        NaiveTime::MIN
    })
}

impl CalendarSpec {
    /// The calendar, or every field that is wrong (prefixed `calendar.`).
    pub fn parse(&self) -> Result<BusinessCalendar, Vec<CalendarViolation>> {
        let mut out = Vec::new();
        let time_zone = self.time_zone.trim().parse::<Tz>().unwrap_or_else(|_| {
            out.push(violation(
                "calendar.time_zone",
                format!(
                    "`{}` is not an IANA time zone like Asia/Shanghai",
                    self.time_zone
                ),
            ));
            Tz::UTC
        });
        let mut working_weekdays = [false; 7];
        for (i, day) in self.working_days.iter().enumerate() {
            match day {
                1..=7 => working_weekdays[(*day - 1) as usize] = true,
                _ => out.push(violation(
                    format!("calendar.working_days[{i}]"),
                    "must be an ISO weekday, 1 (Monday) to 7 (Sunday)",
                )),
            }
        }
        if !working_weekdays.contains(&true) {
            out.push(violation(
                "calendar.working_days",
                "must name at least one working weekday",
            ));
        }
        let work_start = parse_time("calendar.work_start", &self.work_start, &mut out);
        let work_end = parse_time("calendar.work_end", &self.work_end, &mut out);
        if work_end <= work_start {
            out.push(violation(
                "calendar.work_end",
                "must be later than work_start",
            ));
        }
        let holidays = parse_dates("calendar.holidays", &self.holidays, &mut out);
        let makeup_working_days = parse_dates(
            "calendar.makeup_working_days",
            &self.makeup_working_days,
            &mut out,
        );
        if !out.is_empty() {
            return Err(out);
        }
        Ok(BusinessCalendar {
            time_zone,
            working_weekdays,
            work_start,
            work_end,
            holidays,
            makeup_working_days,
        })
    }
}

impl BusinessCalendar {
    /// The wire form of this calendar (what `parse` accepts).
    pub fn spec(&self) -> CalendarSpec {
        let dates = |set: &BTreeSet<NaiveDate>| {
            set.iter()
                .map(|d| d.format("%Y-%m-%d").to_string())
                .collect()
        };
        CalendarSpec {
            time_zone: self.time_zone.name().to_owned(),
            working_days: (1..=7u32)
                .filter(|d| self.working_weekdays[(*d - 1) as usize])
                .collect(),
            work_start: self.work_start.format("%H:%M").to_string(),
            work_end: self.work_end.format("%H:%M").to_string(),
            holidays: dates(&self.holidays),
            makeup_working_days: dates(&self.makeup_working_days),
        }
    }

    pub fn is_working_day(&self, date: NaiveDate) -> bool {
        if self.makeup_working_days.contains(&date) {
            return true;
        }
        if self.holidays.contains(&date) {
            return false;
        }
        self.working_weekdays[date.weekday().num_days_from_monday() as usize]
    }

    fn local(&self, at: i64) -> NaiveDateTime {
        let utc = DateTime::<Utc>::from_timestamp_millis(at).unwrap_or_default();
        utc.with_timezone(&self.time_zone).naive_local()
    }

    /// Local wall time back to UTC ms: an ambiguous time (clocks went back) takes the
    /// earlier instant; a time that does not exist (clocks went forward) the first
    /// instant after the gap.
    fn utc(&self, local: NaiveDateTime) -> i64 {
        let mut probe = local;
        for _ in 0..4 {
            match self.time_zone.from_local_datetime(&probe) {
                LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => {
                    return t.timestamp_millis();
                }
                LocalResult::None => probe += Duration::minutes(30),
            }
        }
        local.and_utc().timestamp_millis()
    }

    /// `days` calendar days after `at`, at the same local wall-clock time.
    pub fn add_days(&self, at: i64, days: u32) -> i64 {
        self.utc(self.local(at) + Duration::days(i64::from(days)))
    }

    /// `days` working days after `at`, at the same local time; a start outside working
    /// time counts from the next working day's start (a lead that came in on Saturday
    /// has "1 working day" until Tuesday's start, not Monday evening).
    pub fn add_working_days(&self, at: i64, days: u32) -> i64 {
        let start = self.next_working_moment(self.local(at));
        let mut date = start.date();
        let mut left = days;
        let mut scanned = 0;
        while left > 0 && scanned < MAX_SCAN_DAYS {
            date = date.succ_opt().unwrap_or(date);
            scanned += 1;
            if self.is_working_day(date) {
                left -= 1;
            }
        }
        self.utc(date.and_time(start.time()))
    }

    /// `hours` working hours after `at`: only time inside working hours on working days
    /// counts.
    pub fn add_working_hours(&self, at: i64, hours: u32) -> i64 {
        let mut left = Duration::hours(i64::from(hours));
        let mut cursor = self.next_working_moment(self.local(at));
        for _ in 0..MAX_SCAN_DAYS {
            let day_end = cursor.date().and_time(self.work_end);
            let available = day_end - cursor;
            if left <= available {
                return self.utc(cursor + left);
            }
            left -= available;
            cursor = self.next_working_moment(day_end);
        }
        self.utc(cursor)
    }

    /// `local` itself when it falls in working time, else the start of the next.
    fn next_working_moment(&self, local: NaiveDateTime) -> NaiveDateTime {
        let mut date = local.date();
        if self.is_working_day(date) {
            if local.time() < self.work_start {
                return date.and_time(self.work_start);
            }
            if local.time() < self.work_end {
                return local;
            }
        }
        for _ in 0..MAX_SCAN_DAYS {
            date = date.succ_opt().unwrap_or(date);
            if self.is_working_day(date) {
                break;
            }
        }
        date.and_time(self.work_start)
    }
}

/// How a policy counts: plain calendar days and hours in the tenant's time zone, or
/// working days and hours of its calendar.
#[derive(Clone, Copy, Debug)]
pub struct TimeCount<'a> {
    pub calendar: &'a BusinessCalendar,
    pub business_time: bool,
}

impl TimeCount<'_> {
    pub fn add_days(&self, at: i64, days: u32) -> i64 {
        if self.business_time {
            self.calendar.add_working_days(at, days)
        } else {
            self.calendar.add_days(at, days)
        }
    }

    pub fn add_hours(&self, at: i64, hours: u32) -> i64 {
        if self.business_time {
            self.calendar.add_working_hours(at, hours)
        } else {
            at.saturating_add(i64::from(hours).saturating_mul(3_600_000))
        }
    }
}

#[cfg(test)]
#[path = "calendar_tests.rs"]
mod tests;
