//! Scoring rules as the gRPC API and the store carry them (`shangji.dedup.v1.ScoringRules`),
//! checked into [`ScoringRules`] with a message per bad field, and back.

use std::collections::BTreeSet;

use shangji_contracts::dedup as pb;

use super::score::GradeThresholds;
use super::score_rules::{
    Condition, DEFAULT_LEARNED_MIN_OUTCOMES, LeadField, MAX_RULES, Rule, ScoringRules,
};

/// Longest factor name and word accepted.
const MAX_NAME_CHARS: usize = 64;
/// Most words a FIELD_CONTAINS_ANY or DECISION_MAKER rule may list.
const MAX_WORDS: usize = 100;
/// "Within N days" beyond ten years means nothing for a sales timeline.
const MAX_WITHIN_DAYS: u32 = 3650;
/// Beyond this the learned model would never score; a tenant wanting that keeps the rules.
const MAX_LEARNED_MIN_OUTCOMES: u32 = 1_000_000;

/// A bad field: its path in the request (`rules.rules[2].field`) and what is wrong.
pub type Violation = (String, String);

/// The rules in `message`, under `version`, once every field makes sense. `prefix` is
/// the message's path in the request, for the violations.
pub fn parse(
    message: &pb::ScoringRules,
    version: u32,
    prefix: &str,
) -> Result<ScoringRules, Vec<Violation>> {
    let mut violations = Vec::new();
    let mut bad = |field: String, description: String| violations.push((field, description));
    if message.rules.len() > MAX_RULES {
        bad(
            format!("{prefix}.rules"),
            format!(
                "has {} rules; at most {MAX_RULES} are allowed",
                message.rules.len()
            ),
        );
    }
    let mut names = BTreeSet::new();
    let mut rules = Vec::with_capacity(message.rules.len());
    for (i, rule) in message.rules.iter().enumerate() {
        let at = format!("{prefix}.rules[{i}]");
        let factor = rule.factor.trim();
        if factor.is_empty() || factor.chars().count() > MAX_NAME_CHARS {
            bad(
                format!("{at}.factor"),
                format!("must be 1 to {MAX_NAME_CHARS} characters: the name shown in explanations"),
            );
        } else if !names.insert(factor.to_owned()) {
            bad(
                format!("{at}.factor"),
                format!("`{factor}` names two rules; names must be unique"),
            );
        }
        if !rule.points.is_finite() || !(-100.0..=100.0).contains(&rule.points) {
            bad(
                format!("{at}.points"),
                format!("{} must be from -100 to 100", rule.points),
            );
        }
        match condition(rule, &at) {
            Ok(condition) => rules.push(Rule {
                factor: factor.to_owned(),
                condition,
                points: rule.points,
            }),
            Err(found) => violations_extend(&mut bad, found),
        }
    }
    let grades = GradeThresholds {
        a: message.grade_a_min,
        b: message.grade_b_min,
        c: message.grade_c_min,
    };
    for (name, value) in [
        ("grade_a_min", grades.a),
        ("grade_b_min", grades.b),
        ("grade_c_min", grades.c),
    ] {
        if !value.is_finite() || !(0.0..=100.0).contains(&value) {
            bad(
                format!("{prefix}.{name}"),
                format!("{value} must be a score from 0 to 100"),
            );
        }
    }
    if grades.b > grades.a {
        bad(
            format!("{prefix}.grade_b_min"),
            "must not exceed grade_a_min".to_owned(),
        );
    }
    if grades.c > grades.b {
        bad(
            format!("{prefix}.grade_c_min"),
            "must not exceed grade_b_min".to_owned(),
        );
    }
    if message.learned_min_outcomes > MAX_LEARNED_MIN_OUTCOMES {
        bad(
            format!("{prefix}.learned_min_outcomes"),
            format!("must be at most {MAX_LEARNED_MIN_OUTCOMES} (0 means the default)"),
        );
    }
    if !violations.is_empty() {
        return Err(violations);
    }
    Ok(ScoringRules {
        version,
        rules,
        grades,
        learned_min_outcomes: match message.learned_min_outcomes {
            0 => DEFAULT_LEARNED_MIN_OUTCOMES,
            n => n,
        },
    })
}

fn violations_extend(bad: &mut impl FnMut(String, String), found: Vec<Violation>) {
    for (field, description) in found {
        bad(field, description);
    }
}

