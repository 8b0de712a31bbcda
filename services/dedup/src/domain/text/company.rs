//! A company name reduced to its brand: `北京华为科技有限公司`, `华为科技(北京)有限公司`,
//! `華為科技`, `华为` and `Huawei Technologies Co., Ltd.` all have the account key `huawei`.
//!
//! Legal forms, region markers and industry words are what varies between spellings of
//! one company; the brand (字号) is what names it. Two different companies with one
//! brand in one tenant are taken to be one account, which is the usual case in a CRM.

use super::person::{longest_suffix, remove_bracketed};
use super::script::{fold, has_han, is_han};
use super::spelling::default_spelling;
use super::tables::{
    HAN_INDUSTRY_WORDS, HAN_LEGAL_SUFFIXES, HAN_REGION_SUFFIXES, HAN_REGIONS, LATIN_INDUSTRY_WORDS,
    LATIN_LEGAL_SUFFIXES, LATIN_REGIONS, PLACE_NAMED_INSTITUTIONS,
};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompanyName {
    /// The folded name as written.
    pub full: String,
    /// What is left without legal form, region and industry words (`华为`, `huawei`).
    pub brand: String,
    /// The brand spelled in lower-case Latin letters (pinyin for hanzi): the account key.
    pub key: String,
    /// The industry words taken off (`科技`), for explanations.
    pub industry: Vec<String>,
    /// The region marker taken off (`北京`), if any.
    pub region: Option<String>,
}

impl CompanyName {
    /// `None` when nothing of a name is left.
    pub fn parse(raw: &str) -> Option<CompanyName> {
        let full = fold(raw);
        let region_in_brackets = bracketed_region(&full);
        let plain = remove_bracketed(&full);
        let mut company = if has_han(&plain) {
            parse_han(&plain)
        } else {
            parse_latin(&plain)
        }?;
        company.region = company.region.or(region_in_brackets);
        company.full = full;
        (!company.key.is_empty()).then_some(company)
    }
}

fn parse_han(plain: &str) -> Option<CompanyName> {
    let mut name: String = plain
        .chars()
        .filter(|c| is_han(*c) || c.is_ascii_alphanumeric())
        .collect();
    while let Some(suffix) = longest_suffix(&name, HAN_LEGAL_SUFFIXES) {
        if suffix.len() == name.len() {
            break;
        }
        name.truncate(name.len() - suffix.len());
    }
    let mut region = None;
    if let Some(found) = region_prefix(&name) {
        region = Some(found.0.to_owned());
        name = name[found.1..].to_owned();
    }
    if let Some((found, len)) = region_suffix(&name) {
        region = region.or(Some(found.to_owned()));
        name.truncate(name.len() - len);
    }
    let mut industry = Vec::new();
    while let Some(word) = longest_suffix(&name, HAN_INDUSTRY_WORDS) {
        if word.len() == name.len() {
            break;
        }
        industry.insert(0, word.to_owned());
        name.truncate(name.len() - word.len());
    }
    if name.is_empty() {
        return None;
    }
    Some(CompanyName {
        key: default_spelling(&name),
        full: String::new(),
        brand: name,
        industry,
        region,
    })
}

/// A region (with its 省/市 suffix) at the start of the name, and the bytes it takes;
/// never the whole name (北京银行 keeps 北京 if nothing else is left).
fn region_prefix(name: &str) -> Option<(&'static str, usize)> {
    let region = HAN_REGIONS
        .iter()
        .filter(|r| name.starts_with(**r))
        .max_by_key(|r| r.len())?;
    let rest = &name[region.len()..];
    let suffix = HAN_REGION_SUFFIXES
        .iter()
        .find(|s| rest.starts_with(**s))
        .map_or(0, |s| s.len());
    let taken = region.len() + suffix;
    let place_named = PLACE_NAMED_INSTITUTIONS.contains(&&name[taken..]);
    (taken < name.len() && !place_named).then_some((region, taken))
}

fn region_suffix(name: &str) -> Option<(&'static str, usize)> {
    let suffix = longest_suffix(name, HAN_REGION_SUFFIXES).unwrap_or("");
    let before = &name[..name.len() - suffix.len()];
    let region = longest_suffix(before, HAN_REGIONS)?;
    let taken = region.len() + suffix.len();
    (taken < name.len()).then_some((region, taken))
}

