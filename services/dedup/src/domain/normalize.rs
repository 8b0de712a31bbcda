//! Free-text contact details as channels deliver them, turned into exact match keys.
//!
//! Everything here is total: any input (emoji, control characters, megabytes of text)
//! gives either a key or `None`, never a panic. Strings are only ever cut at character
//! boundaries found by iterating, never at computed byte offsets.

use unicode_normalization::UnicodeNormalization as _;

/// A phone or e-mail field longer than this is not a contact detail (it is a pasted
/// paragraph); refusing it early also bounds the work done on hostile input.
const MAX_CONTACT_CHARS: usize = 320;
/// Fewer digits than this cannot name one line, even a local one without area code.
pub const MIN_PHONE_DIGITS: usize = 7;
/// E.164 allows at most 15 digits.
pub const MAX_PHONE_DIGITS: usize = 15;

/// Words that start an extension; what follows them is not part of the line's key.
const EXTENSION_MARKERS: [&str; 6] = ["extension", "ext", "分机", "转", "x", "#"];

/// NFKC (full-width letters, digits and spaces become their ASCII forms), invisible
/// characters removed, surrounding whitespace trimmed. Used for every stored text.
pub fn clean_text(raw: &str) -> String {
    // Invisible characters go first: removed afterwards, they could leave a letter next
    // to a combining mark that NFKC would have composed, and the result not be NFKC.
    raw.chars()
        .filter(|c| !is_invisible(*c))
        .nfkc()
        .collect::<String>()
        .trim()
        .to_owned()
}

/// Lower-cased and NFKC at once. Each can undo the other (NFKC turns "㎒" into "MHz";
/// lower-casing "İ" leaves a combining mark), so both are applied until neither changes
/// anything; text that does not settle within a few rounds gives `None`.
pub(crate) fn folded(text: String) -> Option<String> {
    let mut text = text;
    for _ in 0..4 {
        let next: String = text.to_lowercase().nfkc().collect();
        if next == text {
            return Some(text);
        }
        text = next;
    }
    None
}

/// Control and zero-width characters that sneak in through copy and paste.
fn is_invisible(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{00AD}' | '\u{200B}'..='\u{200F}' | '\u{2060}' | '\u{FEFF}'
        )
}

fn too_long(raw: &str) -> bool {
    raw.chars().nth(MAX_CONTACT_CHARS).is_some()
}

/// The exact key of a phone number: its digits, with the country code removed for
/// Chinese numbers so every way of writing one line gives one key.
///
/// - `+86 138-0013-8000`, `0086 13800138000`, `86-13800138000`, `１３８ ００１３ ８０００`
///   all give `13800138000`;
/// - landlines keep their area code with the trunk 0: `(010) 6552-9988` and
///   `+86 10 6552 9988` give `01065529988`;
/// - an extension (`ext. 123`, `转123`, `x123`, `#123`) is dropped;
/// - other countries keep their code behind a `+` (`+1 415 555 0100` gives
///   `+14155550100`), so they can never collide with a domestic number;
/// - fewer than 7 or more than 15 digits give no key.
pub fn phone_key(raw: &str) -> Option<String> {
    if too_long(raw) {
        return None;
    }
    let text = clean_text(raw).to_lowercase();
    let number = strip_extension(&text);
    // A + before the first digit, as in "+86 ..." or "(+86) ...", says a country code follows.
    let plus = number
        .chars()
        .take_while(|c| !c.is_ascii_digit())
        .any(|c| c == '+');
    let digits: String = number.chars().filter(char::is_ascii_digit).collect();

    let key = if let Some(national) = digits.strip_prefix("0086") {
        chinese_national(national)
    } else if plus {
        match digits.strip_prefix("86") {
            Some(national) => chinese_national(national),
            None => format!("+{digits}"),
        }
    } else if let Some(international) = digits.strip_prefix("00") {
        // No Chinese area code starts with 0, so 00 can only be the international prefix.
        format!("+{international}")
    } else if digits.len() == 13 && digits.starts_with("861") {
        // A mobile written with its country code but without + or 00.
        digits[2..].to_owned()
    } else if digits.len() == 12 && digits.starts_with("01") && !digits.starts_with("010") {
        // A mobile dialled with a trunk 0 (013800138000); 010 is Beijing's area code.
        digits[1..].to_owned()
    } else {
        digits
    };
    let count = key.trim_start_matches('+').len();
    (MIN_PHONE_DIGITS..=MAX_PHONE_DIGITS)
        .contains(&count)
        .then_some(key)
}

