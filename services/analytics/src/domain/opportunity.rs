//! Everything analytics knows about one opportunity, merged from its events in
//! whatever order (and however often) they arrive. Each event becomes an
//! [`OpportunityFacts`]; [`OpportunityState::merge`] is commutative and idempotent, so
//! the read models, which are a function of the states (see `contribution`), are too.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::stage::OpportunityStatus;
use super::versioned::{UNKNOWN, Versioned};

/// Where the opportunity stands: stage name and its position in the pipeline.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct StagePosition {
    pub stage: String,
    pub order: u32,
}

/// The first time the opportunity stood in a stage.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Visit {
    pub first_at: i64,
    pub order: Versioned<u32>,
}

/// A close (won or lost); the latest one counts.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Closing {
    pub at: i64,
    pub won: bool,
    pub reason: String,
}

/// Something the owner did (a follow-up) or a reminder that fell due or escalated.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Touch {
    pub kind: String,
    pub at: i64,
    pub rep_id: String,
}

/// The slicing attributes an opportunity is created with.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Origin {
    pub source: String,
    pub industry: String,
    pub region: String,
}

fn unknown_time() -> i64 {
    UNKNOWN
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpportunityState {
    pub customer_id: String,
    /// When `customer_id` was stated: a customer merge moves the opportunity to the
    /// survivor and an unmerge moves it back (`opportunity.updated`), so the newest
    /// statement wins. States kept before this field read as unknown.
    #[serde(default = "unknown_time")]
    pub customer_as_of: i64,
    pub owner: Versioned<String>,
    pub team: Versioned<String>,
    pub stage: Versioned<StagePosition>,
    /// Win probability of the current stage, in thousandths.
    pub probability_permille: Versioned<i64>,
    /// Amounts are kept in cents: sums of integers stay exact under add and retract.
    pub amount_cents: Versioned<i64>,
    pub currency: Versioned<String>,
    /// `None` until someone sets it.
    pub expected_close_at: Versioned<Option<i64>>,
    pub origin: Versioned<Origin>,
    pub created_at: Option<i64>,
    /// The earliest event time seen: the cohort until `created_at` is known.
    pub first_seen_at: i64,
    pub visits: BTreeMap<String, Visit>,
    pub closing: Option<Closing>,
    pub reopened_at: Option<i64>,
    /// Follow-ups by activity id (touchpoints, which are new leads, are not follow-ups).
    pub activities: BTreeMap<String, Touch>,
    /// Reminder firings by `<reminder id>/<due|escalated:level>`.
    pub reminders: BTreeMap<String, Touch>,
}

/// What one event states about an opportunity; `None` for what it does not say.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct OpportunityFacts {
    /// The event's own time.
    pub at: i64,
    pub customer_id: Option<String>,
    pub owner: Option<String>,
    pub team: Option<String>,
    /// The stage it stands in as of `at`.
    pub stage: Option<StagePosition>,
    /// When the stage is only implied (the stage a deal closed from): it fills a state
    /// no stage event has reached yet but never overrides one.
    pub stage_is_implied: bool,
    /// Stages it stood in as of `at` (order when known).
    pub visited: Vec<(String, Option<u32>)>,
    pub probability: Option<f64>,
    pub amount: Option<f64>,
    pub currency: Option<String>,
    pub expected_close_at: Option<Option<i64>>,
    pub origin: Option<Origin>,
    pub created_at: Option<i64>,
    pub closing: Option<Closing>,
    pub reopened_at: Option<i64>,
    pub activity: Option<(String, Touch)>,
    pub reminder: Option<(String, Touch)>,
}

/// Cents of an amount in currency units.
pub fn to_cents(amount: f64) -> i64 {
    (amount * 100.0).round() as i64
}

impl OpportunityState {
    pub fn new(first_seen_at: i64) -> OpportunityState {
        OpportunityState {
            customer_id: String::new(),
            customer_as_of: UNKNOWN,
            owner: Versioned::unknown(),
            team: Versioned::unknown(),
            stage: Versioned::unknown(),
            probability_permille: Versioned::unknown(),
            amount_cents: Versioned::unknown(),
            currency: Versioned::unknown(),
            expected_close_at: Versioned::unknown(),
            origin: Versioned::unknown(),
            created_at: None,
            first_seen_at,
            visits: BTreeMap::new(),
            closing: None,
            reopened_at: None,
            activities: BTreeMap::new(),
            reminders: BTreeMap::new(),
        }
    }

