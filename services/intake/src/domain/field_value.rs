//! Typed checks of one field value, as a tenant's schema declares it. Each check answers
//! with what is wrong in Chinese and in English, so the message can be shown to a person
//! in either language; the schema puts the field's labels around it.

use regex::Regex;
use shangji_contracts::intake::FieldType;

/// What is wrong with a value: (Chinese, English), without the field's name.
pub type Problem = (String, String);

/// The rules of one field, compiled once per schema version.
#[derive(Debug, Clone)]
pub struct ValueRules {
    pub field_type: FieldType,
    pub pattern: Option<Regex>,
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub allowed: Vec<String>,
}

impl ValueRules {
    /// Checks a non-empty value.
    pub fn check(&self, value: &str) -> Option<Problem> {
        let value = value.trim();
        self.check_type(value).or_else(|| self.check_pattern(value))
    }

    fn check_pattern(&self, value: &str) -> Option<Problem> {
        let pattern = self.pattern.as_ref()?;
        (!pattern.is_match(value)).then(|| {
            (
                format!("格式不符合要求（{}）", pattern.as_str()),
                format!("`{value}` does not match the pattern {}", pattern.as_str()),
            )
        })
    }

    fn check_type(&self, value: &str) -> Option<Problem> {
        match self.field_type {
            FieldType::Unspecified | FieldType::Text => {
                let chars = value.chars().count() as f64;
                self.check_range(chars, "长度", "length")
                    .or_else(|| self.check_choice(value))
            }
            FieldType::Number => match parse_number(value) {
                Some(n) => self.check_range(n, "数值", "value"),
                None => Some((
                    format!("“{value}”不是数字"),
                    format!("`{value}` is not a number"),
                )),
            },
            FieldType::Money => match parse_money(value) {
                Some(n) => self.check_range(n, "金额", "amount"),
                None => Some((
                    format!("“{value}”不是金额"),
                    format!("`{value}` is not an amount (e.g. 50万, 120000, ¥3.5万)"),
                )),
            },
            FieldType::Date => (!is_date(value)).then(|| {
                (
                    format!("“{value}”不是有效日期（YYYY-MM-DD）"),
                    format!("`{value}` is not a date (YYYY-MM-DD)"),
                )
            }),
            FieldType::SingleChoice => self.check_choice(value),
            FieldType::MultiChoice => split_choices(value)
                .into_iter()
                .find_map(|choice| self.check_choice(choice)),
            FieldType::Phone => (!is_phone(value)).then(|| {
                (
                    format!("“{value}”不是有效电话号码"),
                    format!("`{value}` is not a phone number (7 to 20 digits)"),
                )
            }),
            FieldType::Email => (!is_email(value)).then(|| {
                (
                    format!("“{value}”不是有效邮箱"),
                    format!("`{value}` is not an e-mail address (name@domain.tld)"),
                )
            }),
            FieldType::Url => (!is_url(value)).then(|| {
                (
                    format!("“{value}”不是有效网址"),
                    format!("`{value}` is not an http(s) URL"),
                )
            }),
        }
    }

    fn check_range(&self, n: f64, what_zh: &str, what_en: &str) -> Option<Problem> {
        let below = self.min.is_some_and(|min| n < min);
        let above = self.max.is_some_and(|max| n > max);
        if !(below || above) {
            return None;
        }
        let bound = |b: Option<f64>| b.map_or_else(|| "…".to_owned(), |b| format!("{b}"));
        let (min, max) = (bound(self.min), bound(self.max));
        Some((
            format!("{what_zh}须在 {min} 到 {max} 之间（当前 {n}）"),
            format!("{what_en} {n} is outside {min}..{max}"),
        ))
    }

    fn check_choice(&self, value: &str) -> Option<Problem> {
        if self.allowed.is_empty() || self.allowed.iter().any(|a| a == value.trim()) {
            return None;
        }
        let list = self.allowed.join(", ");
        Some((
            format!("“{value}”不在可选值中（{list}）"),
            format!("`{value}` is not one of: {list}"),
        ))
    }
}

/// The separate choices of a multiple-choice value.
pub fn split_choices(value: &str) -> Vec<&str> {
    value
        .split([',', '，', ';', '；', '|', '、'])
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect()
}

/// A plain decimal number; thousands separators and spaces are allowed.
pub fn parse_number(value: &str) -> Option<f64> {
    let cleaned: String = value
        .chars()
        .filter(|c| !matches!(c, ',' | '，' | ' ' | '_'))
        .collect();
    cleaned.parse::<f64>().ok().filter(|n| n.is_finite())
}