/// A Chinese number without its country code, as dialled at home: mobiles are 11
/// digits starting with 1 (no area code starts with 1 and has 11 digits); everything
/// else is a landline and gets its trunk 0 back.
fn chinese_national(national: &str) -> String {
    let is_mobile = national.len() == 11 && national.starts_with('1');
    if is_mobile || national.starts_with('0') || national.is_empty() {
        national.to_owned()
    } else {
        format!("0{national}")
    }
}

/// The part of `text` before its extension marker. A marker counts only after at least
/// one digit, so `ext` in a label such as "text: 010..." or `x` in "fax" does not cut.
fn strip_extension(text: &str) -> &str {
    let mut seen_digit = false;
    for (at, c) in text.char_indices() {
        if seen_digit && EXTENSION_MARKERS.iter().any(|m| text[at..].starts_with(m)) {
            return text[..at].trim_end();
        }
        seen_digit |= c.is_ascii_digit();
    }
    text
}

/// The exact key of an e-mail address: trimmed and lower-cased, `mailto:` removed. No
/// key unless it looks like `local@domain.tld`.
pub fn email_key(raw: &str) -> Option<String> {
    if too_long(raw) {
        return None;
    }
    let text = folded(clean_text(raw))?;
    let address = text.strip_prefix("mailto:").unwrap_or(&text).trim();
    let (local, domain) = address.split_once('@')?;
    let forbidden = |c: char| c.is_whitespace() || "@()<>[]\\,;:\"".contains(c);
    if local.is_empty() || local.chars().any(forbidden) || domain.chars().any(forbidden) {
        return None;
    }
    let labels: Vec<&str> = domain.split('.').collect();
    let well_formed = labels.len() >= 2
        && labels.iter().all(|label| {
            !label.is_empty()
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_alphanumeric() || c == '-')
        });
    let tld = labels.last().copied().unwrap_or_default();
    let tld_ok = tld.starts_with("xn--")
        || (tld.chars().count() >= 2 && tld.chars().all(char::is_alphabetic));
    (well_formed && tld_ok).then(|| address.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mobile_numbers_written_any_way_give_one_key() {
        for raw in [
            "13800138000",
            "  13800138000 ",
            "１３８ ００１３ ８０００",
            "+86 138-0013-8000",
            "+８６　１３８００１３８０００",
            "0086 13800138000",
            "86-13800138000",
            "8613800138000",
            "(+86) 138 0013 8000",
            "138.0013.8000",
            "013800138000",
            "tel: 138 0013 8000",
            "电话：13800138000",
            "\u{200B}138\u{0}0013\t8000\u{FEFF}",
        ] {
            assert_eq!(phone_key(raw).as_deref(), Some("13800138000"), "{raw:?}");
        }
    }

    #[test]
    fn landlines_keep_the_area_code_with_its_zero() {
        for raw in [
            "(010) 6552-9988",
            "010-65529988",
            "+86 10 6552 9988",
            "0086 10 65529988",
            "+86 (0)10 6552 9988",
            "(+86) 10-6552-9988",
            "010 6552 9988 ext. 123",
            "010-65529988转123",
            "010-65529988 分机 8",
            "010-6552-9988 x12",
            "010-65529988#5",
        ] {
            assert_eq!(phone_key(raw).as_deref(), Some("01065529988"), "{raw:?}");
        }
        assert_eq!(
            phone_key("+86 571 8765 4321").as_deref(),
            Some("057187654321")
        );
        assert_eq!(phone_key("6552 9988").as_deref(), Some("65529988"));
    }

    #[test]
    fn other_countries_keep_their_code_behind_a_plus() {
        assert_eq!(
            phone_key("+1 (415) 555-0100").as_deref(),
            Some("+14155550100")
        );
        assert_eq!(
            phone_key("001 415 555 0100").as_deref(),
            Some("+14155550100")
        );
        assert_ne!(phone_key("+1 415 555 0100"), phone_key("14155550100"));
    }

    #[test]
    fn too_few_or_too_many_digits_give_no_key() {
        for raw in [
            "",
            "   ",
            "n/a",
            "无",
            "123456",
            "+86 12345",
            "1234567890123456",
            "13800138000 / 13900139000",
            "😀📞",
        ] {
            assert_eq!(phone_key(raw), None, "{raw:?}");
        }
        assert_eq!(phone_key("1234567").as_deref(), Some("1234567"));
        assert_eq!(
            phone_key("123456789012345").as_deref(),
            Some("123456789012345")
        );
    }

    #[test]
    fn emails_are_trimmed_and_lower_cased() {
        assert_eq!(
            email_key("  Wang.Li@Example.COM ").as_deref(),
            Some("wang.li@example.com")
        );
        assert_eq!(
            email_key("ｗａｎｇ＠ｅｘａｍｐｌｅ．ｃｎ").as_deref(),
            Some("wang@example.cn")
        );
        assert_eq!(
            email_key("mailto:Li@Corp.com.cn").as_deref(),
            Some("li@corp.com.cn")
        );
        assert_eq!(
            email_key("li+crm@xn--fiqs8s.xn--fiqz9s").as_deref(),
            Some("li+crm@xn--fiqs8s.xn--fiqz9s")
        );
        assert_eq!(email_key("王@公司.中国").as_deref(), Some("王@公司.中国"));
        assert_eq!(email_key("İ@㎒.com").as_deref(), Some("i\u{307}@mhz.com"));
    }

    #[test]
    fn things_that_are_not_addresses_give_no_key() {
        for raw in [
            "",
            "wang",
            "wang@",
            "@example.com",
            "wang@example",
            "wang@example.c",
            "wang@example.123",
            "wang@@example.com",
            "wang@exa mple.com",
            "wang li@example.com",
            "wang@.example.com",
            "wang@example..com",
            "wang@-example.com",
            "<wang@example.com>",
            "wang@example.com, li@example.com",
            "😀@😀.😀",
        ] {
            assert_eq!(email_key(raw), None, "{raw:?}");
        }
    }

    #[test]
    fn clean_text_folds_width_and_drops_invisible_characters() {
        assert_eq!(
            clean_text("\u{3000}华为技术\u{200B}有限公司\t"),
            "华为技术有限公司"
        );
        assert_eq!(clean_text("ＡＢＣ　Ｃｏ．"), "ABC Co.");
        // Z, a removed NUL, then a combining acute: composed as if the NUL was never there.
        assert_eq!(clean_text("Z\u{0}\u{0301}"), "Ź");
    }

    /// Deterministic pseudo-random generator (xorshift), so the property tests below
    /// explore many odd strings yet fail reproducibly.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn pick<T: Copy>(&mut self, items: &[T]) -> T {
            items[(self.next() % items.len() as u64) as usize]
        }
    }

    /// Digits, separators, markers, full-width forms, combining marks, emoji, control
    /// and zero-width characters, CJK and surrogate-adjacent code points.
    const PALETTE: &[char] = &[
        '0',
        '1',
        '3',
        '6',
        '8',
        '9',
        '+',
        '-',
        ' ',
        '(',
        ')',
        '.',
        '#',
        '@',
        'x',
        'e',
        't',
        'M',
        'A',
        '１',
        '８',
        '＋',
        '＠',
        '．',
        '\u{3000}',
        '转',
        '分',
        '机',
        '王',
        '😀',
        '👨',
        '\u{200D}',
        '\u{0}',
        '\u{7}',
        '\n',
        '\t',
        '\u{FEFF}',
        '\u{0301}',
        '\u{FFFD}',
        '\u{D7FF}',
        '\u{E000}',
        '\u{10FFFF}',
        'ß',
        'İ',
        'ﬁ',
        '①',
        '⑽',
        '㈠',
        '٣',
    ];

    fn odd_string(rng: &mut Rng, max_len: u64) -> String {
        let len = rng.next() % max_len;
        (0..len).map(|_| rng.pick(PALETTE)).collect()
    }

    /// Mostly what addresses are made of, with some odd characters mixed in.
    const ADDRESS_PALETTE: &[char] = &[
        'a', 'b', 'Z', 'M', '0', '9', '.', '-', '_', '+', 'ａ', 'Ｚ', '王', 'ß', 'İ', 'ﬁ',
        '\u{200B}', '\u{0}', ' ', '😀', '\u{0301}', '@', '＠',
    ];

    fn odd_part(rng: &mut Rng, max_len: u64) -> String {
        let len = rng.next() % max_len;
        (0..len).map(|_| rng.pick(ADDRESS_PALETTE)).collect()
    }

    #[test]
    fn phone_keys_are_digits_of_allowed_length_and_stable() {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        let mut keys = 0;
        for _ in 0..20_000 {
            let raw = odd_string(&mut rng, 40);
            if let Some(key) = phone_key(&raw) {
                keys += 1;
                let digits = key.strip_prefix('+').unwrap_or(&key);
                assert!(
                    digits.chars().all(|c| c.is_ascii_digit()),
                    "{raw:?} -> {key:?}"
                );
                assert!(
                    (MIN_PHONE_DIGITS..=MAX_PHONE_DIGITS).contains(&digits.len()),
                    "{raw:?} -> {key:?}"
                );
                assert_eq!(
                    phone_key(&key).as_deref(),
                    Some(key.as_str()),
                    "key of {raw:?} is not stable"
                );
            }
        }
        // The generator must really reach keys, or the properties above prove nothing.
        assert!(keys > 500, "only {keys} inputs gave a key");
    }

    #[test]
    fn email_keys_are_lower_case_without_spaces_and_stable() {
        let mut rng = Rng(0xD1B5_4A32_D192_ED03);
        let mut keys = 0;
        for _ in 0..20_000 {
            let raw = format!(
                "{}@{}.{}",
                odd_part(&mut rng, 10),
                odd_part(&mut rng, 10),
                rng.pick(&[
                    "com",
                    "CN",
                    "ｃｏｍ",
                    "中国",
                    "c",
                    "1a",
                    "xn--fiqz9s",
                    "Com ",
                    "org\u{0}"
                ])
            );
            if let Some(key) = email_key(&raw) {
                keys += 1;
                assert_eq!(key, key.to_lowercase(), "{raw:?}");
                assert!(!key.chars().any(char::is_whitespace), "{raw:?} -> {key:?}");
                assert_eq!(key.matches('@').count(), 1, "{raw:?} -> {key:?}");
                assert_eq!(
                    email_key(&key).as_deref(),
                    Some(key.as_str()),
                    "key of {raw:?} is not stable"
                );
            }
        }
        assert!(keys > 500, "only {keys} inputs gave a key");
    }

    #[test]
    fn very_long_and_hostile_input_is_refused_quietly() {
        let long_digits = "1".repeat(1_000_000);
        assert_eq!(phone_key(&long_digits), None);
        assert_eq!(
            email_key(&format!("{}@example.com", "a".repeat(1_000_000))),
            None
        );
        let emoji = "😀".repeat(100_000);
        assert_eq!(phone_key(&emoji), None);
        assert_eq!(email_key(&emoji), None);
        let combining = format!("1{}", "\u{0301}".repeat(300));
        assert_eq!(phone_key(&combining), None);
        assert_eq!(clean_text(&"\u{0}".repeat(10_000)), "");
    }
}