    pub fn merge(&mut self, f: &OpportunityFacts) {
        let at = f.at;
        self.first_seen_at = self.first_seen_at.min(at);
        if let Some(customer) = f.customer_id.as_ref().filter(|c| !c.is_empty()) {
            // Newest statement wins; on equal times the larger id, so the result does
            // not depend on the order events arrive in.
            if (at, customer) > (self.customer_as_of, &self.customer_id) {
                self.customer_id.clone_from(customer);
                self.customer_as_of = at;
            }
        }
        if let Some(owner) = &f.owner {
            self.owner.merge(owner.clone(), at);
        }
        if let Some(team) = &f.team {
            self.team.merge(team.clone(), at);
        }
        if let Some(stage) = &f.stage {
            let as_of = if f.stage_is_implied { UNKNOWN } else { at };
            self.stage.merge(stage.clone(), as_of);
        }
        for (stage, order) in &f.visited {
            let visit = self.visits.entry(stage.clone()).or_insert_with(|| Visit {
                first_at: at,
                order: Versioned::unknown(),
            });
            visit.first_at = visit.first_at.min(at);
            if let Some(order) = order {
                visit.order.merge(*order, at);
            }
        }
        if let Some(p) = f.probability {
            let permille = (p.clamp(0.0, 1.0) * 1000.0).round() as i64;
            self.probability_permille.merge(permille, at);
        }
        if let Some(amount) = f.amount {
            self.amount_cents.merge(to_cents(amount), at);
        }
        if let Some(currency) = f.currency.as_ref().filter(|c| !c.is_empty()) {
            self.currency.merge(currency.clone(), at);
        }
        if let Some(expected) = f.expected_close_at {
            self.expected_close_at.merge(expected, at);
        }
        if let Some(origin) = &f.origin {
            self.origin.merge(origin.clone(), at);
        }
        if let Some(created) = f.created_at {
            self.created_at = Some(self.created_at.map_or(created, |c| c.min(created)));
        }
        if let Some(closing) = &f.closing
            && self.closing.as_ref().is_none_or(|c| closing > c)
        {
            self.closing = Some(closing.clone());
        }
        if let Some(reopened) = f.reopened_at {
            self.reopened_at = Some(self.reopened_at.map_or(reopened, |r| r.max(reopened)));
        }
        if let Some((id, touch)) = &f.activity {
            self.activities
                .entry(id.clone())
                .or_insert_with(|| touch.clone());
        }
        if let Some((id, touch)) = &f.reminder {
            self.reminders
                .entry(id.clone())
                .or_insert_with(|| touch.clone());
        }
    }

    /// Open, or the outcome of the latest close when no reopening came after it.
    pub fn status(&self) -> OpportunityStatus {
        match &self.closing {
            Some(c) if self.reopened_at.is_none_or(|r| r < c.at) => {
                if c.won {
                    OpportunityStatus::Won
                } else {
                    OpportunityStatus::Lost
                }
            }
            _ => OpportunityStatus::Open,
        }
    }

    /// The month cohort it belongs to: its creation, else the first event seen.
    pub fn cohort_at(&self) -> i64 {
        self.created_at.unwrap_or(self.first_seen_at)
    }

    /// The furthest stage order it ever stood in.
    pub fn max_order_reached(&self) -> u32 {
        self.visits
            .values()
            .map(|v| v.order.value)
            .chain(std::iter::once(self.stage.value.order))
            .max()
            .unwrap_or(0)
    }

    /// The first follow-up, if any.
    pub fn first_activity_at(&self) -> Option<i64> {
        self.activities.values().map(|t| t.at).min()
    }

