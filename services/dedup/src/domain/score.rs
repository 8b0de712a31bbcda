//! The rule-based lead score: points per factor, each with a detail saying why, so a
//! rep sees what made a lead an A and what is missing from a C.

use shangji_contracts::common::Lead;

use super::normalize::{clean_text, email_key, phone_key};

pub const BUDGET_POINTS: f64 = 20.0;
pub const NEED_POINTS: f64 = 20.0;
pub const TIMELINE_POINTS: f64 = 10.0;
pub const DECISION_MAKER_POINTS: f64 = 15.0;
pub const PHONE_POINTS: f64 = 10.0;
pub const EMAIL_POINTS: f64 = 10.0;
pub const COMPANY_POINTS: f64 = 10.0;
pub const REFERRAL_POINTS: f64 = 5.0;

/// Titles of people who decide or sign. CJK words match anywhere in the title ("销售总监");
/// Latin words must be whole words, so "cto" does not match "factory".
const DECISION_MAKER_CJK: [&str; 6] = ["总经理", "总监", "董事", "负责人", "经理", "总"];
const DECISION_MAKER_WORDS: [&str; 9] = [
    "ceo", "cto", "cfo", "director", "manager", "head", "vp", "owner", "founder",
];
const REFERRAL_WORDS: [&str; 3] = ["referral", "referred", "转介绍"];

/// Quoted values in details are cut to this many characters to keep events small.
const DETAIL_VALUE_CHARS: usize = 40;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Grade {
    A,
    B,
    C,
    D,
}

impl Grade {
    pub fn as_str(self) -> &'static str {
        match self {
            Grade::A => "A",
            Grade::B => "B",
            Grade::C => "C",
            Grade::D => "D",
        }
    }
}

/// Lowest score of each grade; below `c` is D. Checked by the configuration.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GradeThresholds {
    pub a: f64,
    pub b: f64,
    pub c: f64,
}

impl GradeThresholds {
    pub fn grade(&self, score: f64) -> Grade {
        if score >= self.a {
            Grade::A
        } else if score >= self.b {
            Grade::B
        } else if score >= self.c {
            Grade::C
        } else {
            Grade::D
        }
    }
}

impl Default for GradeThresholds {
    fn default() -> Self {
        GradeThresholds {
            a: 70.0,
            b: 50.0,
            c: 30.0,
        }
    }
}

/// One contribution to the score.
#[derive(Clone, Debug, PartialEq)]
pub struct ScoreFactor {
    pub factor: &'static str,
    pub points: f64,
    pub detail: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct LeadScore {
    /// 0..=100
    pub score: f64,
    pub grade: Grade,
    /// The factors that contributed, in a fixed order; they add up to the score.
    pub factors: Vec<ScoreFactor>,
}

pub fn score_lead(lead: &Lead, thresholds: &GradeThresholds) -> LeadScore {
    let mut factors = Vec::new();
    let mut stated = |factor: &'static str, points: f64, label: &str, raw: &str| {
        let value = clean_text(raw);
        if !value.is_empty() {
            factors.push(ScoreFactor {
                factor,
                points,
                detail: format!("{label} stated: {}", shorten(&value)),
            });
        }
    };
    stated("budget", BUDGET_POINTS, "budget", &lead.budget);
    stated("need", NEED_POINTS, "need", &lead.need);
    stated("timeline", TIMELINE_POINTS, "timeline", &lead.timeline);
    stated("company", COMPANY_POINTS, "company", &lead.company);

    let title = clean_text(&lead.title);
    if let Some(word) = decision_maker_word(&title) {
        factors.push(ScoreFactor {
            factor: "decision_maker",
            points: DECISION_MAKER_POINTS,
            detail: format!("title {} marks a decision maker ({word})", shorten(&title)),
        });
    }
    if let Some(phone) = phone_key(&lead.phone) {
        factors.push(ScoreFactor {
            factor: "phone",
            points: PHONE_POINTS,
            detail: format!("valid phone {phone}"),
        });
    }
    if let Some(email) = email_key(&lead.email) {
        factors.push(ScoreFactor {
            factor: "email",
            points: EMAIL_POINTS,
            detail: format!("valid e-mail {}", shorten(&email)),
        });
    }
    let source = clean_text(&lead.source);
    let source_lower = source.to_lowercase();
    if REFERRAL_WORDS.iter().any(|w| source_lower.contains(w)) {
        factors.push(ScoreFactor {
            factor: "source",
            points: REFERRAL_POINTS,
            detail: format!("referral source: {}", shorten(&source)),
        });
    }

    let score = factors
        .iter()
        .map(|f| f.points)
        .sum::<f64>()
        .clamp(0.0, 100.0);
    LeadScore {
        score,
        grade: thresholds.grade(score),
        factors,
    }
}

