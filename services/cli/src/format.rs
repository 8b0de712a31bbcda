//! Text for people: durations typed on the command line ("2d", "4h", "30m"), timestamps,
//! amounts, enum labels and aligned tables (Chinese text is two columns wide).

use std::time::Duration;

use prost_types::Timestamp;

/// Parses a duration such as `2d`, `4h`, `30m`, `45s` or a combination like `1h30m`.
/// A bare number is refused: "in 2" could mean minutes or days.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("empty duration; use for example 2d, 4h, 30m or 1h30m".to_owned());
    }
    let mut total: u64 = 0;
    let mut digits = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let unit_secs = match c {
            'd' => 86_400,
            'h' => 3_600,
            'm' => 60,
            's' => 1,
            _ => {
                return Err(format!(
                    "`{text}`: unknown unit `{c}`; use d (days), h (hours), m (minutes) or s (seconds)"
                ));
            }
        };
        if digits.is_empty() {
            return Err(format!("`{text}`: unit `{c}` needs a number before it"));
        }
        let amount: u64 = digits
            .parse()
            .map_err(|_| format!("`{text}`: `{digits}` is too large"))?;
        total = amount
            .checked_mul(unit_secs)
            .and_then(|secs| total.checked_add(secs))
            .ok_or_else(|| format!("`{text}` is too long"))?;
        digits.clear();
    }
    if !digits.is_empty() {
        return Err(format!(
            "`{text}`: `{digits}` needs a unit: d (days), h (hours), m (minutes) or s (seconds)"
        ));
    }
    Ok(Duration::from_secs(total))
}

