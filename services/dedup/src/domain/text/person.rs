//! A contact's name with its titles taken off and its spellings worked out:
//! `王伟`, `王偉`, `Wang Wei`, `Wei Wang` and `WANGWEI` share a spelling; `王先生`, `王总`,
//! `王生` and `小王` say only "someone surnamed 王", which is weak evidence.

use std::collections::HashSet;
use std::sync::LazyLock;

use super::script::{fold, has_han, is_han};
use super::spelling::{MAX_SPELLINGS, default_spelling, spellings};
use super::tables::{
    AMBIGUOUS_TITLES, COMMON_SURNAMES, COMPOUND_SURNAMES, HAN_PREFIX_TITLES, HAN_SUFFIX_TITLES,
    LATIN_TITLES, SURNAME_READINGS,
};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PersonName {
    /// The folded name without titles (`王伟`, `wang wei`).
    pub full: String,
    /// Written in hanzi (else Latin letters).
    pub han: bool,
    /// Toneless spellings of the surname; for Latin names every token that may be the
    /// surname (the first when it is a Chinese surname, and the last).
    pub surnames: Vec<String>,
    /// Toneless spellings of the whole name without spaces: every reading of the hanzi;
    /// for Latin names the words in written and in reversed order.
    pub spellings: Vec<String>,
    /// Words of the name (surname and given name for hanzi, as spelled by default).
    pub tokens: Vec<String>,
    /// The title or role that came with it (`先生`, `总`, `mr`), kept as weak evidence.
    pub title: Option<String>,
    /// Only the surname is known (`王先生`, `小王`, `Mr Wang`).
    pub surname_only: bool,
}

/// Toneless spellings of the common surnames, to spot the surname in "Wei Wang".
static SURNAME_SPELLINGS: LazyLock<HashSet<String>> = LazyLock::new(|| {
    COMMON_SURNAMES
        .chars()
        .map(String::from)
        .chain(COMPOUND_SURNAMES.iter().map(|s| (*s).to_owned()))
        .flat_map(|s| surname_spellings(&s))
        .collect()
});

fn is_common_surname(c: char) -> bool {
    COMMON_SURNAMES.contains(c)
}

impl PersonName {
    /// `None` when nothing of a name is left (empty, only symbols or only a title).
    pub fn parse(raw: &str) -> Option<PersonName> {
        let folded = fold(raw);
        if has_han(&folded) {
            parse_han(&folded)
        } else {
            parse_latin(&folded, written_surname(raw))
        }
    }
}

fn parse_han(folded: &str) -> Option<PersonName> {
    // Latin letters, digits and punctuation next to hanzi are notes ("王伟(销售)"), not the name.
    let without_notes = remove_bracketed(folded);
    let mut name: String = without_notes.chars().filter(|c| is_han(*c)).collect();
    if HAN_SUFFIX_TITLES.contains(&name.as_str()) {
        // A title alone ("先生") names nobody.
        return None;
    }
    let mut title = None;
    if let Some(found) = longest_suffix(&name, HAN_SUFFIX_TITLES) {
        let rest = &name[..name.len() - found.len()];
        let rest_is_surname = surname_of(rest).is_some_and(|s| s.len() == rest.len());
        let strip = !rest.is_empty() && (!AMBIGUOUS_TITLES.contains(&found) || rest_is_surname);
        if strip {
            title = Some(found.to_owned());
            name = rest.to_owned();
        }
    }
    let mut chars = name.chars();
    if let (Some(first), Some(second), None) = (chars.next(), chars.next(), chars.next())
        && title.is_none()
        && HAN_PREFIX_TITLES.iter().any(|p| p.starts_with(first))
        && is_common_surname(second)
    {
        title = Some(first.to_string());
        name = second.to_string();
    }
    if name.is_empty() {
        return None;
    }
    let surname = surname_of(&name).unwrap_or_default().to_owned();
    let given = &name[surname.len()..];
    let surnames = surname_spellings(&surname);
    let givens: Vec<String> = spellings(given).into_iter().map(|v| v.concat()).collect();
    let mut all = Vec::new();
    for s in &surnames {
        for g in givens
            .iter()
            .map(String::as_str)
            .chain(givens.is_empty().then_some(""))
        {
            if all.len() < MAX_SPELLINGS {
                all.push(format!("{s}{g}"));
            }
        }
    }
    let tokens = [surnames.first(), givens.first()]
        .into_iter()
        .flatten()
        .cloned()
        .collect();
    Some(PersonName {
        spellings: all,
        surname_only: given.is_empty() && title.is_some(),
        full: name,
        han: true,
        surnames,
        tokens,
        title,
    })
}

