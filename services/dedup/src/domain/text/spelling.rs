//! Pinyin spellings of hanzi, without tones and with every common reading, so `王伟`
//! meets `Wang Wei` and a surname read two ways (`单` dan/shan, `曾` zeng/ceng) meets
//! either spelling.

use pinyin::{ToPinyin as _, ToPinyinMulti as _};

use super::script::is_han;

/// Reading combinations kept per text; names have two to four characters, so a handful
/// covers the heteronyms that matter without blowing up on long strings.
pub const MAX_SPELLINGS: usize = 4;

/// The plain (toneless) readings of one hanzi, the most common first, without repeats
/// (为 is wéi and wèi, both `wei`).
pub fn readings(c: char) -> Vec<&'static str> {
    let mut readings: Vec<&'static str> = Vec::new();
    if let Some(multi) = c.to_pinyin_multi() {
        for reading in multi {
            let plain = reading.plain();
            if !readings.contains(&plain) {
                readings.push(plain);
            }
        }
    }
    readings
}

/// The most common reading of each hanzi joined, other characters kept as they are
/// (lower-case ASCII letters and digits only): `华为` -> `huawei`, `3M中国` -> `3mzhongguo`.
pub fn default_spelling(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if is_han(c) {
            if let Some(reading) = c.to_pinyin() {
                out.push_str(reading.plain());
            }
        } else if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

/// Every spelling of `text` from combining the readings of its hanzi, default first,
/// at most [`MAX_SPELLINGS`]. Syllables are kept apart so callers can join them as
/// they need.
pub fn spellings(text: &str) -> Vec<Vec<&'static str>> {
    let mut variants: Vec<Vec<&'static str>> = vec![Vec::new()];
    for c in text.chars().filter(|c| is_han(*c)) {
        let readings = readings(c);
        if readings.is_empty() {
            continue;
        }
        let mut next = Vec::with_capacity(MAX_SPELLINGS);
        // Default readings first: variant 0 stays the all-default spelling.
        for variant in &variants {
            for reading in &readings {
                if next.len() == MAX_SPELLINGS {
                    break;
                }
                let mut extended = variant.clone();
                extended.push(*reading);
                next.push(extended);
            }
        }
        variants = next;
    }
    variants.retain(|v| !v.is_empty());
    variants
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hanzi_spell_without_tones() {
        assert_eq!(default_spelling("王伟"), "wangwei");
        assert_eq!(default_spelling("华为"), "huawei");
        assert_eq!(default_spelling("3M中国"), "3mzhongguo");
        assert_eq!(default_spelling("😀"), "");
    }

    #[test]
    fn heteronyms_give_every_reading() {
        let all: Vec<String> = spellings("单伟").iter().map(|s| s.concat()).collect();
        assert!(all.contains(&"shanwei".to_owned()), "{all:?}");
        assert!(all.contains(&"danwei".to_owned()), "{all:?}");
        assert_eq!(readings('为'), vec!["wei"]);
        assert!(spellings("重重重重重重").len() <= MAX_SPELLINGS);
        assert!(spellings("abc").is_empty());
    }
}
