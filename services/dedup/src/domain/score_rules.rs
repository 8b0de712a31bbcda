//! A tenant's lead-scoring rules: points per condition on the lead's fields, and the
//! grade thresholds. Version 1 is the built-in rule set every tenant starts with; a
//! tenant that saves its own gets versions 2, 3, … and each lead records the version
//! that scored it.

use shangji_contracts::common::Lead;

use super::normalize::{clean_text, email_key, phone_key};
use super::score::{GradeThresholds, LeadScore, ScoreFactor};
use super::score_timeline::days_until;

/// The built-in rules' version.
pub const BUILTIN_VERSION: u32 = 1;
/// At most this many rules per tenant: scoring must stay cheap and explainable.
pub const MAX_RULES: usize = 50;
/// Outcomes the learned model needs before it replaces the rule score, by default.
pub const DEFAULT_LEARNED_MIN_OUTCOMES: u32 = 30;

/// Titles of people who decide or sign. CJK words match anywhere in the title ("销售总监");
/// Latin words must be whole words, so "cto" does not match "factory".
const DECISION_MAKER_WORDS: [&str; 15] = [
    "总经理",
    "总监",
    "董事",
    "负责人",
    "经理",
    "总",
    "ceo",
    "cto",
    "cfo",
    "director",
    "manager",
    "head",
    "vp",
    "owner",
    "founder",
];
const REFERRAL_WORDS: [&str; 3] = ["referral", "referred", "转介绍"];

/// Quoted values in details are cut to this many characters to keep events small.
const DETAIL_VALUE_CHARS: usize = 40;

/// A field of a lead a rule can look at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LeadField {
    ContactName,
    Phone,
    Email,
    Company,
    Title,
    Region,
    Industry,
    Source,
    Need,
    Budget,
    Timeline,
    /// `custom.<key>`: a tenant's own field.
    Custom(String),
}

impl LeadField {
    pub const NAMES: [&'static str; 11] = [
        "contact_name",
        "phone",
        "email",
        "company",
        "title",
        "region",
        "industry",
        "source",
        "need",
        "budget",
        "timeline",
    ];

    pub fn parse(name: &str) -> Option<LeadField> {
        let field = match name.trim() {
            "contact_name" => LeadField::ContactName,
            "phone" => LeadField::Phone,
            "email" => LeadField::Email,
            "company" => LeadField::Company,
            "title" => LeadField::Title,
            "region" => LeadField::Region,
            "industry" => LeadField::Industry,
            "source" => LeadField::Source,
            "need" => LeadField::Need,
            "budget" => LeadField::Budget,
            "timeline" => LeadField::Timeline,
            other => {
                let key = other.strip_prefix("custom.")?;
                if key.is_empty() || key.chars().count() > 64 {
                    return None;
                }
                LeadField::Custom(key.to_owned())
            }
        };
        Some(field)
    }

    pub fn name(&self) -> String {
        match self {
            LeadField::Custom(key) => format!("custom.{key}"),
            other => Self::NAMES[other.index()].to_owned(),
        }
    }

    fn index(&self) -> usize {
        match self {
            LeadField::ContactName => 0,
            LeadField::Phone => 1,
            LeadField::Email => 2,
            LeadField::Company => 3,
            LeadField::Title => 4,
            LeadField::Region => 5,
            LeadField::Industry => 6,
            LeadField::Source => 7,
            LeadField::Need => 8,
            LeadField::Budget => 9,
            LeadField::Timeline => 10,
            LeadField::Custom(_) => usize::MAX,
        }
    }

    /// The lead's value, as captured.
    pub fn value<'a>(&self, lead: &'a Lead) -> &'a str {
        match self {
            LeadField::ContactName => &lead.contact_name,
            LeadField::Phone => &lead.phone,
            LeadField::Email => &lead.email,
            LeadField::Company => &lead.company,
            LeadField::Title => &lead.title,
            LeadField::Region => &lead.region,
            LeadField::Industry => &lead.industry,
            LeadField::Source => &lead.source,
            LeadField::Need => &lead.need,
            LeadField::Budget => &lead.budget,
            LeadField::Timeline => &lead.timeline,
            LeadField::Custom(key) => lead.custom_fields.get(key).map_or("", String::as_str),
        }
    }
}

