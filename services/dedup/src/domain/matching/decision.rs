//! The combined score of a lead against one known customer, and the decision it leads
//! to: same (attach automatically), possible (a person should look) or different.
//!
//! Each field that both sides have adds log-odds points (Fellegi-Sunter style): a
//! field that agrees adds its `agree` weight, one that disagrees its (negative)
//! `disagree` weight, and similarities in between are interpolated. The score is the
//! logistic of the prior plus those points, so the contributions listed in the evidence
//! add up to the log-odds of the score and every decision explains itself.

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
const BIRTH_DATE: Weight = Weight {
    agree: 5.0,
    disagree: -4.0,
    low: 0.5,
    high: 0.99,
};
const NATIONAL_ID: Weight = Weight {
    agree: 7.0,
    disagree: -3.0,
    low: 0.5,
    high: 0.99,
};
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
    let mut add = |field: &'static str, weight: Weight, similarity: f64, detail: String| {
        evidence.push(FieldEvidence {
            field,
            similarity,
            contribution: weight.points(similarity),
            detail,
        });
    };
    if !lead.emails.is_empty() && !customer.emails.is_empty() {
        let s = best(&lead.emails, &customer.emails, email_similarity);
        add("email", EMAIL, s, described(s, "e-mail"));
    }
    if !lead.phones.is_empty() && !customer.phones.is_empty() {
        let s = best(&lead.phones, &customer.phones, phone_similarity);
        add("phone", PHONE, s, described(s, "phone"));
    }
    if !lead.names.is_empty() && !customer.names.is_empty() {
        let (s, surname_only, detail) = compare_names(&lead.names, &customer.names);
        if surname_only {
            add("surname", SURNAME, s, detail);
        } else {
            add("name", NAME, s, detail);
        }
    }
    if !lead.companies.is_empty() && !customer.companies.is_empty() {
        let (s, detail) = compare_companies(&lead.companies, &customer.companies);
        add("company", COMPANY, s, detail);
    }
    let optional = [
        (
            "birth_date",
            BIRTH_DATE,
            &lead.birth_date,
            &customer.birth_date,
            code_similarity as fn(&str, &str) -> f64,
        ),
        (
            "national_id",
            NATIONAL_ID,
            &lead.national_id,
            &customer.national_id,
            code_similarity,
        ),
        (
            "postcode",
            POSTCODE,
            &lead.postcode,
            &customer.postcode,
            code_similarity,
        ),
        (
            "locality",
            LOCALITY,
            &lead.locality,
            &customer.locality,
            jaro_winkler,
        ),
        (
            "address",
            ADDRESS,
            &lead.address,
            &customer.address,
            qgram_similarity,
        ),
    ];
    for (field, weight, a, b, similarity) in optional {
        if let (Some(a), Some(b)) = (a, b) {
            let s = similarity(a, b);
            add(field, weight, s, described(s, field));
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
pub fn decide(
    lead: &ParsedProfile,
    candidates: &[(String, ParsedProfile)],
    thresholds: &MatchThresholds,
) -> Vec<MatchVerdict> {
    let mut verdicts: Vec<MatchVerdict> = candidates
        .iter()
        .map(|(id, customer)| judge(lead, id, customer, thresholds))
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

/// Codes (dates, ids, postcodes): equal is 1, one typo or swapped pair 0.7.
fn code_similarity(a: &str, b: &str) -> f64 {
    match edits(a, b) {
        0 => 1.0,
        1 => 0.7,
        _ => 0.0,
    }
}

/// The best agreement between any of the lead's names and the customer's, whether it
/// compared full names or only a surname, and words for it.
fn compare_names(lead: &[PersonName], customer: &[PersonName]) -> (f64, bool, String) {
    let mut best_full: Option<(f64, String)> = None;
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
                if best_full.as_ref().is_none_or(|(t, _)| s > *t) {
                    best_full = Some((
                        s,
                        format!("{} vs {} {:.0}% alike", a.full, b.full, s * 100.0),
                    ));
                }
            }
        }
    }
    match (best_full, best_surname) {
        (Some((s, detail)), _) => (s, false, detail),
        (None, Some((s, detail))) => (s, true, detail),
        (None, None) => (0.0, false, "no comparable names".to_owned()),
    }
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

fn compare_companies(lead: &[CompanyName], customer: &[CompanyName]) -> (f64, String) {
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
