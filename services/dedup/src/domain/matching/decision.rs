//! The combined score of a lead against one known customer, and the decision it leads
//! to: same (attach automatically), possible (a person should look) or different.
//!
//! Each field that both sides have adds log-odds points (Fellegi-Sunter style): a
//! field that agrees adds its `agree` weight, one that disagrees its (negative)
//! `disagree` weight, and similarities in between are interpolated. The score is the
//! logistic of the prior plus those points, so the contributions listed in the evidence
//! add up to the log-odds of the score and every decision explains itself.

use std::borrow::Borrow;
use std::sync::Arc;

use super::compare::{edit_similarity, edits, jaro_winkler, qgram_similarity};
use super::profile::ParsedProfile;
use crate::domain::matching::FieldEvidence;
use crate::domain::text::{CompanyName, PersonName};

/// Log-odds of "same" before any field is looked at: most pairs that share a blocking
/// key are different people.
pub const PRIOR: f64 = -6.0;

/// How much one field says.
#[derive(Clone, Copy, Debug)]
struct Weight {
    agree: f64,
    disagree: f64,
    /// At or below this similarity the field disagrees; at or above `high` it agrees.
    low: f64,
    high: f64,
}

impl Weight {
    fn points(self, similarity: f64) -> f64 {
        if similarity >= self.high {
            self.agree
        } else if similarity <= self.low {
            self.disagree
        } else {
            let t = (similarity - self.low) / (self.high - self.low);
            self.disagree + (self.agree - self.disagree) * t
        }
    }
}

const EMAIL: Weight = Weight {
    agree: 8.0,
    disagree: -1.0,
    low: 0.6,
    high: 0.99,
};
/// People have several phones, so a different one says little.
const PHONE: Weight = Weight {
    agree: 8.0,
    disagree: -1.5,
    low: 0.5,
    high: 0.99,
};
const NAME: Weight = Weight {
    agree: 5.5,
    disagree: -4.0,
    low: 0.78,
    high: 0.95,
};
/// Only a surname on one side (王先生): weak evidence for, strong against.
const SURNAME: Weight = Weight {
    agree: 3.5,
    disagree: -4.0,
    low: 0.5,
    high: 0.99,
};
const COMPANY: Weight = Weight {
    agree: 3.0,
    disagree: -1.5,
    low: 0.8,
    high: 0.97,
};
/// Birth dates are often mistyped or swapped (day and month) when a person gives them
/// again, so a different one is strong but not overwhelming evidence against.
const BIRTH_DATE: Weight = Weight {
    agree: 5.0,
    disagree: -3.0,
    low: 0.5,
    high: 0.99,
};
const NATIONAL_ID: Weight = Weight {
    agree: 7.0,
    disagree: -3.0,
    low: 0.5,
    high: 0.99,
};
/// Latin names that share a word (the family name, or the given name with the family
/// name changed or left out) count at least this much, however unlike the rest is: a
/// nickname, a second given name, a married name or a missing part is more common among
/// records agreeing on everything else than a different person with one shared name.
/// Hanzi names are left to their own similarity, since one surname character is shared
/// by millions.
const LATIN_NAME_SHARING_A_WORD: f64 = -1.0;
/// Jaro-Winkler at which two words of a name are one word (typos allowed).
const SAME_WORD: f64 = 0.9;
const ADDRESS: Weight = Weight {
    agree: 3.0,
    disagree: -1.0,
    low: 0.6,
    high: 0.95,
};
const LOCALITY: Weight = Weight {
    agree: 1.5,
    disagree: -1.0,
    low: 0.8,
    high: 0.97,
};
const POSTCODE: Weight = Weight {
    agree: 1.5,
    disagree: -1.0,
    low: 0.5,
    high: 0.99,
};

/// The three outcomes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Decision {
    Same,
    Possible,
    Different,
}

impl Decision {
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Same => "same",
            Decision::Possible => "possible",
            Decision::Different => "different",
        }
    }
}

