//! The lead score: points per factor, each with a detail saying why, so a rep sees what
//! made a lead an A and what is missing from a C. The rules themselves live in
//! [`super::score_rules`]; [`score_lead`] applies the built-in version 1.

use shangji_contracts::common::Lead;

use super::score_rules::ScoringRules;

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
    pub factor: String,
    pub points: f64,
    pub detail: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct LeadScore {
    /// 0..=100
    pub score: f64,
    pub grade: Grade,
    /// The factors that contributed, in rule order; they add up to the score (before
    /// it is clamped to 0..100).
    pub factors: Vec<ScoreFactor>,
    /// The rules the lead did not meet, with the points each would have added.
    pub missed: Vec<ScoreFactor>,
}

/// The built-in rules (version 1) applied to the lead.
pub fn score_lead(lead: &Lead, thresholds: &GradeThresholds) -> LeadScore {
    // The built-in rules have no "within N days" condition, so no arrival time matters.
    ScoringRules::builtin(*thresholds).score(lead, 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decision_maker_word(title: &str) -> Option<String> {
        crate::domain::score_rules::decision_maker_word(title, &[])
    }

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
        let source = score.factors.iter().find(|f| f.factor == "source").unwrap();
        assert_eq!(source.detail, "source 客户转介绍 mentions 转介绍");
        assert_eq!(points(&score, "phone"), Some(10.0));
    }

    #[test]
    fn an_empty_lead_scores_zero_and_grades_d() {
        let score = score_lead(&Lead::default(), &GradeThresholds::default());
        assert_eq!(score.score, 0.0);
        assert_eq!(score.grade, Grade::D);
        assert!(score.factors.is_empty());
        assert_eq!(score.missed.len(), 8, "every rule shows what it would add");
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