    /// Visited stages by first time, with their order.
    pub fn visits_in_time_order(&self) -> Vec<(&str, i64, u32)> {
        let mut v: Vec<_> = self
            .visits
            .iter()
            .map(|(s, v)| (s.as_str(), v.first_at, v.order.value))
            .collect();
        v.sort_by(|a, b| (a.1, a.2, a.0).cmp(&(b.1, b.2, b.0)));
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_merge_moves_the_customer_to_a_smaller_id_and_back_in_any_order() {
        let stated = |at: i64, customer: &str| OpportunityFacts {
            at,
            customer_id: Some(customer.into()),
            ..Default::default()
        };
        // Created for c9, merged into c1 at 20, unmerged back to c9 at 30.
        let facts = [stated(10, "c9"), stated(20, "c1"), stated(30, "c9")];
        for order in [[0, 1, 2], [2, 1, 0], [1, 2, 0], [1, 0, 2]] {
            let mut s = OpportunityState::new(0);
            for i in order {
                s.merge(&facts[i]);
            }
            assert_eq!(s.customer_id, "c9", "order {order:?}");
        }
        let mut merged = OpportunityState::new(0);
        merged.merge(&facts[1]);
        merged.merge(&facts[0]);
        assert_eq!(merged.customer_id, "c1");
        // States stored before the field existed still load, with the time unknown.
        let mut json = serde_json::to_value(&merged).expect("json");
        json.as_object_mut()
            .expect("object")
            .remove("customer_as_of");
        let old: OpportunityState = serde_json::from_value(json).expect("old state");
        assert_eq!(old.customer_as_of, UNKNOWN);
    }

    fn facts_of_a_journey() -> Vec<OpportunityFacts> {
        let pos = |stage: &str, order| StagePosition {
            stage: stage.to_owned(),
            order,
        };
        vec![
            OpportunityFacts {
                at: 100,
                customer_id: Some("c1".into()),
                owner: Some("a".into()),
                team: Some("east".into()),
                stage: Some(pos("lead", 0)),
                visited: vec![("lead".into(), Some(0))],
                probability: Some(0.1),
                amount: Some(10.0),
                origin: Some(Origin {
                    source: "web".into(),
                    ..Default::default()
                }),
                created_at: Some(100),
                ..Default::default()
            },
            OpportunityFacts {
                at: 200,
                owner: Some("a".into()),
                stage: Some(pos("proposal", 2)),
                visited: vec![("lead".into(), Some(0)), ("proposal".into(), Some(2))],
                probability: Some(0.6),
                amount: Some(30.5),
                ..Default::default()
            },
            OpportunityFacts {
                at: 250,
                activity: Some((
                    "act1".into(),
                    Touch {
                        kind: "call".into(),
                        at: 250,
                        rep_id: "a".into(),
                    },
                )),
                ..Default::default()
            },
            OpportunityFacts {
                at: 300,
                owner: Some("b".into()),
                ..Default::default()
            },
            OpportunityFacts {
                at: 400,
                owner: Some("b".into()),
                stage: Some(pos("proposal", 0)),
                stage_is_implied: true,
                visited: vec![("proposal".into(), None)],
                amount: Some(50.0),
                closing: Some(Closing {
                    at: 400,
                    won: true,
                    reason: String::new(),
                }),
                created_at: Some(100),
                ..Default::default()
            },
        ]
    }

    fn permutations(n: usize) -> Vec<Vec<usize>> {
        if n == 0 {
            return vec![vec![]];
        }
        let mut out = Vec::new();
        for p in permutations(n - 1) {
            for i in 0..=p.len() {
                let mut q = p.clone();
                q.insert(i, n - 1);
                out.push(q);
            }
        }
        out
    }

    #[test]
    fn any_order_and_any_repetition_give_the_same_state() {
        let facts = facts_of_a_journey();
        let mut reference = OpportunityState::new(i64::MAX);
        for f in &facts {
            reference.merge(f);
        }
        assert_eq!(reference.owner.value, "b");
        assert_eq!(reference.stage.value.stage, "proposal");
        assert_eq!(reference.stage.value.order, 2);
        assert_eq!(reference.amount_cents.value, 5_000);
        assert_eq!(reference.status(), OpportunityStatus::Won);
        assert_eq!(reference.max_order_reached(), 2);
        assert_eq!(reference.first_activity_at(), Some(250));
        assert_eq!(reference.cohort_at(), 100);
        for order in permutations(facts.len()) {
            let mut state = OpportunityState::new(i64::MAX);
            for &i in &order {
                state.merge(&facts[i]);
                state.merge(&facts[i]);
            }
            assert_eq!(state, reference, "order {order:?}");
        }
    }

    #[test]
    fn a_reopening_after_the_close_makes_it_open_until_closed_again() {
        let mut s = OpportunityState::new(0);
        let close = |at, won| OpportunityFacts {
            at,
            closing: Some(Closing {
                at,
                won,
                reason: String::new(),
            }),
            ..Default::default()
        };
        s.merge(&close(10, false));
        assert_eq!(s.status(), OpportunityStatus::Lost);
        s.merge(&OpportunityFacts {
            at: 20,
            reopened_at: Some(20),
            ..Default::default()
        });
        assert_eq!(s.status(), OpportunityStatus::Open);
        s.merge(&close(30, true));
        assert_eq!(s.status(), OpportunityStatus::Won);
    }
}