/// A surname's spellings: its surname reading (单 -> shan) when it has one, then the
/// everyday reading. Other readings of the character are not surname readings (王 is
/// never yu as a surname), so they are left out.
fn surname_spellings(surname: &str) -> Vec<String> {
    let everyday = default_spelling(surname);
    let mut all: Vec<String> = SURNAME_READINGS
        .iter()
        .filter(|(s, _)| *s == surname)
        .map(|(_, reading)| (*reading).to_owned())
        .collect();
    if !everyday.is_empty() && !all.contains(&everyday) {
        all.push(everyday);
    }
    all
}

/// The surname at the start of a hanzi name: a compound one, else the first character.
fn surname_of(name: &str) -> Option<&str> {
    if let Some(compound) = COMPOUND_SURNAMES.iter().find(|s| name.starts_with(**s)) {
        return Some(compound);
    }
    let first = name.chars().next()?;
    Some(&name[..first.len_utf8()])
}

/// The surname a Latin name marks as such, folded: the one token written in capitals
/// among others that are not ("SMITH John", "John SMITH"), or the one token before a
/// comma ("Smith, John"). Lists, passports and many CRMs write names that way, and it
/// is the only way to tell "SMITH John" from "John Smith" when neither is a known
/// Chinese surname.
fn written_surname(raw: &str) -> Option<String> {
    let tokens = |text: &str| -> Vec<String> {
        text.split(|c: char| !c.is_alphanumeric())
            .filter(|t| !t.is_empty())
            .map(str::to_owned)
            .collect()
    };
    if let Some((before, _)) = raw.split_once(',')
        && let [only] = tokens(before).as_slice()
    {
        return Some(fold(only));
    }
    let all = tokens(raw);
    let capitals = |t: &String| {
        t.chars().filter(|c| c.is_alphabetic()).count() >= 2
            && t.chars()
                .filter(|c| c.is_alphabetic())
                .all(char::is_uppercase)
    };
    match all
        .iter()
        .filter(|t| capitals(t))
        .collect::<Vec<_>>()
        .as_slice()
    {
        [one] if all.len() > 1 => Some(fold(one)),
        _ => None,
    }
}

fn parse_latin(folded: &str, marked_surname: Option<String>) -> Option<PersonName> {
    let mut tokens: Vec<String> = folded
        .split(|c: char| !c.is_alphanumeric())
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect();
    let mut title = None;
    while let Some(first) = tokens.first()
        && LATIN_TITLES.contains(&first.as_str())
    {
        title = Some(tokens.remove(0));
    }
    let (first, last) = (tokens.first()?.clone(), tokens.last()?.clone());
    let mut surnames = Vec::new();
    // "SMITH John", "Smith, John": the writer said which token is the surname.
    if let Some(marked) = marked_surname
        && tokens.len() > 1
        && tokens.contains(&marked)
    {
        surnames.push(marked);
    }
    if tokens.len() > 1 && SURNAME_SPELLINGS.contains(&first) && !surnames.contains(&first) {
        surnames.push(first);
    }
    if !surnames.contains(&last) {
        surnames.push(last);
    }
    let written = tokens.concat();
    let reversed: String = tokens.iter().rev().map(String::as_str).collect();
    let mut all = vec![written];
    if !all.contains(&reversed) {
        all.push(reversed);
    }
    Some(PersonName {
        full: tokens.join(" "),
        han: false,
        surname_only: tokens.len() == 1 && title.is_some(),
        surnames,
        spellings: all,
        tokens,
        title,
    })
}