/// What a rule asks of the lead.
#[derive(Clone, Debug, PartialEq)]
pub enum Condition {
    /// The field is filled in.
    Stated(LeadField),
    /// The field contains one of the words (case-insensitive).
    ContainsAny {
        field: LeadField,
        words: Vec<String>,
    },
    /// The title names a decision maker; empty words mean the built-in list.
    DecisionMaker {
        words: Vec<String>,
    },
    ValidPhone,
    ValidEmail,
    /// The timeline ends within this many days of the lead's arrival.
    TimelineWithin {
        days: u32,
    },
    /// Points in proportion to the share of these fields that are filled in.
    Completeness {
        fields: Vec<LeadField>,
    },
}

#[derive(Clone, Debug, PartialEq)]
pub struct Rule {
    /// The factor's name in explanations; unique within a rule set.
    pub factor: String,
    pub condition: Condition,
    pub points: f64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ScoringRules {
    pub version: u32,
    pub rules: Vec<Rule>,
    pub grades: GradeThresholds,
    /// Won or lost outcomes needed before the learned model scores instead.
    pub learned_min_outcomes: u32,
}

impl ScoringRules {
    /// Version 1: budget 20, need 20, timeline 10, company 10, decision maker 15, valid
    /// phone 10, valid e-mail 10, referral source 5, graded with the service's settings.
    pub fn builtin(grades: GradeThresholds) -> ScoringRules {
        let rule = |factor: &str, condition, points| Rule {
            factor: factor.to_owned(),
            condition,
            points,
        };
        ScoringRules {
            version: BUILTIN_VERSION,
            rules: vec![
                rule("budget", Condition::Stated(LeadField::Budget), 20.0),
                rule("need", Condition::Stated(LeadField::Need), 20.0),
                rule("timeline", Condition::Stated(LeadField::Timeline), 10.0),
                rule("company", Condition::Stated(LeadField::Company), 10.0),
                rule(
                    "decision_maker",
                    Condition::DecisionMaker { words: Vec::new() },
                    15.0,
                ),
                rule("phone", Condition::ValidPhone, 10.0),
                rule("email", Condition::ValidEmail, 10.0),
                rule(
                    "source",
                    Condition::ContainsAny {
                        field: LeadField::Source,
                        words: REFERRAL_WORDS.iter().map(|w| (*w).to_owned()).collect(),
                    },
                    5.0,
                ),
            ],
            grades,
            learned_min_outcomes: DEFAULT_LEARNED_MIN_OUTCOMES,
        }
    }