/// `prost_types::Duration` for a std duration (saturating at i64::MAX seconds).
pub fn to_proto_duration(duration: Duration) -> prost_types::Duration {
    prost_types::Duration {
        seconds: i64::try_from(duration.as_secs()).unwrap_or(i64::MAX),
        // subsec_nanos is below 1e9, so it fits in i32.
        nanos: duration.subsec_nanos() as i32,
    }
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian calendar
/// (Howard Hinnant's `civil_from_days`), so no calendar crate is needed for UTC output.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    // Both values are small positive numbers by construction (day 1..=31, month 1..=12).
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

struct Civil {
    year: i64,
    month: u32,
    day: u32,
    hour: i64,
    minute: i64,
    second: i64,
    millis: i64,
}

fn civil(ts: &Timestamp) -> Civil {
    let millis = shangji_contracts::time::to_millis(ts);
    let secs = millis.div_euclid(1000);
    let (year, month, day) = civil_from_days(secs.div_euclid(86_400));
    let in_day = secs.rem_euclid(86_400);
    Civil {
        year,
        month,
        day,
        hour: in_day / 3_600,
        minute: in_day % 3_600 / 60,
        second: in_day % 60,
        millis: millis.rem_euclid(1000),
    }
}

/// `2025-03-01 08:30:05 UTC`, or `-` when the timestamp is absent.
pub fn timestamp(ts: Option<&Timestamp>) -> String {
    match ts {
        None => "-".to_owned(),
        Some(ts) => {
            let c = civil(ts);
            format!(
                "{:04}-{:02}-{:02} {:02}:{:02}:{:02} UTC",
                c.year, c.month, c.day, c.hour, c.minute, c.second
            )
        }
    }
}

/// RFC 3339 with milliseconds (`2025-03-01T08:30:05.123Z`) for JSON output; null when absent.
pub fn timestamp_json(ts: Option<&Timestamp>) -> serde_json::Value {
    match ts {
        None => serde_json::Value::Null,
        Some(ts) => {
            let c = civil(ts);
            serde_json::Value::String(format!(
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
                c.year, c.month, c.day, c.hour, c.minute, c.second, c.millis
            ))
        }
    }
}

/// `LEAD_STATUS_OPPORTUNITY_CREATED` with prefix `LEAD_STATUS_` -> `opportunity_created`.
pub fn enum_label(proto_name: &str, prefix: &str) -> String {
    proto_name
        .strip_prefix(prefix)
        .unwrap_or(proto_name)
        .to_ascii_lowercase()
}

/// The same label with spaces, for sentences and tables.
pub fn enum_words(proto_name: &str, prefix: &str) -> String {
    enum_label(proto_name, prefix).replace('_', " ")
}

/// An amount with thousands separators and at most two decimals: `1,250,000` or `99.50`.
pub fn amount(value: f64) -> String {
    if !value.is_finite() {
        return value.to_string();
    }
    let fixed = format!("{:.2}", value.abs());
    let (int_part, frac_part) = fixed.split_once('.').unwrap_or((&fixed, "00"));
    let mut grouped = String::new();
    for (i, c) in int_part.chars().enumerate() {
        if i > 0 && (int_part.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    let sign = if value < 0.0 && fixed != "0.00" {
        "-"
    } else {
        ""
    };
    if frac_part == "00" {
        format!("{sign}{grouped}")
    } else {
        format!("{sign}{grouped}.{frac_part}")
    }
}

/// `-` for an empty value, so table cells and detail lines never look missing.
pub fn or_dash(value: &str) -> &str {
    if value.is_empty() { "-" } else { value }
}

/// Columns a terminal uses for `c`: East Asian wide and full-width characters take two.
fn char_width(c: char) -> usize {
    let cp = u32::from(c);
    let wide = matches!(cp,
        0x1100..=0x115F
        | 0x2E80..=0x303E
        | 0x3041..=0x33FF
        | 0x3400..=0x4DBF
        | 0x4E00..=0x9FFF
        | 0xA000..=0xA4CF
        | 0xAC00..=0xD7A3
        | 0xF900..=0xFAFF
        | 0xFE30..=0xFE4F
        | 0xFF00..=0xFF60
        | 0xFFE0..=0xFFE6
        | 0x1F300..=0x1F64F
        | 0x20000..=0x3FFFD);
    if wide {
        2
    } else if c.is_control() {
        0
    } else {
        1
    }
}

/// Display width of `text` in terminal columns.
pub fn display_width(text: &str) -> usize {
    text.chars().map(char_width).sum()
}

/// A plain table: a header row and aligned columns separated by two spaces.
pub struct Table {
    headers: Vec<String>,
    right_aligned: Vec<bool>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(headers: &[&str]) -> Table {
        Table {
            headers: headers.iter().map(|h| (*h).to_owned()).collect(),
            right_aligned: vec![false; headers.len()],
            rows: Vec::new(),
        }
    }

    /// Aligns the named columns (numbers) to the right.
    pub fn right(mut self, columns: &[&str]) -> Table {
        for (i, header) in self.headers.iter().enumerate() {
            if columns.contains(&header.as_str()) {
                self.right_aligned[i] = true;
            }
        }
        self
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    pub fn render(&self) -> String {
        let columns = self.headers.len();
        let mut widths: Vec<usize> = self.headers.iter().map(|h| display_width(h)).collect();
        for row in &self.rows {
            for (i, cell) in row.iter().enumerate().take(columns) {
                widths[i] = widths[i].max(display_width(&clean_cell(cell)));
            }
        }
        let mut out = String::new();
        let all_rows = std::iter::once(&self.headers).chain(self.rows.iter());
        for row in all_rows {
            let mut line = String::new();
            for (i, width) in widths.iter().enumerate() {
                let cell = clean_cell(row.get(i).map(String::as_str).unwrap_or(""));
                let pad = " ".repeat(width.saturating_sub(display_width(&cell)));
                if i > 0 {
                    line.push_str("  ");
                }
                if self.right_aligned[i] {
                    line.push_str(&pad);
                    line.push_str(&cell);
                } else {
                    line.push_str(&cell);
                    if i + 1 < columns {
                        line.push_str(&pad);
                    }
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

/// Line breaks inside a cell would break the table's rows apart.
fn clean_cell(cell: &str) -> String {
    cell.replace(['\r', '\n', '\t'], " ")
}

/// Aligned `label  value` lines for a detail view.
pub fn details(pairs: &[(&str, String)]) -> String {
    let width = pairs
        .iter()
        .map(|(label, _)| display_width(label))
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    for (label, value) in pairs {
        let pad = " ".repeat(width - display_width(label));
        out.push_str(&format!("{label}{pad}  {value}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_in_days_hours_minutes_and_seconds() {
        assert_eq!(parse_duration("2d"), Ok(Duration::from_secs(2 * 86_400)));
        assert_eq!(parse_duration("4h"), Ok(Duration::from_secs(4 * 3_600)));
        assert_eq!(parse_duration("30m"), Ok(Duration::from_secs(1_800)));
        assert_eq!(parse_duration("45s"), Ok(Duration::from_secs(45)));
        assert_eq!(parse_duration(" 1h30m "), Ok(Duration::from_secs(5_400)));
        assert_eq!(parse_duration("1d12h"), Ok(Duration::from_secs(129_600)));
        assert_eq!(parse_duration("0m"), Ok(Duration::ZERO));
    }

    #[test]
    fn durations_without_units_or_with_unknown_units_are_refused() {
        assert!(parse_duration("").unwrap_err().contains("empty"));
        assert!(parse_duration("30").unwrap_err().contains("needs a unit"));
        assert!(
            parse_duration("2w")
                .unwrap_err()
                .contains("unknown unit `w`")
        );
        assert!(parse_duration("h").unwrap_err().contains("needs a number"));
        assert!(parse_duration("1h30").unwrap_err().contains("needs a unit"));
        assert!(parse_duration("-2h").is_err());
        assert!(parse_duration("99999999999999999999d").is_err());
        assert!(
            parse_duration("999999999999999999d")
                .unwrap_err()
                .contains("too long")
        );
    }

    #[test]
    fn timestamps_print_in_utc() {
        let ts = shangji_contracts::time::from_millis(1_709_281_805_123);
        assert_eq!(timestamp(Some(&ts)), "2024-03-01 08:30:05 UTC");
        assert_eq!(
            timestamp_json(Some(&ts)),
            serde_json::json!("2024-03-01T08:30:05.123Z")
        );
        assert_eq!(timestamp(None), "-");
        assert_eq!(timestamp_json(None), serde_json::Value::Null);
        // Leap day and the epoch.
        let leap = shangji_contracts::time::from_millis(951_782_400_000);
        assert_eq!(timestamp(Some(&leap)), "2000-02-29 00:00:00 UTC");
        let epoch = shangji_contracts::time::from_millis(0);
        assert_eq!(timestamp(Some(&epoch)), "1970-01-01 00:00:00 UTC");
    }

    #[test]
    fn enum_labels_drop_the_prefix() {
        assert_eq!(
            enum_label("LEAD_STATUS_OPPORTUNITY_CREATED", "LEAD_STATUS_"),
            "opportunity_created"
        );
        assert_eq!(
            enum_words("LEAD_STATUS_OPPORTUNITY_CREATED", "LEAD_STATUS_"),
            "opportunity created"
        );
    }

    #[test]
    fn amounts_are_grouped_by_thousands() {
        assert_eq!(amount(0.0), "0");
        assert_eq!(amount(999.0), "999");
        assert_eq!(amount(1_000.0), "1,000");
        assert_eq!(amount(1_250_000.0), "1,250,000");
        assert_eq!(amount(99.5), "99.50");
        assert_eq!(amount(-1_234.56), "-1,234.56");
    }

    #[test]
    fn tables_align_chinese_text_by_display_width() {
        assert_eq!(display_width("张三"), 4);
        assert_eq!(display_width("ab"), 2);
        let mut table = Table::new(&["name", "amount"]).right(&["amount"]);
        table.row(vec!["张三".to_owned(), "1,000".to_owned()]);
        table.row(vec!["Li".to_owned(), "5".to_owned()]);
        assert_eq!(table.render(), "name  amount\n张三   1,000\nLi         5\n");
    }

    #[test]
    fn table_cells_stay_on_one_line() {
        let mut table = Table::new(&["a", "b"]);
        table.row(vec!["x\ny".to_owned(), "z".to_owned()]);
        assert_eq!(table.render(), "a    b\nx y  z\n");
    }

    #[test]
    fn details_align_labels() {
        let text = details(&[("id", "1".to_owned()), ("status", "open".to_owned())]);
        assert_eq!(text, "id      1\nstatus  open\n");
    }
}
