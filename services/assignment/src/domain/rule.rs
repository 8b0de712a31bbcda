//! Ordered assignment rules: conditions on the lead, a target (team, skill tier) and a
//! strategy. The first enabled rule whose conditions all hold decides.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::rep::{Invalid, check_id, labels, same_label};
use super::team::check_team_id;

/// How a rule picks among the eligible reps.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Strategy {
    /// The rep who has waited longest since their last lead.
    #[default]
    RoundRobin,
    /// The rep with the fewest open opportunities.
    LeastLoaded,
    /// Shares proportional to each rep's open-opportunity capacity.
    WeightedByCapacity,
    /// Straight to the target team's pool, for reps to claim.
    ToPool,
}

impl Strategy {
    pub const ALL: [Strategy; 4] = [
        Strategy::RoundRobin,
        Strategy::LeastLoaded,
        Strategy::WeightedByCapacity,
        Strategy::ToPool,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::RoundRobin => "round_robin",
            Strategy::LeastLoaded => "least_loaded",
            Strategy::WeightedByCapacity => "weighted_by_capacity",
            Strategy::ToPool => "to_pool",
        }
    }

    pub fn parse(text: &str) -> Option<Strategy> {
        Strategy::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Every non-empty condition must hold; within a list, any value may match.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Conditions {
    pub regions: Vec<String>,
    pub industries: Vec<String>,
    pub sources: Vec<String>,
    pub product_lines: Vec<String>,
    pub company_keywords: Vec<String>,
    pub custom_fields: BTreeMap<String, String>,
    pub grades: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AssignmentRule {
    pub rule_id: String,
    pub name: String,
    /// 1-based place in the tenant's order.
    pub position: u32,
    pub enabled: bool,
    pub conditions: Conditions,
    /// Candidates come from this team and its sub-teams; empty: the whole tenant.
    pub target_team: String,
    /// Only reps with this tier; empty: any.
    pub target_tier: String,
    pub strategy: Strategy,
    pub version: i64,
}

/// What the rules look at in a lead.
#[derive(Clone, Copy, Debug)]
pub struct LeadFacts<'a> {
    /// Empty when dedup could not name a customer.
    pub customer_id: &'a str,
    pub region: &'a str,
    pub industry: &'a str,
    pub source: &'a str,
    pub product_line: &'a str,
    pub company: &'a str,
    pub grade: &'a str,
    pub custom_fields: &'a BTreeMap<String, String>,
}

/// The custom field a lead names its product line in.
pub const PRODUCT_LINE_FIELD: &str = "product_line";

const MAX_KEYWORDS_CHARS: usize = 64;

impl AssignmentRule {
    /// Validates and normalises a rule as a caller sent it, reporting every problem.
    pub fn parse(draft: AssignmentRule) -> Result<AssignmentRule, Vec<Invalid>> {
        let mut problems = Vec::new();
        let rule_id = draft.rule_id.trim().to_owned();
        if let Err(reason) = check_id(&rule_id) {
            problems.push(Invalid::new("rule_id", reason));
        }
        let name = match draft.name.trim() {
            "" => rule_id.clone(),
            name => name.to_owned(),
        };
        let c = &draft.conditions;
        let mut list = |field: &str, raw: &[String]| {
            labels(&format!("conditions.{field}"), raw, &mut problems)
        };
        let regions = list("regions", &c.regions);
        let industries = list("industries", &c.industries);
        let sources = list("sources", &c.sources);
        let product_lines = list("product_lines", &c.product_lines);
        let company_keywords = list("company_keywords", &c.company_keywords);
        let grades: Vec<String> = list("grades", &c.grades)
            .into_iter()
            .map(|g| g.to_uppercase())
            .collect();
        for (i, grade) in grades.iter().enumerate() {
            if !["A", "B", "C", "D"].contains(&grade.as_str()) {
                problems.push(Invalid::new(
                    format!("conditions.grades[{i}]"),
                    format!("`{grade}` is not a grade: use A, B, C or D"),
                ));
            }
        }
        let mut custom_fields = BTreeMap::new();
        for (key, value) in &c.custom_fields {
            let (key, value) = (key.trim(), value.trim());
            if key.is_empty() || key.chars().count() > MAX_KEYWORDS_CHARS {
                problems.push(Invalid::new(
                    "conditions.custom_fields",
                    "field names must be 1 to 64 characters",
                ));
            } else if value.is_empty() {
                problems.push(Invalid::new(
                    format!("conditions.custom_fields[{key}]"),
                    "must not be empty: drop the condition to match any value",
                ));
            } else {
                custom_fields.insert(key.to_owned(), value.to_owned());
            }
        }
        let target_team = draft.target_team.trim().to_owned();
        if !target_team.is_empty()
            && let Err(reason) = check_team_id(&target_team)
        {
            problems.push(Invalid::new("target_team_id", reason));
        }
        let target_tier = draft.target_tier.trim().to_owned();
        if target_tier.chars().count() > MAX_KEYWORDS_CHARS {
            problems.push(Invalid::new(
                "target_skill_tier",
                "must be at most 64 characters",
            ));
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(AssignmentRule {
            rule_id,
            name,
            position: draft.position,
            enabled: draft.enabled,
            conditions: Conditions {
                regions,
                industries,
                sources,
                product_lines,
                company_keywords,
                custom_fields,
                grades,
            },
            target_team,
            target_tier,
            strategy: draft.strategy,
            version: draft.version,
        })
    }

    /// Ok when every condition holds; otherwise the first one that failed, in words.
    pub fn matches(&self, lead: &LeadFacts<'_>) -> Result<(), String> {
        let c = &self.conditions;
        one_of("region", &c.regions, lead.region)?;
        one_of("industry", &c.industries, lead.industry)?;
        one_of("source", &c.sources, lead.source)?;
        one_of("product line", &c.product_lines, lead.product_line)?;
        one_of("grade", &c.grades, lead.grade)?;
        if !c.company_keywords.is_empty() {
            let company = lead.company.to_lowercase();
            if !c
                .company_keywords
                .iter()
                .any(|k| company.contains(&k.to_lowercase()))
            {
                return Err(format!(
                    "company {} contains none of {}",
                    shown(lead.company),
                    c.company_keywords.join(", ")
                ));
            }
        }
        for (key, wanted) in &c.custom_fields {
            let value = lead.custom_fields.get(key).map_or("", String::as_str);
            if !same_label(value, wanted) {
                return Err(format!(
                    "custom field {key} is {} not {wanted}",
                    shown(value)
                ));
            }
        }
        Ok(())
    }

    /// The label carried by `lead.assigned` and the audit: `rule:<id>:<strategy>`.
    pub fn label(&self) -> String {
        format!("rule:{}:{}", self.rule_id, self.strategy)
    }
}

fn one_of(what: &str, allowed: &[String], value: &str) -> Result<(), String> {
    if allowed.is_empty() || allowed.iter().any(|a| same_label(a, value)) {
        Ok(())
    } else {
        Err(format!(
            "{what} {} is not one of {}",
            shown(value),
            allowed.join(", ")
        ))
    }
}

fn shown(value: &str) -> String {
    match value.trim() {
        "" => "(none)".to_owned(),
        v => v.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts<'a>(fields: &'a BTreeMap<String, String>) -> LeadFacts<'a> {
        LeadFacts {
            customer_id: "cus_1",
            region: "华东",
            industry: "制造",
            source: "web",
            product_line: "",
            company: "北京华为科技有限公司",
            grade: "A",
            custom_fields: fields,
        }
    }

    fn rule(conditions: Conditions) -> AssignmentRule {
        AssignmentRule::parse(AssignmentRule {
            rule_id: "r1".into(),
            enabled: true,
            conditions,
            ..AssignmentRule::default()
        })
        .unwrap()
    }

    #[test]
    fn every_condition_must_hold_and_any_listed_value_matches() {
        let fields = BTreeMap::from([("channel".to_owned(), "Expo".to_owned())]);
        let lead = facts(&fields);
        let matching = rule(Conditions {
            regions: vec!["华北".into(), " 华东 ".into()],
            industries: vec!["制造".into()],
            grades: vec!["a".into()],
            company_keywords: vec!["华为".into()],
            custom_fields: BTreeMap::from([("channel".to_owned(), "expo".to_owned())]),
            ..Conditions::default()
        });
        assert_eq!(matching.matches(&lead), Ok(()));
        assert!(
            rule(Conditions::default()).matches(&lead).is_ok(),
            "no condition matches all"
        );
        let wrong_grade = rule(Conditions {
            grades: vec!["B".into(), "C".into()],
            ..Conditions::default()
        });
        assert_eq!(
            wrong_grade.matches(&lead),
            Err("grade A is not one of B, C".to_owned())
        );
        let wrong_field = rule(Conditions {
            custom_fields: BTreeMap::from([("budget_band".to_owned(), "high".to_owned())]),
            ..Conditions::default()
        });
        assert_eq!(
            wrong_field.matches(&lead),
            Err("custom field budget_band is (none) not high".to_owned())
        );
        let wrong_company = rule(Conditions {
            company_keywords: vec!["腾讯".into()],
            ..Conditions::default()
        });
        assert!(wrong_company.matches(&lead).unwrap_err().contains("腾讯"));
        let product = rule(Conditions {
            product_lines: vec!["CRM".into()],
            ..Conditions::default()
        });
        assert_eq!(
            product.matches(&lead),
            Err("product line (none) is not one of CRM".to_owned())
        );
    }

    #[test]
    fn bad_rules_report_every_field() {
        let bad = AssignmentRule::parse(AssignmentRule {
            rule_id: "a b".into(),
            conditions: Conditions {
                grades: vec!["E".into()],
                regions: vec![" ".into()],
                custom_fields: BTreeMap::from([("k".to_owned(), " ".to_owned())]),
                ..Conditions::default()
            },
            target_team: " x\u{7}".into(),
            ..AssignmentRule::default()
        })
        .unwrap_err();
        let fields: Vec<&str> = bad.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(
            fields,
            vec![
                "rule_id",
                "conditions.regions[0]",
                "conditions.grades[0]",
                "conditions.custom_fields[k]",
                "target_team_id"
            ]
        );
    }

    #[test]
    fn strategies_round_trip_and_label_the_rule() {
        for s in Strategy::ALL {
            assert_eq!(Strategy::parse(s.as_str()), Some(s));
        }
        let r = AssignmentRule {
            rule_id: "east-a".into(),
            strategy: Strategy::LeastLoaded,
            ..AssignmentRule::default()
        };
        assert_eq!(r.label(), "rule:east-a:least_loaded");
    }
}
