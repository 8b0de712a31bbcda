//! Reading a lead's buying timeline ("两周内", "3 months", "Q3", "2026-12-31", "尽快")
//! as a number of days from when the lead arrived, so a scoring rule can ask "within N
//! days?". Text it cannot read yields `None`: the rule is then simply not met.

const DAY_MS: i64 = 86_400_000;

/// Days from `reference_millis` (UTC) until the end of the stated timeline; 0 for "now".
/// Dates in the past count as 0 (the buyer is late, not far off).
pub fn days_until(text: &str, reference_millis: i64) -> Option<i64> {
    let text = text.trim().to_lowercase();
    if text.is_empty() {
        return None;
    }
    let today = reference_millis.div_euclid(DAY_MS);
    let (year, _, _) = civil_from_days(today);
    let days = date_in(&text)
        .map(|(y, m, d)| days_from_civil(y, m, d) - today)
        .or_else(|| quarter_in(&text).map(|q| quarter_end(year, q, today) - today))
        .or_else(|| amount_and_unit(&text))
        .or_else(|| word_in(&text, year, today))?;
    Some(days.max(0))
}

/// Words that name a time without a number.
fn word_in(text: &str, year: i64, today: i64) -> Option<i64> {
    const NOW: [&str; 9] = [
        "尽快",
        "马上",
        "立即",
        "立刻",
        "asap",
        "immediately",
        "urgent",
        "急",
        "now",
    ];
    const TABLE: [(&[&str], i64); 6] = [
        (&["本周", "这周", "this week"], 7),
        (&["下周", "next week"], 14),
        (&["本月", "这个月", "this month"], 30),
        (&["下月", "下个月", "next month"], 60),
        (&["本季度", "this quarter"], 90),
        (&["下季度", "next quarter"], 180),
    ];
    if NOW.iter().any(|w| text.contains(w)) {
        return Some(0);
    }
    if let Some((_, days)) = TABLE
        .iter()
        .find(|(words, _)| words.iter().any(|w| text.contains(w)))
    {
        return Some(*days);
    }
    if ["明年", "next year"].iter().any(|w| text.contains(w)) {
        return Some(days_from_civil(year + 1, 12, 31) - today);
    }
    if [
        "今年",
        "年内",
        "年底",
        "this year",
        "year end",
        "end of year",
    ]
    .iter()
    .any(|w| text.contains(w))
    {
        return Some(days_from_civil(year, 12, 31) - today);
    }
    None
}

/// "2026-12-31", "2026/12/31", "2026年12月31日", or a month alone ("2026-12",
/// "2026年12月"), read as its last day.
fn date_in(text: &str) -> Option<(i64, u32, u32)> {
    let numbers = number_runs(text);
    numbers.windows(2).find_map(|pair| {
        let (year, month) = (pair[0], pair[1]);
        if !(2000..=2100).contains(&year) || !(1..=12).contains(&month) {
            return None;
        }
        let month = u32::try_from(month).ok()?;
        let last = days_in_month(year, month);
        let day = numbers
            .iter()
            .skip_while(|n| **n != year)
            .nth(2)
            .and_then(|d| u32::try_from(*d).ok())
            .filter(|d| (1..=last).contains(d))
            .unwrap_or(last);
        Some((year, month, day))
    })
}

/// Q1..Q4, 第一季度..第四季度.
fn quarter_in(text: &str) -> Option<u32> {
    let chars: Vec<char> = text.chars().collect();
    for (i, c) in chars.iter().enumerate() {
        if *c == 'q'
            && let Some(q) = chars.get(i + 1).and_then(|d| d.to_digit(10))
            && (1..=4).contains(&q)
            && !chars.get(i + 2).is_some_and(|c| c.is_ascii_alphanumeric())
        {
            return Some(q);
        }
    }
    ["一", "二", "三", "四"]
        .iter()
        .position(|n| text.contains(&format!("第{n}季度")) || text.contains(&format!("{n}季度")))
        .map(|i| i as u32 + 1)
}

/// The last day of quarter `q` of this year, or of next year if it has passed.
fn quarter_end(year: i64, q: u32, today: i64) -> i64 {
    let month = q * 3;
    let end = days_from_civil(year, month, days_in_month(year, month));
    if end >= today {
        end
    } else {
        days_from_civil(year + 1, month, days_in_month(year + 1, month))
    }
}