/// A region named in brackets, as in `华为技术(深圳)有限公司`.
fn bracketed_region(full: &str) -> Option<String> {
    let open = full.find('(')?;
    let inner = full[open + 1..].split(')').next()?;
    let inner = HAN_REGION_SUFFIXES
        .iter()
        .find_map(|s| inner.strip_suffix(*s))
        .unwrap_or(inner);
    (HAN_REGIONS.contains(&inner) || LATIN_REGIONS.contains(&inner)).then(|| inner.to_owned())
}

fn parse_latin(plain: &str) -> Option<CompanyName> {
    let mut tokens: Vec<&str> = plain
        .split(|c: char| !c.is_alphanumeric() && c != '&')
        .filter(|t| !t.is_empty())
        .collect();
    let drop_last = |tokens: &mut Vec<&str>, list: &[&str]| -> Option<String> {
        let last = *tokens.last()?;
        (tokens.len() > 1 && list.contains(&last)).then(|| {
            tokens.pop();
            last.to_owned()
        })
    };
    while drop_last(&mut tokens, LATIN_LEGAL_SUFFIXES).is_some() {}
    let mut region = None;
    if tokens.len() > 1 && LATIN_REGIONS.contains(tokens.first()?) {
        region = Some(tokens.remove(0).to_owned());
    }
    if let Some(found) = drop_last(&mut tokens, LATIN_REGIONS) {
        region = region.or(Some(found));
    }
    let mut industry = Vec::new();
    while let Some(word) = drop_last(&mut tokens, LATIN_INDUSTRY_WORDS) {
        industry.insert(0, word);
    }
    if tokens.is_empty() {
        return None;
    }
    Some(CompanyName {
        key: tokens
            .iter()
            .flat_map(|t| t.chars())
            .filter(char::is_ascii_alphanumeric)
            .collect(),
        full: String::new(),
        brand: tokens.join(" "),
        industry,
        region,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(raw: &str) -> String {
        CompanyName::parse(raw)
            .unwrap_or_else(|| panic!("{raw:?} is a company"))
            .key
    }

    #[test]
    fn spellings_of_one_company_share_the_account_key() {
        for raw in [
            "北京华为科技有限公司",
            "华为科技(北京)有限公司",
            "华为科技（北京）有限公司",
            "華為科技",
            "华为",
            "华为技术有限公司",
            "深圳市华为技术有限公司",
            "华为集团",
            "Huawei Technologies Co., Ltd.",
            "HUAWEI",
            "Huawei Inc",
        ] {
            assert_eq!(key(raw), "huawei", "{raw}");
        }
    }

    #[test]
    fn an_industry_written_in_english_is_the_same_account() {
        for (han, latin) in [
            ("南京腾为医疗器械有限公司", "Tengwei Medical Corp."),
            (
                "广州恒京信息技术有限公司",
                "Hengjing Information Technology Inc.",
            ),
            ("武汉城美制造有限责任公司", "Chengmei Manufacturing GmbH"),
            ("西安德辰电子有限责任公司", "Dechen Electronics GmbH"),
            ("上海远洋建设集团有限公司", "Yuanyang Construction Group"),
        ] {
            assert_eq!(key(han), key(latin), "{han} / {latin}");
        }
        // The last word standing is kept: a company called "Data" is still a company.
        assert_eq!(key("Data Inc."), "data");
    }

    #[test]
    fn region_and_industry_are_kept_for_explanations() {
        let company = CompanyName::parse("华为科技(北京)有限公司").unwrap();
        assert_eq!(company.brand, "华为");
        assert_eq!(company.region.as_deref(), Some("北京"));
        assert_eq!(company.industry, ["科技"]);
        let company = CompanyName::parse("上海市浦东软件有限公司").unwrap();
        assert_eq!(company.brand, "浦东");
        assert_eq!(company.region.as_deref(), Some("上海"));
    }

    #[test]
    fn a_name_made_only_of_generic_words_keeps_one() {
        assert!(key("北京银行").starts_with("beijing"));
        assert_ne!(key("北京银行"), key("中国银行股份有限公司"));
        assert_eq!(key("科技有限公司"), "keji");
        assert_eq!(key("Apple Inc."), "apple");
        assert_eq!(key("Tech Co"), "tech");
        assert_ne!(key("阿里巴巴"), key("腾讯"));
    }

    #[test]
    fn nothing_of_a_name_gives_none() {
        for raw in ["", "  ", "😀", "(北京)", "有限公司"] {
            let parsed = CompanyName::parse(raw);
            assert!(
                parsed.is_none() || !parsed.unwrap().key.is_empty(),
                "{raw:?}"
            );
        }
        assert_eq!(CompanyName::parse("😀"), None);
    }
}
