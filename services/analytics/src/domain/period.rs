//! Calendar keys for UTC milliseconds: months (`202611`) slice reports, days
//! (`20261123`) date the deltas that time travel sums. Integers sort like dates and
//! index well on both databases.

const MILLIS_PER_DAY: i64 = 86_400_000;

/// A civil date in UTC.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CivilDate {
    pub year: i64,
    pub month: u32,
    pub day: u32,
}

/// The UTC date of `millis` (Howard Hinnant's days-to-civil, valid for any i64 day).
pub fn civil(millis: i64) -> CivilDate {
    let z = millis.div_euclid(MILLIS_PER_DAY) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    CivilDate { year, month, day }
}

/// UTC milliseconds at the start of the given date (days-from-civil).
pub fn start_of(date: CivilDate) -> i64 {
    let year = date.year - i64::from(date.month <= 2);
    let era = year.div_euclid(400);
    let yoe = year - era * 400;
    let m = i64::from(date.month);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + i64::from(date.day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    (era * 146_097 + doe - 719_468) * MILLIS_PER_DAY
}

/// `yyyymm` of the UTC month `millis` falls in.
pub fn month_key(millis: i64) -> i64 {
    let d = civil(millis);
    d.year * 100 + i64::from(d.month)
}

/// `yyyymmdd` of the UTC day `millis` falls in.
pub fn day_key(millis: i64) -> i64 {
    let d = civil(millis);
    d.year * 10_000 + i64::from(d.month) * 100 + i64::from(d.day)
}

/// Parses `YYYY-MM` into a month key.
pub fn parse_month(text: &str) -> Option<i64> {
    let (y, m) = text.trim().split_once('-')?;
    let (year, month): (i64, i64) = (y.parse().ok()?, m.parse().ok()?);
    (y.len() == 4 && m.len() == 2 && (1..=12).contains(&month)).then_some(year * 100 + month)
}

/// Formats a month key as `YYYY-MM`.
pub fn format_month(key: i64) -> String {
    format!("{:04}-{:02}", key / 100, key % 100)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_follow_the_utc_calendar() {
        // 2026-11-23T12:00:00Z
        let t = 1_795_435_200_000;
        assert_eq!(month_key(t), 202_611);
        assert_eq!(day_key(t), 20_261_123);
        // One millisecond before midnight UTC on new year's eve.
        let new_year = start_of(CivilDate {
            year: 2027,
            month: 1,
            day: 1,
        });
        assert_eq!(day_key(new_year - 1), 20_261_231);
        assert_eq!(day_key(new_year), 20_270_101);
        assert_eq!(month_key(0), 197_001);
        assert_eq!(day_key(-1), 19_691_231);
    }

    #[test]
    fn civil_and_start_of_round_trip_across_leap_years() {
        for days in (-800_000..800_000).step_by(997) {
            let millis = days * MILLIS_PER_DAY;
            assert_eq!(start_of(civil(millis)), millis, "day {days}");
        }
        assert_eq!(
            civil(start_of(CivilDate {
                year: 2024,
                month: 2,
                day: 29
            })),
            CivilDate {
                year: 2024,
                month: 2,
                day: 29
            }
        );
    }

    #[test]
    fn months_parse_and_format() {
        assert_eq!(parse_month("2026-11"), Some(202_611));
        assert_eq!(format_month(202_611), "2026-11");
        for bad in ["2026-13", "2026-1", "26-11", "2026/11", "", "x-y"] {
            assert_eq!(parse_month(bad), None, "{bad}");
        }
    }
}