fn condition(rule: &pb::ScoringRule, at: &str) -> Result<Condition, Vec<Violation>> {
    use pb::ScoringCondition as C;
    let field = |name: &str, path: String| {
        LeadField::parse(name).ok_or_else(|| {
            vec![(
                path,
                format!(
                    "`{name}` is not a lead field: use one of {} or custom.<key>",
                    LeadField::NAMES.join(", ")
                ),
            )]
        })
    };
    let words = |required: bool| -> Result<Vec<String>, Vec<Violation>> {
        let words: Vec<String> = rule
            .words
            .iter()
            .map(|w| w.trim().to_lowercase())
            .filter(|w| !w.is_empty())
            .collect();
        if required && words.is_empty() {
            return Err(vec![(
                format!("{at}.words"),
                "must list at least one word".to_owned(),
            )]);
        }
        if words.len() > MAX_WORDS || words.iter().any(|w| w.chars().count() > MAX_NAME_CHARS) {
            return Err(vec![(
                format!("{at}.words"),
                format!("at most {MAX_WORDS} words of at most {MAX_NAME_CHARS} characters"),
            )]);
        }
        Ok(words)
    };
    match C::try_from(rule.condition) {
        Ok(C::FieldStated) => Ok(Condition::Stated(field(
            &rule.field,
            format!("{at}.field"),
        )?)),
        Ok(C::FieldContainsAny) => Ok(Condition::ContainsAny {
            field: field(&rule.field, format!("{at}.field"))?,
            words: words(true)?,
        }),
        Ok(C::DecisionMaker) => Ok(Condition::DecisionMaker {
            words: words(false)?,
        }),
        Ok(C::ValidPhone) => Ok(Condition::ValidPhone),
        Ok(C::ValidEmail) => Ok(Condition::ValidEmail),
        Ok(C::TimelineWithinDays) => {
            if (1..=MAX_WITHIN_DAYS).contains(&rule.within_days) {
                Ok(Condition::TimelineWithin {
                    days: rule.within_days,
                })
            } else {
                Err(vec![(
                    format!("{at}.within_days"),
                    format!("{} must be from 1 to {MAX_WITHIN_DAYS}", rule.within_days),
                )])
            }
        }
        Ok(C::Completeness) => {
            if rule.fields.is_empty() {
                return Err(vec![(
                    format!("{at}.fields"),
                    "must list the fields to count".to_owned(),
                )]);
            }
            let mut fields = Vec::with_capacity(rule.fields.len());
            let mut violations = Vec::new();
            for (j, name) in rule.fields.iter().enumerate() {
                match field(name, format!("{at}.fields[{j}]")) {
                    Ok(f) => fields.push(f),
                    Err(found) => violations.extend(found),
                }
            }
            if violations.is_empty() {
                Ok(Condition::Completeness { fields })
            } else {
                Err(violations)
            }
        }
        Ok(C::Unspecified) | Err(_) => Err(vec![(
            format!("{at}.condition"),
            "must be one of the SCORING_CONDITION_… values".to_owned(),
        )]),
    }
}

/// The rules as a message (without created_by / created_at, which the caller knows).
pub fn message(rules: &ScoringRules) -> pb::ScoringRules {
    pb::ScoringRules {
        version: rules.version,
        rules: rules.rules.iter().map(rule_message).collect(),
        grade_a_min: rules.grades.a,
        grade_b_min: rules.grades.b,
        grade_c_min: rules.grades.c,
        created_by: String::new(),
        created_at: None,
        learned_min_outcomes: rules.learned_min_outcomes,
    }
}

fn rule_message(rule: &Rule) -> pb::ScoringRule {
    use pb::ScoringCondition as C;
    let mut message = pb::ScoringRule {
        factor: rule.factor.clone(),
        points: rule.points,
        ..pb::ScoringRule::default()
    };
    let condition = match &rule.condition {
        Condition::Stated(field) => {
            message.field = field.name();
            C::FieldStated
        }
        Condition::ContainsAny { field, words } => {
            message.field = field.name();
            message.words = words.clone();
            C::FieldContainsAny
        }
        Condition::DecisionMaker { words } => {
            message.words = words.clone();
            C::DecisionMaker
        }
        Condition::ValidPhone => C::ValidPhone,
        Condition::ValidEmail => C::ValidEmail,
        Condition::TimelineWithin { days } => {
            message.within_days = *days;
            C::TimelineWithinDays
        }
        Condition::Completeness { fields } => {
            message.fields = fields.iter().map(LeadField::name).collect();
            C::Completeness
        }
    };
    message.condition = condition as i32;
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_rules_survive_a_round_trip() {
        let builtin = ScoringRules::builtin(GradeThresholds::default());
        let back = parse(&message(&builtin), 1, "rules").unwrap();
        assert_eq!(back, builtin);
    }

    #[test]
    fn every_bad_field_is_named_with_its_path() {
        use pb::ScoringCondition as C;
        let rule = |factor: &str, condition: C| pb::ScoringRule {
            factor: factor.into(),
            condition: condition as i32,
            points: 10.0,
            ..pb::ScoringRule::default()
        };
        let message = pb::ScoringRules {
            rules: vec![
                pb::ScoringRule {
                    field: "salary".into(),
                    ..rule("budget", C::FieldStated)
                },
                pb::ScoringRule {
                    points: f64::NAN,
                    ..rule("budget", C::ValidPhone)
                },
                rule("soon", C::TimelineWithinDays),
                rule("source", C::FieldContainsAny),
                pb::ScoringRule {
                    fields: vec!["phone".into(), "x".into()],
                    ..rule("complete", C::Completeness)
                },
                rule("", C::Unspecified),
            ],
            grade_a_min: 50.0,
            grade_b_min: 60.0,
            grade_c_min: 10.0,
            ..pb::ScoringRules::default()
        };
        let violations = parse(&message, 2, "rules").unwrap_err();
        let fields: Vec<&str> = violations.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(
            fields,
            [
                "rules.rules[0].field",
                "rules.rules[1].factor",
                "rules.rules[1].points",
                "rules.rules[2].within_days",
                "rules.rules[3].field",
                "rules.rules[4].fields[1]",
                "rules.rules[5].factor",
                "rules.rules[5].condition",
                "rules.grade_b_min",
            ]
        );
        assert!(
            violations[0].1.contains("not a lead field"),
            "{violations:?}"
        );
    }
}