/// An amount as people write it: "50万", "¥120,000", "3.5 万元", "RMB 8000", "2k".
pub fn parse_money(value: &str) -> Option<f64> {
    let mut text = value.trim().to_lowercase();
    for unit in ["rmb", "cny", "usd", "元", "¥", "￥", "$", "€"] {
        text = text.replace(unit, "");
    }
    let text = text.trim();
    let (number, factor) = if let Some(n) = text.strip_suffix('亿') {
        (n, 1e8)
    } else if let Some(n) = text.strip_suffix('万').or_else(|| text.strip_suffix('w')) {
        (n, 1e4)
    } else if let Some(n) = text.strip_suffix('k').or_else(|| text.strip_suffix('千')) {
        (n, 1e3)
    } else {
        (text, 1.0)
    };
    parse_number(number.trim()).map(|n| n * factor)
}

/// YYYY-MM-DD (or with `/` or `.`), a real calendar day.
pub fn is_date(value: &str) -> bool {
    let parts: Vec<&str> = value.split(['-', '/', '.']).collect();
    let [y, m, d] = parts.as_slice() else {
        return false;
    };
    let (Ok(y), Ok(m), Ok(d)) = (y.parse::<u32>(), m.parse::<u32>(), d.parse::<u32>()) else {
        return false;
    };
    if y.to_string().len() != 4 || !(1..=12).contains(&m) {
        return false;
    }
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = match m {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    (1..=days).contains(&d)
}

/// Digits (full-width ones too) with the usual separators; 7 to 20 digits.
pub fn is_phone(value: &str) -> bool {
    let digits = value.chars().filter(|c| c.is_numeric()).count();
    (7..=20).contains(&digits)
        && value.chars().all(|c| {
            c.is_numeric()
                || matches!(c, ' ' | '　' | '+' | '＋' | '-' | '(' | ')' | '.' | '#')
                || c.is_ascii_alphabetic() // "ext", "x"
        })
}

/// A loose check: one `@`, something before it, a dotted domain after it. Full
/// normalisation happens in dedup.
pub fn is_email(email: &str) -> bool {
    let email = email.trim();
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !email.chars().any(char::is_whitespace)
}

pub fn is_url(value: &str) -> bool {
    let rest = value
        .strip_prefix("https://")
        .or_else(|| value.strip_prefix("http://"));
    rest.is_some_and(|rest| {
        let host = rest.split(['/', '?', '#']).next().unwrap_or("");
        !host.is_empty() && !rest.chars().any(char::is_whitespace)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(field_type: FieldType) -> ValueRules {
        ValueRules {
            field_type,
            pattern: None,
            min: None,
            max: None,
            allowed: vec![],
        }
    }

    #[test]
    fn money_is_read_as_people_write_it() {
        assert_eq!(parse_money("50万"), Some(500_000.0));
        assert_eq!(parse_money("¥120,000"), Some(120_000.0));
        assert_eq!(parse_money("3.5 万元"), Some(35_000.0));
        assert_eq!(parse_money("RMB 8000"), Some(8000.0));
        assert_eq!(parse_money("2k"), Some(2000.0));
        assert_eq!(parse_money("1亿"), Some(1e8));
        assert_eq!(parse_money("about fifty"), None);
    }

    #[test]
    fn dates_are_real_calendar_days() {
        assert!(is_date("2026-11-23"));
        assert!(is_date("2024/02/29"));
        assert!(!is_date("2026-02-29"));
        assert!(!is_date("2026-13-01"));
        assert!(!is_date("23.11.2026"));
        assert!(!is_date("soon"));
    }

    #[test]
    fn each_type_checks_its_values() {
        assert!(rules(FieldType::Phone).check("+86 138-0013-8000").is_none());
        assert!(rules(FieldType::Phone).check("12").is_some());
        assert!(rules(FieldType::Email).check("a@b.cn").is_none());
        assert!(rules(FieldType::Email).check("a at b").is_some());
        assert!(
            rules(FieldType::Url)
                .check("https://acme.cn/x?y=1")
                .is_none()
        );
        assert!(rules(FieldType::Url).check("acme.cn").is_some());
        assert!(rules(FieldType::Number).check("1,200.5").is_none());
        assert!(rules(FieldType::Number).check("12a").is_some());
    }

    #[test]
    fn ranges_choices_and_patterns_apply() {
        let budget = ValueRules {
            min: Some(10_000.0),
            max: Some(10_000_000.0),
            ..rules(FieldType::Money)
        };
        assert!(budget.check("50万").is_none());
        let (zh, en) = budget.check("5000").unwrap();
        assert!(zh.contains("金额须在"), "{zh}");
        assert!(en.contains("outside 10000..10000000"), "{en}");

        let size = ValueRules {
            allowed: vec!["小".into(), "中".into(), "大".into()],
            ..rules(FieldType::MultiChoice)
        };
        assert!(size.check("小，大").is_none());
        assert!(
            size.check("小,巨大")
                .unwrap()
                .1
                .contains("`巨大` is not one of")
        );

        let code = ValueRules {
            pattern: Some(Regex::new("^(?:[A-Z]{2}-\\d{4})$").unwrap()),
            ..rules(FieldType::Text)
        };
        assert!(code.check("SH-0001").is_none());
        assert!(code.check("sh-1").is_some());
    }
}