/// Scores (0..1) at which a match becomes possible and same. Per tenant, defaulting to
/// the service's settings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MatchThresholds {
    pub same: f64,
    pub possible: f64,
}

impl Default for MatchThresholds {
    fn default() -> Self {
        MatchThresholds {
            same: 0.9,
            possible: 0.5,
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ThresholdError {
    #[error("{0} must be a score between 0 and 1")]
    OutOfRange(&'static str),
    #[error("possible ({possible}) must not exceed same ({same})")]
    Order { possible: f64, same: f64 },
}

impl MatchThresholds {
    /// Thresholds that make sense: both in (0, 1], possible <= same.
    pub fn new(same: f64, possible: f64) -> Result<MatchThresholds, ThresholdError> {
        if !(same > 0.0 && same <= 1.0) {
            return Err(ThresholdError::OutOfRange("same"));
        }
        if !(possible > 0.0 && possible <= 1.0) {
            return Err(ThresholdError::OutOfRange("possible"));
        }
        if possible > same {
            return Err(ThresholdError::Order { possible, same });
        }
        Ok(MatchThresholds { same, possible })
    }

    pub fn decide(&self, score: f64) -> Decision {
        if score >= self.same {
            Decision::Same
        } else if score >= self.possible {
            Decision::Possible
        } else {
            Decision::Different
        }
    }
}

/// The verdict on one known customer.
#[derive(Clone, Debug, PartialEq)]
pub struct MatchVerdict {
    pub customer_id: String,
    /// 0..1
    pub score: f64,
    pub decision: Decision,
    /// One entry per compared field plus the prior; contributions add up to the
    /// log-odds of `score`.
    pub evidence: Vec<FieldEvidence>,
}

impl MatchVerdict {
    /// The explanation in words, strongest evidence first.
    pub fn reasons(&self) -> Vec<String> {
        let mut fields: Vec<&FieldEvidence> = self
            .evidence
            .iter()
            .filter(|e| e.field != "prior")
            .collect();
        fields.sort_by(|a, b| b.contribution.abs().total_cmp(&a.contribution.abs()));
        let mut reasons = vec![format!(
            "{} customer {} (score {:.2})",
            self.decision.as_str(),
            self.customer_id,
            self.score
        )];
        reasons.extend(
            fields
                .iter()
                .map(|e| format!("{}: {} ({:+.1})", e.field, e.detail, e.contribution)),
        );
        reasons
    }
}

/// Compares the lead with one customer.
pub fn judge(
    lead: &ParsedProfile,
    customer_id: &str,
    customer: &ParsedProfile,
    thresholds: &MatchThresholds,
) -> MatchVerdict {
    let mut evidence = vec![FieldEvidence {
        field: "prior",
        similarity: 0.0,
        contribution: PRIOR,
        detail: "two records sharing a blocking key are usually different".to_owned(),
    }];
    let mut add = |field: &'static str, contribution: f64, similarity: f64, detail: String| {
        evidence.push(FieldEvidence {
            field,
            similarity,
            contribution,
            detail,
        });
    };
    if !lead.emails.is_empty() && !customer.emails.is_empty() {
        let s = best(&lead.emails, &customer.emails, email_similarity);
        add("email", EMAIL.points(s), s, described(s, "e-mail"));
    }
    if !lead.phones.is_empty() && !customer.phones.is_empty() {
        let s = best(&lead.phones, &customer.phones, phone_similarity);
        add("phone", PHONE.points(s), s, described(s, "phone"));
    }
    if !lead.names.is_empty() && !customer.names.is_empty() {
        let names = compare_names(&lead.names, &customer.names);
        let s = names.similarity;
        if names.surname_only {
            add("surname", SURNAME.points(s), s, names.detail);
        } else if names.latin_word_shared {
            let points = NAME.points(s).max(LATIN_NAME_SHARING_A_WORD);
            add(
                "name",
                points,
                s,
                format!("{} (a word agrees)", names.detail),
            );
        } else {
            add("name", NAME.points(s), s, names.detail);
        }
    }
    if !lead.companies.is_empty() && !customer.companies.is_empty() {
        let (s, detail) = compare_companies(&lead.companies, &customer.companies);
        add("company", COMPANY.points(s), s, detail);
    }
    let optional = [
        (
            "birth_date",
            BIRTH_DATE,
            &lead.birth_dates,
            &customer.birth_dates,
            date_similarity as fn(&str, &str) -> f64,
        ),
        (
            "national_id",
            NATIONAL_ID,
            &lead.national_ids,
            &customer.national_ids,
            code_similarity,
        ),
        (
            "postcode",
            POSTCODE,
            &lead.postcodes,
            &customer.postcodes,
            code_similarity,
        ),
        (
            "locality",
            LOCALITY,
            &lead.localities,
            &customer.localities,
            jaro_winkler,
        ),
        (
            "address",
            ADDRESS,
            &lead.addresses,
            &customer.addresses,
            qgram_similarity,
        ),
    ];
    for (field, weight, a, b, similarity) in optional {
        // The best agreement of any value the lead gave with any the customer is known by.
        if !a.is_empty() && !b.is_empty() {
            let s = best(a, b, |x, y| similarity(x, y));
            add(field, weight.points(s), s, described(s, field));
        }
    }
    let log_odds: f64 = evidence.iter().map(|e| e.contribution).sum();
    let score = 1.0 / (1.0 + (-log_odds).exp());
    MatchVerdict {
        customer_id: customer_id.to_owned(),
        score,
        decision: thresholds.decide(score),
        evidence,
    }
}

/// Every candidate judged, best first (ties: smallest id, so replicas agree).
/// Candidates may be owned or shared (`Arc`, as the parse cache hands them out).
pub fn decide<P: Borrow<ParsedProfile>>(
    lead: &ParsedProfile,
    candidates: &[(String, P)],
    thresholds: &MatchThresholds,
) -> Vec<MatchVerdict> {
    let mut verdicts: Vec<MatchVerdict> = candidates
        .iter()
        .map(|(id, customer)| judge(lead, id, customer.borrow(), thresholds))
        .collect();
    verdicts.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then_with(|| a.customer_id.cmp(&b.customer_id))
    });
    verdicts
}

fn best<T>(a: &[T], b: &[T], similarity: impl Fn(&T, &T) -> f64) -> f64 {
    a.iter()
        .flat_map(|x| b.iter().map(|y| similarity(x, y)))
        .fold(0.0, f64::max)
}

fn described(similarity: f64, what: &str) -> String {
    if similarity >= 0.999 {
        format!("{what} equal")
    } else if similarity <= 0.0 {
        format!("{what} differs")
    } else {
        format!("{what} {:.0}% alike", similarity * 100.0)
    }
}

/// Equal addresses are 1; the same mailbox name at another domain (wang.wei@qq.com,
/// wang.wei@163.com) is likely the same person.
fn email_similarity(a: &String, b: &String) -> f64 {
    if a == b {
        return 1.0;
    }
    let local = |e: &str| e.split('@').next().unwrap_or_default().to_owned();
    let (la, lb) = (local(a), local(b));
    if la.chars().count() < 4 {
        return 0.0;
    }
    // Numbers tell mailboxes apart (xu.190 and xu.1790, wang88 and wang66 belong to
    // different people); the same name on another provider or with a dot more is
    // likely the same person.
    let digits = |s: &str| s.chars().filter(char::is_ascii_digit).collect::<String>();
    if digits(&la) != digits(&lb) {
        return 0.0;
    }
    0.85 * jaro_winkler(&la, &lb)
}

/// Equal keys are 1; one written with and one without the area code share the last
/// eight digits.
fn phone_similarity(a: &String, b: &String) -> f64 {
    if a == b {
        return 1.0;
    }
    let tail = |p: &str| p.chars().rev().take(8).collect::<String>();
    if a.len() >= 8 && b.len() >= 8 && tail(a) == tail(b) {
        0.9
    } else {
        0.0
    }
}

/// Codes (ids, postcodes): equal is 1; one typo or swapped pair 0.85 in a long code
/// (six characters or more, where another person's code is rarely one edit away) and
/// 0.7 in a short one; anything else 0.
fn code_similarity(a: &str, b: &str) -> f64 {
    match edits(a, b) {
        0 => 1.0,
        1 if a.chars().count().min(b.chars().count()) >= 6 => 0.85,
        1 => 0.7,
        _ => 0.0,
    }
}

/// Birth dates (digits, `19800102`): as codes, and day and month swapped
/// (`19800201`, the American order) is as good as one typo.
fn date_similarity(a: &str, b: &str) -> f64 {
    let swapped = |d: &str| -> Option<String> {
        (d.len() == 8 && d.is_ascii()).then(|| format!("{}{}{}", &d[..4], &d[6..8], &d[4..6]))
    };
    let similarity = code_similarity(a, b);
    if similarity < 0.85 && swapped(a).is_some_and(|s| s == b) {
        0.85
    } else {
        similarity
    }
}

/// How the names of a lead and a customer compare.
struct NameComparison {
    /// The best similarity of any pair of names.
    similarity: f64,
    /// Only a surname was known on one side (`王先生`), so only surnames were compared.
    surname_only: bool,
    /// The best pair are Latin names sharing a word (see [`LATIN_NAME_SHARING_A_WORD`]).
    latin_word_shared: bool,
    detail: String,
}

/// The best agreement between any of the lead's names and the customer's, whether it
/// compared full names or only a surname, and words for it.
fn compare_names(lead: &[Arc<PersonName>], customer: &[Arc<PersonName>]) -> NameComparison {
    let mut best_full: Option<(f64, bool, String)> = None;
    let mut best_surname: Option<(f64, String)> = None;
    for a in lead {
        for b in customer {
            if a.surname_only || b.surname_only {
                let agrees = a.surnames.iter().any(|s| b.surnames.contains(s));
                let s = if agrees { 1.0 } else { 0.0 };
                let detail = format!(
                    "surname {} {} {}{}",
                    if agrees { "agrees:" } else { "differs:" },
                    a.full,
                    b.full,
                    title_note(a, b)
                );
                if best_surname.as_ref().is_none_or(|(t, _)| s > *t) {
                    best_surname = Some((s, detail));
                }
            } else {
                let s = full_name_similarity(a, b);
                if best_full.as_ref().is_none_or(|(t, _, _)| s > *t) {
                    best_full = Some((
                        s,
                        latin_word_shared(a, b),
                        format!("{} vs {} {:.0}% alike", a.full, b.full, s * 100.0),
                    ));
                }
            }
        }
    }
    match (best_full, best_surname) {
        (Some((similarity, latin_word_shared, detail)), _) => NameComparison {
            similarity,
            surname_only: false,
            latin_word_shared,
            detail,
        },
        (None, Some((similarity, detail))) => NameComparison {
            similarity,
            surname_only: true,
            latin_word_shared: false,
            detail,
        },
        (None, None) => NameComparison {
            similarity: 0.0,
            surname_only: false,
            latin_word_shared: false,
            detail: "no comparable names".to_owned(),
        },
    }
}

/// Two names in Latin letters with a word in common (typos allowed).
fn latin_word_shared(a: &PersonName, b: &PersonName) -> bool {
    !a.han
        && !b.han
        && a.tokens
            .iter()
            .any(|x| b.tokens.iter().any(|y| jaro_winkler(x, y) >= SAME_WORD))
}

fn title_note(a: &PersonName, b: &PersonName) -> String {
    match a.title.as_ref().or(b.title.as_ref()) {
        Some(title) => format!(" (only a surname with the title {title})"),
        None => String::new(),
    }
}

/// Full names: equal 1; hanzi that differ but sound the same (王伟, 王炜) 0.9, as they
/// are usually different people; one spelling shared across scripts (王伟, Wang Wei) 1;
/// otherwise word by word with Jaro-Winkler, in either order.
fn full_name_similarity(a: &PersonName, b: &PersonName) -> f64 {
    if a.full == b.full {
        return 1.0;
    }
    let shared_spelling = a.spellings.iter().any(|s| b.spellings.contains(s));
    if a.han && b.han {
        return if shared_spelling {
            0.9
        } else {
            edit_similarity(&a.full, &b.full)
        };
    }
    if shared_spelling {
        return 1.0;
    }
    (word_alignment(&a.tokens, &b.tokens) + word_alignment(&b.tokens, &a.tokens)) / 2.0
}

/// The mean, over the words of `a`, of their best Jaro-Winkler with a word of `b`.
fn word_alignment(a: &[String], b: &[String]) -> f64 {
    if a.is_empty() {
        return 0.0;
    }
    let total: f64 = a
        .iter()
        .map(|x| b.iter().map(|y| jaro_winkler(x, y)).fold(0.0, f64::max))
        .sum();
    total / a.len() as f64
}

fn compare_companies(lead: &[Arc<CompanyName>], customer: &[Arc<CompanyName>]) -> (f64, String) {
    let mut best: (f64, String) = (0.0, String::new());
    for a in lead {
        for b in customer {
            let s = if a.key == b.key {
                1.0
            } else {
                jaro_winkler(&a.key, &b.key)
            };
            if s > best.0 || best.1.is_empty() {
                best = (
                    s,
                    format!("{} vs {}: brand {} / {}", a.full, b.full, a.brand, b.brand),
                );
            }
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::matching::profile::MatchProfile;

    fn parsed(names: &[&str], companies: &[&str], phones: &[&str]) -> ParsedProfile {
        let profile = MatchProfile {
            names: names.iter().map(|s| (*s).to_owned()).collect(),
            companies: companies.iter().map(|s| (*s).to_owned()).collect(),
            phones: phones.iter().map(|s| (*s).to_owned()).collect(),
            ..MatchProfile::default()
        };
        ParsedProfile::from(&profile)
    }

    fn verdict(lead: &ParsedProfile, customer: &ParsedProfile) -> MatchVerdict {
        judge(lead, "cus_1", customer, &MatchThresholds::default())
    }

    #[test]
    fn one_name_and_one_company_across_scripts_is_the_same() {
        let customer = parsed(&["王伟"], &["北京华为科技有限公司"], &[]);
        for (name, company) in [
            ("Wang Wei", "Huawei Technologies Co., Ltd."),
            ("王偉", "華為科技"),
            ("WEI WANG", "华为"),
        ] {
            let v = verdict(&parsed(&[name], &[company], &[]), &customer);
            assert_eq!(v.decision, Decision::Same, "{name} {company}: {v:?}");
        }
    }

    #[test]
    fn a_title_with_the_surname_at_the_company_is_only_possible() {
        let customer = parsed(&["王伟"], &["华为"], &[]);
        let v = verdict(&parsed(&["王先生"], &["华为科技"], &[]), &customer);
        assert_eq!(v.decision, Decision::Possible, "{v:?}");
        assert!(v.evidence.iter().any(|e| e.field == "surname"));
        let v = verdict(&parsed(&["李先生"], &["华为科技"], &[]), &customer);
        assert_eq!(v.decision, Decision::Different, "{v:?}");
    }

    #[test]
    fn names_sharing_only_a_surname_disagree() {
        let customer = parsed(&["王伟"], &["华为"], &[]);
        for name in ["王芳", "Wang Fang", "王炜"] {
            let v = verdict(&parsed(&[name], &["华为"], &[]), &customer);
            assert_ne!(v.decision, Decision::Same, "{name}: {v:?}");
            let name_points = v
                .evidence
                .iter()
                .find(|e| e.field == "name")
                .unwrap()
                .contribution;
            assert!(name_points < 3.0, "{name}: {v:?}");
        }
        let smith = parsed(&["John Smith"], &["Acme"], &[]);
        let typo = verdict(&parsed(&["Smith Jonh"], &["ACME Inc."], &[]), &smith);
        assert_eq!(typo.decision, Decision::Same, "{typo:?}");
    }

    #[test]
    fn a_common_name_alone_or_at_another_company_is_different() {
        let customer = parsed(&["王伟"], &["华为"], &[]);
        assert_eq!(
            verdict(&parsed(&["王伟"], &[], &[]), &customer).decision,
            Decision::Different
        );
        assert_eq!(
            verdict(&parsed(&["王伟"], &["腾讯"], &[]), &customer).decision,
            Decision::Different
        );
        assert_eq!(
            verdict(&parsed(&["李娜"], &["华为"], &[]), &customer).decision,
            Decision::Different
        );
    }

    #[test]
    fn contributions_add_up_to_the_score_and_name_each_field() {
        let v = verdict(
            &parsed(&["Wang Wei"], &["Huawei"], &["13800138000"]),
            &parsed(&["王伟"], &["华为"], &["13800138000"]),
        );
        let log_odds: f64 = v.evidence.iter().map(|e| e.contribution).sum();
        assert!((1.0 / (1.0 + (-log_odds).exp()) - v.score).abs() < 1e-12);
        let fields: Vec<&str> = v.evidence.iter().map(|e| e.field).collect();
        assert_eq!(fields, ["prior", "phone", "name", "company"]);
        let reasons = v.reasons();
        assert!(reasons[0].starts_with("same customer cus_1"), "{reasons:?}");
        assert!(reasons[1].starts_with("phone: phone equal"), "{reasons:?}");
    }

    #[test]
    fn thresholds_are_checked_and_applied() {
        let t = MatchThresholds::new(0.8, 0.4).unwrap();
        assert_eq!(t.decide(0.85), Decision::Same);
        assert_eq!(t.decide(0.5), Decision::Possible);
        assert_eq!(t.decide(0.1), Decision::Different);
        assert_eq!(
            MatchThresholds::new(1.2, 0.4),
            Err(ThresholdError::OutOfRange("same"))
        );
        assert_eq!(
            MatchThresholds::new(0.5, 0.6),
            Err(ThresholdError::Order {
                possible: 0.6,
                same: 0.5
            })
        );
        assert!(MatchThresholds::new(f64::NAN, 0.5).is_err());
    }

    fn identified(name: &str, birth_date: &str, national_id: &str, address: &str) -> ParsedProfile {
        let nonempty = |v: &str| {
            if v.is_empty() {
                Vec::new()
            } else {
                vec![v.to_owned()]
            }
        };
        ParsedProfile::from(&MatchProfile {
            names: vec![name.to_owned()],
            birth_dates: nonempty(birth_date),
            national_ids: nonempty(national_id),
            addresses: nonempty(address),
            ..MatchProfile::default()
        })
    }

    fn points(v: &MatchVerdict, field: &str) -> f64 {
        v.evidence
            .iter()
            .find(|e| e.field == field)
            .unwrap_or_else(|| panic!("no {field} in {v:?}"))
            .contribution
    }

    #[test]
    fn mailboxes_told_apart_by_their_numbers_are_different() {
        let sim = |a: &str, b: &str| email_similarity(&a.to_owned(), &b.to_owned());
        assert_eq!(
            sim("xu.190@bench.example.cn", "xu.1790@bench.example.cn"),
            0.0
        );
        assert_eq!(sim("wang88@qq.com", "wang66@qq.com"), 0.0);
        assert!(sim("wang.wei@huawei.com", "wangwei@huawei.com") > 0.8);
        assert!(sim("wangwei@qq.com", "wangwei@163.com") > 0.8);
        assert_eq!(EMAIL.points(0.0), EMAIL.disagree);
    }

    #[test]
    fn a_typo_in_a_long_code_or_swapped_day_and_month_still_mostly_agree() {
        assert_eq!(code_similarity("4440480", "4440480"), 1.0);
        assert_eq!(code_similarity("4440480", "4440408"), 0.85);
        assert_eq!(code_similarity("2600", "2601"), 0.7);
        assert_eq!(code_similarity("4440480", "5337955"), 0.0);
        assert_eq!(date_similarity("19800102", "19800201"), 0.85);
        assert_eq!(date_similarity("19800102", "19800103"), 0.85);
        assert_eq!(date_similarity("19800102", "19751221"), 0.0);
        let customer = identified("Holly Rieman", "19751221", "5260793", "");
        let v = verdict(
            &identified("Holly Rieman", "19752112", "5260739", ""),
            &customer,
        );
        assert!(points(&v, "birth_date") > 2.0, "{v:?}");
        assert!(points(&v, "national_id") > 4.0, "{v:?}");
        assert_eq!(v.decision, Decision::Same, "{v:?}");
    }

    #[test]
    fn latin_names_sharing_a_word_are_not_held_against_the_rest_of_the_evidence() {
        let customer = identified("Daniel Crook", "19971114", "5337955", "7 liffey circuit");
        // Surname changed, everything else agrees: the same person.
        let v = verdict(
            &identified("Daniel Dinh", "19971114", "5337955", "7 liffey circuit"),
            &customer,
        );
        assert_eq!(points(&v, "name"), LATIN_NAME_SHARING_A_WORD, "{v:?}");
        assert_eq!(v.decision, Decision::Same, "{v:?}");
        // A relative at the same address, born another day: not the same.
        let v = verdict(
            &identified("Sarah Crook", "19990302", "", "7 liffey circuit"),
            &customer,
        );
        assert_eq!(v.decision, Decision::Different, "{v:?}");
        // Names with no word in common still count fully against.
        let v = verdict(&identified("Talyah Hewson", "", "5337955", ""), &customer);
        assert_eq!(points(&v, "name"), NAME.disagree, "{v:?}");
        // Hanzi names sharing only the surname character keep their own (low) similarity.
        let v = verdict(
            &identified("王芳", "", "", ""),
            &identified("王伟", "", "", ""),
        );
        assert_eq!(points(&v, "name"), NAME.disagree, "{v:?}");
    }

    #[test]
    fn every_value_a_customer_is_known_by_is_compared() {
        let mut known = MatchProfile {
            names: vec!["Zali White".into()],
            national_ids: vec!["1915716".into()],
            ..MatchProfile::default()
        };
        known.absorb(&MatchProfile {
            national_ids: vec!["9848730".into()],
            ..MatchProfile::default()
        });
        let v = verdict(
            &identified("Zali White", "", "9848730", ""),
            &ParsedProfile::from(&known),
        );
        assert_eq!(points(&v, "national_id"), NATIONAL_ID.agree, "{v:?}");
    }

    #[test]
    fn candidates_come_best_first_with_ties_by_id() {
        let lead = parsed(&["王伟"], &["华为"], &[]);
        let candidates = vec![
            ("cus_b".to_owned(), parsed(&["王伟"], &["华为"], &[])),
            ("cus_c".to_owned(), parsed(&["李娜"], &["华为"], &[])),
            ("cus_a".to_owned(), parsed(&["王伟"], &["华为"], &[])),
        ];
        let ids: Vec<String> = decide(&lead, &candidates, &MatchThresholds::default())
            .into_iter()
            .map(|v| v.customer_id)
            .collect();
        assert_eq!(ids, ["cus_a", "cus_b", "cus_c"]);
    }
}