/// The keyword that makes `title` a decision maker's, if any.
fn decision_maker_word(title: &str) -> Option<&'static str> {
    let lower = title.to_lowercase();
    if let Some(word) = DECISION_MAKER_CJK.iter().find(|w| lower.contains(*w)) {
        return Some(word);
    }
    lower
        .split(|c: char| !c.is_ascii_alphanumeric())
        .find_map(|token| DECISION_MAKER_WORDS.iter().find(|w| **w == token).copied())
}

fn shorten(value: &str) -> String {
    let mut chars = value.chars();
    let head: String = chars.by_ref().take(DETAIL_VALUE_CHARS).collect();
    if chars.next().is_some() {
        format!("{head}…")
    } else {
        head
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full_lead() -> Lead {
        Lead {
            contact_name: "王伟".into(),
            phone: "+86 138-0013-8000".into(),
            email: "wang@example.com".into(),
            company: "华为技术有限公司".into(),
            title: "采购总监".into(),
            source: "客户转介绍".into(),
            need: "CRM for 200 reps".into(),
            budget: "50万".into(),
            timeline: "Q3".into(),
            ..Lead::default()
        }
    }

    fn points(score: &LeadScore, factor: &str) -> Option<f64> {
        score
            .factors
            .iter()
            .find(|f| f.factor == factor)
            .map(|f| f.points)
    }

    #[test]
    fn a_complete_referred_lead_from_a_decision_maker_scores_100_and_grades_a() {
        let score = score_lead(&full_lead(), &GradeThresholds::default());
        assert_eq!(score.score, 100.0);
        assert_eq!(score.grade, Grade::A);
        assert_eq!(score.factors.len(), 8);
        let sum: f64 = score.factors.iter().map(|f| f.points).sum();
        assert_eq!(sum, score.score);
        let title = score
            .factors
            .iter()
            .find(|f| f.factor == "decision_maker")
            .unwrap();
        assert_eq!(title.detail, "title 采购总监 marks a decision maker (总监)");
        assert_eq!(points(&score, "phone"), Some(10.0));
    }

    #[test]
    fn an_empty_lead_scores_zero_and_grades_d() {
        let score = score_lead(&Lead::default(), &GradeThresholds::default());
        assert_eq!(score.score, 0.0);
        assert_eq!(score.grade, Grade::D);
        assert!(score.factors.is_empty());
    }

    #[test]
    fn blank_or_invalid_details_earn_nothing() {
        let lead = Lead {
            budget: " \u{3000}".into(),
            phone: "123".into(),
            email: "not an address".into(),
            source: "web".into(),
            title: "factory worker".into(),
            ..Lead::default()
        };
        let score = score_lead(&lead, &GradeThresholds::default());
        assert_eq!(score.score, 0.0, "{:?}", score.factors);
    }

    #[test]
    fn decision_makers_are_recognised_in_both_languages_case_insensitively() {
        for title in [
            "总经理",
            "销售经理",
            "董事长",
            "项目负责人",
            "王总",
            "CEO",
            "Head of Sales",
            "VP Engineering",
            "Co-Founder",
            "general MANAGER",
            "Managing Director",
            "Owner",
            "cfo",
        ] {
            assert!(decision_maker_word(title).is_some(), "{title}");
        }
        for title in [
            "工程师",
            "sales rep",
            "factory worker",
            "headquarters admin",
            "vpn admin",
            "",
        ] {
            assert_eq!(decision_maker_word(title), None, "{title}");
        }
    }

    #[test]
    fn grades_follow_the_thresholds() {
        let t = GradeThresholds::default();
        assert_eq!(t.grade(70.0), Grade::A);
        assert_eq!(t.grade(69.9), Grade::B);
        assert_eq!(t.grade(50.0), Grade::B);
        assert_eq!(t.grade(30.0), Grade::C);
        assert_eq!(t.grade(29.0), Grade::D);
        let strict = GradeThresholds {
            a: 95.0,
            b: 80.0,
            c: 60.0,
        };
        let lead = Lead {
            budget: "1".into(),
            need: "x".into(),
            timeline: "soon".into(),
            company: "c".into(),
            ..Lead::default()
        };
        let score = score_lead(&lead, &strict);
        assert_eq!(score.score, 60.0);
        assert_eq!(score.grade, Grade::C);
    }

    #[test]
    fn long_values_are_shortened_in_details() {
        let lead = Lead {
            budget: "9".repeat(500),
            ..Lead::default()
        };
        let detail = &score_lead(&lead, &GradeThresholds::default()).factors[0].detail;
        assert!(detail.chars().count() < 70, "{detail}");
        assert!(detail.ends_with('…'));
    }
}
