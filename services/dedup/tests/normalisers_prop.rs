//! Property tests over every normaliser and the matcher: arbitrary strings (emoji,
//! control characters, combining marks, mixed scripts, very long) never panic, and what
//! comes out keeps its promises (bounded, folded, stable).

use proptest::prelude::*;
use shangji_contracts::common::Lead;
use shangji_dedup::domain::matching::{
    MatchProfile, MatchThresholds, ParsedProfile, blocking_keys, judge, partitions,
};
use shangji_dedup::domain::normalize::{email_key, phone_key};
use shangji_dedup::domain::text::script::MAX_FOLD_CHARS;
use shangji_dedup::domain::text::{CompanyName, PersonName, fold};

/// Characters that break naive code: CJK (simplified and traditional), full-width
/// forms, emoji with joiners, control and zero-width characters, combining marks.
fn odd_text() -> impl Strategy<Value = String> {
    let pieces = prop_oneof![
        any::<char>().prop_map(String::from),
        Just("王".to_owned()),
        Just("偉".to_owned()),
        Just("欧阳".to_owned()),
        Just("先生".to_owned()),
        Just("有限公司".to_owned()),
        Just("（北京）".to_owned()),
        Just("Ｗａｎｇ".to_owned()),
        Just("👨‍👩‍👧".to_owned()),
        Just("\u{0}".to_owned()),
        Just("\u{200B}".to_owned()),
        Just("\u{0301}".to_owned()),
        Just(" ".to_owned()),
        Just("Co., Ltd.".to_owned()),
        Just("+86".to_owned()),
        Just("@".to_owned()),
        Just("İ".to_owned()),
        Just("ﬁ".to_owned()),
    ];
    prop::collection::vec(pieces, 0..40).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn folding_is_total_bounded_and_idempotent(raw in odd_text()) {
        let folded = fold(&raw);
        prop_assert!(folded.chars().count() <= MAX_FOLD_CHARS);
        prop_assert!(!folded.chars().any(char::is_control));
        prop_assert_eq!(fold(&folded), folded.clone());
    }

    #[test]
    fn names_and_companies_parse_without_panics(raw in odd_text()) {
        if let Some(name) = PersonName::parse(&raw) {
            prop_assert!(!name.full.is_empty() || name.surname_only);
            prop_assert!(name.spellings.iter().all(|s| !s.contains(' ')));
        }
        if let Some(company) = CompanyName::parse(&raw) {
            prop_assert!(!company.key.is_empty());
            prop_assert!(company.key.chars().all(|c| c.is_alphanumeric()));
        }
        let _ = phone_key(&raw);
        let _ = email_key(&raw);
    }

    #[test]
    fn any_two_leads_compare_with_a_score_between_0_and_1(
        a in (odd_text(), odd_text(), odd_text()),
        b in (odd_text(), odd_text(), odd_text()),
    ) {
        let lead = |(name, company, phone): (String, String, String)| Lead {
            contact_name: name, company, phone, ..Lead::default()
        };
        let pa = ParsedProfile::from(&MatchProfile::from_lead(&lead(a)));
        let pb = ParsedProfile::from(&MatchProfile::from_lead(&lead(b)));
        let verdict = judge(&pa, "cus_1", &pb, &MatchThresholds::default());
        prop_assert!((0.0..=1.0).contains(&verdict.score));
        let keys = blocking_keys(&pa);
        prop_assert!(keys.windows(2).all(|w| w[0] < w[1]));
        prop_assert!(partitions(&keys).len() <= keys.len());
    }
}

#[test]
fn megabytes_of_hostile_text_are_refused_or_cut_quickly() {
    let emoji = "😀\u{200D}".repeat(500_000);
    assert!(fold(&emoji).chars().count() <= MAX_FOLD_CHARS);
    assert!(PersonName::parse(&emoji).is_none());
    assert!(CompanyName::parse(&"\u{0}".repeat(1_000_000)).is_none());
}