/// The text without anything in parentheses or brackets.
pub(super) fn remove_bracketed(text: &str) -> String {
    let mut depth = 0usize;
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '(' | '[' | '【' | '〔' => depth += 1,
            ')' | ']' | '】' | '〕' => depth = depth.saturating_sub(1),
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

/// The longest entry of `list` that `text` ends with.
pub(super) fn longest_suffix<'a>(text: &str, list: &[&'a str]) -> Option<&'a str> {
    list.iter()
        .filter(|s| text.ends_with(**s))
        .max_by_key(|s| s.len())
        .copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(raw: &str) -> PersonName {
        PersonName::parse(raw).unwrap_or_else(|| panic!("{raw:?} is a name"))
    }

    #[test]
    fn hanzi_latin_and_traditional_spellings_meet() {
        let hanzi = parse("王伟");
        assert_eq!(hanzi.surnames, ["wang"]);
        assert_eq!(hanzi.tokens, ["wang", "wei"]);
        assert!(hanzi.spellings.contains(&"wangwei".to_owned()));
        assert_eq!(parse("王偉").full, "王伟");
        for latin in ["Wang Wei", "WEI WANG", "wang-wei", "Mr. Wang Wei"] {
            let name = parse(latin);
            assert!(name.spellings.contains(&"wangwei".to_owned()), "{latin}");
            assert!(name.surnames.contains(&"wang".to_owned()), "{latin}");
        }
        assert_eq!(parse("ｗａｎｇ ｗｅｉ").full, "wang wei");
    }

    #[test]
    fn a_latin_surname_in_capitals_or_before_a_comma_is_the_surname() {
        for raw in [
            "SMITH John",
            "Smith, John",
            "John SMITH",
            "John Smith",
            "JOHN SMITH",
        ] {
            let name = parse(raw);
            assert!(
                name.surnames.contains(&"smith".to_owned()),
                "{raw}: {name:?}"
            );
        }
        assert_eq!(parse("SMITH John").surnames, ["smith", "john"]);
        assert_eq!(parse("John Smith").surnames, ["smith"]);
        // A name in capitals throughout marks nothing.
        assert_eq!(parse("JOHN SMITH").surnames, ["smith"]);
    }

    #[test]
    fn titles_and_roles_leave_only_the_surname() {
        for raw in [
            "王先生",
            "王总",
            "王總",
            "王生",
            "小王",
            "老王",
            "王经理",
            "王總經理",
            "Mr Wang",
        ] {
            let name = parse(raw);
            assert!(name.surname_only, "{raw}: {name:?}");
            assert_eq!(name.surnames, ["wang"], "{raw}");
            assert!(name.title.is_some(), "{raw}");
        }
        // 生 after a full name is the given name, not "Mr".
        let name = parse("王大生");
        assert_eq!(name.full, "王大生");
        assert!(!name.surname_only);
        let name = parse("李娜女士");
        assert_eq!(
            (name.full.as_str(), name.title.as_deref()),
            ("李娜", Some("女士"))
        );
    }

    #[test]
    fn compound_surnames_stay_whole() {
        let name = parse("欧阳娜娜");
        assert_eq!(name.surnames, ["ouyang"]);
        assert_eq!(name.tokens, ["ouyang", "nana"]);
        assert_eq!(parse("司马先生").surnames, ["sima"]);
        let latin = parse("Nana Ouyang");
        assert!(latin.surnames.contains(&"ouyang".to_owned()));
    }

    #[test]
    fn heteronym_surnames_have_every_spelling() {
        let name = parse("单雄");
        assert!(
            name.surnames.contains(&"shan".to_owned()),
            "{:?}",
            name.surnames
        );
        assert!(name.spellings.contains(&"shanxiong".to_owned()));
    }

    #[test]
    fn nothing_of_a_name_gives_none() {
        for raw in ["", "  ", "😀", "()", "-", "先生"] {
            assert_eq!(PersonName::parse(raw), None, "{raw:?}");
        }
    }
}