/// "3个月", "两周", "30 days", "6 months", "半年", "1y".
fn amount_and_unit(text: &str) -> Option<i64> {
    if text.contains("半年") || text.contains("half a year") {
        return Some(182);
    }
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let Some((amount, used)) = amount_at(&chars[i..]) else {
            i += 1;
            continue;
        };
        let rest: String = chars[i + used..].iter().collect();
        let rest = rest.trim_start().trim_start_matches('个').trim_start();
        let unit_days = [
            (&["天", "日", "day", "d"][..], 1),
            (&["周", "星期", "礼拜", "week", "wk", "w"][..], 7),
            (&["月", "month", "mo", "m"][..], 30),
            (&["年", "year", "yr", "y"][..], 365),
        ]
        .iter()
        .find(|(units, _)| units.iter().any(|u| rest.starts_with(u)))
        .map(|(_, days)| *days);
        if let Some(days) = unit_days {
            // "999999999999999999个月" is someone's keyboard, not a plan: far away.
            return Some(amount.saturating_mul(days));
        }
        i += used;
    }
    None
}

/// A number (digits or Chinese numerals up to 99) at the start of `chars`, with how
/// many chars it took.
fn amount_at(chars: &[char]) -> Option<(i64, usize)> {
    let digits: String = chars.iter().take_while(|c| c.is_ascii_digit()).collect();
    if !digits.is_empty() {
        return digits.parse().ok().map(|n| (n, digits.chars().count()));
    }
    let digit = |c: char| {
        "零一二三四五六七八九"
            .chars()
            .position(|d| d == c)
            .map(|p| p as i64)
    };
    let mut value = 0;
    let mut used = 0;
    let mut pending = 0;
    for c in chars {
        if let Some(d) = digit(*c) {
            pending = d;
        } else if *c == '两' {
            pending = 2;
        } else if *c == '十' {
            value += if pending == 0 { 10 } else { pending * 10 };
            pending = 0;
        } else {
            break;
        }
        used += 1;
    }
    (used > 0).then_some((value + pending, used))
}

/// The runs of ASCII digits in `text`, as numbers.
fn number_runs(text: &str) -> Vec<i64> {
    text.split(|c: char| !c.is_ascii_digit())
        .filter(|run| !run.is_empty() && run.len() <= 4)
        .filter_map(|run| run.parse().ok())
        .collect()
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a civil date (H. Hinnant's algorithm).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date of a day number (inverse of [`days_from_civil`]).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-11-23T08:00:00Z
    const NOW: i64 = 1_795_420_800_000;

    #[test]
    fn civil_dates_round_trip() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(civil_from_days(NOW / DAY_MS), (2026, 11, 23));
        for day in [-800, 0, 59, 60, 10_000, 20_415, 40_000] {
            let (y, m, d) = civil_from_days(day);
            assert_eq!(days_from_civil(y, m, d), day);
        }
    }

    #[test]
    fn timelines_in_both_languages_become_days() {
        let cases: [(&str, Option<i64>); 22] = [
            ("尽快", Some(0)),
            ("ASAP", Some(0)),
            ("两周内", Some(14)),
            ("3个月内", Some(90)),
            ("三个月", Some(90)),
            ("十二个月", Some(360)),
            ("30 days", Some(30)),
            ("within 6 months", Some(180)),
            ("1y", Some(365)),
            ("半年内", Some(182)),
            ("下个月", Some(60)),
            ("this quarter", Some(90)),
            ("2026-12-31", Some(38)),
            ("2026/12/01", Some(8)),
            ("2027年1月15日前", Some(53)),
            ("2026年12月", Some(38)),
            ("2025-01-01", Some(0)),
            ("Q4", Some(38)),
            ("第一季度", Some(128)),
            ("年底", Some(38)),
            ("", None),
            ("看情况", None),
        ];
        for (text, expected) in cases {
            assert_eq!(days_until(text, NOW), expected, "{text}");
        }
    }

    #[test]
    fn an_absurd_amount_is_far_away_not_an_overflow() {
        assert_eq!(days_until("999999999999999999个月", NOW), Some(i64::MAX));
        assert_eq!(days_until("9223372036854775807 years", NOW), Some(i64::MAX));
    }

    #[test]
    fn numbers_that_are_not_amounts_are_not_taken_for_them() {
        assert_eq!(days_until("budget 50万", NOW), None);
        assert_eq!(days_until("q5 review", NOW), None);
    }
}
