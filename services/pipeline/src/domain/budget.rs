//! Reading an amount out of a lead's free-text budget ("50万", "¥80,000", "300k",
//! "10-20万"), so a new opportunity starts with a value a manager can forecast on.
//!
//! The rule: the first number in the text, scaled by the unit written right after it
//! (万 10^4, 亿 10^8, 千/k 10^3, 百万/m 10^6, 千万 10^7, w 10^4). In a range
//! ("10-20万", "10万~20万") the lower bound counts, taking the upper bound's unit when it
//! has none of its own. Currency marks (¥, RMB, 元, ...) and thousands separators are
//! ignored. Text with no number (or with only words, such as "五十万" or "待定") is 0:
//! an unknown budget, not an error.

/// The amount the budget text names, in whole currency units (rounded to cents); 0 when
/// no amount can be read.
pub fn parse_budget(text: &str) -> f64 {
    let chars: Vec<char> = text.chars().map(to_ascii_form).collect();
    let Some((first, after_first)) = read_number(&chars, 0) else {
        return 0.0;
    };
    let (unit, after_unit) = read_unit(&chars, after_first);
    let exponent = match unit {
        Some(exponent) => exponent,
        // "10-20万": the lower bound takes the upper bound's unit.
        None => range_upper_unit(&chars, after_unit).unwrap_or(0),
    };
    first.scaled(exponent)
}

/// A decimal number as written: its digits without the point, and how many of them
/// follow the point, so scaling by a power of ten stays exact.
#[derive(Debug, PartialEq)]
struct Decimal {
    digits: f64,
    fraction_digits: i32,
}

impl Decimal {
    fn scaled(&self, exponent: i32) -> f64 {
        let value = self.digits * 10f64.powi(exponent - self.fraction_digits);
        if value.is_finite() {
            (value * 100.0).round() / 100.0
        } else {
            0.0
        }
    }
}

/// Full-width digits and punctuation (common in Chinese input) read as their ASCII forms.
fn to_ascii_form(c: char) -> char {
    match c {
        '０'..='９' => {
            char::from_u32(u32::from(c) - u32::from('０') + u32::from('0')).unwrap_or(c)
        }
        '．' | '。' => '.',
        '，' => ',',
        '－' | '—' | '–' | '～' | '〜' => '-',
        _ => c,
    }
}

/// The first number at or after `from`, and the index just past it. Commas between
/// digits are thousands separators ("80,000").
fn read_number(chars: &[char], from: usize) -> Option<(Decimal, usize)> {
    let start = (from..chars.len()).find(|&i| chars[i].is_ascii_digit())?;
    let mut digits = String::new();
    let mut fraction_digits = 0;
    let mut seen_point = false;
    let mut i = start;
    while i < chars.len() {
        let c = chars[i];
        let next_is_digit = chars.get(i + 1).is_some_and(|n| n.is_ascii_digit());
        if c.is_ascii_digit() {
            digits.push(c);
            if seen_point {
                fraction_digits += 1;
            }
        } else if c == ',' && !seen_point && next_is_digit {
            // thousands separator: skip
        } else if c == '.' && !seen_point && next_is_digit {
            seen_point = true;
        } else {
            break;
        }
        i += 1;
    }
    let digits = digits.parse::<f64>().ok()?;
    Some((
        Decimal {
            digits,
            fraction_digits,
        },
        i,
    ))
}

/// The power of ten of a unit written at `from` (spaces allowed before it), and the
/// index past it. A Latin letter counts as a unit only when no letter follows it, so
/// "300k" is 300 000 but "300 kg" or "2 months" is not scaled.
fn read_unit(chars: &[char], from: usize) -> (Option<i32>, usize) {
    let mut i = from;
    while chars.get(i).is_some_and(|c| c.is_whitespace()) {
        i += 1;
    }
    let at = |k: usize| chars.get(i + k).copied();
    let lone_letter = |k: usize| !at(k + 1).is_some_and(|c| c.is_ascii_alphabetic());
    let (exponent, len) = match (at(0), at(1)) {
        (Some('百'), Some('万')) => (6, 2),
        (Some('千'), Some('万')) => (7, 2),
        (Some('万'), _) => (4, 1),
        (Some('亿'), _) => (8, 1),
        (Some('千'), _) => (3, 1),
        (Some('k' | 'K'), _) if lone_letter(0) => (3, 1),
        (Some('w' | 'W'), _) if lone_letter(0) => (4, 1),
        (Some('m' | 'M'), _) if lone_letter(0) => (6, 1),
        _ => return (None, from),
    };
    (Some(exponent), i + len)
}