    /// Scores the lead; `received_at_millis` anchors "within N days".
    pub fn score(&self, lead: &Lead, received_at_millis: i64) -> LeadScore {
        let mut factors = Vec::new();
        let mut missed = Vec::new();
        for rule in &self.rules {
            let outcome = rule.condition.assess(lead, received_at_millis);
            let factor = ScoreFactor {
                factor: rule.factor.clone(),
                points: rule.points * outcome.share,
                detail: outcome.detail,
            };
            if outcome.share > 0.0 {
                factors.push(factor);
            } else {
                missed.push(ScoreFactor {
                    points: rule.points,
                    ..factor
                });
            }
        }
        let score = factors
            .iter()
            .map(|f| f.points)
            .sum::<f64>()
            .clamp(0.0, 100.0);
        LeadScore {
            score,
            grade: self.grades.grade(score),
            factors,
            missed,
        }
    }
}

/// How far a condition is met (0..=1) and why, in words.
struct Assessment {
    share: f64,
    detail: String,
}

impl Assessment {
    fn met(detail: String) -> Assessment {
        Assessment { share: 1.0, detail }
    }
    fn unmet(detail: String) -> Assessment {
        Assessment { share: 0.0, detail }
    }
}

impl Condition {
    fn assess(&self, lead: &Lead, received_at_millis: i64) -> Assessment {
        match self {
            Condition::Stated(field) => {
                let value = clean_text(field.value(lead));
                if value.is_empty() {
                    Assessment::unmet(format!("no {} stated", field.name()))
                } else {
                    Assessment::met(format!("{} stated: {}", field.name(), shorten(&value)))
                }
            }
            Condition::ContainsAny { field, words } => {
                let value = clean_text(field.value(lead));
                let lower = value.to_lowercase();
                match words.iter().find(|w| lower.contains(&w.to_lowercase())) {
                    Some(word) => Assessment::met(format!(
                        "{} {} mentions {word}",
                        field.name(),
                        shorten(&value)
                    )),
                    None => Assessment::unmet(format!(
                        "{} mentions none of {}",
                        field.name(),
                        words.join(", ")
                    )),
                }
            }
            Condition::DecisionMaker { words } => {
                let title = clean_text(&lead.title);
                match decision_maker_word(&title, words) {
                    Some(word) => Assessment::met(format!(
                        "title {} marks a decision maker ({word})",
                        shorten(&title)
                    )),
                    None => Assessment::unmet("no decision maker's title".to_owned()),
                }
            }
            Condition::ValidPhone => match phone_key(&lead.phone) {
                Some(phone) => Assessment::met(format!("valid phone {phone}")),
                None => Assessment::unmet("no valid phone".to_owned()),
            },
            Condition::ValidEmail => match email_key(&lead.email) {
                Some(email) => Assessment::met(format!("valid e-mail {}", shorten(&email))),
                None => Assessment::unmet("no valid e-mail".to_owned()),
            },
            Condition::TimelineWithin { days } => {
                let text = clean_text(&lead.timeline);
                match days_until(&text, received_at_millis) {
                    Some(away) if away <= i64::from(*days) => Assessment::met(format!(
                        "timeline {} is within {days} days ({away} days away)",
                        shorten(&text)
                    )),
                    Some(away) => Assessment::unmet(format!(
                        "timeline {} is {away} days away, beyond {days}",
                        shorten(&text)
                    )),
                    None if text.is_empty() => Assessment::unmet("no timeline stated".to_owned()),
                    None => Assessment::unmet(format!(
                        "timeline {} names no date or period",
                        shorten(&text)
                    )),
                }
            }
            Condition::Completeness { fields } => {
                let (filled, empty): (Vec<&LeadField>, Vec<&LeadField>) = fields
                    .iter()
                    .partition(|f| !clean_text(f.value(lead)).is_empty());
                let share = filled.len() as f64 / fields.len().max(1) as f64;
                let mut detail = format!("{} of {} fields filled", filled.len(), fields.len());
                if !empty.is_empty() {
                    let names: Vec<String> = empty.iter().map(|f| f.name()).collect();
                    detail.push_str(&format!("; missing {}", names.join(", ")));
                }
                Assessment { share, detail }
            }
        }
    }
}

/// The word that makes `title` a decision maker's, if any: words with CJK match anywhere,
/// ASCII words only as whole words.
pub fn decision_maker_word(title: &str, words: &[String]) -> Option<String> {
    let lower = title.to_lowercase();
    let builtin: Vec<String>;
    let words = if words.is_empty() {
        builtin = DECISION_MAKER_WORDS
            .iter()
            .map(|w| (*w).to_owned())
            .collect();
        &builtin
    } else {
        words
    };
    let tokens: Vec<&str> = lower
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|t| !t.is_empty())
        .collect();
    // CJK words first, as the built-in rules always did ("王总" before any Latin word).
    let (latin, cjk): (Vec<&String>, Vec<&String>) = words.iter().partition(|w| w.is_ascii());
    cjk.into_iter()
        .find(|w| lower.contains(w.to_lowercase().as_str()))
        .or_else(|| {
            latin
                .into_iter()
                .find(|w| tokens.contains(&w.to_lowercase().as_str()))
        })
        .cloned()
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

    const NOW: i64 = 1_795_420_800_000;

