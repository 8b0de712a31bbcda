//! Phone numbers that cannot exist. Validation already made sure a phone has 7 to 20
//! digits; this reads it as a mainland Chinese number (mobile 1[3-9] + 9 digits, landline
//! area code + 7 or 8 digits, 400/800 service numbers) unless it carries another country
//! code, and flags what no operator would ever hand out. Real numbers may repeat digits
//! (13900000000 exists), so only a whole number of one digit or a straight run
//! (12345678, 98765432) counts as made up.

use super::Problem;

/// A phone as written, read apart.
#[derive(Debug, PartialEq)]
pub struct PhoneNumber {
    /// The digits after the country code 86 (and without an extension); for another
    /// country's number, all its digits, country code included.
    pub national: String,
    /// True unless another country code than 86 was given.
    pub mainland: bool,
}

/// Reads the digits (full-width ones too), drops an extension (`ext 12`, `x12`, `#12`,
/// `转12`) and a mainland country code (+86, 0086, 86 before a mobile).
pub fn parse(raw: &str) -> PhoneNumber {
    let main = raw
        .split(|c: char| c.is_ascii_alphabetic() || matches!(c, '#' | '转' | ',' | '，'))
        .next()
        .unwrap_or("");
    let plus = main.trim_start().starts_with(['+', '＋']);
    let digits = digits_of(main);
    let (national, mainland) = if plus || digits.starts_with("00") {
        let international = if plus { &digits[..] } else { &digits[2..] };
        match international.strip_prefix("86") {
            Some(rest) => (rest.to_owned(), true),
            None => (international.to_owned(), false),
        }
    } else if digits.len() == 13 && digits.starts_with("861") {
        (digits[2..].to_owned(), true)
    } else {
        (digits, true)
    };
    PhoneNumber { national, mainland }
}

fn digits_of(text: &str) -> String {
    text.chars()
        .filter_map(|c| match c {
            '0'..='9' => Some(c),
            // Full-width digits, as typed on a Chinese keyboard.
            '０'..='９' => char::from_u32(c as u32 - '０' as u32 + '0' as u32),
            _ => None,
        })
        .collect()
}

/// Digit groups as the writer separated them ("010-62345678-8001" -> 3 groups).
fn groups(raw: &str) -> Vec<String> {
    raw.split(|c: char| !(c.is_ascii_digit() || ('０'..='９').contains(&c)))
        .filter(|g| !g.is_empty())
        .map(digits_of)
        .collect()
}

/// Every digit the same: 11111111111, 00000000.
pub fn all_same(digits: &str) -> bool {
    let mut chars = digits.chars();
    chars.next().is_some_and(|first| chars.all(|c| c == first))
}

/// A straight run up or down (wrapping 9 -> 0): 12345678901, 98765432.
pub fn straight_run(digits: &str) -> bool {
    let d: Vec<u8> = digits.bytes().map(|b| b - b'0').collect();
    if d.len() < 6 {
        return false;
    }
    let up = d.windows(2).all(|w| w[1] == (w[0] + 1) % 10);
    let down = d.windows(2).all(|w| w[0] == (w[1] + 1) % 10);
    up || down
}

/// A mobile whose last 8 digits are one digit or a run (13800000000, 13912345678):
/// real, perhaps, but what people type when they make a number up. Only a hint.
pub fn looks_made_up(raw: &str) -> bool {
    let number = parse(raw);
    let n = &number.national;
    number.mainland
        && is_mobile(n)
        && (all_same(&n[3..]) || straight_run(&n[3..]) || n == "13800138000")
}

fn is_mobile(n: &str) -> bool {
    n.len() == 11 && n.starts_with('1') && matches!(n.as_bytes()[1], b'3'..=b'9')
}

/// A landline: area code (010, 02X, or 0 and three more digits) and a 7 or 8 digit
/// subscriber number that does not start with 0 or 1.
fn is_landline(n: &str) -> bool {
    let area = if n.starts_with("01") || n.starts_with("02") {
        3
    } else {
        4
    };
    n.starts_with('0')
        && n.len() > area
        && (7..=8).contains(&(n.len() - area))
        && !matches!(n.as_bytes()[area], b'0' | b'1')
}

