//! Who gets a lead, and why, in words a manager can check.
//!
//! 1. Customer affinity: the customer's owner gets it, whatever their load (capacity
//!    never overrides one customer, one owner). An owner on leave keeps the customer: the
//!    lead waits in their team's pool and goes to them when they return. Only a departed
//!    (or unknown) owner is replaced.
//! 2. Otherwise the tenant's rules in order; the first enabled rule whose conditions hold
//!    names the target (team subtree, skill tier) and the strategy.
//! 3. No rule matches: round robin among every active rep covering the lead.
//! 4. Nobody eligible (active, covering the lead, under both capacities): the pool of
//!    the target team, from which the lead is placed as soon as capacity frees up.
//!
//! Everything looked at is kept in an [`Audit`] stored with the decision.

use std::cmp::Ordering;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::rep::{Rep, WorkingStatus};
use super::rule::{AssignmentRule, LeadFacts, Strategy};
use super::team::TeamTree;

/// The rule label of a lead that went to its customer's owner.
pub const CUSTOMER_OWNER_RULE: &str = "customer-owner";
/// The rule label recorded for a lead that went to the pool.
pub const POOL_RULE: &str = "pool";

/// What becomes of the customer's owner record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ownership {
    /// The owner got the lead; nothing changes.
    Kept,
    /// The customer had no owner; the chosen rep becomes it.
    Claimed,
    /// The owner departed; the chosen rep takes the customer over.
    Replaced { previous: String },
    /// The lead names no customer, so there is nothing to own.
    NoCustomer,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Assignment {
    pub rep_id: String,
    pub team: String,
    /// `customer-owner`, `rule:<id>:<strategy>` or `round-robin:<team>`.
    pub rule: String,
    pub reason: String,
    /// The eligible reps, by rep id, sorted.
    pub candidates: Vec<String>,
    pub ownership: Ownership,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pooling {
    /// Whose pool: a team id, or empty for the tenant-wide pool.
    pub team: String,
    pub reason: String,
    /// True when the lead is placed by itself once capacity frees up (false: it waits
    /// to be claimed, as a `to_pool` rule wants).
    pub auto_assign: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Assign(Assignment),
    Pool(Pooling),
}

/// One rule as evaluated for a lead.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleEvaluation {
    pub rule_id: String,
    pub name: String,
    pub position: u32,
    pub matched: bool,
    pub detail: String,
}

/// One rep as considered for a lead, with the load the choice was based on.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CandidateLoad {
    pub rep_id: String,
    pub team: String,
    pub tier: String,
    pub open: i64,
    pub max_open: u32,
    pub leads_today: i64,
    pub max_daily: u32,
    pub assigned_total: i64,
    pub eligible: bool,
    pub skipped_because: String,
}

/// Everything a decision looked at.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Audit {
    pub rules: Vec<RuleEvaluation>,
    pub matched_rule: String,
    pub strategy: String,
    pub candidates: Vec<CandidateLoad>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    pub outcome: Outcome,
    pub audit: Audit,
}

/// The tenant's organisation and rules, as the decision needs them.
#[derive(Clone, Copy, Debug)]
pub struct Org<'a> {
    pub reps: &'a [Rep],
    /// Sorted by position.
    pub rules: &'a [AssignmentRule],
    pub tree: &'a TeamTree,
}