/// When a range separator follows, the unit of the upper bound ("10-20万" -> 万).
fn range_upper_unit(chars: &[char], from: usize) -> Option<i32> {
    let mut i = from;
    while chars.get(i).is_some_and(|c| c.is_whitespace()) {
        i += 1;
    }
    let separator_len = match (chars.get(i), chars.get(i + 1)) {
        (Some('-' | '~' | '到' | '至'), _) => 1,
        (Some('t'), Some('o')) => 2,
        _ => return None,
    };
    let mut j = i + separator_len;
    while chars
        .get(j)
        .is_some_and(|c| c.is_whitespace() || is_currency_mark(*c))
    {
        j += 1;
    }
    if !chars.get(j).is_some_and(|c| c.is_ascii_digit()) {
        return None;
    }
    let (_, after_upper) = read_number(chars, j)?;
    read_unit(chars, after_upper).0
}

/// Currency marks that may stand before the upper bound of a range ("¥10-¥20万").
fn is_currency_mark(c: char) -> bool {
    matches!(c, '¥' | '￥' | '$' | '€' | '£')
}

#[cfg(test)]
mod tests {
    use super::parse_budget;

    #[track_caller]
    fn reads(text: &str, expected: f64) {
        let got = parse_budget(text);
        assert!(
            (got - expected).abs() < 1e-6,
            "parse_budget({text:?}) = {got}, expected {expected}"
        );
    }

    #[test]
    fn chinese_units() {
        reads("50万", 500_000.0);
        reads("1.5万元", 15_000.0);
        reads("1亿", 100_000_000.0);
        reads("3千", 3_000.0);
        reads("2百万", 2_000_000.0);
        reads("1千万", 10_000_000.0);
        reads("预算约 50 万左右", 500_000.0);
        reads("５０万", 500_000.0);
    }

    #[test]
    fn currency_marks_and_separators() {
        reads("¥80,000", 80_000.0);
        reads("￥80，000元", 80_000.0);
        reads("RMB 20000", 20_000.0);
        reads("CNY 1,234.56", 1_234.56);
        reads("12000", 12_000.0);
    }

    #[test]
    fn latin_units() {
        reads("300k", 300_000.0);
        reads("300K", 300_000.0);
        reads("1.2m", 1_200_000.0);
        reads("2M", 2_000_000.0);
        reads("50w", 500_000.0);
        reads("RMB 1.5 M", 1_500_000.0);
    }

    #[test]
    fn words_after_a_number_are_not_units() {
        reads("2 months", 2.0);
        reads("300 kg", 300.0);
    }

    #[test]
    fn ranges_take_the_lower_bound_with_the_shared_unit() {
        reads("10-20万", 100_000.0);
        reads("10~20万", 100_000.0);
        reads("10到20万", 100_000.0);
        reads("5万-10万", 50_000.0);
        reads("10 - 20 万元", 100_000.0);
        reads("300k-500k", 300_000.0);
        reads("100-200", 100.0);
        reads("¥10-¥20万", 100_000.0);
    }

    #[test]
    fn nothing_readable_is_zero() {
        reads("", 0.0);
        reads("   ", 0.0);
        reads("待定", 0.0);
        reads("五十万", 0.0);
        reads("unknown", 0.0);
        reads("万", 0.0);
    }

    #[test]
    fn never_negative_and_never_infinite() {
        reads("-50万", 500_000.0);
        let huge = "9".repeat(400);
        reads(&huge, 0.0);
    }
}