/// What is wrong with the phone, if it cannot be a real number.
pub fn check(raw: &str) -> Option<Problem> {
    let number = parse(raw);
    let n = number.national.as_str();
    let shown = raw.trim();
    if all_same(n) {
        return Some((
            format!("电话“{shown}”的数字全部相同"),
            format!("`{shown}` is one digit repeated, not a phone number"),
        ));
    }
    if straight_run(n) {
        return Some((
            format!("电话“{shown}”是连续数字"),
            format!("`{shown}` just counts up or down, not a phone number"),
        ));
    }
    if !number.mainland {
        let total = n.len();
        return (!(8..=15).contains(&total)).then(|| {
            (
                format!("国际电话“{shown}”位数不对（{total} 位）"),
                format!("`{shown}` has {total} digits; an international number has 8 to 15"),
            )
        });
    }
    match n.as_bytes().first() {
        Some(b'1') if n.len() != 11 => Some((
            format!("手机号码应为 11 位，“{shown}”有 {} 位", n.len()),
            format!(
                "`{shown}` has {} digits; a mainland mobile number has 11",
                n.len()
            ),
        )),
        Some(b'1') if !is_mobile(n) => Some((
            format!("没有“{}”开头的手机号段", &n[..2]),
            format!("`{shown}`: mainland mobile numbers start with 13 to 19"),
        )),
        Some(b'1') => None,
        // A mobile dialled with the trunk 0 (013800138000) is reachable too.
        Some(b'0') if is_landline(n) || is_mobile(&n[1..]) || landline_with_extension(raw) => None,
        Some(b'0') => Some((
            format!("固定电话“{shown}”应为区号加 7 或 8 位号码"),
            format!("`{shown}` is not a landline (area code and 7 or 8 digits)"),
        )),
        // 400 and 800 service numbers: 10 digits.
        Some(_) if n.len() == 10 && (n.starts_with("400") || n.starts_with("800")) => None,
        // A local number without its area code.
        Some(b'2'..=b'9') if (7..=8).contains(&n.len()) => None,
        _ => Some((
            format!("“{shown}”既不是手机号、固定电话，也不是 400/800 号码"),
            format!(
                "`{shown}` is neither a mobile (11 digits from 13-19), a landline (area code and 7 or 8 digits) nor a 400/800 number"
            ),
        )),
    }
}

/// "010-62345678-8001": the third group of a landline is its extension.
fn landline_with_extension(raw: &str) -> bool {
    let g = groups(raw);
    g.len() >= 3 && is_landline(&format!("{}{}", g[0], g[1]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flagged(raw: &str) -> bool {
        check(raw).is_some()
    }

    #[test]
    fn real_numbers_in_every_usual_spelling_pass() {
        for ok in [
            "13800138000",
            "+86 138-0013-8000",
            "0086 13800138000",
            "8613800138000",
            "１３８ ００１３ ８０００",
            "139 0000 0000",
            "13000104729",
            "010-62345678",
            "(021) 6234 5678",
            "0755-8765432",
            "0571-88888888",
            "010-62345678-8001",
            "010 62345678 ext 12",
            "013800138000",
            "400-810-8888",
            "62345678",
            "+852 2123 4567",
            "+1 415 555 0100",
        ] {
            assert_eq!(check(ok), None, "{ok}");
        }
    }

    #[test]
    fn impossible_numbers_are_flagged_with_a_reason() {
        for bad in [
            "11111111111",
            "12345678901",
            "00000000",
            "98765432",
            "1380013800",
            "138001380001",
            "12800138000",
            "010-1234",
            "0571-012345678",
            "123456789",
            "+44 12",
            "9876543210",
        ] {
            assert!(flagged(bad), "{bad}");
        }
        let (zh, en) = check("1380013800").unwrap();
        assert!(zh.contains("11 位"), "{zh}");
        assert!(en.contains("has 10 digits"), "{en}");
        let (zh, _) = check("12800138000").unwrap();
        assert!(zh.contains("“12”"), "{zh}");
    }

    #[test]
    fn parsing_strips_country_code_and_extension() {
        assert_eq!(parse("+86 138-0013-8000 x12").national, "13800138000");
        let hk = parse("+852 2123 4567");
        assert!(!hk.mainland);
        assert_eq!(hk.national, "85221234567");
    }

    #[test]
    fn made_up_looking_mobiles_are_only_a_hint() {
        assert!(looks_made_up("13888888888"));
        assert!(looks_made_up("13912345678"));
        assert!(looks_made_up("13800000000"));
        assert!(!looks_made_up("13800138001"));
        assert!(!looks_made_up("010-88888888"));
        // Not impossible, though: real numbers can look like this.
        assert_eq!(check("13888888888"), None);
    }
}