/// Decides who gets `lead`, given the customer's recorded owner.
pub fn decide(lead: &LeadFacts<'_>, owner: Option<&str>, org: Org<'_>) -> Decision {
    let mut audit = Audit::default();
    let mut previous: Option<(String, String)> = None;
    if let Some(owner_id) = owner.filter(|_| !lead.customer_id.is_empty()) {
        let customer = lead.customer_id;
        match org.reps.iter().find(|r| r.profile.rep_id == owner_id) {
            Some(rep) if rep.profile.status == WorkingStatus::Active => {
                audit.candidates.push(load_of(rep, true, ""));
                return Decision {
                    outcome: Outcome::Assign(to_owner(customer, rep)),
                    audit,
                };
            }
            Some(rep) if rep.profile.status == WorkingStatus::OnLeave => {
                audit.candidates.push(load_of(rep, false, "on leave"));
                return Decision {
                    outcome: Outcome::Pool(Pooling {
                        team: rep.profile.team.clone(),
                        reason: format!(
                            "customer {customer} is owned by rep {owner_id}, who is on leave; \
                             the lead waits in the pool and goes to them when they return"
                        ),
                        auto_assign: true,
                    }),
                    audit,
                };
            }
            Some(_) => {
                previous = Some((
                    owner_id.to_owned(),
                    format!("previous owner {owner_id} of customer {customer} departed"),
                ))
            }
            None => {
                previous = Some((
                    owner_id.to_owned(),
                    format!("previous owner {owner_id} of customer {customer} is no longer a rep"),
                ))
            }
        }
    }
    let with_note = |reason: String| match &previous {
        Some((_, note)) => format!("{note}; {reason}"),
        None => reason,
    };
    let ownership = match &previous {
        _ if lead.customer_id.is_empty() => Ownership::NoCustomer,
        Some((previous, _)) => Ownership::Replaced {
            previous: previous.clone(),
        },
        None => Ownership::Claimed,
    };

    let matched = first_matching_rule(lead, org.rules, &mut audit);
    let (target_team, target_tier, strategy) = match matched {
        Some(rule) => (
            rule.target_team.as_str(),
            rule.target_tier.as_str(),
            rule.strategy,
        ),
        None => ("", "", Strategy::RoundRobin),
    };
    audit.strategy = strategy.as_str().to_owned();
    let scope = describe_scope(matched, lead);
    if strategy == Strategy::ToPool {
        return Decision {
            outcome: Outcome::Pool(Pooling {
                team: target_team.to_owned(),
                reason: with_note(format!("{scope} sends matching leads to the pool")),
                auto_assign: false,
            }),
            audit,
        };
    }

    let mut uncovered = 0;
    let mut eligible: Vec<&Rep> = Vec::new();
    for rep in org.reps {
        let p = &rep.profile;
        let in_scope = (target_team.is_empty() || org.tree.is_within(&p.team, target_team))
            && (target_tier.is_empty() || super::rep::same_label(&p.skill_tier, target_tier));
        if !in_scope || p.status == WorkingStatus::Departed {
            continue;
        }
        if !p.covers(lead.region, lead.industry) || !p.covers_product_line(lead.product_line) {
            uncovered += 1;
            continue;
        }
        let skipped = if p.status == WorkingStatus::OnLeave {
            "on leave".to_owned()
        } else if !rep.has_free_capacity() {
            format!(
                "at capacity: {} of {} open opportunities",
                rep.load.open_count, p.capacity
            )
        } else if !rep.has_daily_room() {
            format!(
                "daily limit reached: {} of {} new leads today",
                rep.load.leads_today, p.max_daily_leads
            )
        } else {
            String::new()
        };
        audit
            .candidates
            .push(load_of(rep, skipped.is_empty(), &skipped));
        if skipped.is_empty() {
            eligible.push(rep);
        }
    }
    audit.candidates.sort_by(|a, b| a.rep_id.cmp(&b.rep_id));

    let Some(chosen) = choose(strategy, &eligible) else {
        let considered = audit.candidates.len();
        let detail = match (considered, uncovered) {
            (0, 0) => "there is no active rep in scope".to_owned(),
            (0, n) => format!("none of the {n} reps in scope covers it"),
            (1, _) => "the only rep covering it is on leave or at capacity".to_owned(),
            (n, _) => format!("all {n} reps covering it are on leave or at capacity"),
        };
        return Decision {
            outcome: Outcome::Pool(Pooling {
                team: target_team.to_owned(),
                reason: with_note(format!(
                    "nobody can take the lead for {scope}: {detail}; it waits in the pool"
                )),
                auto_assign: true,
            }),
            audit,
        };
    };
    let rep_id = &chosen.profile.rep_id;
    let how = match strategy {
        Strategy::RoundRobin | Strategy::ToPool => "is next in turn",
        Strategy::LeastLoaded => "has the fewest open opportunities",
        Strategy::WeightedByCapacity => "is furthest below their capacity share",
    };
    let reason = match eligible.len() {
        1 => format!("{rep_id} is the only rep who can take the lead for {scope}"),
        n => format!("{rep_id} {how} among {n} reps who can take the lead for {scope}"),
    };
    let mut candidates: Vec<String> = eligible.iter().map(|r| r.profile.rep_id.clone()).collect();
    candidates.sort();
    let rule = match matched {
        Some(rule) => rule.label(),
        None => format!("round-robin:{}", chosen.profile.team),
    };
    Decision {
        outcome: Outcome::Assign(Assignment {
            rep_id: rep_id.clone(),
            team: chosen.profile.team.clone(),
            rule,
            reason: with_note(reason),
            candidates,
            ownership,
        }),
        audit,
    }
}