    fn lead() -> Lead {
        Lead {
            contact_name: "王伟".into(),
            company: "华为".into(),
            title: "工程师".into(),
            industry: "制造业".into(),
            source: "展会".into(),
            timeline: "两周内".into(),
            custom_fields: [("size".to_owned(), "500人".to_owned())]
                .into_iter()
                .collect(),
            ..Lead::default()
        }
    }

    fn rules(rules: Vec<Rule>) -> ScoringRules {
        ScoringRules {
            version: 2,
            rules,
            grades: GradeThresholds::default(),
            learned_min_outcomes: DEFAULT_LEARNED_MIN_OUTCOMES,
        }
    }

    fn rule(factor: &str, condition: Condition, points: f64) -> Rule {
        Rule {
            factor: factor.into(),
            condition,
            points,
        }
    }

    #[test]
    fn a_tenants_rules_score_timeline_source_industry_and_completeness() {
        let set = rules(vec![
            rule("soon", Condition::TimelineWithin { days: 30 }, 25.0),
            rule("later", Condition::TimelineWithin { days: 7 }, 5.0),
            rule(
                "trade_show",
                Condition::ContainsAny {
                    field: LeadField::Source,
                    words: vec!["展会".into(), "expo".into()],
                },
                15.0,
            ),
            rule(
                "industry",
                Condition::ContainsAny {
                    field: LeadField::Industry,
                    words: vec!["制造".into()],
                },
                10.0,
            ),
            rule(
                "complete",
                Condition::Completeness {
                    fields: vec![
                        LeadField::Phone,
                        LeadField::Company,
                        LeadField::Budget,
                        LeadField::Custom("size".into()),
                    ],
                },
                20.0,
            ),
            rule("cold", Condition::Stated(LeadField::Need), -5.0),
        ]);
        let score = set.score(&lead(), NOW);
        let points: Vec<(&str, f64)> = score
            .factors
            .iter()
            .map(|f| (f.factor.as_str(), f.points))
            .collect();
        assert_eq!(
            points,
            [
                ("soon", 25.0),
                ("trade_show", 15.0),
                ("industry", 10.0),
                ("complete", 10.0)
            ]
        );
        assert_eq!(score.score, 60.0);
        assert_eq!(score.grade, crate::domain::Grade::B);
        assert_eq!(
            score.factors[0].detail,
            "timeline 两周内 is within 30 days (14 days away)"
        );
        assert_eq!(
            score.factors[3].detail,
            "2 of 4 fields filled; missing phone, budget"
        );
        let missed: Vec<&str> = score.missed.iter().map(|f| f.factor.as_str()).collect();
        assert_eq!(missed, ["later", "cold"]);
        assert_eq!(
            score.missed[0].points, 5.0,
            "a missed factor shows what it would add"
        );
    }

    #[test]
    fn negative_points_lower_the_score_but_never_below_zero() {
        let set = rules(vec![rule(
            "cold",
            Condition::Stated(LeadField::Company),
            -30.0,
        )]);
        let score = set.score(&lead(), NOW);
        assert_eq!(score.score, 0.0);
        assert_eq!(score.factors[0].points, -30.0);
    }

    #[test]
    fn own_decision_maker_words_replace_the_builtin_ones() {
        let words = vec!["采购".to_owned(), "buyer".to_owned()];
        assert_eq!(
            decision_maker_word("采购专员", &words).as_deref(),
            Some("采购")
        );
        assert_eq!(
            decision_maker_word("Senior Buyer", &words).as_deref(),
            Some("buyer")
        );
        assert_eq!(decision_maker_word("buyers club", &words), None);
        assert_eq!(decision_maker_word("总经理", &words), None);
        assert_eq!(
            decision_maker_word("总经理", &[]).as_deref(),
            Some("总经理")
        );
    }

    #[test]
    fn fields_parse_and_name_themselves() {
        for name in LeadField::NAMES {
            assert_eq!(LeadField::parse(name).unwrap().name(), name);
        }
        assert_eq!(
            LeadField::parse("custom.size"),
            Some(LeadField::Custom("size".into()))
        );
        assert_eq!(LeadField::parse("custom."), None);
        assert_eq!(LeadField::parse("salary"), None);
    }
}
