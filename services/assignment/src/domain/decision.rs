//! Who gets a lead, and why, in words a manager can check.
//!
//! 1. The customer's owner, if they are an active rep: one customer, one owner, whatever
//!    their load (capacity never overrides affinity).
//! 2. Otherwise round robin among the eligible reps: active, covering the lead's region
//!    and industry, with free capacity. The one whose last lead is oldest (never first)
//!    goes next, ties by rep id, so over time every eligible rep gets an equal share.
//! 3. Nobody eligible: the lead waits in the pool.

use std::fmt;

use super::rep::Rep;

/// What the decision needs to know about the lead.
#[derive(Clone, Copy, Debug)]
pub struct LeadToPlace<'a> {
    /// Empty when dedup could not name a customer; then nobody owns it afterwards.
    pub customer_id: &'a str,
    pub region: &'a str,
    pub industry: &'a str,
}

/// The rule that decided, as recorded and published (`LeadAssigned.rule`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rule {
    CustomerOwner,
    RoundRobin { team: String },
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rule::CustomerOwner => f.write_str("customer-owner"),
            Rule::RoundRobin { team } => write!(f, "round-robin:{team}"),
        }
    }
}

/// The rule recorded for a lead that went to the pool.
pub const POOL_RULE: &str = "pool";

/// What becomes of the customer's owner record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ownership {
    /// The owner got the lead; nothing changes.
    Kept,
    /// The customer had no owner; the chosen rep becomes it.
    Claimed,
    /// The owner can no longer take leads; the chosen rep takes the customer over.
    Replaced { previous: String },
    /// The lead names no customer, so there is nothing to own.
    NoCustomer,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Assignment {
    pub rep_id: String,
    pub team: String,
    pub rule: Rule,
    pub reason: String,
    /// The reps that were eligible, by rep id.
    pub candidates: Vec<String>,
    pub ownership: Ownership,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pooling {
    pub reason: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    Assign(Assignment),
    Pool(Pooling),
}

/// Decides who gets `lead`, given the customer's recorded owner and the tenant's reps.
pub fn decide(lead: &LeadToPlace<'_>, owner: Option<&str>, reps: &[Rep]) -> Decision {
    let mut previous = None;
    if let Some(owner_id) = owner.filter(|_| !lead.customer_id.is_empty()) {
        let customer = lead.customer_id;
        match reps.iter().find(|r| r.profile.rep_id == owner_id) {
            Some(rep) if rep.profile.active => return Decision::Assign(to_owner(customer, rep)),
            Some(_) => {
                previous = Some((
                    owner_id,
                    format!("previous owner {owner_id} of customer {customer} is inactive"),
                ))
            }
            None => {
                previous = Some((
                    owner_id,
                    format!("previous owner {owner_id} of customer {customer} is no longer a rep"),
                ))
            }
        }
    }
    let scope = Scope(lead);
    let covering: Vec<&Rep> = reps
        .iter()
        .filter(|r| r.profile.active && r.profile.covers(lead.region, lead.industry))
        .collect();
    let eligible: Vec<&Rep> = covering
        .iter()
        .copied()
        .filter(|r| r.has_free_capacity())
        .collect();
    let with_note = |reason: String| match &previous {
        Some((_, note)) => format!("{note}; {reason}"),
        None => reason,
    };
    let Some(chosen) = eligible
        .iter()
        .min_by(|a, b| {
            (a.load.last_assigned_seq, &a.profile.rep_id)
                .cmp(&(b.load.last_assigned_seq, &b.profile.rep_id))
        })
        .copied()
    else {
        let full = covering.len();
        let detail = match full {
            0 => String::new(),
            1 => " (1 covering rep is at capacity)".to_owned(),
            n => format!(" ({n} covering reps are at capacity)"),
        };
        return Decision::Pool(Pooling {
            reason: with_note(format!(
                "no active rep covers {scope} with free capacity{detail}"
            )),
        });
    };
    let rep_id = &chosen.profile.rep_id;
    let reason = match eligible.len() {
        1 => format!("{rep_id} is the only active rep covering {scope} with free capacity"),
        n => format!(
            "{rep_id} is next in turn among {n} active reps covering {scope} with free capacity"
        ),
    };
    let mut candidates: Vec<String> = eligible.iter().map(|r| r.profile.rep_id.clone()).collect();
    candidates.sort();
    let ownership = match previous {
        _ if lead.customer_id.is_empty() => Ownership::NoCustomer,
        Some((previous, _)) => Ownership::Replaced {
            previous: previous.to_owned(),
        },
        None => Ownership::Claimed,
    };
    Decision::Assign(Assignment {
        rep_id: rep_id.clone(),
        team: chosen.profile.team.clone(),
        rule: Rule::RoundRobin {
            team: chosen.profile.team.clone(),
        },
        reason: with_note(reason),
        candidates,
        ownership,
    })
}

/// The lead goes to the customer's owner. Also used when another replica claimed the
/// customer first: its owner wins.
pub fn to_owner(customer_id: &str, owner: &Rep) -> Assignment {
    let rep_id = &owner.profile.rep_id;
    Assignment {
        rep_id: rep_id.clone(),
        team: owner.profile.team.clone(),
        rule: Rule::CustomerOwner,
        reason: format!("customer {customer_id} is owned by rep {rep_id}"),
        candidates: vec![rep_id.clone()],
        ownership: Ownership::Kept,
    }
}

/// "region 华东 / industry 制造", naming a missing value instead of leaving a gap.
struct Scope<'a, 'b>(&'a LeadToPlace<'b>);

impl fmt::Display for Scope<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let show = |v: &str| {
            if v.trim().is_empty() {
                "(none)".to_owned()
            } else {
                v.trim().to_owned()
            }
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
    use super::*;
    use crate::domain::rep::{RepLoad, RepProfile};

    fn rep(id: &str, team: &str, regions: &[&str], industries: &[&str]) -> Rep {
        Rep {
            profile: RepProfile {
                rep_id: id.into(),
                name: id.to_uppercase(),
                team: team.into(),
                regions: regions.iter().map(|s| s.to_string()).collect(),
                industries: industries.iter().map(|s| s.to_string()).collect(),
                capacity: 0,
                active: true,
            },
            load: RepLoad::default(),
        }
    }

    fn lead<'a>(customer_id: &'a str, region: &'a str, industry: &'a str) -> LeadToPlace<'a> {
        LeadToPlace {
            customer_id,
            region,
            industry,
        }
    }

    fn assigned(decision: Decision) -> Assignment {
        match decision {
            Decision::Assign(a) => a,
            Decision::Pool(p) => panic!("expected an assignment, pooled: {}", p.reason),
        }
    }

    fn pooled(decision: Decision) -> Pooling {
        match decision {
            Decision::Pool(p) => p,
            Decision::Assign(a) => panic!("expected the pool, assigned to {}", a.rep_id),
        }
    }

    #[test]
    fn the_customers_active_owner_gets_the_lead_even_when_full_and_not_their_turn() {
        let mut owner = rep("r2", "east", &["华北"], &[]);
        owner.profile.capacity = 1;
        owner.load = RepLoad {
            last_assigned_seq: 99,
            assigned_total: 5,
            open_count: 4,
        };
        let reps = [rep("r1", "east", &[], &[]), owner];
        let a = assigned(decide(&lead("cus_1", "华东", "制造"), Some("r2"), &reps));
        assert_eq!(a.rep_id, "r2");
        assert_eq!(a.rule, Rule::CustomerOwner);
        assert_eq!(a.rule.to_string(), "customer-owner");
        assert_eq!(a.reason, "customer cus_1 is owned by rep r2");
        assert_eq!(a.ownership, Ownership::Kept);
        assert_eq!(a.candidates, vec!["r2"]);
    }

    #[test]
    fn an_inactive_owner_is_replaced_by_round_robin_and_the_reason_says_so() {
        let mut gone = rep("r1", "east", &[], &[]);
        gone.profile.active = false;
        let reps = [gone, rep("r2", "east", &[], &[])];
        let a = assigned(decide(&lead("cus_1", "华东", "制造"), Some("r1"), &reps));
        assert_eq!(a.rep_id, "r2");
        assert_eq!(a.rule.to_string(), "round-robin:east");
        assert_eq!(
            a.ownership,
            Ownership::Replaced {
                previous: "r1".into()
            }
        );
        assert!(
            a.reason
                .starts_with("previous owner r1 of customer cus_1 is inactive; "),
            "{}",
            a.reason
        );
    }

    #[test]
    fn an_owner_unknown_to_assignment_is_replaced_too() {
        let reps = [rep("r2", "east", &[], &[])];
        let a = assigned(decide(&lead("cus_1", "华东", ""), Some("ghost"), &reps));
        assert_eq!(a.rep_id, "r2");
        assert!(
            a.reason
                .contains("ghost of customer cus_1 is no longer a rep"),
            "{}",
            a.reason
        );
    }

    #[test]
    fn a_new_customer_is_claimed_by_the_chosen_rep() {
        let a = assigned(decide(
            &lead("cus_9", "华东", "制造"),
            None,
            &[rep("r1", "east", &[], &[])],
        ));
        assert_eq!(a.ownership, Ownership::Claimed);
        assert!(
            a.reason
                .contains("r1 is the only active rep covering region 华东 / industry 制造"),
            "{}",
            a.reason
        );
        let a = assigned(decide(
            &lead("", "华东", "制造"),
            None,
            &[rep("r1", "east", &[], &[])],
        ));
        assert_eq!(a.ownership, Ownership::NoCustomer);
    }

    #[test]
    fn region_and_industry_must_both_be_covered_and_empty_lists_cover_all() {
        let reps = [
            rep("east-mfg", "east", &["华东"], &["制造"]),
            rep("east-any", "east", &[" 华东 "], &[]),
            rep("any-retail", "retail", &[], &["Retail"]),
            rep("south", "south", &["华南"], &[]),
        ];
        let a = assigned(decide(&lead("c", "华东", "制造"), None, &reps));
        assert_eq!(a.candidates, vec!["east-any", "east-mfg"]);
        let a = assigned(decide(&lead("c", "华东", " retail "), None, &reps));
        assert_eq!(a.candidates, vec!["any-retail", "east-any"]);
        let a = assigned(decide(&lead("c", "华南", "retail"), None, &reps));
        assert_eq!(a.candidates, vec!["any-retail", "south"]);
        let p = pooled(decide(&lead("c", "西北", "制造"), None, &reps));
        assert_eq!(
            p.reason,
            "no active rep covers region 西北 / industry 制造 with free capacity"
        );
        let p = pooled(decide(&lead("c", "", ""), None, &reps[..1]));
        assert_eq!(
            p.reason,
            "no active rep covers region (none) / industry (none) with free capacity"
        );
    }

    #[test]
    fn full_and_inactive_reps_are_skipped() {
        let mut full = rep("a-full", "east", &[], &[]);
        full.profile.capacity = 2;
        full.load.open_count = 2;
        let mut away = rep("b-away", "east", &[], &[]);
        away.profile.active = false;
        let free = rep("c-free", "east", &[], &[]);
        let a = assigned(decide(
            &lead("c", "华东", "制造"),
            None,
            &[full.clone(), away.clone(), free],
        ));
        assert_eq!(a.rep_id, "c-free");
        assert_eq!(a.candidates, vec!["c-free"]);
        let p = pooled(decide(&lead("c", "华东", "制造"), None, &[full, away]));
        assert!(
            p.reason
                .ends_with("with free capacity (1 covering rep is at capacity)"),
            "{}",
            p.reason
        );
    }

    #[test]
    fn round_robin_picks_the_longest_waiting_rep_never_assigned_first_ties_by_id() {
        let mut r1 = rep("r1", "east", &[], &[]);
        r1.load.last_assigned_seq = 5;
        let mut r2 = rep("r2", "east", &[], &[]);
        r2.load.last_assigned_seq = 3;
        let r3 = rep("r3", "east", &[], &[]);
        let r0 = rep("r0", "east", &[], &[]);
        let a = assigned(decide(
            &lead("c", "x", "y"),
            None,
            &[r1.clone(), r2.clone(), r3.clone()],
        ));
        assert_eq!(a.rep_id, "r3", "never assigned goes first");
        assert!(
            a.reason.contains("r3 is next in turn among 3 active reps"),
            "{}",
            a.reason
        );
        let a = assigned(decide(&lead("c", "x", "y"), None, &[r3, r0, r1.clone()]));
        assert_eq!(a.rep_id, "r0", "ties by rep id");
        let a = assigned(decide(&lead("c", "x", "y"), None, &[r1, r2]));
        assert_eq!(a.rep_id, "r2");
    }

    #[test]
    fn round_robin_is_fair_over_many_leads() {
        let mut reps: Vec<Rep> = (1..=7)
            .map(|i| rep(&format!("r{i}"), "east", &[], &[]))
            .collect();
        // A rep who covers another region must not take part.
        reps.push(rep("elsewhere", "west", &["西北"], &[]));
        let mut counts = std::collections::BTreeMap::new();
        for seq in 1..=3000 {
            let customer = format!("cus_{seq}");
            let a = assigned(decide(&lead(&customer, "华东", "制造"), None, &reps));
            let chosen = reps
                .iter_mut()
                .find(|r| r.profile.rep_id == a.rep_id)
                .unwrap();
            chosen.load.last_assigned_seq = seq;
            chosen.load.assigned_total += 1;
            *counts.entry(a.rep_id).or_insert(0) += 1;
        }
        assert_eq!(counts.len(), 7, "{counts:?}");
        assert!(!counts.contains_key("elsewhere"));
        let (min, max) = (
            counts.values().min().unwrap(),
            counts.values().max().unwrap(),
        );
        assert!(max - min <= 1, "{counts:?}");
        assert_eq!(counts.values().sum::<i32>(), 3000);
    }

    #[test]
    fn pooling_after_an_inactive_owner_says_both_things() {
        let mut gone = rep("r1", "east", &[], &[]);
        gone.profile.active = false;
        let p = pooled(decide(&lead("cus_1", "华东", "制造"), Some("r1"), &[gone]));
        assert_eq!(
            p.reason,
            "previous owner r1 of customer cus_1 is inactive; \
             no active rep covers region 华东 / industry 制造 with free capacity"
        );
    }
}