fn first_matching_rule<'r>(
    lead: &LeadFacts<'_>,
    rules: &'r [AssignmentRule],
    audit: &mut Audit,
) -> Option<&'r AssignmentRule> {
    for rule in rules {
        let (matched, detail) = if !rule.enabled {
            (false, "disabled".to_owned())
        } else {
            match rule.matches(lead) {
                Ok(()) => (true, "matched".to_owned()),
                Err(why) => (false, why),
            }
        };
        audit.rules.push(RuleEvaluation {
            rule_id: rule.rule_id.clone(),
            name: rule.name.clone(),
            position: rule.position,
            matched,
            detail,
        });
        if matched {
            audit.matched_rule = rule.rule_id.clone();
            return Some(rule);
        }
    }
    None
}

/// Picks among the eligible reps; ties always fall to the longest waiting, then rep id,
/// so the choice is deterministic and replayable.
fn choose<'a>(strategy: Strategy, eligible: &[&'a Rep]) -> Option<&'a Rep> {
    let turn = |a: &Rep, b: &Rep| {
        (a.load.last_assigned_seq, &a.profile.rep_id)
            .cmp(&(b.load.last_assigned_seq, &b.profile.rep_id))
    };
    match strategy {
        Strategy::RoundRobin | Strategy::ToPool => {
            eligible.iter().copied().min_by(|a, b| turn(a, b))
        }
        Strategy::LeastLoaded => eligible.iter().copied().min_by(|a, b| {
            a.load
                .open_count
                .cmp(&b.load.open_count)
                .then(a.load.leads_today.cmp(&b.load.leads_today))
                .then_with(|| turn(a, b))
        }),
        Strategy::WeightedByCapacity => {
            // Unlimited reps weigh as much as the largest capacity among the candidates.
            let largest = eligible
                .iter()
                .map(|r| i128::from(r.profile.capacity))
                .max()
                .unwrap_or(0)
                .max(1);
            let weight = |r: &Rep| match r.profile.capacity {
                0 => largest,
                c => i128::from(c),
            };
            // The rep whose (assigned + 1) / weight is smallest, compared without division.
            eligible.iter().copied().min_by(|a, b| {
                let left = i128::from(a.load.assigned_total + 1) * weight(b);
                let right = i128::from(b.load.assigned_total + 1) * weight(a);
                match left.cmp(&right) {
                    Ordering::Equal => turn(a, b),
                    other => other,
                }
            })
        }
    }
}

fn load_of(rep: &Rep, eligible: bool, skipped: &str) -> CandidateLoad {
    CandidateLoad {
        rep_id: rep.profile.rep_id.clone(),
        team: rep.profile.team.clone(),
        tier: rep.profile.skill_tier.clone(),
        open: rep.load.open_count,
        max_open: rep.profile.capacity,
        leads_today: rep.load.leads_today,
        max_daily: rep.profile.max_daily_leads,
        assigned_total: rep.load.assigned_total,
        eligible,
        skipped_because: skipped.to_owned(),
    }
}

/// The lead goes to the customer's owner. Also used when another replica claimed the
/// customer first: its owner wins.
pub fn to_owner(customer_id: &str, owner: &Rep) -> Assignment {
    let rep_id = &owner.profile.rep_id;
    Assignment {
        rep_id: rep_id.clone(),
        team: owner.profile.team.clone(),
        rule: CUSTOMER_OWNER_RULE.to_owned(),
        reason: format!("customer {customer_id} is owned by rep {rep_id}"),
        candidates: vec![rep_id.clone()],
        ownership: Ownership::Kept,
    }
}

/// "rule east-a (team east, tier senior)" or "region 华东 / industry 制造".
fn describe_scope(rule: Option<&AssignmentRule>, lead: &LeadFacts<'_>) -> String {
    match rule {
        Some(rule) => {
            let mut target = Vec::new();
            if !rule.target_team.is_empty() {
                target.push(format!("team {}", rule.target_team));
            }
            if !rule.target_tier.is_empty() {
                target.push(format!("tier {}", rule.target_tier));
            }
            match target.is_empty() {
                true => format!("rule {}", rule.rule_id),
                false => format!("rule {} ({})", rule.rule_id, target.join(", ")),
            }
        }
        None => Scope(lead).to_string(),
    }
}

/// "region 华东 / industry 制造", naming a missing value instead of leaving a gap.
struct Scope<'a, 'b>(&'a LeadFacts<'b>);

impl fmt::Display for Scope<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let show = |v: &str| match v.trim() {
            "" => "(none)".to_owned(),
            v => v.to_owned(),
        };
        write!(
            f,
            "region {} / industry {}",
            show(self.0.region),
            show(self.0.industry)
        )
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::domain::rep::RepProfile;
    use crate::domain::rule::Conditions;
    use crate::domain::team::Team;

    fn rep(id: &str, team: &str, regions: &[&str]) -> Rep {
        Rep {
            profile: RepProfile {
                rep_id: id.into(),
                name: id.to_uppercase(),
                team: team.into(),
                regions: regions.iter().map(|s| s.to_string()).collect(),
                ..RepProfile::default()
            },
            ..Rep::default()
        }
    }

    fn facts<'a>(
        customer: &'a str,
        region: &'a str,
        grade: &'a str,
        fields: &'a BTreeMap<String, String>,
    ) -> LeadFacts<'a> {
        LeadFacts {
            customer_id: customer,
            region,
            industry: "制造",
            source: "web",
            product_line: "",
            company: "华为",
            grade,
            custom_fields: fields,
        }
    }

    fn rule(
        id: &str,
        position: u32,
        conditions: Conditions,
        team: &str,
        tier: &str,
        strategy: Strategy,
    ) -> AssignmentRule {
        AssignmentRule {
            rule_id: id.into(),
            name: id.into(),
            position,
            enabled: true,
            conditions,
            target_team: team.into(),
            target_tier: tier.into(),
            strategy,
            version: 1,
        }
    }

    fn tree() -> TeamTree {
        let team = |id: &str, ancestors: &[&str]| Team {
            team_id: id.into(),
            ancestors: ancestors.iter().map(|s| s.to_string()).collect(),
            ..Team::default()
        };
        TeamTree::new(&[
            team("sales", &[]),
            team("east", &["sales"]),
            team("east-1", &["sales", "east"]),
            team("west", &["sales"]),
        ])
    }

    fn run(
        lead: &LeadFacts<'_>,
        owner: Option<&str>,
        reps: &[Rep],
        rules: &[AssignmentRule],
    ) -> Decision {
        let tree = tree();
        decide(
            lead,
            owner,
            Org {
                reps,
                rules,
                tree: &tree,
            },
        )
    }

    fn assigned(d: &Decision) -> &Assignment {
        match &d.outcome {
            Outcome::Assign(a) => a,
            Outcome::Pool(p) => panic!("expected an assignment, pooled: {}", p.reason),
        }
    }

    fn pooled(d: &Decision) -> &Pooling {
        match &d.outcome {
            Outcome::Pool(p) => p,
            Outcome::Assign(a) => panic!("expected the pool, assigned to {}", a.rep_id),
        }
    }

    #[test]
    fn the_active_owner_gets_the_lead_even_when_full_and_rules_say_otherwise() {
        let none = BTreeMap::new();
        let mut owner = rep("r2", "west", &["华北"]);
        owner.profile.capacity = 1;
        owner.load.open_count = 4;
        let reps = [rep("r1", "east", &[]), owner];
        let rules = [rule(
            "all-east",
            1,
            Conditions::default(),
            "east",
            "",
            Strategy::RoundRobin,
        )];
        let d = run(
            &facts("cus_1", "华东", "A", &none),
            Some("r2"),
            &reps,
            &rules,
        );
        let a = assigned(&d);
        assert_eq!(
            (a.rep_id.as_str(), a.rule.as_str()),
            ("r2", CUSTOMER_OWNER_RULE)
        );
        assert_eq!(a.ownership, Ownership::Kept);
        assert!(d.audit.rules.is_empty(), "affinity comes before the rules");
    }

    #[test]
    fn an_owner_on_leave_keeps_the_customer_and_the_lead_waits_for_them() {
        let none = BTreeMap::new();
        let mut away = rep("r1", "east", &[]);
        away.profile.status = WorkingStatus::OnLeave;
        let d = run(
            &facts("cus_1", "华东", "A", &none),
            Some("r1"),
            &[away, rep("r2", "east", &[])],
            &[],
        );
        let p = pooled(&d);
        assert_eq!(p.team, "east");
        assert!(p.auto_assign);
        assert!(p.reason.contains("on leave"), "{}", p.reason);
    }

    #[test]
    fn a_departed_owner_is_replaced_by_the_rules_and_the_reason_says_so() {
        let none = BTreeMap::new();
        let mut gone = rep("r1", "east", &[]);
        gone.profile.status = WorkingStatus::Departed;
        let d = run(
            &facts("cus_1", "华东", "A", &none),
            Some("r1"),
            &[gone, rep("r2", "east", &[])],
            &[],
        );
        let a = assigned(&d);
        assert_eq!(a.rep_id, "r2");
        assert_eq!(
            a.ownership,
            Ownership::Replaced {
                previous: "r1".into()
            }
        );
        assert!(
            a.reason
                .starts_with("previous owner r1 of customer cus_1 departed; "),
            "{}",
            a.reason
        );
        assert_eq!(
            a.rule, "round-robin:east",
            "no rules: the original round robin"
        );
    }

    #[test]
    fn the_first_matching_rule_decides_and_every_evaluation_is_recorded() {
        let none = BTreeMap::new();
        let mut senior = rep("s1", "east-1", &[]);
        senior.profile.skill_tier = "senior".into();
        let reps = [rep("j1", "east-1", &[]), senior, rep("w1", "west", &[])];
        let rules = [
            rule(
                "off",
                1,
                Conditions::default(),
                "west",
                "",
                Strategy::RoundRobin,
            ),
            rule(
                "grade-b",
                2,
                Conditions {
                    grades: vec!["B".into()],
                    ..Conditions::default()
                },
                "west",
                "",
                Strategy::RoundRobin,
            ),
            rule(
                "east-a",
                3,
                Conditions {
                    grades: vec!["A".into()],
                    regions: vec!["华东".into()],
                    ..Conditions::default()
                },
                "east",
                "senior",
                Strategy::RoundRobin,
            ),
            rule(
                "catch-all",
                4,
                Conditions::default(),
                "west",
                "",
                Strategy::RoundRobin,
            ),
        ];
        let mut rules = rules.to_vec();
        rules[0].enabled = false;
        let d = run(&facts("", "华东", "A", &none), None, &reps, &rules);
        let a = assigned(&d);
        assert_eq!(a.rep_id, "s1", "team east's subtree, tier senior");
        assert_eq!(a.rule, "rule:east-a:round_robin");
        assert_eq!(a.ownership, Ownership::NoCustomer);
        let seen: Vec<(&str, bool, &str)> = d
            .audit
            .rules
            .iter()
            .map(|r| (r.rule_id.as_str(), r.matched, r.detail.as_str()))
            .collect();
        assert_eq!(
            seen,
            vec![
                ("off", false, "disabled"),
                ("grade-b", false, "grade A is not one of B"),
                ("east-a", true, "matched")
            ]
        );
        assert_eq!(d.audit.matched_rule, "east-a");
        assert_eq!(d.audit.candidates.len(), 1);
        assert_eq!(d.audit.candidates[0].rep_id, "s1");
    }

    #[test]
    fn reps_at_capacity_or_daily_limit_or_on_leave_are_skipped_with_the_reason() {
        let none = BTreeMap::new();
        let mut full = rep("a-full", "east", &[]);
        full.profile.capacity = 2;
        full.load.open_count = 2;
        let mut busy = rep("b-busy", "east", &[]);
        busy.profile.max_daily_leads = 3;
        busy.load.leads_today = 3;
        let mut away = rep("c-away", "east", &[]);
        away.profile.status = WorkingStatus::OnLeave;
        let elsewhere = rep("d-elsewhere", "east", &["华南"]);
        let reps = [full, busy, away, elsewhere, rep("e-free", "east", &[])];
        let rules = [rule(
            "east",
            1,
            Conditions::default(),
            "east",
            "",
            Strategy::LeastLoaded,
        )];
        let d = run(&facts("", "华东", "A", &none), None, &reps, &rules);
        assert_eq!(assigned(&d).rep_id, "e-free");
        let skipped: Vec<(&str, &str)> = d
            .audit
            .candidates
            .iter()
            .map(|c| (c.rep_id.as_str(), c.skipped_because.as_str()))
            .collect();
        assert_eq!(
            skipped,
            vec![
                ("a-full", "at capacity: 2 of 2 open opportunities"),
                ("b-busy", "daily limit reached: 3 of 3 new leads today"),
                ("c-away", "on leave"),
                ("e-free", ""),
            ]
        );
        let d = run(&facts("", "华东", "A", &none), None, &reps[..4], &rules);
        let p = pooled(&d);
        assert_eq!(p.team, "east");
        assert!(p.auto_assign);
        assert!(
            p.reason
                .contains("all 3 reps covering it are on leave or at capacity"),
            "{}",
            p.reason
        );
    }

    #[test]
    fn a_to_pool_rule_pools_without_looking_at_reps() {
        let none = BTreeMap::new();
        let rules = [rule(
            "expo",
            1,
            Conditions::default(),
            "east",
            "",
            Strategy::ToPool,
        )];
        let d = run(
            &facts("", "华东", "C", &none),
            None,
            &[rep("r1", "east", &[])],
            &rules,
        );
        let p = pooled(&d);
        assert_eq!(p.team, "east");
        assert!(!p.auto_assign, "waits to be claimed");
    }

    #[test]
    fn least_loaded_and_weighted_by_capacity_pick_as_named() {
        let none = BTreeMap::new();
        let lead = facts("", "华东", "A", &none);
        let mut light = rep("b", "east", &[]);
        light.load.open_count = 1;
        let mut heavy = rep("a", "east", &[]);
        heavy.load.open_count = 5;
        let least = [rule(
            "r",
            1,
            Conditions::default(),
            "",
            "",
            Strategy::LeastLoaded,
        )];
        assert_eq!(
            assigned(&run(&lead, None, &[heavy, light], &least)).rep_id,
            "b"
        );

        let weighted = [rule(
            "r",
            1,
            Conditions::default(),
            "",
            "",
            Strategy::WeightedByCapacity,
        )];
        let mut reps = vec![rep("big", "east", &[]), rep("small", "east", &[])];
        reps[0].profile.capacity = 30;
        reps[1].profile.capacity = 10;
        let mut counts = BTreeMap::new();
        for turn in 1..=400 {
            let d = run(&lead, None, &reps, &weighted);
            let chosen = assigned(&d).rep_id.clone();
            let r = reps
                .iter_mut()
                .find(|r| r.profile.rep_id == chosen)
                .unwrap();
            r.load.assigned_total += 1;
            r.load.last_assigned_seq = turn;
            *counts.entry(chosen).or_insert(0) += 1;
        }
        assert_eq!(counts["big"], 300, "{counts:?}");
        assert_eq!(counts["small"], 100, "{counts:?}");
    }

    #[test]
    fn round_robin_is_fair_within_one_lead_over_thousands() {
        let none = BTreeMap::new();
        let mut reps: Vec<Rep> = (1..=7)
            .map(|i| rep(&format!("r{i}"), "east", &[]))
            .collect();
        reps.push(rep("elsewhere", "west", &["西北"]));
        let rules = [rule(
            "east",
            1,
            Conditions::default(),
            "east",
            "",
            Strategy::RoundRobin,
        )];
        let mut counts = BTreeMap::new();
        for turn in 1..=3000 {
            let d = run(&facts("", "华东", "A", &none), None, &reps, &rules);
            let chosen = assigned(&d).rep_id.clone();
            let r = reps
                .iter_mut()
                .find(|r| r.profile.rep_id == chosen)
                .unwrap();
            r.load.last_assigned_seq = turn;
            *counts.entry(chosen).or_insert(0) += 1;
        }
        assert_eq!(counts.len(), 7, "{counts:?}");
        let (min, max) = (
            counts.values().min().unwrap(),
            counts.values().max().unwrap(),
        );
        assert!(max - min <= 1, "{counts:?}");
    }
}
